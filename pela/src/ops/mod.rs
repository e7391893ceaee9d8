//! Ops that run faster on `burn-flex` than Burn 0.21's own, for inference and for training,
//! and exactly as Burn's everywhere else.
//!
//! On `burn-flex` (`f32`) these call kernels of this crate, and on `Autodiff<Flex>` (Burn's
//! default checkpointing) they record one step of the autodiff graph whose backward pass is a
//! kernel of this crate too. On every other backend they call Burn's op of the same name, so a
//! model written with them trains and runs on CUDA as before. They exist because of what
//! burn-flex 0.21 does, measured on DeiT-Base at batch 8 (`examples/forward_benchmark.rs`; the
//! figures are in the README):
//!
//! - [`attention`]: burn-flex's attention op runs its `(batch, head)` pairs one after another on
//!   one thread, and first copies query, key and value into contiguous tensors element by
//!   element (its strided copy is fast only for layouts that collapse to two dimensions, and a
//!   head of a fused `qkv` projection does not). This kernel reads the heads in place, runs the
//!   pairs in parallel, and writes its output in `[batch, tokens, heads, d_head]` order, so that
//!   merging the heads back is free.
//! - [`gelu`]: burn-flex computes the exact GELU with a scalar `erf` on one thread. This kernel
//!   evaluates `erf` with a rational approximation that vectorises (maximum error 5·10⁻⁷, the
//!   approximation of Eigen and XLA) on every core.
//! - [`linear`]: burn-flex allocates each matrix product's output as zeroed bytes, copies them
//!   into an aligned buffer (both on the calling thread) and adds the bias in a second pass;
//!   this kernel starts the output as the bias rows, on every core, and runs one product.
//! - [`low_rank_linear`]: a factor pair's two thin products, `(x·U)·V + b`, in blocks of rows
//!   that each core runs through both products, so that a block's `x·U` stays in its cache
//!   and no core waits for the other between the two.
//! - [`window_partition`] and [`window_merge`]: Swin's shifted windows. burn-flex rolls a grid
//!   with two concatenations and copies permuted windows element by element on one thread
//!   (its strided copy again); these copy whole pixels, rolled and partitioned in one pass, on
//!   every core. In Swin-B at batch 8 that single-threaded copying was a quarter of the
//!   forward pass.
//! - Under autodiff, Burn composes the attention's backward pass from its matmul, softmax and
//!   transpose ops (with copies of the 4-D heads) and keeps every pair's probabilities; GELU's
//!   derivative again calls the scalar `erf`. This crate's backward kernels recompute the
//!   probabilities per pair, in parallel, and vectorise GELU's derivative
//!   (`examples/training_benchmark.rs` measures a whole distillation step).
//!
//! ```
//! use burn::prelude::*;
//! use burn::tensor::ops::AttentionModuleOptions;
//!
//! type B = burn_flex::Flex;
//! let device = Default::default();
//! let [batch, tokens, heads, d_head] = [2, 5, 3, 4];
//! // A fused `qkv` projection's output, split into heads without copying.
//! let qkv = Tensor::<B, 3>::ones([batch, tokens, 3 * heads * d_head], &device)
//!     .reshape([batch, tokens, 3 * heads, d_head]);
//! let head = |i: usize| qkv.clone().narrow(2, i * heads, heads).swap_dims(1, 2);
//! let context = pela::ops::attention(
//!     head(0), head(1), head(2), None, None, AttentionModuleOptions::default(),
//! );
//! assert_eq!(context.dims(), [batch, heads, tokens, d_head]);
//! let hidden = pela::ops::gelu(context.swap_dims(1, 2).reshape([batch, tokens, heads * d_head]));
//! assert_eq!(hidden.dims(), [batch, tokens, heads * d_head]);
//! ```

mod attention;
mod flex;
mod gelu;
mod linear;
mod low_rank;
mod math;
mod matrix;
mod window;

pub use attention::attention;
pub use gelu::gelu;
pub use linear::linear;
pub use low_rank::low_rank_linear;
pub use window::{window_merge, window_partition};

/// The same seeded normal values on burn-flex and on burn-ndarray (whose ops are the kernels'
/// reference), for the tests of this module.
#[cfg(test)]
fn seeded_pair<const D: usize>(
    shape: [usize; D],
    seed: u64,
) -> (
    burn::tensor::Tensor<burn_flex::Flex, D>,
    burn::tensor::Tensor<burn_ndarray::NdArray<f32>, D>,
) {
    use burn::tensor::{Distribution, Tensor};
    let data = crate::seeded(seed, || {
        Tensor::<burn_ndarray::NdArray<f32>, D>::random(
            shape,
            Distribution::Normal(0.0, 1.0),
            &Default::default(),
        )
        .into_data()
    });
    (
        Tensor::from_data(data.clone(), &Default::default()),
        Tensor::from_data(data, &Default::default()),
    )
}
