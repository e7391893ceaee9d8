use burn::nn::Linear;
use burn::prelude::*;
use pela::LowRank;

#[derive(Module, LowRank, Debug)]
pub struct Net<B: Backend> {
    #[low_rank(skip, rank = 4)]
    head: Linear<B>,
}

fn main() {}
