//! Scaled dot-product attention, its `(batch, head)` pairs in parallel on `burn-flex`.

use burn::tensor::backend::Backend;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor};

use super::flex::{Sorted, from_autodiff, from_flex};

mod autodiff;
mod kernel;

/// `softmax(q·kᵀ · scale + bias)·v`, as `burn::tensor::module::attention`, on any backend; on
/// `burn-flex`, and on `Autodiff<Flex>` for training, without a boolean mask, soft cap or causal
/// masking, through this crate's kernels (see [the module](crate::ops)).
///
/// # Shapes
/// - `query`: `[batch, heads, tokens, d_head]`; `key`: `[batch, heads, keys, d_head]`;
///   `value`: `[batch, heads, keys, d_value]` — any strides, e.g. heads split from a fused
///   projection by `narrow` and `swap_dims`, without a copy;
/// - `bias`: `[batch or 1, heads or 1, tokens or 1, keys]`, added to the scaled scores (under
///   autodiff it may be trainable, as Swin's relative position bias);
/// - output: `[batch, heads, tokens, d_value]`. On `burn-flex` its memory is in
///   `[batch, tokens, heads, d_value]` order, so `swap_dims(1, 2)` then `reshape` to
///   `[batch, tokens, heads · d_value]` copies nothing.
///
/// Under `Autodiff<Flex>`, the backward pass recomputes the softmax from one saved number per
/// score row instead of keeping every pair's `[tokens × keys]` probabilities, as
/// FlashAttention does.
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
    let scale = options.scale;
    let (q, k, v) = (Sorted::of(query), Sorted::of(key), Sorted::of(value));
    let bias = bias.map(Sorted::of);
    let output = match (&q, &k, &v) {
        (Sorted::Flex(q), Sorted::Flex(k), Sorted::Flex(v)) => bias_as(&bias, Sorted::as_flex)
            .and_then(|bias| kernel::Attention::new(q, k, v, bias, scale))
            .map(|kernel| from_flex(kernel.forward(false).0)),
        (Sorted::Autodiff(q), Sorted::Autodiff(k), Sorted::Autodiff(v)) => {
            bias_as(&bias, Sorted::as_autodiff)
                .and_then(|bias| autodiff::attention_autodiff(q, k, v, bias, scale))
                .map(from_autodiff)
        }
        _ => None,
    };
    output.unwrap_or_else(|| {
        burns(
            q.restore(),
            k.restore(),
            v.restore(),
            bias.map(Sorted::restore),
        )
    })
}

/// The bias in the form `pick` takes from the inputs' backend: `Some(None)` without a bias,
/// `None` when the bias is of another kind than the inputs (Burn's op then runs).
fn bias_as<'a, B: Backend, T>(
    bias: &'a Option<Sorted<B, 4>>,
    pick: impl Fn(&'a Sorted<B, 4>) -> Option<&'a T>,
) -> Option<Option<&'a T>> {
    match bias {
        None => Some(None),
        Some(bias) => pick(bias).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::seeded_pair as pair;
    use burn::tensor::{DType, TensorData, Tolerance};

    type Flex = burn_flex::Flex;
    type NdArray = burn_ndarray::NdArray<f32>;

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

    /// Seeded N(0, 1) values.
    fn normal<const D: usize>(shape: [usize; D], seed: u64) -> TensorData {
        pair(shape, seed).1.into_data()
    }

    /// The attention's output and the gradients of `fused` (the q, k, v projection, split by
    /// views), `cross` (keys and values of a cross-attention) and `bias` (trainable,
    /// `[1, heads, tokens, keys]`, broadcast over the batch), for the loss `Σ out · w`.
    fn outputs_and_gradients<B: burn::tensor::backend::AutodiffBackend>(
        dtype: burn::tensor::DType,
        attend: impl Fn(Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>) -> Tensor<B, 4>,
    ) -> [TensorData; 4] {
        let (heads, d) = (3, 8);
        let device = Default::default();
        let leaf = |data| Tensor::<B, 3>::from_data(data, (&device, dtype)).require_grad();
        let fused = leaf(normal([2, 7, 3 * heads * d], 11));
        let cross = leaf(normal([2, 9, 2 * heads * d], 12));
        let bias = Tensor::<B, 4>::from_data(normal([1, heads, 7, 7], 13), (&device, dtype))
            .require_grad();
        let [q, k, v] = split(fused.clone(), heads);
        let self_attention = attend(q.clone(), k, v, bias.clone());
        // Cross-attention: 7 queries, 9 keys and values from another sequence, no bias.
        let kv = cross.clone().reshape([2, 9, 2 * heads, d]);
        let [k, v] = [0, 1].map(|i| kv.clone().narrow(2, i * heads, heads).swap_dims(1, 2));
        let zero_bias = Tensor::zeros([1, 1, 1, 9], (&device, dtype));
        let cross_attention = attend(q, k, v, zero_bias);
        let out = Tensor::cat(vec![self_attention, cross_attention], 2);
        let w = Tensor::<B, 4>::from_data(normal([2, heads, 14, d], 14), (&device, dtype));
        let grads = (out.clone() * w).sum().backward();
        [
            out.into_data().convert::<f32>(),
            fused.grad(&grads).unwrap().into_data().convert::<f32>(),
            cross.grad(&grads).unwrap().into_data().convert::<f32>(),
            bias.grad(&grads).unwrap().into_data().convert::<f32>(),
        ]
    }

    #[test]
    fn autodiff_output_and_gradients_match_the_definition_in_f64() {
        // Reference: the definition, softmax(scale · q·kᵀ + bias)·v, composed of Burn's matmul
        // and softmax on Autodiff<NdArray> in f64 and differentiated by Burn.
        use burn::backend::Autodiff;
        let scale = 0.3;
        let options = AttentionModuleOptions {
            scale: Some(scale),
            ..Default::default()
        };
        let ours = outputs_and_gradients::<Autodiff<Flex>>(DType::F32, |q, k, v, bias| {
            attention(q, k, v, None, Some(bias), options)
        });
        let expected = outputs_and_gradients::<Autodiff<NdArray>>(DType::F64, |q, k, v, bias| {
            let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale) + bias;
            burn::tensor::activation::softmax(scores, 3).matmul(v)
        });
        for (ours, expected) in ours.iter().zip(&expected) {
            ours.assert_approx_eq::<f32>(expected, Tolerance::absolute(2e-6));
        }
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
