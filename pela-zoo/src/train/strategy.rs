//! The engine's training loop on one device: Burn's `SupervisedLearningStrategy`, with
//! mid-epoch checkpoints and exact resumption.
//!
//! Burn 0.21's own single-device strategy checkpoints only at the end of an epoch, after
//! validation; when interrupted it stops before validation and writes nothing, and a resumed
//! run starts the next epoch with a data order drawn anew (`../BURN-0.21.md` §13.3–13.4). This
//! strategy runs the same steps through the same `Learner` (its `lr_step`, `train_step`,
//! `optimizer_step`), the same event processor (metrics, logs, renderer) and Burn's
//! `LearningCheckpointer`, and adds: a checkpoint when interrupted after any optimizer step,
//! a resume from that exact batch, the epoch's data order from the run's seed, Burn's
//! generator seeded at every batch, and gradients of a short last accumulation group applied
//! rather than dropped.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::data::dataloader::Progress;
use burn::module::AutodiffModule;
use burn::optim::GradientsAccumulator;
use burn::prelude::*;
use burn::record::Recorder;
use burn::tensor::backend::AutodiffBackend;
use burn::train::metric::store::EventStoreClient;
use burn::train::{
    EventProcessorTraining, InferenceStep, Interrupter, Learner, LearnerEvent,
    LearningCheckpointer, LearningComponentsTypes, LearningResult, SupervisedLearningStrategy,
    SupervisedTrainingEventProcessor, TrainLoader, TrainStep, TrainingBackend, TrainingComponents,
    TrainingItem, TrainingModel, ValidLoader,
};

use super::checkpointer::{AtomicCheckpointer, CheckpointRecorder, SaveEach, Saves};
use super::metrics::Running;
use super::order::{EpochClock, mix};
use super::{EpochMetrics, RunDir, StepOutput, TrainState};
use crate::ZooError;
use crate::fs::file_error;

/// Called with each epoch's metrics.
pub(crate) type EpochHook = Box<dyn FnMut(&EpochMetrics) + Send>;

/// How a run ended, filled in by the strategy.
#[derive(Default)]
pub(crate) struct RunOutcome {
    pub(crate) state: TrainState,
    pub(crate) interrupted: bool,
    pub(crate) error: Option<ZooError>,
}

/// The single-device strategy; see the [module docs](self).
pub(crate) struct Resumable<LC: LearningComponentsTypes> {
    pub(crate) device: Device<TrainingBackend<LC>>,
    pub(crate) run: RunDir,
    pub(crate) resume: bool,
    pub(crate) epochs: usize,
    pub(crate) batch_size: usize,
    pub(crate) accumulation: usize,
    pub(crate) train_items: usize,
    pub(crate) seed: u64,
    pub(crate) clock: EpochClock,
    pub(crate) unreadable: Arc<super::order::Unreadable>,
    pub(crate) outcome: Arc<Mutex<RunOutcome>>,
    pub(crate) on_epoch: Mutex<Option<EpochHook>>,
}

const RECORDS: [&str; 3] = ["model", "optim", "scheduler"];

impl<LC: LearningComponentsTypes> Resumable<LC> {
    /// Loads the checkpoint named by the run's state into `learner`.
    fn load(&self, learner: &mut Learner<LC>) -> Result<TrainState, ZooError> {
        let dir = self.run.checkpoint();
        let state = self.run.state()?.ok_or_else(|| {
            file_error(
                &dir,
                "no checkpoint to resume from; start the run without resuming".into(),
            )
        })?;
        let recorder = CheckpointRecorder::new();
        let path = |name: &str| AtomicCheckpointer::path(&dir, name, state.checkpoint);
        let failed = |name: &str, e: burn::record::RecorderError| {
            file_error(
                &path(name),
                format!("{e}; was the checkpoint written by a run of another model or plan?"),
            )
        };
        let model = Recorder::<LC::Backend>::load(&recorder, path("model"), &self.device)
            .map_err(|e| failed("model", e))?;
        learner.load_model(model);
        let optim = Recorder::<LC::Backend>::load(&recorder, path("optim"), &self.device)
            .map_err(|e| failed("optim", e))?;
        learner.load_optim(optim);
        let scheduler = Recorder::<LC::Backend>::load(&recorder, path("scheduler"), &self.device)
            .map_err(|e| failed("scheduler", e))?;
        learner.load_scheduler(scheduler);
        Ok(state)
    }

