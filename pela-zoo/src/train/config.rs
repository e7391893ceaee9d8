//! The settings of a training run.

use burn::prelude::*;

use crate::ZooError;

/// How a model is trained: AdamW with a warm-up then cosine schedule, global-norm gradient
/// clipping, label smoothing, gradient accumulation and data-loading threads. Saved as
/// `config.json` in the run folder.
///
/// [`TrainingConfig::new`] holds the engine's defaults; a model family may start from its own
/// ([`Family::training_defaults`](crate::Family::training_defaults): BERT's smaller learning
/// rate), and the `pela` command's training flags override either.
///
/// The defaults suit the built-in digits; the authors' DeiT-Base distillation is
/// `TrainingConfig::new().with_epochs(50).with_batch_size(256).with_learning_rate(6.25e-5)
/// .with_min_learning_rate(1e-5).with_weight_decay(0.05)` (their 4 × 64 images a step).
///
/// ```
/// use pela_zoo::train::TrainingConfig;
///
/// let config = TrainingConfig::new().with_epochs(3);
/// config.validate()?;
/// assert_eq!(config.steps_per_epoch(1437), 23); // ⌈1437 / 64⌉ batches, one step each
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct TrainingConfig {
    /// Passes over the training set. Default: 10
    #[config(default = 10)]
    pub epochs: usize,
    /// Items (images, sentences) a batch. Default: 64
    #[config(default = 64)]
    pub batch_size: usize,
    /// Batches whose gradients are added up before each optimizer step (each batch's loss is
    /// divided by this, so the step sees the mean). Default: 1
    #[config(default = 1)]
    pub grad_accumulation: usize,
    /// The peak learning rate, reached after the warm-up. Default: 1e-3
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// The learning rate the cosine decay ends at. Default: 1e-5
    #[config(default = 1e-5)]
    pub min_learning_rate: f64,
    /// Epochs of linear warm-up from 0 to the peak. Default: 1
    #[config(default = 1)]
    pub warmup_epochs: usize,
    /// AdamW's decoupled weight decay. Default: 0.05
    #[config(default = 0.05)]
    pub weight_decay: f64,
    /// Clip the gradients to this global L2 norm, over all parameters together (as PyTorch's
    /// `clip_grad_norm_`); 0 turns clipping off. Default: 5.0
    #[config(default = 5.0)]
    pub grad_clip: f64,
    /// Label smoothing of the cross-entropy, in [0, 1). Default: 0.1
    #[config(default = 0.1)]
    pub label_smoothing: f64,
    /// Seeds the data order, the augmentation and Burn's generator. Default: 42
    #[config(default = 42)]
    pub seed: u64,
    /// Threads that read and decode batches while the model computes (Burn's `DataLoader`);
    /// 0 reads them on the training thread. With more than one, batches arrive in an order
    /// that varies from run to run. On CubeCL backends (`burn-cuda`, `burn-wgpu`) only 0 makes
    /// a run repeat itself bit for bit: with a loader thread its last bits vary, and Adam
    /// amplifies them (see the book's GPU chapter). Default: 1
    #[config(default = 1)]
    pub workers: usize,
}

impl TrainingConfig {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the setting and its allowed range.
    pub fn validate(&self) -> Result<(), ZooError> {
        let fail = |reason: &str| {
            Err(ZooError::InvalidConfig {
                reason: reason.to_string(),
            })
        };
        if self.epochs == 0 || self.batch_size == 0 || self.grad_accumulation == 0 {
            return fail("epochs, batch size and gradient accumulation must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return fail("the learning rate must be in (0, 1]");
        }
        if !(self.min_learning_rate >= 0.0 && self.min_learning_rate <= self.learning_rate) {
            return fail("the minimum learning rate must be in [0, learning rate]");
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return fail("label smoothing must be in [0, 1)");
        }
        let clip = self.grad_clip.is_finite() && self.grad_clip >= 0.0;
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0 && clip) {
            return fail("weight decay and the gradient clip must be ≥ 0 (a clip of 0 is off)");
        }
        Ok(())
    }

    /// Optimizer steps in one epoch over `n_items`: the batches, divided by the gradient
    /// accumulation, rounded up.
    pub fn steps_per_epoch(&self, n_items: usize) -> usize {
        n_items
            .div_ceil(self.batch_size)
            .div_ceil(self.grad_accumulation)
    }

    /// The gradient-clipping norm, `None` when off.
    pub fn clip_norm(&self) -> Option<f64> {
        (self.grad_clip > 0.0).then_some(self.grad_clip)
    }

    /// The learning rate of optimizer step `step` (from 0) of `total` steps, `per_epoch` a
    /// epoch: linear warm-up to the peak over `warmup_epochs`, then cosine decay to the
    /// minimum at the last step.
    ///
    /// ```
    /// use pela_zoo::train::TrainingConfig;
    ///
    /// let config = TrainingConfig::new().with_learning_rate(1e-3).with_min_learning_rate(0.0);
    /// // 10 steps an epoch, 1 warm-up epoch, 30 steps in all
    /// assert_eq!(config.learning_rate_at(0, 30, 10), 1e-4);
    /// assert_eq!(config.learning_rate_at(9, 30, 10), 1e-3);
    /// assert!((config.learning_rate_at(20, 30, 10) - 0.5e-3).abs() < 1e-3 * 0.1);
    /// ```
    pub fn learning_rate_at(&self, step: usize, total: usize, per_epoch: usize) -> f64 {
        let warmup = (self.warmup_epochs * per_epoch).min(total.saturating_sub(1));
        if step < warmup {
            return self.learning_rate * (step + 1) as f64 / warmup as f64;
        }
        let span = total.saturating_sub(warmup + 1).max(1) as f64;
        let progress = ((step - warmup) as f64 / span).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.min_learning_rate + (self.learning_rate - self.min_learning_rate) * cosine
    }
}
