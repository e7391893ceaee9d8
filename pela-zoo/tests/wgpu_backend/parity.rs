//! Every family's forward pass on wgpu against the same references as on the CPU: timm (DeiT,
//! DeiT-III, Swin), `transformers` (all-MiniLM-L6-v2), onnxruntime (DINOv2) and the authors'
//! code (ALBEF), within the CPU tests' tolerance (`reference::TOLERANCE`, 1e-4 absolute):
//! the kernels differ (tiled matmuls, fused element-wise ops, other reduction orders), the
//! float32 arithmetic does not.

use burn::prelude::*;
use pela::LayerFeatures;
use pela_zoo::backend::{Cpu, Wgpu, WgpuDevice};
use pela_zoo::bert::{BertInput, MiniLm, embed_texts};
use pela_zoo::swin::SwinConfig;
use pela_zoo::vit::{Dinov2, VitConfig};

use crate::reference::{assert_close, fixture, on_cpu, tensor, tensors};

/// A reference tensor on the wgpu device.
pub fn on_wgpu<const D: usize>(tensor: Tensor<Cpu, D>) -> Tensor<Wgpu, D> {
    Tensor::from_data(tensor.into_data(), &WgpuDevice::default())
}

/// Checks a model whose `forward_features` gives logits and block outputs against timm.
fn check_vit_against_timm(config: VitConfig, checkpoint: &str, io: &str) {
    let model = config
        .load_checkpoint::<Wgpu>(fixture(checkpoint), &WgpuDevice::default())
        .unwrap();
    let io = tensors(io);
    let (logits, features) = model.forward_features(on_wgpu(tensor(&io, "input")));
    for (i, feature) in features.into_iter().enumerate() {
        let reference = tensor(&io, &format!("features.{i}"));
        assert_close(on_cpu(feature), reference, &format!("block {i}"));
    }
    assert_close(on_cpu(logits), tensor(&io, "logits"), "logits");
}

#[test]
fn deit_and_deit3_match_timm() {
    let Some(_device) = crate::wgpu_alone() else {
        return;
    };
    let config = VitConfig::new(32, 8, 10, 64, 2, 4);
    check_vit_against_timm(
        config.clone(),
        "deit_test.safetensors",
        "deit_test_io.safetensors",
    );
    check_vit_against_timm(
        config.deit3(),
        "deit3_test_fb.pth",
        "deit3_test_io.safetensors",
    );
}

#[test]
fn swin_matches_timm() {
    let Some(_device) = crate::wgpu_alone() else {
        return;
    };
    let model = SwinConfig::new(56, 4, 5, 10, 16, vec![2, 2, 2], vec![2, 4, 4])
        .load_checkpoint::<Wgpu>(fixture("swin_test.safetensors"), &WgpuDevice::default())
        .unwrap();
    let io = tensors("swin_test_io.safetensors");
    let (logits, features) = model.forward_features(on_wgpu(tensor(&io, "input")));
    assert_eq!(features.len(), 6);
    for (i, feature) in features.into_iter().enumerate() {
        let reference = tensor(&io, &format!("features.{i}"));
        assert_close(on_cpu(feature), reference, &format!("block {i}"));
    }
    assert_close(on_cpu(logits), tensor(&io, "logits"), "logits");
}

#[test]
fn minilm_embeddings_match_transformers() {
    let Some(_device) = crate::wgpu_alone() else {
        return;
    };
    let minilm = MiniLm::open(MiniLm::default_path()).unwrap();
    let device = WgpuDevice::default();
    let model = minilm.load::<Wgpu>(&device).unwrap();
    let path = fixture("minilm_reference.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let sentences: Vec<&str> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    // One padded batch, so that the padding mask is exercised too.
    let tokenizer = minilm.tokenizer().unwrap();
    let ours = embed_texts(&model, &tokenizer, &sentences, sentences.len(), &device).unwrap();
    for ((sentence, ours), expected) in sentences
        .iter()
        .zip(&ours)
        .zip(reference["embeddings"].as_array().unwrap())
    {
        let max_difference = ours
            .iter()
            .zip(expected.as_array().unwrap())
            .map(|(a, b)| (a - b.as_f64().unwrap() as f32).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max_difference < 1e-4,
            "{sentence}: max |Δ| {max_difference}"
        );
    }
}

#[test]
fn dinov2_matches_onnxruntime() {
    let Some(_device) = crate::wgpu_alone() else {
        return;
    };
    let model = Dinov2::open(Dinov2::default_path())
        .unwrap()
        .load::<Wgpu>(112, &WgpuDevice::default())
        .unwrap();
    let io = tensors("dinov2_io.safetensors");
    let (class_token, features) = model.forward_features(on_wgpu(tensor(&io, "input")));
    assert_eq!(features.len(), 12);
    for i in [0, 5, 11] {
        let reference = tensor(&io, &format!("features.{i}"));
        assert_close(
            on_cpu(features[i].clone()),
            reference,
            &format!("block {i}"),
        );
    }
    let tokens = tensor::<3>(&io, "tokens");
    assert_close(
        on_cpu(class_token),
        tokens.narrow(1, 0, 1).reshape([1, 384]),
        "class token",
    );
}

#[test]
fn albef_matches_the_authors_code() {
    let Some(_device) = crate::wgpu_alone() else {
        return;
    };
    let config = crate::common::albef_tiny_config();
    let device = WgpuDevice::default();
    let state = config
        .load_state::<Wgpu>(fixture("albef_tiny.safetensors"), &device)
        .unwrap();
    let model = &state.model;
    let io = tensors("albef_tiny_reference.safetensors");
    let input_ids: Tensor<Wgpu, 2, Int> = Tensor::from_data(io["input_ids"].clone(), &device);
    let mask: Tensor<Wgpu, 2, Int> = Tensor::from_data(io["attention_mask"].clone(), &device);
    let mask = mask.float();
    let input = BertInput {
        token_type_ids: input_ids.zeros_like(),
        input_ids,
        attention_mask: mask.clone(),
    };
    let (image, _) = model.encode_image(on_wgpu(tensor(&io, "images")));
    assert_close(
        on_cpu(image.clone()),
        tensor(&io, "image_embeds"),
        "image_embeds",
    );
    let (text, _) = model.encode_text(input);
    assert_close(
        on_cpu(text.clone()),
        tensor(&io, "text_embeds"),
        "text_embeds",
    );
    let (fused, _) = model.fuse(text.clone(), mask.clone(), image.clone());
    assert_close(on_cpu(fused.clone()), tensor(&io, "fused"), "fused");
    let features = [
        (model.image_feature(image), "image_feat"),
        (model.text_feature(text, mask), "text_feat"),
        (model.itm_logits(fused.clone()), "itm_logits"),
    ];
    for (ours, key) in features {
        assert_close(on_cpu(ours), tensor(&io, key), key);
    }
    assert_close(
        on_cpu(model.mlm_logits(fused)),
        tensor(&io, "mlm_logits"),
        "MLM logits",
    );
}
