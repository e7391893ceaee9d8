//! The learning-rate schedule as a Burn `LrScheduler`: linear warm-up, then cosine decay.
//!
//! Burn's `ComposedLrScheduler` runs its schedulers at the same time and multiplies them; it
//! cannot run a warm-up *then* a cosine. This one follows [`TrainingConfig::learning_rate_at`],
//! counted in optimizer steps although Burn's `Learner` steps the scheduler once a batch.

use burn::lr_scheduler::LrScheduler;
use burn::prelude::*;

use super::TrainingConfig;

/// Warm-up then cosine, as [`TrainingConfig::learning_rate_at`] defines it, for a run of
/// `epochs` epochs of `batches` batches each. Burn's `Learner` calls
/// [`step`](LrScheduler::step) before every batch; the rate changes once an optimizer step
/// (every `grad_accumulation` batches, and at the end of each epoch). Its record is the number
/// of batches seen, so a checkpoint resumes it exactly.
///
/// ```
/// use burn::lr_scheduler::LrScheduler;
/// use pela_zoo::train::{TrainingConfig, WarmupCosine};
///
/// let config = TrainingConfig::new().with_epochs(2).with_warmup_epochs(1).with_grad_accumulation(2)
///     .with_learning_rate(1e-3).with_min_learning_rate(0.0);
/// let mut schedule = WarmupCosine::new(&config, 4); // 4 batches, 2 steps an epoch
/// let rates: Vec<f64> = (0..8).map(|_| schedule.step()).collect();
/// assert_eq!(rates[..4], [5e-4, 5e-4, 1e-3, 1e-3]); // warm-up: steps 0 and 1
/// assert_eq!(rates[7], 0.0); // the last step ends at the minimum
/// ```
#[derive(Debug, Clone)]
pub struct WarmupCosine {
    config: TrainingConfig,
    batches: usize,
    seen: usize,
}

impl WarmupCosine {
    /// The schedule of `config` for epochs of `batches` batches.
    pub fn new(config: &TrainingConfig, batches: usize) -> Self {
        Self {
            config: config.clone(),
            batches: batches.max(1),
            seen: 0,
        }
    }

    /// The optimizer step that batch `batch` (from 0, over all epochs) belongs to.
    fn optimizer_step(&self, batch: usize) -> usize {
        let accumulation = self.config.grad_accumulation.max(1);
        let per_epoch = self.batches.div_ceil(accumulation);
        (batch / self.batches) * per_epoch + (batch % self.batches) / accumulation
    }
}

impl LrScheduler for WarmupCosine {
    type Record<B: Backend> = usize;

    fn step(&mut self) -> f64 {
        let per_epoch = self.batches.div_ceil(self.config.grad_accumulation.max(1));
        let total = per_epoch * self.config.epochs;
        let rate = self
            .config
            .learning_rate_at(self.optimizer_step(self.seen), total, per_epoch);
        self.seen += 1;
        rate
    }

    fn to_record<B: Backend>(&self) -> usize {
        self.seen
    }

    fn load_record<B: Backend>(mut self, record: usize) -> Self {
        self.seen = record;
        self
    }
}
