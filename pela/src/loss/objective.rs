//! The combined PELA objective `L = L_base + α·L_fd + β·L_rwp` (paper Eq. 7).

use burn::config::Config;
use burn::tensor::{Tensor, backend::Backend};

use super::{
    FeatureDistillationConfig, FeatureDistillationLoss, LossTerms, WeightPair,
    WeightPerturbationConfig, WeightPerturbationLoss,
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
/// [`PelaObjective::forward`] returns `L_fd` and `L_rwp` as named terms of a [`LossTerms`];
/// the task's own terms join them there.
///
/// ```
/// use burn::tensor::Tensor;
/// use pela::{LowRankLinear, PelaObjectiveConfig, WeightPair};
/// type B = burn_ndarray::NdArray<f32>;
///
/// let device = Default::default();
/// let objective = PelaObjectiveConfig::new().with_alpha(0.5).with_beta(2.0).init();
/// let student = [Tensor::<B, 2>::from_floats([[1.0, 3.0]], &device)];
/// let teacher = [Tensor::<B, 2>::from_floats([[0.0, 1.0]], &device)];
/// let layer = LowRankLinear::<B>::from_factors(
///     Tensor::ones([1, 1], &device), Tensor::ones([1, 1], &device), None)?;
/// let weight = Tensor::<B, 2>::from_floats([[1.5]], &device);
/// let terms = objective
///     .forward(&student, &teacher, [WeightPair::new("fc", weight, &layer)])?
///     .with("L_task", 1.0, Tensor::from_floats([1.0], &device));
/// // L_fd = (1² + 2²) / 2 = 2.5; L_rwp = (|1 − 1.5| − 0.001)²
/// let expected = 0.5 * 2.5 + 2.0 * 0.499f32.powi(2) + 1.0;
/// assert!((terms.total().into_scalar() - expected).abs() < 1e-5);
/// # Ok::<(), pela::PelaError>(())
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

impl PelaObjective {
    /// The name of the feature-distillation term in [`LossTerms`].
    pub const FEATURE_DISTILLATION: &'static str = "L_fd";
    /// The name of the weight-perturbation term in [`LossTerms`].
    pub const WEIGHT_PERTURBATION: &'static str = "L_rwp";

    /// The names of the terms [`forward`](Self::forward) gives, in its order: `L_fd` when α
    /// is not 0, `L_rwp` when β is not 0. What a training step reports, from the objective
    /// itself.
    ///
    /// ```
    /// use pela::PelaObjectiveConfig;
    ///
    /// assert_eq!(PelaObjectiveConfig::new().init().term_names(), ["L_fd"]);
    /// let both = PelaObjectiveConfig::new().with_beta(1.0).init();
    /// assert_eq!(both.term_names(), ["L_fd", "L_rwp"]);
    /// ```
    pub fn term_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.alpha != 0.0 {
            names.push(Self::FEATURE_DISTILLATION);
        }
        if self.beta != 0.0 {
            names.push(Self::WEIGHT_PERTURBATION);
        }
        names
    }

    /// `L_fd` (weight α) from the per-layer features of student and teacher, and `L_rwp`
    /// (weight β) over the compressed layers, as named terms. A term whose weight is 0 is not
    /// computed and not in the result.
    ///
    /// # Errors
    /// The errors of [`FeatureDistillationLoss::forward`] and
    /// [`WeightPerturbationLoss::forward`].
    pub fn forward<'a, B: Backend + 'a, const D: usize>(
        &self,
        student_features: &[Tensor<B, D>],
        teacher_features: &[Tensor<B, D>],
        pairs: impl IntoIterator<Item = WeightPair<'a, B>>,
    ) -> Result<LossTerms<B>, PelaError> {
        let mut terms = LossTerms::new();
        if self.alpha != 0.0 {
            let fd = self
                .feature_distillation
                .forward(student_features, teacher_features)?;
            terms.push(Self::FEATURE_DISTILLATION, self.alpha, fd);
        }
        if self.beta != 0.0 {
            let rwp = self.weight_perturbation.forward(pairs)?;
            terms.push(Self::WEIGHT_PERTURBATION, self.beta, rwp);
        }
        Ok(terms)
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
        let terms = objective
            .forward(&s, &t, [WeightPair::new("fc", w.clone(), &student)])
            .unwrap()
            .with("L_task", 1.0, Tensor::from_floats([0.5], &device));
        let value = |name: &str| terms.get(name).unwrap().value.clone().into_scalar();
        assert_relative_eq!(value("L_fd"), 2.5, max_relative = 1e-6);
        assert_relative_eq!(value("L_rwp"), 2.999f32 * 2.999, max_relative = 1e-6);
        assert_relative_eq!(
            terms.total().into_scalar(),
            0.5 + 0.2 * 2.5 + 0.1 * 2.999 * 2.999,
            max_relative = 1e-6
        );

        // β = 0: L_rwp is not computed, even with no pairs at all.
        let terms = PelaObjectiveConfig::new()
            .init()
            .forward(&s, &t, Vec::new())
            .unwrap();
        assert!(terms.get("L_rwp").is_none());
        assert_relative_eq!(terms.total().into_scalar(), 2.5, max_relative = 1e-6);
    }

    #[test]
    fn term_names_are_the_names_of_the_terms_forward_gives() {
        let device = Default::default();
        let s = vec![Tensor::<B, 2>::from_floats([[1.0, 3.0]], &device)];
        let t = vec![Tensor::<B, 2>::from_floats([[0.0, 1.0]], &device)];
        let student = LowRankLinear::<B>::from_factors(
            Tensor::ones([1, 1], &device),
            Tensor::ones([1, 1], &device),
            None,
        )
        .unwrap();
        let w = Tensor::<B, 2>::from_floats([[4.0]], &device);
        for (alpha, beta) in [(1.0, 0.0), (0.0, 1.0), (0.5, 2.0), (0.0, 0.0)] {
            let objective = PelaObjectiveConfig::new()
                .with_alpha(alpha)
                .with_beta(beta)
                .init();
            let terms = objective
                .forward(&s, &t, [WeightPair::new("fc", w.clone(), &student)])
                .unwrap();
            let names: Vec<&str> = terms.iter().map(|term| term.name).collect();
            assert_eq!(names, objective.term_names(), "α {alpha}, β {beta}");
        }
    }
}
