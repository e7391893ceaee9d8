//! The twin of `burn::nn::transformer::PositionWiseFeedForward`.

use burn::module::Module;
use burn::nn::transformer::PositionWiseFeedForward;
use burn::nn::{Dropout, activation::Activation};
use burn::tensor::{Tensor, backend::Backend};

use super::low_rank_twin;
use crate::StudentLinear;

/// The low-rank twin of Burn's `PositionWiseFeedForward`: both linears may be low-rank.
#[derive(Module, Debug)]
pub struct PositionWiseFeedForwardLowRank<B: Backend> {
    /// `d_model → d_ff`.
    pub linear_inner: StudentLinear<B>,
    /// `d_ff → d_model`.
    pub linear_outer: StudentLinear<B>,
    /// Dropout after the activation.
    pub dropout: Dropout,
    /// The activation between the linears.
    #[module(skip)]
    pub activation: Activation<B>,
}

impl<B: Backend> PositionWiseFeedForwardLowRank<B> {
    /// The same computation as `PositionWiseFeedForward::forward`.
    ///
    /// # Shapes
    /// - input: `[..., d_model]`
    /// - output: `[..., d_model]`
    pub fn forward<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        let x = self.linear_inner.forward(input);
        let x = self.activation.forward(x);
        let x = self.dropout.forward(x);
        self.linear_outer.forward(x)
    }
}

low_rank_twin!(PositionWiseFeedForward => PositionWiseFeedForwardLowRank {
    convert: [linear_inner, linear_outer],
    keep: [dropout, activation]
});
