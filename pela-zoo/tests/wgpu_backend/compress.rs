//! The SVD conversion of a model that lives on the wgpu device (its weights go to the host
//! for the SVD and back), plain and data-aware from a calibration twin run on the device:
//! the same students as the CPU makes from the same weights.

use burn::prelude::*;
use pela::{LayerFeatures, LowRank};
use pela_zoo::backend::{Cpu, CpuDevice, Wgpu, WgpuDevice};
use pela_zoo::vit::VitConfig;

use crate::parity::on_wgpu;
use crate::reference::{assert_close, fixture, on_cpu};

/// Seeded images of the fixtures' size, on the CPU.
fn images(seed: u64, count: usize) -> Tensor<Cpu, 4> {
    let device = CpuDevice::default();
    Cpu::seed(&device, seed);
    Tensor::random(
        [count, 3, 32, 32],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    )
}

#[test]
fn to_low_rank_and_data_aware_init_on_the_device_match_the_cpu() {
    let Some(_device) = crate::wgpu_alone() else {
        return;
    };
    let config = VitConfig::new(32, 8, 10, 64, 2, 4);
    let checkpoint = fixture("deit_test.safetensors");
    let on_device = config
        .load_checkpoint::<Wgpu>(&checkpoint, &WgpuDevice::default())
        .unwrap();
    let on_host = config
        .load_checkpoint::<Cpu>(&checkpoint, &CpuDevice::default())
        .unwrap();
    let plan = config.pela_plan();
    let held_out = images(11, 4);

    let (student, report) = on_device.to_low_rank_with_report(&plan).unwrap();
    let reference = on_host.to_low_rank(&plan).unwrap();
    assert!(report.totals().low_rank_layers > 0);
    let (ours, _) = student.forward_features(on_wgpu(held_out.clone()));
    let (theirs, _) = reference.forward_features(held_out.clone());
    assert_close(on_cpu(ours), theirs, "plain SVD student's logits");

    // Calibration: the twin records each layer's inputs on the device.
    let calibration = on_device.calibration_twin().unwrap();
    let host_calibration = on_host.calibration_twin().unwrap();
    for seed in [1, 2] {
        let batch = images(seed, 16);
        calibration.forward_features(on_wgpu(batch.clone()));
        host_calibration.forward_features(batch);
    }
    let (student, report) = on_device
        .to_low_rank_data_aware(&plan, &calibration)
        .unwrap();
    let (reference, host_report) = on_host
        .to_low_rank_data_aware(&plan, &host_calibration)
        .unwrap();
    for (layer, host) in report.layers.iter().zip(&host_report.layers) {
        let (Some(error), Some(host_error)) = (layer.output_error, host.output_error) else {
            continue;
        };
        assert!(error.data_aware <= error.plain, "{}: {error:?}", layer.path);
        // The Gram matrices are summed on the device in another order than on the CPU.
        let relative = (error.data_aware - host_error.data_aware).abs() / host_error.data_aware;
        assert!(
            relative < 1e-3,
            "{}: {error:?} against {host_error:?}",
            layer.path
        );
    }
    let (ours, _) = student.forward_features(on_wgpu(held_out.clone()));
    let (theirs, _) = reference.forward_features(held_out);
    assert_close(on_cpu(ours), theirs, "data-aware student's logits");
}
