use burn::nn::Linear;
use burn::prelude::*;
use pela::LowRank;

#[derive(Module, LowRank, Debug)]
pub enum Mixer<B: Backend> {
    Dense(Linear<B>),
}

fn main() {}
