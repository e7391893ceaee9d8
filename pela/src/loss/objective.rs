//! The combined PELA objective `L = L_base + α·L_fd + β·L_rwp` (paper Eq. 7).

use burn::config::Config;
use burn::tensor::{Tensor, backend::Backend};

use super::{
    FeatureDistillationConfig, FeatureDistillationLoss, WeightPair, WeightPerturbationConfig,
    WeightPerturbationLoss,
};
use crate::PelaError;

/// Configuration of the PELA training objective (paper Eq. 7):
///
/// ```text
/// L = L_base + α·L_fd + β·L_rwp
/// ```
///
/// The defaults are those of the authors' DeiT-Base script: α = 1 (`kd_alpha`), β = 0
/// (`inf_norm_weight`: weight perturbation off), ε = 1e-3, and the loss forms of their code.
///
/// ```
/// use burn::tensor::Tensor;
/// use pela::PelaObjectiveConfig;
/// type B = burn_ndarray::NdArray<f32>;
///
/// let device = Default::default();
/// let objective = PelaObjectiveConfig::new().with_alpha(0.5).with_beta(2.0).init();
/// let parts = objective.combine(
///     Tensor::<B, 1>::from_floats([1.0], &device),       // L_base
///     Some(Tensor::from_floats([4.0], &device)),          // L_fd
///     Some(Tensor::from_floats([0.25], &device)),         // L_rwp
/// );
/// assert_eq!(parts.total.into_scalar(), 1.0 + 0.5 * 4.0 + 2.0 * 0.25);
/// ```
#[derive(Config, Debug)]
pub struct PelaObjectiveConfig {
    /// Weight α of feature distillation. Default: 1.0
    #[config(default = 1.0)]
    pub alpha: f64,
    /// Weight β of weight perturbation. Default: 0.0 (off, as in the authors' DeiT scripts)
    #[config(default = 0.0)]
    pub beta: f64,
    /// The feature-distillation loss. Default: the authors' form.
    #[config(default = "FeatureDistillationConfig::new()")]
    pub feature_distillation: FeatureDistillationConfig,
    /// The weight-perturbation loss. Default: the authors' form, ε = 1e-3.
    #[config(default = "WeightPerturbationConfig::new()")]
    pub weight_perturbation: WeightPerturbationConfig,
}

impl PelaObjectiveConfig {
    /// Builds the objective.
    pub fn init(&self) -> PelaObjective {
        PelaObjective {
            alpha: self.alpha,
            beta: self.beta,
            feature_distillation: self.feature_distillation.init(),
            weight_perturbation: self.weight_perturbation.init(),
        }
    }
}

/// The PELA objective; see [`PelaObjectiveConfig`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PelaObjective {
    /// Weight α of `L_fd`.
    pub alpha: f64,
    /// Weight β of `L_rwp`.
    pub beta: f64,
    /// The `L_fd` loss.
    pub feature_distillation: FeatureDistillationLoss,
    /// The `L_rwp` loss.
    pub weight_perturbation: WeightPerturbationLoss,
}

/// The parts of the PELA objective, kept apart for logging. Terms whose weight is 0 are not
/// computed and are `None`.
#[derive(Debug, Clone)]
pub struct PelaLoss<B: Backend> {
    /// `L_base + α·L_fd + β·L_rwp`, the tensor to call `backward` on. Shape `[1]`.
    pub total: Tensor<B, 1>,
    /// The task loss `L_base`, unweighted.
    pub base: Tensor<B, 1>,
    /// `L_fd`, unweighted.
    pub feature_distillation: Option<Tensor<B, 1>>,
    /// `L_rwp`, unweighted.
    pub weight_perturbation: Option<Tensor<B, 1>>,
}

