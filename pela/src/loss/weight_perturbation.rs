//! Regularised weight perturbation `L_rwp` (paper Eq. 5–6).

use burn::config::Config;
use burn::tensor::{Tensor, backend::Backend};

use crate::{LowRankLinear, PelaError};

/// Which formula [`WeightPerturbationLoss`] computes over the `K` compressed layers.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum WeightPerturbationForm {
    /// The authors' released code: `1/K Σ_k (max_ij |U_k·V_kᵀ − W_k|_ij − ε)²`, the largest
    /// absolute entry of the reconstruction error, squared distance to ε, averaged over layers.
    MaxEntrySquared,
    /// The paper's Eq. 6: `Σ_k (‖U_k·V_kᵀ − W_k‖_∞ − ε)`, with the induced ∞-norm
    /// `‖A‖_∞ = max_i Σ_j |A_ij|` of the `[d_input, d_output]` matrix as the paper writes `W`.
    PaperInducedInfNorm,
}

/// Configuration of [`WeightPerturbationLoss`].
#[derive(Config, Debug)]
pub struct WeightPerturbationConfig {
    /// The formula. Default: `WeightPerturbationForm::MaxEntrySquared` (the authors' code).
    #[config(default = "WeightPerturbationForm::MaxEntrySquared")]
    pub form: WeightPerturbationForm,
    /// The perturbation radius ε. Default: 1e-3 (the authors' `inf_norm_eps`).
    #[config(default = 1e-3)]
    pub epsilon: f64,
}

impl WeightPerturbationConfig {
    /// Builds the loss.
    pub fn init(&self) -> WeightPerturbationLoss {
        WeightPerturbationLoss {
            form: self.form,
            epsilon: self.epsilon,
        }
    }
}

/// One compressed layer as the weight-perturbation loss sees it: the teacher's dense weight
/// and the student's factor pair.
#[derive(Debug, Clone)]
pub struct WeightPair<'a, B: Backend> {
    /// Module path of the layer, for errors.
    pub path: &'a str,
    /// The teacher's weight `W`, shape `[d_input, d_output]` (`Linear::weight.val()`; bring a
    /// teacher held on the inner backend over with `Tensor::from_inner`).
    pub teacher: Tensor<B, 2>,
    /// The student's layer.
    pub student: &'a LowRankLinear<B>,
}

impl<'a, B: Backend> WeightPair<'a, B> {
    /// Pairs the teacher weight of layer `path` with its student.
    pub fn new(path: &'a str, teacher: Tensor<B, 2>, student: &'a LowRankLinear<B>) -> Self {
        Self {
            path,
            teacher,
            student,
        }
    }
}

/// Keeps every reconstructed weight `Ŵ_k = U_k·V_kᵀ` within a radius ε of the teacher's `W_k`
/// (paper Eq. 5–6).
///
/// The teacher weights are detached: gradients reach the student factors only.
///
/// ```text
/// MaxEntrySquared      L_rwp = 1/K Σ_k (max |Ŵ_k − W_k| − ε)²
/// PaperInducedInfNorm  L_rwp = Σ_k (‖Ŵ_k − W_k‖_∞ − ε)
/// ```
///
/// ```
/// use burn::tensor::Tensor;
/// use pela::{LowRankLinear, WeightPair, WeightPerturbationConfig};
/// type B = burn_ndarray::NdArray<f32>;
///
/// let device = Default::default();
/// // Ŵ = [1, 1]ᵀ·[1, 1] = all ones; W = 0 → max |Ŵ − W| = 1.
/// let student = LowRankLinear::<B>::from_factors(
///     Tensor::ones([2, 1], &device), Tensor::ones([2, 1], &device), None)?;
/// let teacher = Tensor::<B, 2>::zeros([2, 2], &device);
/// let loss = WeightPerturbationConfig::new().with_epsilon(0.5).init()
///     .forward([WeightPair::new("fc", teacher, &student)])?;
/// assert_eq!(loss.into_scalar(), 0.25); // (1 − 0.5)²
/// # Ok::<(), pela::PelaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightPerturbationLoss {
    /// The formula.
    pub form: WeightPerturbationForm,
    /// The perturbation radius ε.
    pub epsilon: f64,
}

