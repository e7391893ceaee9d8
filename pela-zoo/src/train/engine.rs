//! The one training engine: a [`Task`] trained on Burn's `Learner`.

use std::sync::{Arc, Mutex};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::module::AutodiffModule;
use burn::optim::AdamWConfig;
use burn::tensor::backend::AutodiffBackend;
use burn::train::metric::LearningRateMetric;
use burn::train::renderer::MetricsRenderer;
use burn::train::{ExecutionStrategy, Interrupter, Learner, SupervisedTraining, TrainingStrategy};

use super::checkpointer::CheckpointRecorder;
use super::order::{EpochClock, EpochView, TrainingSet, Unreadable};
use super::renderer::QuietRenderer;
use super::strategy::{EpochHook, Resumable, RunOutcome};
use super::trainable::{StepSettings, Trainable};
use super::{EpochMetrics, RunDir, StepMetric, Task, TrainingConfig, WarmupCosine};
use crate::ZooError;

/// An autodiff backend the engine trains on, with its way of training on several devices:
/// Burn's `ExecutionStrategy::multi` (one replica a device, gradients summed on the first),
/// or, in a build with the `ddp` feature, Burn's DDP (`ExecutionStrategy::ddp`, gradients
/// all-reduced by NCCL: CUDA only).
pub trait ParallelBackend: AutodiffBackend {
    /// How to train on `devices` (two or more).
    fn parallel(devices: Vec<Self::Device>) -> ExecutionStrategy<Self>;
}

#[cfg(not(feature = "ddp"))]
impl<B: AutodiffBackend> ParallelBackend for B {
    fn parallel(devices: Vec<B::Device>) -> ExecutionStrategy<B> {
        ExecutionStrategy::multi(devices, burn::train::MultiDeviceOptim::OptimMainDevice)
    }
}

#[cfg(feature = "ddp")]
impl<B: AutodiffBackend + burn::tensor::backend::distributed::DistributedBackend> ParallelBackend
    for B
{
    fn parallel(devices: Vec<B::Device>) -> ExecutionStrategy<B> {
        use burn::tensor::backend::distributed::{DistributedConfig, ReduceOperation};
        ExecutionStrategy::ddp(
            devices,
            DistributedConfig {
                all_reduce_op: ReduceOperation::Mean,
            },
        )
    }
}

/// How a call to [`Engine::fit`] ended.
pub struct TrainOutcome<B: AutodiffBackend, T: Task<B>> {
    /// The trained model, on the inner backend.
    pub model: <T::Model as AutodiffModule<B>>::InnerModule,
    /// The task, as it was given (its teacher untouched).
    pub task: T,
    /// Every completed epoch's metrics, those before a resume included (on one device).
    pub history: Vec<EpochMetrics>,
    /// Whether the run was interrupted before its last epoch; a checkpoint was written and the
    /// run continues with [`Engine::resume`].
    pub interrupted: bool,
}

/// The training engine: every model and objective of the project trains through it, each as
/// a [`Task`] (a small step: its loss terms), on Burn's `Learner` and `SupervisedTraining`:
/// Burn's data loader with worker threads, its metrics, logs and renderer, its checkpointer,
/// its interrupter, and its multi-device strategies. What it adds is in the
/// [module docs](super).
///
/// ```
/// use std::sync::Arc;
/// use burn::module::Module;
/// use pela::{Distill, LowRank, PelaObjectiveConfig};
/// use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
/// use pela_zoo::data::{ImageBatcher, digits};
/// use pela_zoo::train::{ClassifyTask, Engine, RunDir, TrainingConfig};
/// use pela_zoo::vit::VitConfig;
///
/// let device = CpuDevice::default();
/// let (train_set, test_set) = digits();
/// let config = VitConfig::new(8, 2, 10, 32, 2, 4).with_channels(1);
/// let teacher = config.init::<Cpu>(&device);
/// let student = teacher.to_low_rank(&config.pela_plan())?.train::<CpuAutodiff>();
/// let task = ClassifyTask::distill(Distill::new(teacher, PelaObjectiveConfig::new().init()), 0.1);
///
/// let run = RunDir::new(std::env::temp_dir().join("pela-zoo-doc-engine"))?;
/// # std::fs::remove_dir_all(run.root()).ok(); let run = RunDir::new(run.root())?;
/// let training = TrainingConfig::new().with_epochs(1).with_batch_size(32);
/// let batcher = ImageBatcher::new(&train_set);
/// let outcome = Engine::<CpuAutodiff>::new(training, run.clone()).fit(
///     task, student,
///     Arc::new(train_set.truncated(64)), Arc::new(test_set.truncated(32)),
///     batcher,
/// )?;
/// assert!(outcome.history[0].train("L_fd").is_some());
/// assert!(run.has_checkpoint());
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
pub struct Engine<B: AutodiffBackend> {
    config: TrainingConfig,
    run: RunDir,
    resume: bool,
    renderer: Option<Box<dyn MetricsRenderer>>,
    interrupter: Interrupter,
    devices: Vec<B::Device>,
    on_epoch: Option<EpochHook>,
    skip_unreadable: bool,
}

