//! Scaled dot-product attention, its `(batch, head)` pairs in parallel on `burn-flex`.

use burn::tensor::backend::Backend;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor, TensorData};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::flex::{flex_f32, from_flex};

/// `softmax(q·kᵀ · scale + bias)·v`, as `burn::tensor::module::attention`, on any backend; on
/// `burn-flex` without a boolean mask, soft cap or causal masking, through this crate's kernel
/// (see [the module](crate::ops)).
///
/// # Shapes
/// - `query`: `[batch, heads, tokens, d_head]`; `key`: `[batch, heads, keys, d_head]`;
///   `value`: `[batch, heads, keys, d_value]` — any strides, e.g. heads split from a fused
///   projection by `narrow` and `swap_dims`, without a copy;
/// - `bias`: `[batch or 1, heads or 1, tokens or 1, keys]`, added to the scaled scores;
/// - output: `[batch, heads, tokens, d_value]`. On `burn-flex` its memory is in
///   `[batch, tokens, heads, d_value]` order, so `swap_dims(1, 2)` then `reshape` to
///   `[batch, tokens, heads · d_value]` copies nothing.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::ops::AttentionModuleOptions;
///
/// type B = burn_flex::Flex;
/// let device = Default::default();
/// let q = Tensor::<B, 4>::ones([1, 2, 3, 4], &device);
/// // Every key scores alike, so each output is the mean of the values.
/// let v = Tensor::<B, 1, Int>::arange(0..24, &device).float().reshape([1, 2, 3, 4]);
/// let out = pela::ops::attention(q.clone(), q, v.clone(), None, None, Default::default());
/// out.into_data().assert_approx_eq::<f32>(
///     &v.mean_dim(2).expand([1, 2, 3, 4]).into_data(),
///     Default::default(),
/// );
/// ```
pub fn attention<B: Backend>(
    query: Tensor<B, 4>,
    key: Tensor<B, 4>,
    value: Tensor<B, 4>,
    mask: Option<Tensor<B, 4, Bool>>,
    bias: Option<Tensor<B, 4>>,
    options: AttentionModuleOptions,
) -> Tensor<B, 4> {
    let burns = |query, key, value, bias| {
        burn::tensor::module::attention(query, key, value, mask.clone(), bias, options)
    };
    if mask.is_some() || options.softcap.is_some() || options.is_causal {
        return burns(query, key, value, bias);
    }
    let (q, k, v) = match (flex_f32(query), flex_f32(key), flex_f32(value)) {
        (Ok(q), Ok(k), Ok(v)) => (q, k, v),
        (q, k, v) => return burns(restore(q), restore(k), restore(v), bias),
    };
    let bias = match bias.map(flex_f32) {
        None => None,
        Some(Ok(bias)) => Some(bias),
        Some(Err(bias)) => return burns(from_flex(q), from_flex(k), from_flex(v), Some(bias)),
    };
    match attention_flex(&q, &k, &v, bias.as_ref(), options.scale) {
        Some(output) => from_flex(output),
        None => burns(
            from_flex(q),
            from_flex(k),
            from_flex(v),
            bias.map(from_flex),
        ),
    }
}

/// The tensor itself, or, moved back, the `burn-flex` primitive [`flex_f32`] took from it.
fn restore<B: Backend>(tensor: Result<FlexTensor, Tensor<B, 4>>) -> Tensor<B, 4> {
    match tensor {
        Ok(flex) => from_flex(flex),
        Err(tensor) => tensor,
    }
}

/// A 4-D `f32` view into a `burn-flex` tensor's storage.
struct View<'a> {
    data: &'a [f32],
    offset: usize,
    shape: [usize; 4],
    strides: [usize; 4],
}

impl<'a> View<'a> {
    /// The view of `tensor`; `None` for a negative (flipped) stride.
    fn of(tensor: &'a FlexTensor) -> Option<Self> {
        let layout = tensor.layout();
        let shape: [usize; 4] = layout.shape().dims();
        let mut strides = [0; 4];
        for (stride, &s) in strides.iter_mut().zip(layout.strides()) {
            *stride = usize::try_from(s).ok()?;
        }
        Some(Self {
            data: tensor.storage::<f32>(),
            offset: layout.start_offset(),
            shape,
            strides,
        })
    }

