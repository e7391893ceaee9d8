//! Ready PELA models of [pela-rs](https://github.com/pela-rs/pela-rs): DeiT, DeiT-III and Swin
//! (with their reference checkpoints), BERT, image and text data, the training engine (on Burn's
//! `Learner`: distillation and fine-tuning), the `pela` command ([`cli`], on the zoo's table of
//! families or on yours), and the backends they run on.
//!
//! Every model is defined with `#[derive(LowRank)]`, as a user's model would be, so its
//! low-rank student, the SVD conversion and the per-layer features come from `pela`.
//!
//! ```
//! use burn::prelude::*;
//! use pela::LowRank;
//! use pela_zoo::backend::{Cpu, CpuDevice};
//! use pela_zoo::vit::VitConfig;
//!
//! let device = CpuDevice::default();
//! let config = VitConfig::new(32, 8, 10, 64, 2, 4); // a small ViT
//! let teacher = config.init::<Cpu>(&device);
//! let (student, report) = teacher.to_low_rank_with_report(&config.pela_plan())?;
//! println!("{report}");
//! let logits = student.forward(Tensor::zeros([1, 3, 32, 32], &device));
//! assert_eq!(logits.dims(), [1, 10]);
//! # Ok::<(), pela_zoo::ZooError>(())
//! ```
//!
//! The feature `global-allocator` (on by default) makes mimalloc, keeping the memory it frees,
//! the global allocator of the program ([`allocator`]): Burn's CPU backends run faster on it.
//! Turn it off (`default-features = false`) to bring an allocator of your own.
#![warn(missing_docs)]

pub mod albef;
#[cfg(feature = "mimalloc")]
pub mod allocator;
pub mod assets;
pub mod backend;
pub mod bert;
pub mod checkpoint;
#[cfg(feature = "cli")]
pub mod cli;
pub mod data;
mod error;
pub mod family;
mod fs;
pub mod probe;
pub mod swin;
pub mod text;
pub mod train;
pub mod vit;

pub use error::ZooError;
pub use family::{Architecture, Family, ImageFamily, Zoo};

/// What the code [`families!`] generates names. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use burn::prelude::Backend;
    pub use pela::{CompressionReport, RankPlan};
}
