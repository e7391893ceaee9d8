//! The twins of `burn::nn::transformer::{TransformerEncoderLayer, TransformerEncoder}`.

use burn::module::Module;
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderLayer};
use burn::nn::{Dropout, LayerNorm};
use burn::tensor::{Bool, Tensor, backend::Backend};

use super::{MhaInput, MultiHeadAttentionLowRank, PositionWiseFeedForwardLowRank, low_rank_twin};

/// The input of a transformer encoder, for bodies shared by teacher and student: the same
/// builder as `burn::nn::transformer::TransformerEncoderInput`, whose fields Burn keeps
/// private.
#[derive(Debug, Clone)]
pub struct TransformerEncoderInput<B: Backend> {
    tensor: Tensor<B, 3>,
    mask_pad: Option<Tensor<B, 2, Bool>>,
    mask_attn: Option<Tensor<B, 3, Bool>>,
}

impl<B: Backend> TransformerEncoderInput<B> {
    /// The token embeddings `[batch, seq, d_model]`.
    pub fn new(tensor: Tensor<B, 3>) -> Self {
        Self {
            tensor,
            mask_pad: None,
            mask_attn: None,
        }
    }

    /// Padding mask `[batch, seq]`: `true` where a token is padding.
    pub fn mask_pad(mut self, mask_pad: Tensor<B, 2, Bool>) -> Self {
        self.mask_pad = Some(mask_pad);
        self
    }

    /// Attention mask `[batch, seq, seq]`: `true` where attention is forbidden.
    pub fn mask_attn(mut self, mask_attn: Tensor<B, 3, Bool>) -> Self {
        self.mask_attn = Some(mask_attn);
        self
    }
}

/// A transformer encoder that accepts [`TransformerEncoderInput`]: Burn's
/// `TransformerEncoder` and its twin. Call `encode` in a forward body shared by teacher and
/// student.
pub trait Encoder<B: Backend> {
    /// Runs every layer.
    fn encode(&self, input: TransformerEncoderInput<B>) -> Tensor<B, 3>;
}

impl<B: Backend> Encoder<B> for TransformerEncoder<B> {
    fn encode(&self, input: TransformerEncoderInput<B>) -> Tensor<B, 3> {
        let mut x = input.tensor;
        for layer in self.layers.iter() {
            x = layer.forward(x, input.mask_pad.clone(), input.mask_attn.clone());
        }
        x
    }
}

impl<B: Backend> Encoder<B> for TransformerEncoderLowRank<B> {
    fn encode(&self, input: TransformerEncoderInput<B>) -> Tensor<B, 3> {
        self.forward(input)
    }
}

/// The low-rank twin of Burn's `TransformerEncoderLayer`.
#[derive(Module, Debug)]
pub struct TransformerEncoderLayerLowRank<B: Backend> {
    /// Self-attention.
    pub mha: MultiHeadAttentionLowRank<B>,
    /// Feed-forward block.
    pub pwff: PositionWiseFeedForwardLowRank<B>,
    /// Norm of the feed-forward path (pre-norm) or after attention (post-norm).
    pub norm_1: LayerNorm<B>,
    /// Norm of the attention path (pre-norm) or at the end (post-norm).
    pub norm_2: LayerNorm<B>,
    /// Residual dropout.
    pub dropout: Dropout,
    /// Pre-norm when true.
    pub norm_first: bool,
}

impl<B: Backend> TransformerEncoderLayerLowRank<B> {
    /// The same computation as `TransformerEncoderLayer::forward`.
    ///
    /// # Shapes
    /// - input: `[batch, seq, d_model]`; masks as in [`TransformerEncoderInput`]
    /// - output: `[batch, seq, d_model]`
    pub fn forward(
        &self,
        input: Tensor<B, 3>,
        mask_pad: Option<Tensor<B, 2, Bool>>,
        mask_attn: Option<Tensor<B, 3, Bool>>,
    ) -> Tensor<B, 3> {
        let x = input;
        let mut residual_path = x.clone();
        if self.norm_first {
            residual_path = self.norm_2.forward(residual_path)
        }
        let mut input_mhs = MhaInput::self_attn(residual_path);
        if let Some(mask_pad) = mask_pad {
            input_mhs = input_mhs.mask_pad(mask_pad);
        }
        if let Some(mask_attn) = mask_attn {
            input_mhs = input_mhs.mask_attn(mask_attn);
        }
        let residual_path = self.mha.forward(input_mhs).context;
        let residual_path = self.dropout.forward(residual_path);
        let mut x = x + residual_path;

        let residual_path = if self.norm_first {
            self.norm_1.forward(x.clone())
        } else {
            x = self.norm_1.forward(x);
            x.clone()
        };
        let residual_path = self.pwff.forward(residual_path);
        let residual_path = self.dropout.forward(residual_path);
        let mut x = x + residual_path;

        if !self.norm_first {
            x = self.norm_2.forward(x)
        }
        x
    }
}

/// The low-rank twin of Burn's `TransformerEncoder`.
#[derive(Module, Debug)]
pub struct TransformerEncoderLowRank<B: Backend> {
    /// The layers.
    pub layers: Vec<TransformerEncoderLayerLowRank<B>>,
    /// Model size.
    pub d_model: usize,
    /// Feed-forward size.
    pub d_ff: usize,
    /// Number of heads.
    pub n_heads: usize,
    /// Number of layers.
    pub n_layers: usize,
    /// Dropout rate.
    pub dropout: f64,
    /// Pre-norm when true.
    pub norm_first: bool,
    /// Whether attention uses the quiet softmax.
    pub quiet_softmax: bool,
}

impl<B: Backend> TransformerEncoderLowRank<B> {
    /// The same computation as `TransformerEncoder::forward`.
    ///
    /// # Shapes
    /// - input: `[batch, seq, d_model]`
    /// - output: `[batch, seq, d_model]`
    pub fn forward(&self, input: TransformerEncoderInput<B>) -> Tensor<B, 3> {
        let mut x = input.tensor;
        for layer in self.layers.iter() {
            x = layer.forward(x, input.mask_pad.clone(), input.mask_attn.clone());
        }
        x
    }
}

low_rank_twin!(TransformerEncoderLayer => TransformerEncoderLayerLowRank {
    convert: [mha, pwff],
    keep: [norm_1, norm_2, dropout, norm_first]
});

low_rank_twin!(TransformerEncoder => TransformerEncoderLowRank {
    convert: [layers],
    keep: [d_model, d_ff, n_heads, n_layers, dropout, norm_first, quiet_softmax]
});
