//! DeiT-Base and its κ = 2 student on burn-flex, timed as `examples/forward_benchmark.rs`
//! times them (the best of 5 after a warm-up), in a crate of its own: what a user's program
//! gets from `pela-zoo` without settings of its own.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use pela::LowRank;
use pela_zoo::backend::Flex;
use pela_zoo::vit::VitConfig;

/// Best seconds of 5 runs of `run`, after one warm-up run.
fn best_seconds<T>(mut run: impl FnMut() -> T) -> f64 {
    drop(run());
    (0..5)
        .map(|_| {
            let start = Instant::now();
            drop(run());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), pela_zoo::ZooError> {
    let device = Default::default();
    Flex::seed(&device, 0);
    let config = VitConfig::deit_base_patch16_224();
    let teacher = config.init::<Flex>(&device);
    let student = teacher.to_low_rank(&config.pela_plan())?;
    println!("| DeiT-Base on flex, own crate | teacher | κ = 2 student |");
    println!("|---|---|---|");
    for batch in [1, 8] {
        let images =
            Tensor::<Flex, 4>::random([batch, 3, 224, 224], Distribution::Default, &device);
        let teacher_s = best_seconds(|| teacher.forward(images.clone()).into_data());
        let student_s = best_seconds(|| student.forward(images.clone()).into_data());
        println!(
            "| batch {batch} | {:.1} ms | {:.1} ms |",
            teacher_s * 1e3,
            student_s * 1e3
        );
    }
    Ok(())
}
