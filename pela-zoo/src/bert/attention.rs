//! BERT's attention: self-attention, or cross-attention to another encoder's tokens.

use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::ops::AttentionModuleOptions;
use pela::LowRank;
use pela::nn::Project;
use pela::nn::on_rows;
use pela::ops::attention;

/// Scaled dot-product attention with separate query, key and value projections (Hugging
/// Face's `BertSelfAttention`). The keys and values come from the layer's own tokens, or, in
/// cross-attention, from another encoder's (whose width may differ).
///
/// Should be created with [`BertConfig::init`](super::BertConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct BertSelfAttention<B: Backend> {
    /// `[hidden_size, hidden_size]`.
    pub query: Linear<B>,
    /// `[key/value width, hidden_size]`.
    pub key: Linear<B>,
    /// `[key/value width, hidden_size]`.
    pub value: Linear<B>,
    /// The number of heads.
    pub n_heads: usize,
}

#[pela::twin]
impl<B: Backend> BertSelfAttention<B> {
    /// Attends the tokens `x` to `context` (`x` itself in self-attention).
    ///
    /// # Shapes
    /// - `x`: `[batch, tokens, hidden_size]`
    /// - `context`: `[batch, context tokens, width]`
    /// - `context_bias`: `[batch, context tokens]`, 0 where a context token is real and a large
    ///   negative number where it is padding (see [`attention_bias`])
    /// - output: `[batch, tokens, hidden_size]`
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        context: Tensor<B, 3>,
        context_bias: Tensor<B, 2>,
    ) -> Tensor<B, 3> {
        let [batch, tokens, d_model] = x.dims();
        let context_tokens = context.dims()[1];
        let d_head = d_model / self.n_heads;
        let heads =
            |t: Tensor<B, 3>, n: usize| t.reshape([batch, n, self.n_heads, d_head]).swap_dims(1, 2);
        let q = heads(on_rows(x, |rows| self.query.project(rows)), tokens);
        let k = heads(
            on_rows(context.clone(), |rows| self.key.project(rows)),
            context_tokens,
        );
        let v = heads(
            on_rows(context, |rows| self.value.project(rows)),
            context_tokens,
        );
        // softmax(q·kᵀ / √d_head + bias)·v (`pela::ops::attention`, parallel on burn-flex, forward and backward): the
        // padding bias of each context token, the same for every head and query.
        let bias =
            context_bias
                .unsqueeze_dims::<4>(&[1, 2])
                .expand([batch, 1, tokens, context_tokens]);
        attention(q, k, v, None, Some(bias), AttentionModuleOptions::default())
            .swap_dims(1, 2)
            .reshape([batch, tokens, d_model])
    }
}

/// `LayerNorm(dense(x) + residual)`: the output of an attention or feed-forward block
/// (Hugging Face's `BertSelfOutput` and `BertOutput`).
///
/// Should be created with [`BertConfig::init`](super::BertConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct BertOutput<B: Backend> {
    /// The projection back to `hidden_size`.
    pub dense: Linear<B>,
    /// The normalisation after the residual sum.
    pub layer_norm: LayerNorm<B>,
}

#[pela::twin]
impl<B: Backend> BertOutput<B> {
    /// `LayerNorm(dense(x) + residual)`.
    pub fn forward(&self, x: Tensor<B, 3>, residual: Tensor<B, 3>) -> Tensor<B, 3> {
        self.layer_norm
            .forward(on_rows(x, |rows| self.dense.project(rows)) + residual)
    }
}

/// An attention block: attention, then its output projection with the residual and norm
/// (Hugging Face's `BertAttention`; a layer's `attention` and `crossattention`).
///
/// Should be created with [`BertConfig::init`](super::BertConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct BertAttention<B: Backend> {
    /// Query, key and value (`self` in Hugging Face's keys).
    #[low_rank]
    pub self_attention: BertSelfAttention<B>,
    /// The output projection.
    #[low_rank]
    pub output: BertOutput<B>,
}

#[pela::twin]
impl<B: Backend> BertAttention<B> {
    /// Attends `x` to `context` (itself, in self-attention) and adds the result to `x`.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        context: Tensor<B, 3>,
        context_bias: Tensor<B, 2>,
    ) -> Tensor<B, 3> {
        let attended = self
            .self_attention
            .forward(x.clone(), context, context_bias);
        self.output.forward(attended, x)
    }
}

/// The additive attention bias of a padding mask: 0 where `mask` is 1 (a real token) and
/// −10⁴ where it is 0 (padding), as BERT was trained with.
///
/// ```
/// use burn::tensor::Tensor;
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::bert::attention_bias;
///
/// let mask = Tensor::<Cpu, 2>::from_floats([[1.0, 1.0, 0.0]], &CpuDevice::default());
/// let bias: Vec<f32> = attention_bias(mask).into_data().to_vec().unwrap();
/// assert_eq!(bias, [0.0, 0.0, -10_000.0]);
/// ```
pub fn attention_bias<B: Backend>(mask: Tensor<B, 2>) -> Tensor<B, 2> {
    (mask - 1.0) * 10_000.0
}
