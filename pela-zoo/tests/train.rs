//! The training engine: distillation lowers the loss and leaves the teacher alone, a run
//! stopped mid-epoch and resumed ends where an uninterrupted one does (to float round-off),
//! Burn's multi-device strategy trains on two CPU "devices", a Swin distils with the
//! authors' Swin objective, and a headless backbone distils on images alone.

use std::sync::Arc;

mod common;

use burn::module::{AutodiffModule, Module};
use burn::prelude::*;
use burn::train::Interrupter;
use common::{alone, max_difference, scratch, values};
use pela::{Distill, LowRank, PelaObjectiveConfig};
use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
use pela_zoo::data::{ImageBatcher, InMemoryImages, digits};
use pela_zoo::train::{ClassifyTask, Engine, TrainingConfig};
use pela_zoo::vit::{Vit, VitConfig, VitLowRank};

fn config() -> VitConfig {
    VitConfig::new(8, 2, 10, 32, 2, 4).with_channels(1)
}

fn data() -> (InMemoryImages, InMemoryImages) {
    let (train, test) = digits();
    (train.truncated(192), test.truncated(64))
}

/// The teacher of the ViT tests, drawn from seed 3.
fn teacher() -> Vit<Cpu> {
    let device = CpuDevice::default();
    Cpu::seed(&device, 3);
    let teacher = config().init::<Cpu>(&device);
    let _ = values(&teacher); // draws every lazily initialised parameter now
    teacher
}

type Task = ClassifyTask<VitLowRank<CpuAutodiff>, Distill<CpuAutodiff, Vit<Cpu>>>;

fn task_and_student(teacher: &Vit<Cpu>) -> (Task, VitLowRank<CpuAutodiff>) {
    let student = teacher.to_low_rank(&config().pela_plan()).unwrap();
    let objective = PelaObjectiveConfig::new().with_beta(1.0).init();
    (
        ClassifyTask::distill(Distill::new(teacher.clone(), objective), 0.1),
        student.train::<CpuAutodiff>(),
    )
}

/// Trains a distillation of `teacher` into `run` with `engine`'s settings.
fn fit(
    engine: Engine<CpuAutodiff>,
    teacher: &Vit<Cpu>,
) -> Result<pela_zoo::train::TrainOutcome<CpuAutodiff, Task>, pela_zoo::ZooError> {
    let (train_set, test_set) = data();
    let (task, student) = task_and_student(teacher);
    let batcher = ImageBatcher::new(&train_set);
    engine.fit(
        task,
        student,
        Arc::new(train_set),
        Arc::new(test_set),
        batcher,
    )
}

#[test]
fn distillation_lowers_the_loss_and_leaves_the_teacher_untouched() {
    let _alone = alone(1);
    let teacher = teacher();
    let before = values(&teacher);
    let run = scratch("lowers");
    let config = TrainingConfig::new()
        .with_epochs(4)
        .with_batch_size(32)
        .with_learning_rate(2e-3)
        .with_warmup_epochs(0);
    let outcome = fit(Engine::new(config, run.clone()), &teacher).unwrap();
    let history = outcome.history;
    assert_eq!(history.len(), 4);
    let (first, last) = (&history[0], &history[3]);
    let loss = |m: &pela_zoo::train::EpochMetrics| m.train("Loss").unwrap();
    assert!(loss(last) < loss(first), "{first:?}\n{last:?}");
    // The total is the weighted sum of the logged terms, each its own metric.
    for m in &history {
        let sum = m.train("L_task").unwrap() + m.train("L_fd").unwrap() + m.train("L_rwp").unwrap();
        assert!((sum - loss(m)).abs() < 1e-4 * loss(m), "{m:?}");
        assert!(m.valid("Accuracy").is_some());
    }
    assert_eq!(values(&outcome.task.teacher.teacher), before);
    assert_eq!(values(&teacher), before);
    let lines = std::fs::read_to_string(run.root().join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 4);
    // Burn's metric logs, one file a metric and epoch.
    assert!(run.root().join("train/epoch-4/L_fd.log").is_file());
    std::fs::remove_dir_all(run.root()).ok();
}

