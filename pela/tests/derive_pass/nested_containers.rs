//! Nested modules deriving `LowRank`, inside `Vec`, `Option` and arrays, with per-field rules.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use pela::{LowRank, RankPlan};

#[derive(Module, LowRank, Debug)]
pub struct Expert<B: Backend> {
    up: Linear<B>,
    down: Linear<B>,
}

#[derive(Module, LowRank, Debug)]
pub struct Net<B: Backend> {
    #[low_rank]
    experts: Vec<Expert<B>>,
    #[low_rank(ratio = 4)]
    shared: Option<Expert<B>>,
    #[low_rank(rank = 2)]
    heads: [Linear<B>; 2],
    #[low_rank]
    absent: Option<Linear<B>>,
}

#[test]
fn compiles_and_runs() {
    type Cpu = burn_ndarray::NdArray<f32>;
    let device = Default::default();
    let expert = || Expert::<Cpu> {
        up: LinearConfig::new(32, 64).init(&device),
        down: LinearConfig::new(64, 32).init(&device),
    };
    let teacher = Net {
        experts: vec![expert(), expert()],
        shared: Some(expert()),
        heads: [
            LinearConfig::new(32, 16).init(&device),
            LinearConfig::new(32, 16).init(&device),
        ],
        absent: None,
    };
    let (student, report) = teacher
        .to_low_rank_with_report(&RankPlan::new(2.0))
        .unwrap();
    assert_eq!(student.experts[1].down.rank(), Some(10));
    assert_eq!(student.shared.as_ref().unwrap().up.rank(), Some(5));
    assert_eq!(student.heads[1].rank(), Some(2));
    assert!(student.absent.is_none());
    let paths: Vec<_> = report.layers.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "experts.0.up",
            "experts.0.down",
            "experts.1.up",
            "experts.1.down",
            "shared.up",
            "shared.down",
            "heads.0",
            "heads.1"
        ]
    );
}
