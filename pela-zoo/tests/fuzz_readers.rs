//! Every reader of files, fed valid files mutated by truncation, byte flips and inflated size
//! fields (a 32-bit field set to `0xFFFF_FFFF`), gives `Ok` or a named `Err`: never a panic
//! (proptest reports one as a failure, shrunk to the smallest mutation), never an abort on an
//! allocation the file cannot back (the process's address space is capped at 8 GiB).
//!
//! Seeded (ChaCha, a fixed seed), no failure files; the cases a reader:
//!
//! | reader | valid file | cases |
//! |---|---|---|
//! | safetensors checkpoint | `deit_test.safetensors` (timm) | 150 |
//! | PyTorch `.pth` | `deit_test_fb.pth` (`torch.save`) | 150 |
//! | student file | a ViT student saved by `save_student` | 150 |
//! | ONNX initialisers | a model of three initialisers | 300 |
//! | IDX (plain and gzipped) | 20 images of 28 × 28 | 300 + 150 |
//! | image folder | an 8 × 8 PNG | 300 |
//! | model config JSON | a ViT's | 400 |
//! | annotation JSON | two entries | 400 |
//! | tokenizer folder | `tokenizer.json` of 35 tokens, `config.json` | 150 |
//! | run state | `checkpoint/state.json` | 400 |

use std::path::{Path, PathBuf};

use pela::LowRank;
use pela_zoo::albef::Annotations;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::bert::BertFiles;
use pela_zoo::data::{ImageDataset, ImageFolder, read_idx};
use pela_zoo::train::RunDir;
use pela_zoo::vit::VitConfig;
use pela_zoo::{Architecture, Family, Zoo};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

#[allow(dead_code)] // only the tokenizer helper
mod common;

/// One change to a valid file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Cut at this fraction of the length.
    Truncate(f64),
    /// XOR the byte at this fraction of the length with the mask.
    Flip(f64, u8),
    /// Set the four bytes at this fraction of the length to `0xFFFF_FFFF`.
    Inflate(f64),
}

fn mutation() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        (0.0..1.0f64).prop_map(Mutation::Truncate),
        (0.0..1.0f64, 1..=255u8).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        (0.0..1.0f64).prop_map(Mutation::Inflate),
    ];
    proptest::collection::vec(one, 1..4)
}

/// The first bytes matter most (headers, sizes): half the positions fall in the first 64.
fn position(at: f64, len: usize) -> usize {
    let header = len.min(64);
    let p = if at < 0.5 {
        (at * 2.0 * header as f64) as usize
    } else {
        ((at - 0.5) * 2.0 * len as f64) as usize
    };
    p.min(len.saturating_sub(1))
}

fn mutate(base: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        match *m {
            Mutation::Truncate(at) => bytes.truncate(position(at, bytes.len())),
            Mutation::Flip(at, mask) => {
                let i = position(at, bytes.len());
                bytes[i] ^= mask;
            }
            Mutation::Inflate(at) => {
                let i = position(at, bytes.len());
                let end = (i + 4).min(bytes.len());
                bytes[i..end].fill(0xff);
            }
        }
    }
    bytes
}

