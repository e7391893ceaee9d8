//! One layer's error as a function of its rank.

use serde::{Deserialize, Serialize};

use crate::max_shrinking_rank;

/// What a layer loses at each rank: the squared singular values (largest first) of its
/// weight, or of its weight in its inputs' metric (see [`weight_energies`](crate::weight_energies)
/// and [`output_energies`](crate::output_energies)), how much its error counts, and what one
/// of its parameters costs in the budget.
///
/// At rank `r` the layer keeps the first `r` energies: its relative error is
/// `ε(r) = √(Σ_{i>r} λ_i / Σ λ_i)`, and the allocation minimises `Σ weight · ε(r)²` over the
/// layers.
///
/// ```
/// use pela::LayerCurve;
///
/// let curve = LayerCurve::new("fc", 4, 4, vec![9.0, 4.0, 2.0, 1.0]);
/// assert_eq!(curve.relative_error(Some(1)), (7.0f64 / 16.0).sqrt());
/// assert_eq!(curve.relative_error(None), 0.0); // dense
/// assert_eq!(curve.cost(Some(1)), 8); // parameters: 1 · (4 + 4)
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerCurve {
    /// Module path of the layer.
    pub path: String,
    /// Input size.
    pub d_input: usize,
    /// Output size.
    pub d_output: usize,
    /// The squared singular values, largest first.
    pub energies: Vec<f64>,
    /// How much this layer's `ε(r)²` counts. Default 1: every layer's relative error the same.
    pub weight: f64,
    /// What one of its parameters costs in the budget. Default 1: a budget in parameters; in
    /// multiply-adds, the rows its weight multiplies per input (a Swin's first stage 3136
    /// tokens, its last 49).
    pub cost_per_parameter: usize,
}

impl LayerCurve {
    /// The curve of a `[d_input, d_output]` layer, weight 1.
    pub fn new(
        path: impl Into<String>,
        d_input: usize,
        d_output: usize,
        energies: Vec<f64>,
    ) -> Self {
        Self {
            path: path.into(),
            d_input,
            d_output,
            energies,
            weight: 1.0,
            cost_per_parameter: 1,
        }
    }

    /// The relative error at `rank` (`None`: dense, 0).
    pub fn relative_error(&self, rank: Option<usize>) -> f64 {
        self.squared_error(rank).sqrt()
    }

    /// `ε(r)²`, the fraction of the energy the rank leaves out.
    pub(crate) fn squared_error(&self, rank: Option<usize>) -> f64 {
        let Some(rank) = rank else { return 0.0 };
        let total: f64 = self.energies.iter().sum();
        if total <= 0.0 {
            return 0.0;
        }
        let tail: f64 = self.energies.iter().skip(rank).sum();
        (tail / total).clamp(0.0, 1.0)
    }

    /// What the layer costs in the budget at `rank` (`None`: dense).
    pub fn cost(&self, rank: Option<usize>) -> usize {
        let parameters = rank.map_or(self.d_input * self.d_output, |r| {
            r * (self.d_input + self.d_output)
        });
        parameters * self.cost_per_parameter
    }

    /// The choices of this layer, cheapest first: each multiple of `multiple` up to the largest
    /// rank that still shrinks it, then dense. Each is `(rank, cost, weighted error)`.
    pub(crate) fn choices(&self, multiple: usize) -> Vec<(Option<usize>, usize, f64)> {
        let top = max_shrinking_rank(self.d_input, self.d_output);
        let multiple = multiple.max(1);
        // tails[r] = Σ_{i ≥ r} λ_i: every rank's error from one pass, not one sum per rank.
        let mut tails = vec![0.0; self.energies.len() + 1];
        for (i, energy) in self.energies.iter().enumerate().rev() {
            tails[i] = tails[i + 1] + energy;
        }
        let total = tails[0];
        let squared_error = |rank: usize| {
            if total <= 0.0 {
                0.0
            } else {
                (tails[rank.min(self.energies.len())] / total).clamp(0.0, 1.0)
            }
        };
        let mut choices: Vec<_> = (1..=top / multiple)
            .map(|k| {
                let rank = k * multiple;
                (
                    Some(rank),
                    self.cost(Some(rank)),
                    self.weight * squared_error(rank),
                )
            })
            .collect();
        choices.push((None, self.cost(None), 0.0));
        choices
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_choice_has_the_error_of_its_rank() {
        let energies: Vec<f64> = (0..40).map(|i| 0.9f64.powi(i) * 3.0).collect();
        let mut curve = LayerCurve::new("fc", 40, 60, energies);
        curve.weight = 2.5;
        for multiple in [1, 3, 8] {
            let choices = curve.choices(multiple);
            // Ranks in steps of `multiple` below 40 · 60 / 100 = 24, then dense.
            assert_eq!(choices.len(), 23 / multiple + 1);
            for (rank, cost, error) in &choices {
                assert_eq!(*cost, curve.cost(*rank));
                let expected = 2.5 * curve.squared_error(*rank);
                assert!(
                    (error - expected).abs() < 1e-12,
                    "{rank:?}: {error} against {expected}"
                );
            }
        }
    }
}
