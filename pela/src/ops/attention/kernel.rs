//! The attention's forward and backward kernels on `burn-flex` `f32` storage: one task per
//! `(batch, head)` pair, in parallel, `gemm` for the products and the softmax in between.
//!
//! Inputs are read through their strides (a head split from a fused projection is a view);
//! outputs are written in `[batch, tokens, heads, d]` memory order, so that merging heads back
//! (`swap_dims(1, 2)` then `reshape`) copies nothing, and so that the gradient of heads split
//! from a fused projection lands in that projection's order.

use burn::tensor::TensorData;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use multiversion::multiversion;

use crate::ops::math::{dot, exp, softmax};

/// A 4-D `f32` view into a `burn-flex` tensor's storage.
pub(super) struct View<'a> {
    data: &'a [f32],
    offset: usize,
    shape: [usize; 4],
    strides: [usize; 4],
}

impl<'a> View<'a> {
    /// The view of `tensor`; `None` for a negative (flipped) stride.
    pub(super) fn of(tensor: &'a FlexTensor) -> Option<Self> {
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
    pub(super) fn broadcast(mut self, shape: [usize; 4]) -> Option<Self> {
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
    #[inline(always)]
    fn index(&self, b: usize, h: usize, i: usize, j: usize) -> usize {
        let s = &self.strides;
        self.offset + b * s[0] + h * s[1] + i * s[2] + j * s[3]
    }

    /// The matrix of pair `(b, h)`: its last two dimensions.
    fn matrix(&self, b: usize, h: usize) -> Mat {
        Mat {
            ptr: self.data[self.index(b, h, 0, 0)..].as_ptr(),
            row: self.strides[2] as isize,
            col: self.strides[3] as isize,
        }
    }

    /// `row += self[b, h, i, ..]`.
    #[inline(always)]
    fn add_row_to(&self, b: usize, h: usize, i: usize, row: &mut [f32]) {
        let start = self.index(b, h, i, 0);
        if self.strides[3] == 1 {
            let bias = &self.data[start..start + row.len()];
            row.iter_mut().zip(bias).for_each(|(x, b)| *x += b);
        } else {
            let step = self.strides[3];
            for (j, x) in row.iter_mut().enumerate() {
                *x += self.data[start + j * step];
            }
        }
    }
}

/// A strided matrix: element `[i, j]` at `ptr + i·row + j·col`.
#[derive(Clone, Copy)]
struct Mat {
    ptr: *const f32,
    row: isize,
    col: isize,
}

impl Mat {
    /// The row-major matrix at `ptr` whose rows are `row` elements apart.
    fn rows(ptr: *const f32, row: usize) -> Self {
        Self {
            ptr,
            row: row as isize,
            col: 1,
        }
    }

    /// The transpose, as a view.
    fn t(self) -> Self {
        Self {
            row: self.col,
            col: self.row,
            ..self
        }
    }
}

/// `dst[m × n] ← alpha · a[m × k] · b[k × n]`, on the calling thread; `dst` is row-major
/// with rows `dst_row` elements apart.
///
/// # Safety
/// The three matrices must lie within their buffers, and `dst` must not overlap the others.
unsafe fn product(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    dst_row: usize,
    a: Mat,
    b: Mat,
    alpha: f32,
) {
    // SAFETY: as the caller guarantees. `gemm` without `read_dst` writes every element.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_row as isize,
            false,
            a.ptr,
            a.col,
            a.row,
            b.ptr,
            b.col,
            b.row,
            0.0,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// An output buffer shared by the parallel tasks, each writing its own elements.
struct Shared(*mut f32);
// SAFETY: the tasks write disjoint elements, and the buffer outlives them.
unsafe impl Sync for Shared {}
impl Shared {
    fn at(&self, offset: usize) -> *mut f32 {
        // SAFETY: callers stay within the buffer.
        unsafe { self.0.add(offset) }
    }

    /// Copies `values` to the buffer from `offset` on.
    ///
    /// # Safety
    /// The range must be in bounds and written by no other task.
    unsafe fn copy_at(&self, offset: usize, values: &[f32]) {
        // SAFETY: as the caller guarantees.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), self.at(offset), values.len()) };
    }
}

/// A `[batch, rows, heads, width]` buffer to be filled by the tasks, then read as the tensor
/// `[batch, heads, rows, width]`.
struct Blocks {
    values: Vec<f32>,
    shape: [usize; 4],
}

impl Blocks {
    fn new(shape: [usize; 4]) -> Self {
        Self {
            values: Vec::with_capacity(shape.iter().product()),
            shape,
        }
    }

    fn shared(&mut self) -> Shared {
        Shared(self.values.spare_capacity_mut().as_mut_ptr().cast())
    }

    /// Where the `[rows × width]` block of pair `(b, h)` starts, and its row stride.
    fn block(&self, b: usize, h: usize) -> (usize, usize) {
        let [_, rows, heads, width] = self.shape;
        (b * rows * heads * width + h * width, heads * width)
    }

    /// The filled buffer as a `[batch, heads, rows, width]` tensor.
    ///
    /// # Safety
    /// Every element must have been written.
    unsafe fn into_tensor(mut self) -> FlexTensor {
        // SAFETY: as the caller guarantees.
        unsafe { self.values.set_len(self.shape.iter().product()) };
        FlexTensor::from_data(TensorData::new(self.values, self.shape)).permute(&[0, 2, 1, 3])
    }
}

/// The inputs of one attention: `softmax(scale · q·kᵀ + bias)·v`.
pub(super) struct Attention<'a> {
    q: View<'a>,
    k: View<'a>,
    v: View<'a>,
    bias: Option<View<'a>>,
    scale: f32,
}

impl<'a> Attention<'a> {
    /// The attention of these tensors, when their shapes agree (`None` otherwise: Burn's op
    /// then runs, and reports the error). `scale` defaults to `1/√d_head`.
    pub(super) fn new(
        q: &'a FlexTensor,
        k: &'a FlexTensor,
        v: &'a FlexTensor,
        bias: Option<&'a FlexTensor>,
        scale: Option<f64>,
    ) -> Option<Self> {
        let (q, k, v) = (View::of(q)?, View::of(k)?, View::of(v)?);
        let [batch, heads, tokens, d_head] = q.shape;
        let [_, _, keys, _] = v.shape;
        if k.shape != [batch, heads, keys, d_head] || v.shape[..2] != [batch, heads] || keys == 0 {
            return None;
        }
        let bias = match bias {
            Some(bias) => Some(View::of(bias)?.broadcast([batch, heads, tokens, keys])?),
            None => None,
        };
        let scale = scale.unwrap_or(1.0 / (d_head as f64).sqrt()) as f32;
        Some(Self {
            q,
            k,
            v,
            bias,
            scale,
        })
    }

    /// `[batch, heads, tokens, keys, d_head, d_value]`.
    fn dims(&self) -> [usize; 6] {
        let [batch, heads, tokens, d_head] = self.q.shape;
        [
            batch,
            heads,
            tokens,
            self.k.shape[2],
            d_head,
            self.v.shape[3],
        ]
    }

    /// `scores ← scale · q·kᵀ + bias` of pair `(b, h)`, `[tokens × keys]` row-major.
    fn scores(&self, b: usize, h: usize, scores: &mut [f32]) {
        let [_, _, tokens, keys, d_head, _] = self.dims();
        let (q, k) = (self.q.matrix(b, h), self.k.matrix(b, h));
        // SAFETY: the views address their own storage (burn-flex's layout) and `scores` holds
        // tokens × keys elements.
        unsafe {
            product(
                [tokens, keys, d_head],
                scores.as_mut_ptr(),
                keys,
                q,
                k.t(),
                self.scale,
            )
        };
        if let Some(bias) = &self.bias {
            for (i, row) in scores.chunks_exact_mut(keys).enumerate() {
                bias.add_row_to(b, h, i, row);
            }
        }
    }

    /// The output, `[batch, heads, tokens, d_value]` in `[batch, tokens, heads, d_value]`
    /// memory order, and, when `log_normalisers` is set, each score row's log-normaliser
    /// (`[batch, heads, tokens]`), from which [`Attention::backward`] recomputes the softmax.
    pub(super) fn forward(&self, log_normalisers: bool) -> (FlexTensor, Option<Vec<f32>>) {
        let [batch, heads, tokens, keys, _, d_value] = self.dims();
        let mut output = Blocks::new([batch, tokens, heads, d_value]);
        let out = output.shared();
        let mut normalisers = log_normalisers.then(|| vec![0.0f32; batch * heads * tokens]);
        let normalisers_out = normalisers.as_mut().map(|n| Shared(n.as_mut_ptr()));
        (0..batch * heads).into_par_iter().for_each_init(
            || (vec![0.0f32; tokens * keys], vec![0.0f32; tokens]),
            |(probabilities, pair_normalisers), pair| {
                let (b, h) = (pair / heads, pair % heads);
                self.scores(b, h, probabilities);
                softmax_rows(probabilities, keys, pair_normalisers);
                if let Some(normalisers) = &normalisers_out {
                    // SAFETY: the pair's `tokens` normalisers are this task's alone, in bounds.
                    unsafe { normalisers.copy_at(pair * tokens, pair_normalisers) };
                }
                let (start, row) = output.block(b, h);
                // SAFETY: the block of (b, h) is this task's alone, and in bounds.
                unsafe {
                    product(
                        [tokens, d_value, keys],
                        out.at(start),
                        row,
                        Mat::rows(probabilities.as_ptr(), keys),
                        self.v.matrix(b, h),
                        1.0,
                    )
                };
            },
        );
        // SAFETY: the pairs wrote every element.
        (unsafe { output.into_tensor() }, normalisers)
    }

    /// The gradients of query, key and value given the output's gradient `grad`
    /// (`[batch, heads, tokens, d_value]`, any strides) and the forward's log-normalisers,
    /// each in `[batch, tokens, heads, d]` memory order; with `score_grad`, also the gradient
    /// of the scores, `[batch, heads, tokens, keys]` (the bias's, before the sum over its
    /// broadcast dimensions).
    ///
    /// Per pair, with `P` the softmax recomputed from the scores: `dV = Pᵀ·dO`,
    /// `dP = dO·Vᵀ`, `dS = P ∘ (dP − rowsum(P ∘ dP))`, `dQ = scale · dS·K`,
    /// `dK = scale · dSᵀ·Q`.
    pub(super) fn backward(
        &self,
        grad: &View,
        log_normalisers: &[f32],
        score_grad: bool,
    ) -> ([FlexTensor; 3], Option<FlexTensor>) {
        let [batch, heads, tokens, keys, d_head, d_value] = self.dims();
        let mut dq = Blocks::new([batch, tokens, heads, d_head]);
        let mut dk = Blocks::new([batch, keys, heads, d_head]);
        let mut dv = Blocks::new([batch, keys, heads, d_value]);
        let (dq_out, dk_out, dv_out) = (dq.shared(), dk.shared(), dv.shared());
        let mut ds_all =
            score_grad.then(|| Vec::<f32>::with_capacity(batch * heads * tokens * keys));
        let ds_out = ds_all
            .as_mut()
            .map(|ds| Shared(ds.spare_capacity_mut().as_mut_ptr().cast()));
        (0..batch * heads).into_par_iter().for_each_init(
            || (vec![0.0f32; tokens * keys], vec![0.0f32; tokens * keys]),
            |(p, dp), pair| {
                let (b, h) = (pair / heads, pair % heads);
                self.scores(b, h, p);
                let normalisers = &log_normalisers[pair * tokens..(pair + 1) * tokens];
                recompute_softmax_rows(p, keys, normalisers);
                let (p_mat, d_out) = (Mat::rows(p.as_ptr(), keys), grad.matrix(b, h));
                let (q, k, v) = (
                    self.q.matrix(b, h),
                    self.k.matrix(b, h),
                    self.v.matrix(b, h),
                );
                // SAFETY (all products): the views address their own storage, the scratch
                // matrices hold tokens × keys elements, and each output block is this task's
                // alone and in bounds.
                let (start, row) = dv.block(b, h);
                unsafe {
                    product(
                        [keys, d_value, tokens],
                        dv_out.at(start),
                        row,
                        p_mat.t(),
                        d_out,
                        1.0,
                    )
                };
                unsafe {
                    product(
                        [tokens, keys, d_value],
                        dp.as_mut_ptr(),
                        keys,
                        d_out,
                        v.t(),
                        1.0,
                    )
                };
                softmax_backward_rows(p, dp, keys);
                if let Some(ds_out) = &ds_out {
                    // SAFETY: the pair's tokens × keys block is this task's alone, in bounds.
                    unsafe { ds_out.copy_at(pair * tokens * keys, dp) };
                }
                let ds = Mat::rows(dp.as_ptr(), keys);
                let (start, row) = dq.block(b, h);
                unsafe {
                    product(
                        [tokens, d_head, keys],
                        dq_out.at(start),
                        row,
                        ds,
                        k,
                        self.scale,
                    )
                };
                let (start, row) = dk.block(b, h);
                unsafe {
                    product(
                        [keys, d_head, tokens],
                        dk_out.at(start),
                        row,
                        ds.t(),
                        q,
                        self.scale,
                    )
                };
            },
        );
        let ds_all = ds_all.map(|mut ds| {
            // SAFETY: the pairs wrote their blocks, which tile the buffer.
            unsafe { ds.set_len(batch * heads * tokens * keys) };
            FlexTensor::from_data(TensorData::new(ds, [batch, heads, tokens, keys]))
        });
        // SAFETY: the pairs wrote every element of the three.
        let grads = unsafe { [dq.into_tensor(), dk.into_tensor(), dv.into_tensor()] };
        (grads, ds_all)
    }
}

/// Each `keys`-long row of `scores` ← its softmax, and `log_normalisers[i]` ← row `i`'s
/// log-normaliser.
#[multiversion(targets = "simd")]
fn softmax_rows(scores: &mut [f32], keys: usize, log_normalisers: &mut [f32]) {
    for (row, normaliser) in scores.chunks_exact_mut(keys).zip(log_normalisers) {
        *normaliser = softmax(row);
    }
}

/// Each `keys`-long row of `scores` ← `exp(row − log-normaliser)`: the softmax again, from the
/// forward pass's normalisers.
#[multiversion(targets = "simd")]
fn recompute_softmax_rows(scores: &mut [f32], keys: usize, log_normalisers: &[f32]) {
    for (row, &normaliser) in scores.chunks_exact_mut(keys).zip(log_normalisers) {
        row.iter_mut().for_each(|s| *s = exp(*s - normaliser));
    }
}

/// The softmax's backward pass, row by row: `dp ← p ∘ (dp − rowsum(p ∘ dp))`, the scores'
/// gradient from the probabilities' `dp`.
#[multiversion(targets = "simd")]
fn softmax_backward_rows(p: &[f32], dp: &mut [f32], keys: usize) {
    for (p_row, dp_row) in p.chunks_exact(keys).zip(dp.chunks_exact_mut(keys)) {
        let dot = dot(p_row, dp_row);
        for (d, p) in dp_row.iter_mut().zip(p_row) {
            *d = p * (*d - dot);
        }
    }
}
