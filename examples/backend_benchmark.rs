//! CPU backends compared on the training step of a ViT: `burn-ndarray` against `burn-flex`.
//!
//! ```text
//! cargo run --release --example backend_benchmark
//! ```
//!
//! For two ViTs (the built-in default run's, and a DeiT-Tiny-shaped one at 64×64), times the
//! forward pass and a full training step (forward, cross-entropy, backward, AdamW) of a seeded
//! batch on each backend, interleaved so both see the same machine state, and prints the
//! medians and the ratio.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int};
use pela_zoo::backend::{CpuAutodiff, CpuDevice, FlexAutodiff, FlexDevice};
use pela_zoo::vit::VitConfig;

const REPEATS: usize = 7;

/// Median seconds of a forward pass and of a training step.
fn time<B: AutodiffBackend>(config: &VitConfig, batch: usize, device: &B::Device) -> (f64, f64) {
    B::seed(device, 1);
    let mut model = config.init::<B>(device);
    let mut optim = AdamWConfig::new().init::<B, pela_zoo::vit::Vit<B>>();
    let (c, s) = (config.channels, config.image_size);
    let images = Tensor::<B, 4>::random([batch, c, s, s], Distribution::Default, device);
    let labels =
        Tensor::<B, 1, Int>::from_data(TensorData::new(vec![1i64; batch], [batch]), device);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let inner = images.clone().inner();
    let (mut forward, mut step) = (Vec::new(), Vec::new());
    for _ in 0..REPEATS + 1 {
        let started = Instant::now();
        let _ = model.valid().forward(inner.clone()).into_data();
        forward.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let loss = loss_fn.forward(model.forward(images.clone()), labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-4, model, grads);
        let _ = model.norm.gamma.val().into_data(); // reads a parameter: the step is done
        step.push(started.elapsed().as_secs_f64());
    }
    let median = |mut v: Vec<f64>| {
        v.remove(0); // warm-up
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(forward), median(step))
}

fn main() {
    let models = [
        (
            "default run's ViT (8×8, 4×4 patches, d 64, 4 blocks)",
            VitConfig::new(8, 4, 10, 64, 4, 4).with_channels(1),
            32,
        ),
        (
            "DeiT-Tiny at 64×64 (d 192, 12 blocks)",
            VitConfig::new(64, 16, 1000, 192, 12, 3),
            16,
        ),
    ];
    println!(
        "| model | batch | ndarray fwd (ms) | flex fwd (ms) | ndarray step (ms) | flex step (ms) | step ndarray / flex |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, config, batch) in models {
        let nd = time::<CpuAutodiff>(&config, batch, &CpuDevice::default());
        let fx = time::<FlexAutodiff>(&config, batch, &FlexDevice::default());
        println!(
            "| {name} | {batch} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}× |",
            nd.0 * 1e3,
            fx.0 * 1e3,
            nd.1 * 1e3,
            fx.1 * 1e3,
            nd.1 / fx.1
        );
    }
}
