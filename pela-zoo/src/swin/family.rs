//! The Swin Transformer as a [`Family`] of the zoo, and its student's new head for
//! fine-tuning.

use std::path::Path;

use burn::prelude::*;
use pela::{CompressionReport, PelaObjectiveConfig, RankPlan};

use super::{Swin, SwinConfig, SwinLowRank};
use crate::ZooError;
use crate::family::{Family, Flops, ImageFamily, ImageShape, new_head, with_defaults};

impl Family for SwinConfig {
    const NAME: &'static str = "Swin";
    const HEADER_KEY: &'static str = "pela.swin_config";
    const JSON_FIELDS: &'static [&'static str] = &["embed_dim", "depths", "window_size"];
    type Model<B: Backend> = Swin<B>;
    type Student<B: Backend> = SwinLowRank<B>;

    fn preset_names() -> Vec<&'static str> {
        SwinConfig::preset_names().collect()
    }

    fn preset(name: &str) -> Option<Self> {
        SwinConfig::preset(name).ok()
    }

    fn from_json(text: &str) -> Result<Self, ZooError> {
        let config: Self = with_defaults(
            SwinConfig::new(0, 0, 0, 0, 0, vec![], vec![]),
            &[
                "image_size",
                "patch_size",
                "window_size",
                "num_classes",
                "embed_dim",
                "depths",
                "num_heads",
            ],
            text,
        )?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ZooError> {
        SwinConfig::validate(self)
    }

    fn init<B: Backend>(&self, device: &B::Device) -> Swin<B> {
        SwinConfig::init(self, device)
    }

    fn load_checkpoint<B: Backend>(
        &self,
        path: &Path,
        device: &B::Device,
    ) -> Result<Swin<B>, ZooError> {
        SwinConfig::load_checkpoint(self, path, device)
    }

    fn pela_plan(&self) -> RankPlan {
        SwinConfig::pela_plan(self)
    }

    fn pela_objective(&self) -> PelaObjectiveConfig {
        SwinConfig::pela_objective(self)
    }

    fn flops(&self, report: &CompressionReport) -> Flops {
        SwinConfig::flops(self, report)
    }

    fn layer_rows(&self, path: &str) -> usize {
        SwinConfig::layer_rows(self, path)
    }
}

impl ImageFamily for SwinConfig {
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
        student: SwinLowRank<B>,
        classes: usize,
        device: &B::Device,
    ) -> SwinLowRank<B> {
        student.with_new_head(classes, device)
    }
}

impl<B: Backend> SwinLowRank<B> {
    /// The student with a new, randomly initialised dense head for `num_classes` classes: the
    /// start of fine-tuning on a downstream set (set the config's `num_classes` to match).
    pub fn with_new_head(mut self, num_classes: usize, device: &B::Device) -> Self {
        let [d_model, _] = self.head.fc.weight().dims();
        self.head.fc = new_head(d_model, num_classes, device);
        self
    }
}
