//! What the dense ALBEF and its PELA student share: the encoders and heads that ALBEF's
//! objectives and retrieval evaluation call.

use burn::module::ModuleDisplay;
use burn::prelude::*;
use pela::LayerFeatures;

use super::{Albef, AlbefEncoded, AlbefInput, AlbefLowRank};
use crate::bert::BertInput;

/// An ALBEF model, dense ([`Albef`]) or low-rank (its twin [`AlbefLowRank`]): the methods
/// ALBEF's pre-training objectives ([`AlbefPretrainTask`](super::AlbefPretrainTask),
/// [`AlbefDistillTask`](super::AlbefDistillTask)) and the retrieval evaluation
/// ([`retrieval_scores`](super::retrieval_scores)) are written against, so that each is
/// written once for both.
///
/// Each method is the inherent method of the same name on [`Albef`]; see there.
///
/// ```
/// use burn::prelude::*;
/// use pela_zoo::albef::{AlbefConfig, AlbefModel};
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::bert::BertConfig;
/// use pela_zoo::vit::VitConfig;
///
/// fn feature_width<B: Backend, M: AlbefModel<B>>(model: &M, images: Tensor<B, 4>) -> usize {
///     let tokens = model.encode_image(images).0;
///     model.image_feature(tokens).dims()[1]
/// }
///
/// let device = CpuDevice::default();
/// let config = AlbefConfig::new(
///     VitConfig::new(32, 16, 0, 64, 2, 4),
///     BertConfig::new(100, 64, 4, 4, 128, 16).with_cross_attention_from(Some(2)),
/// );
/// let albef = config.init::<Cpu>(&device);
/// assert_eq!(feature_width(&albef, Tensor::zeros([1, 3, 32, 32], &device)), 256);
/// ```
pub trait AlbefModel<B: Backend>:
    Module<B> + ModuleDisplay + LayerFeatures<B, Input = AlbefInput<B>, Output = AlbefEncoded<B>>
{
    /// The image tokens after the final norm, and every block's tokens.
    fn encode_image(&self, images: Tensor<B, 4>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>);
    /// The text tokens after the text-only layers, and each layer's.
    fn encode_text(&self, text: BertInput<B>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>);
    /// The fusion layers on text tokens attending to image tokens.
    fn fuse(
        &self,
        text: Tensor<B, 3>,
        mask: Tensor<B, 2>,
        image: Tensor<B, 3>,
    ) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>);
    /// The L2-normalised ITC feature of each image.
    fn image_feature(&self, image: Tensor<B, 3>) -> Tensor<B, 2>;
    /// The L2-normalised ITC feature of each text (`mask`: 1 for a token, 0 for padding).
    fn text_feature(&self, text: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 2>;
    /// The ITM logits (not matched, matched).
    fn itm_logits(&self, fused: Tensor<B, 3>) -> Tensor<B, 2>;
    /// The MLM logits over the vocabulary.
    fn mlm_logits(&self, fused: Tensor<B, 3>) -> Tensor<B, 3>;
    /// The ITC temperature, clamped.
    fn temperature(&self) -> Tensor<B, 1>;
    /// Whether the model has the MLM head (a retrieval model has none).
    fn has_mlm_head(&self) -> bool;
}

/// Implements [`AlbefModel`] for a type whose inherent methods have its names.
macro_rules! albef_model {
    ($model:ident) => {
        impl<B: Backend> AlbefModel<B> for $model<B> {
            fn encode_image(&self, images: Tensor<B, 4>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
                $model::encode_image(self, images)
            }
            fn encode_text(&self, text: BertInput<B>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
                $model::encode_text(self, text)
            }
            fn fuse(
                &self,
                text: Tensor<B, 3>,
                mask: Tensor<B, 2>,
                image: Tensor<B, 3>,
            ) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
                $model::fuse(self, text, mask, image)
            }
            fn image_feature(&self, image: Tensor<B, 3>) -> Tensor<B, 2> {
                $model::image_feature(self, image)
            }
            fn text_feature(&self, text: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
                $model::text_feature(self, text, mask)
            }
            fn itm_logits(&self, fused: Tensor<B, 3>) -> Tensor<B, 2> {
                $model::itm_logits(self, fused)
            }
            fn mlm_logits(&self, fused: Tensor<B, 3>) -> Tensor<B, 3> {
                $model::mlm_logits(self, fused)
            }
            fn temperature(&self) -> Tensor<B, 1> {
                $model::temperature(self)
            }
            fn has_mlm_head(&self) -> bool {
                self.mlm_head.is_some()
            }
        }
    };
}

albef_model!(Albef);
albef_model!(AlbefLowRank);
