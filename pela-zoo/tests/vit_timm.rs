//! The ViT against timm: fixtures written by `pela-zoo/scripts/make_fixtures.py` (timm 1.0.31,
//! seeded random weights; rerun the script to regenerate them).
//!
//! - logits and every block's tokens of a small DeiT and DeiT-III, from timm's safetensors
//!   and from Facebook-layout `.pth` files;
//! - the same models compressed at κ = 2 by the authors' procedure (NumPy SVD in float64,
//!   `Sequential(Linear, Linear)` layers): loaded from their layout, and reproduced by ours;
//! - full-size parameter counts against timm's, and FLOPs against the paper.

mod reference;

use burn::prelude::*;
use pela::{LayerFeatures, LowRank, PelaError};
use pela_zoo::backend::{Cpu, CpuDevice, Flex};
use pela_zoo::vit::VitConfig;
use pela_zoo::{Family, ZooError};
use reference::{assert_close, fixture, on_cpu, reference_counts, shapes, tensor, tensors};

/// The architecture of the fixtures (`SMALL` in the script).
fn config(deit3: bool) -> VitConfig {
    let config = VitConfig::new(32, 8, 10, 64, 2, 4);
    if deit3 { config.deit3() } else { config }
}

fn check_against_timm<B: Backend>(deit3: bool, checkpoint: &str, io: &str) {
    let device = B::Device::default();
    let model = config(deit3)
        .load_checkpoint::<B>(fixture(checkpoint), &device)
        .unwrap();
    let io = tensors(io);
    let input = Tensor::<B, 4>::from_data(io["input"].clone(), &device);
    let (logits, features) = model.forward_features(input);
    assert_close(on_cpu(logits), tensor(&io, "logits"), "logits");
    assert_eq!(features.len(), 2);
    for (i, feature) in features.into_iter().enumerate() {
        assert_close(
            on_cpu(feature),
            tensor(&io, &format!("features.{i}")),
            "block output",
        );
    }
}

#[test]
fn deit_matches_timm() {
    check_against_timm::<Cpu>(false, "deit_test.safetensors", "deit_test_io.safetensors");
}

#[test]
fn deit3_matches_timm() {
    check_against_timm::<Cpu>(true, "deit3_test.safetensors", "deit3_test_io.safetensors");
}

/// burn-flex runs attention as one fused op of its own: the same outputs.
#[test]
fn deit_matches_timm_on_flex() {
    check_against_timm::<Flex>(false, "deit_test.safetensors", "deit_test_io.safetensors");
}

#[test]
fn facebook_pth_files_load() {
    check_against_timm::<Cpu>(false, "deit_test_fb.pth", "deit_test_io.safetensors");
    check_against_timm::<Cpu>(true, "deit3_test_fb.pth", "deit3_test_io.safetensors");
}

#[test]
fn authors_compressed_layout_loads_and_our_svd_reproduces_it() {
    for (deit3, name) in [(false, "deit_test"), (true, "deit3_test")] {
        let config = config(deit3);
        let device = CpuDevice::default();
        let teacher = config
            .load_checkpoint::<Cpu>(fixture(&format!("{name}.safetensors")), &device)
            .unwrap();
        let io = tensors(&format!("{name}_pela_io.safetensors"));
        let reference = tensor::<2>(&io, "logits");

        let theirs =
            pela::checkpoint::load_student(&teacher, fixture(&format!("{name}_pela.safetensors")))
                .unwrap();
        assert_eq!(theirs.blocks[0].attn.qkv.rank(), Some(24)); // ⌊64·192 / (2·256)⌋
        assert_eq!(theirs.head.as_ref().unwrap().rank(), None);
        assert_close(
            theirs.forward(tensor(&io, "input")),
            reference.clone(),
            "theirs",
        );

        let ours = teacher.to_low_rank(&config.pela_plan()).unwrap();
        assert_close(ours.forward(tensor(&io, "input")), reference, "ours");
    }
}

