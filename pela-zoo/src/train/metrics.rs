//! What a training run measures, epoch by epoch.

use serde::{Deserialize, Serialize};

/// Sums over the batches of an epoch, turned into means at its end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Running {
    /// Images seen.
    pub images: usize,
    /// Batches seen.
    pub batches: usize,
    /// Σ total loss over batches.
    pub loss: f64,
    /// Σ task loss.
    pub task: f64,
    /// Σ feature-distillation loss.
    pub feature_distillation: f64,
    /// Σ weight-perturbation loss.
    pub weight_perturbation: f64,
    /// Images classified right.
    pub correct: usize,
    /// Seconds spent.
    pub seconds: f64,
}

/// The metrics of one epoch, as logged to `metrics.jsonl` and the terminal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The learning rate at the epoch's last step.
    pub learning_rate: f64,
    /// Mean total loss `L_base + α·L_fd + β·L_rwp` on the training batches.
    pub train_loss: f64,
    /// Mean task loss `L_base` (cross-entropy).
    pub train_task_loss: f64,
    /// Mean `L_fd`, when distilling.
    pub train_feature_distillation: Option<f64>,
    /// Mean `L_rwp`, when distilling with β > 0.
    pub train_weight_perturbation: Option<f64>,
    /// Accuracy on the (augmented) training batches.
    pub train_accuracy: f64,
    /// Cross-entropy (without smoothing) on the validation set.
    pub valid_loss: f64,
    /// Accuracy on the validation set.
    pub valid_accuracy: f64,
    /// Training images a second (forward, backward and optimizer step).
    pub images_per_second: f64,
}

impl EpochMetrics {
    /// One line for the terminal.
    ///
    /// ```
    /// use pela_zoo::train::EpochMetrics;
    ///
    /// let m = EpochMetrics { epoch: 2, learning_rate: 1e-3, train_loss: 0.9, train_task_loss: 0.7,
    ///     train_feature_distillation: Some(0.2), train_weight_perturbation: None,
    ///     train_accuracy: 0.8, valid_loss: 0.6, valid_accuracy: 0.85, images_per_second: 900.0 };
    /// assert!(m.summary().starts_with("epoch 2: loss 0.9000 (task 0.7000, fd 0.2000)"));
    /// ```
    pub fn summary(&self) -> String {
        let mut parts = format!("task {:.4}", self.train_task_loss);
        if let Some(fd) = self.train_feature_distillation {
            parts.push_str(&format!(", fd {fd:.4}"));
        }
        if let Some(rwp) = self.train_weight_perturbation {
            parts.push_str(&format!(", rwp {rwp:.4}"));
        }
        format!(
            "epoch {}: loss {:.4} ({parts}), train acc {:.2} %, valid loss {:.4}, valid acc \
             {:.2} %, lr {:.2e}, {:.0} img/s",
            self.epoch,
            self.train_loss,
            100.0 * self.train_accuracy,
            self.valid_loss,
            100.0 * self.valid_accuracy,
            self.learning_rate,
            self.images_per_second
        )
    }
}

/// Hears about a training run; the library reports, a program draws (progress bars, logs).
pub trait TrainProgress {
    /// An epoch starts, with `batches` batches (some already done when resuming).
    fn on_epoch_start(&self, _epoch: usize, _batches: usize, _done: usize) {}
    /// A batch is done; `loss` is its total loss.
    fn on_batch(&self, _batch: usize, _loss: f64) {}
    /// An epoch ended and was validated.
    fn on_epoch_end(&self, _metrics: &EpochMetrics) {}
    /// A checkpoint was written.
    fn on_checkpoint(&self, _path: &std::path::Path) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl TrainProgress for Quiet {}