impl PelaObjective {
    /// Computes the objective from the task loss, the per-layer features of student and
    /// teacher, and the compressed layers. A term whose weight is 0 is skipped (not computed).
    ///
    /// # Errors
    /// The errors of [`FeatureDistillationLoss::forward`] and
    /// [`WeightPerturbationLoss::forward`].
    pub fn forward<'a, B: Backend + 'a, const D: usize>(
        &self,
        base: Tensor<B, 1>,
        student_features: &[Tensor<B, D>],
        teacher_features: &[Tensor<B, D>],
        pairs: impl IntoIterator<Item = WeightPair<'a, B>>,
    ) -> Result<PelaLoss<B>, PelaError> {
        let fd = if self.alpha != 0.0 {
            Some(
                self.feature_distillation
                    .forward(student_features, teacher_features)?,
            )
        } else {
            None
        };
        let rwp = if self.beta != 0.0 {
            Some(self.weight_perturbation.forward(pairs)?)
        } else {
            None
        };
        Ok(self.combine(base, fd, rwp))
    }

    /// Weighs terms computed elsewhere: `total = base + α·fd + β·rwp`, a missing term
    /// counting as 0.
    pub fn combine<B: Backend>(
        &self,
        base: Tensor<B, 1>,
        feature_distillation: Option<Tensor<B, 1>>,
        weight_perturbation: Option<Tensor<B, 1>>,
    ) -> PelaLoss<B> {
        let mut total = base.clone();
        if let Some(fd) = feature_distillation.as_ref() {
            total = total + fd.clone() * self.alpha;
        }
        if let Some(rwp) = weight_perturbation.as_ref() {
            total = total + rwp.clone() * self.beta;
        }
        PelaLoss {
            total,
            base,
            feature_distillation,
            weight_perturbation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LowRankLinear, TestBackend};
    use approx::assert_relative_eq;

    type B = TestBackend;

    #[test]
    fn defaults_are_the_authors() {
        let objective = PelaObjectiveConfig::new().init();
        assert_eq!((objective.alpha, objective.beta), (1.0, 0.0));
        assert_eq!(objective.weight_perturbation.epsilon, 1e-3);
    }

    #[test]
    fn forward_weighs_each_term_and_skips_zero_weights() {
        let device = Default::default();
        let base = Tensor::<B, 1>::from_floats([0.5], &device);
        let s = vec![Tensor::<B, 2>::from_floats([[1.0, 3.0]], &device)];
        let t = vec![Tensor::<B, 2>::from_floats([[0.0, 1.0]], &device)];
        // L_fd = (1 + 4) / 2 = 2.5
        let student = LowRankLinear::<B>::from_factors(
            Tensor::ones([1, 1], &device),
            Tensor::ones([1, 1], &device),
            None,
        )
        .unwrap();
        let w = Tensor::<B, 2>::from_floats([[4.0]], &device);
        // L_rwp = (|1 − 4| − 0.001)² = 2.999²
        let objective = PelaObjectiveConfig::new()
            .with_alpha(0.2)
            .with_beta(0.1)
            .init();
        let parts = objective
            .forward(
                base.clone(),
                &s,
                &t,
                [WeightPair::new("fc", w.clone(), &student)],
            )
            .unwrap();
        let fd = parts.feature_distillation.unwrap().into_scalar();
        let rwp = parts.weight_perturbation.unwrap().into_scalar();
        assert_relative_eq!(fd, 2.5, max_relative = 1e-6);
        assert_relative_eq!(rwp, 2.999f32 * 2.999, max_relative = 1e-6);
        assert_relative_eq!(
            parts.total.into_scalar(),
            0.5 + 0.2 * 2.5 + 0.1 * 2.999 * 2.999,
            max_relative = 1e-6
        );

        // β = 0: L_rwp is not computed, even with no pairs at all.
        let parts = PelaObjectiveConfig::new()
            .init()
            .forward(base, &s, &t, Vec::new())
            .unwrap();
        assert!(parts.weight_perturbation.is_none());
        assert_relative_eq!(parts.total.into_scalar(), 3.0, max_relative = 1e-6);
    }
}