/// Caps the address space once (the cap holds for the whole test binary, all fuzz tests).
fn cap_memory() {
    static CAP: std::sync::Once = std::sync::Once::new();
    CAP.call_once(|| {
        let cap = 8 << 30;
        let limit = libc::rlimit {
            rlim_cur: cap,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit reads the struct it is given and changes only this process.
        let status = unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
        assert_eq!(status, 0, "setrlimit(RLIMIT_AS)");
    });
}

/// Runs `read` on `cases` mutations of `base`; a panic fails the test.
fn fuzz(name: &str, base: &[u8], cases: u32, read: impl Fn(&[u8])) {
    cap_memory();
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    };
    let seed: [u8; 32] = *b"pela-rs fuzz readers, seed 2026!";
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    runner
        .run(&mutation(), |mutations| {
            read(&mutate(base, &mutations));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pela-zoo-fuzz-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The architecture of the fixtures.
fn deit() -> VitConfig {
    VitConfig::new(32, 8, 10, 64, 2, 4)
}

#[test]
fn checkpoints_safetensors_and_pth() {
    let dir = scratch("checkpoints");
    for (name, cases) in [("deit_test.safetensors", 150), ("deit_test_fb.pth", 150)] {
        let path = dir.join(name);
        fuzz(
            name,
            &std::fs::read(fixture(name)).unwrap(),
            cases,
            |bytes| {
                std::fs::write(&path, bytes).unwrap();
                let _ = deit().load_checkpoint::<Cpu>(&path, &CpuDevice::default());
            },
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn student_files() {
    let dir = scratch("students");
    let path = dir.join("student.safetensors");
    let device = CpuDevice::default();
    let config = deit();
    let student = config
        .init::<Cpu>(&device)
        .to_low_rank(&config.pela_plan())
        .unwrap();
    config.save_student(&student, &path).unwrap();
    fuzz("student", &std::fs::read(&path).unwrap(), 150, |bytes| {
        std::fs::write(&path, bytes).unwrap();
        if let Ok(architecture) = Architecture::of_student(&path) {
            let _ = architecture.same_architecture(&Architecture::Vit(deit()));
        }
        let _ = VitConfig::load_student::<Cpu>(&path, &device);
    });
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn onnx_initialisers() {
    use protobuf::Message;
    let mut model = onnx_ir::ModelProto::new();
    let mut graph = onnx_ir::GraphProto::new();
    for (name, dims, raw) in [
        ("onnx::pos", vec![1i64, 1, 384], true),
        ("backbone.embeddings.cls_token", vec![1, 1, 4], false),
        ("backbone.layer.0.norm1.weight", vec![4], true),
    ] {
        let mut tensor = onnx_ir::TensorProto::new();
        tensor.name = name.to_string();
        tensor.data_type = 1;
        let n: i64 = dims.iter().product();
        tensor.dims = dims;
        if raw {
            tensor.raw_data = (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect();
        } else {
            tensor.float_data = (0..n).map(|i| i as f32).collect();
        }
        graph.initializer.push(tensor);
    }
    model.graph = protobuf::MessageField::some(graph);
    let bytes = model.write_to_bytes().unwrap();
    fuzz("onnx", &bytes, 300, |bytes| {
        let _ = pela_zoo::vit::onnx_weights(bytes, "fuzz.onnx");
    });
}

/// An IDX file: magic, dimensions, bytes.
fn idx(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    let n: u32 = dims.iter().product();
    bytes.extend((0..n).map(|i| (i % 251) as u8));
    bytes
}

#[test]
fn idx_files_plain_and_gzipped() {
    use std::io::Write;
    let dir = scratch("idx");
    let labels: Vec<u8> = {
        let mut l = idx(0x0801, &[20]);
        l.truncate(8);
        l.extend((0..20).map(|i| i % 10));
        l
    };
    std::fs::write(dir.join("t-labels-idx1-ubyte"), &labels).unwrap();
    let images = idx(0x0803, &[20, 28, 28]);
    let plain = dir.join("t-images-idx3-ubyte");
    fuzz("idx", &images, 300, |bytes| {
        std::fs::write(&plain, bytes).unwrap();
        let _ = read_idx(&dir, "t");
    });
    std::fs::remove_file(&plain).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&images).unwrap();
    let gzipped = dir.join("t-images-idx3-ubyte.gz");
    fuzz("idx.gz", &gz.finish().unwrap(), 150, |bytes| {
        std::fs::write(&gzipped, bytes).unwrap();
        let _ = read_idx(&dir, "t");
    });
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn image_folders() {
    let dir = scratch("images");
    std::fs::create_dir_all(dir.join("a")).unwrap();
    let path = dir.join("a/0.png");
    image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 99]))
        .save(&path)
        .unwrap();
    let base = std::fs::read(&path).unwrap();
    fuzz("png", &base, 300, |bytes| {
        std::fs::write(&path, bytes).unwrap();
        if let Ok(folder) = ImageFolder::new(&dir, 8) {
            let _ = folder.get(0, None);
        }
    });
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn json_configs_annotations_and_run_state() {
    let config = r#"{"image_size": 32, "patch_size": 8, "num_classes": 10, "d_model": 64,
        "depth": 2, "n_heads": 4, "mlp_ratio": 4.0, "layer_scale": 1e-6}"#;
    fuzz("config", config.as_bytes(), 400, |bytes| {
        let _ = Architecture::from_json(&String::from_utf8_lossy(bytes));
    });
    let annotations = r#"[{"image": "a/1.jpg", "caption": "a red square"},
        {"image": "b/2.jpg", "caption": ["one", "two"]}]"#;
    fuzz("annotations", annotations.as_bytes(), 400, |bytes| {
        let _ = Annotations::from_json(&String::from_utf8_lossy(bytes), "fuzz.json", "images");
    });
    let dir = scratch("state");
    let run = RunDir::new(&dir).unwrap();
    std::fs::create_dir_all(run.checkpoint()).unwrap();
    let state = r#"{"epoch": 1, "batch": 3, "checkpoint": 2, "history": [{"epoch": 1,
        "learning_rate": 0.001, "items_per_second": 10.0, "train": {"Loss": 1.5},
        "valid": {"Accuracy": 50.0}}]}"#;
    let path = run.checkpoint().join("state.json");
    fuzz("state", state.as_bytes(), 400, |bytes| {
        std::fs::write(&path, bytes).unwrap();
        let _ = run.state();
    });
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn tokenizer_folders() {
    let dir = scratch("tokenizer");
    let tokenizer = common::tiny_tokenizer(&dir);
    std::fs::write(
        dir.join("config.json"),
        r#"{"model_type": "bert", "vocab_size": 50, "hidden_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 16,
            "hidden_act": "gelu"}"#,
    )
    .unwrap();
    fuzz(
        "tokenizer",
        &std::fs::read(&tokenizer).unwrap(),
        150,
        |bytes| {
            std::fs::write(&tokenizer, bytes).unwrap();
            if let Ok(files) = BertFiles::open(&dir) {
                if let Ok(tokenizer) = files.tokenizer() {
                    let _ = tokenizer.ids("a red square seen from above");
                }
            }
        },
    );
    std::fs::remove_dir_all(dir).ok();
}
