//! Image classification as a task of the engine: a classifier alone (a teacher trained from
//! scratch, a student fine-tuned with a new head), or a student beside its frozen teacher.

use core::marker::PhantomData;

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use pela::{Distill, LayerFeatures, LossTerms, LowRank, LowRankStudent};

use super::{StepOutput, Task, TrainingConfig};
use crate::ZooError;
use crate::data::ImageBatch;

/// An image classifier with per-layer features: images `[batch, channels, height, width]` in,
/// logits `[batch, classes]` out. Every model of the zoo and its student is one, and so is any
/// user model whose `LayerFeatures` has these types.
pub trait Classifier<B: Backend>:
    LayerFeatures<B, Input = Tensor<B, 4>, Output = Tensor<B, 2>>
{
}

impl<B: Backend, M: LayerFeatures<B, Input = Tensor<B, 4>, Output = Tensor<B, 2>>> Classifier<B>
    for M
{
}

/// A frozen image teacher beside its student: a [`Classifier`] on the inner backend whose
/// layers a [`Distill`] can read. Every zoo image model is one.
pub trait ImageTeacher<B: Backend>:
    LowRank<B> + Classifier<B> + Module<B> + Sync + 'static
{
}

impl<B: Backend, T: LowRank<B> + Classifier<B> + Module<B> + Sync + 'static> ImageTeacher<B> for T {}

/// An image student in training: a [`Classifier`] on the autodiff backend, and on the inner
/// one for validation. Every zoo image model's student is one.
pub trait ImageStudent<B: AutodiffBackend>:
    LowRankStudent<B>
    + AutodiffModule<B, InnerModule: Classifier<B::InnerBackend>>
    + Classifier<B>
    + core::fmt::Display
    + 'static
{
}

impl<B, S> ImageStudent<B> for S
where
    B: AutodiffBackend,
    S: LowRankStudent<B>
        + AutodiffModule<B, InnerModule: Classifier<B::InnerBackend>>
        + Classifier<B>
        + core::fmt::Display
        + 'static,
{
}

/// A classifier trained alone, on the task loss.
#[derive(Debug, Clone, Copy, Default)]
pub struct Alone;

/// Image classification: the loss terms of a step are `L_task` (cross-entropy with label
/// smoothing) and, when distilling, PELA's `L_fd` and `L_rwp` ([`Distill`]). Validation
/// reports the cross-entropy without smoothing and the accuracy.
///
/// ```
/// use pela_zoo::backend::CpuAutodiff;
/// use pela_zoo::train::{ClassifyTask, Task};
/// use pela_zoo::vit::VitLowRank;
///
/// let task = ClassifyTask::<VitLowRank<CpuAutodiff>>::supervised(0.1);
/// assert_eq!(Task::<CpuAutodiff>::train_metrics(&task), ["Loss", "L_task", "Accuracy"]);
/// ```
#[derive(Debug)]
pub struct ClassifyTask<M, X = Alone> {
    label_smoothing: f64,
    /// The teacher side: [`Alone`], or a [`Distill`].
    pub teacher: X,
    _model: PhantomData<fn() -> M>,
}

