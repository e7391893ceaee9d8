//! Image–caption pairs as the engine's training data.

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;
use rand::rngs::StdRng;

use super::AlbefInput;
use crate::bert::BertInput;
use crate::train::TrainingSet;

/// One image and its caption, tokenised.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptionItem {
    /// `[channels, height, width]` values, already normalised.
    pub image: Vec<f32>,
    /// The caption's token ids, `[CLS]` first.
    pub input_ids: Vec<i64>,
}

/// Image–caption pairs as a training set of the engine.
#[derive(Debug, Clone)]
pub struct Captions {
    name: String,
    items: Vec<CaptionItem>,
}

impl Captions {
    /// The pairs `items`, called `name` in logs.
    pub fn new(name: impl Into<String>, items: Vec<CaptionItem>) -> Self {
        Self {
            name: name.into(),
            items,
        }
    }
}

impl TrainingSet<CaptionItem> for Captions {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn item(
        &self,
        index: usize,
        _augment: Option<&mut StdRng>,
    ) -> Result<CaptionItem, crate::ZooError> {
        Ok(self.items[index].clone())
    }

    fn describe(&self) -> String {
        format!("{}: {} image–caption pairs", self.name, self.items.len())
    }
}

/// Stacks [`CaptionItem`]s into an [`AlbefInput`], padding the captions to the longest with
/// id 0.
#[derive(Debug, Clone)]
pub struct CaptionBatcher {
    shape: [usize; 3],
}

impl CaptionBatcher {
    /// Batches images of `[channels, height, width]`.
    pub fn new(shape: [usize; 3]) -> Self {
        Self { shape }
    }
}

impl<B: Backend> Batcher<B, CaptionItem, AlbefInput<B>> for CaptionBatcher {
    fn batch(&self, items: Vec<CaptionItem>, device: &B::Device) -> AlbefInput<B> {
        let [c, h, w] = self.shape;
        let n = items.len();
        let longest = items.iter().map(|i| i.input_ids.len()).max().unwrap_or(1);
        let mut pixels = Vec::with_capacity(n * c * h * w);
        let (mut ids, mut mask) = (Vec::new(), Vec::new());
        for item in items {
            assert_eq!(item.image.len(), c * h * w, "an image of another size");
            pixels.extend(item.image);
            let real = item.input_ids.len();
            ids.extend(item.input_ids);
            ids.extend(std::iter::repeat_n(0, longest - real));
            mask.extend((0..longest).map(|t| if t < real { 1.0f32 } else { 0.0 }));
        }
        let input_ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [n, longest]), device);
        AlbefInput {
            images: Tensor::from_data(TensorData::new(pixels, [n, c, h, w]), device),
            text: BertInput {
                token_type_ids: input_ids.zeros_like(),
                input_ids,
                attention_mask: Tensor::from_data(TensorData::new(mask, [n, longest]), device),
            },
        }
    }
}
