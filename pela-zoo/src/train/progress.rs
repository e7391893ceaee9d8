//! A progress bar an epoch, on indicatif (the `cli` feature).

use std::collections::HashMap;

use burn::train::LearnerSummary;
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr for each epoch's training and validation, with the running
/// total loss and an ETA: what the `pela` command draws when its output is not Burn's
/// terminal dashboard.
pub struct ProgressRenderer {
    bar: Option<(usize, bool, ProgressBar)>,
    names: HashMap<MetricId, String>,
    loss: Option<f64>,
    hidden: bool,
}

impl ProgressRenderer {
    /// Bars on stderr; `hidden` draws nothing (no terminal, `--no-progress`).
    pub fn new(hidden: bool) -> Self {
        Self {
            bar: None,
            names: HashMap::new(),
            loss: None,
            hidden,
        }
    }

    fn draw(&mut self, item: &TrainingProgress, valid: bool) {
        let Some(progress) = &item.progress else {
            return;
        };
        let epoch = item.global_progress.items_processed;
        if !matches!(&self.bar, Some((e, v, _)) if *e == epoch && *v == valid) {
            if let Some((_, _, bar)) = self.bar.take() {
                bar.finish_and_clear();
            }
            let target = if self.hidden {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            };
            let bar = ProgressBar::with_draw_target(Some(progress.items_total as u64), target);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>14} [{bar:32}] {pos}/{len} {msg} (ETA {eta})",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            let what = if valid { "valid" } else { "epoch" };
            bar.set_prefix(format!(
                "{what} {epoch}/{}",
                item.global_progress.items_total
            ));
            self.bar = Some((epoch, valid, bar));
        }
        if let Some((_, _, bar)) = &self.bar {
            bar.set_position(progress.items_processed as u64);
            if let Some(loss) = self.loss {
                bar.set_message(format!("loss {loss:.4}"));
            }
        }
    }

    fn update(&mut self, state: MetricState) {
        if let MetricState::Numeric(entry, value) = state
            && self.names.get(&entry.metric_id).map(String::as_str) == Some("Loss")
        {
            self.loss = Some(match value {
                NumericEntry::Value(v) => v,
                NumericEntry::Aggregated {
                    aggregated_value, ..
                } => aggregated_value,
            });
        }
    }
}

impl MetricsRendererTraining for ProgressRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.update(state);
    }
    fn update_valid(&mut self, state: MetricState) {
        self.update(state);
    }
    fn render_train(&mut self, item: TrainingProgress, _: Vec<ProgressType>) {
        self.draw(&item, false);
    }
    fn render_valid(&mut self, item: TrainingProgress, _: Vec<ProgressType>) {
        self.draw(&item, true);
    }
    fn on_train_end(
        &mut self,
        _: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        if let Some((_, _, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
        Ok(())
    }
}

impl MetricsRendererEvaluation for ProgressRenderer {
    fn update_test(&mut self, _: EvaluationName, state: MetricState) {
        self.update(state);
    }
    fn render_test(&mut self, _: EvaluationProgress, _: Vec<ProgressType>) {}
}

impl MetricsRenderer for ProgressRenderer {
    fn manual_close(&mut self) {
        if let Some((_, _, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }
}
