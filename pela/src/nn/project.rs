//! `x·W + b` on every kind of linear layer, through this crate's kernel.

use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::{CalibratingLinear, LowRankLinear, StudentLinear};

/// A linear layer, `y = x·W + b` over the last dimension: Burn's `Linear`, and what a `Linear`
/// becomes in a low-rank twin. [`project`](Project::project) has `Linear::forward`'s shapes and
/// result, and runs through [`crate::ops::linear`]: one matrix product into the bias rows on
/// `burn-flex`, Burn's `linear` elsewhere. A model body written with `project` calls the same
/// kernel in the teacher and in its twin (the zoo's do).
///
/// ```
/// use burn::nn::LinearConfig;
/// use burn::prelude::*;
/// use pela::nn::Project;
///
/// type B = burn_flex::Flex;
/// let device = Default::default();
/// let fc = LinearConfig::new(4, 3).init::<B>(&device);
/// let x = Tensor::<B, 3>::ones([2, 5, 4], &device);
/// fc.project(x.clone())
///     .into_data()
///     .assert_approx_eq::<f32>(&fc.forward(x).into_data(), Default::default());
/// ```
pub trait Project<B: Backend> {
    /// `input · W + b`.
    ///
    /// # Shapes
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    fn project<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D>;
}

impl<B: Backend> Project<B> for Linear<B> {
    fn project<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        crate::ops::linear(
            input,
            self.weight.val(),
            self.bias.as_ref().map(|b| b.val()),
        )
    }
}

impl<B: Backend> Project<B> for LowRankLinear<B> {
    fn project<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        self.forward(input)
    }
}

impl<B: Backend> Project<B> for StudentLinear<B> {
    fn project<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        self.forward(input)
    }
}

impl<B: Backend> Project<B> for CalibratingLinear<B> {
    fn project<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        self.forward(input)
    }
}
