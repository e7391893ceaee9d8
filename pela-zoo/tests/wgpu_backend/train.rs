//! The training engine on `Autodiff<Wgpu>`: a distillation of a tiny ViT, and one of a tiny
//! BERT on real sentences, lowers the loss, leaves the teacher bit-identical, and a run stopped
//! at its first optimizer step and resumed ends where an uninterrupted one does.

use std::sync::Arc;

use burn::module::Module;
use burn::prelude::*;
use burn::train::Interrupter;
use pela::{Distill, LowRank, PelaObjectiveConfig};
use pela_zoo::backend::{Wgpu, WgpuAutodiff, WgpuDevice};
use pela_zoo::data::{ImageBatcher, InMemoryImages, digits};
use pela_zoo::train::{ClassifyTask, Engine, TrainOutcome, TrainingConfig};
use pela_zoo::vit::{Vit, VitConfig, VitLowRank};

use crate::common::{max_difference, scratch, values};

type Task = ClassifyTask<VitLowRank<WgpuAutodiff>, Distill<WgpuAutodiff, Vit<Wgpu>>>;

fn config() -> VitConfig {
    VitConfig::new(8, 2, 10, 32, 2, 4).with_channels(1)
}

/// The teacher, drawn from seed 3 on the device.
fn teacher() -> Vit<Wgpu> {
    let device = WgpuDevice::default();
    Wgpu::seed(&device, 3);
    let teacher = config().init::<Wgpu>(&device);
    let _ = values(&teacher); // draws every lazily initialised parameter now
    teacher
}

fn fit(
    engine: Engine<WgpuAutodiff>,
    teacher: &Vit<Wgpu>,
) -> Result<TrainOutcome<WgpuAutodiff, Task>, pela_zoo::ZooError> {
    let (train, test) = digits();
    let (train, test): (InMemoryImages, InMemoryImages) = (train.truncated(96), test.truncated(32));
    let student = teacher.to_low_rank(&config().pela_plan()).unwrap();
    let objective = PelaObjectiveConfig::new().with_beta(1.0).init();
    let task = ClassifyTask::distill(Distill::new(teacher.clone(), objective), 0.1);
    let batcher = ImageBatcher::new(&train);
    engine.fit(
        task,
        student.train::<WgpuAutodiff>(),
        Arc::new(train),
        Arc::new(test),
        batcher,
    )
}

fn settings() -> TrainingConfig {
    TrainingConfig::new()
        .with_epochs(3)
        .with_batch_size(32)
        .with_learning_rate(2e-3)
        .with_warmup_epochs(0)
}

#[test]
fn distillation_lowers_the_loss_leaves_the_teacher_and_resumes() {
    let Some(_device) = crate::wgpu_alone() else {
        return;
    };
    let _alone = crate::common::alone(21);
    let teacher = teacher();
    let before = values(&teacher);

    let straight = scratch("wgpu-straight");
    let outcome = fit(Engine::new(settings(), straight.clone()), &teacher).unwrap();
    let history = &outcome.history;
    assert_eq!(history.len(), 3);
    let loss = |m: &pela_zoo::train::EpochMetrics| m.train("Loss").unwrap();
    assert!(loss(&history[2]) < loss(&history[0]), "{history:?}");
    assert_eq!(values(&outcome.task.teacher.teacher), before);
    assert_eq!(values(&teacher), before);

    // Stopped at its first optimizer step, then resumed.
    let resumed_dir = scratch("wgpu-resumed");
    let interrupter = Interrupter::new();
    interrupter.stop(Some("test"));
    let stopped = fit(
        Engine::new(settings(), resumed_dir.clone()).interrupter(interrupter),
        &teacher,
    )
    .unwrap();
    assert!(stopped.interrupted && stopped.history.is_empty());
    let resumed = fit(
        Engine::new(settings(), resumed_dir.clone()).resume(true),
        &teacher,
    )
    .unwrap();
    assert_eq!(resumed.history.len(), 3);
    // As on the CPU (`tests/train.rs`): round-off amplified by training stays far below the
    // size of one Adam step (the learning rate, 2e-3), which a resume that lost the
    // optimizer state or the data order would be off by.
    let worst = max_difference(&values(&resumed.model), &values(&outcome.model));
    assert!(worst < 4e-4, "parameters differ by up to {worst}");
    assert_eq!(values(&teacher), before);
    std::fs::remove_dir_all(straight.root()).ok();
    std::fs::remove_dir_all(resumed_dir.root()).ok();
}

/// A small BERT with random weights (seed 11, drawn on the device) and all-MiniLM-L6-v2's
/// real tokenizer on 96 + 32 sentences of the Lee news corpus, as `tests/text_distill.rs`.
mod text {
    use super::*;
    use pela_zoo::bert::{
        Bert, BertConfig, BertTokenizer, Sentences, TextBatcher, TextDistillTask, TextObjective,
    };

