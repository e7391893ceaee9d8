//! How much each layer's error matters to the model's output, measured end to end (ASVD's
//! sensitivity, Yuan et al. 2023): the weights of the data-aware allocation.
//!
//! The data-aware allocation minimises `Σ weight_ℓ · ε_ℓ(r_ℓ)²`, where `ε_ℓ` is layer `ℓ`'s own
//! relative output error. With every weight 1, a layer's error counts the same wherever it is,
//! though an error in one layer may be damped by the layers after it and another's amplified.
//! [`Sensitivities::measure`] truncates each layer alone, at its probe rank `r₀` (the rank
//! `plan` gives it), with its data-aware factors, runs the model on the calibration data and
//! measures the relative change of the model's outputs, `E_ℓ = ‖Y_ℓ − Y‖ / ‖Y‖`. Its weight is
//! `E_ℓ² / ε_ℓ(r₀)²`, so that the objective at the probe ranks is the sum of the measured
//! end-to-end errors: a first-order model, in which a layer's effect on the outputs grows in
//! proportion to its own error and the layers' effects add (LEMS's layer-wise error model).
//! It costs one pass over the calibration data for each layer, and one for the teacher.

use std::collections::HashMap;
use std::time::Instant;

use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::conversion::{Conversion, Fitted, Mode, ModulePath, NoProgress, Staged};
use crate::twin::calibration_grams;
use crate::{LayerReport, LowRank, PelaError, Progress, RankPlan, factorize_data_aware};

/// One layer's measured sensitivity (see [`Sensitivities`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSensitivity {
    /// Module path of the layer.
    pub path: String,
    /// The probe rank `r₀` it was truncated to.
    pub rank: usize,
    /// `ε(r₀)`: its own relative output error on the calibration inputs.
    pub layer_error: f64,
    /// `E`: the relative change of the model's outputs with this layer alone truncated.
    pub model_error: f64,
    /// `E² / ε(r₀)²`: how much its `ε²` counts in the allocation.
    pub weight: f64,
}

impl LayerSensitivity {
    /// `E² / ε(r₀)²`, where the layer lost something at its probe rank.
    fn ratio(&self) -> Option<f64> {
        (self.layer_error > 0.0).then(|| (self.model_error / self.layer_error).powi(2))
    }
}

/// Every allocated layer's sensitivity: what its error does to the model's outputs.
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use burn::tensor::{Distribution, Tensor};
/// use pela::{Allocation, Allocator, Budget, LowRank, PelaError, RankPlan, Sensitivities};
/// type B = burn_ndarray::NdArray<f32>;
///
/// let device = Default::default();
/// let model: Vec<Linear<B>> = (0..2).map(|_| LinearConfig::new(32, 32).init(&device)).collect();
/// let inputs = Tensor::<B, 2>::random([128, 32], Distribution::Normal(0.0, 1.0), &device);
/// // Your model's forward on the calibration batches, its outputs as one tensor.
/// let outputs = |layers: &Vec<pela::StudentLinear<B>>| {
///     Ok::<_, PelaError>(layers.iter().fold(inputs.clone(), |h, layer| layer.forward(h)))
/// };
/// let calibrated = model.calibration_twin()?;
/// outputs(&calibrated)?;
/// let plan = RankPlan::new(2.0); // the probe ranks: those of κ = 2
/// let sensitivities = Sensitivities::measure(&model, &plan, &calibrated, outputs)?;
/// println!("{sensitivities}");
/// let allocator = Allocator::new(Budget::Ratio(2.0), Allocation::DataAware)
///     .with_layer_weights(sensitivities.weights());
/// let (plan, report) = allocator.allocate_data_aware(&model, &plan, &calibrated)?;
/// # let _ = (plan, report);
/// # Ok::<(), PelaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sensitivities {
    /// The layers, in model order.
    pub layers: Vec<LayerSensitivity>,
}

