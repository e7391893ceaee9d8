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
        if size == 0 {
            return Err(invalid(format!("images of {shape:?} hold no pixels")));
        }
        if labels.len().checked_mul(size) != Some(pixels.len()) {
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

    /// Every image resized to `size` × `size` pixels (bilinear, the `image` crate's `Triangle`
    /// filter) and given `channels` channels by repeating a grey one: small grey sets for a
    /// model pre-trained on larger colour images (DINOv2 on 28-pixel digits). The augmentation's
    /// padding scales with the image; the normalisation is measured again (set the model's own
    /// with [`with_normalization`](Self::with_normalization)).
    ///
    /// # Errors
    /// [`ZooError::InvalidData`] when the set has several channels, not `channels` of them.
    ///
    /// ```
    /// use pela_zoo::data::{ImageDataset, digits};
    ///
    /// let (_, test) = digits();
    /// let big = test.resized(28, 3)?;
    /// assert_eq!(big.shape(), [3, 28, 28]);
    /// assert_eq!(big.get(0, None)?.pixels.len(), 3 * 28 * 28);
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn resized(self, size: usize, channels: usize) -> Result<Self, ZooError> {
        use image::imageops::{FilterType, resize};
        let [source_channels, height, width] = self.shape;
        if source_channels != 1 && source_channels != channels {
            return Err(ZooError::InvalidData {
                source_name: self.name,
                reason: format!(
                    "{source_channels} channels cannot become {channels}: only a grey image's \
                     channel is repeated"
                ),
            });
        }
        let (plane, side) = (height * width, size as u32);
        let mut pixels = Vec::with_capacity(self.labels.len() * channels * size * size);
        for image in self.pixels.chunks(source_channels * plane) {
            let planes: Vec<Vec<u8>> = image
                .chunks(plane)
                .map(|p| {
                    let grey = image::GrayImage::from_raw(width as u32, height as u32, p.to_vec())
                        .expect("a plane of height × width bytes");
                    resize(&grey, side, side, FilterType::Triangle).into_raw()
                })
                .collect();
            for c in 0..channels {
                pixels.extend_from_slice(&planes[c % planes.len()]);
            }
        }
        let shape = [channels, size, size];
        Ok(Self {
            normalization: Normalization::measure(&pixels, shape, self.scale),
            pad: self.pad * size / height.max(1),
            pixels,
            shape,
            ..self
        })
    }

    /// Keeps the first `n` images (for quick runs).
    pub fn truncated(self, n: usize) -> Self {
        let n = n.max(1);
        self.sliced(0..n)
    }

    /// Keeps the images of `range` (clamped to the set; at least one image is kept): disjoint
    /// ranges of one file make disjoint sets.
    ///
    /// ```
    /// use pela_zoo::data::{ImageDataset, digits};
    ///
    /// let (_, test) = digits();
    /// let part = test.clone().sliced(100..150);
    /// assert_eq!(part.len(), 50);
    /// assert_eq!(part.get(0, None)?, test.get(100, None)?);
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn sliced(mut self, range: core::ops::Range<usize>) -> Self {
        let len = self.labels.len();
        let end = range.end.clamp(1, len);
        let start = range.start.min(end - 1);
        let size = self.shape.iter().product::<usize>();
        self.labels = self.labels[start..end].to_vec();
        self.pixels = self.pixels[start * size..end * size].to_vec();
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
