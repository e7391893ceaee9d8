//! The simplest model: its `Linear` fields are compressed, the rest carried over, and the
//! forward body is written once.

use burn::nn::{Gelu, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use pela::{LowRank, RankPlan};

#[derive(Module, LowRank, Debug)]
pub struct Mlp<B: Backend> {
    norm: LayerNorm<B>,
    fc1: Linear<B>,
    fc2: Linear<B>,
    act: Gelu,
    scale: f32,
}

#[pela::twin]
impl<B: Backend> Mlp<B> {
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let h = self.act.forward(self.fc1.forward(self.norm.forward(x)));
        self.fc2.forward(h) * self.scale
    }
}

#[test]
fn compiles_and_runs() {
    type Cpu = burn_ndarray::NdArray<f32>;
    let device = Default::default();
    let teacher = Mlp::<Cpu> {
        norm: LayerNormConfig::new(16).init(&device),
        fc1: LinearConfig::new(16, 64).init(&device),
        fc2: LinearConfig::new(64, 16).init(&device),
        act: Gelu::new(),
        scale: 0.5,
    };
    let student: MlpLowRank<Cpu> = teacher.to_low_rank(&RankPlan::new(2.0)).unwrap();
    assert_eq!(student.fc1.rank(), Some(6));
    let x = Tensor::ones([3, 16], &device);
    assert_eq!(teacher.forward(x.clone()).dims(), [3, 16]);
    assert_eq!(student.forward(x).dims(), [3, 16]);
}