#[test]
fn a_student_of_another_teacher_is_refused_before_training() {
    let _alone = alone(3);
    let run = scratch("another-teacher");
    let teacher = teacher();
    let (task, _) = task_and_student(&teacher);
    // A student of a ViT whose MLP is half as wide.
    let narrow = config()
        .with_mlp_ratio(2.0)
        .init::<Cpu>(&CpuDevice::default());
    let student = narrow.to_low_rank(&config().pela_plan()).unwrap();
    let (train_set, test_set) = data();
    let batcher = ImageBatcher::new(&train_set);
    let Err(error) = Engine::new(TrainingConfig::new().with_epochs(1), run.clone()).fit(
        task,
        student.train::<CpuAutodiff>(),
        Arc::new(train_set),
        Arc::new(test_set),
        batcher,
    ) else {
        panic!("a student of another teacher must be refused");
    };
    assert!(
        matches!(&error, pela_zoo::ZooError::Pela(pela::PelaError::ShapeMismatch { what, .. })
            if what == "weight of blocks.0.mlp.fc1"),
        "{error}"
    );
    assert!(!run.has_checkpoint());
    std::fs::remove_dir_all(run.root()).ok();
}

#[test]
fn a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one() {
    let _alone = alone(2);
    let teacher = teacher();
    let config = TrainingConfig::new()
        .with_epochs(2)
        .with_batch_size(32)
        .with_grad_accumulation(2)
        .with_learning_rate(2e-3);

    let straight = scratch("straight");
    let uninterrupted = fit(Engine::new(config.clone(), straight.clone()), &teacher).unwrap();
    assert!(!uninterrupted.interrupted);

    // Stopped in the first epoch, at its first optimizer step (after 2 of its 6 batches: the
    // interrupter is raised before the run, and checked after every optimizer step), then
    // resumed.
    let resumed_dir = scratch("resumed");
    let interrupter = Interrupter::new();
    interrupter.stop(Some("test"));
    let stopped = fit(
        Engine::new(config.clone(), resumed_dir.clone()).interrupter(interrupter),
        &teacher,
    )
    .unwrap();
    assert!(stopped.interrupted && stopped.history.is_empty());
    let state = resumed_dir.state().unwrap().unwrap();
    assert_eq!((state.epoch, state.batch), (0, 2), "{state:?}");

    let Err(error) = fit(Engine::new(config.clone(), resumed_dir.clone()), &teacher) else {
        panic!("a second fresh run into a folder with a checkpoint must fail");
    };
    assert!(
        matches!(error, pela_zoo::ZooError::RunHasCheckpoint { .. })
            && error.to_string().contains("already holds a checkpoint"),
        "{error}"
    );
    let resumed = fit(
        Engine::new(config, resumed_dir.clone()).resume(true),
        &teacher,
    )
    .unwrap();
    assert!(!resumed.interrupted);
    let worst = max_difference(&values(&resumed.model), &values(&uninterrupted.model));
    // Burn's autodiff sums the gradients of a tensor used twice in an order that varies from
    // run to run, so even two uninterrupted runs differ by float round-off, amplified by
    // training to up to ≈4e-5 in 12 steps here. A resume that lost the optimizer state, the
    // schedule or the data order would be off by the size of an Adam step: up to the learning
    // rate, 2e-3.
    assert!(worst < 4e-4, "parameters differ by up to {worst}");
    assert_eq!(resumed.history.len(), 2);
    std::fs::remove_dir_all(straight.root()).ok();
    std::fs::remove_dir_all(resumed_dir.root()).ok();
}

#[test]
fn burns_multi_device_strategy_trains_on_two_cpu_devices() {
    let _alone = alone(4);
    let teacher = teacher();
    let config = TrainingConfig::new()
        .with_epochs(2)
        .with_batch_size(32)
        .with_learning_rate(2e-3);
    let run = scratch("multi");
    let (_, student) = task_and_student(&teacher);
    let before = values(&student.valid());
    let outcome = fit(
        Engine::new(config, run.clone()).devices(vec![CpuDevice::default(); 2]),
        &teacher,
    )
    .unwrap();
    assert!(!outcome.interrupted);
    let after = values(&outcome.model);
    assert_ne!(after, before, "the student trained");
    assert!(after.iter().flatten().all(|v| v.is_finite()));
    // Burn's own file checkpointer wrote the epochs' checkpoints.
    assert!(run.checkpoint().join("model-2.mpk").is_file());
    std::fs::remove_dir_all(run.root()).ok();
}

