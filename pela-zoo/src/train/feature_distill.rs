//! Feature distillation on unlabelled images as a task of the engine: PELA's intermediate
//! training of a student beside its frozen teacher with no labels and no task loss.

use core::marker::PhantomData;

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use pela::{Distill, LayerFeatures, LossTerms, PelaObjective};

use super::{ImageStudent, ImageTeacher, StepOutput, Task, TrainingConfig};
use crate::ZooError;
use crate::data::ImageBatch;

/// A student learns to reproduce its frozen teacher on images alone: the loss terms of a step
/// are PELA's `α·L_fd` (every layer's features) and `β·L_rwp`, and the labels of the batch are
/// never read, so any image set serves, labelled or not. Validation reports `L_fd` and
/// `Cosine`, the mean cosine between the student's and the teacher's outputs (for a backbone
/// such as DINOv2, the normalised class tokens).
///
/// This is how a pre-trained backbone without a classifier is distilled
/// (`examples/dinov2_pela.rs`); [`ClassifyTask::distill`](super::ClassifyTask::distill) adds
/// the task loss for a classifier with labels.
///
/// ```
/// use pela::{Distill, LowRank, PelaObjectiveConfig};
/// use pela_zoo::backend::{Cpu, CpuAutodiff};
/// use pela_zoo::train::{FeatureDistillTask, Task};
/// use pela_zoo::vit::{Vit, VitConfig, VitLowRank};
///
/// let config = VitConfig::new(8, 4, 0, 32, 2, 2).with_channels(1);
/// let teacher: Vit<Cpu> = config.init(&Default::default());
/// let distill = Distill::<CpuAutodiff, _>::new(teacher, PelaObjectiveConfig::new().init());
/// let task = FeatureDistillTask::<VitLowRank<CpuAutodiff>, _, _>::new(distill)?;
/// assert_eq!(task.valid_metrics(), ["Loss", "L_fd", "Cosine"]);
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug)]
pub struct FeatureDistillTask<S, B: AutodiffBackend, T> {
    /// The frozen teacher and the PELA terms.
    pub distill: Distill<B, T>,
    _student: PhantomData<fn() -> S>,
}

impl<S, B: AutodiffBackend, T: Clone> Clone for FeatureDistillTask<S, B, T> {
    fn clone(&self) -> Self {
        Self {
            distill: self.distill.clone(),
            _student: PhantomData,
        }
    }
}

impl<S, B: AutodiffBackend, T> FeatureDistillTask<S, B, T> {
    /// The task of `distill`'s teacher and objective.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] when `L_fd` is off (α = 0): without labels it is what the
    /// student learns from.
    pub fn new(distill: Distill<B, T>) -> Result<Self, ZooError> {
        if distill.objective.alpha <= 0.0 {
            return Err(ZooError::InvalidConfig {
                reason: format!(
                    "feature distillation on unlabelled images needs L_fd: α is {}; set α > 0",
                    distill.objective.alpha
                ),
            });
        }
        Ok(Self {
            distill,
            _student: PhantomData,
        })
    }
}

/// The mean cosine between the rows of two `[batch, width]` matrices, shape `[1]`.
fn mean_cosine<E: Backend>(student: Tensor<E, 2>, teacher: Tensor<E, 2>) -> Tensor<E, 1> {
    let dot = (student.clone() * teacher.clone()).sum_dim(1);
    let norms = (student.square().sum_dim(1) * teacher.square().sum_dim(1))
        .sqrt()
        .clamp_min(1e-12);
    (dot / norms).mean()
}

impl<B: AutodiffBackend, T: ImageTeacher<B::InnerBackend>, S: ImageStudent<B>> Task<B>
    for FeatureDistillTask<S, B, T>
{
    type Model = S;
    type Batch = ImageBatch<B>;
    type ValidBatch = ImageBatch<B::InnerBackend>;

    /// The student is the teacher's ([`Distill::check`]).
    fn check(&self, model: &S, _: &TrainingConfig) -> Result<(), ZooError> {
        Ok(self.distill.check(model)?)
    }

    fn train_metrics(&self) -> Vec<&'static str> {
        let mut names = vec!["Loss"];
        names.extend(self.distill.objective.term_names());
        names
    }

    fn valid_metrics(&self) -> Vec<&'static str> {
        vec!["Loss", PelaObjective::FEATURE_DISTILLATION, "Cosine"]
    }

    fn train_step(&self, model: &S, batch: ImageBatch<B>) -> StepOutput<B> {
        let batch_size = batch.images.dims()[0];
        let out = self
            .distill
            .forward(model, batch.images)
            .expect(super::task::PAIRED);
        StepOutput::new(out.terms, batch_size)
    }

    fn valid_step(
        &self,
        model: &S::InnerModule,
        batch: ImageBatch<B::InnerBackend>,
    ) -> StepOutput<B::InnerBackend> {
        let batch_size = batch.images.dims()[0];
        let (teacher_output, teacher) = self.distill.teacher.forward_features(batch.images.clone());
        let (output, student) = model.forward_features(batch.images);
        let objective = &self.distill.objective;
        let fd = objective
            .feature_distillation
            .forward(&student, &teacher)
            .expect(super::task::PAIRED);
        let terms = LossTerms::new().with(PelaObjective::FEATURE_DISTILLATION, objective.alpha, fd);
        StepOutput::new(terms, batch_size)
            .with_metric("Cosine", mean_cosine(output, teacher_output))
    }

    fn to_device(self, device: &B::Device) -> Self {
        Self {
            distill: self.distill.to_device(device),
            _student: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_ndarray::NdArray;

    #[test]
    fn mean_cosine_matches_its_closed_form() {
        // Rows at 0° and 90° to the teacher's: cosines 1 and 0, mean 1/2, whatever the scale.
        let device = Default::default();
        let teacher = Tensor::<NdArray, 2>::from_floats([[1.0, 0.0], [0.0, 2.0]], &device);
        let student = Tensor::<NdArray, 2>::from_floats([[3.0, 0.0], [5.0, 0.0]], &device);
        let cosine = mean_cosine(student, teacher).into_scalar();
        assert!((cosine - 0.5).abs() < 1e-6, "{cosine}");
    }
}
