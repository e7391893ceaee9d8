use burn::nn::Linear;
use burn::prelude::*;
use pela::LowRank;

#[derive(Module, LowRank, Debug)]
#[low_rank(name = NetStudent)]
pub struct Net<B: Backend> {
    fc: Linear<B>,
}

fn main() {}
