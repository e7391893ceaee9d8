//! The ViT as a [`Family`] of the zoo (DeiT, DeiT-III, DINOv2's backbone), and its student's
//! new head for fine-tuning.

use std::path::Path;

use burn::prelude::*;
use pela::{CompressionReport, PelaObjectiveConfig, RankPlan};

use super::{Vit, VitConfig, VitLowRank};
use crate::ZooError;
use crate::family::{Family, Flops, ImageFamily, ImageShape, new_head, with_defaults};

impl Family for VitConfig {
    const NAME: &'static str = "ViT";
    const HEADER_KEY: &'static str = "pela.vit_config";
    const JSON_FIELDS: &'static [&'static str] = &["d_model", "depth", "n_heads"];
    type Model<B: Backend> = Vit<B>;
    type Student<B: Backend> = VitLowRank<B>;

    fn preset_names() -> Vec<&'static str> {
        VitConfig::preset_names().collect()
    }

    fn preset(name: &str) -> Option<Self> {
        VitConfig::preset(name).ok()
    }

    fn from_json(text: &str) -> Result<Self, ZooError> {
        let config: Self = with_defaults(
            VitConfig::new(0, 0, 0, 0, 0, 0),
            &[
                "image_size",
                "patch_size",
                "num_classes",
                "d_model",
                "depth",
                "n_heads",
            ],
            text,
        )?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ZooError> {
        VitConfig::validate(self)
    }

    fn init<B: Backend>(&self, device: &B::Device) -> Vit<B> {
        VitConfig::init(self, device)
    }

    fn load_checkpoint<B: Backend>(
        &self,
        path: &Path,
        device: &B::Device,
    ) -> Result<Vit<B>, ZooError> {
        VitConfig::load_checkpoint(self, path, device)
    }

    fn pela_plan(&self) -> RankPlan {
        VitConfig::pela_plan(self)
    }

    fn pela_objective(&self) -> PelaObjectiveConfig {
        VitConfig::pela_objective(self)
    }

    fn flops(&self, report: &CompressionReport) -> Flops {
        VitConfig::flops(self, report)
    }

    fn layer_rows(&self, path: &str) -> usize {
        VitConfig::layer_rows(self, path)
    }
}

impl ImageFamily for VitConfig {
    fn image_shape(&self) -> ImageShape {
        ImageShape {
            size: self.image_size,
            channels: self.channels,
            classes: self.num_classes,
        }
    }

    fn with_num_classes(self, classes: usize) -> Self {
        Self {
            num_classes: classes,
            ..self
        }
    }

    fn with_new_head<B: Backend>(
        student: VitLowRank<B>,
        classes: usize,
        device: &B::Device,
    ) -> VitLowRank<B> {
        student.with_new_head(classes, device)
    }
}

impl<B: Backend> VitLowRank<B> {
    /// The student with a new, randomly initialised dense head for `num_classes` classes: the
    /// start of fine-tuning on a downstream set (set the config's `num_classes` to match).
    ///
    /// ```
    /// use pela::LowRank;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let device = CpuDevice::default();
    /// let config = VitConfig::new(32, 8, 10, 64, 2, 4);
    /// let student = config.init::<Cpu>(&device).to_low_rank(&config.pela_plan())?;
    /// let student = student.with_new_head(3, &device);
    /// let logits = student.forward(burn::tensor::Tensor::zeros([1, 3, 32, 32], &device));
    /// assert_eq!(logits.dims(), [1, 3]);
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn with_new_head(mut self, num_classes: usize, device: &B::Device) -> Self {
        let [d_model] = self.norm.gamma.dims();
        self.head = Some(new_head(d_model, num_classes, device));
        self
    }
}
