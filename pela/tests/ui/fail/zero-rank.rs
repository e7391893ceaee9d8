use burn::nn::Linear;
use burn::prelude::*;
use pela::LowRank;

#[derive(Module, LowRank, Debug)]
pub struct Block<B: Backend> {
    #[low_rank(rank = 0)]
    fc1: Linear<B>,
}

fn main() {}
