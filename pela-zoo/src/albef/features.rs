//! An image–text pair as ALBEF's input, and the hidden states PELA distils.

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use pela::{LayerFeatures, ToInner};

use super::{Albef, AlbefLowRank};
use crate::bert::BertInput;

/// A batch of image–text pairs.
#[derive(Debug, Clone)]
pub struct AlbefInput<B: Backend> {
    /// `[batch, channels, image size, image size]`, normalised.
    pub images: Tensor<B, 4>,
    /// The captions, tokenised and padded.
    pub text: BertInput<B>,
}

impl<B: AutodiffBackend> ToInner<B> for AlbefInput<B> {
    type Inner = AlbefInput<B::InnerBackend>;

    fn to_inner(&self) -> Self::Inner {
        AlbefInput {
            images: self.images.to_inner(),
            text: self.text.to_inner(),
        }
    }
}

/// What the three encoders make of a batch of pairs.
#[derive(Debug, Clone)]
pub struct AlbefEncoded<B: Backend> {
    /// The image tokens after the final norm, `[batch, image tokens, vision width]`.
    pub image: Tensor<B, 3>,
    /// The text tokens after the text layers, `[batch, tokens, text width]`.
    pub text: Tensor<B, 3>,
    /// The text tokens after the fusion layers, each text attending to its own image.
    pub fused: Tensor<B, 3>,
    /// The text's padding mask, `[batch, tokens]`.
    pub mask: Tensor<B, 2>,
}

#[pela::twin]
impl<B: Backend> LayerFeatures<B> for Albef<B> {
    type Input = AlbefInput<B>;
    type Output = AlbefEncoded<B>;

    /// The encoded pairs, and the features the authors distil: every ViT block's tokens,
    /// then every text layer's and every fusion layer's (padding set to 0).
    fn forward_features(&self, input: AlbefInput<B>) -> (AlbefEncoded<B>, Vec<Tensor<B, 3>>) {
        let mask = input.text.attention_mask.clone();
        let keep = mask.clone().unsqueeze_dim::<3>(2);
        let (image, mut features) = self.encode_image(input.images);
        let (text, text_layers) = self.encode_text(input.text);
        let (fused, fusion_layers) = self.fuse(text.clone(), mask.clone(), image.clone());
        features.extend(
            text_layers
                .into_iter()
                .chain(fusion_layers)
                .map(|x| x * keep.clone()),
        );
        let encoded = AlbefEncoded {
            image,
            text,
            fused,
            mask,
        };
        (encoded, features)
    }
}