    /// Saves model, optimizer and schedule as checkpoint `state.checkpoint + 1`, waits for the
    /// files, commits them in `state.json`, and deletes the previous checkpoint's files.
    fn checkpoint(
        &self,
        checkpointer: &mut LearningCheckpointer<LC>,
        saves: &Saves,
        learner: &Learner<LC>,
        state: &mut TrainState,
        store: &EventStoreClient,
    ) -> Result<(), ZooError> {
        let dir = self.run.checkpoint();
        let number = state.checkpoint + 1;
        checkpointer.checkpoint(learner, number, store);
        let previous = state.checkpoint;
        if let Err(error) = saves.wait(number, RECORDS.len()) {
            // Nothing of the failed checkpoint stays; `state.json` still names the previous.
            for name in RECORDS {
                for file in [
                    AtomicCheckpointer::path(&dir, name, number),
                    AtomicCheckpointer::path(&dir, &format!("{name}.partial"), number),
                ] {
                    std::fs::remove_file(file.with_extension("mpk")).ok();
                }
            }
            let kept = if previous > 0 {
                format!(
                    "the previous checkpoint ({previous}, which `state.json` names) is kept: \
                     make room and run the same command with --resume"
                )
            } else {
                "no earlier checkpoint: the run starts over".to_string()
            };
            return Err(file_error(
                &dir,
                format!("cannot write checkpoint {number}: {error}; {kept}"),
            ));
        }
        state.checkpoint = number;
        self.run.save_state(state)?;
        if previous > 0 {
            for name in RECORDS {
                let file = AtomicCheckpointer::path(&dir, name, previous).with_extension("mpk");
                std::fs::remove_file(&file).ok();
            }
        }
        Ok(())
    }

    fn epoch_loop(
        &self,
        (interrupter, store): (&Interrupter, &EventStoreClient),
        learner: &mut Learner<LC>,
        (train_loader, valid_loader): (&TrainLoader<LC>, &ValidLoader<LC>),
        processor: &mut SupervisedTrainingEventProcessor<LC>,
    ) -> Result<bool, ZooError>
    where
        LC::TrainingModel: TrainStep<Output = StepOutput<LC::Backend>>,
        LC::InferenceModel: InferenceStep<Output = StepOutput<Inner<LC>>>,
    {
        let saves = Arc::new(Saves::default());
        let dir = self.run.checkpoint();
        let mut checkpointer = LearningCheckpointer::new(
            AtomicCheckpointer::spawn(dir.clone(), "model", saves.clone()),
            AtomicCheckpointer::spawn(dir.clone(), "optim", saves.clone()),
            AtomicCheckpointer::spawn(dir.clone(), "scheduler", saves.clone()),
            Box::new(SaveEach),
        );
        let mut state = std::mem::take(&mut self.outcome.lock().expect("not poisoned").state);
        let batches = self.train_items.div_ceil(self.batch_size);
        let result: Result<bool, ZooError> = 'run: {
            for epoch in state.epoch + 1..=self.epochs {
                self.clock.set(epoch);
                let global = Progress::new(epoch, self.epochs);
                let skipped = state.batch * self.batch_size;
                let loader = if state.batch > 0 {
                    train_loader.slice(skipped, self.train_items)
                } else {
                    train_loader.clone()
                };
                let mut running = Running::default();
                let mut accumulator = GradientsAccumulator::new();
                let mut pending = 0;
                let started = Instant::now();
                let mut iterator = loader.iter();
                while let Some(batch) = iterator.next() {
                    <LC::Backend as Backend>::seed(
                        &self.device,
                        mix(self.seed, &[epoch as u64, state.batch as u64]),
                    );
                    learner.lr_step();
                    let output = learner.train_step(batch);
                    state.batch += 1;
                    let step_now = state.batch == batches || pending + 1 == self.accumulation;
                    if self.accumulation == 1 {
                        learner.optimizer_step(output.grads);
                    } else {
                        accumulator.accumulate(&learner.model(), output.grads);
                        pending += 1;
                        if step_now {
                            learner.optimizer_step(accumulator.grads());
                            pending = 0;
                        }
                    }
                    // Read here, after the optimizer step is queued (see `StepOutput::settle`).
                    let item = output.item.settle();
                    running.add(item.settled().expect("settled"));
                    let done = iterator.progress();
                    let progress = Progress::new(skipped + done.items_processed, self.train_items);
                    processor.process_train(LearnerEvent::ProcessedItem(TrainingItem::new(
                        item,
                        progress,
                        global.clone(),
                        Some(state.batch),
                        Some(learner.lr_current()),
                    )));
                    if pending == 0 && state.batch < batches && interrupter.should_stop() {
                        self.checkpoint(&mut checkpointer, &saves, learner, &mut state, store)?;
                        break 'run Ok(true);
                    }
                }
                processor.process_train(LearnerEvent::EndEpoch(epoch));
                let seconds = started.elapsed().as_secs_f64();
                let items = running.items;
                let train = running.means();

                let model = learner.model().valid();
                let mut valid = Running::default();
                let mut iterator = valid_loader.iter();
                let mut iteration = 0;
                while let Some(batch) = iterator.next() {
                    iteration += 1;
                    let output = model.step(batch).settle();
                    valid.add(output.settled().expect("settled"));
                    processor.process_valid(LearnerEvent::ProcessedItem(TrainingItem::new(
                        output,
                        iterator.progress(),
                        global.clone(),
                        Some(iteration),
                        None,
                    )));
                }
                processor.process_valid(LearnerEvent::EndEpoch(epoch));

                let metrics = EpochMetrics {
                    epoch,
                    learning_rate: learner.lr_current(),
                    items_per_second: items as f64 / seconds.max(1e-9),
                    train,
                    valid: valid.means(),
                    unreadable_items: self.unreadable.count(),
                };
                self.run.log(&metrics)?;
                if let Some(hook) = self.on_epoch.lock().expect("not poisoned").as_mut() {
                    hook(&metrics);
                }
                state.history.push(metrics);
                state.epoch = epoch;
                state.batch = 0;
                self.checkpoint(&mut checkpointer, &saves, learner, &mut state, store)?;
                if epoch < self.epochs && interrupter.should_stop() {
                    break 'run Ok(true);
                }
            }
            Ok(false)
        };
        self.outcome.lock().expect("not poisoned").state = state;
        result
    }
}

