//! The one training engine, on Burn's training stack.
//!
//! Every model and objective trains through [`Engine`]: image classification (a teacher from
//! scratch, PELA distillation of a student, fine-tuning with a new head) and sentence-embedding
//! distillation are each a [`Task`], a small step that returns named, weighted loss terms
//! ([`pela::LossTerms`]); the engine sums them in one place, and logs each as its own metric.
//!
//! # What is Burn's, and what is ours
//!
//! Burn's: the `Learner` (model, AdamW, learning-rate scheduler, its `train_step` and
//! `optimizer_step`), `SupervisedTraining` (metrics, the metric logs under the run folder, the
//! renderer, the interrupter), the `DataLoader` with worker threads that decode batches while
//! the model computes, the `LearningCheckpointer`, and the multi-device strategies
//! (`ExecutionStrategy::multi`, and with the `ddp` feature `ExecutionStrategy::ddp` for several
//! CUDA GPUs).
//!
//! Ours, each because Burn 0.21 cannot do it (read from its sources):
//!
//! | what | why |
//! |---|---|
//! | global-norm gradient clipping ([`clip_global_norm`], in `TrainStep::optimize`) | Burn's `GradientClipping::Norm` clips each parameter's gradient by its own norm (`burn-optim` `optim/simple/adaptor.rs`, `clip_gradient` per parameter), not all of them together as PyTorch's `clip_grad_norm_` |
//! | the warm-up then cosine schedule ([`WarmupCosine`]) | Burn's `ComposedLrScheduler` steps all its schedulers at once and multiplies them (`burn-optim` `lr_scheduler/composed.rs`), not one after the other |
//! | the single-device loop (a custom `SupervisedLearningStrategy`) | Burn's (`burn-train` `learner/supervised/strategies/single/strategy.rs`) checkpoints only after an epoch's validation, breaks before it when interrupted (so writes nothing), and drops the gradients of a short last accumulation group (`single/epoch.rs`); ours checkpoints after any optimizer step when stopped, and resumes from that batch with the same data order and generator, so a resumed run ends where an uninterrupted one does |
//! | the epoch's data order ([`TrainingSet::epoch_order`]) | Burn's loader draws each epoch's shuffle from a generator that restarts at its seed in every new process (`burn-core` `data/dataloader/builder.rs`), so epoch `k` after a resume is not epoch `k` of an uninterrupted run |
//! | atomic checkpoint files, awaited | Burn's `FileCheckpointer` writes in place (`burn-train` `checkpoint/file.rs`), and its `AsyncCheckpointer` panics on an error and never says when a save is done (`checkpoint/async_checkpoint.rs`) |
//! | the teacher beside the model ([`Trainable`]) | Burn trains one module; the frozen teacher must follow each replica to its device but stay out of the optimizer and the checkpoints |
//!
//! On several devices the engine hands the run to Burn's own strategies: checkpoints and
//! resumption are then Burn's, at epoch ends, and [`TrainOutcome::history`] stays empty.
//! Burn's DDP all-reduces gradients through NCCL and so runs on CUDA only; its `distributed`
//! feature also makes Burn's CPU backends unusable for training, which is why it is the
//! opt-in `ddp` feature of this crate. On the CPU, `multi` runs one replica a thread.
//!
//! ```
//! use std::sync::Arc;
//! use pela_zoo::backend::CpuAutodiff;
//! use pela_zoo::data::{ImageBatcher, digits};
//! use pela_zoo::train::{ClassifyTask, Engine, RunDir, TrainingConfig};
//! use pela_zoo::vit::VitConfig;
//!
//! let (train_set, test_set) = digits();
//! let model = VitConfig::new(8, 2, 10, 32, 1, 4).with_channels(1).init::<CpuAutodiff>(&Default::default());
//! let run = RunDir::new(std::env::temp_dir().join("pela-zoo-doc-train"))?;
//! # std::fs::remove_dir_all(run.root()).ok(); let run = RunDir::new(run.root())?;
//! let batcher = ImageBatcher::new(&train_set);
//! let outcome = Engine::<CpuAutodiff>::new(TrainingConfig::new().with_epochs(1), run)
//!     .fit(ClassifyTask::supervised(0.1), model, Arc::new(train_set.truncated(128)),
//!          Arc::new(test_set.truncated(64)), batcher)?;
//! assert!(outcome.history[0].valid("Accuracy").is_some());
//! # Ok::<(), pela_zoo::ZooError>(())
//! ```

mod calibrate;
mod checkpointer;
mod classify;
mod clip;
mod config;
mod engine;
mod eval;
mod feature_distill;
mod metrics;
mod order;
#[cfg(feature = "cli")]
mod progress;
mod renderer;
mod run;
mod schedule;
mod strategy;
pub(crate) mod task;
mod trainable;

pub use calibrate::{calibrate_classifier, evenly_spaced};
pub use classify::{Alone, Classifier, ClassifyTask, ImageStudent, ImageTeacher};
pub use clip::clip_global_norm;
pub use config::TrainingConfig;
pub use engine::{Engine, ParallelBackend, TrainOutcome};
pub use eval::{Evaluation, evaluate, latency_ms};
pub use feature_distill::FeatureDistillTask;
pub use metrics::{EpochMetrics, StepItem, StepMetric};
pub use order::TrainingSet;
#[cfg(feature = "cli")]
pub use progress::ProgressRenderer;
pub use renderer::QuietRenderer;
pub use run::{RunDir, TrainState};
pub use schedule::WarmupCosine;
pub use task::{StepOutput, Task};
pub use trainable::{Trainable, Validating};
