use burn::nn::Linear;
use burn::prelude::*;
use pela::LowRank;

#[derive(Module, LowRank, Debug)]
pub struct Net<B: Backend> {
    #[low_rank(skip, skip)]
    head: Linear<B>,
    #[low_rank(skip)]
    #[low_rank(rank = 4)]
    fc: Linear<B>,
}

fn main() {}