/// The inner backend of a run's components.
type Inner<LC> = <<LC as LearningComponentsTypes>::Backend as AutodiffBackend>::InnerBackend;

impl<LC> SupervisedLearningStrategy<LC> for Resumable<LC>
where
    LC: LearningComponentsTypes,
    LC::TrainingModel: TrainStep<Output = StepOutput<LC::Backend>>,
    LC::InferenceModel: InferenceStep<Output = StepOutput<Inner<LC>>>,
{
    fn train(
        &self,
        mut learner: Learner<LC>,
        train_loader: TrainLoader<LC>,
        valid_loader: ValidLoader<LC>,
        mut components: TrainingComponents<LC>,
    ) -> LearningResult<LC::InferenceModel> {
        if self.resume {
            match self.load(&mut learner) {
                Ok(state) => self.outcome.lock().expect("not poisoned").state = state,
                Err(error) => {
                    self.outcome.lock().expect("not poisoned").error = Some(error);
                    return LearningResult {
                        model: learner.model().valid(),
                        renderer: components.event_processor.renderer(),
                    };
                }
            }
        }
        components
            .event_processor
            .process_train(LearnerEvent::Start);
        let (model, mut processor) = self.fit(components, learner, train_loader, valid_loader, 0);
        processor.process_train(LearnerEvent::End(None));
        LearningResult {
            model: model.valid(),
            renderer: processor.renderer(),
        }
    }

    fn fit(
        &self,
        components: TrainingComponents<LC>,
        mut learner: Learner<LC>,
        train_loader: TrainLoader<LC>,
        valid_loader: ValidLoader<LC>,
        _starting_epoch: usize,
    ) -> (TrainingModel<LC>, SupervisedTrainingEventProcessor<LC>) {
        let train_loader = train_loader.to_device(&self.device);
        let valid_loader = valid_loader.to_device(&self.device);
        learner.fork(&self.device);
        let TrainingComponents {
            mut event_processor,
            interrupter,
            event_store,
            ..
        } = components;
        let result = self.epoch_loop(
            (&interrupter, &event_store),
            &mut learner,
            (&train_loader, &valid_loader),
            &mut event_processor,
        );
        let mut outcome = self.outcome.lock().expect("not poisoned");
        match result {
            Ok(interrupted) => outcome.interrupted = interrupted,
            Err(error) => outcome.error = Some(error),
        }
        (learner.model(), event_processor)
    }
}
