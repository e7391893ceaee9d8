use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use pela::LowRank;

#[derive(Module, LowRank, Debug)]
pub struct Block<B: Backend> {
    fc1: Linear<B>,
    #[low_rank]
    norm: LayerNorm<B>,
}

fn main() {}