    /// The view broadcast to `shape` (size-1 dimensions repeat); `None` when it does not
    /// broadcast.
    fn broadcast(mut self, shape: [usize; 4]) -> Option<Self> {
        for ((&have, &want), stride) in self.shape.iter().zip(&shape).zip(&mut self.strides) {
            match have {
                n if n == want => {}
                1 => *stride = 0,
                _ => return None,
            }
        }
        self.shape = shape;
        Some(self)
    }

    /// The storage index of element `[b, h, i, j]`.
    fn index(&self, b: usize, h: usize, i: usize, j: usize) -> usize {
        let s = &self.strides;
        self.offset + b * s[0] + h * s[1] + i * s[2] + j * s[3]
    }

    /// The first element of the matrix of pair `(b, h)`.
    fn matrix(&self, b: usize, h: usize) -> *const f32 {
        self.data[self.index(b, h, 0, 0)..].as_ptr()
    }
}

/// The output buffer, shared by the parallel tasks, each writing its own `(batch, head)` block.
struct Output(*mut f32);
// SAFETY: the tasks write disjoint elements, and the buffer outlives them.
unsafe impl Sync for Output {}
impl Output {
    fn at(&self, offset: usize) -> *mut f32 {
        // SAFETY: callers stay within the buffer.
        unsafe { self.0.add(offset) }
    }
}

