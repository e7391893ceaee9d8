//! The feed-forward part of a ViT block, as timm's `Mlp`.

use burn::nn::{Gelu, Linear};
use burn::prelude::*;
use pela::LowRank;
use pela::nn::Project;
use pela::nn::on_rows;

/// Two `Linear` layers with an exact (erf) GELU between them: `fc2(gelu(fc1(x)))`.
///
/// Should be created with [`VitConfig::init`](crate::vit::VitConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct Mlp<B: Backend> {
    /// `[d_model, d_ff]`.
    pub fc1: Linear<B>,
    /// `[d_ff, d_model]`.
    pub fc2: Linear<B>,
    /// The activation, the exact GELU; `forward` applies it with [`pela::ops::gelu`], the
    /// same function, parallel on burn-flex (forward and backward).
    pub act: Gelu,
}

#[pela::twin]
impl<B: Backend> Mlp<B> {
    /// # Shapes
    /// - input: `[batch, tokens, d_model]`
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        on_rows(x, |rows| {
            self.fc2.project(pela::ops::gelu(self.fc1.project(rows)))
        })
    }
}
