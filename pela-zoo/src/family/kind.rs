//! The kinds of task a family is distilled and evaluated on, and commands written once for
//! the families of a kind.
//!
//! A command whose work differs by kind (the data it reads, what it measures) implements
//! [`VisitKind`] for each kind, generic over the families of that kind, and runs through
//! [`Architecture::visit_kind`](super::Architecture::visit_kind): the table of families sends
//! each family to its kind's implementation.
//!
//! ```
//! use pela_zoo::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
//! use pela_zoo::family::{Architecture, Family, ImageFamily, VisitKind, Zoo};
//!
//! /// What `pela` would distil a family on.
//! struct DataOf;
//! impl<F: ImageFamily> VisitKind<DataOf, F> for ImageClassification {
//!     type Output = String;
//!     fn visit(_: DataOf, config: F) -> String {
//!         format!("{}×{} images", config.image_shape().size, config.image_shape().size)
//!     }
//! }
//! impl<F: Family> VisitKind<DataOf, F> for TextEmbedding {
//!     type Output = String;
//!     fn visit(_: DataOf, _: F) -> String {
//!         "texts".to_string()
//!     }
//! }
//! impl<F: Family> VisitKind<DataOf, F> for ImageTextRetrieval {
//!     type Output = String;
//!     fn visit(_: DataOf, _: F) -> String {
//!         "image–caption pairs".to_string()
//!     }
//! }
//!
//! let deit = Architecture::preset("deit_base_patch16_224")?;
//! assert_eq!(deit.visit_kind(DataOf), "224×224 images");
//! assert_eq!(Architecture::preset("all-MiniLM-L6-v2")?.visit_kind(DataOf), "texts");
//! # Ok::<(), pela_zoo::ZooError>(())
//! ```

use super::{Family, ImageFamily, ImageShape};

/// Image classifiers ([`ImageFamily`]): distilled and fine-tuned on labelled images, evaluated
/// by accuracy. ViT, Swin.
#[derive(Debug, Clone, Copy)]
pub struct ImageClassification;

/// Text encoders: distilled on unlabelled texts, evaluated by the correlation of embedding
/// similarities with scored pairs. BERT.
#[derive(Debug, Clone, Copy)]
pub struct TextEmbedding;

/// Image–text models: distilled on image–caption annotations with their own objectives,
/// evaluated by retrieval. ALBEF.
#[derive(Debug, Clone, Copy)]
pub struct ImageTextRetrieval;

/// The arm of a command `V` for a family `F` of the kind `Self`.
///
/// The visitor comes first among the parameters, so that a crate that defines a command can
/// implement it for the zoo's kinds (Rust's orphan rule).
pub trait VisitKind<V, F: Family> {
    /// What the command gives.
    type Output;
    /// Runs the command on `config`.
    fn visit(visitor: V, config: F) -> Self::Output;
}

/// The image shape of a family: [`Architecture::image_shape`](super::Architecture::image_shape).
pub(crate) struct ShapeOf;

impl<F: ImageFamily> VisitKind<ShapeOf, F> for ImageClassification {
    type Output = Option<ImageShape>;
    fn visit(_: ShapeOf, config: F) -> Option<ImageShape> {
        Some(config.image_shape())
    }
}

impl<F: Family> VisitKind<ShapeOf, F> for TextEmbedding {
    type Output = Option<ImageShape>;
    fn visit(_: ShapeOf, _: F) -> Option<ImageShape> {
        None
    }
}

impl<F: Family> VisitKind<ShapeOf, F> for ImageTextRetrieval {
    type Output = Option<ImageShape>;
    fn visit(_: ShapeOf, _: F) -> Option<ImageShape> {
        None
    }
}
