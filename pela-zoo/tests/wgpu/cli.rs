//! The `pela` command with `--backend wgpu`: compress a tiny DeiT, distil it on an image
//! folder on the device, evaluate it there, and export it dense.

use std::path::Path;
use std::process::Command;

use crate::reference::fixture;

/// Runs `pela args`; its stdout and stderr, or the test fails with them.
fn pela(args: &[&str]) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pela"))
        .args(args)
        .arg("--no-progress")
        .output()
        .expect("the pela binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{args:?}: {stderr}");
    (String::from_utf8_lossy(&output.stdout).to_string(), stderr)
}

/// A folder of 32 × 32 PNGs, two classes of four, in `train` and `val`.
fn image_folder(root: &Path) {
    for split in ["train", "val"] {
        for (class, base) in [("cat", 40u8), ("dog", 180u8)] {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..4u8 {
                let image = image::RgbImage::from_fn(32, 32, |x, y| {
                    let noise = ((x * 7 + y * 13 + u32::from(i) * 31) % 64) as u8;
                    image::Rgb([base.saturating_add(noise), noise, 255 - base])
                });
                image.save(dir.join(format!("{i}.png"))).unwrap();
            }
        }
    }
}

#[test]
fn compress_distill_eval_export_on_wgpu() {
    if !crate::adapter_present() {
        return;
    }
    let dir = crate::common::scratch("wgpu-cli").root().to_path_buf();
    image_folder(&dir.join("images"));
    let path = |name: &str| dir.join(name).display().to_string();
    std::fs::write(
        dir.join("deit_test.json"),
        r#"{"image_size": 32, "patch_size": 8, "num_classes": 10, "d_model": 64, "depth": 2,
            "n_heads": 4}"#,
    )
    .unwrap();
    let teacher = fixture("deit_test.safetensors").display().to_string();
    let data = format!("folder={}", path("images"));
    let model = path("deit_test.json");
    pela(&[
        "compress",
        "--model",
        &model,
        "--checkpoint",
        &teacher,
        "--output",
        &path("student.safetensors"),
    ]);
    let (_, log) = pela(&[
        "distill",
        "--model",
        &model,
        "--checkpoint",
        &teacher,
        "--student",
        &path("student.safetensors"),
        "--data",
        &data,
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--run-dir",
        &path("distill"),
        "--backend",
        "wgpu",
    ]);
    assert!(log.contains("wgpu runs on"), "{log}");
    let metrics = std::fs::read_to_string(dir.join("distill/metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    let distilled = path("distill/student.safetensors");
    let (eval, _) = pela(&[
        "eval",
        "--student",
        &distilled,
        "--data",
        &data,
        "--batch-size",
        "4",
        "--backend",
        "wgpu",
    ]);
    assert!(
        eval.contains("accuracy") && eval.contains("(8 images)"),
        "{eval}"
    );
    pela(&[
        "export",
        "--student",
        &distilled,
        "--output",
        &path("dense.safetensors"),
        "--layout",
        "dense",
    ]);
    let shapes = pela::checkpoint::shapes(path("dense.safetensors")).unwrap();
    assert_eq!(shapes["blocks.0.attn.qkv.weight"], vec![192, 64]);
    std::fs::remove_dir_all(dir).ok();
}
