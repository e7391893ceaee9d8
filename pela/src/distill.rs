//! The teacher/student pairing of PELA's intermediate training.

use std::collections::HashMap;

use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::conversion::ModulePath;
use crate::features::{LayerFeatures, ToInner};
use crate::twin::{LowRank, LowRankStudent};
use crate::{PelaError, PelaLoss, PelaObjective, WeightPair};

/// A frozen teacher and its trainable low-rank student, run together on each batch.
///
/// The teacher lives on the inner backend of the student's autodiff backend: it records no
/// tape, gets no gradients, and its dropout is off. [`forward`](Self::forward) runs both on one
/// input and returns the student's output with the PELA terms `L_fd` and `L_rwp` (each only
/// when its weight in the objective is not 0); add your task loss with
/// [`loss`](Self::loss) and step the optimizer on `distill.student`.
///
/// ```
/// use burn::backend::Autodiff;
/// use burn::module::AutodiffModule;
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
/// let student = teacher.to_low_rank(&RankPlan::new(2.0))?;
/// let mut distill = Distill::<Train, _, _>::new(
///     teacher,
///     student.train::<Train>(), // MlpLowRank<Cpu> → MlpLowRank<Train>
///     PelaObjectiveConfig::new().init(),
/// );
/// let mut optim = AdamWConfig::new().init();
/// let x = Tensor::<Train, 3>::ones([2, 5, 32], &device);
/// let out = distill.forward(x)?;
/// let base = out.output.clone().powi_scalar(2).mean(); // your task loss
/// let loss = distill.loss(base, &out);
/// let grads = GradientsParams::from_grads(loss.total.backward(), &distill.student);
/// distill.student = optim.step(1e-3, distill.student, grads);
/// # Ok::<(), pela::PelaError>(())
/// ```
pub struct Distill<B: AutodiffBackend, T, S> {
    /// The frozen teacher, on the inner backend.
    pub teacher: T,
    /// The student being trained.
    pub student: S,
    /// The loss weights and forms.
    pub objective: PelaObjective,
    /// The teacher's compressible weights by path, for `L_rwp`.
    teacher_weights: HashMap<String, Tensor<B::InnerBackend, 2>>,
}

/// What [`Distill::forward`] returns.
#[derive(Debug, Clone)]
pub struct DistillOutput<B: Backend, O> {
    /// The student's output.
    pub output: O,
    /// `L_fd` between the students's and the teacher's per-layer features; `None` when α = 0.
    pub feature_distillation: Option<Tensor<B, 1>>,
    /// `L_rwp` over the student's low-rank layers; `None` when β = 0.
    pub weight_perturbation: Option<Tensor<B, 1>>,
    /// The teacher's per-layer features, detached (no gradient reaches the teacher), for
    /// terms of your own beside `L_fd` (an output- or embedding-level loss); `None` when α = 0.
    pub teacher_features: Option<Vec<Tensor<B, 3>>>,
}

impl<B, T, S> Distill<B, T, S>
where
    B: AutodiffBackend,
    T: LowRank<B::InnerBackend> + LayerFeatures<B::InnerBackend>,
    S: LowRankStudent<B> + LayerFeatures<B>,
    S::Input: ToInner<B, Inner = T::Input>,
{
    /// Pairs a frozen `teacher` with its `student`.
    pub fn new(teacher: T, student: S, objective: PelaObjective) -> Self {
        let mut teacher_weights = HashMap::new();
        teacher.visit_linears(&mut ModulePath::default(), &mut |path, linear| {
            teacher_weights.insert(path.to_string(), linear.weight.val());
        });
        Self {
            teacher,
            student,
            objective,
            teacher_weights,
        }
    }

    /// Runs teacher and student on one input.
    ///
    /// # Errors
    /// Teacher and student that return a different number or shape of features, or a student
    /// layer that the teacher does not have.
    pub fn forward(&self, input: S::Input) -> Result<DistillOutput<B, S::Output>, PelaError> {
        let teacher_features = (self.objective.alpha != 0.0).then(|| {
            let (_, features) = self.teacher.forward_features(input.to_inner());
            features
                .into_iter()
                .map(Tensor::from_inner)
                .collect::<Vec<Tensor<B, 3>>>()
        });
        let (output, student_features) = self.student.forward_features(input);
        let feature_distillation = teacher_features
            .as_ref()
            .map(|teacher| {
                self.objective
                    .feature_distillation
                    .forward(&student_features, teacher)
            })
            .transpose()?;
        Ok(DistillOutput {
            output,
            feature_distillation,
            weight_perturbation: self.weight_perturbation()?,
            teacher_features,
        })
    }

    /// `L_base + α·L_fd + β·L_rwp` for a batch, with the parts for logging.
    pub fn loss<O>(&self, base: Tensor<B, 1>, output: &DistillOutput<B, O>) -> PelaLoss<B> {
        self.objective.combine(
            base,
            output.feature_distillation.clone(),
            output.weight_perturbation.clone(),
        )
    }

    fn weight_perturbation(&self) -> Result<Option<Tensor<B, 1>>, PelaError> {
        if self.objective.beta == 0.0 {
            return Ok(None);
        }
        let layers = self.student.low_rank_layers();
        let mut pairs = Vec::with_capacity(layers.len());
        for (path, student) in layers.iter() {
            let teacher =
                self.teacher_weights
                    .get(path)
                    .ok_or_else(|| PelaError::UnpairedLayer {
                        layer: path.clone(),
                    })?;
            pairs.push(WeightPair::new(
                path,
                Tensor::from_inner(teacher.clone()),
                student,
            ));
        }
        self.objective.weight_perturbation.forward(pairs).map(Some)
    }
}
