//! The twin of `burn::nn::attention::MultiHeadAttention`.

use burn::module::Module;
use burn::nn::attention::{self as burn_attention, MhaOutput, MultiHeadAttention};
use burn::nn::{Dropout, Gelu};
use burn::tensor::activation::{quiet_softmax, softmax};
use burn::tensor::{Bool, Tensor, backend::Backend};

use super::low_rank_twin;
use crate::StudentLinear;

/// The input of multi-head attention, for bodies shared by teacher and student: the same
/// builder as `burn::nn::attention::MhaInput`, whose fields Burn keeps private.
#[derive(Debug, Clone)]
pub struct MhaInput<B: Backend> {
    query: Tensor<B, 3>,
    key: Tensor<B, 3>,
    value: Tensor<B, 3>,
    mask_pad: Option<Tensor<B, 2, Bool>>,
    mask_attn: Option<Tensor<B, 3, Bool>>,
}

impl<B: Backend> MhaInput<B> {
    /// Self-attention: query, key and value are all `tensor` (`[batch, seq, d_model]`).
    pub fn self_attn(tensor: Tensor<B, 3>) -> Self {
        Self::new(tensor.clone(), tensor.clone(), tensor)
    }

    /// Attention of `query` over `key` and `value`.
    pub fn new(query: Tensor<B, 3>, key: Tensor<B, 3>, value: Tensor<B, 3>) -> Self {
        Self {
            query,
            key,
            value,
            mask_pad: None,
            mask_attn: None,
        }
    }

    /// Padding mask `[batch, seq_key]`: `true` where a key is padding.
    pub fn mask_pad(mut self, mask_pad: Tensor<B, 2, Bool>) -> Self {
        self.mask_pad = Some(mask_pad);
        self
    }

    /// Attention mask `[batch, seq_query, seq_key]`: `true` where attention is forbidden.
    pub fn mask_attn(mut self, mask_attn: Tensor<B, 3, Bool>) -> Self {
        self.mask_attn = Some(mask_attn);
        self
    }

    /// Burn's own input type, with the same tensors.
    pub fn into_burn(self) -> burn_attention::MhaInput<B> {
        let mut input = burn_attention::MhaInput::new(self.query, self.key, self.value);
        if let Some(mask) = self.mask_pad {
            input = input.mask_pad(mask);
        }
        if let Some(mask) = self.mask_attn {
            input = input.mask_attn(mask);
        }
        input
    }
}

/// Multi-head attention that accepts [`MhaInput`]: Burn's `MultiHeadAttention` and its twin.
/// Call `attend` in a forward body shared by teacher and student.
pub trait Attention<B: Backend> {
    /// Runs the attention.
    fn attend(&self, input: MhaInput<B>) -> MhaOutput<B>;
}

impl<B: Backend> Attention<B> for MultiHeadAttention<B> {
    fn attend(&self, input: MhaInput<B>) -> MhaOutput<B> {
        self.forward(input.into_burn())
    }
}

impl<B: Backend> Attention<B> for MultiHeadAttentionLowRank<B> {
    fn attend(&self, input: MhaInput<B>) -> MhaOutput<B> {
        self.forward(input)
    }
}

/// The low-rank twin of Burn's `MultiHeadAttention`: the query, key, value and output
/// projections may be low-rank; the computation is Burn 0.21's.
#[derive(Module, Debug)]
pub struct MultiHeadAttentionLowRank<B: Backend> {
    /// Query projection.
    pub query: StudentLinear<B>,
    /// Key projection.
    pub key: StudentLinear<B>,
    /// Value projection.
    pub value: StudentLinear<B>,
    /// Output projection.
    pub output: StudentLinear<B>,
    /// Dropout on the attention scores.
    pub dropout: Dropout,
    /// Kept for parity with Burn's module.
    pub activation: Gelu,
    /// Model size.
    pub d_model: usize,
    /// Number of heads.
    pub n_heads: usize,
    /// Size of one head.
    pub d_k: usize,
    /// The value masked scores are set to.
    pub min_float: f64,
    /// Whether to use the quiet softmax.
    pub quiet_softmax: bool,
}

impl<B: Backend> MultiHeadAttentionLowRank<B> {
    /// The same computation as `MultiHeadAttention::forward`.
    ///
    /// # Shapes
    /// - query, key, value: `[batch, seq, d_model]`
    /// - output context: `[batch, seq_query, d_model]`; weights `[batch, n_heads, seq_query, seq_key]`
    pub fn forward(&self, input: MhaInput<B>) -> MhaOutput<B> {
        let [batch_size, seq_length_1, d_model] = input.query.dims();

        let query = self.attention_linear(input.query, &self.query);
        let key = self.attention_linear(input.key, &self.key);
        let value = self.attention_linear(input.value, &self.value);

        let attn_scores = query
            .matmul(key.transpose())
            .div_scalar((self.d_k as f32).sqrt());
        let attn_scores = self.dropout.forward(attn_scores);
        let weights = self.attn_weights(attn_scores, input.mask_pad, input.mask_attn);

        let context = weights.clone().matmul(value).swap_dims(1, 2).reshape([
            batch_size,
            seq_length_1,
            d_model,
        ]);
        let context = self.output.forward(context);

        MhaOutput { weights, context }
    }

    fn attn_weights(
        &self,
        mut attn_scores: Tensor<B, 4>,
        mask_pad: Option<Tensor<B, 2, Bool>>,
        mask_attn: Option<Tensor<B, 3, Bool>>,
    ) -> Tensor<B, 4> {
        if let Some(mask_pad) = mask_pad {
            let [batch_size, seq_length] = mask_pad.dims();
            attn_scores = attn_scores.mask_fill(
                mask_pad.reshape([batch_size, 1, 1, seq_length]),
                self.min_float,
            );
        }
        if let Some(mask_attn) = mask_attn {
            let [batch_size, seq_length_1, seq_length_2] = mask_attn.dims();
            attn_scores = attn_scores.mask_fill(
                mask_attn.reshape([batch_size, 1, seq_length_1, seq_length_2]),
                self.min_float,
            );
        }
        if self.quiet_softmax {
            quiet_softmax(attn_scores, 3)
        } else {
            softmax(attn_scores, 3)
        }
    }

    fn attention_linear(&self, x: Tensor<B, 3>, linear: &StudentLinear<B>) -> Tensor<B, 4> {
        let [batch_size, seq_length, _d_model] = x.dims();
        linear
            .forward(x)
            .reshape([batch_size, seq_length, self.n_heads, self.d_k])
            .swap_dims(1, 2)
    }
}

low_rank_twin!(MultiHeadAttention => MultiHeadAttentionLowRank {
    convert: [query, key, value, output],
    keep: [dropout, activation, d_model, n_heads, d_k, min_float, quiet_softmax]
});