/// The attention on `burn-flex` `f32` tensors; `None` for layouts it does not take (Burn's op
/// then runs, and reports shape errors).
fn attention_flex(
    query: &FlexTensor,
    key: &FlexTensor,
    value: &FlexTensor,
    bias: Option<&FlexTensor>,
    scale: Option<f64>,
) -> Option<FlexTensor> {
    let (q, k, v) = (View::of(query)?, View::of(key)?, View::of(value)?);
    let [batch, heads, tokens, d_head] = q.shape;
    let [_, _, keys, d_value] = v.shape;
    if k.shape != [batch, heads, keys, d_head] || v.shape[..2] != [batch, heads] || keys == 0 {
        return None;
    }
    let bias = match bias {
        Some(bias) => Some(View::of(bias)?.broadcast([batch, heads, tokens, keys])?),
        None => None,
    };
    let scale = scale.unwrap_or(1.0 / (d_head as f64).sqrt()) as f32;
    // Every element is written by the second product of its (batch, head) pair: no zero-fill.
    let len = batch * tokens * heads * d_value;
    let mut output = Vec::<f32>::with_capacity(len);
    let out = Output(output.spare_capacity_mut().as_mut_ptr().cast());
    // Output memory order [batch, tokens, heads, d_value]: head h of token i of image b.
    let out_row = (heads * d_value) as isize;
    (0..batch * heads).into_par_iter().for_each_init(
        || vec![0.0f32; tokens * keys],
        |scores, pair| {
            let (b, h) = (pair / heads, pair % heads);
            // SAFETY: the views' strides address their own storage (burn-flex's layout),
            // `scores` holds tokens × keys, and the output block of (b, h) is in bounds.
            unsafe {
                gemm::gemm(
                    tokens,
                    keys,
                    d_head,
                    scores.as_mut_ptr(),
                    1,
                    keys as isize,
                    false,
                    q.matrix(b, h),
                    q.strides[3] as isize,
                    q.strides[2] as isize,
                    k.matrix(b, h),
                    k.strides[2] as isize,
                    k.strides[3] as isize,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            for (i, row) in scores.chunks_exact_mut(keys).enumerate() {
                if let Some(bias) = &bias {
                    for (j, score) in row.iter_mut().enumerate() {
                        *score += bias.data[bias.index(b, h, i, j)];
                    }
                }
                softmax(row);
            }
            unsafe {
                gemm::gemm(
                    tokens,
                    d_value,
                    keys,
                    out.at(b * tokens * heads * d_value + h * d_value),
                    1,
                    out_row,
                    false,
                    scores.as_ptr(),
                    1,
                    keys as isize,
                    v.matrix(b, h),
                    v.strides[3] as isize,
                    v.strides[2] as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        },
    );
    // SAFETY: the pairs wrote all `len` elements (`gemm` without `read_dst` writes every one).
    unsafe { output.set_len(len) };
    let output = FlexTensor::from_data(TensorData::new(output, [batch, tokens, heads, d_value]));
    Some(output.permute(&[0, 2, 1, 3]))
}

/// `row ← softmax(row)`, shifted by its maximum.
fn softmax(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    let inverse = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inverse);
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    type Flex = burn_flex::Flex;
    type NdArray = burn_ndarray::NdArray<f32>;

    /// The same seeded values on burn-flex and burn-ndarray.
    fn pair<const D: usize>(shape: [usize; D], seed: u64) -> (Tensor<Flex, D>, Tensor<NdArray, D>) {
        NdArray::seed(&Default::default(), seed);
        let data = Tensor::<NdArray, D>::random(
            shape,
            Distribution::Normal(0.0, 1.0),
            &Default::default(),
        )
        .into_data();
        (
            Tensor::from_data(data.clone(), &Default::default()),
            Tensor::from_data(data, &Default::default()),
        )
    }

    /// q, k, v split from one fused projection `[batch, tokens, 3 · heads · d]` by views, as
    /// the zoo's ViT and Swin do.
    fn split<B: Backend>(qkv: Tensor<B, 3>, heads: usize) -> [Tensor<B, 4>; 3] {
        let [batch, tokens, width] = qkv.dims();
        let qkv = qkv.reshape([batch, tokens, 3 * heads, width / (3 * heads)]);
        [0, 1, 2].map(|i| qkv.clone().narrow(2, i * heads, heads).swap_dims(1, 2))
    }

    #[test]
    fn heads_split_in_place_match_burns_attention_on_ndarray() {
        // Reference: Burn's attention op on burn-ndarray (its own matmul and softmax).
        let (heads, d) = (3, 8);
        let (flex, ndarray) = pair([2, 7, 3 * heads * d], 1);
        let [q, k, v] = split(flex, heads);
        let [qr, kr, vr] = split(ndarray, heads);
        let options = AttentionModuleOptions::default();
        let ours = attention(q, k, v, None, None, options);
        let expected = burn::tensor::module::attention(qr, kr, vr, None, None, options);
        assert_eq!(ours.dims(), [2, heads, 7, d]);
        ours.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));
    }

    #[test]
    fn broadcast_bias_and_scale_match_burns_attention_on_ndarray() {
        // A padding bias per key `[batch, 1, 1, keys]`, cross-attention (5 queries, 9 keys,
        // values wider than keys), a custom scale.
        let (q, qr) = pair([2, 4, 5, 6], 2);
        let (k, kr) = pair([2, 4, 9, 6], 3);
        let (v, vr) = pair([2, 4, 9, 10], 4);
        let (bias, bias_r) = pair([2, 1, 1, 9], 5);
        let options = AttentionModuleOptions {
            scale: Some(0.3),
            ..Default::default()
        };
        let ours = attention(q, k, v, None, Some(bias.mul_scalar(4.0)), options);
        let expected = burn::tensor::module::attention(
            qr,
            kr,
            vr,
            None,
            Some(bias_r.mul_scalar(4.0).expand([2, 4, 5, 9])),
            options,
        );
        ours.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));
    }

    #[test]
    fn the_output_merges_heads_without_a_copy() {
        let (qkv, _) = pair([1, 4, 3 * 2 * 5], 6);
        let [q, k, v] = split(qkv, 2);
        let out = attention(q, k, v, None, None, Default::default());
        let merged = out.swap_dims(1, 2).into_primitive().tensor();
        assert!(
            merged.is_contiguous(),
            "[batch, tokens, heads, d] memory order"
        );
    }

    #[test]
    fn masks_fall_back_to_burns_op() {
        let (q, qr) = pair([1, 2, 3, 4], 7);
        let mask = Tensor::<Flex, 4, Bool>::from_data(
            TensorData::new([false, true, false].repeat(6), [1, 2, 3, 3]),
            &Default::default(),
        );
        let mask_r = Tensor::<NdArray, 4, Bool>::from_data(mask.to_data(), &Default::default());
        let ours = attention(
            q.clone(),
            q.clone(),
            q,
            Some(mask),
            None,
            Default::default(),
        );
        let expected = burn::tensor::module::attention(
            qr.clone(),
            qr.clone(),
            qr,
            Some(mask_r),
            None,
            Default::default(),
        );
        ours.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));
    }
}