impl Sensitivities {
    /// Measures the sensitivity of every layer `plan` leaves to the allocation (low-rank,
    /// without an override of its own), each truncated alone at the rank `plan` gives it with
    /// its data-aware factors from `calibrated` (a [`calibration_twin`](LowRank::calibration_twin)
    /// run on the calibration data). `outputs` runs the model's forward on the calibration
    /// batches through the twin it is handed and returns the outputs to compare (the features
    /// or logits that matter, concatenated over the batches); it is called once for the teacher
    /// and once for each layer, and must feed the same batches each time.
    ///
    /// A layer that loses nothing at its probe rank gets the mean weight of the others.
    ///
    /// # Errors
    /// The plan's errors; [`PelaError::NotCalibrated`] when a layer recorded no inputs;
    /// [`PelaError::ShapeMismatch`] when `outputs` returns outputs of different sizes; the
    /// errors of `outputs`, as they are.
    pub fn measure<B, M, E, const D: usize>(
        model: &M,
        plan: &RankPlan,
        calibrated: &M::Twin,
        outputs: impl FnMut(&M::Twin) -> Result<Tensor<B, D>, E>,
    ) -> Result<Self, E>
    where
        B: Backend,
        M: LowRank<B>,
        E: From<PelaError>,
    {
        Self::measure_with_progress(model, plan, calibrated, &NoProgress, outputs)
    }

    /// [`measure`](Self::measure), telling `progress` about each layer as it is measured (its
    /// probe rank, and the seconds its pass took).
    ///
    /// # Errors
    /// As [`measure`](Self::measure).
    pub fn measure_with_progress<B, M, E, const D: usize>(
        model: &M,
        plan: &RankPlan,
        calibrated: &M::Twin,
        progress: &dyn Progress,
        mut outputs: impl FnMut(&M::Twin) -> Result<Tensor<B, D>, E>,
    ) -> Result<Self, E>
    where
        B: Backend,
        M: LowRank<B>,
        E: From<PelaError>,
    {
        let grams = calibration_grams(calibrated)?;
        let mut teachers: HashMap<String, &Linear<B>> = HashMap::new();
        model.visit_linears(&mut ModulePath::default(), &mut |path, linear| {
            teachers.insert(path.to_string(), linear);
        });
        let reference = host(outputs(&stage(model, plan, HashMap::new())?)?);
        let reference_energy: f64 = reference.iter().map(|y| y * y).sum();
        let mut layers = Vec::new();
        for (layer, rank) in super::allocated_layers(model, plan)? {
            let started = Instant::now();
            let path = layer.path.as_str();
            let gram = grams.get(path).ok_or_else(|| PelaError::NotCalibrated {
                layers: vec![path.to_string()],
            })?;
            let linear = *teachers.get(path).ok_or_else(|| PelaError::UnknownLayers {
                layers: vec![path.to_string()],
                known: Vec::new(),
            })?;
            let (factors, output) =
                factorize_data_aware(path, linear.weight.val(), rank, gram.view())?;
            let report = LayerReport::low_rank(
                path,
                layer.d_input,
                layer.d_output,
                linear.bias.is_some(),
                rank,
                factors.error,
            );
            let done = HashMap::from([(
                path.to_string(),
                (factors.u.into_data(), factors.v.into_data(), report),
            )]);
            let truncated = host(outputs(&stage(model, plan, done)?)?);
            if truncated.len() != reference.len() {
                return Err(PelaError::ShapeMismatch {
                    what: format!(
                        "the model's outputs with `{path}` truncated (the sensitivity's \
                         `outputs` must run the same batches every time)"
                    ),
                    student: vec![truncated.len()],
                    teacher: vec![reference.len()],
                }
                .into());
            }
            let change: f64 = truncated
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            let model_error = (change / reference_energy.max(f64::MIN_POSITIVE)).sqrt();
            layers.push(LayerSensitivity {
                path: path.to_string(),
                rank,
                layer_error: output.data_aware,
                model_error,
                weight: f64::NAN, // set below, once every layer is measured
            });
            progress.on_layer_factorised(path, rank, started.elapsed().as_secs_f64());
        }
        // A layer that lost nothing has no measured ratio: it gets the others' mean.
        let measured: Vec<f64> = layers.iter().filter_map(LayerSensitivity::ratio).collect();
        let mean = if measured.is_empty() {
            1.0
        } else {
            measured.iter().sum::<f64>() / measured.len() as f64
        };
        for layer in &mut layers {
            layer.weight = layer.ratio().unwrap_or(mean);
        }
        Ok(Self { layers })
    }

