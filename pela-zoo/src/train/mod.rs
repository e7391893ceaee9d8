//! Training: PELA distillation of a student beside its frozen teacher, and supervised training
//! of a model alone (a teacher, or a compressed student fine-tuned on a downstream set).
//!
//! [`train`] is one loop for both: AdamW, warm-up then cosine, global-norm gradient clipping,
//! label smoothing, gradient accumulation, validation each epoch, metrics to the terminal
//! (through [`TrainProgress`]) and to `metrics.jsonl`, atomic checkpoints each epoch and on
//! interrupt, and exact resumption. What is trained is a [`Trainee`]: [`Supervised`] or
//! [`pela::Distill`].
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//! use burn::module::Module;
//! use pela::{Distill, LowRank, PelaObjectiveConfig};
//! use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
//! use pela_zoo::data::{InMemoryImages, ImageDataset, digits};
//! use pela_zoo::train::{Quiet, RunDir, TrainingConfig, train};
//! use pela_zoo::vit::VitConfig;
//!
//! let device = CpuDevice::default();
//! let (digits_train, digits_test) = digits();
//! let (train_set, test_set) = (digits_train.truncated(64), digits_test.truncated(32));
//! let config = VitConfig::new(8, 2, 10, 32, 2, 4).with_channels(1);
//! let teacher = config.init::<Cpu>(&device);
//! let student = teacher.to_low_rank(&config.pela_plan())?.train::<CpuAutodiff>();
//! let distill = Distill::new(teacher, student, PelaObjectiveConfig::new().init());
//!
//! let run = RunDir::new(std::env::temp_dir().join("pela-zoo-doc-distill"))?;
//! # std::fs::remove_dir_all(run.root()).ok(); let run = RunDir::new(run.root())?;
//! let training = TrainingConfig::new().with_epochs(1).with_batch_size(32);
//! let outcome = train(distill, &train_set, &test_set, &training, &run, false, &Quiet,
//!     &AtomicBool::new(false), &device)?;
//! assert!(outcome.history[0].train_feature_distillation.is_some());
//! assert!(run.has_checkpoint());
//! # Ok::<(), pela_zoo::ZooError>(())
//! ```

mod clip;
mod config;
mod eval;
mod fit;
mod metrics;
mod run;
mod trainee;

pub use clip::clip_global_norm;
pub use config::TrainingConfig;
pub use eval::{Evaluation, evaluate, latency_ms};
pub use fit::{TrainOutcome, train};
pub use metrics::{EpochMetrics, Quiet, Running, TrainProgress};
pub use run::{RunDir, TrainState};
pub use trainee::{Classifier, Losses, Supervised, Trainee};