impl<B: ParallelBackend> Engine<B> {
    /// Trains as `config` says, into the run folder `run`, on the default device.
    pub fn new(config: TrainingConfig, run: RunDir) -> Self {
        Self {
            config,
            run,
            resume: false,
            renderer: None,
            interrupter: Interrupter::new(),
            devices: Vec::new(),
            on_epoch: None,
            skip_unreadable: false,
        }
    }

    /// Reads the next item in place of one that cannot be read (an image that does not
    /// decode) and counts it ([`EpochMetrics::unreadable_items`]), instead of stopping the run
    /// at it (the default: after the current step, with a checkpoint, and an error naming the
    /// item).
    pub fn skip_unreadable(mut self, skip: bool) -> Self {
        self.skip_unreadable = skip;
        self
    }

    /// Continues the run from its last checkpoint (`true`), or starts it (`false`, the
    /// default; a folder that holds a checkpoint is then refused).
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Draws the run with this Burn renderer (default: nothing).
    pub fn renderer(mut self, renderer: impl MetricsRenderer + 'static) -> Self {
        self.renderer = Some(Box::new(renderer));
        self
    }

    /// Stops the run through this handle (from a Ctrl-C handler, or another thread): after
    /// the current optimizer step, with a checkpoint.
    pub fn interrupter(mut self, interrupter: Interrupter) -> Self {
        self.interrupter = interrupter;
        self
    }

    /// Trains on these devices: one, or several (data-parallel, see [`ParallelBackend`]; Burn
    /// then writes its own epoch checkpoints, and the run cannot be resumed: a resume is
    /// refused before training).
    pub fn devices(mut self, devices: Vec<B::Device>) -> Self {
        self.devices = devices;
        self
    }

    /// Hears about every completed epoch (on one device).
    pub fn on_epoch(mut self, hook: impl FnMut(&EpochMetrics) + Send + 'static) -> Self {
        self.on_epoch = Some(Box::new(hook));
        self
    }

    /// Everything checked before a run starts: the settings, the task against its model, the
    /// sets, and the run folder against resuming.
    fn preflight<T: Task<B>, I>(
        &self,
        task: &T,
        model: &T::Model,
        sets: [&Arc<dyn TrainingSet<I>>; 2],
    ) -> Result<(), ZooError> {
        self.config.validate()?;
        task.check(model, &self.config)?;
        for (name, data) in ["training", "validation"].into_iter().zip(sets) {
            if data.is_empty() {
                return Err(ZooError::InvalidData {
                    source_name: data.describe(),
                    reason: format!("the {name} set holds no items"),
                });
            }
        }
        let run_dir = || self.run.root().display().to_string();
        if self.resume && self.devices.len() > 1 {
            // Burn's multi-device strategy checkpoints at epoch ends in its own files, and its
            // loader's shuffle restarts at the seed in a new process: a resumed run would not
            // continue the one that stopped.
            return Err(ZooError::Task {
                task: "resume",
                reason: format!(
                    "a run on {} devices cannot be resumed (Burn's multi-device strategy \
                     neither checkpoints mid-epoch nor restores its data order); start it \
                     again, or train on one device to be able to resume",
                    self.devices.len()
                ),
            });
        }
        match (self.resume, self.run.has_checkpoint()) {
            (true, false) => Err(ZooError::NothingToResume { run_dir: run_dir() }),
            (false, true) => Err(ZooError::RunHasCheckpoint { run_dir: run_dir() }),
            _ => Ok(()),
        }
    }

