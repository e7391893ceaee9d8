//! Small image sets held in memory as bytes.

use rand::Rng;
use rand::rngs::StdRng;

use super::{ImageDataset, ImageItem, Normalization};
use crate::ZooError;

/// Images held in memory as one byte per pixel (the digits, MNIST, Fashion-MNIST).
///
/// The training augmentation is a random crop from the image padded by `pad` pixels of
/// background on each side (the standard one for these sets), and a horizontal flip when
/// `flip` is set (right for clothes, wrong for digits).
#[derive(Debug, Clone)]
pub struct InMemoryImages {
    name: String,
    pixels: Vec<u8>,
    labels: Vec<usize>,
    shape: [usize; 3],
    scale: f32,
    classes: Vec<String>,
    pad: usize,
    flip: bool,
    normalization: Normalization,
}

impl InMemoryImages {
    /// A set of `labels.len()` images of `shape`; a pixel's value is `byte · scale`, in
    /// `[0, 1]`. The normalisation is measured on these pixels.
    ///
    /// # Errors
    /// [`ZooError::InvalidData`] when the sizes disagree, a label is not below
    /// `classes.len()`, or there are no images.
    pub fn new(
        name: impl Into<String>,
        pixels: Vec<u8>,
        labels: Vec<usize>,
        shape: [usize; 3],
        scale: f32,
        classes: Vec<String>,
    ) -> Result<Self, ZooError> {
        let name = name.into();
        let invalid = |reason: String| ZooError::InvalidData {
            source_name: name.clone(),
            reason,
        };
        let size: usize = shape.iter().product();
        if labels.is_empty() {
            return Err(invalid("it holds no images".into()));
        }
        if pixels.len() != labels.len() * size {
            return Err(invalid(format!(
                "{} pixel bytes for {} images of {shape:?}",
                pixels.len(),
                labels.len()
            )));
        }
        if let Some(label) = labels.iter().find(|&&label| label >= classes.len()) {
            return Err(invalid(format!(
                "label {label} for {} classes",
                classes.len()
            )));
        }
        let normalization = Normalization::measure(&pixels, shape, scale);
        Ok(Self {
            name,
            pixels,
            labels,
            shape,
            scale,
            classes,
            pad: 0,
            flip: false,
            normalization,
        })
    }

    /// Sets the training augmentation: random crops of the image padded by `pad` pixels, and
    /// horizontal flips when `flip`.
    pub fn with_augmentation(mut self, pad: usize, flip: bool) -> Self {
        self.pad = pad;
        self.flip = flip;
        self
    }

    /// Uses `normalization` instead of the one measured on this set (a test set takes its
    /// training set's).
    pub fn with_normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = normalization;
        self
    }

    /// Keeps the first `n` images (for quick runs).
    pub fn truncated(mut self, n: usize) -> Self {
        let n = n.min(self.labels.len()).max(1);
        self.labels.truncate(n);
        self.pixels
            .truncate(n * self.shape.iter().product::<usize>());
        self
    }
}

impl ImageDataset for InMemoryImages {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn shape(&self) -> [usize; 3] {
        self.shape
    }

    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn get(&self, index: usize, augment: Option<&mut StdRng>) -> Result<ImageItem, ZooError> {
        let [channels, height, width] = self.shape;
        let size = channels * height * width;
        let bytes = &self.pixels[index * size..(index + 1) * size];
        let mut pixels: Vec<f32> = bytes.iter().map(|&b| f32::from(b) * self.scale).collect();
        if let Some(rng) = augment {
            let pad = self.pad as i64;
            let (dy, dx) = if pad > 0 {
                (rng.random_range(-pad..=pad), rng.random_range(-pad..=pad))
            } else {
                (0, 0)
            };
            let flip = self.flip && rng.random_bool(0.5);
            let source = pixels.clone();
            for c in 0..channels {
                for y in 0..height {
                    for x in 0..width {
                        let sy = y as i64 + dy;
                        let sx = if flip { width - 1 - x } else { x } as i64 + dx;
                        let inside =
                            (0..height as i64).contains(&sy) && (0..width as i64).contains(&sx);
                        pixels[(c * height + y) * width + x] = if inside {
                            source[(c * height + sy as usize) * width + sx as usize]
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
        Ok(ImageItem {
            pixels,
            label: self.labels[index],
        })
    }

    fn normalization(&self) -> Normalization {
        self.normalization.clone()
    }

    fn describe(&self) -> String {
        let [c, h, w] = self.shape;
        format!(
            "{}: {} images of {c}×{h}×{w}, {} classes",
            self.name,
            self.len(),
            self.classes.len()
        )
    }
}
