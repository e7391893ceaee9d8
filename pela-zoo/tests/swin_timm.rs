//! Swin against timm: fixtures written by `pela-zoo/scripts/make_swin_fixtures.py` (timm
//! 1.0.31, seeded random weights; rerun the script to regenerate them).
//!
//! - logits, every block's tokens and the pooled feature of a small three-stage Swin (padded
//!   windows, shifted windows, an odd grid before a merging, a window shrunk to its grid),
//!   from timm's safetensors and from a Microsoft-layout `.pth` file with its buffers;
//! - the same model compressed at κ = 1.5 by the authors' procedure (NumPy SVD in float64,
//!   `Sequential(Linear, Linear)` layers, `attn.proj` dense): loaded from their layout, and
//!   reproduced by ours;
//! - full-size parameter counts against timm's, and FLOPs against the paper.

mod reference;

use burn::prelude::*;
use pela::{LayerFeatures, LowRank, PelaError};
use pela_zoo::backend::{Cpu, CpuDevice, Flex};
use pela_zoo::swin::{SwinConfig, SwinFeatures};
use pela_zoo::{Family, ZooError};
use reference::{assert_close, fixture, on_cpu, reference_counts, shapes, tensor, tensors};

/// The architecture of the fixtures (`SMALL` in the script).
fn config() -> SwinConfig {
    SwinConfig::new(56, 4, 5, 10, 16, vec![2, 2, 2], vec![2, 4, 4])
}

fn check_against_timm<B: Backend>(checkpoint: &str) {
    let device = B::Device::default();
    let model = config()
        .load_checkpoint::<B>(fixture(checkpoint), &device)
        .unwrap();
    let io = tensors("swin_test_io.safetensors");
    let input = Tensor::<B, 4>::from_data(io["input"].clone(), &device);
    let (logits, features) = model.forward_features(input);
    assert_eq!(features.len(), 6);
    for (i, feature) in features.into_iter().enumerate() {
        assert_close(
            on_cpu(feature),
            tensor(&io, &format!("features.{i}")),
            &format!("block {i}'s output"),
        );
    }
    assert_close(on_cpu(logits), tensor(&io, "logits"), "logits");
}

#[test]
fn swin_matches_timm() {
    check_against_timm::<Cpu>("swin_test.safetensors");
}

/// burn-flex runs attention (with the position bias and the shift mask) as one fused op of
/// its own: the same outputs.
#[test]
fn swin_matches_timm_on_flex() {
    check_against_timm::<Flex>("swin_test.safetensors");
}

#[test]
fn microsoft_pth_files_load() {
    check_against_timm::<Cpu>("swin_test_ms.pth");
}

#[test]
fn the_pooled_feature_is_the_authors_choice() {
    let model = config()
        .with_features(SwinFeatures::Pooled)
        .load_checkpoint::<Cpu>(fixture("swin_test.safetensors"), &CpuDevice::default())
        .unwrap();
    let io = tensors("swin_test_io.safetensors");
    let (logits, features) = model.forward_features(tensor(&io, "input"));
    assert_close(logits, tensor(&io, "logits"), "logits");
    assert_eq!(features.len(), 1);
    let [pooled] = <[Tensor<Cpu, 3>; 1]>::try_from(features).unwrap();
    assert_close(pooled.squeeze_dim::<2>(1), tensor(&io, "pooled"), "pooled");
}

#[test]
fn authors_compressed_layout_loads_and_our_svd_reproduces_it() {
    let device = CpuDevice::default();
    let teacher = config()
        .load_checkpoint::<Cpu>(fixture("swin_test.safetensors"), &device)
        .unwrap();
    let io = tensors("swin_test_pela_io.safetensors");
    let reference = tensor::<2>(&io, "logits");

    let theirs =
        pela::checkpoint::load_student(&teacher, fixture("swin_test_pela.safetensors")).unwrap();
    let block = &theirs.layers[1].blocks[1];
    assert_eq!(block.attn.qkv.rank(), Some(16)); // ⌊32·96 / (1.5·128)⌋
    assert_eq!(block.attn.proj.rank(), None); // the authors keep attn.proj dense for Swin
    assert_eq!(
        theirs.layers[1]
            .downsample
            .as_ref()
            .unwrap()
            .reduction
            .rank(),
        None
    );
    assert_close(
        theirs.forward(tensor(&io, "input")),
        reference.clone(),
        "theirs",
    );

    let ours = teacher.to_low_rank(&config().pela_plan()).unwrap();
    assert_close(ours.forward(tensor(&io, "input")), reference, "ours");
}