    /// Trains `model` by `task` on `train`, validating on `valid` after every epoch; `batcher`
    /// turns items into the task's batches.
    ///
    /// # Errors
    /// An invalid config, an empty set, a checkpoint in the run folder when not resuming (or
    /// none when resuming), a checkpoint of another model, or a file that cannot be written.
    pub fn fit<T, I, Bt>(
        self,
        task: T,
        model: T::Model,
        train: Arc<dyn TrainingSet<I>>,
        valid: Arc<dyn TrainingSet<I>>,
        batcher: Bt,
    ) -> Result<TrainOutcome<B, T>, ZooError>
    where
        T: Task<B>,
        I: Send + Sync + Clone + core::fmt::Debug + 'static,
        Bt: Batcher<B, I, T::Batch> + Batcher<B::InnerBackend, I, T::ValidBatch> + Clone + 'static,
    {
        self.preflight(&task, &model, [&train, &valid])?;
        let (config, run) = (self.config, self.run);
        // A resumed run is the run that was started: same settings (the data-loading threads
        // aside), same data (a changed file or `--limit` moves every later batch).
        run.record_except("config.json", &config.to_string(), &["workers"])?;
        let data = serde_json::json!({
            "training": {"set": train.describe(), "items": train.len()},
            "validation": {"set": valid.describe(), "items": valid.len()},
        });
        run.record(
            "data.json",
            &serde_json::to_string_pretty(&data).expect("plain data"),
        )?;
        let several = self.devices.len() > 1;
        let device = self.devices.first().cloned().unwrap_or_default();
        B::seed(&device, config.seed);

        let clock = EpochClock::default();
        let unreadable = Arc::new(Unreadable::new(
            self.skip_unreadable,
            self.interrupter.clone(),
        ));
        let (train_loader, valid_loader) = loaders::<B, T, I, Bt>(
            &config,
            &device,
            (several.then_some(config.seed), &clock, &unreadable),
            (train.clone(), valid),
            batcher,
        );

        let settings = StepSettings {
            clip_norm: config.clip_norm(),
            accumulation: config.grad_accumulation,
        };
        let (train_metrics, valid_metrics) = (task.train_metrics(), task.valid_metrics());
        let model = task.prepare(model);
        let model = Trainable::new(model, task, settings);
        let optim = AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(1e-8)
            .with_weight_decay(config.weight_decay as f32)
            .init::<B, Trainable<B, T>>();
        let batches = train.len().div_ceil(config.batch_size);
        let learner = Learner::new(model, optim, WarmupCosine::new(&config, batches));

        let mut training = SupervisedTraining::new(run.root(), train_loader, valid_loader)
            .num_epochs(config.epochs)
            .with_interrupter(self.interrupter)
            .with_application_logger(None)
            .metric_train_numeric(LearningRateMetric::new());
        for name in train_metrics {
            training = training.metric_train_numeric(StepMetric::new(name));
        }
        for name in valid_metrics {
            training = training.metric_valid_numeric(StepMetric::new(name));
        }
        training = match self.renderer {
            Some(renderer) => training.renderer(BoxedRenderer(renderer)),
            None => training.renderer(QuietRenderer),
        };
        let outcome = Arc::new(Mutex::new(RunOutcome::default()));
        if several {
            training = training
                .with_training_strategy(B::parallel(self.devices).into())
                .with_file_checkpointer(CheckpointRecorder::new());
        } else {
            let strategy = Resumable {
                device,
                run: run.clone(),
                resume: self.resume,
                epochs: config.epochs,
                batch_size: config.batch_size,
                accumulation: config.grad_accumulation,
                train_items: train.len(),
                seed: config.seed,
                clock,
                unreadable: unreadable.clone(),
                outcome: outcome.clone(),
                on_epoch: Mutex::new(self.on_epoch),
            };
            training =
                training.with_training_strategy(TrainingStrategy::Custom(Arc::new(strategy)));
        }
        let result = training.launch(learner);
        let mut outcome = std::mem::take(&mut *outcome.lock().expect("not poisoned"));
        if let Some(error) = outcome.error.take() {
            return Err(error);
        }
        if let Some(error) = unreadable.stopping_error() {
            return Err(ZooError::UnreadableItem {
                error: Box::new(error),
                count: unreadable.count(),
                run_dir: run.root().display().to_string(),
            });
        }
        Ok(TrainOutcome {
            model: result.model.model,
            task: result.model.task,
            history: outcome.state.history,
            interrupted: outcome.interrupted,
        })
    }
}

