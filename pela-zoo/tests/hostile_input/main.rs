//! Hostile and broken input, and runs that die: damaged and unusual checkpoint files
//! ([`checkpoints`]), files whose sizes or contents lie ([`files`]), runs that meet an
//! unreadable image, a mismatched resume or several devices ([`runs`]), and a run killed with
//! SIGKILL ([`kill`]). One test binary, so that the build links one executable for them.

#[path = "../common/mod.rs"]
mod common;

mod checkpoints;
mod files;
mod kill;
mod runs;
