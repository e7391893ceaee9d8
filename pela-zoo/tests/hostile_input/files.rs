//! Files whose sizes or contents lie: each refused with a named error before anything of the
//! size it claims is allocated.

use std::io::Write;
use std::path::PathBuf;

use burn::module::Param;
use burn::prelude::*;
use burn_store::{ModuleStore, SafetensorsStore};
use pela_zoo::albef::Annotations;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::bert::{BertConfig, BertTokenizer};
use pela_zoo::data::read_idx;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pela-zoo-hostile-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An IDX header (magic, dimensions) and `data` bytes.
fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    bytes
}

#[test]
fn idx_files_that_announce_more_than_they_hold_are_refused() {
    let dir = scratch("idx");
    // 4 billion images of 4 billion × 4 billion pixels, in 40 bytes: the product overflows.
    std::fs::write(
        dir.join("t-images-idx3-ubyte"),
        idx(0x0803, &[u32::MAX; 3], &[0; 8]),
    )
    .unwrap();
    std::fs::write(dir.join("t-labels-idx1-ubyte"), idx(0x0801, &[1], &[0])).unwrap();
    let error = read_idx(&dir, "t").unwrap_err().to_string();
    assert!(error.contains("truncated"), "{error}");

    // Gzipped: a header announcing 2³² × 28 × 28 bytes from a file of a few dozen.
    std::fs::remove_file(dir.join("t-images-idx3-ubyte")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&idx(0x0803, &[u32::MAX, 28, 28], &[]))
        .unwrap();
    std::fs::write(dir.join("t-images-idx3-ubyte.gz"), gz.finish().unwrap()).unwrap();
    let error = read_idx(&dir, "t").unwrap_err().to_string();
    assert!(
        error.contains("more than its") && error.contains("compressed"),
        "{error}"
    );

    // Images of zero pixels.
    std::fs::remove_file(dir.join("t-images-idx3-ubyte.gz")).unwrap();
    std::fs::write(
        dir.join("t-images-idx3-ubyte"),
        idx(0x0803, &[1, 0, 28], &[]),
    )
    .unwrap();
    assert!(read_idx(&dir, "t").is_err());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn annotation_paths_that_leave_the_image_root_are_refused() {
    for image in ["../secret.jpg", "/etc/passwd", "a/../../b.jpg"] {
        let text = format!(r#"[{{"image": "{image}", "caption": "a photo"}}]"#);
        let error = Annotations::from_json(&text, "train.json", "images")
            .unwrap_err()
            .to_string();
        assert!(error.contains("leaves the image root"), "{image}: {error}");
    }
    assert!(
        Annotations::from_json(
            r#"[{"image": "./coco/1.jpg", "caption": "a photo"}]"#,
            "train.json",
            "images"
        )
        .is_ok()
    );
}

#[test]
fn a_tokenizer_is_fitted_to_its_model() {
    let dir = scratch("tokenizer");
    let json = std::fs::read(crate::common::tiny_tokenizer(&dir)).unwrap(); // 35 tokens
    let tokenizer = BertTokenizer::from_json(&json, 512).unwrap();
    // Ids past the word embeddings would index out of range.
    let small = BertConfig::new(20, 32, 1, 4, 64, 512);
    let error = tokenizer.clone().for_model(&small).unwrap_err().to_string();
    assert!(
        error.contains("35 tokens") && error.contains("20 (`vocab_size`)"),
        "{error}"
    );
    // Texts are cut at the model's positions.
    let short = BertConfig::new(50, 32, 1, 4, 64, 8);
    let fitted = tokenizer.for_model(&short).unwrap();
    assert_eq!(fitted.max_length(), 8);
    let long = "a red square seen from above ".repeat(10);
    assert_eq!(fitted.ids(&long).unwrap().len(), 8);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bert_configs_with_zero_or_huge_sizes_are_refused() {
    let zero = BertConfig::new(100, 0, 1, 1, 64, 16);
    assert!(
        zero.validate()
            .unwrap_err()
            .to_string()
            .contains("`hidden_size` is 0")
    );
    let text = r#"{"model_type": "bert", "vocab_size": 1073741824, "hidden_size": 768,
        "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
        "max_position_embeddings": 512}"#;
    let error = BertConfig::from_hf_json(text).unwrap_err().to_string();
    assert!(
        error.contains("`vocab_size` 1073741824 is more than"),
        "{error}"
    );
}

/// A checkpoint of one tensor, `visual_encoder.pos_embed`, of `tokens` tokens of width 32.
#[derive(Module, Debug)]
struct Positions<B: Backend> {
    pos_embed: Param<Tensor<B, 3>>,
}

#[derive(Module, Debug)]
struct PositionsFile<B: Backend> {
    visual_encoder: Positions<B>,
}

#[test]
fn an_albef_position_embedding_that_is_not_a_square_grid_is_named() {
    let dir = scratch("albef-positions");
    let path = dir.join("albef.safetensors");
    let device = CpuDevice::default();
    let file = PositionsFile::<Cpu> {
        visual_encoder: Positions {
            pos_embed: Param::from_tensor(Tensor::zeros([1, 11, 32], &device)),
        },
    };
    SafetensorsStore::from_file(&path)
        .collect_from(&file)
        .unwrap();
    let config = crate::common::albef_tiny_config();
    let error = config
        .load_state::<Cpu>(&path, &device)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("albef.safetensors") && error.contains("pos_embed"),
        "{error}"
    );
    assert!(
        error.contains("a position embedding of 11 tokens"),
        "{error}"
    );
    std::fs::remove_dir_all(dir).ok();
}