#[test]
fn a_swin_distils_with_the_authors_swin_objective() {
    let _alone = alone(5);
    use pela_zoo::swin::SwinConfig;
    // 8 × 8 digits in patches of 1: an 8 × 8 grid in windows of 4 (shifted by 2 in the second
    // block), merged to 4 × 4 (one window, no shift).
    let config = SwinConfig::new(8, 1, 4, 10, 16, vec![2, 2], vec![2, 4]).with_channels(1);
    let device = CpuDevice::default();
    let teacher = config.init::<Cpu>(&device);
    let before = values(&teacher);
    let student = teacher.to_low_rank(&config.pela_plan()).unwrap();
    // β = 1 with ε = 0: L_rwp pulls every factor pair towards the teacher's weight.
    let objective = config.pela_objective();
    assert_eq!(objective.weight_perturbation.epsilon, 0.0);
    let task = ClassifyTask::distill(Distill::new(teacher.clone(), objective.init()), 0.1);
    let (train_set, test_set) = data();
    let batcher = ImageBatcher::new(&train_set);
    let run = scratch("swin");
    let training = TrainingConfig::new()
        .with_epochs(3)
        .with_batch_size(32)
        .with_learning_rate(2e-3)
        .with_warmup_epochs(0);
    let outcome = Engine::<CpuAutodiff>::new(training, run.clone())
        .fit(
            task,
            student.train::<CpuAutodiff>(),
            Arc::new(train_set),
            Arc::new(test_set),
            batcher,
        )
        .unwrap();
    let history = outcome.history;
    let loss = |m: &pela_zoo::train::EpochMetrics| m.train("Loss").unwrap();
    assert!(loss(&history[2]) < loss(&history[0]), "{history:?}");
    assert!(history[2].train("L_rwp").unwrap() > 0.0);
    // The teacher is bit-identical after training, inside the task and out.
    assert_eq!(values(&outcome.task.teacher.teacher), before);
    assert_eq!(values(&teacher), before);
    std::fs::remove_dir_all(run.root()).ok();
}

#[test]
fn a_backbone_distils_on_images_alone_and_approaches_its_teacher() {
    let _alone = alone(11);
    use pela_zoo::train::FeatureDistillTask;
    // A backbone without a head (num_classes 0), as DINOv2: its output is the class token.
    let device = CpuDevice::default();
    let config = VitConfig::new(8, 2, 0, 32, 2, 4).with_channels(1);
    let teacher = config.init::<Cpu>(&device);
    let before = values(&teacher);
    // κ = 8 leaves the SVD student clearly off its teacher, with room to learn.
    let plan = pela::RankPlan {
        ratio: 8.0,
        ..config.pela_plan()
    };
    let student = teacher.to_low_rank(&plan).unwrap();
    let objective = PelaObjectiveConfig::new().init();
    let task = FeatureDistillTask::new(Distill::<CpuAutodiff, _>::new(teacher.clone(), objective))
        .unwrap();
    let (train_set, test_set) = data();
    let batcher = ImageBatcher::new(&train_set);
    let run = scratch("backbone");
    let training = TrainingConfig::new()
        .with_epochs(3)
        .with_batch_size(32)
        .with_learning_rate(2e-3)
        .with_warmup_epochs(0);
    let outcome = Engine::<CpuAutodiff>::new(training, run.clone())
        .fit(
            task,
            student.train::<CpuAutodiff>(),
            Arc::new(train_set),
            Arc::new(test_set),
            batcher,
        )
        .unwrap();
    let history = outcome.history;
    let (first, last) = (&history[0], &history[2]);
    eprintln!(
        "DBG {:?} {:?} {:?}",
        history[0].valid("Cosine"),
        history[1].valid("Cosine"),
        history[2].valid("Cosine")
    );
    // No label is read: the only term is L_fd, and it falls; the outputs turn towards the
    // teacher's on held-out images.
    assert_eq!(first.train("Loss"), first.train("L_fd"));
    assert!(first.train("L_task").is_none());
    assert!(
        last.valid("L_fd").unwrap() < first.valid("L_fd").unwrap(),
        "{first:?}\n{last:?}"
    );
    assert!(
        last.valid("Cosine").unwrap() > first.valid("Cosine").unwrap(),
        "{first:?}\n{last:?}"
    );
    assert_eq!(values(&teacher), before);

    // Without L_fd there is nothing to learn from.
    let objective = PelaObjectiveConfig::new()
        .with_alpha(0.0)
        .with_beta(1.0)
        .init();
    let error = FeatureDistillTask::<VitLowRank<CpuAutodiff>, _, _>::new(
        Distill::<CpuAutodiff, _>::new(teacher, objective),
    )
    .unwrap_err();
    assert!(error.to_string().contains("set α > 0"), "{error}");
    std::fs::remove_dir_all(run.root()).ok();
}
