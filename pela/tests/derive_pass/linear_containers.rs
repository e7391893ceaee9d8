//! `Linear`s in a `Vec`, an `Option` or an array, with no attribute, are compressed like a
//! bare `Linear`; with `#[low_rank(skip)]` each is kept dense and named in the report. No
//! `Linear` is left dense in silence.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use pela::{DenseReason, LayerDecision, LowRank, RankPlan};

#[derive(Module, LowRank, Debug)]
pub struct Gated<B: Backend> {
    gates: Vec<Linear<B>>,
    gate: Option<Linear<B>>,
    heads: [Linear<B>; 2],
    nested: Vec<Option<Linear<B>>>,
    absent: Option<Linear<B>>,
    #[low_rank(skip)]
    kept: Vec<Linear<B>>,
}

#[pela::twin]
impl<B: Backend> Gated<B> {
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let x = self.gates.iter().fold(x, |x, gate| gate.forward(x));
        let x = self.gate.as_ref().map_or(x.clone(), |gate| gate.forward(x));
        self.heads[0].forward(x.clone()) + self.heads[1].forward(x)
    }
}

#[test]
fn compiles_and_runs() {
    type Cpu = burn_ndarray::NdArray<f32>;
    let device = Default::default();
    let linear = || LinearConfig::new(32, 32).init::<Cpu>(&device);
    let teacher = Gated {
        gates: vec![linear(), linear()],
        gate: Some(linear()),
        heads: [linear(), linear()],
        nested: vec![Some(linear()), None],
        absent: None,
        kept: vec![linear()],
    };
    let (student, report) = teacher
        .to_low_rank_with_report(&RankPlan::new(2.0))
        .unwrap();
    assert_eq!(student.gates[1].rank(), Some(8));
    assert_eq!(student.gate.as_ref().unwrap().rank(), Some(8));
    assert_eq!(student.heads[0].rank(), Some(8));
    assert_eq!(student.nested[0].as_ref().unwrap().rank(), Some(8));
    assert!(student.absent.is_none());
    let kept: &Vec<Linear<Cpu>> = &student.kept; // unchanged type
    assert_eq!(kept[0].weight.dims(), [32, 32]);

    let rows: Vec<(&str, bool)> = report
        .layers
        .iter()
        .map(|l| (l.path.as_str(), l.decision.is_dense()))
        .collect();
    assert_eq!(
        rows,
        [
            ("gates.0", false),
            ("gates.1", false),
            ("gate", false),
            ("heads.0", false),
            ("heads.1", false),
            ("nested.0", false),
            ("kept.0", true),
        ]
    );
    assert!(matches!(
        report.layers[6].decision,
        LayerDecision::Dense(DenseReason::Skipped)
    ));
    let input = Tensor::<Cpu, 2>::ones([3, 32], &device);
    assert_eq!(teacher.forward(input.clone()).dims(), [3, 32]);
    assert_eq!(student.forward(input).dims(), [3, 32]);
}
