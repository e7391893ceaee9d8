//! Where Swin-B's forward pass spends its time, stage by stage and part by part, for the dense
//! teacher and its κ = 1.5 PELA student, on burn-flex: the breakdown behind the Swin goal of
//! the book's "Speed on the CPU" (the student at least 1.3× faster than its teacher).
//!
//! ```text
//! cargo run --example swin_stages -- --batch 8
//! ```
//!
//! Each part is timed around its call (burn-flex runs every op before it returns), the best of
//! `--repeats` passes counting for each part. Prints a table in milliseconds: each stage's
//! patch merging, its blocks' norms, attention projections (`qkv`, `proj`), window attention
//! (partition, the bias and `softmax(q·kᵀ + bias)·v`, merge), MLP (`fc1`, GELU, `fc2`) and residual adds,
//! the teacher's time, the student's, and the teacher's over the student's. Stage 0 is the
//! patch embedding, stage 5 the final norm, pooling and head.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;
use pela::LowRank;
use pela::nn::{Project, on_rows};
use pela::ops::{gelu, window_merge, window_partition};
use pela_zoo::backend::{Flex, FlexDevice};
use pela_zoo::swin::SwinConfig;

/// Swin-B and its κ = 1.5 student, timed stage by stage and part by part on burn-flex.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Images in the batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Timed passes; the best of each part counts.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

/// The best time of each `(stage, part)`, in seconds.
#[derive(Default)]
struct Times(BTreeMap<(usize, &'static str), f64>);

/// One pass's times, added up per `(stage, part)`.
#[derive(Default)]
struct Pass(BTreeMap<(usize, &'static str), f64>);

impl Pass {
    /// Runs `work`, adds its time to `(stage, part)` and returns its result.
    fn time<T>(&mut self, stage: usize, part: &'static str, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = work();
        *self.0.entry((stage, part)).or_default() += start.elapsed().as_secs_f64();
        out
    }
}

impl Times {
    fn keep_best(&mut self, pass: Pass) {
        for (key, seconds) in pass.0 {
            let best = self.0.entry(key).or_insert(f64::INFINITY);
            *best = best.min(seconds);
        }
    }
}

/// One forward pass of a Swin (the teacher or its student: the same fields and methods),
/// timed part by part.
macro_rules! timed_forward {
    ($model:expr, $images:expr, $pass:expr) => {{
        let (model, pass) = (&$model, &mut $pass);
        let mut grid = pass.time(0, "patch embedding", || {
            model.patch_embed.forward($images.clone())
        });
        for (s, stage) in model.layers.iter().enumerate() {
            let stage_no = s + 1;
            if let Some(merging) = &stage.downsample {
                grid = pass.time(stage_no, "patch merging", || merging.forward(grid));
            }
            for block in &stage.blocks {
                let [batch, height, width, dim] = grid.dims();
                let normed = pass.time(stage_no, "norms", || block.norm1.forward(grid.clone()));
                let (size, shift) = (block.window_size, block.shift);
                let windows = pass.time(stage_no, "window partition and merge", || {
                    window_partition(normed, size, shift)
                });
                let attn = &block.attn;
                let n_windows = windows.dims()[0];
                let qkv = pass.time(stage_no, "qkv", || {
                    on_rows(windows, |rows| attn.qkv.project(rows))
                });
                let context = pass.time(stage_no, "attention", || {
                    let mask = block.shift_mask([height, width], &grid.device());
                    attn.attend(qkv, attn.attention_bias(n_windows, mask))
                });
                let projected = pass.time(stage_no, "proj", || {
                    on_rows(context, |rows| attn.proj.project(rows))
                });
                let attended = pass.time(stage_no, "window partition and merge", || {
                    window_merge(projected, size, shift, [height, width])
                });
                let x = pass.time(stage_no, "residual adds", || grid.clone() + attended);
                let tokens = x.reshape([batch, height * width, dim]);
                let normed = pass.time(stage_no, "norms", || block.norm2.forward(tokens.clone()));
                let rows = normed.reshape([batch * height * width, dim]);
                let hidden = pass.time(stage_no, "fc1", || block.mlp.fc1.project(rows));
                let hidden = pass.time(stage_no, "GELU", || gelu(hidden));
                let out = pass.time(stage_no, "fc2", || block.mlp.fc2.project(hidden));
                let x = pass.time(stage_no, "residual adds", || {
                    tokens + out.reshape([batch, height * width, dim])
                });
                grid = x.reshape([batch, height, width, dim]);
            }
        }
        pass.time(5, "norm, pool and head", || model.forward_head(grid))
    }};
}

fn main() -> Result<(), pela::PelaError> {
    let args = Args::parse();
    let device = FlexDevice::default();
    // Seeded weights and images (the times do not depend on them).
    <Flex as Backend>::seed(&device, 0);
    let config = SwinConfig::swin_base_patch4_window7_224();
    eprintln!(
        "Swin-B at batch {} on burn-flex; factorising at κ = 1.5",
        args.batch
    );
    let teacher = config.init::<Flex>(&device);
    let student = teacher.to_low_rank(&config.pela_plan())?;
    let images = Tensor::<Flex, 4>::random(
        [args.batch, 3, 224, 224],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    // The timed parts must make the model's own output: check them against `forward`.
    let check = |mine: Tensor<Flex, 2>, theirs: Tensor<Flex, 2>| {
        mine.into_data()
            .assert_approx_eq::<f32>(&theirs.into_data(), Default::default())
    };
    let (mut teacher_times, mut student_times) = (Times::default(), Times::default());
    // One timed pass of `$model`: the first checked against its `forward`, the others kept.
    macro_rules! measure {
        ($model:expr, $times:expr, $repeat:expr) => {{
            let mut pass = Pass::default();
            let logits = timed_forward!($model, images, pass);
            if $repeat == 0 {
                check(logits, $model.forward(images.clone()));
            } else {
                $times.keep_best(pass);
            }
        }};
    }
    for repeat in 0..=args.repeats {
        measure!(teacher, teacher_times, repeat);
        measure!(student, student_times, repeat);
        eprintln!("  pass {repeat} of {} (the first warms up)", args.repeats);
    }

    println!("| stage | part | teacher | student | teacher / student |");
    println!("|---|---|---|---|---|");
    let (mut teacher_total, mut student_total) = (0.0, 0.0);
    for (key, teacher_seconds) in &teacher_times.0 {
        let student_seconds = student_times.0[key];
        teacher_total += teacher_seconds;
        student_total += student_seconds;
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.2}× |",
            key.0,
            key.1,
            teacher_seconds * 1e3,
            student_seconds * 1e3,
            teacher_seconds / student_seconds
        );
    }
    println!(
        "| all | sum of the parts | {:.1} ms | {:.1} ms | {:.2}× |",
        teacher_total * 1e3,
        student_total * 1e3,
        teacher_total / student_total
    );
    Ok(())
}
