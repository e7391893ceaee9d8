//! The FLOPs of a ViT teacher and its student, counted as the paper counts them.

use pela::CompressionReport;

use super::VitConfig;
use crate::family::{Flops, FlopsPer};

impl VitConfig {
    /// The rows the `Linear` at `path` multiplies per image: every token in the blocks, the
    /// class token in the head.
    ///
    /// ```
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let config = VitConfig::deit_base_patch16_224();
    /// assert_eq!(config.layer_rows("blocks.0.mlp.fc1"), 197);
    /// assert_eq!(config.layer_rows("head"), 1);
    /// ```
    pub fn layer_rows(&self, path: &str) -> usize {
        if path.starts_with("blocks.") {
            self.n_tokens()
        } else {
            1
        }
    }

    /// The FLOPs of one image through a [`Vit`](super::Vit) of this config and its student
    /// compressed as `report` says (from [`pela::LowRank::preview`] or a conversion): every
    /// `Linear` on every token in the blocks and on the class token in the head, and the
    /// patch-embedding convolution (DeiT-Base 33.7 G, its κ = 2 student 17.0 G; DeiT-III-Large
    /// 119.4 G and 59.8 G, as the paper's Table 1).
    ///
    /// ```
    /// use pela::LowRank;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let config = VitConfig::deit_base_patch16_224();
    /// let report = config.init::<Cpu>(&CpuDevice::default()).preview(&config.pela_plan())?;
    /// let flops = config.flops(&report);
    /// assert_eq!(format!("{:.1}", flops.teacher() as f64 / 1e9), "33.7");
    /// assert_eq!(format!("{:.1}", flops.student() as f64 / 1e9), "17.0");
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn flops(&self, report: &CompressionReport) -> Flops {
        let tokens = self.n_tokens() as u64;
        let rows = |path: &str| self.layer_rows(path) as u64;
        let d_model = self.d_model as u64;
        let patch = (self.channels * self.patch_size * self.patch_size) as u64;
        Flops::of_layers(
            report,
            rows,
            self.n_patches() as u64 * (patch + 1) * d_model,
            2 * tokens * tokens * d_model * self.depth as u64,
            FlopsPer::Image,
        )
    }
}