impl<M, X: Clone> Clone for ClassifyTask<M, X> {
    fn clone(&self) -> Self {
        Self {
            label_smoothing: self.label_smoothing,
            teacher: self.teacher.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> ClassifyTask<M, Alone> {
    /// A classifier alone, with this label smoothing of its cross-entropy.
    pub fn supervised(label_smoothing: f64) -> Self {
        Self {
            label_smoothing,
            teacher: Alone,
            _model: PhantomData,
        }
    }
}

impl<M, B: AutodiffBackend, T> ClassifyTask<M, Distill<B, T>> {
    /// A student beside its frozen teacher: `L_task + α·L_fd + β·L_rwp`.
    pub fn distill(distill: Distill<B, T>, label_smoothing: f64) -> Self {
        Self {
            label_smoothing,
            teacher: distill,
            _model: PhantomData,
        }
    }
}

impl<M, X> ClassifyTask<M, X> {
    fn task_loss<B: Backend>(
        &self,
        logits: Tensor<B, 2>,
        labels: Tensor<B, 1, Int>,
        smoothing: bool,
    ) -> Tensor<B, 1> {
        let smoothing =
            (smoothing && self.label_smoothing > 0.0).then_some(self.label_smoothing as f32);
        CrossEntropyLossConfig::new()
            .with_smoothing(smoothing)
            .init(&logits.device())
            .forward(logits, labels)
    }

    fn output<B: Backend>(
        &self,
        terms: LossTerms<B>,
        logits: Tensor<B, 2>,
        labels: Tensor<B, 1, Int>,
    ) -> StepOutput<B> {
        let batch_size = labels.dims()[0];
        let correct = logits
            .argmax(1)
            .flatten::<1>(0, 1)
            .equal(labels)
            .float()
            .mean();
        StepOutput::new(terms, batch_size).with_metric("Accuracy", correct.mul_scalar(100.0))
    }

    fn valid<B: Backend, V: Classifier<B>>(
        &self,
        model: &V,
        batch: ImageBatch<B>,
    ) -> StepOutput<B> {
        let (logits, _) = model.forward_features(batch.images);
        let loss = self.task_loss(logits.clone(), batch.labels.clone(), false);
        self.output(
            LossTerms::new().with("L_task", 1.0, loss),
            logits,
            batch.labels,
        )
    }
}

const VALID_METRICS: [&str; 3] = ["Loss", "L_task", "Accuracy"];

impl<B, M> Task<B> for ClassifyTask<M, Alone>
where
    B: AutodiffBackend,
    M: AutodiffModule<B, InnerModule: Classifier<B::InnerBackend>>
        + Classifier<B>
        + core::fmt::Display
        + 'static,
{
    type Model = M;
    type Batch = ImageBatch<B>;
    type ValidBatch = ImageBatch<B::InnerBackend>;

    fn train_metrics(&self) -> Vec<&'static str> {
        VALID_METRICS.to_vec()
    }

    fn valid_metrics(&self) -> Vec<&'static str> {
        VALID_METRICS.to_vec()
    }

    fn train_step(&self, model: &M, batch: ImageBatch<B>) -> StepOutput<B> {
        let (logits, _) = model.forward_features(batch.images);
        let loss = self.task_loss(logits.clone(), batch.labels.clone(), true);
        self.output(
            LossTerms::new().with("L_task", 1.0, loss),
            logits,
            batch.labels,
        )
    }

    fn valid_step(
        &self,
        model: &M::InnerModule,
        batch: ImageBatch<B::InnerBackend>,
    ) -> StepOutput<B::InnerBackend> {
        self.valid(model, batch)
    }
}

impl<B: AutodiffBackend, T: ImageTeacher<B::InnerBackend>, S: ImageStudent<B>> Task<B>
    for ClassifyTask<S, Distill<B, T>>
{
    type Model = S;
    type Batch = ImageBatch<B>;
    type ValidBatch = ImageBatch<B::InnerBackend>;

    /// The student is the teacher's ([`Distill::check`]).
    fn check(&self, model: &S, _: &TrainingConfig) -> Result<(), ZooError> {
        Ok(self.teacher.check(model)?)
    }

    fn train_metrics(&self) -> Vec<&'static str> {
        let mut names = vec!["Loss", "L_task"];
        names.extend(self.teacher.objective.term_names());
        names.push("Accuracy");
        names
    }

    fn valid_metrics(&self) -> Vec<&'static str> {
        VALID_METRICS.to_vec()
    }

    fn train_step(&self, model: &S, batch: ImageBatch<B>) -> StepOutput<B> {
        let out = self
            .teacher
            .forward(model, batch.images)
            .expect(super::task::PAIRED);
        let loss = self.task_loss(out.output.clone(), batch.labels.clone(), true);
        let mut terms = LossTerms::new().with("L_task", 1.0, loss);
        terms.extend(out.terms);
        self.output(terms, out.output, batch.labels)
    }

    fn valid_step(
        &self,
        model: &S::InnerModule,
        batch: ImageBatch<B::InnerBackend>,
    ) -> StepOutput<B::InnerBackend> {
        self.valid(model, batch)
    }

    fn to_device(self, device: &B::Device) -> Self {
        Self {
            teacher: self.teacher.to_device(device),
            ..self
        }
    }
}
