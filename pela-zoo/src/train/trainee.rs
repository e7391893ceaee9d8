//! What the training loop trains: a classifier alone, or a student beside its teacher.

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use pela::{Distill, LayerFeatures, LowRank, LowRankStudent};

use crate::ZooError;

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

/// The outputs of one training forward pass.
#[derive(Debug, Clone)]
pub struct Losses<B: Backend> {
    /// The logits, `[batch, classes]`.
    pub logits: Tensor<B, 2>,
    /// `α·L_fd + β·L_rwp`, added to the task loss; `None` when training alone.
    pub weighted: Option<Tensor<B, 1>>,
    /// `L_fd`, unweighted, for the logs.
    pub feature_distillation: Option<Tensor<B, 1>>,
    /// `L_rwp`, unweighted, for the logs.
    pub weight_perturbation: Option<Tensor<B, 1>>,
}

/// What [`train`](super::train) trains: the model the optimizer updates, and the loss terms
/// besides the task loss. Implemented by [`Supervised`] (a model alone: a teacher, or a student
/// being fine-tuned) and by [`pela::Distill`] (a student beside its frozen teacher).
pub trait Trainee<B: AutodiffBackend>: Sized {
    /// The trained model.
    type Model: AutodiffModule<B, InnerModule: Classifier<B::InnerBackend>> + Classifier<B>;

    /// The trained model.
    fn model(&self) -> &Self::Model;

    /// Replaces the trained model by `f(model)` (an optimizer step, a checkpoint load).
    fn map_model(self, f: impl FnOnce(Self::Model) -> Self::Model) -> Self;

    /// The forward pass of a training step.
    ///
    /// # Errors
    /// Features or weights of a student and its teacher that do not pair up.
    fn losses(&self, images: Tensor<B, 4>) -> Result<Losses<B>, ZooError>;
}

/// A model trained alone, with the task loss only.
#[derive(Debug, Clone)]
pub struct Supervised<M>(pub M);

impl<B, M> Trainee<B> for Supervised<M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B, InnerModule: Classifier<B::InnerBackend>> + Classifier<B>,
{
    type Model = M;

    fn model(&self) -> &M {
        &self.0
    }

    fn map_model(self, f: impl FnOnce(M) -> M) -> Self {
        Self(f(self.0))
    }

    fn losses(&self, images: Tensor<B, 4>) -> Result<Losses<B>, ZooError> {
        let (logits, _) = self.0.forward_features(images);
        Ok(Losses {
            logits,
            weighted: None,
            feature_distillation: None,
            weight_perturbation: None,
        })
    }
}

impl<B, T, S> Trainee<B> for Distill<B, T, S>
where
    B: AutodiffBackend,
    T: LowRank<B::InnerBackend> + Classifier<B::InnerBackend>,
    S: LowRankStudent<B>
        + AutodiffModule<B, InnerModule: Classifier<B::InnerBackend>>
        + Classifier<B>,
{
    type Model = S;

    fn model(&self) -> &S {
        &self.student
    }

    fn map_model(mut self, f: impl FnOnce(S) -> S) -> Self {
        self.student = f(self.student);
        self
    }

    fn losses(&self, images: Tensor<B, 4>) -> Result<Losses<B>, ZooError> {
        let output = self.forward(images)?;
        let zero = || Tensor::<B, 1>::zeros([1], &output.output.device());
        let parts = self.objective.combine(
            zero(),
            output.feature_distillation.clone(),
            output.weight_perturbation.clone(),
        );
        let any = parts.feature_distillation.is_some() || parts.weight_perturbation.is_some();
        Ok(Losses {
            logits: output.output,
            weighted: any.then_some(parts.total),
            feature_distillation: parts.feature_distillation,
            weight_perturbation: parts.weight_perturbation,
        })
    }
}
