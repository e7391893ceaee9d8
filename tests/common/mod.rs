//! Helpers shared by the cross-crate tests.

use std::sync::Mutex;

use burn::tensor::backend::Backend;

/// The CPU backend every test runs on.
pub type Cpu = burn_ndarray::NdArray<f32>;

/// Runs `draw` right after seeding Burn's global generator, under a lock: tests run in
/// parallel threads and would otherwise interleave their draws. `draw` must read every random
/// tensor it creates (a lazily initialised `Param` draws when first read; converting a model
/// with `to_low_rank` reads them all).
pub fn seeded<T>(seed: u64, draw: impl FnOnce() -> T) -> T {
    static RNG: Mutex<()> = Mutex::new(());
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    Cpu::seed(&Default::default(), seed);
    draw()
}
