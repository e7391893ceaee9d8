//! A pre-norm transformer block, with DeiT-III's optional layer scale.

use burn::module::Param;
use burn::nn::LayerNorm;
use burn::prelude::*;
use pela::LowRank;

use super::{Attention, Mlp};

/// A learned per-channel scale on a residual branch (DeiT-III, CaiT): `x · γ`.
#[derive(Module, Debug)]
pub struct LayerScale<B: Backend> {
    /// `[d_model]`.
    pub gamma: Param<Tensor<B, 1>>,
}

impl<B: Backend> LayerScale<B> {
    /// # Shapes
    /// - input: `[batch, tokens, d_model]`
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        x * self.gamma.val().unsqueeze::<3>()
    }
}

/// A ViT block: `x + ls1(attn(norm1(x)))`, then `x + ls2(mlp(norm2(x)))`, as timm's `Block`.
/// The layer scales are present in DeiT-III and absent in DeiT.
///
/// Should be created with [`VitConfig::init`](crate::vit::VitConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct Block<B: Backend> {
    /// Norm before attention.
    pub norm1: LayerNorm<B>,
    /// Self-attention.
    #[low_rank]
    pub attn: Attention<B>,
    /// Layer scale of the attention branch (DeiT-III).
    pub ls1: Option<LayerScale<B>>,
    /// Norm before the MLP.
    pub norm2: LayerNorm<B>,
    /// The feed-forward network.
    #[low_rank]
    pub mlp: Mlp<B>,
    /// Layer scale of the MLP branch (DeiT-III).
    pub ls2: Option<LayerScale<B>>,
}

#[pela::twin]
impl<B: Backend> Block<B> {
    /// # Shapes
    /// - input: `[batch, tokens, d_model]`
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let scaled = |scale: &Option<LayerScale<B>>, branch: Tensor<B, 3>| match scale {
            Some(scale) => scale.forward(branch),
            None => branch,
        };
        let attended = self.attn.forward(self.norm1.forward(x.clone()));
        let x = x + scaled(&self.ls1, attended);
        let transformed = self.mlp.forward(self.norm2.forward(x.clone()));
        x + scaled(&self.ls2, transformed)
    }
}
