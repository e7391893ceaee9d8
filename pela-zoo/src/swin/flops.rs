//! The FLOPs of a Swin teacher and its student, counted as the paper counts them.

use pela::CompressionReport;

use super::SwinConfig;
use crate::family::{Flops, FlopsPer};

impl SwinConfig {
    /// The rows the `Linear` at `path` multiplies per image: `layers.{s}.…` every token of
    /// stage `s` (a patch merging's, the merged grid's), the head one pooled vector.
    ///
    /// ```
    /// use pela_zoo::swin::SwinConfig;
    ///
    /// let config = SwinConfig::swin_base_patch4_window7_224();
    /// assert_eq!(config.layer_rows("layers.0.blocks.0.mlp.fc1"), 56 * 56);
    /// assert_eq!(config.layer_rows("layers.3.blocks.1.attn.qkv"), 7 * 7);
    /// assert_eq!(config.layer_rows("head"), 1);
    /// ```
    pub fn layer_rows(&self, path: &str) -> usize {
        path.strip_prefix("layers.")
            .and_then(|rest| rest.split('.').next())
            .and_then(|stage| stage.parse::<usize>().ok())
            .filter(|&stage| stage < self.n_stages())
            .map_or(1, |stage| {
                let [height, width] = self.stage_grid(stage);
                height * width
            })
    }

    /// The FLOPs of one image through a [`Swin`](super::Swin) of this config and its student
    /// compressed as `report` says: every `Linear` on every token of its stage in the blocks
    /// and the patch mergings and on the pooled feature in the head, and the patch-embedding
    /// convolution (Swin-B 30.3 G, its κ = 1.5 student 21.3 G, as the paper's Table 1). The
    /// window attention products are counted over the padded grid of each stage.
    ///
    /// ```
    /// use pela::LowRank;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::swin::SwinConfig;
    ///
    /// let config = SwinConfig::swin_base_patch4_window7_224();
    /// let report = config.init::<Cpu>(&CpuDevice::default()).preview(&config.pela_plan())?;
    /// let flops = config.flops(&report);
    /// assert_eq!(format!("{:.1}", flops.teacher() as f64 / 1e9), "30.3");
    /// assert_eq!(format!("{:.1}", flops.student() as f64 / 1e9), "21.3");
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn flops(&self, report: &CompressionReport) -> Flops {
        let tokens = |stage: usize| {
            let [height, width] = self.stage_grid(stage);
            (height * width) as u64
        };
        let rows = |path: &str| self.layer_rows(path) as u64;
        let patch = (self.channels * self.patch_size * self.patch_size) as u64;
        let attention_macs = (0..self.n_stages())
            .map(|stage| {
                let (window, _) = self.stage_window(stage);
                let padded: u64 = self
                    .stage_padded_grid(stage)
                    .iter()
                    .map(|&side| side as u64)
                    .product();
                let per_block =
                    2 * padded * (window * window) as u64 * self.stage_dim(stage) as u64;
                per_block * self.depths[stage] as u64
            })
            .sum();
        Flops::of_layers(
            report,
            rows,
            tokens(0) * (patch + 1) * self.embed_dim as u64,
            attention_macs,
            FlopsPer::Image,
        )
    }
}
