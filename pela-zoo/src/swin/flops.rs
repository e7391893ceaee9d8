//! The FLOPs of a Swin teacher and its student, counted as the paper counts them.

use pela::CompressionReport;

use super::SwinConfig;

/// The FLOPs of one image through a [`Swin`](super::Swin) and its PELA student.
///
/// Counted as the paper's Table 1 counts them (Swin-B 30.3 G and its κ = 1.5 student 21.3 G),
/// as for the ViT ([`VitFlops`](crate::vit::VitFlops)): two FLOPs per use of a weight or bias,
/// for every `Linear` (on every token of its stage in the blocks and the patch mergings, on
/// the pooled feature in the head) and for the patch-embedding convolution. The window
/// attention products `QKᵀ` and `AV` have no weights and PELA does not change them; they are
/// counted apart, in [`attention`](Self::attention).
///
/// ```
/// use pela::LowRank;
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::swin::{SwinConfig, SwinFlops};
///
/// let config = SwinConfig::swin_base_patch4_window7_224();
/// let report = config.init::<Cpu>(&CpuDevice::default()).preview(&config.pela_plan())?;
/// let flops = SwinFlops::new(&config, &report);
/// assert_eq!(format!("{:.1}", flops.teacher() as f64 / 1e9), "30.3");
/// assert_eq!(format!("{:.1}", flops.student() as f64 / 1e9), "21.3");
/// # Ok::<(), pela::PelaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwinFlops {
    /// Multiply-adds of the `Linear` layers (a bias counts as one per output), dense.
    pub linear_macs_before: u64,
    /// Multiply-adds of the `Linear` layers (a bias counts as one per output), compressed.
    pub linear_macs_after: u64,
    /// Multiply-adds of the patch embedding (bias included).
    pub patch_embed_macs: u64,
    /// Multiply-adds of the window attention products, over all blocks (padded windows
    /// included).
    pub attention_macs: u64,
}

impl SwinFlops {
    /// The FLOPs of the model `config` describes, compressed as `report` says (from
    /// [`pela::LowRank::preview`] or a conversion).
    pub fn new(config: &SwinConfig, report: &CompressionReport) -> Self {
        let tokens = |stage: usize| {
            let [height, width] = config.stage_grid(stage);
            (height * width) as u64
        };
        // `layers.{s}.…` runs on every token of stage s; the head on one pooled vector.
        let rows = |path: &str| {
            path.strip_prefix("layers.")
                .and_then(|rest| rest.split('.').next())
                .and_then(|stage| stage.parse().ok())
                .map_or(1, tokens)
        };
        let sum = |params: fn(&pela::LayerReport) -> usize| {
            report
                .layers
                .iter()
                .map(|layer| params(layer) as u64 * rows(&layer.path))
                .sum()
        };
        let patch = (config.channels * config.patch_size * config.patch_size) as u64;
        let attention_macs = (0..config.n_stages())
            .map(|stage| {
                let (window, _) = config.stage_window(stage);
                let padded: u64 = config
                    .stage_padded_grid(stage)
                    .iter()
                    .map(|&side| side as u64)
                    .product();
                let per_block =
                    2 * padded * (window * window) as u64 * config.stage_dim(stage) as u64;
                per_block * config.depths[stage] as u64
            })
            .sum();
        Self {
            linear_macs_before: sum(pela::LayerReport::params_before),
            linear_macs_after: sum(pela::LayerReport::params_after),
            patch_embed_macs: tokens(0) * (patch + 1) * config.embed_dim as u64,
            attention_macs,
        }
    }

    /// FLOPs of the teacher, the paper's count.
    pub fn teacher(&self) -> u64 {
        2 * (self.linear_macs_before + self.patch_embed_macs)
    }

    /// FLOPs of the student, the paper's count.
    pub fn student(&self) -> u64 {
        2 * (self.linear_macs_after + self.patch_embed_macs)
    }

    /// FLOPs of the attention products, the same in teacher and student.
    pub fn attention(&self) -> u64 {
        2 * self.attention_macs
    }
}
