//! A `Linear` in a shape the derive cannot walk (here a tuple) is an error, not a layer left
//! dense in silence.
use burn::nn::Linear;
use burn::prelude::*;
use pela::LowRank;

#[derive(Module, LowRank, Debug)]
pub struct Net<B: Backend> {
    pairs: Vec<(Linear<B>, Linear<B>)>,
}

fn main() {}
