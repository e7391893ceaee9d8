//! Items to tensors: normalisation and batching.

use burn::prelude::*;

use super::ImageItem;

/// A per-channel normalisation, `(x − mean) / std`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    /// Per-channel mean.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation.
    pub std: Vec<f32>,
}

impl Normalization {
    /// ImageNet's, which timm's DeiT checkpoints expect.
    pub fn imagenet() -> Self {
        Self {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// Measured on images of bytes of `shape` `[channels, height, width]`, each byte scaled
    /// by `scale`.
    pub fn measure(pixels: &[u8], shape: [usize; 3], scale: f32) -> Self {
        let [channels, height, width] = shape;
        let plane = (height * width).max(1);
        let (mut mean, mut std) = (Vec::new(), Vec::new());
        for c in 0..channels {
            let (mut n, mut sum, mut sum_sq) = (0.0f64, 0.0f64, 0.0f64);
            for image in pixels.chunks(channels * plane) {
                for &b in &image[c * plane..(c + 1) * plane] {
                    let v = f64::from(b) * f64::from(scale);
                    n += 1.0;
                    sum += v;
                    sum_sq += v * v;
                }
            }
            let m = sum / n.max(1.0);
            mean.push(m as f32);
            std.push((sum_sq / n.max(1.0) - m * m).max(1e-12).sqrt() as f32);
        }
        Self { mean, std }
    }
}

/// A batch of images and their labels.
#[derive(Debug, Clone)]
pub struct ImageBatch<B: Backend> {
    /// `[batch, channels, height, width]`, normalised.
    pub images: Tensor<B, 4>,
    /// `[batch]`.
    pub labels: Tensor<B, 1, Int>,
}

impl<B: Backend> ImageBatch<B> {
    /// Stacks `items` of shape `[channels, height, width]` and normalises them.
    ///
    /// ```
    /// use pela_zoo::backend::Cpu;
    /// use pela_zoo::data::{ImageBatch, ImageItem, Normalization};
    ///
    /// let items = vec![ImageItem { pixels: vec![1.0; 4], label: 3 }; 2];
    /// let norm = Normalization { mean: vec![0.5], std: vec![0.25] };
    /// let batch = ImageBatch::<Cpu>::new(&items, [1, 2, 2], &norm, &Default::default());
    /// assert_eq!(batch.images.dims(), [2, 1, 2, 2]);
    /// assert_eq!(batch.images.sum().into_scalar(), 16.0); // (1 − 0.5) / 0.25 = 2 each
    /// ```
    pub fn new(
        items: &[ImageItem],
        shape: [usize; 3],
        normalization: &Normalization,
        device: &B::Device,
    ) -> Self {
        let [channels, height, width] = shape;
        let plane = height * width;
        let mut pixels = Vec::with_capacity(items.len() * channels * plane);
        for item in items {
            for (c, values) in item.pixels.chunks(plane).enumerate() {
                let (mean, std) = (normalization.mean[c], normalization.std[c]);
                pixels.extend(values.iter().map(|v| (v - mean) / std));
            }
        }
        let labels: Vec<i64> = items.iter().map(|item| item.label as i64).collect();
        Self {
            images: Tensor::from_data(
                TensorData::new(pixels, [items.len(), channels, height, width]),
                device,
            ),
            labels: Tensor::from_data(TensorData::new(labels, [items.len()]), device),
        }
    }
}

/// Burn's [`Batcher`](burn::data::dataloader::batcher::Batcher) of images: stacks and
/// normalises items of one shape, on the device the data loader asks for (in its worker
/// threads).
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use pela_zoo::backend::Cpu;
/// use pela_zoo::data::{ImageBatch, ImageBatcher, ImageDataset, digits};
///
/// let (train, _) = digits();
/// let batcher = ImageBatcher::new(&train);
/// let items = vec![train.get(0, None)?, train.get(1, None)?];
/// let batch: ImageBatch<Cpu> = batcher.batch(items, &Default::default());
/// assert_eq!(batch.images.dims(), [2, 1, 8, 8]);
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ImageBatcher {
    shape: [usize; 3],
    normalization: Normalization,
}

impl ImageBatcher {
    /// Batches images of `data`'s shape with its normalisation.
    pub fn new(data: &dyn super::ImageDataset) -> Self {
        Self {
            shape: data.shape(),
            normalization: data.normalization(),
        }
    }
}

impl<B: Backend> burn::data::dataloader::batcher::Batcher<B, ImageItem, ImageBatch<B>>
    for ImageBatcher
{
    fn batch(&self, items: Vec<ImageItem>, device: &B::Device) -> ImageBatch<B> {
        ImageBatch::new(&items, self.shape, &self.normalization, device)
    }
}