    /// Each layer's weight by path, as [`Allocator::layer_weights`](crate::Allocator) takes
    /// them.
    pub fn weights(&self) -> HashMap<String, f64> {
        self.layers
            .iter()
            .map(|l| (l.path.clone(), l.weight))
            .collect()
    }
}

impl core::fmt::Display for Sensitivities {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(
            f,
            "{:<40} {:>6} {:>12} {:>12} {:>10}",
            "layer", "rank", "layer error", "model error", "weight"
        )?;
        for l in &self.layers {
            writeln!(
                f,
                "{:<40} {:>6} {:>12.4} {:>12.4} {:>10.4}",
                l.path, l.rank, l.layer_error, l.model_error, l.weight
            )?;
        }
        Ok(())
    }
}

/// A twin with the layers in `done` low-rank and every other layer dense.
fn stage<B: Backend, M: LowRank<B>>(
    model: &M,
    plan: &RankPlan,
    done: Fitted,
) -> Result<M::Twin, PelaError> {
    let staged = Staged {
        done,
        target: None,
        finished: false,
    };
    let mut cx = Conversion::new(plan, &NoProgress).with_mode(Mode::Staged(staged));
    model.convert(&mut cx, None)
}

/// A tensor's values in `f64`.
fn host<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f64> {
    tensor
        .into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .expect("a tensor converted to f64")
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Distribution, Tensor};

    use super::*;
    use crate::{Allocation, Allocator, Budget, StudentLinear};

    type B = burn_ndarray::NdArray<f32>;

    /// Two chained 24×24 layers.
    fn chain() -> Vec<Linear<B>> {
        let device = Default::default();
        B::seed(&device, 11);
        (0..2)
            .map(|_| LinearConfig::new(24, 24).with_bias(false).init(&device))
            .collect()
    }

    fn forward(layers: &[StudentLinear<B>], x: Tensor<B, 2>) -> Tensor<B, 2> {
        layers.iter().fold(x, |h, layer| layer.forward(h))
    }

    #[test]
    fn a_layer_s_sensitivity_is_the_change_of_the_outputs_it_alone_causes() {
        let model = chain();
        let device = Default::default();
        let x = Tensor::<B, 2>::random([200, 24], Distribution::Normal(0.0, 1.0), &device);
        let calibrated = model.calibration_twin().unwrap();
        forward(&calibrated, x.clone());
        let plan = RankPlan::new(2.0);
        let measured = Sensitivities::measure(&model, &plan, &calibrated, |twin| {
            Ok::<_, PelaError>(forward(twin, x.clone()))
        })
        .unwrap();
        assert_eq!(measured.layers.len(), 2);

        // Closed form: with layer ℓ replaced by its data-aware factors, Y' = X·W₁'·W₂'.
        let array = |t: Tensor<B, 2>| {
            let [r, c] = t.dims();
            ndarray::Array2::from_shape_vec(
                (r, c),
                t.into_data().convert::<f64>().into_vec::<f64>().unwrap(),
            )
            .unwrap()
        };
        let xs = array(x.clone());
        let weights: Vec<_> = model.iter().map(|l| array(l.weight.val())).collect();
        let reference = xs.dot(&weights[0]).dot(&weights[1]);
        let grams = calibration_grams(&calibrated).unwrap();
        for (i, layer) in measured.layers.iter().enumerate() {
            let rank = layer.rank;
            let (factors, output) = factorize_data_aware(
                &layer.path,
                model[i].weight.val(),
                rank,
                grams[&layer.path].view(),
            )
            .unwrap();
            let truncated = array(factors.u).dot(&array(factors.v).t());
            let mut ws = weights.clone();
            ws[i] = truncated;
            let y = xs.dot(&ws[0]).dot(&ws[1]);
            let expected =
                ((&y - &reference).mapv(|d| d * d).sum() / reference.mapv(|d| d * d).sum()).sqrt();
            assert!(
                (layer.model_error - expected).abs() < 1e-4 * expected.max(1.0),
                "{}: {} against {expected}",
                layer.path,
                layer.model_error
            );
            assert!((layer.layer_error - output.data_aware).abs() < 1e-12);
            let weight = (layer.model_error / layer.layer_error).powi(2);
            assert!((layer.weight - weight).abs() < 1e-12);
        }
        // The last layer's output is the model's: E = ε, weight 1.
        assert!((measured.layers[1].weight - 1.0).abs() < 1e-3);
    }

    #[test]
    fn the_weighted_allocation_takes_rank_from_the_layer_whose_error_is_damped() {
        // Two parallel 24×24 branches on the same inputs, the second's output scaled by 1/100
        // before the two are summed: its error hardly reaches the output.
        let device = Default::default();
        B::seed(&device, 5);
        let branches: Vec<Linear<B>> = (0..2)
            .map(|_| LinearConfig::new(24, 24).with_bias(false).init(&device))
            .collect();
        let x = Tensor::<B, 2>::random([200, 24], Distribution::Normal(0.0, 1.0), &device);
        let run = |layers: &Vec<StudentLinear<B>>| {
            Ok::<_, PelaError>(
                layers[0].forward(x.clone()) + layers[1].forward(x.clone()).mul_scalar(0.01),
            )
        };
        let calibrated = branches.calibration_twin().unwrap();
        run(&calibrated).unwrap();
        let plan = RankPlan::new(2.0);
        let sensitivities = Sensitivities::measure(&branches, &plan, &calibrated, run).unwrap();
        let [first, second] = [&sensitivities.layers[0], &sensitivities.layers[1]];
        assert!(second.weight < 1e-3 * first.weight, "{sensitivities}");

        // The output's relative change for a student of `plan`, initialised data-aware.
        let teacher =
            branches[0].forward(x.clone()) + branches[1].forward(x.clone()).mul_scalar(0.01);
        let output_error = |plan: &RankPlan| {
            let (student, _) = branches.to_low_rank_data_aware(plan, &calibrated).unwrap();
            let change = run(&student).unwrap() - teacher.clone();
            let change: f32 = (change.clone() * change).sum().into_scalar();
            let energy: f32 = (teacher.clone() * teacher.clone()).sum().into_scalar();
            (change / energy).sqrt()
        };
        let allocate = |allocator: Allocator| {
            let (plan, report) = allocator
                .allocate_data_aware(&branches, &plan, &calibrated)
                .unwrap();
            let ranks: Vec<usize> = report.layers.iter().map(|l| l.rank.unwrap_or(24)).collect();
            (ranks, output_error(&plan))
        };
        let (unweighted, unweighted_error) =
            allocate(Allocator::new(Budget::Ratio(2.0), Allocation::DataAware));
        let (weighted, weighted_error) = allocate(
            Allocator::new(Budget::Ratio(2.0), Allocation::DataAware)
                .with_layer_weights(sensitivities.weights()),
        );
        assert!(
            weighted[0] > unweighted[0] && weighted[1] < unweighted[1],
            "unweighted {unweighted:?}, weighted {weighted:?}"
        );
        // And lose less of the model's output at the same size.
        assert!(
            weighted_error < unweighted_error,
            "{weighted_error} against {unweighted_error}"
        );
    }
}
