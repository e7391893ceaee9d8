//! The GPU code path before a GPU is at hand: the zoo, the SVD and the engine on Burn's wgpu
//! backend (CubeCL kernels, fusion and autotune, the same compiler as burn-cuda). CI runs it
//! on Mesa's lavapipe, a Vulkan driver on the CPU. Built with `--features wgpu`; one test
//! binary, so that the build links one executable for all of it.
//!
//! Without a wgpu adapter each test prints why and returns; with `PELA_REQUIRE_WGPU=1` (CI
//! sets it) a missing adapter fails the test instead.
#![cfg(feature = "wgpu")]

#[path = "../common/mod.rs"]
mod common;
#[path = "../reference/mod.rs"]
mod reference;

mod cli;
mod compress;
mod parity;
mod train;

/// The wgpu device for the calling test alone, or `None` when no adapter is there (it prints
/// why, or fails under `PELA_REQUIRE_WGPU=1`).
///
/// The tests of this binary share one device and its autotune cache. While one test tunes a
/// kernel, another that launches the same kernel gets CubeCL's untuned fallback instead
/// (`cubecl-runtime`'s `TuneCacheResult::Pending`), so side by side a test's numbers would
/// depend on the threads' timing. Each holds the device for its whole run.
fn wgpu_alone() -> Option<std::sync::MutexGuard<'static, ()>> {
    static DEVICE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    match pela_zoo::backend::wgpu_adapter() {
        Ok(adapter) => {
            let alone = DEVICE
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            eprintln!("wgpu adapter: {adapter}");
            Some(alone)
        }
        Err(why) if std::env::var_os("PELA_REQUIRE_WGPU").is_some() => {
            panic!("PELA_REQUIRE_WGPU is set but {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}
