//! One matrix product for a `Linear` over every leading dimension.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Runs `f` on the rows of `input`, its leading dimensions folded into one: `[..., d]` →
/// `[rows, d]` → `f` → `[rows, d']` → `[..., d']`.
///
/// Burn 0.21 applies a `Linear` to a 3-D input as a batched matrix product, one small product
/// per batch item, and its weight gradient as one `[d_input, d_output]` matrix per batch item,
/// summed afterwards. On short sequences (text, or few image tokens) a training step costs
/// 5–14× more on the CPU backends than one product over all rows
/// (`examples/layer_benchmark.rs`), and the per-item gradients take `batch` times the weight's
/// memory. The zoo's models and the low-rank layers run their `Linear`s through this.
///
/// ```
/// use burn::nn::LinearConfig;
/// use burn::prelude::*;
/// use pela::nn::on_rows;
///
/// type B = burn_ndarray::NdArray<f32>;
/// let device = Default::default();
/// let linear = LinearConfig::new(4, 6).init::<B>(&device);
/// let x = Tensor::<B, 3>::ones([2, 3, 4], &device);
/// let y = on_rows(x.clone(), |rows| linear.forward(rows));
/// assert_eq!(y.dims(), [2, 3, 6]);
/// y.into_data().assert_approx_eq::<f32>(&linear.forward(x).into_data(), Default::default());
/// ```
pub fn on_rows<B: Backend, const D: usize>(
    input: Tensor<B, D>,
    f: impl FnOnce(Tensor<B, 2>) -> Tensor<B, 2>,
) -> Tensor<B, D> {
    let mut dims = input.dims();
    let width = dims[D - 1];
    let rows = dims.iter().product::<usize>() / width.max(1);
    let output = f(input.reshape([rows, width]));
    dims[D - 1] = output.dims()[1];
    output.reshape(dims)
}