    type TextTask = TextDistillTask<WgpuAutodiff>;

    fn fit(
        engine: Engine<WgpuAutodiff>,
        (bert, teacher): (&BertConfig, &Bert<Wgpu>),
        (tokenizer, train, valid): &(BertTokenizer, Vec<String>, Vec<String>),
    ) -> Result<TrainOutcome<WgpuAutodiff, TextTask>, pela_zoo::ZooError> {
        let student = teacher.to_low_rank(&bert.pela_plan(2.0)).unwrap();
        let distill = Distill::new(teacher.clone(), PelaObjectiveConfig::new().init());
        engine.fit(
            TextDistillTask::new(distill, TextObjective::default()),
            student.train::<WgpuAutodiff>(),
            Arc::new(Sentences::new(train.clone(), 16)),
            Arc::new(Sentences::new(valid.clone(), 16)),
            TextBatcher::new(tokenizer.clone()),
        )
    }

    fn settings() -> TrainingConfig {
        TrainingConfig::new()
            .with_epochs(3)
            .with_batch_size(16)
            .with_learning_rate(2e-3)
            .with_warmup_epochs(0)
            .with_grad_clip(1.0)
            .with_workers(0) // batches built on the training thread: see the assertions
    }

    #[test]
    fn text_distillation_lowers_the_loss_leaves_the_teacher_and_resumes() {
        let Some(_device) = crate::wgpu_alone() else {
            return;
        };
        let _alone = crate::common::alone(11);
        let inputs = crate::common::tokenizer_and_news();
        let bert = BertConfig::new(30522, 32, 2, 2, 64, 128);
        let teacher = {
            let device = WgpuDevice::default();
            Wgpu::seed(&device, 11);
            let teacher = bert.init::<Wgpu>(&device);
            let _ = values(&teacher); // draws every lazily initialised parameter now
            teacher
        };
        let before = values(&teacher);

        let straight = scratch("wgpu-text-straight");
        let outcome = fit(
            Engine::new(settings(), straight.clone()),
            (&bert, &teacher),
            &inputs,
        )
        .unwrap();
        let (first, last) = (&outcome.history[0], &outcome.history[2]);
        assert!(
            last.train("Loss") < first.train("Loss"),
            "{first:?}\n{last:?}"
        );
        assert!(
            last.valid("Loss") < first.valid("Loss"),
            "{first:?}\n{last:?}"
        );
        assert_eq!(values(&outcome.task.distill.teacher), before);

        // Stopped at its first optimizer step, then resumed.
        let resumed_dir = scratch("wgpu-text-resumed");
        let interrupter = Interrupter::new();
        interrupter.stop(Some("test"));
        let stopped = fit(
            Engine::new(settings(), resumed_dir.clone()).interrupter(interrupter),
            (&bert, &teacher),
            &inputs,
        )
        .unwrap();
        assert!(stopped.interrupted && stopped.history.is_empty());
        let resumed = fit(
            Engine::new(settings(), resumed_dir.clone()).resume(true),
            (&bert, &teacher),
            &inputs,
        )
        .unwrap();
        assert_eq!(resumed.history.len(), 3);
        // On one device, with batches built on the training thread (`workers` 0), a run
        // repeats itself bit for bit, and so does a resumed one, in one process and across
        // processes, tuned kernels or not (four runs from an empty autotune cache here all
        // ended equal, another seed's run 0.018289402 away each time). The clipping norm
        // reduces in a fixed order (not with `sum()`'s atomics) and each step's values are
        // read on the training thread (see the CHANGELOG). With a loader thread (`workers` 1)
        // two straight runs ended 0 to 0.019 apart, from run to run (the cause is in how
        // Burn's fusion takes batches built on another thread; waiting there until the device
        // held each batch did not help; not found yet). A run with another
        // seed (another data order, other dropout masks: what a resume that lost its place
        // would look like) ends 0.017 to 0.024 away, so the comparison sees such a difference.
        // (A resumed run equal to the straight one bit for bit also shows that a straight run
        // repeats itself; a second straight run, a quarter of this test's time, is not made here.)
        let other_dir = scratch("wgpu-text-other-seed");
        let other = fit(
            Engine::new(settings().with_seed(43), other_dir.clone()),
            (&bert, &teacher),
            &inputs,
        )
        .unwrap();
        let worst = max_difference(&values(&resumed.model), &values(&outcome.model));
        let apart = max_difference(&values(&other.model), &values(&outcome.model));
        eprintln!("the resumed run differs by {worst}, another seed {apart}");
        assert_eq!(worst, 0.0, "the resumed run differs by up to {worst}");
        assert!(apart > 1e-3, "another seed ends only {apart} away");
        assert_eq!(values(&teacher), before);
        std::fs::remove_dir_all(other_dir.root()).ok();
        std::fs::remove_dir_all(straight.root()).ok();
        std::fs::remove_dir_all(resumed_dir.root()).ok();
    }
}
