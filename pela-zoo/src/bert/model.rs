//! The BERT encoder, its inputs, and sentence embeddings.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use pela::{LayerFeatures, LowRank, ToInner};

use super::{BertEmbeddings, BertLayer, attention_bias};

/// The stack of encoder layers (Hugging Face's `BertEncoder`).
///
/// Should be created with [`BertConfig::init`](super::BertConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct BertEncoder<B: Backend> {
    /// The layers, in order (`encoder.layer.<i>` in Hugging Face's keys).
    #[low_rank]
    pub layer: Vec<BertLayer<B>>,
}

/// `tanh(dense(first token))`, trained for next-sentence prediction; not used by sentence
/// embeddings, and not compressed (no `#[low_rank]` on [`Bert::pooler`]).
///
/// Should be created with [`BertConfig::init`](super::BertConfig::init).
#[derive(Module, Debug)]
pub struct BertPooler<B: Backend> {
    /// `[hidden_size, hidden_size]`.
    pub dense: Linear<B>,
}

/// A BERT encoder: embeddings, post-norm layers, an optional pooler. `#[derive(LowRank)]`:
/// its twin `BertLowRank` is the PELA student, with every attention and feed-forward `Linear`
/// of the encoder as a factor pair.
///
/// Both implement [`LayerFeatures`]: the last layer's tokens, and every layer's tokens as the
/// features to distil (padding set to 0, so that it adds nothing to `L_fd`).
///
/// Should be created with [`BertConfig::init`](super::BertConfig::init), or loaded with
/// [`BertConfig::load_safetensors`](super::BertConfig::load_safetensors).
#[derive(Module, LowRank, Debug)]
pub struct Bert<B: Backend> {
    /// The input embeddings (not compressed: they are lookups, not `Linear`s).
    pub embeddings: BertEmbeddings<B>,
    /// The encoder layers.
    #[low_rank]
    pub encoder: BertEncoder<B>,
    /// The pooler, if the checkpoint has one.
    pub pooler: Option<BertPooler<B>>,
}

/// A batch of tokenised text, padded to its longest sequence.
#[derive(Debug, Clone)]
pub struct BertInput<B: Backend> {
    /// Token ids, `[batch, tokens]`.
    pub input_ids: Tensor<B, 2, Int>,
    /// Segment ids, `[batch, tokens]` (0 for single sentences).
    pub token_type_ids: Tensor<B, 2, Int>,
    /// 1.0 for real tokens, 0.0 for padding, `[batch, tokens]`.
    pub attention_mask: Tensor<B, 2>,
}

impl<B: AutodiffBackend> ToInner<B> for BertInput<B> {
    type Inner = BertInput<B::InnerBackend>;

    fn to_inner(&self) -> Self::Inner {
        BertInput {
            input_ids: self.input_ids.to_inner(),
            token_type_ids: self.token_type_ids.to_inner(),
            attention_mask: self.attention_mask.to_inner(),
        }
    }
}

#[pela::twin]
impl<B: Backend> Bert<B> {
    /// The last layer's tokens, `[batch, tokens, hidden_size]`, and every layer's.
    pub fn forward_layers(&self, input: BertInput<B>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        let bias = attention_bias(input.attention_mask);
        let mut x = self
            .embeddings
            .forward(input.input_ids, input.token_type_ids);
        let mut layers = Vec::with_capacity(self.encoder.layer.len());
        for layer in &self.encoder.layer {
            x = layer.forward(x, bias.clone(), None);
            layers.push(x.clone());
        }
        (x, layers)
    }

