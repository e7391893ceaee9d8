//! Helpers shared by the integration tests.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::train::RunDir;

/// Every parameter's values, in visiting order.
pub fn values<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<f32>> {
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

/// The largest difference between the parameters of two models of one architecture.
pub fn max_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

/// Runs the calling test alone among the tests of its file that call this, Burn's generator
/// seeded with `seed`. Such tests share that generator (teacher draws, queues, `L_rwp`'s
/// noise), so side by side their draws would depend on the threads' timing and a test's
/// numbers would change from run to run.
#[allow(dead_code)] // not every test file draws from Burn's generator
pub fn alone(seed: u64) -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Cpu::seed(&CpuDevice::default(), seed);
    guard
}

/// An empty run folder for the test `name` of this process.
pub fn scratch(name: &str) -> RunDir {
    let dir = std::env::temp_dir().join(format!("pela-zoo-test-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    RunDir::new(dir).unwrap()
}
