//! Reading the reference fixtures of `tests/fixtures` (written by the scripts in
//! `pela-zoo/scripts`) and comparing against them. Each test file uses some of these.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::Tolerance;
use burn_store::{ModuleStore, SafetensorsStore};
use pela_zoo::backend::{Cpu, CpuDevice};

/// The reference implementation's forward and ours agree to float32 round-off.
pub const TOLERANCE: f64 = 1e-4;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The tensors of a fixture file, on the CPU.
pub fn tensors(name: &str) -> BTreeMap<String, TensorData> {
    let mut store = SafetensorsStore::from_file(fixture(name));
    let snapshots = store.get_all_snapshots().unwrap().clone();
    snapshots
        .into_iter()
        .map(|(key, snapshot)| (key, snapshot.to_data().unwrap()))
        .collect()
}

pub fn tensor<const D: usize>(data: &BTreeMap<String, TensorData>, key: &str) -> Tensor<Cpu, D> {
    Tensor::from_data(data[key].clone(), &CpuDevice::default())
}

/// The shapes of the tensors of a safetensors file, by key.
pub fn shapes(path: &Path) -> BTreeMap<String, Vec<usize>> {
    let mut store = SafetensorsStore::from_file(path);
    let all = store.get_all_snapshots().unwrap();
    all.iter()
        .map(|(key, snapshot)| (key.clone(), snapshot.shape.to_vec()))
        .collect()
}

/// A tensor of any backend on [`Cpu`], to compare against a reference.
pub fn on_cpu<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Tensor<Cpu, D> {
    Tensor::from_data(tensor.into_data(), &CpuDevice::default())
}

pub fn assert_close<const D: usize>(ours: Tensor<Cpu, D>, reference: Tensor<Cpu, D>, what: &str) {
    assert_eq!(ours.dims(), reference.dims(), "{what}: shapes");
    let max_error = (ours.clone() - reference.clone()).abs().max().into_scalar();
    assert!(
        max_error < TOLERANCE as f32,
        "{what}: max |ours − reference| = {max_error:e}"
    );
    ours.into_data()
        .assert_approx_eq::<f32>(&reference.into_data(), Tolerance::absolute(TOLERANCE));
}

/// `<name>.json`'s parameter counts of a full-size model, dense and as the authors' student.
pub fn reference_counts(file: &str, arch: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(fixture(file)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let model = &json["models"][arch];
    let count = |key: &str| model[key].as_u64().unwrap() as usize;
    (count("params"), count("student_params"))
}
