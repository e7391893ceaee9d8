//! Ready PELA models, trainers and the `pela` command of
//! [pela-rs](https://github.com/pela-rs/pela-rs).
//!
//! The zoo's models (DeiT, DeiT-III, Swin, BERT, ALBEF) and trainers land here. For now it
//! holds the backends every runnable part of the project uses.
#![warn(missing_docs)]

pub mod backend;
