//! The shapes `#[derive(LowRank)]` must accept: each module is a user's model that compiles and
//! whose student runs. (The shapes it refuses are trybuild's: `tests/compiletest.rs`.)
//!
//! They are ordinary tests, not trybuild `pass` cases, so that trybuild only type-checks
//! (`cargo check`) its own project instead of building and linking Burn a second time.

mod basic;
mod generics_and_where;
mod linear_containers;
mod nested_containers;
mod renamed_twin;
