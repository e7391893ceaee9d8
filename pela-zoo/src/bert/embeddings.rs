//! BERT's input embeddings: word, position and segment, summed and normalised.

use burn::nn::{Embedding, LayerNorm};
use burn::prelude::*;

/// Word, position and token-type embeddings, summed, then `LayerNorm` (Hugging Face's
/// `BertEmbeddings`; dropout is off, as at inference and in distillation).
///
/// Should be created with [`BertConfig::init`](super::BertConfig::init).
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    /// One vector per vocabulary entry, `[vocab_size, hidden_size]`.
    pub word_embeddings: Embedding<B>,
    /// One vector per position, `[max_position_embeddings, hidden_size]`.
    pub position_embeddings: Embedding<B>,
    /// One vector per segment, `[type_vocab_size, hidden_size]`.
    pub token_type_embeddings: Embedding<B>,
    /// The normalisation of the sum.
    pub layer_norm: LayerNorm<B>,
}

impl<B: Backend> BertEmbeddings<B> {
    /// Embeds token ids.
    ///
    /// # Shapes
    /// - `input_ids`, `token_type_ids`: `[batch, tokens]`
    /// - output: `[batch, tokens, hidden_size]`
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3> {
        let [_, tokens] = input_ids.dims();
        let device = input_ids.device();
        let positions = Tensor::<B, 1, Int>::arange(0..tokens as i64, &device).unsqueeze::<2>();
        let sum = self.word_embeddings.forward(input_ids)
            + self.position_embeddings.forward(positions)
            + self.token_type_embeddings.forward(token_type_ids);
        self.layer_norm.forward(sum)
    }
}
