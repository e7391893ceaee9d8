//! What an [`Allocator`] chose, layer by layer.

use serde::{Deserialize, Serialize};

use super::{Allocator, BudgetUnit};
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
    /// What one of its parameters cost in the budget: 1, or its rows for a budget in
    /// multiply-adds.
    #[serde(default = "one")]
    pub cost_per_parameter: usize,
}

fn one() -> usize {
    1
}

impl LayerAllocation {
    /// The parameters of its weight at the chosen rank (dense: `d_input · d_output`).
    pub fn parameters(&self) -> usize {
        self.rank.map_or(self.d_input * self.d_output, |r| {
            r * (self.d_input + self.d_output)
        })
    }

    /// What it costs in the budget's unit: its [`parameters`](Self::parameters) times
    /// `cost_per_parameter`.
    pub fn cost(&self) -> usize {
        self.parameters() * self.cost_per_parameter
    }
}

/// The ranks an [`Allocator`] chose, with each layer's predicted error.
///
/// `Display` prints a table; `serde_json::to_string(&report)` writes it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationReport {
    /// The allocator, as it was asked.
    pub allocator: Allocator,
    /// The budget, in its unit (`allocator.budget.unit()`).
    pub budget: usize,
    /// What the allocated layers cost now in that unit (at most `budget`).
    pub cost: usize,
    /// What the same layers cost dense.
    pub dense_cost: usize,
    /// The parameters the allocated layers' weights hold now.
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
            cost: layers.iter().map(LayerAllocation::cost).sum(),
            dense_cost: layers
                .iter()
                .map(|l| l.d_input * l.d_output * l.cost_per_parameter)
                .sum(),
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
        let unit = allocator.budget.unit();
        writeln!(
            f,
            "rank allocation: {} within {} ({} {unit}), ranks in steps of {}",
            allocator.allocation,
            allocator.budget,
            thousands(self.budget),
            allocator.rank_multiple
        )?;
        // A budget in multiply-adds shows what each layer costs in them.
        let macs = unit == BudgetUnit::MultiplyAdds;
        let cost_column = |text: String| {
            if macs {
                format!("  {text:>14}")
            } else {
                String::new()
            }
        };
        let width = self
            .layers
            .iter()
            .map(|l| l.path.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            f,
            "{:<width$}  {:>12}  {:>6}  {:>12}{}  {:>10}  {:>6}",
            "layer",
            "shape",
            "rank",
            "params",
            cost_column("multiply-adds".into()),
            "rel. error",
            "weight"
        )?;
        for layer in &self.layers {
            writeln!(
                f,
                "{:<width$}  {:>12}  {:>6}  {:>12}{}  {:>10.4}  {:>6.3}",
                layer.path,
                format!("{}×{}", layer.d_input, layer.d_output),
                layer.rank.map_or("dense".to_string(), |r| r.to_string()),
                thousands(layer.parameters()),
                cost_column(thousands(layer.cost())),
                layer.relative_error,
                layer.weight,
            )?;
        }
        let macs_line = if macs {
            format!(
                ", {} → {} multiply-adds",
                thousands(self.dense_cost),
                thousands(self.cost)
            )
        } else {
            String::new()
        };
        write!(
            f,
            "allocated layers: {} → {} parameters{macs_line} ({:.1} % of the budget); \
             Σ weight · ε² = {:.5}",
            thousands(self.dense_parameters),
            thousands(self.parameters),
            100.0 * self.cost as f64 / self.budget.max(1) as f64,
            self.weighted_squared_error()
        )
    }
}
