//! One BERT encoder layer: self-attention, optional cross-attention, feed-forward.

use burn::nn::Linear;
use burn::prelude::*;
use pela::LowRank;
use pela::nn::on_rows;
use pela::ops::gelu;

use super::{BertAttention, BertOutput};
use pela::nn::Project;

/// The first half of the feed-forward block: `gelu(dense(x))` (Hugging Face's
/// `BertIntermediate`).
///
/// Should be created with [`BertConfig::init`](super::BertConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct BertIntermediate<B: Backend> {
    /// `[hidden_size, intermediate_size]`.
    pub dense: Linear<B>,
}

#[pela::twin]
impl<B: Backend> BertIntermediate<B> {
    /// `gelu(dense(x))`, with the exact (erf) GELU.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        on_rows(x, |rows| gelu(self.dense.project(rows)))
    }
}

/// A post-norm encoder layer (Hugging Face's `BertLayer`): self-attention, then — in a fusion
/// layer — cross-attention to another encoder's tokens, then the feed-forward block; each
/// with its residual and `LayerNorm`.
///
/// Text-only layers (BERT, and ALBEF's first six) have no `crossattention`; ALBEF's fusion
/// layers have one, reading the image encoder's tokens.
///
/// Should be created with [`BertConfig::init`](super::BertConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct BertLayer<B: Backend> {
    /// Self-attention.
    #[low_rank]
    pub attention: BertAttention<B>,
    /// Cross-attention to another encoder's tokens, in fusion layers.
    #[low_rank]
    pub crossattention: Option<BertAttention<B>>,
    /// The feed-forward block's first `Linear`.
    #[low_rank]
    pub intermediate: BertIntermediate<B>,
    /// The feed-forward block's second `Linear`, residual and norm.
    #[low_rank]
    pub output: BertOutput<B>,
}

#[pela::twin]
impl<B: Backend> BertLayer<B> {
    /// Runs the layer on `x` (`[batch, tokens, hidden_size]`) with its padding bias
    /// (`[batch, tokens]`, see [`attention_bias`](super::attention_bias)), and in a fusion
    /// layer on `cross`: the other encoder's tokens and their bias.
    ///
    /// # Panics
    /// A fusion layer called without `cross`.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        bias: Tensor<B, 2>,
        cross: Option<(Tensor<B, 3>, Tensor<B, 2>)>,
    ) -> Tensor<B, 3> {
        let mut x = self.attention.forward(x.clone(), x, bias);
        if let Some(crossattention) = &self.crossattention {
            let (context, context_bias) =
                cross.expect("a fusion layer needs the other encoder's tokens");
            x = crossattention.forward(x, context, context_bias);
        }
        self.output.forward(self.intermediate.forward(x.clone()), x)
    }
}
