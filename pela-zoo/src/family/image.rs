//! What image classifiers have beyond a [`Family`]: an input shape and a head that can be
//! replaced.

use burn::nn::{Initializer, LinearConfig};
use burn::prelude::*;
use pela::StudentLinear;

use super::Family;

/// What an image classifier takes and gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// The side of the square input image, in pixels.
    pub size: usize,
    /// The channels of the input image.
    pub channels: usize,
    /// The number of classes of the head (0 for a backbone).
    pub classes: usize,
}

/// A family of image classifiers (ViT, Swin): images `[batch, channels, size, size]` in, one
/// logit a class out. The `pela` command distils them on labelled images, evaluates their
/// accuracy and fine-tunes them with a new head.
///
/// ```
/// use pela_zoo::family::ImageFamily;
/// use pela_zoo::swin::SwinConfig;
///
/// let swin = SwinConfig::swin_tiny_patch4_window7_224();
/// let shape = swin.image_shape();
/// assert_eq!((shape.size, shape.channels, shape.classes), (224, 3, 1000));
/// assert_eq!(swin.with_num_classes(10).image_shape().classes, 10);
/// ```
pub trait ImageFamily: Family {
    /// The input and output of the classifier.
    fn image_shape(&self) -> ImageShape;

    /// The config with a head of `classes` classes.
    fn with_num_classes(self, classes: usize) -> Self;

    /// `student` with a new, randomly initialised dense head for `classes` classes: the start
    /// of fine-tuning on a downstream set (the config: [`with_num_classes`](Self::with_num_classes)).
    fn with_new_head<B: Backend>(
        student: Self::Student<B>,
        classes: usize,
        device: &B::Device,
    ) -> Self::Student<B>;
}

/// A new dense head from `width` features to `classes` logits, initialised as timm does
/// (normal, σ = 0.02): what [`ImageFamily::with_new_head`] puts on a student.
pub fn new_head<B: Backend>(width: usize, classes: usize, device: &B::Device) -> StudentLinear<B> {
    StudentLinear::Dense(
        LinearConfig::new(width, classes)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            })
            .init(device),
    )
}
