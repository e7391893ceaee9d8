//! Feature distillation `L_fd` (paper Eq. 4).

use burn::config::Config;
use burn::tensor::{Tensor, backend::Backend};

use crate::PelaError;

/// Which formula [`FeatureDistillationLoss`] computes over `N` tapped layers.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum FeatureDistillationForm {
    /// The authors' released code: `1/N Σ_i mean((X_s^i − X_t^i)²)`, the mean over layers of
    /// the element-mean squared error. Independent of batch size and width.
    LayerMeanMse,
    /// The paper's Eq. 4: `1/(2N) Σ_i ‖X_s^i − X_t^i‖²`, squared Frobenius norms summed over
    /// every element of each layer's features (it grows with batch size and width).
    PaperHalfSquaredNorm,
}

/// Configuration of [`FeatureDistillationLoss`].
#[derive(Config, Debug)]
pub struct FeatureDistillationConfig {
    /// The formula. Default: `FeatureDistillationForm::LayerMeanMse` (the authors' code).
    #[config(default = "FeatureDistillationForm::LayerMeanMse")]
    pub form: FeatureDistillationForm,
}

impl FeatureDistillationConfig {
    /// Builds the loss.
    pub fn init(&self) -> FeatureDistillationLoss {
        FeatureDistillationLoss { form: self.form }
    }
}

/// Feature distillation between the per-layer features of the student and of the frozen
/// teacher (paper Eq. 4, with the identity as the transformation `M`).
///
/// The teacher's features are detached: gradients reach the student only.
///
/// ```text
/// LayerMeanMse          L_fd = 1/N Σ_i mean((X_s^i − X_t^i)²)
/// PaperHalfSquaredNorm  L_fd = 1/(2N) Σ_i ‖X_s^i − X_t^i‖²_F
/// ```
///
/// ```
/// use burn::tensor::Tensor;
/// use pela::FeatureDistillationConfig;
/// type B = burn_ndarray::NdArray<f32>;
///
/// let device = Default::default();
/// let student = vec![Tensor::<B, 3>::ones([1, 2, 2], &device)];
/// let teacher = vec![Tensor::<B, 3>::zeros([1, 2, 2], &device)];
/// let loss = FeatureDistillationConfig::new().init().forward(&student, &teacher)?;
/// assert_eq!(loss.into_scalar(), 1.0);
/// # Ok::<(), pela::PelaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureDistillationLoss {
    /// The formula.
    pub form: FeatureDistillationForm,
}

