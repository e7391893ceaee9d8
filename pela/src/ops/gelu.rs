//! The exact (erf) GELU and its derivative, on every core of the CPU for `burn-flex`.

use std::f32::consts::FRAC_1_SQRT_2;
use std::mem::MaybeUninit;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn_flex::{Flex, FlexTensor};
use multiversion::multiversion;

use super::flex::{AutodiffFlexTensor, Sorted, filled, from_autodiff, from_flex, values};
use super::math::{erf, exp};

/// Elements per parallel task: large enough to amortise the scheduling, small enough to give
/// every core several tasks.
const CHUNK: usize = 1 << 14;

/// `1/√(2π)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// The exact GELU, `x · Φ(x) = x/2 · (1 + erf(x/√2))`, as `burn::tensor::activation::gelu`
/// (and PyTorch's `nn.GELU()`), on any backend; on `burn-flex`, and on `Autodiff<Flex>` for
/// training, through this crate's parallel, vectorised kernels (see [the module](crate::ops)).
///
/// ```
/// use burn::prelude::*;
///
/// type B = burn_flex::Flex;
/// let x = Tensor::<B, 1>::from_floats([-1.0, 0.0, 1.0], &Default::default());
/// let y: Vec<f32> = pela::ops::gelu(x).into_data().to_vec().unwrap();
/// assert!((y[2] - 0.841_344_7).abs() < 1e-6 && y[1] == 0.0);
/// ```
pub fn gelu<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Tensor<B, D> {
    match Sorted::of(tensor) {
        Sorted::Flex(flex) => from_flex(gelu_flex(&flex)),
        Sorted::Autodiff(tensor) => from_autodiff(gelu_autodiff(tensor)),
        Sorted::Other(tensor) => burn::tensor::activation::gelu(tensor),
    }
}

/// The GELU on `Autodiff<Flex>`: this crate's kernels forward and backward, the input kept for
/// the backward pass (as Burn's own GELU keeps it).
fn gelu_autodiff(tensor: AutodiffFlexTensor) -> AutodiffFlexTensor {
    match GeluBackward
        .prepare::<NoCheckpointing>([tensor.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let output = gelu_flex(&tensor.primitive);
            prep.finish(tensor.primitive, output)
        }
        OpsKind::UnTracked(prep) => prep.finish(gelu_flex(&tensor.primitive)),
    }
}

/// The GELU's step of the backward pass; its state is the GELU's input.
#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let input = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            gelu_backward_flex(&input, &grad)
        });
    }
}

/// The GELU of every element of a `burn-flex` `f32` tensor, as a new contiguous tensor.
fn gelu_flex(tensor: &FlexTensor) -> FlexTensor {
    let tensor = tensor.clone().to_contiguous();
    let input = values(&tensor);
    filled(tensor.layout().shape().clone(), CHUNK, |task, output| {
        let start = task * CHUNK;
        gelu_slice(&input[start..start + output.len()], output)
    })
}

/// `grad · GELU′(x)`, `GELU′(x) = Φ(x) + x · φ(x)`, element by element, as a new contiguous
/// tensor.
fn gelu_backward_flex(input: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
    let input = input.clone().to_contiguous();
    let grad = grad.clone().to_contiguous();
    let (x, g) = (values(&input), values(&grad));
    filled(input.layout().shape().clone(), CHUNK, |task, output| {
        let (start, end) = (task * CHUNK, task * CHUNK + output.len());
        gelu_backward_slice(&x[start..end], &g[start..end], output)
    })
}

/// `output ← GELU(input)`.
#[multiversion(targets = "simd")]
fn gelu_slice(input: &[f32], output: &mut [MaybeUninit<f32>]) {
    for (y, &x) in output.iter_mut().zip(input) {
        y.write(0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2)));
    }
}

/// `output ← grad · GELU′(input)`.
#[multiversion(targets = "simd")]
fn gelu_backward_slice(input: &[f32], grad: &[f32], output: &mut [MaybeUninit<f32>]) {
    for ((y, &x), &g) in output.iter_mut().zip(input).zip(grad) {
        let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
        let density = FRAC_1_SQRT_2PI * exp(-0.5 * x * x);
        y.write(g * (cdf + x * density));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData, Tolerance};

    use burn::backend::Autodiff;

    type NdArray = burn_ndarray::NdArray<f32>;

    /// Seeded N(0, 3) values.
    fn normal(shape: [usize; 2], seed: u64) -> TensorData {
        crate::seeded(seed, || {
            Tensor::<NdArray, 2>::random(shape, Distribution::Normal(0.0, 3.0), &Default::default())
                .into_data()
        })
    }

    fn gelu_of(x: f32) -> f32 {
        let t = Tensor::<Flex, 1>::from_floats([x], &Default::default());
        gelu(t).into_data().to_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn flex_kernel_matches_burns_gelu_on_ndarray() {
        // Reference: Burn's own GELU (libm's erf) on burn-ndarray, on the same seeded values,
        // including a non-contiguous (transposed) input.
        let values = normal([300, 70], 1);
        let expected = burn::tensor::activation::gelu(
            Tensor::<NdArray, 2>::from_data(values.clone(), &Default::default()).transpose(),
        );
        let flex = Tensor::<Flex, 2>::from_data(values, &Default::default()).transpose();
        gelu(flex)
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(3e-6));
        assert_eq!(gelu_of(-10.0), 0.0);
        assert_eq!(gelu_of(10.0), 10.0);
    }

    #[test]
    fn autodiff_kernels_match_the_closed_form_gradient() {
        // Reference: GELU′(x) = Φ(x) + x·φ(x) in f64 with libm's erf and exp, times a
        // non-uniform upstream gradient `w`, on a transposed input. (Burn's default
        // `gelu_backward`, used by burn-ndarray, differentiates the tanh approximation instead,
        // 10⁻³ away: not a reference.)
        type B = Autodiff<Flex>;
        let (x, w) = (normal([60, 50], 2), normal([60, 50], 3));
        let device = Default::default();
        let xs = Tensor::<B, 2>::from_data(x.clone(), &device).require_grad();
        let y = gelu(xs.clone().transpose());
        let grads = (y.clone() * Tensor::from_data(w.clone(), &device).transpose())
            .sum()
            .backward();
        let expected_y = burn::tensor::activation::gelu(
            Tensor::<NdArray, 2>::from_data(x.clone(), &Default::default()).transpose(),
        );
        y.into_data()
            .assert_approx_eq::<f32>(&expected_y.into_data(), Tolerance::absolute(3e-6));
        let exact: Vec<f32> = x
            .iter::<f32>()
            .zip(w.iter::<f32>())
            .map(|(x, w)| {
                let x = x as f64;
                let cdf = 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
                let density = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                (w as f64 * (cdf + x * density)) as f32
            })
            .collect();
        xs.grad(&grads)
            .unwrap()
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::new(exact, [60, 50]), Tolerance::absolute(2e-6));
        // Without a gradient to track, the same values.
        let x = Tensor::<B, 1>::from_floats([-1.0, 1.0], &device);
        let y: Vec<f32> = gelu(x).into_data().to_vec().unwrap();
        assert!((y[1] - 0.841_344_7).abs() < 1e-6);
    }

    #[test]
    fn other_backends_use_burns_gelu() {
        let x = Tensor::<NdArray, 1>::from_floats([-2.0, 0.5, 3.0], &Default::default());
        gelu(x.clone())
            .into_data()
            .assert_eq(&burn::tensor::activation::gelu(x).into_data(), true);
    }
}
