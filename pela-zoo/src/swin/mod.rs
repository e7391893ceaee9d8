//! Swin Transformers: Swin-T, Swin-S and Swin-B as timm defines them, with the authors' PELA
//! preset.
//!
//! - [`SwinConfig`]: the architecture, with timm's presets
//!   ([`SwinConfig::swin_base_patch4_window7_224`], …) and the authors' PELA plan
//!   ([`SwinConfig::pela_plan`]: κ = 1.5, `attn.proj` dense).
//! - [`Swin`]: the model, `#[derive(LowRank)]` like any user model; its twin `SwinLowRank` is
//!   the student. Both implement [`pela::LayerFeatures`]: the logits and every block's tokens
//!   (the paper), or only the pooled feature (the authors' released code), as
//!   [`SwinFeatures`] says.
//! - Checkpoints: [`SwinConfig::load_checkpoint`] reads timm safetensors and `.pth` files and
//!   Microsoft's original release files (see [`import`]); [`Family::save_student`](crate::Family::save_student)
//!   and [`Family::save_dense`](crate::Family::save_dense) write students in the authors' layout or as dense timm files.
//! - [`SwinConfig::flops`]: the FLOPs of a teacher or student, as the paper counts them.
//!
//! Window attention runs over all windows of all images at once, and the shift is a roll of
//! the token grid, as in timm.
//!
//! ```
//! use pela::LowRank;
//! use pela_zoo::backend::{Cpu, CpuDevice};
//! use pela_zoo::swin::SwinConfig;
//!
//! let config = SwinConfig::swin_base_patch4_window7_224();
//! let teacher = config.init::<Cpu>(&CpuDevice::default());
//! let report = teacher.preview(&config.pela_plan())?; // ranks and sizes, no SVD
//! assert_eq!(report.totals().params_before, 87_768_224);
//! assert_eq!(report.totals().params_after / 10_000, 6_216); // 62.16M: the paper's 62.2M
//! # Ok::<(), pela::PelaError>(())
//! ```

mod attention;
mod block;
mod config;
mod family;
mod flops;
pub mod import;
mod merging;
mod model;
mod stage;
pub mod window;

pub use attention::{WindowAttention, WindowAttentionLowRank, WindowAttentionRecord};
pub use block::{SwinBlock, SwinBlockLowRank, SwinBlockRecord};
pub use config::SwinConfig;
pub use merging::{PatchMerging, PatchMergingLowRank, PatchMergingRecord};
pub use model::{
    ClassifierHead, ClassifierHeadLowRank, ClassifierHeadRecord, Swin, SwinFeatures, SwinLowRank,
    SwinPatchEmbed, SwinPatchEmbedRecord, SwinRecord,
};
pub use stage::{SwinStage, SwinStageLowRank, SwinStageRecord};
