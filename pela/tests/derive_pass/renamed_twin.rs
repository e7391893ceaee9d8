//! `#[low_rank(twin = Name)]` renames the twin; `#[pela::twin(Name)]` follows it, on an
//! inherent impl and on a trait impl.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use pela::{LayerFeatures, LowRank, RankPlan};

#[derive(Module, LowRank, Debug)]
#[low_rank(twin = EncoderStudent)]
pub struct Encoder<B: Backend> {
    proj: Linear<B>,
}

#[pela::twin(EncoderStudent)]
impl<B: Backend> Encoder<B> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.proj.forward(x)
    }
}

#[pela::twin(EncoderStudent)]
impl<B: Backend> LayerFeatures<B> for Encoder<B> {
    type Input = Tensor<B, 3>;
    type Output = Tensor<B, 3>;

    fn forward_features(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
        let y = self.forward(x);
        (y.clone(), vec![y])
    }
}

#[test]
fn compiles_and_runs() {
    type Cpu = burn_ndarray::NdArray<f32>;
    let device = Default::default();
    let teacher = Encoder::<Cpu> {
        proj: LinearConfig::new(8, 8).init(&device),
    };
    let student: EncoderStudent<Cpu> = teacher.to_low_rank(&RankPlan::new(2.0)).unwrap();
    let (_, features) = student.forward_features(Tensor::ones([1, 2, 8], &device));
    assert_eq!(features[0].dims(), [1, 2, 8]);
}
