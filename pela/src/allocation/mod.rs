//! Ranks chosen per layer under one budget, instead of one κ for every layer.
//!
//! PELA gives every layer the rank of the same compression ratio κ. At the same size, ranks
//! chosen per layer lose less (ASVD, SVD-LLM V2, LEMS): a layer whose spectrum falls fast can
//! give up more rank than one whose spectrum is flat. An [`Allocator`] takes a [`Budget`]
//! (parameters, a fraction of them, or the size of a κ; or multiply-adds per input, where a
//! layer's parameters cost once per row its weight multiplies) and an [`Allocation`], measures
//! each layer's error as a function of its rank ([`LayerCurve`]) and chooses all ranks together
//! to minimise the summed error within the budget: a multiple-choice knapsack, solved exactly
//! by dynamic programming over the budget where its table fits (DeiT-Base at rank step 1
//! does), else by marginal gains on the curves' convex hulls (optimal for the budget it uses).
//! The result is a [`RankPlan`] with every layer's rank
//! written out, so a run is reproducible from the plan file, and an [`AllocationReport`].
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use pela::{Allocation, Allocator, Budget, LowRank, RankPlan};
//! type B = burn_ndarray::NdArray<f32>;
//!
//! let device = Default::default();
//! let layers: Vec<Linear<B>> = (0..3).map(|_| LinearConfig::new(64, 64).init(&device)).collect();
//! let allocator = Allocator::new(Budget::Ratio(2.0), Allocation::Spectrum);
//! let (plan, report) = allocator.allocate(&layers, &RankPlan::new(2.0))?;
//! println!("{report}");
//! assert!(report.cost <= report.budget); // in parameters here
//! let student = layers.to_low_rank(&plan)?; // the ranks the allocation chose
//! # let _ = student;
//! # Ok::<(), pela::PelaError>(())
//! ```

mod budget;
mod comparison;
mod curve;
mod report;
mod sensitivity;
mod solve;

pub use budget::{Budget, BudgetUnit};
pub use comparison::{AllocationComparison, ComparedAllocation, ErrorMeasure, SizePoint};
pub use curve::LayerCurve;
pub use report::{AllocationReport, LayerAllocation};
pub use sensitivity::{LayerSensitivity, Sensitivities};

use std::collections::HashMap;

use burn::config::Config;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::twin::calibration_grams;

/// Each calibrated layer's Gram matrix of inputs `XᵀX`, by path.
type Grams = HashMap<String, ndarray::Array2<f64>>;

/// The layers `plan` leaves to an allocation, in model order: low-rank, without an override
/// of their own; each with the rank `plan` gives it.
pub(crate) fn allocated_layers<B: Backend, M: LowRank<B>>(
    model: &M,
    plan: &RankPlan,
) -> Result<Vec<(crate::LayerReport, usize)>, PelaError> {
    let mut allocated = Vec::new();
    for layer in model.preview(plan)?.layers {
        if let Some(rank) = layer.decision.rank()
            && !plan.overrides_layer(&layer.path)?
        {
            allocated.push((layer, rank));
        }
    }
    Ok(allocated)
}

/// Each curve's `(d_input, d_output, rows)`, as [`Budget::amount`] takes them.
fn shapes(curves: &[LayerCurve]) -> Vec<(usize, usize, usize)> {
    curves
        .iter()
        .map(|c| (c.d_input, c.d_output, c.cost_per_parameter))
        .collect()
}
use crate::{
    LowRank, ModulePath, PelaError, RankPlan, output_energies, rank_for_ratio, weight_energies,
};

/// How an [`Allocator`] measures what a layer loses at each rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Allocation {
    /// PELA's rule: one κ for every layer, the κ whose ranks fit the budget (the baseline).
    Uniform,
    /// From each weight's own singular values: the relative weight error `‖W − W_r‖ / ‖W‖`.
    /// Needs no data.
    Spectrum,
    /// From calibration: the singular values of `X·W` give each layer's relative output
    /// error `‖X·W − X·Ŵ_r‖ / ‖X·W‖` at every rank exactly, for the data-aware
    /// (whitened) factors. See [`Allocator::allocate_data_aware`].
    DataAware,
}

