//! The `pela` command with `--backend wgpu`: report on a tiny DeiT, compress it, distil it on
//! an image folder on the device, evaluate it there, and export it dense; the files it writes
//! hold what the CPU backend writes.

use std::path::Path;
use std::process::Command;

use pela_zoo::Family;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::vit::VitConfig;

use crate::common::{max_difference, values};
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
fn report_compress_distill_eval_export_on_wgpu() {
    let Some(_device) = crate::wgpu_alone() else {
        return;
    };
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
    // The plan's table does not depend on the backend; the errors of --svd are computed there.
    let report = |backend: &str, svd: bool| {
        let mut args = vec!["report", "--model", &model, "--backend", backend];
        if svd {
            args.push("--svd");
        }
        pela(&args)
    };
    let (table, log) = report("wgpu", false);
    assert!(log.contains("wgpu runs on"), "{log}");
    assert_eq!(table, report("cpu", false).0);
    let (errors, _) = report("wgpu", true);
    assert!(errors.contains("blocks.0.attn.qkv"), "{errors}");

    // The SVD runs on the host from the same weights: the same student as the CPU's.
    let compress = |backend: &str, output: &str| {
        pela(&[
            "compress",
            "--model",
            &model,
            "--checkpoint",
            &teacher,
            "--output",
            output,
            "--backend",
            backend,
        ])
    };
    compress("wgpu", &path("student.safetensors"));
    compress("cpu", &path("cpu-student.safetensors"));
    let student = |file: &str| {
        let (_, student) =
            VitConfig::load_student::<Cpu>(&path(file), &CpuDevice::default()).unwrap();
        values(&student)
    };
    let worst = max_difference(
        &student("student.safetensors"),
        &student("cpu-student.safetensors"),
    );
    assert!(worst < 1e-5, "the students differ by up to {worst}");
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
    let export = |backend: &str, output: &str| {
        pela(&[
            "export",
            "--student",
            &distilled,
            "--output",
            output,
            "--layout",
            "dense",
            "--backend",
            backend,
        ])
    };
    export("wgpu", &path("dense.safetensors"));
    export("cpu", &path("cpu-dense.safetensors"));
    let shapes = pela::checkpoint::shapes(path("dense.safetensors")).unwrap();
    assert_eq!(shapes["blocks.0.attn.qkv.weight"], vec![192, 64]);
    let config = VitConfig::new(32, 8, 10, 64, 2, 4);
    let dense = |file: &str| {
        let teacher = config
            .load_checkpoint::<Cpu>(Path::new(&path(file)), &CpuDevice::default())
            .unwrap();
        values(&teacher)
    };
    // Each factor pair is multiplied out on the device: round-off of a 64-long sum.
    let worst = max_difference(&dense("dense.safetensors"), &dense("cpu-dense.safetensors"));
    assert!(worst < 1e-5, "the dense exports differ by up to {worst}");
    std::fs::remove_dir_all(dir).ok();
}
