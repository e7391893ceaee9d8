//! The model as Burn's `Learner` sees it: the trained model and its task side by side.
//!
//! Burn's `Learner` trains a module that is its own training step (`TrainStep`) and whose
//! inner module is its own validation step (`InferenceStep`). [`Trainable`] is that module for
//! a [`Task`]: every `Module` method goes to the trained model alone (the optimizer, the
//! checkpoints and the parameter count see only it), while moving it to a device
//! (`to_device`, `fork`: one replica a device) moves the task's teacher too.

use burn::module::{AutodiffModule, Devices, Module, ModuleMapper, ModuleVisitor};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::train::{InferenceStep, TrainOutput, TrainStep};

use super::{StepOutput, Task, clip_global_norm};

/// A model being trained by `task`, as one Burn module; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Trainable<B: AutodiffBackend, T: Task<B>> {
    /// The trained model.
    pub model: T::Model,
    /// The task: teacher, loss weights.
    pub task: T,
    /// The global clipping norm (`None`: off) and the gradient accumulation (each batch's
    /// loss is divided by it).
    pub(crate) settings: StepSettings,
}

/// Settings of every step that come from the training configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StepSettings {
    pub(crate) clip_norm: Option<f64>,
    pub(crate) accumulation: usize,
}

/// [`Trainable`] on the inner backend: the validation step.
#[derive(Debug, Clone)]
pub struct Validating<B: AutodiffBackend, T: Task<B>> {
    /// The model, without autodiff.
    pub model: <T::Model as AutodiffModule<B>>::InnerModule,
    /// The task.
    pub task: T,
    settings: StepSettings,
}

/// `Module` on `$backend` for a model-and-task pair: every method goes to the model, and moving
/// it to a device moves the task too.
macro_rules! module_of_pair {
    ($pair:ident, $backend:ty, $model:ty) => {
        impl<B: AutodiffBackend, T: Task<B>> Module<$backend> for $pair<B, T> {
            type Record = <$model as Module<$backend>>::Record;

            fn collect_devices(&self, devices: Devices<$backend>) -> Devices<$backend> {
                self.model.collect_devices(devices)
            }

            fn fork(self, device: &B::Device) -> Self {
                Self {
                    model: self.model.fork(device),
                    task: self.task.to_device(device),
                    settings: self.settings,
                }
            }

            fn to_device(self, device: &B::Device) -> Self {
                Self {
                    model: self.model.to_device(device),
                    task: self.task.to_device(device),
                    settings: self.settings,
                }
            }

            fn visit<V: ModuleVisitor<$backend>>(&self, visitor: &mut V) {
                self.model.visit(visitor);
            }

            fn map<M: ModuleMapper<$backend>>(self, mapper: &mut M) -> Self {
                Self {
                    model: self.model.map(mapper),
                    ..self
                }
            }

            fn load_record(self, record: Self::Record) -> Self {
                Self {
                    model: self.model.load_record(record),
                    ..self
                }
            }

            fn into_record(self) -> Self::Record {
                self.model.into_record()
            }
        }
    };
}

module_of_pair!(Trainable, B, T::Model);
module_of_pair!(
    Validating,
    B::InnerBackend,
    <T::Model as AutodiffModule<B>>::InnerModule
);

impl<B: AutodiffBackend, T: Task<B>> AutodiffModule<B> for Trainable<B, T> {
    type InnerModule = Validating<B, T>;

    fn valid(&self) -> Validating<B, T> {
        Validating {
            model: self.model.valid(),
            task: self.task.clone(),
            settings: self.settings,
        }
    }

    fn from_inner(module: Validating<B, T>) -> Self {
        Self {
            model: T::Model::from_inner(module.model),
            task: module.task,
            settings: module.settings,
        }
    }
}

impl<B: AutodiffBackend, T: Task<B>> core::fmt::Display for Trainable<B, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.model.fmt(f)
    }
}

impl<B: AutodiffBackend, T: Task<B>> TrainStep for Trainable<B, T> {
    type Input = T::Batch;
    type Output = StepOutput<B>;

    fn step(&self, batch: T::Batch) -> TrainOutput<StepOutput<B>> {
        let output = self.task.train_step(&self.model, batch);
        let mut loss = output.terms.total();
        if self.settings.accumulation > 1 {
            loss = loss.div_scalar(self.settings.accumulation as f64);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        TrainOutput {
            grads,
            item: output,
        }
    }

    /// Clips the gradients by their global norm (Burn's optimizers clip each parameter's
    /// gradient by its own norm), steps the optimizer, then lets the task update what the
    /// optimizer does not ([`Task::after_step`]).
    fn optimize<AB, O>(self, optim: &mut O, lr: f64, mut grads: GradientsParams) -> Self
    where
        AB: AutodiffBackend,
        O: Optimizer<Self, AB>,
        Self: AutodiffModule<AB>,
    {
        if let Some(max_norm) = self.settings.clip_norm {
            clip_global_norm::<B, _>(&self.model, &mut grads, max_norm);
        }
        let mut next = optim.step(lr, self, grads);
        next.model = next.task.after_step(next.model);
        next
    }
}

impl<B: AutodiffBackend, T: Task<B>> InferenceStep for Validating<B, T> {
    type Input = T::ValidBatch;
    type Output = StepOutput<B::InnerBackend>;

    fn step(&self, batch: T::ValidBatch) -> StepOutput<B::InnerBackend> {
        self.task.valid_step(&self.model, batch)
    }
}

impl<B: AutodiffBackend, T: Task<B>> Trainable<B, T> {
    pub(crate) fn new(model: T::Model, task: T, settings: StepSettings) -> Self {
        Self {
            model,
            task,
            settings,
        }
    }
}
