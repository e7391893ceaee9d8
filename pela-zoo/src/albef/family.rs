//! ALBEF as a [`Family`] of the zoo: image–text models, the authors' two configs its presets.

use std::path::Path;

use burn::prelude::*;
use pela::{CompressionReport, PelaObjectiveConfig, RankPlan};

use super::{Albef, AlbefConfig, AlbefLowRank};
use crate::ZooError;
use crate::family::{Family, Flops, FlopsPer};

impl Family for AlbefConfig {
    const NAME: &'static str = "ALBEF";
    const HEADER_KEY: &'static str = "pela.albef_config";
    const JSON_FIELDS: &'static [&'static str] = &["vision", "text"];
    type Model<B: Backend> = Albef<B>;
    type Student<B: Backend> = AlbefLowRank<B>;

    fn preset_names() -> Vec<&'static str> {
        AlbefConfig::preset_names().collect()
    }

    fn preset(name: &str) -> Option<Self> {
        AlbefConfig::preset(name).ok()
    }

    /// The config as [`to_string`](ToString::to_string) writes it (every field given).
    fn from_json(text: &str) -> Result<Self, ZooError> {
        let config: Self = serde_json::from_str(text).map_err(|e| ZooError::InvalidConfig {
            reason: format!("an ALBEF config: {e}"),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ZooError> {
        AlbefConfig::validate(self)
    }

    fn init<B: Backend>(&self, device: &B::Device) -> Albef<B> {
        AlbefConfig::init(self, device)
    }

    /// The online model of one of the authors' checkpoints ([`AlbefConfig::load_state`] also
    /// gives its momentum copy and queues).
    fn load_checkpoint<B: Backend>(
        &self,
        path: &Path,
        device: &B::Device,
    ) -> Result<Albef<B>, ZooError> {
        Ok(self.load_state(path, device)?.model)
    }

    fn pela_plan(&self) -> RankPlan {
        AlbefConfig::pela_plan(self)
    }

    fn pela_objective(&self) -> PelaObjectiveConfig {
        AlbefConfig::pela_objective(self)
    }

    /// One token through every `Linear` once: the sum over the image, text and fusion
    /// encoders.
    fn flops(&self, report: &CompressionReport) -> Flops {
        Flops::per_token(report, FlopsPer::TokenEveryLinearOnce)
    }

    /// One row: the counts are per token through every `Linear` once.
    fn layer_rows(&self, _path: &str) -> usize {
        1
    }

    /// The count with the momentum copy of pre-training.
    fn report_notes(&self, report: &CompressionReport) -> Vec<String> {
        let totals = report.totals();
        vec![format!(
            "with the momentum copy of pre-training (an EMA of the model without its ITM head \
             and temperature): {} → {}",
            pela::thousands(self.with_momentum_copy(totals.params_before)),
            pela::thousands(self.with_momentum_copy(totals.params_after))
        )]
    }
}
