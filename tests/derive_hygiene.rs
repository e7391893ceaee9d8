//! The generated code uses fully qualified paths and documents what it generates: it compiles
//! next to types named like the prelude's, under `deny(warnings)` and `deny(missing_docs)`.
//! (`Clone` and `Option` are not shadowed here: Burn's own `#[derive(Module)]` names them
//! unqualified.)
#![deny(warnings, missing_docs)]

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use pela::{LowRank, RankPlan};

/// Shadows `core::result::Result`.
#[allow(dead_code)]
pub struct Result;
/// Shadows `core::ops::FnMut`.
#[allow(dead_code)]
pub trait FnMut {}

/// A documented model.
#[derive(Module, LowRank, Debug)]
pub struct Documented<B: Backend> {
    /// A documented layer.
    pub fc: Linear<B>,
    /// A documented nested list.
    #[low_rank]
    pub more: Vec<Linear<B>>,
    /// A documented constant.
    pub scale: f32,
}

#[test]
fn generated_code_is_hygienic() {
    type Cpu = burn_ndarray::NdArray<f32>;
    let device = Default::default();
    let teacher = Documented::<Cpu> {
        fc: LinearConfig::new(8, 8).init(&device),
        more: vec![LinearConfig::new(8, 8).init(&device)],
        scale: 2.0,
    };
    let student: DocumentedLowRank<Cpu> = teacher.to_low_rank(&RankPlan::new(2.0)).unwrap();
    assert_eq!(student.more[0].rank(), Some(2));
    assert_eq!(student.scale, 2.0);
}
