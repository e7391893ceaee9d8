//! Metrics: every named value of a step as a Burn metric, and each epoch's means.

use std::collections::BTreeMap;
use std::sync::Arc;

use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
};
use serde::{Deserialize, Serialize};

/// A step's named values, read from the device: what Burn's metrics are computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct StepItem {
    /// Items in the batch (the weight of the step in an epoch's mean).
    pub batch_size: usize,
    /// `Loss`, each loss term and each further metric, by name.
    pub values: Vec<(&'static str, f64)>,
}

impl Adaptor<StepItem> for StepItem {
    fn adapt(&self) -> StepItem {
        self.clone()
    }
}

/// One named value of [`StepItem`] as a numeric Burn metric (for the dashboard, the metric
/// logs and checkpoint strategies): `Loss`, `L_fd`, `Accuracy`, … Burn identifies metrics by
/// name, so every loss term is its own metric.
#[derive(Clone)]
pub struct StepMetric {
    name: MetricName,
    key: &'static str,
    state: NumericMetricState,
}

impl StepMetric {
    /// The metric of the value named `key`.
    pub fn new(key: &'static str) -> Self {
        Self {
            name: Arc::new(key.to_string()),
            key,
            state: NumericMetricState::default(),
        }
    }
}

impl Metric for StepMetric {
    type Input = StepItem;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(&mut self, item: &StepItem, _metadata: &MetricMetadata) -> SerializedEntry {
        let value = item
            .values
            .iter()
            .find(|(name, _)| *name == self.key)
            .map_or(f64::NAN, |(_, v)| *v);
        let unit = if self.key == "Accuracy" { " %" } else { "" };
        self.state.update(
            value,
            item.batch_size,
            FormatOptions::new(self.name()).precision(4).unit(unit),
        )
    }

    fn clear(&mut self) {
        self.state.reset();
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: (self.key == "Accuracy").then(|| "%".to_string()),
            higher_is_better: self.key == "Accuracy",
        }
        .into()
    }
}

impl Numeric for StepMetric {
    fn value(&self) -> NumericEntry {
        self.state.current_value()
    }

    fn running_value(&self) -> NumericEntry {
        self.state.running_value()
    }
}

/// Sums of a split's values over an epoch, from the steps' [`StepItem`]s.
#[derive(Default)]
pub(crate) struct Running {
    sums: Vec<(&'static str, f64)>,
    pub(crate) items: usize,
}

impl Running {
    /// Adds a step's values, weighted by its batch size.
    pub(crate) fn add(&mut self, item: &StepItem) {
        let weight = item.batch_size as f64;
        for &(name, value) in &item.values {
            match self.sums.iter_mut().find(|(n, _)| *n == name) {
                Some((_, sum)) => *sum += value * weight,
                None => self.sums.push((name, value * weight)),
            }
        }
        self.items += item.batch_size;
    }

    /// The means, by name.
    pub(crate) fn means(self) -> BTreeMap<String, f64> {
        let items = self.items.max(1) as f64;
        self.sums
            .into_iter()
            .map(|(name, sum)| (name.to_string(), sum / items))
            .collect()
    }
}

/// One epoch, as logged to `metrics.jsonl` and kept in the run's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The learning rate of the epoch's last optimizer step.
    pub learning_rate: f64,
    /// Training items a second (forward, backward and optimizer step, data loading included).
    pub items_per_second: f64,
    /// The training means by name: `Loss` (the weighted total), every loss term, `Accuracy`.
    /// After a resume in the middle of the epoch, the means of the batches run since.
    pub train: BTreeMap<String, f64>,
    /// The validation means by name.
    pub valid: BTreeMap<String, f64>,
    /// The items that could not be read and were replaced by the next ones, in this run so far
    /// (see [`Engine::skip_unreadable`](super::Engine::skip_unreadable)).
    #[serde(default)]
    pub unreadable_items: usize,
}

impl EpochMetrics {
    /// A training mean.
    pub fn train(&self, name: &str) -> Option<f64> {
        self.train.get(name).copied()
    }

    /// A validation mean.
    pub fn valid(&self, name: &str) -> Option<f64> {
        self.valid.get(name).copied()
    }

    /// One line for the terminal.
    ///
    /// ```
    /// use pela_zoo::train::EpochMetrics;
    ///
    /// let m = EpochMetrics { epoch: 2, learning_rate: 1e-3, items_per_second: 900.0,
    ///     train: [("Loss".into(), 0.9), ("L_fd".into(), 0.2)].into(),
    ///     valid: [("Loss".into(), 0.6), ("Accuracy".into(), 85.0)].into(),
    ///     unreadable_items: 0 };
    /// assert_eq!(m.summary(), "epoch 2: train Loss 0.9000, L_fd 0.2000 | valid Loss 0.6000, \
    ///     Accuracy 85.00 % | lr 1.00e-3, 900 items/s");
    /// ```
    pub fn summary(&self) -> String {
        let split = |values: &BTreeMap<String, f64>| {
            // The total first, then the others in name order.
            let mut names: Vec<&String> = values.keys().collect();
            names.sort_by_key(|n| (n.as_str() != "Loss", *n));
            names
                .into_iter()
                .map(|name| {
                    let v = values[name];
                    if name == "Accuracy" {
                        format!("{name} {v:.2} %")
                    } else {
                        format!("{name} {v:.4}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let unreadable = match self.unreadable_items {
            0 => String::new(),
            n => format!(", {n} unreadable items skipped"),
        };
        format!(
            "epoch {}: train {} | valid {} | lr {:.2e}, {:.0} items/s{unreadable}",
            self.epoch,
            split(&self.train),
            split(&self.valid),
            self.learning_rate,
            self.items_per_second
        )
    }
}
