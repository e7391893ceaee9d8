//! The allocations side by side: each one's ranks at one budget, and its predicted error at
//! every size.

use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use super::solve::Solver;
use super::{Allocation, Allocator, Budget, BudgetUnit, LayerCurve, shapes};
use crate::twin::calibration_grams;
use crate::{LowRank, PelaError, RankPlan};

/// The measure on which an [`AllocationComparison`] judges every allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorMeasure {
    /// Each layer's relative weight error `‖W − W_r‖ / ‖W‖` (no calibration).
    Weight,
    /// Each layer's relative output error on the calibration inputs, at the data-aware
    /// factors' rank `r`.
    Output,
}

impl core::fmt::Display for ErrorMeasure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Weight => "weight error",
            Self::Output => "output error on the calibration data",
        })
    }
}

/// One allocation at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizePoint {
    /// The budget, as a fraction of the layers' dense cost (in the budget's unit).
    pub fraction: f64,
    /// What the chosen ranks cost, in the budget's unit.
    pub cost: usize,
    /// The layers' weighted root-mean-square relative error, `√(Σ weight · ε² / Σ weight)`,
    /// on the comparison's [`ErrorMeasure`].
    pub error: f64,
}

/// One allocation: its ranks at the allocator's budget, and its error at every size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparedAllocation {
    /// Which allocation.
    pub allocation: Allocation,
    /// Its rank of each layer at the allocator's budget (`None`: dense), in the order of
    /// [`AllocationComparison::layers`].
    pub ranks: Vec<Option<usize>>,
    /// Its error at the allocator's budget, as in [`SizePoint::error`].
    pub error: f64,
    /// Its error at each size of the sweep; a size below its smallest model is left out.
    pub sizes: Vec<SizePoint>,
}

/// Every allocation asked for, judged on one [`ErrorMeasure`]: what
/// [`Allocator::compare`] returns, and what `pela compress --plot` draws.
///
/// `serde_json::to_string(&comparison)` writes it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationComparison {
    /// The measure every allocation is judged on: the output error when calibrated.
    pub measure: ErrorMeasure,
    /// The budget's unit.
    pub unit: BudgetUnit,
    /// The allocator's budget, in that unit.
    pub budget: usize,
    /// The allocated layers' dense cost, in that unit.
    pub dense_cost: usize,
    /// The allocated layers' paths, in model order.
    pub layers: Vec<String>,
    /// Each layer's full rank, `min(d_input, d_output)`, in the same order.
    pub full_ranks: Vec<usize>,
    /// The allocations, in the order asked.
    pub allocations: Vec<ComparedAllocation>,
}

