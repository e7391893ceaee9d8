//! What the engine trains, batch by batch: a [`Task`].

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::train::metric::ItemLazy;
use pela::LossTerms;

use super::TrainingConfig;
use super::metrics::StepItem;
use crate::ZooError;

/// Why a distillation step cannot fail: [`Task::check`] paired the student with its teacher
/// before training, and a student converted from its teacher has the teacher's features.
pub(crate) const PAIRED: &str =
    "a student checked against its teacher (Task::check) has the teacher's layers and features";

/// One kind of training: how a batch becomes named loss terms. The engine does the rest
/// (data, optimizer, schedule, clipping, accumulation, metrics, checkpoints, devices).
///
/// A task holds what the step needs besides the trained model: a frozen teacher, the loss
/// weights. It is cloned onto every training device ([`to_device`](Self::to_device)) and is
/// never saved in checkpoints: a resumed run is given the same task again.
///
/// The zoo's tasks: [`ClassifyTask`](super::ClassifyTask) (a classifier alone, or a student
/// beside its teacher), [`FeatureDistillTask`](super::FeatureDistillTask) (a student beside
/// its teacher on unlabelled images), [`TextDistillTask`](crate::bert::TextDistillTask) and
/// [`AlbefDistillTask`](crate::albef::AlbefDistillTask).
pub trait Task<B: AutodiffBackend>: Clone + Send + Sync + core::fmt::Debug + 'static {
    /// The model the optimizer trains.
    type Model: AutodiffModule<B> + core::fmt::Display + 'static;
    /// A training batch, on the autodiff backend.
    type Batch: Send + Clone + core::fmt::Debug + 'static;
    /// A validation batch, on the inner backend.
    type ValidBatch: Send + Clone + core::fmt::Debug + 'static;

    /// The model as training starts: by default every parameter trainable (a model moved from
    /// a backend without autodiff may have lost its parameters' `require_grad`; see
    /// [`pela::trainable_params`]). A task that freezes part of the model does it here.
    fn prepare(&self, model: Self::Model) -> Self::Model {
        pela::trainable_params(model)
    }

    /// The named metrics of a training step, in display order: `Loss` (the weighted total),
    /// every loss term's name, and any of the task's own (e.g. `Accuracy`).
    fn train_metrics(&self) -> Vec<&'static str>;

    /// The named metrics of a validation step.
    fn valid_metrics(&self) -> Vec<&'static str>;

    /// The loss terms of `model` on a training batch; the engine sums them
    /// ([`LossTerms::total`]) and runs the backward pass.
    fn train_step(&self, model: &Self::Model, batch: Self::Batch) -> StepOutput<B>;

    /// The loss terms and metrics of the model on a validation batch.
    fn valid_step(
        &self,
        model: &<Self::Model as AutodiffModule<B>>::InnerModule,
        batch: Self::ValidBatch,
    ) -> StepOutput<B::InnerBackend>;

    /// Checks, before any training, that this task can train `model` with `config`: a student
    /// paired with the teacher it was converted from, the batch and queue sizes an objective
    /// needs. [`Engine::fit`](super::Engine::fit) calls it, so that a run that cannot work
    /// fails at once with the reason, not in its first step. By default there is nothing to
    /// check.
    ///
    /// # Errors
    /// [`ZooError::Task`], or [`ZooError::Pela`] for a student of another teacher
    /// ([`pela::Distill::check`]).
    fn check(&self, model: &Self::Model, config: &TrainingConfig) -> Result<(), ZooError> {
        let _ = (model, config);
        Ok(())
    }

    /// The model after an optimizer step, for state that moves with the weights but not by
    /// gradients (ALBEF's momentum model and feature queues). By default, unchanged.
    ///
    /// It runs once per optimizer step (after `grad_accumulation` batches), on one device.
    fn after_step(&self, model: Self::Model) -> Self::Model {
        model
    }

    /// The task with its tensors (a teacher) on `device`, for a training replica there.
    fn to_device(self, _device: &B::Device) -> Self {
        self
    }
}

/// What a step returns: its loss terms, and further metrics.
#[derive(Debug, Clone)]
pub struct StepOutput<B: Backend> {
    /// The loss terms. [`LossTerms::total`] is what is minimised.
    pub terms: LossTerms<B>,
    /// Items in the batch.
    pub batch_size: usize,
    /// Further metrics by name (e.g. `Accuracy` in percent), shape `[1]`, not part of the loss.
    pub metrics: Vec<(&'static str, Tensor<B, 1>)>,
    /// The values once read from the device by [`StepOutput::settle`].
    settled: Option<StepItem>,
}

impl<B: Backend> StepOutput<B> {
    /// A step's terms, for a batch of `batch_size` items.
    pub fn new(terms: LossTerms<B>, batch_size: usize) -> Self {
        Self {
            terms,
            batch_size,
            metrics: Vec::new(),
            settled: None,
        }
    }

    /// Adds a metric that is not a loss term.
    pub fn with_metric(mut self, name: &'static str, value: Tensor<B, 1>) -> Self {
        self.metrics.push((name, value));
        self
    }

    /// Every named value, detached: `Loss` (the weighted total), each term, each metric.
    pub(crate) fn values(&self) -> Vec<(&'static str, Tensor<B, 1>)> {
        let mut values = vec![("Loss", self.terms.total().detach())];
        values.extend(
            self.terms
                .iter()
                .map(|t| (t.name, t.value.clone().detach())),
        );
        values.extend(self.metrics.iter().map(|(n, v)| (*n, v.clone().detach())));
        values
    }

    /// Reads every value from the device now, on the calling thread, and lets go of the
    /// tensors; [`ItemLazy::sync`] then returns what was read.
    ///
    /// The engine settles each step on its training thread. Read on Burn's metrics thread
    /// instead, the values made that thread drain the device's fusion queue at moments set by
    /// the threads' timing, so the kernels the step's operations fused into (and the last bits
    /// of their results, which Adam amplifies) changed from run to run on CubeCL backends.
    pub(crate) fn settle(mut self) -> Self {
        if self.settled.is_none() {
            self.settled = Some(self.read());
            self.terms = LossTerms::new();
            self.metrics.clear();
        }
        self
    }

    /// What [`StepOutput::settle`] read.
    pub(crate) fn settled(&self) -> Option<&StepItem> {
        self.settled.as_ref()
    }

    /// Every value, read from the device at once.
    fn read(&self) -> StepItem {
        let values = self.values();
        let names: Vec<&'static str> = values.iter().map(|(n, _)| *n).collect();
        let data = Tensor::cat(values.into_iter().map(|(_, v)| v).collect(), 0).into_data();
        let numbers = data
            .convert::<f64>()
            .to_vec::<f64>()
            .expect("loss values are floats");
        StepItem {
            batch_size: self.batch_size,
            values: names.into_iter().zip(numbers).collect(),
        }
    }
}

impl<B: Backend> ItemLazy for StepOutput<B> {
    type ItemSync = StepItem;

    /// The values [`StepOutput::settle`] read, or reads them now (on Burn's metrics thread).
    fn sync(mut self) -> StepItem {
        match self.settled.take() {
            Some(item) => item,
            None => self.read(),
        }
    }
}
