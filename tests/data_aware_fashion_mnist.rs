//! The data-aware initialisation on real data: Fashion-MNIST images (the Debian package
//! `dataset-fashion-mnist`, installed by `.ci/run`) through a seeded MLP.
//!
//! The first layer sees the real images themselves; deeper layers see their activations.
//! Calibrated on 2,000 test-set images, compared on 1,000 others.

mod common;

use std::io::Read;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use common::{Cpu, seeded};
use pela::{LayerFeatures, LowRank, RankPlan};

const IMAGES: &str = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

#[derive(Module, LowRank, Debug)]
pub struct ImageMlp<B: Backend> {
    fc1: Linear<B>,
    fc2: Linear<B>,
    #[low_rank(skip)]
    head: Linear<B>,
}

#[pela::twin]
impl<B: Backend> LayerFeatures<B> for ImageMlp<B> {
    type Input = Tensor<B, 2>;
    type Output = Tensor<B, 2>;

    fn forward_features(&self, x: Tensor<B, 2>) -> (Tensor<B, 2>, Vec<Tensor<B, 3>>) {
        let h1 = self.fc1.forward(x).tanh();
        let h2 = self.fc2.forward(h1.clone()).tanh();
        let logits = self.head.forward(h2.clone());
        (logits, vec![h1.unsqueeze_dim(1), h2.unsqueeze_dim(1)])
    }
}

/// The first `count` images from `skip` on, scaled to [0, 1]: `[count, 784]`.
fn images(skip: usize, count: usize) -> Tensor<Cpu, 2> {
    let file = std::fs::File::open(IMAGES).unwrap_or_else(|e| {
        panic!(
            "{IMAGES}: {e}; install it with `apt-get install dataset-fashion-mnist` (.ci/run does)"
        )
    });
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .expect("a gzip IDX file");
    assert_eq!(
        &bytes[..4],
        &[0, 0, 8, 3],
        "IDX magic of unsigned-byte images"
    );
    let n = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert!(skip + count <= n, "the file holds {n} images");
    let pixels: Vec<f32> = bytes[16 + skip * 784..16 + (skip + count) * 784]
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect();
    Tensor::from_data(TensorData::new(pixels, [count, 784]), &Default::default())
}

#[test]
fn data_aware_beats_plain_svd_on_fashion_mnist() {
    let device = Default::default();
    let teacher = seeded(3, || {
        let teacher = ImageMlp::<Cpu> {
            fc1: LinearConfig::new(784, 256).init(&device),
            fc2: LinearConfig::new(256, 128).init(&device),
            head: LinearConfig::new(128, 10).init(&device),
        };
        let _drawn = teacher.to_low_rank(&RankPlan::new(2.0)); // reads every parameter
        teacher
    });
    let calibration = teacher.calibration_twin().unwrap();
    for batch in 0..4 {
        calibration.forward_features(images(batch * 500, 500));
    }
    let plan = RankPlan::new(4.0);
    let (data_aware, report) = teacher.to_low_rank_data_aware(&plan, &calibration).unwrap();
    let plain = teacher.to_low_rank(&plan).unwrap();
    println!("{report}");

    for layer in report.layers.iter().filter(|l| !l.decision.is_dense()) {
        let e = layer.output_error.unwrap();
        assert!(e.data_aware < e.plain, "{}: {e:?}", layer.path);
    }
    // Real images live near a low-dimensional subspace: the first layer's output error
    // drops by far more than on random inputs.
    let fc1 = report.layers[0].output_error.unwrap();
    assert!(fc1.data_aware < 0.5 * fc1.plain, "{fc1:?}");

    // On 1,000 held-out images, the data-aware student's logits follow the teacher's closer.
    let held_out = images(2000, 1000);
    let relative = |student: Tensor<Cpu, 2>, teacher: Tensor<Cpu, 2>| -> f32 {
        ((student - teacher.clone()).square().sum().sqrt() / teacher.square().sum().sqrt())
            .into_scalar()
    };
    let (t, _) = teacher.forward_features(held_out.clone());
    let (p, _) = plain.forward_features(held_out.clone());
    let (d, _) = data_aware.forward_features(held_out);
    let (plain_error, aware_error) = (relative(p, t.clone()), relative(d, t));
    println!(
        "held-out logits: relative error plain SVD {plain_error:.4}, data-aware {aware_error:.4}"
    );
    assert!(
        aware_error < plain_error,
        "data-aware {aware_error} vs plain {plain_error}"
    );
}
