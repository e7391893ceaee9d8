use burn::nn::Linear;
use burn::prelude::*;
use pela::LowRank;

#[derive(LowRank)]
pub struct Head<Bk: Backend> {
    fc: Linear<Bk>,
}

fn main() {}
