//! Vision transformers: DeiT and DeiT-III, as timm defines them, with PELA's presets, and the
//! pre-trained DINOv2 ViT-S/14 ([`Dinov2`]).
//!
//! - [`VitConfig`]: the architecture, with timm's presets ([`VitConfig::deit_base_patch16_224`],
//!   [`VitConfig::deit3_large_patch16_224`], …) and the authors' PELA plan
//!   ([`VitConfig::pela_plan`]).
//! - [`Vit`]: the model, `#[derive(LowRank)]` like any user model; its twin `VitLowRank` is the
//!   student. Both implement [`pela::LayerFeatures`]: the logits and every block's tokens.
//! - Checkpoints: [`VitConfig::load_checkpoint`] reads timm safetensors and PyTorch `.pth` files,
//!   Facebook's originals included (see [`import`]); [`pela::checkpoint`] saves and loads
//!   students in the authors' compressed layout.
//! - [`VitConfig::flops`]: the FLOPs of a teacher or student, as the paper counts them.
//! - [`VitConfig`] is the zoo's ViT [`Family`](crate::Family) and an
//!   [`ImageFamily`](crate::ImageFamily): its students as files that describe themselves.
//!
//! ```
//! use pela::LowRank;
//! use pela_zoo::backend::{Cpu, CpuDevice};
//! use pela_zoo::vit::VitConfig;
//!
//! let config = VitConfig::deit_base_patch16_224();
//! let teacher = config.init::<Cpu>(&CpuDevice::default());
//! let report = teacher.preview(&config.pela_plan())?; // ranks and sizes, no SVD
//! assert_eq!(report.totals().params_after, 44_081_896);
//! let flops = config.flops(&report);
//! assert!((flops.student() as f64 / 1e9 - 17.0).abs() < 0.05); // the paper's 17.0 GFLOPs
//! # Ok::<(), pela::PelaError>(())
//! ```

mod attention;
mod block;
mod config;
mod dinov2;
mod family;
mod flops;
pub mod import;
mod mlp;
mod model;
mod patches;

pub use attention::{Attention, AttentionLowRank, AttentionRecord};
pub use block::{Block, BlockLowRank, BlockRecord, LayerScale, LayerScaleRecord};
pub use config::VitConfig;
pub(crate) use dinov2::is_class_and_square_grid;
pub use dinov2::{
    DINOV2_MEAN_STD, DINOV2_POSITION_GRID, DINOV2_WHEEL, DINOV2_WHEEL_SHA256, Dinov2, onnx_weights,
    resize_positions,
};
pub use mlp::{Mlp, MlpLowRank, MlpRecord};
pub use model::{PatchEmbed, PatchEmbedRecord, Vit, VitLowRank, VitRecord};
pub use patches::patch_conv;