impl core::fmt::Display for Allocation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Uniform => "uniform",
            Self::Spectrum => "spectrum",
            Self::DataAware => "data-aware",
        })
    }
}

/// Chooses each layer's rank within a [`Budget`] (see the [module](self)).
///
/// It is a Burn [`Config`]: save it beside the plan it wrote.
#[derive(Config, Debug, PartialEq)]
pub struct Allocator {
    /// What the allocated layers may keep.
    pub budget: Budget,
    /// How each layer's error is measured.
    pub allocation: Allocation,
    /// Ranks are multiples of this (8 suits GPU kernels). Default 1.
    #[config(default = 1)]
    pub rank_multiple: usize,
    /// How much each layer's squared relative error counts, by layer path (e.g. measured
    /// sensitivities); a layer not named counts 1. Default: none.
    #[config(default = "HashMap::new()")]
    pub layer_weights: HashMap<String, f64>,
    /// The rows each layer's weight multiplies per input (its tokens; 1 for a head on one
    /// pooled vector), by layer path: what a parameter costs in a budget of multiply-adds,
    /// which needs every allocated layer here. Unused by a budget in parameters. Default: none.
    #[config(default = "HashMap::new()")]
    pub layer_rows: HashMap<String, usize>,
}

impl Allocator {
    /// Allocates ranks to the layers `plan` compresses, by [`Allocation::Uniform`] or
    /// [`Allocation::Spectrum`]: `plan`'s exclusions stay dense and its overrides keep their
    /// ranks (their parameters are outside the budget). Returns `plan` with every allocated
    /// layer's rank (or `keep_dense`) written out, and the report.
    ///
    /// # Errors
    /// [`PelaError::NotCalibrated`] for [`Allocation::DataAware`] (use
    /// [`allocate_data_aware`](Self::allocate_data_aware)); an invalid budget, one below the
    /// smallest model, or one in multiply-adds with a layer missing from
    /// [`layer_rows`](Self::layer_rows); the plan's own errors.
    pub fn allocate<B: Backend, M: LowRank<B>>(
        &self,
        model: &M,
        plan: &RankPlan,
    ) -> Result<(RankPlan, AllocationReport), PelaError> {
        if self.allocation == Allocation::DataAware {
            return Err(PelaError::AllocationNeedsCalibration);
        }
        self.solve(model, plan, None)
    }

    /// [`allocate`](Self::allocate) from the inputs `calibrated` (a
    /// [`calibration_twin`](LowRank::calibration_twin) run on calibration data) recorded:
    /// [`Allocation::DataAware`] measures output errors on them; the other two ignore them.
    /// Initialise the student with [`LowRank::to_low_rank_data_aware`] and the returned plan,
    /// for which the report's errors are exact.
    ///
    /// # Errors
    /// As [`allocate`](Self::allocate); [`PelaError::NotCalibrated`] when a layer recorded no
    /// inputs.
    pub fn allocate_data_aware<B: Backend, M: LowRank<B>>(
        &self,
        model: &M,
        plan: &RankPlan,
        calibrated: &M::Twin,
    ) -> Result<(RankPlan, AllocationReport), PelaError> {
        let grams = calibration_grams(calibrated)?;
        self.solve(model, plan, Some(&grams))
    }