#[test]
fn saved_students_have_the_authors_keys_and_load_back() {
    let device = CpuDevice::default();
    let teacher = config()
        .load_checkpoint::<Cpu>(fixture("swin_test.safetensors"), &device)
        .unwrap();
    let student = teacher.to_low_rank(&config().pela_plan()).unwrap();
    let dir = std::env::temp_dir().join(format!("pela-zoo-swin-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("student.safetensors");
    config().save_student(&student, &file).unwrap();
    assert_eq!(
        shapes(&file),
        shapes(&fixture("swin_test_pela.safetensors"))
    );

    let (loaded_config, loaded) = SwinConfig::load_student::<Cpu>(&file, &device).unwrap();
    assert_eq!(loaded_config, config());
    let images = tensor::<4>(&tensors("swin_test_io.safetensors"), "input");
    let a = student.forward(images.clone());
    a.clone()
        .into_data()
        .assert_eq(&loaded.forward(images.clone()).into_data(), true);

    // Multiplied out, the student is a timm checkpoint of the dense architecture.
    let dense = dir.join("dense.safetensors");
    config().save_dense(&student, &dense).unwrap();
    assert_eq!(shapes(&dense), shapes(&fixture("swin_test.safetensors")));
    let as_teacher = config().load_checkpoint::<Cpu>(&dense, &device).unwrap();
    assert_close(as_teacher.forward(images), a, "dense export");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn buffers_of_another_window_are_refused_by_name() {
    // Windows of 4 instead of 5: the file's relative position index and masks do not fit.
    let error = SwinConfig {
        window_size: 4,
        ..config()
    }
    .load_checkpoint::<Cpu>(fixture("swin_test_ms.pth"), &CpuDevice::default())
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("layers.0.blocks.0.attn.relative_position_index")
            && message.contains("another window size"),
        "{message}"
    );
}

#[test]
fn a_checkpoint_of_another_architecture_is_refused_by_name() {
    let deeper = SwinConfig {
        depths: vec![2, 2, 3],
        ..config()
    };
    let error = deeper
        .load_checkpoint::<Cpu>(fixture("swin_test.safetensors"), &CpuDevice::default())
        .unwrap_err();
    let ZooError::Pela(PelaError::CheckpointMismatch { missing, .. }) = &error else {
        panic!("unexpected error: {error}");
    };
    assert!(
        missing.contains(&"layers.2.blocks.2.attn.qkv.weight".to_string()),
        "{missing:?}"
    );

    let wider = SwinConfig {
        embed_dim: 32,
        ..config()
    };
    let error = wider
        .load_checkpoint::<Cpu>(fixture("swin_test_ms.pth"), &CpuDevice::default())
        .unwrap_err();
    let ZooError::Pela(PelaError::CheckpointMismatch { mismatched, .. }) = &error else {
        panic!("unexpected error: {error}");
    };
    assert!(
        mismatched
            .iter()
            .any(|m| m.starts_with("`patch_embed.proj.weight`")),
        "{mismatched:?}"
    );
}

#[test]
fn full_size_parameter_counts_and_flops_match_timm_and_the_paper() {
    let device = CpuDevice::default();
    let arch = "swin_base_patch4_window7_224";
    let config = SwinConfig::preset(arch).unwrap();
    let teacher = config.init::<Cpu>(&device);
    let (params, student_params) = reference_counts("swin_reference.json", arch);
    assert_eq!(params, 87_768_224); // timm's Swin-B
    assert_eq!(teacher.num_params(), params);
    let report = teacher.preview(&config.pela_plan()).unwrap();
    assert_eq!(report.totals().params_before, params);
    assert_eq!(report.totals().params_after, student_params); // 62,164,128: the paper's 62.2M
    let flops = config.flops(&report);
    let giga = |flops: u64| format!("{:.1}", flops as f64 / 1e9);
    // The paper's Table 1: Swin-B 30.3 GFLOPs, its PELA student 21.3.
    assert_eq!(
        (giga(flops.teacher()), giga(flops.student())),
        ("30.3".to_string(), "21.3".to_string())
    );

    // Every preset has timm's count, and the authors' plan gives their student's.
    for name in SwinConfig::preset_names() {
        let config = SwinConfig::preset(name).unwrap();
        let report = config
            .init::<Cpu>(&device)
            .preview(&config.pela_plan())
            .unwrap();
        let totals = report.totals();
        assert_eq!(
            (totals.params_before, totals.params_after),
            reference_counts("swin_reference.json", name),
            "{name}"
        );
    }
    let large = SwinConfig::swin_base_patch4_window12_384();
    assert_eq!(large.stage_window(0), (12, 6));
    assert_eq!(large.stage_window(3), (12, 0)); // a 12 × 12 grid: one window, no shift
}
