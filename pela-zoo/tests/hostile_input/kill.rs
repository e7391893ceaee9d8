//! `pela distill` killed with SIGKILL (no handler runs, no checkpoint is written at the kill)
//! at several points, and run again with `--resume` each time, ends where an uninterrupted run
//! ends: the checkpoints it had committed are whole, and the resumed runs continue them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{max_difference, values};
use pela_zoo::Family;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::vit::VitConfig;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// Two classes of eight 32 × 32 images, for training and validation.
fn image_folder(root: &Path) {
    for split in ["train", "val"] {
        for (class, base) in [("cat", 40u8), ("dog", 180u8)] {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..8u8 {
                image::RgbImage::from_fn(32, 32, |x, y| {
                    image::Rgb([base, (x as u8 * 7) ^ i, (y as u8 * 5).wrapping_add(i * 9)])
                })
                .save(dir.join(format!("{i}.png")))
                .unwrap();
            }
        }
    }
}

fn distill(dir: &Path, run: &str, resume: bool) -> Command {
    let model = dir.join("model.json").display().to_string();
    let data = format!("folder={}", dir.join("images").display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_pela"));
    command.args([
        "distill",
        "--model",
        &model,
        "--checkpoint",
        &fixture("deit_test.safetensors"),
        "--data",
        &data,
        "--epochs",
        "40",
        "--batch-size",
        "4",
        "--workers",
        "0",
        "--backend",
        "cpu",
        "--no-progress",
        "--run-dir",
    ]);
    command.arg(dir.join(run));
    if resume {
        command.arg("--resume");
    }
    command
}

fn student(path: PathBuf) -> Vec<Vec<f32>> {
    let (_, student) = VitConfig::load_student::<Cpu>(&path, &CpuDevice::default()).unwrap();
    values(&student)
}

#[test]
fn a_run_killed_at_several_points_and_resumed_ends_as_an_uninterrupted_one() {
    let dir = std::env::temp_dir().join(format!("pela-zoo-kill-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    image_folder(&dir.join("images"));
    std::fs::write(
        dir.join("model.json"),
        r#"{"image_size": 32, "patch_size": 8, "num_classes": 10, "d_model": 64, "depth": 2, "n_heads": 4}"#,
    )
    .unwrap();
    let status = distill(&dir, "straight", false).status().unwrap();
    assert!(status.success());

    // Killed after growing delays until a run completes; each time resumed when a checkpoint
    // was committed, started again otherwise.
    let mut kills = 0;
    for delay_ms in (1..).map(|k| 150 * k) {
        let resume = dir.join("killed/checkpoint/state.json").is_file();
        let mut child = distill(&dir, "killed", resume).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success(), "the last run ended with {status}");
                break;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
        assert!(kills < 40, "the run never completes");
    }
    assert!(
        kills >= 2,
        "killed {kills} times: the run was too short to test"
    );
    let worst = max_difference(
        &student(dir.join("straight/student.safetensors")),
        &student(dir.join("killed/student.safetensors")),
    );
    // As the engine's resume test: float round-off of Burn's autodiff, not an Adam step.
    assert!(
        worst < 4e-4,
        "parameters differ by up to {worst} after {kills} kills"
    );
    std::fs::remove_dir_all(dir).ok();
}