impl FeatureDistillationLoss {
    /// Computes `L_fd` over the paired lists of per-layer features.
    ///
    /// # Shapes
    /// - `student[i]`, `teacher[i]`: one shape per layer, e.g. `[batch, tokens, d_model]`
    /// - output: `[1]`
    ///
    /// # Errors
    /// Empty lists, lists of different lengths, or a layer whose shapes differ.
    pub fn forward<B: Backend, const D: usize>(
        &self,
        student: &[Tensor<B, D>],
        teacher: &[Tensor<B, D>],
    ) -> Result<Tensor<B, 1>, PelaError> {
        const LOSS: &str = "feature distillation";
        if student.len() != teacher.len() {
            return Err(PelaError::CountMismatch {
                loss: LOSS,
                what: "feature tensors",
                student: student.len(),
                teacher: teacher.len(),
            });
        }
        if student.is_empty() {
            return Err(PelaError::EmptyInput {
                loss: LOSS,
                what: "features",
            });
        }
        let mut total: Option<Tensor<B, 1>> = None;
        for (i, (s, t)) in student.iter().zip(teacher).enumerate() {
            if s.dims() != t.dims() {
                return Err(PelaError::ShapeMismatch {
                    what: format!("{LOSS}, feature {i}"),
                    student: s.dims().to_vec(),
                    teacher: t.dims().to_vec(),
                });
            }
            let squared = (s.clone() - t.clone().detach()).square();
            let term = match self.form {
                FeatureDistillationForm::LayerMeanMse => squared.mean(),
                FeatureDistillationForm::PaperHalfSquaredNorm => squared.sum(),
            };
            total = Some(match total {
                Some(acc) => acc + term,
                None => term,
            });
        }
        let n = student.len() as f64;
        let total = total.expect("at least one layer was checked above");
        Ok(match self.form {
            FeatureDistillationForm::LayerMeanMse => total / n,
            FeatureDistillationForm::PaperHalfSquaredNorm => total / (2.0 * n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TestAutodiffBackend, TestBackend};
    use approx::assert_relative_eq;

    type B = TestBackend;

    fn features() -> (Vec<Tensor<B, 3>>, Vec<Tensor<B, 3>>) {
        let device = Default::default();
        // Layer 0 differences: [1, -1, 2, 0]; layer 1: [3, 0, 0, 0, 0, 1].
        let s0 = Tensor::<B, 3>::from_floats([[[1.0, 0.0], [2.0, 5.0]]], &device);
        let t0 = Tensor::<B, 3>::from_floats([[[0.0, 1.0], [0.0, 5.0]]], &device);
        let s1 = Tensor::<B, 3>::from_floats([[[3.0, 1.0, 1.0], [0.0, 0.0, 1.0]]], &device);
        let t1 = Tensor::<B, 3>::from_floats([[[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]], &device);
        (vec![s0, s1], vec![t0, t1])
    }

    #[test]
    fn layer_mean_mse_by_hand() {
        let (s, t) = features();
        // Layer 0: (1 + 1 + 4 + 0) / 4 = 1.5; layer 1: (9 + 1) / 6 = 5/3; mean = 19/12.
        let loss = FeatureDistillationConfig::new()
            .init()
            .forward(&s, &t)
            .unwrap();
        assert_relative_eq!(loss.into_scalar(), 19.0 / 12.0, max_relative = 1e-6);
    }

    #[test]
    fn paper_form_by_hand() {
        let (s, t) = features();
        // ‖·‖² = 6 and 10; 1/(2·2) · 16 = 4.
        let loss = FeatureDistillationConfig::new()
            .with_form(FeatureDistillationForm::PaperHalfSquaredNorm)
            .init()
            .forward(&s, &t)
            .unwrap();
        assert_relative_eq!(loss.into_scalar(), 4.0, max_relative = 1e-6);
    }

    #[test]
    fn gradient_reaches_student_not_teacher() {
        type A = TestAutodiffBackend;
        let device = Default::default();
        let student = Tensor::<A, 3>::from_floats([[[1.0, 2.0]]], &device).require_grad();
        let teacher = Tensor::<A, 3>::from_floats([[[0.0, 4.0]]], &device).require_grad();
        let loss = FeatureDistillationConfig::new()
            .init()
            .forward(
                std::slice::from_ref(&student),
                std::slice::from_ref(&teacher),
            )
            .unwrap();
        let grads = loss.backward();
        // d/ds mean((s − t)²) = 2(s − t)/n = [1, −2].
        let grad = student.grad(&grads).unwrap().into_data();
        assert_eq!(grad.to_vec::<f32>().unwrap(), vec![1.0, -2.0]);
        assert!(teacher.grad(&grads).is_none());
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let (s, t) = features();
        let loss = FeatureDistillationConfig::new().init();
        assert!(matches!(
            loss.forward(&s, &t[..1]),
            Err(PelaError::CountMismatch {
                student: 2,
                teacher: 1,
                ..
            })
        ));
        assert!(matches!(
            loss.forward::<B, 3>(&[], &[]),
            Err(PelaError::EmptyInput { .. })
        ));
        let swapped = vec![t[1].clone(), t[0].clone()];
        let err = loss.forward(&s, &swapped).unwrap_err();
        assert!(err.to_string().contains("feature 0"), "{err}");
    }
}
