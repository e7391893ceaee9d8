//! The training loop: distillation lowers the loss and leaves the teacher alone, and a run
//! stopped and resumed ends where an uninterrupted one does (to float round-off).

use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::prelude::*;
use pela::{Distill, LowRank, PelaObjectiveConfig};
use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
use pela_zoo::data::{InMemoryImages, digits};
use pela_zoo::train::{Quiet, RunDir, TrainProgress, TrainingConfig, train};
use pela_zoo::vit::{Vit, VitConfig, VitLowRank};

fn config() -> VitConfig {
    VitConfig::new(8, 2, 10, 32, 2, 4).with_channels(1)
}

fn data() -> (InMemoryImages, InMemoryImages) {
    let (train, test) = digits();
    (train.truncated(192), test.truncated(64))
}

fn teacher() -> Vit<Cpu> {
    let device = CpuDevice::default();
    Cpu::seed(&device, 3);
    let teacher = config().init::<Cpu>(&device);
    let _ = teacher.num_params(); // draws every lazily initialised parameter now
    let _ = values(&teacher);
    teacher
}

/// Every parameter's values, in visiting order.
fn values<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl<B: Backend> ModuleVisitor<B> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.val().into_data().to_vec().unwrap());
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

fn scratch(name: &str) -> RunDir {
    let dir = std::env::temp_dir().join(format!("pela-zoo-train-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    RunDir::new(dir).unwrap()
}

fn distill(teacher: &Vit<Cpu>) -> Distill<CpuAutodiff, Vit<Cpu>, VitLowRank<CpuAutodiff>> {
    let student = teacher.to_low_rank(&config().pela_plan()).unwrap();
    Distill::new(
        teacher.clone(),
        student.train::<CpuAutodiff>(),
        PelaObjectiveConfig::new().with_beta(1.0).init(),
    )
}

#[test]
fn distillation_lowers_the_loss_and_leaves_the_teacher_untouched() {
    let teacher = teacher();
    let before = values(&teacher);
    let (train_set, test_set) = data();
    let run = scratch("lowers");
    let config = TrainingConfig::new()
        .with_epochs(4)
        .with_batch_size(32)
        .with_learning_rate(2e-3)
        .with_warmup_epochs(0);
    let outcome = train(
        distill(&teacher),
        &train_set,
        &test_set,
        &config,
        &run,
        false,
        &Quiet,
        &AtomicBool::new(false),
        &CpuDevice::default(),
    )
    .unwrap();
    let history = outcome.history;
    assert_eq!(history.len(), 4);
    let (first, last) = (&history[0], &history[3]);
    assert!(last.train_loss < first.train_loss, "{first:?}\n{last:?}");
    assert!(
        first.train_feature_distillation.is_some() && first.train_weight_perturbation.is_some()
    );
    assert_eq!(values(&outcome.trainee.teacher), before);
    assert_eq!(values(&teacher), before);
    let lines = std::fs::read_to_string(run.root().join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 4);
    std::fs::remove_dir_all(run.root()).ok();
}

/// Raises the interrupt flag after `after` batches.
struct StopAfter<'a> {
    after: usize,
    seen: std::cell::Cell<usize>,
    flag: &'a AtomicBool,
}

impl TrainProgress for StopAfter<'_> {
    fn on_batch(&self, _batch: usize, _loss: f64) {
        self.seen.set(self.seen.get() + 1);
        if self.seen.get() == self.after {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one() {
    let teacher = teacher();
    let (train_set, test_set) = data();
    let device = CpuDevice::default();
    let config = TrainingConfig::new()
        .with_epochs(2)
        .with_batch_size(32)
        .with_grad_accumulation(2)
        .with_learning_rate(2e-3);

    let straight = scratch("straight");
    let never = AtomicBool::new(false);
    let uninterrupted = train(
        distill(&teacher),
        &train_set,
        &test_set,
        &config,
        &straight,
        false,
        &Quiet,
        &never,
        &device,
    )
    .unwrap();
    assert!(!uninterrupted.interrupted);

    // Stopped mid-way through the first epoch (after 4 of its 6 batches), then resumed.
    let resumed_dir = scratch("resumed");
    let flag = AtomicBool::new(false);
    let stop = StopAfter {
        after: 4,
        seen: Default::default(),
        flag: &flag,
    };
    let stopped = train(
        distill(&teacher),
        &train_set,
        &test_set,
        &config,
        &resumed_dir,
        false,
        &stop,
        &flag,
        &device,
    )
    .unwrap();
    assert!(stopped.interrupted && stopped.history.is_empty());
    let Err(error) = train(
        distill(&teacher),
        &train_set,
        &test_set,
        &config,
        &resumed_dir,
        false,
        &Quiet,
        &never,
        &device,
    ) else {
        panic!("a second fresh run into a folder with a checkpoint must fail");
    };
    assert!(
        error.to_string().contains("already holds a checkpoint"),
        "{error}"
    );
    let resumed = train(
        distill(&teacher),
        &train_set,
        &test_set,
        &config,
        &resumed_dir,
        true,
        &Quiet,
        &never,
        &device,
    )
    .unwrap();
    assert!(!resumed.interrupted);
    let (a, b) = (
        values(&resumed.trainee.student.valid()),
        values(&uninterrupted.trainee.student.valid()),
    );
    let differing: Vec<(usize, f32)> = a
        .iter()
        .zip(&b)
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| {
            let max = x
                .iter()
                .zip(y.iter())
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f32::max);
            (i, max)
        })
        .collect();
    // Burn's autodiff sums the gradients of a tensor used twice in an order that varies from
    // run to run, so even two uninterrupted runs differ by float round-off, amplified by
    // training to up to ≈4e-5 in 12 steps here. A resume that lost the optimizer state, the
    // schedule or the data order would be off by the size of an Adam step: up to the learning
    // rate, 2e-3.
    let worst = differing.iter().map(|(_, d)| *d).fold(0.0, f32::max);
    assert!(
        worst < 4e-4,
        "parameters (index, max |Δ|) differ: {differing:?} of {}",
        a.len()
    );
    assert_eq!(resumed.history.len(), 2);
    std::fs::remove_dir_all(straight.root()).ok();
    std::fs::remove_dir_all(resumed_dir.root()).ok();
}
