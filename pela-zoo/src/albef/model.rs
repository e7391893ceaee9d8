//! The ALBEF model: image encoder, text and fusion encoder, projections and heads.

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use pela::LowRank;
use pela::nn::on_rows;
use pela::ops::gelu;
use serde::{Deserialize, Serialize};

use crate::bert::{Bert, BertInput, normalize};
use crate::vit::Vit;
use pela::nn::Project;

/// BERT's masked-language-model head (Hugging Face's `BertOnlyMLMHead`, `cls.predictions`
/// in the authors' keys): `LayerNorm(gelu(dense(x)))`, then the word embeddings
/// (transposed, tied as in BERT) and a bias per vocabulary entry.
///
/// Should be created with [`AlbefConfig::init`](super::AlbefConfig::init).
#[derive(Module, Debug)]
pub struct MlmHead<B: Backend> {
    /// `[hidden_size, hidden_size]` (`transform.dense`).
    pub dense: Linear<B>,
    /// `transform.LayerNorm`.
    pub layer_norm: LayerNorm<B>,
    /// `[vocab_size]`.
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> MlmHead<B> {
    /// The logits over the vocabulary.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, tokens, hidden_size]`
    /// - `word_embeddings`: `[vocab_size, hidden_size]`
    /// - output: `[batch, tokens, vocab_size]`
    pub fn forward(&self, tokens: Tensor<B, 3>, word_embeddings: Tensor<B, 2>) -> Tensor<B, 3> {
        on_rows(tokens, |rows| {
            let hidden = self.layer_norm.forward(gelu(self.dense.project(rows)));
            hidden.matmul(word_embeddings.transpose()) + self.bias.val().unsqueeze()
        })
    }
}

/// Which text token, or tokens, make the ITC feature of a text ([`Albef::text_feature`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TextPooling {
    /// The `[CLS]` token, as ALBEF and BERT's pre-training.
    #[default]
    Cls,
    /// The mean of the tokens that are not padding, as sentence-transformers trained its
    /// models (all-MiniLM-L6-v2 among them): their `[CLS]` token carries no meaning of its
    /// own. In all-MiniLM-L6-v2 it is the same vector for every caption after layer 3 (cosine
    /// 1.0000 between any two), so ITC cannot start from it.
    Mean,
}

/// ALBEF (Li et al., 2021), as the authors' `models/model_pretrain.py` defines its online
/// model: a ViT image encoder, a BERT whose first layers encode the text and whose fusion
/// layers cross-attend to the image, the ITC projections and temperature, the ITM head and
/// the MLM head. `#[derive(LowRank)]`: its twin `AlbefLowRank` is the PELA student, with the
/// `Linear`s of the three encoders as factor pairs; the projections and heads stay dense.
///
/// The momentum copy and the feature queues live apart, in [`AlbefMomentum`](super::AlbefMomentum).
///
/// Should be created with [`AlbefConfig::init`](super::AlbefConfig::init), or loaded with
/// [`AlbefConfig::load_state`](super::AlbefConfig::load_state).
///
/// ```
/// use burn::prelude::*;
/// use pela_zoo::albef::AlbefConfig;
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::bert::{BertConfig, BertInput};
/// use pela_zoo::vit::VitConfig;
///
/// let device = CpuDevice::default();
/// let config = AlbefConfig::new(
///     VitConfig::new(32, 16, 0, 64, 2, 4),
///     BertConfig::new(100, 64, 4, 4, 128, 16).with_cross_attention_from(Some(2)),
/// )
/// .with_embed_dim(16);
/// let albef = config.init::<Cpu>(&device);
/// let images = Tensor::<Cpu, 4>::zeros([2, 3, 32, 32], &device);
/// let text = BertInput {
///     input_ids: Tensor::from_ints([[1, 5, 7, 2], [1, 9, 2, 0]], &device),
///     token_type_ids: Tensor::zeros([2, 4], &device),
///     attention_mask: Tensor::from_floats([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]], &device),
/// };
/// let image = albef.encode_image(images).0; // [2, 5, 64]: class token and 4 patches
/// let mask = text.attention_mask.clone();
/// let text = albef.encode_text(text).0; // [2, 4, 64]
/// assert_eq!(albef.image_feature(image.clone()).dims(), [2, 16]);
/// let fused = albef.fuse(text, mask, image).0;
/// assert_eq!(albef.itm_logits(fused.clone()).dims(), [2, 2]);
/// assert_eq!(albef.mlm_logits(fused).dims(), [2, 4, 100]);
/// ```
#[derive(Module, LowRank, Debug)]
pub struct Albef<B: Backend> {
    /// The image encoder (`visual_encoder`).
    #[low_rank]
    pub visual_encoder: Vit<B>,
    /// The text encoder and the fusion encoder (`text_encoder.bert`).
    #[low_rank]
    pub text_encoder: Bert<B>,
    /// The MLM head (`text_encoder.cls`), in pre-training models.
    pub mlm_head: Option<MlmHead<B>>,
    /// The image features for ITC: `[vision width, embed_dim]`.
    pub vision_proj: Linear<B>,
    /// The text features for ITC: `[text width, embed_dim]`.
    pub text_proj: Linear<B>,
    /// Matched or not, from the fused class token: `[text width, 2]`.
    pub itm_head: Linear<B>,
    /// The ITC temperature, `[1]`; kept in [0.001, 0.5] by the objective.
    pub temp: Param<Tensor<B, 1>>,
    /// The text tokens that make the ITC feature: ALBEF's `[CLS]` by default.
    pub text_pooling: TextPooling,
}

