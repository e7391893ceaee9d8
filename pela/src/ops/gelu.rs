//! The exact (erf) GELU, on every core of the CPU for `burn-flex`.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::flex::{flex_f32, from_flex};

/// Elements per parallel task: large enough to amortise the scheduling, small enough to give
/// every core several tasks.
const CHUNK: usize = 1 << 14;

/// The exact GELU, `x · Φ(x) = x/2 · (1 + erf(x/√2))`, as `burn::tensor::activation::gelu`
/// (and PyTorch's `nn.GELU()`), on any backend; on `burn-flex` through this crate's parallel,
/// vectorised kernel (see [the module](crate::ops)).
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
    match flex_f32(tensor) {
        Ok(flex) => from_flex(gelu_flex(flex)),
        Err(tensor) => burn::tensor::activation::gelu(tensor),
    }
}

/// The GELU of every element of a `burn-flex` `f32` tensor, as a new contiguous tensor.
fn gelu_flex(tensor: FlexTensor) -> FlexTensor {
    let tensor = tensor.to_contiguous();
    let shape = tensor.layout().shape().clone();
    let input = &tensor.storage::<f32>()[..shape.num_elements()];
    // Every element is written below: no zero-fill first.
    let mut output = Vec::<f32>::with_capacity(input.len());
    output.spare_capacity_mut()[..input.len()]
        .par_chunks_mut(CHUNK)
        .zip(input.par_chunks(CHUNK))
        .for_each(|(output, input)| {
            for (y, &x) in output.iter_mut().zip(input) {
                y.write(0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)));
            }
        });
    // SAFETY: the loop above initialised all `input.len()` elements.
    unsafe { output.set_len(input.len()) };
    FlexTensor::from_data(TensorData::new(output, shape))
}

/// `erf(x)` in `f32` to within 5·10⁻⁷, as a ratio of an odd and an even polynomial on
/// `(-4, 4)` (the approximation of Eigen's `generic_fast_erf_float` and XLA), and exactly ±1
/// outside, where `erf` rounds to ±1 in `f32`. No library calls, and the branch is a select, so
/// the loop over a tensor vectorises.
#[inline(always)]
fn erf(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ];
    const BETA: [f32; 5] = [
        -1.456_607_2e-5,
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329_2e-3,
        -1.426_474e-2,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    // Plain multiply-adds: `mul_add` is a library call on the baseline x86-64 target.
    let p = ALPHA[1..].iter().fold(ALPHA[0], |p, &a| p * x2 + a);
    let q = BETA[1..].iter().fold(BETA[0], |q, &b| q * x2 + b);
    let erf = x * p / q;
    if x.abs() >= 4.0 {
        1.0f32.copysign(x)
    } else {
        erf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    type Flex = burn_flex::Flex;
    type NdArray = burn_ndarray::NdArray<f32>;

    #[test]
    fn erf_is_within_5e7_of_the_exact_function() {
        // Reference: libm's double-precision erf, on a grid of 2·10⁵ points over [-8, 8].
        let worst = (0..=200_000)
            .map(|i| -8.0 + 16.0 * i as f64 / 200_000.0)
            .map(|x| (erf(x as f32) as f64 - libm::erf((x as f32) as f64)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 5e-7, "max |erf error| = {worst:e}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert_eq!(erf(-4.0), -1.0);
        assert!(gelu_of(f32::NAN).is_nan());
    }

    fn gelu_of(x: f32) -> f32 {
        let t = Tensor::<Flex, 1>::from_floats([x], &Default::default());
        gelu(t).into_data().to_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn flex_kernel_matches_burns_gelu_on_ndarray() {
        // Reference: Burn's own GELU (libm's erf) on burn-ndarray, on the same seeded values,
        // including a non-contiguous (transposed) input.
        let values = Tensor::<NdArray, 2>::random(
            [300, 70],
            Distribution::Normal(0.0, 3.0),
            &Default::default(),
        )
        .into_data();
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
    fn other_backends_use_burns_gelu() {
        let x = Tensor::<NdArray, 1>::from_floats([-2.0, 0.5, 3.0], &Default::default());
        gelu(x.clone())
            .into_data()
            .assert_eq(&burn::tensor::activation::gelu(x).into_data(), true);
    }
}