    fn solve<B: Backend, M: LowRank<B>>(
        &self,
        model: &M,
        plan: &RankPlan,
        grams: Option<&Grams>,
    ) -> Result<(RankPlan, AllocationReport), PelaError> {
        let data_aware = self.allocation == Allocation::DataAware;
        let curves = self.layer_curves(model, plan, grams.filter(|_| data_aware))?;
        let budget = self.budget.amount(&shapes(&curves))?;
        let choices = self.choose(self.allocation, &curves, budget)?;
        let mut written = plan.clone();
        let mut layers = Vec::with_capacity(curves.len());
        for (curve, choice) in curves.iter().zip(&choices) {
            match choice {
                Some(rank) => written = written.rank_for(curve.path.clone(), *rank),
                None => written.dense_by_allocation.push(curve.path.clone()),
            }
            layers.push(LayerAllocation {
                path: curve.path.clone(),
                d_input: curve.d_input,
                d_output: curve.d_output,
                rank: *choice,
                relative_error: curve.relative_error(*choice),
                weight: curve.weight,
                cost_per_parameter: curve.cost_per_parameter,
            });
        }
        let report = AllocationReport::new(self.clone(), budget, layers);
        Ok((written, report))
    }

    /// The curves of the layers `plan` leaves to the allocation (low-rank, without an override
    /// of their own), in model order: from the output energies on `grams` when given, else
    /// from the weights' singular values; each with its weight and its cost in the budget's
    /// unit.
    fn layer_curves<B: Backend, M: LowRank<B>>(
        &self,
        model: &M,
        plan: &RankPlan,
        grams: Option<&Grams>,
    ) -> Result<Vec<LayerCurve>, PelaError> {
        if self.rank_multiple == 0 {
            return Err(PelaError::ZeroRank {
                scope: "as the allocation's rank multiple".into(),
            });
        }
        let allocated: Vec<(String, usize, usize)> = allocated_layers(model, plan)?
            .into_iter()
            .map(|(layer, _)| (layer.path, layer.d_input, layer.d_output))
            .collect();
        let unit = self.budget.unit();
        let mut cost_per_parameter = Vec::with_capacity(allocated.len());
        for (path, _, _) in &allocated {
            cost_per_parameter.push(match unit {
                BudgetUnit::Parameters => 1,
                BudgetUnit::MultiplyAdds => match self.layer_rows.get(path) {
                    Some(&rows) if rows > 0 => rows,
                    rows => {
                        return Err(PelaError::InvalidBudget {
                            budget: self.budget.to_string(),
                            reason: format!(
                                "layer `{path}` has {} in `Allocator::layer_rows`: a budget of \
                                 multiply-adds needs the rows each allocated layer's weight \
                                 multiplies per input",
                                rows.map_or("no rows".to_string(), |_| "0 rows".to_string())
                            ),
                        });
                    }
                },
            });
        }
        let mut weights = HashMap::new();
        model.visit_linears(&mut ModulePath::default(), &mut |path, linear| {
            weights.insert(path.to_string(), linear.weight.val());
        });
        let mut curves = Vec::with_capacity(allocated.len());
        for ((path, d_input, d_output), cost) in allocated.iter().zip(cost_per_parameter) {
            let weight = weights
                .remove(path)
                .ok_or_else(|| PelaError::UnknownLayers {
                    layers: vec![path.clone()],
                    known: Vec::new(),
                })?;
            let energies = match grams {
                Some(grams) => {
                    let gram = grams.get(path).ok_or_else(|| PelaError::NotCalibrated {
                        layers: vec![path.clone()],
                    })?;
                    output_energies(path, weight, gram.view())?
                }
                None => weight_energies(path, weight)?,
            };
            let mut curve = LayerCurve::new(path.clone(), *d_input, *d_output, energies);
            curve.weight = self.layer_weights.get(path).copied().unwrap_or(1.0);
            curve.cost_per_parameter = cost;
            curves.push(curve);
        }
        Ok(curves)
    }

    /// The ranks `allocation` gives `curves` within `budget` (in the budget's unit).
    fn choose(
        &self,
        allocation: Allocation,
        curves: &[LayerCurve],
        budget: usize,
    ) -> Result<Vec<Option<usize>>, PelaError> {
        Ok(match allocation {
            Allocation::Uniform => self.uniform(curves, budget)?,
            Allocation::Spectrum | Allocation::DataAware => {
                solve::allocate(curves, budget, self.rank_multiple, self.budget.unit())?
            }
        })
    }

