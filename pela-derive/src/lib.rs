//! Derive macros of [pela-rs](https://github.com/pela-rs/pela-rs).
//!
//! `#[derive(LowRank)]` (generating a model's low-rank student twin, its SVD conversion and the
//! teacher/student layer hooks) lands here; until then this crate exports nothing. Use the
//! `pela` crate directly: `pela::LowRankLinear::from_linear` converts one layer.