#[test]
fn saved_students_have_the_authors_keys_and_load_back() {
    let device = CpuDevice::default();
    let teacher = config(true)
        .load_checkpoint::<Cpu>(fixture("deit3_test.safetensors"), &device)
        .unwrap();
    let student = teacher.to_low_rank(&config(true).pela_plan()).unwrap();
    let dir = std::env::temp_dir().join(format!("pela-zoo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("student.safetensors");
    pela::checkpoint::save_student(&student, &file, &[("model", "deit3_test")]).unwrap();

    assert_eq!(
        shapes(&file),
        shapes(&fixture("deit3_test_pela.safetensors"))
    );

    let loaded = pela::checkpoint::load_student(&teacher, &file).unwrap();
    let images = tensor::<4>(&tensors("deit3_test_io.safetensors"), "input");
    let (a, b) = (
        student.forward(images.clone()),
        loaded.forward(images.clone()),
    );
    a.clone().into_data().assert_eq(&b.into_data(), true);

    // Multiplied out, the student is a timm checkpoint of the dense architecture.
    let dense = dir.join("dense.safetensors");
    config(true).save_dense(&student, &dense).unwrap();
    let as_teacher = config(true)
        .load_checkpoint::<Cpu>(&dense, &device)
        .unwrap();
    assert_close(as_teacher.forward(images), a, "dense export");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_checkpoint_of_another_architecture_is_refused_by_name() {
    let error = config(false)
        .load_checkpoint::<Cpu>(fixture("deit3_test.safetensors"), &CpuDevice::default())
        .unwrap_err();
    let ZooError::Pela(PelaError::CheckpointMismatch {
        unused, mismatched, ..
    }) = &error
    else {
        panic!("unexpected error: {error}");
    };
    assert!(
        unused.contains(&"blocks.0.ls1.gamma".to_string()),
        "{unused:?}"
    );
    assert_eq!(mismatched.len(), 1, "{mismatched:?}");
    assert!(mismatched[0].contains("pos_embed"), "{mismatched:?}");
    let message = error.to_string();
    assert!(
        message.contains("in the file but not in the model"),
        "{message}"
    );

    let deeper = VitConfig {
        depth: 3,
        ..config(true)
    };
    let error = deeper
        .load_checkpoint::<Cpu>(fixture("deit3_test.safetensors"), &CpuDevice::default())
        .unwrap_err();
    assert!(
        error.to_string().contains("blocks.2.attn.qkv.weight"),
        "{error}"
    );
}

#[test]
fn missing_and_foreign_files_are_named() {
    let device = CpuDevice::default();
    let error = config(false)
        .load_checkpoint::<Cpu>("no/such/deit.safetensors", &device)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "checkpoint `no/such/deit.safetensors`: no such file"
    );
    let error = config(false)
        .load_checkpoint::<Cpu>(fixture("reference.json"), &device)
        .unwrap_err();
    assert!(error.to_string().contains("unknown format"), "{error}");
}

#[test]
fn full_size_parameter_counts_and_flops_match_timm_and_the_paper() {
    let device = CpuDevice::default();
    // (architecture, paper's GFLOPs of teacher and student, Table 1)
    for (arch, gflops) in [
        ("deit_base_patch16_224", ("33.7", "17.0")),
        ("deit3_large_patch16_224", ("119.4", "59.8")),
    ] {
        let config = VitConfig::preset(arch).unwrap();
        let teacher = config.init::<Cpu>(&device);
        let (params, student_params) = reference_counts("reference.json", arch);
        assert_eq!(teacher.num_params(), params, "{arch}");
        let report = teacher.preview(&config.pela_plan()).unwrap();
        assert_eq!(report.totals().params_before, params, "{arch}");
        assert_eq!(report.totals().params_after, student_params, "{arch}");
        let flops = config.flops(&report);
        let giga = |flops: u64| format!("{:.1}", flops as f64 / 1e9);
        assert_eq!(
            (
                giga(flops.teacher()).as_str(),
                giga(flops.student()).as_str()
            ),
            gflops
        );
    }
}
