//! BERT as a [`Family`] of the zoo: text encoders, all-MiniLM-L6-v2 their preset.

use std::path::Path;

use burn::prelude::*;
use pela::{CompressionReport, PelaObjectiveConfig, RankPlan};

use super::{Bert, BertConfig, BertFiles, BertLowRank, MiniLm};
use crate::ZooError;
use crate::family::{Family, Flops, FlopsPer};
use crate::train::TrainingConfig;

impl Family for BertConfig {
    const NAME: &'static str = "BERT";
    const HEADER_KEY: &'static str = "pela.bert_config";
    const JSON_FIELDS: &'static [&'static str] = &["num_hidden_layers"];
    type Model<B: Backend> = Bert<B>;
    type Student<B: Backend> = BertLowRank<B>;

    fn preset_names() -> Vec<&'static str> {
        vec![MiniLm::NAME]
    }

    fn preset(name: &str) -> Option<Self> {
        (name == MiniLm::NAME).then(MiniLm::architecture)
    }

    /// Hugging Face's `config.json` ([`BertConfig::from_hf_json`]).
    fn from_json(text: &str) -> Result<Self, ZooError> {
        BertConfig::from_hf_json(text)
    }

    /// A Hugging Face model folder: its `config.json` ([`BertFiles::config`]).
    fn from_folder(path: &Path) -> Option<Result<Self, ZooError>> {
        Some(BertFiles::open(path).and_then(|files| files.config()))
    }

    fn validate(&self) -> Result<(), ZooError> {
        BertConfig::validate(self)
    }

    fn init<B: Backend>(&self, device: &B::Device) -> Bert<B> {
        BertConfig::init(self, device)
    }

    fn load_checkpoint<B: Backend>(
        &self,
        path: &Path,
        device: &B::Device,
    ) -> Result<Bert<B>, ZooError> {
        BertConfig::load_checkpoint(self, path, device)
    }

    /// Every encoder `Linear` at κ = 2 ([`BertConfig::pela_plan`]).
    fn pela_plan(&self) -> RankPlan {
        BertConfig::pela_plan(self, 2.0)
    }

    /// `L_fd` with α = 1 and `L_rwp` off; the text terms are
    /// [`TextObjective`](super::TextObjective)'s.
    fn pela_objective(&self) -> PelaObjectiveConfig {
        PelaObjectiveConfig::new()
    }

    /// One token through every `Linear` (the attention products grow with the text).
    fn flops(&self, report: &CompressionReport) -> Flops {
        Flops::per_token(report, FlopsPer::Token)
    }

    /// One row: the counts are per token.
    fn layer_rows(&self, _path: &str) -> usize {
        1
    }

    /// The settings of `examples/minilm_pela.rs`: a pre-trained BERT diverges at the image
    /// families' learning rate (1e-3 took MiniLM's held-out cosine to its teacher from 0.39 to
    /// 0.19 in one epoch; 1e-4 raised it to 0.47).
    ///
    /// ```
    /// use pela_zoo::Family;
    ///
    /// let defaults = pela_zoo::bert::MiniLm::architecture().training_defaults();
    /// assert_eq!((defaults.learning_rate, defaults.warmup_epochs), (1e-4, 0));
    /// ```
    fn training_defaults(&self) -> TrainingConfig {
        TrainingConfig::new()
            .with_learning_rate(1e-4)
            .with_min_learning_rate(1e-6)
            .with_weight_decay(0.01)
            .with_grad_clip(1.0)
            .with_warmup_epochs(0)
    }

    /// The pooler comes with the weights, not with the architecture.
    fn same_architecture(&self, other: &Self) -> bool {
        self.clone().with_pooler(false) == other.clone().with_pooler(false)
    }
}
