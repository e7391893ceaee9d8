//! What an [`Allocator`] chose, layer by layer.

use serde::{Deserialize, Serialize};

use super::Allocator;
use crate::thousands;

/// One layer's share of the budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerAllocation {
    /// Module path.
    pub path: String,
    /// Input size.
    pub d_input: usize,
    /// Output size.
    pub d_output: usize,
    /// The rank chosen; `None`: dense, because no rank that shrinks it was worth less.
    pub rank: Option<usize>,
    /// The predicted relative error at that rank: of the weight (`Spectrum`, `Uniform`) or of
    /// the layer's outputs on the calibration inputs (`DataAware`).
    pub relative_error: f64,
    /// How much the layer's squared error counted.
    pub weight: f64,
}

impl LayerAllocation {
    /// The parameters of its weight at the chosen rank (dense: `d_input · d_output`).
    pub fn parameters(&self) -> usize {
        self.rank.map_or(self.d_input * self.d_output, |r| {
            r * (self.d_input + self.d_output)
        })
    }
}

/// The ranks an [`Allocator`] chose, with each layer's predicted error.
///
/// `Display` prints a table; `serde_json::to_string(&report)` writes it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationReport {
    /// The allocator, as it was asked.
    pub allocator: Allocator,
    /// The budget in parameters.
    pub budget: usize,
    /// The parameters the allocated layers' weights hold now (at most `budget`).
    pub parameters: usize,
    /// The same layers' parameters dense.
    pub dense_parameters: usize,
    /// Every allocated layer, in model order.
    pub layers: Vec<LayerAllocation>,
}

impl AllocationReport {
    pub(crate) fn new(allocator: Allocator, budget: usize, layers: Vec<LayerAllocation>) -> Self {
        Self {
            allocator,
            budget,
            parameters: layers.iter().map(LayerAllocation::parameters).sum(),
            dense_parameters: layers.iter().map(|l| l.d_input * l.d_output).sum(),
            layers,
        }
    }

    /// The objective the allocation minimised: `Σ weight · ε²` over the layers.
    pub fn weighted_squared_error(&self) -> f64 {
        self.layers
            .iter()
            .map(|l| l.weight * l.relative_error * l.relative_error)
            .sum()
    }

    /// The chosen rank of every layer kept low-rank, by path.
    pub fn ranks(&self) -> std::collections::HashMap<String, usize> {
        self.layers
            .iter()
            .filter_map(|l| Some((l.path.clone(), l.rank?)))
            .collect()
    }
}

impl core::fmt::Display for AllocationReport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let allocator = &self.allocator;
        writeln!(
            f,
            "rank allocation: {} within {} ({} parameters), ranks in steps of {}",
            allocator.allocation,
            allocator.budget,
            thousands(self.budget),
            allocator.rank_multiple
        )?;
        let width = self
            .layers
            .iter()
            .map(|l| l.path.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            f,
            "{:<width$}  {:>12}  {:>6}  {:>12}  {:>10}  {:>6}",
            "layer", "shape", "rank", "params", "rel. error", "weight"
        )?;
        for layer in &self.layers {
            writeln!(
                f,
                "{:<width$}  {:>12}  {:>6}  {:>12}  {:>10.4}  {:>6.3}",
                layer.path,
                format!("{}×{}", layer.d_input, layer.d_output),
                layer.rank.map_or("dense".to_string(), |r| r.to_string()),
                thousands(layer.parameters()),
                layer.relative_error,
                layer.weight,
            )?;
        }
        write!(
            f,
            "allocated layers: {} → {} parameters ({:.1} % of the budget); Σ weight · ε² = {:.5}",
            thousands(self.dense_parameters),
            thousands(self.parameters),
            100.0 * self.parameters as f64 / self.budget.max(1) as f64,
            self.weighted_squared_error()
        )
    }
}