    /// The text-only layers (those before the first cross-attention layer; all of them in a
    /// plain BERT) on `input`: their last tokens, and every one of their layers' tokens.
    /// ALBEF's `mode='text'`.
    pub fn forward_text(&self, input: BertInput<B>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        let bias = attention_bias(input.attention_mask);
        let x = self
            .embeddings
            .forward(input.input_ids, input.token_type_ids);
        let text_layers = self
            .encoder
            .layer
            .iter()
            .take_while(|layer| layer.crossattention.is_none());
        let mut layers = Vec::new();
        let x = text_layers.fold(x, |x, layer| {
            let x = layer.forward(x, bias.clone(), None);
            layers.push(x.clone());
            x
        });
        (x, layers)
    }

    /// The fusion layers (the first cross-attention layer and those after it) on the text
    /// layers' tokens `text` (`[batch, tokens, hidden_size]`, with its padding `mask`
    /// `[batch, tokens]`), attending to `image` (`[batch, image tokens, encoder width]`,
    /// every image token real): their last tokens and every one of their layers' tokens.
    /// ALBEF's `mode='fusion'`.
    pub fn forward_fusion(
        &self,
        text: Tensor<B, 3>,
        mask: Tensor<B, 2>,
        image: Tensor<B, 3>,
    ) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        let bias = attention_bias(mask);
        let [batch, image_tokens, _] = image.dims();
        let image_bias = Tensor::zeros([batch, image_tokens], &image.device());
        let first = self
            .encoder
            .layer
            .iter()
            .position(|layer| layer.crossattention.is_some())
            .unwrap_or(self.encoder.layer.len());
        let mut layers = Vec::new();
        let x = self.encoder.layer[first..].iter().fold(text, |x, layer| {
            let x = layer.forward(x, bias.clone(), Some((image.clone(), image_bias.clone())));
            layers.push(x.clone());
            x
        });
        (x, layers)
    }

    /// The last layer's tokens, `[batch, tokens, hidden_size]`.
    pub fn forward(&self, input: BertInput<B>) -> Tensor<B, 3> {
        self.forward_layers(input).0
    }

    /// Sentence embeddings as sentence-transformers computes them for all-MiniLM-L6-v2: the
    /// mean of the last layer's real tokens, L2-normalised; `[batch, hidden_size]`.
    pub fn sentence_embeddings(&self, input: BertInput<B>) -> Tensor<B, 2> {
        let mask = input.attention_mask.clone();
        normalize(mean_pool(self.forward(input), mask))
    }
}

/// A model that turns a batch of text into sentence embeddings `[batch, width]`: a [`Bert`]
/// and its student alike, so that evaluation code serves both.
pub trait SentenceEncoder<B: Backend> {
    /// The L2-normalised sentence embeddings of the batch.
    fn encode_sentences(&self, input: BertInput<B>) -> Tensor<B, 2>;
}

#[pela::twin]
impl<B: Backend> SentenceEncoder<B> for Bert<B> {
    fn encode_sentences(&self, input: BertInput<B>) -> Tensor<B, 2> {
        self.sentence_embeddings(input)
    }
}

#[pela::twin]
impl<B: Backend> LayerFeatures<B> for Bert<B> {
    type Input = BertInput<B>;
    type Output = Tensor<B, 3>;

    fn forward_features(&self, input: BertInput<B>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        let keep = input.attention_mask.clone().unsqueeze_dim::<3>(2);
        let (last, layers) = self.forward_layers(input);
        let layers = layers.into_iter().map(|x| x * keep.clone()).collect();
        (last, layers)
    }
}

/// The mean of the real tokens of each sequence: `tokens` `[batch, tokens, d]`, `mask`
/// `[batch, tokens]` (1 real, 0 padding) → `[batch, d]`.
pub fn mean_pool<B: Backend>(tokens: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
    let counts = mask.clone().sum_dim(1).clamp_min(1e-9); // [batch, 1]
    let sums: Tensor<B, 2> = (tokens * mask.unsqueeze_dim::<3>(2))
        .sum_dim(1)
        .squeeze_dim(1);
    sums / counts
}

/// Rows scaled to unit L2 norm (rows of zeros stay zero).
pub fn normalize<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let norms = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norms
}
