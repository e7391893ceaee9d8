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

/// Whether a wgpu adapter is there to run on; prints why not, or fails under
/// `PELA_REQUIRE_WGPU=1`.
fn adapter_present() -> bool {
    match pela_zoo::backend::wgpu_adapter() {
        Ok(adapter) => {
            eprintln!("wgpu adapter: {adapter}");
            true
        }
        Err(why) if std::env::var_os("PELA_REQUIRE_WGPU").is_some() => {
            panic!("PELA_REQUIRE_WGPU is set but {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}
