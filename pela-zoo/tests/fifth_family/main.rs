//! A fifth family added as a newcomer adds one: its file (`perceptron.rs`) and one line in a
//! table of families, on which the whole `pela` command runs.

mod perceptron;

use std::path::{Path, PathBuf};

use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use pela::{LowRank, LowRankStudent};
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::family::kind::ImageClassification;
use pela_zoo::family::{Family, Zoo};
use pela_zoo::vit;
use perceptron::PerceptronConfig;

pela_zoo::families! {
    /// The zoo's family this crate runs, and the new family's line.
    #[derive(Debug, Clone, PartialEq)]
    enum MyZoo {
        Vit(vit::VitConfig): ImageClassification,
        Perceptron(PerceptronConfig): ImageClassification, // the new line
    }
}

/// The `pela` command on `MyZoo`, in this process.
fn pela(args: &[&str]) -> anyhow::Result<()> {
    pela_zoo::cli::run::<MyZoo, _, _>([&["pela", "--quiet"][..], args].concat())
}

/// A fresh folder for this test's files.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pela-fifth-family-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

#[test]
fn the_table_finds_the_new_family_by_preset_json_and_student_file() {
    let preset = MyZoo::preset("perceptron_digits").unwrap();
    assert_eq!(preset, MyZoo::Perceptron(PerceptronConfig::new(8, 256, 10)));
    assert_eq!(preset.family(), "Perceptron");
    let typo = MyZoo::preset("perceptron_digit").unwrap_err().to_string();
    assert!(typo.contains("did you mean `perceptron_digits`"), "{typo}");
    // The zoo's own families are still there.
    assert_eq!(
        MyZoo::preset("deit_tiny_patch16_224").unwrap().family(),
        "ViT"
    );

    let json = r#"{"image_size": 4, "hidden": 12, "num_classes": 3}"#;
    assert_eq!(
        MyZoo::from_json(json).unwrap(),
        MyZoo::Perceptron(PerceptronConfig::new(4, 12, 3))
    );
    let no_family = MyZoo::from_json(r#"{"width": 3}"#).unwrap_err().to_string();
    assert!(
        no_family.contains("Perceptron configs have `hidden`"),
        "{no_family}"
    );

    let config = PerceptronConfig::new(4, 12, 3);
    let device = CpuDevice::default();
    let student = config
        .init::<Cpu>(&device)
        .to_low_rank(&config.pela_plan())
        .unwrap();
    let file = folder("table").join("student.safetensors");
    config.save_student(&student, &file).unwrap();
    assert_eq!(MyZoo::of_student(&file).unwrap(), MyZoo::Perceptron(config));
}

#[test]
fn report_compress_eval_and_export_run_on_the_new_family() {
    let dir = folder("commands");
    // A teacher checkpoint as PyTorch would write it: a random perceptron.
    let config = PerceptronConfig::preset("perceptron_digits").unwrap();
    let device = CpuDevice::default();
    let teacher_file = dir.join("teacher.safetensors");
    let mut store =
        SafetensorsStore::from_file(&teacher_file).with_to_adapter(BurnToPyTorchAdapter);
    config.init::<Cpu>(&device).save_into(&mut store).unwrap();

    pela(&["report", "--model", "perceptron_digits"]).unwrap();
    pela(&["report", "--model", "perceptron_digits", "--svd", "--json"]).unwrap();

    let student_file = dir.join("student.safetensors");
    let student = text(&student_file);
    pela(&[
        "compress",
        "--model",
        "perceptron_digits",
        "--checkpoint",
        &text(&teacher_file),
        "--output",
        &student,
    ])
    .unwrap();
    // κ = 2 on the 64 → 256 layer: rank 25 = 64·256 / (2·320); the head stays dense.
    let (loaded, compressed) =
        PerceptronConfig::load_student::<Cpu>(&student_file, &device).unwrap();
    assert_eq!(loaded, config);
    let report = std::fs::read_to_string(student_file.with_extension("report.json")).unwrap();
    assert!(report.contains("\"hidden\""), "{report}");
    let ranks: Vec<(String, usize)> = compressed
        .low_rank_layers()
        .into_iter()
        .map(|(name, layer)| (name, layer.rank()))
        .collect();
    assert_eq!(ranks, vec![("hidden".to_string(), 25)]);

    pela(&[
        "eval",
        "--student",
        &student,
        "--data",
        "digits",
        "--batch-size",
        "16",
    ])
    .unwrap();

    let exported = dir.join("dense.safetensors");
    pela(&[
        "export",
        "--student",
        &student,
        "--layout",
        "dense",
        "--output",
        &text(&exported),
    ])
    .unwrap();
    // The dense export is a teacher checkpoint of the family again.
    PerceptronConfig::preset("perceptron_digits")
        .unwrap()
        .load_checkpoint::<Cpu>(&exported, &device)
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_missing_teacher_checkpoint_is_named_by_the_command() {
    let missing = pela(&[
        "compress",
        "--model",
        "perceptron_digits",
        "--checkpoint",
        "/nonexistent/teacher.safetensors",
        "--output",
        &text(&folder("refuse").join("s.safetensors")),
    ])
    .unwrap_err();
    assert!(
        format!("{missing:#}").contains("/nonexistent/teacher.safetensors"),
        "{missing:#}"
    );
}
