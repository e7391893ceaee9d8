//! Image folders in the ImageNet layout: one sub-folder a class.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};
use rand::Rng;
use rand::rngs::StdRng;

use super::{ImageDataset, ImageItem, Normalization};
use crate::ZooError;

/// File extensions read as images.
const EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "JPEG", "PNG"];

/// A folder with one sub-folder of images per class (`root/<class>/<image>.jpg`), as
/// ImageNet's `train/` and `val/` are laid out; classes are the sub-folders in sorted order.
///
/// Images are decoded when read, as RGB at `image_size`×`image_size`: for evaluation, resized
/// so the shorter side is `image_size / 0.875` and centre-cropped (DeiT's evaluation); for
/// training, a random crop of 35–100 % of the area with an aspect ratio in [3/4, 4/3],
/// resized, and flipped horizontally half the time (timm's `RandomResizedCrop`, without
/// RandAugment or mixup). Normalised with ImageNet's mean and deviation.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    root: PathBuf,
    items: Vec<(PathBuf, usize)>,
    classes: Vec<String>,
    image_size: usize,
}

impl ImageFolder {
    /// Lists the images under `root`.
    ///
    /// # Errors
    /// [`ZooError::Io`] when `root` cannot be read; [`ZooError::InvalidData`] when it has no
    /// class sub-folder or no image.
    ///
    /// ```no_run
    /// use pela_zoo::data::{ImageDataset, ImageFolder};
    ///
    /// let val = ImageFolder::new("imagenet/val", 224)?;
    /// println!("{}", val.describe());
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn new(root: impl AsRef<Path>, image_size: usize) -> Result<Self, ZooError> {
        let root = root.as_ref().to_path_buf();
        let io = |path: &Path, e: std::io::Error| ZooError::io(path, e);
        let mut class_dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .map_err(|e| io(&root, e))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_dir())
            .collect();
        class_dirs.sort();
        let invalid = |reason: String| ZooError::InvalidData {
            source_name: root.display().to_string(),
            reason,
        };
        if class_dirs.is_empty() {
            return Err(invalid(
                "no class sub-folder; lay the images out as `<folder>/<class>/<image>.jpg`".into(),
            ));
        }
        let mut items = Vec::new();
        let mut classes = Vec::new();
        for (label, dir) in class_dirs.iter().enumerate() {
            classes.push(dir.file_name().unwrap_or_default().to_string_lossy().into());
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| io(dir, e))?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    path.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| EXTENSIONS.contains(&e))
                })
                .collect();
            files.sort();
            items.extend(files.into_iter().map(|file| (file, label)));
        }
        if items.is_empty() {
            return Err(invalid(format!(
                "its {} class folders hold no .jpg, .jpeg or .png image",
                classes.len()
            )));
        }
        Ok(Self {
            root,
            items,
            classes,
            image_size,
        })
    }

    fn decode(&self, path: &Path) -> Result<RgbImage, ZooError> {
        image::open(path)
            .map(DynamicImage::into_rgb8)
            .map_err(|e| ZooError::File {
                path: path.display().to_string(),
                reason: format!("cannot decode the image: {e}"),
            })
    }
}

impl ImageDataset for ImageFolder {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn shape(&self) -> [usize; 3] {
        [3, self.image_size, self.image_size]
    }

    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn get(&self, index: usize, augment: Option<&mut StdRng>) -> Result<ImageItem, ZooError> {
        let (path, label) = &self.items[index];
        let image = self.decode(path)?;
        let size = self.image_size as u32;
        let (width, height) = image.dimensions();
        let image = match augment {
            Some(rng) => random_resized_crop(&image, size, 0.35, FilterType::Triangle, rng),
            None => {
                let short = (f64::from(size) / 0.875).round();
                let scale = short / f64::from(width.min(height));
                let (w, h) = (
                    ((f64::from(width) * scale).round() as u32).max(size),
                    ((f64::from(height) * scale).round() as u32).max(size),
                );
                let resized = image::imageops::resize(&image, w, h, FilterType::Triangle);
                image::imageops::crop_imm(&resized, (w - size) / 2, (h - size) / 2, size, size)
                    .to_image()
            }
        };
        let plane = (size * size) as usize;
        let mut pixels = vec![0.0f32; 3 * plane];
        for (i, pixel) in image.pixels().enumerate() {
            for c in 0..3 {
                pixels[c * plane + i] = f32::from(pixel[c]) / 255.0;
            }
        }
        Ok(ImageItem {
            pixels,
            label: *label,
        })
    }

    fn normalization(&self) -> Normalization {
        Normalization::imagenet()
    }

    fn describe(&self) -> String {
        format!(
            "{}: {} images, {} classes, at {}×{}",
            self.root.display(),
            self.items.len(),
            self.classes.len(),
            self.image_size,
            self.image_size
        )
    }
}

/// timm's (and torchvision's) `RandomResizedCrop` and a horizontal flip: a crop of
/// `min_area`–100 % of the area with an aspect ratio in 3/4–4/3, resized to `size` × `size`
/// with `filter`, flipped with probability ½.
pub(crate) fn random_resized_crop(
    image: &RgbImage,
    size: u32,
    min_area: f64,
    filter: FilterType,
    rng: &mut StdRng,
) -> RgbImage {
    let (width, height) = image.dimensions();
    let area = f64::from(width * height) * rng.random_range(min_area..=1.0);
    let aspect = rng.random_range((0.75f64).ln()..=(4.0f64 / 3.0).ln()).exp();
    let crop_w = ((area * aspect).sqrt().round() as u32).clamp(1, width);
    let crop_h = ((area / aspect).sqrt().round() as u32).clamp(1, height);
    let x = rng.random_range(0..=width - crop_w);
    let y = rng.random_range(0..=height - crop_h);
    let crop = image::imageops::crop_imm(image, x, y, crop_w, crop_h).to_image();
    let resized = image::imageops::resize(&crop, size, size, filter);
    if rng.random_bool(0.5) {
        image::imageops::flip_horizontal(&resized)
    } else {
        resized
    }
}
