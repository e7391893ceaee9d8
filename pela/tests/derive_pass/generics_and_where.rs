//! Type and const generic parameters and where-clauses carry over to the twin.

use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;
use pela::{LowRank, RankPlan};

pub trait Activate<B: Backend>: Clone + core::fmt::Debug {
    fn activate(&self, x: Tensor<B, 2>) -> Tensor<B, 2>;
}

impl<B: Backend> Activate<B> for Relu {
    fn activate(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.forward(x)
    }
}

#[derive(Module, LowRank, Debug)]
pub struct Layer<B: Backend, A> {
    fc: Linear<B>,
    act: A,
}

#[derive(Module, LowRank, Debug)]
pub struct Stack<B: Backend, A, const DEPTH: usize>
where
    A: Clone + core::fmt::Debug,
{
    #[low_rank]
    layers: Vec<Layer<B, A>>,
}

#[pela::twin]
impl<B: Backend, A: Activate<B>, const DEPTH: usize> Stack<B, A, DEPTH> {
    pub fn forward(&self, mut x: Tensor<B, 2>) -> Tensor<B, 2> {
        for layer in self.layers.iter().take(DEPTH) {
            x = layer.act.activate(layer.fc.forward(x));
        }
        x
    }
}

#[test]
fn compiles_and_runs() {
    type Cpu = burn_ndarray::NdArray<f32>;
    let device = Default::default();
    let teacher = Stack::<Cpu, Relu, 2> {
        layers: (0..2)
            .map(|_| Layer {
                fc: LinearConfig::new(24, 24).init(&device),
                act: Relu::new(),
            })
            .collect(),
    };
    let student: StackLowRank<Cpu, Relu, 2> = teacher.to_low_rank(&RankPlan::new(3.0)).unwrap();
    assert_eq!(student.layers[0].fc.rank(), Some(4));
    let x = Tensor::ones([2, 24], &device);
    assert_eq!(teacher.forward(x.clone()).dims(), [2, 24]);
    assert_eq!(student.forward(x).dims(), [2, 24]);
}