/// Burn's data loaders of a run: the training set in the resumable order of `clock` on one
/// device, or shuffled by `shuffle_seed` across several; the validation set in order; items
/// that cannot be read recorded in `unreadable`.
#[allow(clippy::type_complexity)]
fn loaders<B, T, I, Bt>(
    config: &TrainingConfig,
    device: &B::Device,
    (shuffle_seed, clock, unreadable): (Option<u64>, &EpochClock, &Arc<Unreadable>),
    (train, valid): (Arc<dyn TrainingSet<I>>, Arc<dyn TrainingSet<I>>),
    batcher: Bt,
) -> (
    Arc<dyn DataLoader<B, T::Batch>>,
    Arc<dyn DataLoader<B::InnerBackend, T::ValidBatch>>,
)
where
    B: ParallelBackend,
    T: Task<B>,
    I: Send + Sync + Clone + core::fmt::Debug + 'static,
    Bt: Batcher<B, I, T::Batch> + Batcher<B::InnerBackend, I, T::ValidBatch> + Clone + 'static,
{
    let train_view = match shuffle_seed {
        Some(_) => EpochView::evaluation(train, unreadable.clone()),
        None => EpochView::training(train, config.seed, clock.clone(), unreadable.clone()),
    };
    let mut train_loader = DataLoaderBuilder::<B, I, T::Batch>::new(batcher.clone())
        .batch_size(config.batch_size)
        .num_workers(config.workers)
        .set_device(device.clone());
    if let Some(seed) = shuffle_seed {
        train_loader = train_loader.shuffle(seed);
    }
    let valid_loader = DataLoaderBuilder::<B::InnerBackend, I, T::ValidBatch>::new(batcher)
        .batch_size(config.batch_size)
        .num_workers(config.workers)
        .set_device(device.clone())
        .build(EpochView::evaluation(valid, unreadable.clone()));
    (train_loader.build(train_view), valid_loader)
}

/// A boxed renderer as a renderer.
struct BoxedRenderer(Box<dyn MetricsRenderer>);

impl burn::train::renderer::MetricsRendererTraining for BoxedRenderer {
    fn update_train(&mut self, state: burn::train::renderer::MetricState) {
        self.0.update_train(state);
    }
    fn update_valid(&mut self, state: burn::train::renderer::MetricState) {
        self.0.update_valid(state);
    }
    fn render_train(
        &mut self,
        item: burn::train::renderer::TrainingProgress,
        indicators: Vec<burn::train::renderer::ProgressType>,
    ) {
        self.0.render_train(item, indicators);
    }
    fn render_valid(
        &mut self,
        item: burn::train::renderer::TrainingProgress,
        indicators: Vec<burn::train::renderer::ProgressType>,
    ) {
        self.0.render_valid(item, indicators);
    }
    fn on_train_end(
        &mut self,
        summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        self.0.on_train_end(summary)
    }
}

impl burn::train::renderer::MetricsRendererEvaluation for BoxedRenderer {
    fn update_test(
        &mut self,
        name: burn::train::renderer::EvaluationName,
        state: burn::train::renderer::MetricState,
    ) {
        self.0.update_test(name, state);
    }
    fn render_test(
        &mut self,
        item: burn::train::renderer::EvaluationProgress,
        indicators: Vec<burn::train::renderer::ProgressType>,
    ) {
        self.0.render_test(item, indicators);
    }
}

impl MetricsRenderer for BoxedRenderer {
    fn manual_close(&mut self) {
        self.0.manual_close();
    }
    fn register_metric(&mut self, definition: burn::train::metric::MetricDefinition) {
        self.0.register_metric(definition);
    }
}