impl WeightPerturbationLoss {
    /// Computes `L_rwp` over the compressed layers.
    ///
    /// # Shapes
    /// - `teacher`: `[d_input, d_output]`; `student`: `U [d_input, r]`, `V [d_output, r]`
    /// - output: `[1]`
    ///
    /// # Errors
    /// No pairs, or a teacher weight whose shape differs from the student's layer.
    pub fn forward<'a, B: Backend + 'a>(
        &self,
        pairs: impl IntoIterator<Item = WeightPair<'a, B>>,
    ) -> Result<Tensor<B, 1>, PelaError> {
        let mut total: Option<Tensor<B, 1>> = None;
        let mut count = 0usize;
        for pair in pairs {
            let expected = [pair.student.d_input(), pair.student.d_output()];
            if pair.teacher.dims() != expected {
                return Err(PelaError::ShapeMismatch {
                    what: format!("weight perturbation, weight of `{}`", pair.path),
                    student: expected.to_vec(),
                    teacher: pair.teacher.dims().to_vec(),
                });
            }
            let diff = (pair.student.weight() - pair.teacher.detach()).abs();
            let term = match self.form {
                WeightPerturbationForm::MaxEntrySquared => (diff.max() - self.epsilon).square(),
                WeightPerturbationForm::PaperInducedInfNorm => diff.sum_dim(1).max() - self.epsilon,
            };
            total = Some(match total {
                Some(acc) => acc + term,
                None => term,
            });
            count += 1;
        }
        let total = total.ok_or(PelaError::EmptyInput {
            loss: "weight perturbation",
            what: "weight pairs",
        })?;
        Ok(match self.form {
            WeightPerturbationForm::MaxEntrySquared => total / count as f64,
            WeightPerturbationForm::PaperInducedInfNorm => total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TestAutodiffBackend, TestBackend};
    use approx::assert_relative_eq;

    type B = TestBackend;

    /// Two layers with hand-checkable reconstruction errors.
    fn layers() -> Vec<(LowRankLinear<B>, Tensor<B, 2>)> {
        let device = Default::default();
        // Ŵ₁ = [1, 2]ᵀ·[1, 0, 1] = [[1, 0, 1], [2, 0, 2]]; W₁ = [[1, 1, 1], [0, 0, 0]]
        // E₁ = [[0, −1, 0], [2, 0, 2]]: max |E| = 2, row sums 1 and 4 → ‖E₁‖_∞ = 4.
        let s1 = LowRankLinear::from_factors(
            Tensor::from_floats([[1.0], [2.0]], &device),
            Tensor::from_floats([[1.0], [0.0], [1.0]], &device),
            None,
        )
        .unwrap();
        let w1 = Tensor::from_floats([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], &device);
        // Ŵ₂ = 0 (zero factors); W₂ = [[0.5, −0.25]]: max |E| = 0.5, ‖E₂‖_∞ = 0.75.
        let s2 = LowRankLinear::from_factors(
            Tensor::zeros([1, 1], &device),
            Tensor::zeros([2, 1], &device),
            None,
        )
        .unwrap();
        let w2 = Tensor::from_floats([[0.5, -0.25]], &device);
        vec![(s1, w1), (s2, w2)]
    }

    fn pairs(layers: &[(LowRankLinear<B>, Tensor<B, 2>)]) -> Vec<WeightPair<'_, B>> {
        layers
            .iter()
            .map(|(s, w)| WeightPair::new("layer", w.clone(), s))
            .collect()
    }

    #[test]
    fn authors_form_by_hand() {
        let layers = layers();
        // ((2 − 0.1)² + (0.5 − 0.1)²) / 2 = (3.61 + 0.16) / 2 = 1.885
        let loss = WeightPerturbationConfig::new()
            .with_epsilon(0.1)
            .init()
            .forward(pairs(&layers))
            .unwrap();
        assert_relative_eq!(loss.into_scalar(), 1.885, max_relative = 1e-6);
    }

    #[test]
    fn paper_form_by_hand() {
        let layers = layers();
        // (4 − 0.1) + (0.75 − 0.1) = 4.55
        let loss = WeightPerturbationConfig::new()
            .with_epsilon(0.1)
            .with_form(WeightPerturbationForm::PaperInducedInfNorm)
            .init()
            .forward(pairs(&layers))
            .unwrap();
        assert_relative_eq!(loss.into_scalar(), 4.55, max_relative = 1e-6);
    }

    #[test]
    fn gradient_reaches_student_factors_not_teacher() {
        type A = TestAutodiffBackend;
        let device = Default::default();
        let student = LowRankLinear::<A>::from_factors(
            Tensor::from_floats([[1.0], [2.0]], &device),
            Tensor::from_floats([[1.0], [0.0], [1.0]], &device),
            None,
        )
        .unwrap();
        // E = Ŵ − W = [[0, −1, 0], [2, 0, 1.5]]: the max |E| is E₁₀ = u₁·v₀ − W₁₀ = 2, alone.
        let teacher =
            Tensor::<A, 2>::from_floats([[1.0, 1.0, 1.0], [0.0, 0.0, 0.5]], &device).require_grad();
        let loss = WeightPerturbationConfig::new()
            .with_epsilon(0.0)
            .init()
            .forward([WeightPair::new("fc", teacher.clone(), &student)])
            .unwrap();
        let grads = loss.backward();
        // L = E₁₀²: dL/du = [0, 2·E₁₀·v₀] = [0, 4]; dL/dv = [2·E₁₀·u₁, 0, 0] = [8, 0, 0].
        let grad_u = student.u.val().grad(&grads).unwrap().into_data();
        let grad_v = student.v.val().grad(&grads).unwrap().into_data();
        assert_eq!(grad_u.to_vec::<f32>().unwrap(), vec![0.0, 4.0]);
        assert_eq!(grad_v.to_vec::<f32>().unwrap(), vec![8.0, 0.0, 0.0]);
        assert!(teacher.grad(&grads).is_none());
    }

    #[test]
    fn empty_and_mismatched_pairs_are_errors() {
        let loss = WeightPerturbationConfig::new().init();
        assert!(matches!(
            loss.forward(Vec::<WeightPair<'_, B>>::new()),
            Err(PelaError::EmptyInput { .. })
        ));
        let layers = layers();
        let wrong = Tensor::<B, 2>::zeros([3, 2], &Default::default());
        let err = loss
            .forward([WeightPair::new("blocks.0.fc1", wrong, &layers[0].0)])
            .unwrap_err();
        assert!(err.to_string().contains("blocks.0.fc1"), "{err}");
    }
}
