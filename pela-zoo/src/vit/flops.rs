//! The FLOPs of a ViT teacher and its student, counted as the paper counts them.

use pela::CompressionReport;

use super::VitConfig;

/// The FLOPs of one image through a [`Vit`](super::Vit) and its PELA student.
///
/// Counted as the paper's Table 1 counts them (DeiT-Base 33.7 G and its κ = 2 student 17.0 G,
/// DeiT-III-Large 119.4 G and 59.8 G): two FLOPs per use of a weight or bias, for every
/// `Linear` (on every token in the blocks, on the class token in the head) and for the
/// patch-embedding convolution. The attention products `QKᵀ` and `AV` have no weights and PELA
/// does not change them; they are counted apart, in [`attention`](Self::attention).
///
/// ```
/// use pela::LowRank;
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::vit::{VitConfig, VitFlops};
///
/// let config = VitConfig::deit_base_patch16_224();
/// let report = config.init::<Cpu>(&CpuDevice::default()).preview(&config.pela_plan())?;
/// let flops = VitFlops::new(&config, &report);
/// assert_eq!(format!("{:.1}", flops.teacher() as f64 / 1e9), "33.7");
/// assert_eq!(format!("{:.1}", flops.student() as f64 / 1e9), "17.0");
/// # Ok::<(), pela::PelaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VitFlops {
    /// Multiply-adds of the `Linear` layers (a bias counts as one per output), dense.
    pub linear_macs_before: u64,
    /// Multiply-adds of the `Linear` layers (a bias counts as one per output), compressed.
    pub linear_macs_after: u64,
    /// Multiply-adds of the patch embedding (bias included).
    pub patch_embed_macs: u64,
    /// Multiply-adds of the attention products, over all blocks.
    pub attention_macs: u64,
}

impl VitFlops {
    /// The FLOPs of the model `config` describes, compressed as `report` says (from
    /// [`pela::LowRank::preview`] or a conversion).
    pub fn new(config: &VitConfig, report: &CompressionReport) -> Self {
        let tokens = config.n_tokens() as u64;
        let rows = |path: &str| {
            if path.starts_with("blocks.") {
                tokens
            } else {
                1
            }
        };
        // A layer's parameters are the multiply-adds it does per row (a bias: one per output).
        let sum = |params: fn(&pela::LayerReport) -> usize| {
            report
                .layers
                .iter()
                .map(|layer| params(layer) as u64 * rows(&layer.path))
                .sum()
        };
        let d_model = config.d_model as u64;
        let patch = (config.channels * config.patch_size * config.patch_size) as u64;
        Self {
            linear_macs_before: sum(pela::LayerReport::params_before),
            linear_macs_after: sum(pela::LayerReport::params_after),
            patch_embed_macs: config.n_patches() as u64 * (patch + 1) * d_model,
            attention_macs: 2 * tokens * tokens * d_model * config.depth as u64,
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