#[pela::twin]
impl<B: Backend> Albef<B> {
    /// The image tokens after the final norm (`image_embeds`), and every block's tokens
    /// before it (the features PELA distils).
    ///
    /// # Shapes
    /// - images: `[batch, channels, image size, image size]`
    /// - output: `[batch, patches + 1, vision width]`
    pub fn encode_image(&self, images: Tensor<B, 4>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        let vit = &self.visual_encoder;
        let mut layers = Vec::with_capacity(vit.blocks.len());
        let tokens = vit.blocks.iter().fold(vit.embed(images), |x, block| {
            let x = block.forward(x);
            layers.push(x.clone());
            x
        });
        (vit.norm.forward(tokens), layers)
    }

    /// The text tokens after the text-only layers (`text_embeds`, ALBEF's `mode='text'`),
    /// and each of those layers' tokens.
    ///
    /// # Shapes
    /// - output: `[batch, tokens, text width]`
    pub fn encode_text(&self, text: BertInput<B>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        self.text_encoder.forward_text(text)
    }

    /// The fusion layers on the text tokens (with their padding `mask`), attending to the
    /// image tokens (ALBEF's `mode='fusion'`): the fused tokens and each fusion layer's.
    ///
    /// # Shapes
    /// - `text`: `[batch, tokens, text width]`, `mask`: `[batch, tokens]`
    /// - `image`: `[batch, image tokens, vision width]`
    /// - output: `[batch, tokens, text width]`
    pub fn fuse(
        &self,
        text: Tensor<B, 3>,
        mask: Tensor<B, 2>,
        image: Tensor<B, 3>,
    ) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        self.text_encoder.forward_fusion(text, mask, image)
    }

    /// The L2-normalised ITC feature of each image: its class token, projected.
    ///
    /// # Shapes
    /// - `image`: `[batch, image tokens, vision width]` → `[batch, embed_dim]`
    pub fn image_feature(&self, image: Tensor<B, 3>) -> Tensor<B, 2> {
        normalize(self.vision_proj.forward(first_token(image)))
    }

    /// The L2-normalised ITC feature of each text: its `[CLS]` token or the mean of its
    /// tokens (as [`TextPooling`] says), projected.
    ///
    /// # Shapes
    /// - `text`: `[batch, tokens, text width]`, `mask`: `[batch, tokens]` (1 for a token, 0
    ///   for padding) → `[batch, embed_dim]`
    pub fn text_feature(&self, text: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let pooled = match self.text_pooling {
            TextPooling::Cls => first_token(text),
            TextPooling::Mean => masked_mean(text, mask),
        };
        normalize(self.text_proj.forward(pooled))
    }

    /// The ITM logits (not matched, matched) of fused tokens, from their `[CLS]` token.
    ///
    /// # Shapes
    /// - `fused`: `[batch, tokens, text width]` → `[batch, 2]`
    pub fn itm_logits(&self, fused: Tensor<B, 3>) -> Tensor<B, 2> {
        self.itm_head.forward(first_token(fused))
    }

    /// The MLM logits of fused tokens.
    ///
    /// # Shapes
    /// - `fused`: `[batch, tokens, text width]` → `[batch, tokens, vocab_size]`
    ///
    /// # Panics
    /// A model without the MLM head (a retrieval checkpoint).
    pub fn mlm_logits(&self, fused: Tensor<B, 3>) -> Tensor<B, 3> {
        let head = self
            .mlm_head
            .as_ref()
            .expect("this ALBEF has no MLM head (a retrieval model); MLM needs a pre-training one");
        head.forward(
            fused,
            self.text_encoder.embeddings.word_embeddings.weight.val(),
        )
    }

    /// The ITC temperature, clamped to [0.001, 0.5] as the authors clamp it before each step.
    pub fn temperature(&self) -> Tensor<B, 1> {
        self.temp.val().clamp(0.001, 0.5)
    }
}

/// The mean of each sequence's tokens where `mask` is 1: `[batch, tokens, d]` with
/// `[batch, tokens]` → `[batch, d]`.
fn masked_mean<B: Backend>(tokens: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
    let [batch, _, d] = tokens.dims();
    let counts = mask.clone().sum_dim(1).clamp_min(1.0); // [batch, 1]
    let sums = (tokens * mask.unsqueeze_dim::<3>(2))
        .sum_dim(1)
        .reshape([batch, d]);
    sums / counts
}

/// The first token of each sequence: `[batch, tokens, d]` → `[batch, d]`.
pub(crate) fn first_token<B: Backend>(tokens: Tensor<B, 3>) -> Tensor<B, 2> {
    let [batch, _, d] = tokens.dims();
    tokens.narrow(1, 0, 1).reshape([batch, d])
}
