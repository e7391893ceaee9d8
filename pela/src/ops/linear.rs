//! `x·W + b` in one matrix product on `burn-flex`, the output written once.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::flex::{Sorted, fill_rows, from_flex, values};
use super::matrix::{Matrix, multiply_into};

/// `input · weight + bias`, as `burn::tensor::module::linear` (and `Linear::forward`), on any
/// backend; on `burn-flex` (`f32`, no autodiff) one `gemm` call into an output that starts as
/// the bias rows, filled on every core.
///
/// burn-flex 0.21's matmul first allocates each output as zeroed bytes and copies them into an
/// aligned buffer, both on the calling thread, then adds the bias in a second pass: in Swin-B
/// and its student at batch 8 that was almost half of the time the calling thread spent alone
/// (`examples/forward_benchmark.rs`, the book's Speed on the CPU). Under `Autodiff<Flex>` and
/// on every other backend this is Burn's `linear`.
///
/// # Shapes
/// - input: `[..., d_input]`; weight: `[d_input, d_output]` (any strides, e.g. a transposed
///   factor); bias: `[d_output]`
/// - output: `[..., d_output]`
///
/// ```
/// use burn::prelude::*;
///
/// type B = burn_flex::Flex;
/// let device = Default::default();
/// let x = Tensor::<B, 3>::ones([2, 3, 4], &device);
/// let w = Tensor::<B, 2>::ones([4, 5], &device);
/// let b = Tensor::<B, 1>::from_floats([0.0, 1.0, 2.0, 3.0, 4.0], &device);
/// let y = pela::ops::linear(x, w, Some(b));
/// assert_eq!(y.dims(), [2, 3, 5]);
/// let row: Vec<f32> = y.narrow(0, 0, 1).narrow(1, 0, 1).into_data().to_vec().unwrap();
/// assert_eq!(row, [4.0, 5.0, 6.0, 7.0, 8.0]);
/// ```
pub fn linear<B: Backend, const D: usize>(
    input: Tensor<B, D>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, D> {
    let dims = input.dims();
    let [d_input, d_output] = weight.dims();
    if D < 2 || dims[D - 1] != d_input || bias.as_ref().is_some_and(|b| b.dims() != [d_output]) {
        // Burn's op reports the mismatch.
        return burn::tensor::module::linear(input, weight, bias);
    }
    let rows = dims[..D - 1].iter().product::<usize>();
    let (x, w) = (
        Sorted::of(input.reshape([rows, d_input])),
        Sorted::of(weight),
    );
    let b = bias.map(Sorted::of);
    let flex = match (x.as_flex(), w.as_flex(), Sorted::optional_flex(&b)) {
        (Some(x), Some(w), Some(b)) => product(x, w, b),
        _ => None,
    };
    let output: Tensor<B, 2> = match flex {
        Some(output) => from_flex(output),
        None => burn::tensor::module::linear(x.restore(), w.restore(), b.map(Sorted::restore)),
    };
    let mut out_dims = dims;
    out_dims[D - 1] = d_output;
    output.reshape(out_dims)
}

/// `x · w + b` of 2-D `burn-flex` tensors; `None` for a layout `gemm` cannot read (a negative
/// stride).
fn product(x: &FlexTensor, w: &FlexTensor, bias: Option<&FlexTensor>) -> Option<FlexTensor> {
    let (x, w) = (Matrix::of(x)?, Matrix::of(w)?);
    let (m, n) = (x.rows, w.cols);
    if m == 0 || n == 0 || x.cols == 0 {
        return None;
    }
    let bias = bias.map(|b| b.clone().to_contiguous());
    let bias_values = bias.as_ref().map(values);
    let mut output = Vec::<f32>::with_capacity(m * n);
    let out = &mut output.spare_capacity_mut()[..m * n];
    // The output starts as the bias, row by row, in parallel; without a bias the product
    // writes it alone.
    if let Some(bias) = bias_values {
        let rows_per_task = (1 << 14) / n + 1;
        out.par_chunks_mut(rows_per_task * n)
            .for_each(|rows| fill_rows(bias, rows));
    }
    multiply_into(out, bias_values.is_some(), x, w, true);
    // SAFETY: `multiply_into` wrote all m × n elements.
    unsafe { output.set_len(m * n) };
    Some(FlexTensor::from_data(TensorData::new(output, [m, n])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::seeded_pair as pair;
    use burn::tensor::Tolerance;

    #[test]
    fn the_product_is_burns_linear() {
        // Small (one thread) and large (parallel) products, with and without a bias, a
        // transposed weight (a factor pair's `Vᵀ`) and a 2-D input.
        for (rows, d_in, d_out, seed) in [(3, 4, 5, 1), (2 * 197, 384, 256, 2), (50, 7, 300, 3)] {
            let (x, x_ref) = pair([2, rows / 2 + 1, d_in], seed);
            let (w, w_ref) = pair([d_out, d_in], seed + 10);
            let (b, b_ref) = pair([d_out], seed + 20);
            let (w, w_ref) = (w.transpose(), w_ref.transpose());
            let expected = burn::tensor::module::linear(x_ref.clone(), w_ref.clone(), Some(b_ref));
            linear(x.clone(), w.clone(), Some(b))
                .into_data()
                .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-4));
            let expected = burn::tensor::module::linear(x_ref, w_ref.clone(), None);
            linear(x, w.clone(), None)
                .into_data()
                .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-4));
            let (x2, x2_ref) = pair([rows, d_in], seed + 30);
            linear(x2, w, None).into_data().assert_approx_eq::<f32>(
                &burn::tensor::module::linear(x2_ref, w_ref, None).into_data(),
                Tolerance::absolute(1e-4),
            );
        }
    }
}
