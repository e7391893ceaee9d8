//! The teacher/student pairing of PELA's intermediate training.

use std::collections::HashMap;

use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::conversion::ModulePath;
use crate::features::{LayerFeatures, ToInner};
use crate::twin::{LowRank, LowRankStudent};
use crate::{LossTerms, PelaError, PelaObjective, WeightPair};

/// The frozen teacher of PELA's intermediate training, and the objective its student is
/// trained with.
///
/// The teacher lives on the inner backend of the student's autodiff backend: it records no
/// tape, gets no gradients, and its dropout is off. [`forward`](Self::forward) runs teacher and
/// student on one input and returns the student's output with the PELA terms `L_fd` and `L_rwp`
/// (each only when its weight is not 0) as named [`LossTerms`]; add your task's terms there,
/// call `backward` on their total, and step the optimizer on the student. The student is not
/// part of `Distill`: it is the model being trained, held by your loop or the training engine.
///
/// ```
/// use burn::backend::Autodiff;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
/// use burn::prelude::*;
/// use pela::{Distill, LayerFeatures, LowRank, PelaObjectiveConfig, RankPlan};
///
/// #[derive(Module, LowRank, Debug)]
/// pub struct Mlp<B: Backend> {
///     fc1: Linear<B>,
///     fc2: Linear<B>,
/// }
///
/// #[pela::twin]
/// impl<B: Backend> LayerFeatures<B> for Mlp<B> {
///     type Input = Tensor<B, 3>;
///     type Output = Tensor<B, 3>;
///     fn forward_features(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
///         let h = self.fc1.forward(x).tanh();
///         let y = self.fc2.forward(h.clone());
///         (y.clone(), vec![h, y])
///     }
/// }
///
/// type Cpu = burn_ndarray::NdArray<f32>;
/// type Train = Autodiff<Cpu>;
/// let device = Default::default();
/// let teacher = Mlp::<Cpu> {
///     fc1: LinearConfig::new(32, 64).init(&device),
///     fc2: LinearConfig::new(64, 32).init(&device),
/// };
/// let mut student = teacher.to_low_rank(&RankPlan::new(2.0))?.train::<Train>();
/// let distill = Distill::<Train, _>::new(teacher, PelaObjectiveConfig::new().init());
/// let mut optim = AdamWConfig::new().init();
/// let x = Tensor::<Train, 3>::ones([2, 5, 32], &device);
/// let out = distill.forward(&student, x)?;
/// let task = out.output.clone().powi_scalar(2).mean(); // your task loss
/// let loss = out.terms.with("L_task", 1.0, task).total();
/// let grads = GradientsParams::from_grads(loss.backward(), &student);
/// student = optim.step(1e-3, student, grads);
/// # Ok::<(), pela::PelaError>(())
/// ```
pub struct Distill<B: AutodiffBackend, T> {
    /// The frozen teacher, on the inner backend.
    pub teacher: T,
    /// The loss weights and forms.
    pub objective: PelaObjective,
    /// The teacher's compressible weights by path, for `L_rwp`.
    teacher_weights: HashMap<String, Tensor<B::InnerBackend, 2>>,
    /// Whether the teacher runs even when no PELA term needs it.
    always_teacher: bool,
}

impl<B: AutodiffBackend, T: Clone> Clone for Distill<B, T> {
    fn clone(&self) -> Self {
        Self {
            teacher: self.teacher.clone(),
            objective: self.objective,
            teacher_weights: self.teacher_weights.clone(),
            always_teacher: self.always_teacher,
        }
    }
}

impl<B: AutodiffBackend, T: core::fmt::Debug> core::fmt::Debug for Distill<B, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Distill")
            .field("teacher", &self.teacher)
            .field("objective", &self.objective)
            .field("always_teacher", &self.always_teacher)
            .finish_non_exhaustive()
    }
}

/// What [`Distill::forward`] returns.
#[derive(Debug, Clone)]
pub struct DistillOutput<B: Backend, O> {
    /// The student's output.
    pub output: O,
    /// `L_fd` (weight α) and `L_rwp` (weight β), each when its weight is not 0.
    pub terms: LossTerms<B>,
    /// The teacher's per-layer features, detached (no gradient reaches the teacher), for
    /// terms of your own beside `L_fd` (an output- or embedding-level loss); `None` when no
    /// term needs the teacher (see [`Distill::with_teacher_features`]).
    pub teacher_features: Option<Vec<Tensor<B, 3>>>,
}

