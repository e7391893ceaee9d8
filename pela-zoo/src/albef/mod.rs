//! ALBEF (Li et al., 2021, *Align before Fuse*): the vision-language family of the paper's
//! Table 4, as the authors' code (`salesforce/ALBEF`) defines it, with PELA.
//!
//! - [`AlbefConfig`]: the architecture and the pre-training settings, with the released
//!   model's presets ([`AlbefConfig::albef_base`]), the authors' PELA plan (κ = 3) and
//!   objective.
//! - [`Albef`]: a ViT image encoder, a BERT text encoder whose fusion layers cross-attend to
//!   the image, the ITC projections and temperature, the ITM and MLM heads.
//!   `#[derive(LowRank)]`: its twin `AlbefLowRank` is the student.
//! - [`Momentum`]: the EMA copy of the online model and its feature queues.
//! - [`itc`], [`hard_negatives`] and [`itm_loss`], [`mask_tokens`] and [`mlm_loss`]: the
//!   pre-training objectives.
//! - [`AlbefPretrainTask`]: ALBEF's pre-training of a dense model, and
//!   [`AlbefDistillTask`]: PELA's distillation of a student with ALBEF's own objectives, as
//!   tasks of the [engine](crate::train::Engine); [`AlbefModel`] is what both models share.
//! - [`Annotations`]: the authors' annotation files (COCO, Flickr30K), as training pairs
//!   ([`AnnotatedPairs`]) and retrieval sets; [`retrieval_scores`] and [`Recall`]: retrieval
//!   evaluated as the authors do (ITC for all pairs, ITM re-ranking of the top `k`).
//! - [`AlbefConfig::load_state`]: the authors' checkpoints, by their own keys (see
//!   [`import`]).
//!
//! ```
//! use pela::LowRank;
//! use pela_zoo::albef::AlbefConfig;
//! use pela_zoo::backend::{Cpu, CpuDevice};
//! use pela_zoo::bert::BertConfig;
//! use pela_zoo::vit::VitConfig;
//!
//! // The released model is `AlbefConfig::albef_base(256)`: 209,937,725 parameters.
//! let config = AlbefConfig::new(
//!     VitConfig::new(32, 16, 0, 64, 2, 4),
//!     BertConfig::new(100, 64, 4, 4, 128, 16).with_cross_attention_from(Some(2)),
//! );
//! let albef = config.init::<Cpu>(&CpuDevice::default());
//! let report = albef.preview(&config.pela_plan())?; // ranks and sizes, no SVD
//! assert_eq!(report.totals().low_rank_layers, 8 + 24 + 8); // ViT, BERT, cross-attention
//! # Ok::<(), pela::PelaError>(())
//! ```

mod annotations;
mod captions;
mod config;
mod family;
mod features;
pub mod import;
mod model;
mod momentum;
mod objectives;
mod online;
mod pretrain;
mod retrieval;

pub use annotations::{
    AnnotatedPairs, Annotation, Annotations, MAX_WORDS, RetrievalSettings, normalization,
    pre_caption,
};
pub use captions::{CaptionBatcher, CaptionItem, Captions};
pub use config::AlbefConfig;
pub use features::{AlbefEncoded, AlbefInput};
pub use import::AlbefState;
pub use model::{Albef, AlbefLowRank, AlbefRecord, MlmHead, MlmHeadRecord, TextPooling};
pub use momentum::{Momentum, MomentumRecord};
pub use objectives::{
    ImageText, Itc, MaskedTokens, MlmTokens, hard_negatives, itc, itm_loss, mask_tokens, mlm_loss,
};
pub use online::AlbefModel;
pub use pretrain::{
    AlbefDistillTask, AlbefObjectives, AlbefPretrainTask, AlbefTraining, AlbefTrainingRecord,
    student_training,
};
pub use retrieval::{Matches, Recall, RetrievalScores, retrieval_scores};