impl Allocator {
    /// Runs each of `allocations` on `model` at this allocator's budget and at each budget of
    /// `fractions` (of the layers' dense cost, in the budget's unit), and judges them all on
    /// one measure: the output error on the inputs `calibrated` recorded when it is given
    /// (see [`allocate_data_aware`](Self::allocate_data_aware)), else the weight error. The
    /// allocator's own [`allocation`](Self::allocation) is not used.
    ///
    /// ```
    /// use burn::nn::{Linear, LinearConfig};
    /// use pela::{Allocation, Allocator, Budget, RankPlan};
    /// type B = burn_ndarray::NdArray<f32>;
    ///
    /// let device = Default::default();
    /// let layers: Vec<Linear<B>> = (0..3).map(|_| LinearConfig::new(32, 32).init(&device)).collect();
    /// let allocator = Allocator::new(Budget::Fraction(0.4), Allocation::Spectrum);
    /// let comparison = allocator.compare(
    ///     &layers,
    ///     &RankPlan::new(2.0),
    ///     None,
    ///     &[Allocation::Uniform, Allocation::Spectrum],
    ///     &[0.2, 0.4, 0.6],
    /// )?;
    /// assert_eq!(comparison.allocations[1].sizes.len(), 3);
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    ///
    /// # Errors
    /// [`PelaError::AllocationNeedsCalibration`] for [`Allocation::DataAware`] without
    /// `calibrated`; a fraction outside (0, 1]; the errors of
    /// [`allocate`](Self::allocate).
    pub fn compare<B: Backend, M: LowRank<B>>(
        &self,
        model: &M,
        plan: &RankPlan,
        calibrated: Option<&M::Twin>,
        allocations: &[Allocation],
        fractions: &[f64],
    ) -> Result<AllocationComparison, PelaError> {
        let grams = calibrated.map(calibration_grams).transpose()?;
        if grams.is_none() && allocations.contains(&Allocation::DataAware) {
            return Err(PelaError::AllocationNeedsCalibration);
        }
        let weight_curves = self.layer_curves(model, plan, None)?;
        let output_curves = grams
            .as_ref()
            .map(|grams| self.layer_curves(model, plan, Some(grams)))
            .transpose()?;
        let (judge, measure) = match &output_curves {
            Some(curves) => (curves, ErrorMeasure::Output),
            None => (&weight_curves, ErrorMeasure::Weight),
        };
        let layer_shapes = shapes(&weight_curves);
        let budget = self.budget.amount(&layer_shapes)?;
        let dense_cost: usize = weight_curves.iter().map(|c| c.cost(None)).sum();
        let unit = self.budget.unit();
        let mut budgets = Vec::with_capacity(fractions.len());
        for &fraction in fractions {
            let sized = match unit {
                BudgetUnit::Parameters => Budget::Fraction(fraction),
                BudgetUnit::MultiplyAdds => Budget::MultiplyAddFraction(fraction),
            };
            budgets.push((fraction, sized.amount(&layer_shapes)?));
        }
        let mut compared = Vec::with_capacity(allocations.len());
        for &allocation in allocations {
            let curves = match (allocation, &output_curves) {
                (Allocation::DataAware, Some(curves)) => curves,
                _ => &weight_curves,
            };
            // One exact table answers every size.
            let largest = budgets.iter().map(|b| b.1).fold(budget, usize::max);
            let solver = Solver::new(curves, largest, self.rank_multiple, unit);
            let choose = |amount: usize| match allocation {
                Allocation::Uniform => self.choose(allocation, curves, amount),
                Allocation::Spectrum | Allocation::DataAware => solver.solve(amount),
            };
            let ranks = choose(budget)?;
            let mut sizes = Vec::with_capacity(budgets.len());
            for &(fraction, amount) in &budgets {
                match choose(amount) {
                    Ok(choices) => sizes.push(SizePoint {
                        fraction,
                        cost: cost(judge, &choices),
                        error: error(judge, &choices),
                    }),
                    Err(PelaError::BudgetTooSmall { .. }) => {}
                    Err(other) => return Err(other),
                }
            }
            compared.push(ComparedAllocation {
                allocation,
                error: error(judge, &ranks),
                ranks,
                sizes,
            });
        }
        Ok(AllocationComparison {
            measure,
            unit,
            budget,
            dense_cost,
            layers: weight_curves.iter().map(|c| c.path.clone()).collect(),
            full_ranks: weight_curves
                .iter()
                .map(|c| c.d_input.min(c.d_output))
                .collect(),
            allocations: compared,
        })
    }
}

/// What `choices` cost on `curves`, in their unit.
fn cost(curves: &[LayerCurve], choices: &[Option<usize>]) -> usize {
    curves.iter().zip(choices).map(|(c, &r)| c.cost(r)).sum()
}

/// The weighted root-mean-square relative error of `choices` on `curves`.
fn error(curves: &[LayerCurve], choices: &[Option<usize>]) -> f64 {
    let total: f64 = curves.iter().map(|c| c.weight).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let squared: f64 = curves
        .iter()
        .zip(choices)
        .map(|(c, &r)| c.weight * c.squared_error(r))
        .sum();
    (squared / total).sqrt()
}