impl<B, T> Distill<B, T>
where
    B: AutodiffBackend,
    T: LowRank<B::InnerBackend> + LayerFeatures<B::InnerBackend>,
{
    /// A frozen `teacher` and the `objective` its students are trained with.
    pub fn new(teacher: T, objective: PelaObjective) -> Self {
        let mut teacher_weights = HashMap::new();
        teacher.visit_linears(&mut ModulePath::default(), &mut |path, linear| {
            teacher_weights.insert(path.to_string(), linear.weight.val());
        });
        Self {
            teacher,
            objective,
            teacher_weights,
            always_teacher: false,
        }
    }

    /// Runs the teacher on every batch, whatever α is, so that
    /// [`DistillOutput::teacher_features`] is always there for terms of your own.
    pub fn with_teacher_features(mut self) -> Self {
        self.always_teacher = true;
        self
    }

    /// Whether [`forward`](Self::forward) runs the teacher: when `L_fd` is on (α ≠ 0) or
    /// [`with_teacher_features`](Self::with_teacher_features) asked for it.
    pub fn needs_teacher(&self) -> bool {
        self.always_teacher || self.objective.alpha != 0.0
    }

    /// The same teacher on `device` (for a training replica on another device).
    pub fn to_device(self, device: &B::Device) -> Self
    where
        T: burn::module::Module<B::InnerBackend>,
    {
        Self {
            teacher: self.teacher.to_device(device),
            teacher_weights: self
                .teacher_weights
                .into_iter()
                .map(|(path, w)| (path, w.to_device(device)))
                .collect(),
            ..self
        }
    }

    /// Checks, before training, that `student` is a student of this teacher: every low-rank
    /// layer of the student has a teacher `Linear` of its path and shape. [`forward`]
    /// (Self::forward) of such a student fails on nothing but features of another number or
    /// shape, which a student converted from this teacher does not have.
    ///
    /// # Errors
    /// [`PelaError::UnpairedLayer`] for a student layer the teacher lacks;
    /// [`PelaError::ShapeMismatch`] for one of another shape.
    pub fn check<S: LowRankStudent<B>>(&self, student: &S) -> Result<(), PelaError> {
        for (path, layer) in student.low_rank_layers() {
            let teacher =
                self.teacher_weights
                    .get(&path)
                    .ok_or_else(|| PelaError::UnpairedLayer {
                        layer: path.clone(),
                    })?;
            let expected = teacher.dims().to_vec();
            let found = vec![layer.d_input(), layer.d_output()];
            if found != expected {
                return Err(PelaError::ShapeMismatch {
                    what: format!("weight of {path}"),
                    student: found,
                    teacher: expected,
                });
            }
        }
        Ok(())
    }

    /// Runs the teacher (when a term needs it) and `student` on one input.
    ///
    /// # Errors
    /// Teacher and student that return a different number or shape of features, or a student
    /// layer that the teacher does not have.
    pub fn forward<S>(
        &self,
        student: &S,
        input: S::Input,
    ) -> Result<DistillOutput<B, S::Output>, PelaError>
    where
        S: LowRankStudent<B> + LayerFeatures<B>,
        S::Input: ToInner<B, Inner = T::Input>,
    {
        let teacher_features = self.needs_teacher().then(|| {
            let (_, features) = self.teacher.forward_features(input.to_inner());
            features
                .into_iter()
                .map(Tensor::from_inner)
                .collect::<Vec<Tensor<B, 3>>>()
        });
        let (output, student_features) = student.forward_features(input);
        let layers = if self.objective.beta != 0.0 {
            student.low_rank_layers()
        } else {
            Vec::new()
        };
        let mut pairs = Vec::with_capacity(layers.len());
        for (path, layer) in &layers {
            let teacher =
                self.teacher_weights
                    .get(path)
                    .ok_or_else(|| PelaError::UnpairedLayer {
                        layer: path.clone(),
                    })?;
            pairs.push(WeightPair::new(
                path,
                Tensor::from_inner(teacher.clone()),
                layer,
            ));
        }
        let no_features: [Tensor<B, 3>; 0] = [];
        let teacher_slice = teacher_features.as_deref().unwrap_or(&no_features);
        let student_slice = if teacher_features.is_some() {
            student_features.as_slice()
        } else {
            &no_features
        };
        let terms = self
            .objective
            .forward(student_slice, teacher_slice, pairs)?;
        Ok(DistillOutput {
            output,
            terms,
            teacher_features,
        })
    }
}