    /// The uniform rule: the smallest κ (on a grid of 1/1000) whose ranks, rounded down to the
    /// rank multiple, fit the budget.
    fn uniform(
        &self,
        curves: &[LayerCurve],
        budget: usize,
    ) -> Result<Vec<Option<usize>>, PelaError> {
        let multiple = self.rank_multiple;
        let ranks = |ratio: f64| -> Vec<Option<usize>> {
            curves
                .iter()
                .map(|c| {
                    let top = crate::max_shrinking_rank(c.d_input, c.d_output);
                    let rank = rank_for_ratio(c.d_input, c.d_output, ratio).min(top);
                    let rank = (rank / multiple * multiple).max(multiple);
                    (rank <= top).then_some(rank)
                })
                .collect()
        };
        let cost = |ranks: &[Option<usize>]| -> usize {
            curves.iter().zip(ranks).map(|(c, &r)| c.cost(r)).sum()
        };
        // The cost falls as κ rises: bisect κ = k / 1000 over (1, 1000].
        let (mut low, mut high) = (1001usize, 1_000_000usize);
        while low < high {
            let middle = (low + high) / 2;
            if cost(&ranks(middle as f64 / 1000.0)) <= budget {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        let chosen = ranks(low as f64 / 1000.0);
        let spent = cost(&chosen);
        if spent > budget {
            return Err(PelaError::BudgetTooSmall {
                budget,
                smallest: spent,
                unit: self.budget.unit(),
                layers: curves.len(),
            });
        }
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Distribution, Tensor};

    use super::*;
    use crate::LowRankStudent;

    type B = burn_ndarray::NdArray<f32>;

    /// Three 48×48 layers: a spectrum that falls fast, a flat one, and one between.
    fn layers() -> Vec<Linear<B>> {
        let device = Default::default();
        B::seed(&device, 3);
        [0.6f32, 1.0, 0.85]
            .iter()
            .map(|&decay| {
                let mut layer = LinearConfig::new(48, 48).init::<B>(&device);
                let a = Tensor::<B, 2>::random([48, 48], Distribution::Normal(0.0, 1.0), &device);
                let scale = Tensor::<B, 1>::from_floats(
                    core::array::from_fn::<f32, 48, _>(|i| decay.powi(i as i32)),
                    &device,
                );
                layer.weight = Param::from_tensor(a * scale.unsqueeze());
                layer
            })
            .collect()
    }

    #[test]
    fn the_spectrum_allocation_beats_uniform_at_the_same_size() {
        let model = layers();
        let plan = RankPlan::new(2.0);
        let uniform = Allocator::new(Budget::Ratio(2.0), Allocation::Uniform);
        let spectrum = Allocator::new(Budget::Ratio(2.0), Allocation::Spectrum);
        let (uniform_plan, uniform) = uniform.allocate(&model, &plan).unwrap();
        let (spectrum_plan, spectrum) = spectrum.allocate(&model, &plan).unwrap();
        // Uniform at the budget of its own κ is PELA's plan: rank 12 everywhere.
        assert_eq!(
            uniform.ranks().values().copied().collect::<Vec<_>>(),
            vec![12; 3]
        );
        assert_eq!(uniform.budget, 3 * 12 * 96);
        assert!(spectrum.parameters <= spectrum.budget);
        assert!(
            spectrum.budget - spectrum.parameters < 96,
            "less than one rank step unused"
        );
        assert!(spectrum.weighted_squared_error() < uniform.weighted_squared_error());
        // The flat spectrum gets the most rank (or stays dense), the fast one the least.
        let rank = |i: usize| spectrum.layers[i].rank.unwrap_or(48);
        assert!(
            rank(0) < rank(2) && rank(2) < rank(1),
            "{:?}",
            spectrum.ranks()
        );
        // The written plans convert to exactly those ranks, with the predicted weight errors.
        for (plan, report) in [(uniform_plan, uniform), (spectrum_plan, spectrum)] {
            let (_, converted) = model.to_low_rank_with_report(&plan).unwrap();
            for (layer, allocated) in converted.layers.iter().zip(&report.layers) {
                assert_eq!(layer.decision.rank(), allocated.rank);
                let measured = layer.error.map_or(0.0, |e| e.relative);
                assert!(
                    (measured - allocated.relative_error).abs() < 1e-4,
                    "{}",
                    layer.path
                );
            }
        }
    }

    #[test]
    fn the_data_aware_allocation_predicts_the_output_errors_it_gets() {
        let model = layers();
        let device = Default::default();
        let calibrated = model.calibration_twin().unwrap();
        // Each layer sees inputs of unequal scales along its axes.
        let x = Tensor::<B, 2>::random([256, 48], Distribution::Normal(0.0, 1.0), &device)
            * Tensor::<B, 1>::from_floats(
                core::array::from_fn::<f32, 48, _>(|i| 0.05 + (i % 7) as f32),
                &device,
            )
            .unsqueeze();
        for layer in &calibrated {
            let _ = layer.forward(x.clone());
        }
        let plan = RankPlan::new(2.0);
        let allocator =
            Allocator::new(Budget::Fraction(0.3), Allocation::DataAware).with_rank_multiple(4);
        assert!(matches!(
            allocator.allocate(&model, &plan),
            Err(PelaError::AllocationNeedsCalibration)
        ));
        let (written, report) = allocator
            .allocate_data_aware(&model, &plan, &calibrated)
            .unwrap();
        assert!(report.parameters <= report.budget);
        assert!(report.ranks().values().all(|r| r % 4 == 0));
        let (student, converted) = model.to_low_rank_data_aware(&written, &calibrated).unwrap();
        for (layer, allocated) in converted.layers.iter().zip(&report.layers) {
            assert_eq!(layer.decision.rank(), allocated.rank);
            let measured = layer.output_error.unwrap().data_aware;
            assert!(
                (measured - allocated.relative_error).abs() < 1e-4,
                "{}: predicted {}, measured {measured}",
                layer.path,
                allocated.relative_error
            );
        }
        assert_eq!(student.low_rank_layers().len(), 3);
    }

    #[test]
    fn a_budget_of_multiply_adds_charges_each_layer_its_rows() {
        // Three copies of one layer, applied to 1, 2 and 4 rows per input.
        let one = layers().swap_remove(2);
        let model = vec![one.clone(), one.clone(), one];
        let plan = RankPlan::new(2.0);
        let rows: HashMap<String, usize> = [("0", 1), ("1", 2), ("2", 4)]
            .map(|(p, r)| (p.to_string(), r))
            .into();
        let allocator = Allocator::new(Budget::MultiplyAddFraction(0.4), Allocation::Spectrum)
            .with_layer_rows(rows.clone());
        let (written, report) = allocator.allocate(&model, &plan).unwrap();
        // 40 % of the dense multiply-adds, 48 · 48 · (1 + 2 + 4), met within one rank step of
        // the dearest layer.
        assert_eq!(report.budget, (0.4 * (48 * 48 * 7) as f64) as usize);
        assert_eq!(report.dense_cost, 48 * 48 * 7);
        let macs: usize = report
            .layers
            .iter()
            .map(|l| l.parameters() * rows[&l.path])
            .sum();
        assert_eq!(report.cost, macs);
        assert!(report.cost <= report.budget && report.budget - report.cost < 96 * 4);
        // The same error costs the layer of one row a quarter of what it costs the layer of
        // four: it keeps more rank.
        let ranks: Vec<usize> = report.layers.iter().map(|l| l.rank.unwrap_or(48)).collect();
        assert!(
            ranks[0] >= ranks[1] && ranks[1] >= ranks[2] && ranks[0] > ranks[2],
            "{ranks:?}"
        );
        // The plan converts to exactly those ranks.
        let converted = model.preview(&written).unwrap();
        for (layer, allocated) in converted.layers.iter().zip(&report.layers) {
            assert_eq!(layer.decision.rank(), allocated.rank);
        }
        // Rows the same everywhere: the allocation of that many parameters, rank for rank.
        let even = [("0", 3), ("1", 3), ("2", 3)]
            .map(|(p, r)| (p.to_string(), r))
            .into();
        let by_macs = Allocator::new(Budget::MultiplyAdds(3 * 3000), Allocation::Spectrum)
            .with_layer_rows(even);
        let by_parameters = Allocator::new(Budget::Parameters(3000), Allocation::Spectrum);
        assert_eq!(
            by_macs.allocate(&model, &plan).unwrap().1.ranks(),
            by_parameters.allocate(&model, &plan).unwrap().1.ranks()
        );
        // A layer without rows is named, not charged one row.
        let missing = Allocator::new(Budget::MultiplyAdds(9000), Allocation::Uniform)
            .with_layer_rows([("0".to_string(), 1)].into());
        let error = missing.allocate(&model, &plan).unwrap_err().to_string();
        assert!(
            error.contains("layer `1`") && error.contains("layer_rows"),
            "{error}"
        );
    }

    #[test]
    fn a_layer_with_an_override_keeps_its_rank_outside_the_budget() {
        let model = layers();
        let plan = RankPlan::new(2.0).rank_for("1", 5).keep_dense("2");
        let allocator = Allocator::new(Budget::Parameters(20 * 96), Allocation::Spectrum);
        let (written, report) = allocator.allocate(&model, &plan).unwrap();
        assert_eq!(report.layers.len(), 1);
        assert_eq!(report.ranks()["0"], 20);
        let converted = model.preview(&written).unwrap();
        let ranks: Vec<_> = converted.layers.iter().map(|l| l.decision.rank()).collect();
        assert_eq!(ranks, vec![Some(20), Some(5), None]);
        // Too small for even rank 1 of layer 0.
        let tiny = Allocator::new(Budget::Parameters(95), Allocation::Spectrum);
        assert!(matches!(
            tiny.allocate(&model, &plan),
            Err(PelaError::BudgetTooSmall { smallest: 96, .. })
        ));
    }

    #[test]
    fn the_comparison_runs_each_allocation_as_the_allocator_would() {
        let model = layers();
        let plan = RankPlan::new(2.0);
        let allocator = Allocator::new(Budget::Fraction(0.3), Allocation::Spectrum);
        let fractions = [0.1, 0.3, 0.5, 0.9];
        let both = [Allocation::Uniform, Allocation::Spectrum];
        let comparison = allocator
            .compare(&model, &plan, None, &both, &fractions)
            .unwrap();
        assert_eq!(comparison.measure, ErrorMeasure::Weight);
        assert_eq!(comparison.layers, ["0", "1", "2"]);
        assert_eq!(comparison.full_ranks, [48; 3]);
        let dense = 3 * 48 * 48;
        assert_eq!(comparison.dense_cost, dense);
        assert_eq!(comparison.budget, (0.3 * dense as f64) as usize);
        let rms = |report: &AllocationReport| (report.weighted_squared_error() / 3.0).sqrt();
        for compared in &comparison.allocations {
            let alone = |fraction| {
                Allocator::new(Budget::Fraction(fraction), compared.allocation)
                    .allocate(&model, &plan)
                    .unwrap()
                    .1
            };
            // At the budget: the ranks the allocation alone chooses, and its report's error.
            let report = alone(0.3);
            let ranks: Vec<_> = report.layers.iter().map(|l| l.rank).collect();
            assert_eq!(compared.ranks, ranks, "{}", compared.allocation);
            assert!((compared.error - rms(&report)).abs() < 1e-9);
            // 10 % (691 parameters) holds rank 1 of every layer (96 each): every size is there.
            assert_eq!(compared.sizes.len(), fractions.len());
            for point in &compared.sizes {
                let report = alone(point.fraction);
                assert_eq!(point.cost, report.cost);
                assert!(point.cost as f64 <= point.fraction * dense as f64);
                assert!((point.error - rms(&report)).abs() < 1e-9);
            }
            let errors: Vec<f64> = compared.sizes.iter().map(|p| p.error).collect();
            assert!(errors.windows(2).all(|e| e[1] < e[0]), "{errors:?}");
        }
        // Convex curves of equal rank steps: the spectrum allocation is optimal on the weight
        // error at every size, so never above uniform.
        let (uniform, spectrum) = (&comparison.allocations[0], &comparison.allocations[1]);
        for (u, s) in uniform.sizes.iter().zip(&spectrum.sizes) {
            assert!(s.error <= u.error + 1e-12, "{u:?} against {s:?}");
        }
        assert!(matches!(
            allocator.compare(&model, &plan, None, &[Allocation::DataAware], &fractions),
            Err(PelaError::AllocationNeedsCalibration)
        ));

        // Calibrated: every allocation judged on the output error, where data-aware is optimal.
        let device = Default::default();
        let calibrated = model.calibration_twin().unwrap();
        let x = Tensor::<B, 2>::random([128, 48], Distribution::Normal(0.0, 1.0), &device)
            * Tensor::<B, 1>::from_floats(
                core::array::from_fn::<f32, 48, _>(|i| 0.1 + (i % 5) as f32),
                &device,
            )
            .unsqueeze();
        for layer in &calibrated {
            let _ = layer.forward(x.clone());
        }
        let all = [
            Allocation::Uniform,
            Allocation::Spectrum,
            Allocation::DataAware,
        ];
        let comparison = allocator
            .compare(&model, &plan, Some(&calibrated), &all, &fractions)
            .unwrap();
        assert_eq!(comparison.measure, ErrorMeasure::Output);
        let (_, report) = Allocator::new(Budget::Fraction(0.3), Allocation::DataAware)
            .allocate_data_aware(&model, &plan, &calibrated)
            .unwrap();
        let aware = &comparison.allocations[2];
        assert_eq!(
            aware.ranks,
            report.layers.iter().map(|l| l.rank).collect::<Vec<_>>()
        );
        assert!((aware.error - rms(&report)).abs() < 1e-9);
        for other in &comparison.allocations[..2] {
            assert!(aware.error <= other.error + 1e-12);
            for (o, a) in other.sizes.iter().zip(&aware.sizes) {
                assert!(a.error <= o.error + 1e-12, "{o:?} against {a:?}");
            }
        }
    }

    #[test]
    fn a_layer_the_allocation_keeps_dense_is_reported_so() {
        // Three quarters of the size of two layers, one of whose spectra falls much faster:
        // the flat one stays dense (a step of rank 23 to dense costs 96 parameters, as one rank
        // does), and the plan says the allocation chose so.
        let model = layers();
        let plan = RankPlan::new(2.0).keep_dense("2");
        let allocator = Allocator::new(Budget::Fraction(0.75), Allocation::Spectrum);
        let (written, report) = allocator.allocate(&model, &plan).unwrap();
        assert_eq!(report.layers[1].rank, None, "{report}");
        assert_eq!(written.dense_by_allocation, ["1"]);
        let preview = model.preview(&written).unwrap();
        assert_eq!(
            preview.layers[1].decision,
            crate::LayerDecision::Dense(crate::DenseReason::Allocated)
        );
        assert!(
            preview
                .to_string()
                .contains("kept dense by the rank allocation")
        );
        // The user's own exclusion keeps its reason.
        assert_eq!(
            preview.layers[2].decision,
            crate::LayerDecision::Dense(crate::DenseReason::Excluded {
                pattern: "2".into()
            })
        );
        // The plan file keeps the reason, and names a path the model lacks.
        let back: RankPlan = serde_json::from_str(&written.to_string()).unwrap();
        assert_eq!(back, written);
        assert_eq!(
            written.unmatched_patterns(["0", "2"]).unwrap(),
            vec!["1".to_string()]
        );
    }
}
