//! The training loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::eval::{count_correct, evaluate};
use super::{
    EpochMetrics, RunDir, TrainProgress, TrainState, Trainee, TrainingConfig, clip_global_norm,
};
use crate::ZooError;
use crate::data::{ImageBatch, ImageDataset};

/// How a call to [`train`] ended.
#[derive(Debug)]
pub struct TrainOutcome<X> {
    /// The trainee, with its model as trained.
    pub trainee: X,
    /// Every completed epoch's metrics, those before a resume included.
    pub history: Vec<EpochMetrics>,
    /// Whether `interrupt` stopped the run before its last epoch; a checkpoint was written and
    /// the run continues with `resume`.
    pub interrupted: bool,
}

/// Trains `trainee` on `train` for `config.epochs`, validating on `valid` after each epoch
/// and writing a checkpoint to `run` after each (see [`RunDir`]).
///
/// Each step: forward, `L_base` (cross-entropy with label smoothing) plus the trainee's terms
/// (`α·L_fd + β·L_rwp` when distilling), backward, gradients summed over
/// `grad_accumulation` batches, clipped by global norm, AdamW at the warm-up-then-cosine
/// learning rate. The order of the images, their augmentation and Burn's generator are seeded
/// from `config.seed`, the epoch and the batch, so a run stopped by `interrupt` (checked after
/// every optimizer step, set it from a Ctrl-C handler) and continued with `resume` ends with
/// the same weights as a run never stopped.
///
/// # Errors
/// An invalid config, an empty dataset, a checkpoint in `run` when not resuming (or none
/// when resuming), unreadable images, or features of student and teacher that do not pair.
#[allow(clippy::too_many_arguments)]
pub fn train<B: AutodiffBackend, X: Trainee<B>>(
    trainee: X,
    train: &dyn ImageDataset,
    valid: &dyn ImageDataset,
    config: &TrainingConfig,
    run: &RunDir,
    resume: bool,
    progress: &dyn TrainProgress,
    interrupt: &AtomicBool,
    device: &B::Device,
) -> Result<TrainOutcome<X>, ZooError> {
    config.validate()?;
    for (name, data) in [("training", train), ("validation", valid)] {
        if data.is_empty() {
            return Err(ZooError::InvalidData {
                source_name: data.describe(),
                reason: format!("the {name} set holds no images"),
            });
        }
    }
    // The whole model trains; a model moved from a backend without autodiff may have lost
    // its parameters' `require_grad` (see `pela::trainable_params`).
    let mut trainee = trainee.map_model(pela::trainable_params);
    let mut optim = AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .with_weight_decay(config.weight_decay as f32)
        .init::<B, X::Model>();
    let mut state = TrainState::default();
    if resume {
        if !run.has_checkpoint() {
            return Err(ZooError::Io {
                path: run.checkpoint().display().to_string(),
                reason: "no checkpoint to resume from; start the run without resuming".into(),
            });
        }
        let mut loaded = None;
        trainee = trainee.map_model(
            |model| match run.load(model.clone(), optim.clone(), device) {
                Ok((model, optim, state)) => {
                    loaded = Some(Ok((optim, state)));
                    model
                }
                Err(error) => {
                    loaded = Some(Err(error));
                    model
                }
            },
        );
        (optim, state) = loaded.expect("map_model calls its closure")?;
        trainee = trainee.map_model(pela::trainable_params);
    } else if run.has_checkpoint() {
        return Err(ZooError::Io {
            path: run.checkpoint().display().to_string(),
            reason: "the run folder already holds a checkpoint; resume it, or train into \
                     another folder"
                .into(),
        });
    }
    run.write("config.json", &config.to_string())?;

    let loss_fn = CrossEntropyLossConfig::new()
        .with_smoothing((config.label_smoothing > 0.0).then_some(config.label_smoothing as f32))
        .init(device);
    let per_epoch = config.steps_per_epoch(train.len());
    let total_steps = per_epoch * config.epochs;
    let batches = train.len().div_ceil(config.batch_size);
    let normalization = train.normalization();
    let mut learning_rate = config.learning_rate_at(state.step, total_steps, per_epoch);

    while state.epoch < config.epochs {
        let epoch = state.epoch;
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(mix(
            config.seed,
            &[epoch as u64],
        )));
        progress.on_epoch_start(epoch + 1, batches, state.batch);
        let mut accumulator = GradientsAccumulator::<X::Model>::new();
        let mut pending = 0;
        while state.batch < batches {
            let b = state.batch;
            let started = Instant::now();
            let seed = mix(config.seed, &[epoch as u64, b as u64]);
            B::seed(device, seed);
            let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
            let indices =
                &order[b * config.batch_size..((b + 1) * config.batch_size).min(order.len())];
            let items = indices
                .iter()
                .map(|&i| train.get(i, Some(&mut rng)))
                .collect::<Result<Vec<_>, _>>()?;
            let batch = ImageBatch::<B>::new(&items, train.shape(), &normalization, device);
            let losses = trainee.losses(batch.images)?;
            let task = loss_fn.forward(losses.logits.clone(), batch.labels.clone());
            let total = match losses.weighted.clone() {
                Some(extra) => task.clone() + extra,
                None => task.clone(),
            };
            let scaled = if config.grad_accumulation > 1 {
                total.clone().div_scalar(config.grad_accumulation as f64)
            } else {
                total.clone()
            };
            let grads = GradientsParams::from_grads(scaled.backward(), trainee.model());
            accumulator.accumulate(trainee.model(), grads);
            pending += 1;

            let scalar = |t: Tensor<B, 1>| f64::from(t.into_scalar().elem::<f32>());
            let loss = scalar(total);
            let r = &mut state.running;
            r.images += items.len();
            r.batches += 1;
            r.loss += loss;
            r.task += scalar(task);
            r.feature_distillation += losses.feature_distillation.map_or(0.0, scalar);
            r.weight_perturbation += losses.weight_perturbation.map_or(0.0, scalar);
            r.correct += count_correct(losses.logits, batch.labels);

            state.batch += 1;
            if pending == config.grad_accumulation || state.batch == batches {
                let mut grads = accumulator.grads();
                if let Some(max_norm) = config.grad_clip {
                    clip_global_norm(trainee.model(), &mut grads, max_norm);
                }
                learning_rate = config.learning_rate_at(state.step, total_steps, per_epoch);
                trainee = trainee.map_model(|model| optim.step(learning_rate, model, grads));
                state.step += 1;
                pending = 0;
            }
            state.running.seconds += started.elapsed().as_secs_f64();
            progress.on_batch(b, loss);
            if pending == 0 && state.batch < batches && interrupt.load(Ordering::SeqCst) {
                run.save(trainee.model(), &optim, &state)?;
                progress.on_checkpoint(&run.checkpoint());
                return Ok(TrainOutcome {
                    history: state.history,
                    trainee,
                    interrupted: true,
                });
            }
        }

        let evaluation = evaluate(&trainee.model().valid(), valid, config.batch_size, device)?;
        let r = std::mem::take(&mut state.running);
        let mean = |sum: f64| sum / r.batches.max(1) as f64;
        let distilling = r.feature_distillation != 0.0;
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            learning_rate,
            train_loss: mean(r.loss),
            train_task_loss: mean(r.task),
            train_feature_distillation: distilling.then(|| mean(r.feature_distillation)),
            train_weight_perturbation: (r.weight_perturbation != 0.0)
                .then(|| mean(r.weight_perturbation)),
            train_accuracy: r.correct as f64 / r.images.max(1) as f64,
            valid_loss: evaluation.loss,
            valid_accuracy: evaluation.accuracy,
            images_per_second: r.images as f64 / r.seconds.max(1e-9),
        };
        run.log(&metrics)?;
        progress.on_epoch_end(&metrics);
        state.history.push(metrics);
        state.epoch += 1;
        state.batch = 0;
        run.save(trainee.model(), &optim, &state)?;
        progress.on_checkpoint(&run.checkpoint());
        if state.epoch < config.epochs && interrupt.load(Ordering::SeqCst) {
            return Ok(TrainOutcome {
                history: state.history,
                trainee,
                interrupted: true,
            });
        }
    }
    Ok(TrainOutcome {
        history: state.history,
        trainee,
        interrupted: false,
    })
}

/// A seed from the run's seed and a position (epoch, batch), mixed with SplitMix64.
fn mix(seed: u64, position: &[u64]) -> u64 {
    let mut x = seed;
    for &p in position {
        x = x
            .wrapping_add(p.wrapping_add(1))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
    }
    x
}
