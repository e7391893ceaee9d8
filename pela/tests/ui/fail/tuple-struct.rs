use burn::nn::Linear;
use burn::prelude::*;
use pela::LowRank;

#[derive(LowRank)]
pub struct Pair<B: Backend>(Linear<B>, Linear<B>);

fn main() {}
