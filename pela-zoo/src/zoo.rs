//! The registry of the zoo's models: every family's presets under one name space, and what is
//! common to them (sizes, the authors' plan and objective, FLOPs). The `pela` command reads
//! its `--model` and student files through it.

use std::path::Path;

use pela::{CompressionReport, PelaError, PelaObjectiveConfig, RankPlan, WeightPerturbationConfig};

use crate::ZooError;
use crate::albef::AlbefConfig;
use crate::bert::{BertConfig, MiniLm};
use crate::swin::{SwinConfig, SwinFlops};
use crate::vit::{VitConfig, VitFlops};

/// A model of the zoo, by its config: an image classifier (a ViT such as DeiT and DeiT-III, or
/// a Swin), a BERT text encoder, or an ALBEF image–text model.
///
/// ```
/// use pela_zoo::zoo::Architecture;
///
/// let swin = Architecture::preset("swin_base_patch4_window7_224")?;
/// assert_eq!((swin.family(), swin.image_shape().map(|s| s.size)), ("Swin", Some(224)));
/// let minilm = Architecture::preset("all-MiniLM-L6-v2")?;
/// assert_eq!(minilm.family(), "BERT");
/// let typo = Architecture::preset("swin_bsae_patch4_window7_224").unwrap_err();
/// assert!(typo.to_string().contains("did you mean `swin_base_patch4_window7_224`"));
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Architecture {
    /// A vision transformer with a class token (DeiT, DeiT-III).
    Vit(VitConfig),
    /// A Swin Transformer.
    Swin(SwinConfig),
    /// A BERT encoder (all-MiniLM-L6-v2, or any Hugging Face BERT by its `config.json`).
    Bert(BertConfig),
    /// ALBEF: a ViT image encoder, a BERT text and fusion encoder, and their heads.
    Albef(AlbefConfig),
}

/// What an image model takes and gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// The side of the square input image, in pixels.
    pub size: usize,
    /// The channels of the input image.
    pub channels: usize,
    /// The number of classes of the head (0 for a backbone).
    pub classes: usize,
}

/// The FLOPs of one image through a teacher and its student, as the paper counts them
/// ([`VitFlops`], [`SwinFlops`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flops {
    /// The dense teacher.
    pub teacher: u64,
    /// The student.
    pub student: u64,
    /// The attention products, unchanged by PELA and not in the two counts above (0 for a
    /// text model, where they grow with the text's length).
    pub attention: u64,
    /// What the counts are for: `"image"`, `"token"` for a text model, `"token (every Linear
    /// once)"` for ALBEF (the sum over its image, text and fusion encoders).
    pub per: &'static str,
}

impl Architecture {
    /// Every preset name, of every family.
    pub fn preset_names() -> impl Iterator<Item = &'static str> {
        VitConfig::preset_names()
            .chain(SwinConfig::preset_names())
            .chain([MiniLm::NAME])
            .chain(AlbefConfig::preset_names())
    }

    /// The timm model called `name`, of any family.
    ///
    /// # Errors
    /// [`ZooError::UnknownModel`], with the closest name of all families.
    pub fn preset(name: &str) -> Result<Self, ZooError> {
        if let Ok(config) = VitConfig::preset(name) {
            return Ok(Self::Vit(config));
        }
        if let Ok(config) = SwinConfig::preset(name) {
            return Ok(Self::Swin(config));
        }
        if name == MiniLm::NAME {
            return Ok(Self::Bert(MiniLm::architecture()));
        }
        if let Ok(config) = AlbefConfig::preset(name) {
            return Ok(Self::Albef(config));
        }
        Err(ZooError::unknown_model(name, Self::preset_names()))
    }

    /// The architecture of a JSON config: an [`AlbefConfig`] when it has `vision` and `text`
    /// (as [`to_json`](Self::to_json) writes it), a [`BertConfig`] when it has `num_hidden_layers`
    /// (Hugging Face's `config.json` of a BERT), a [`SwinConfig`] when it has a
    /// `window_size`, a [`VitConfig`] otherwise. Fields with a default may be left out.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the missing or malformed field.
    ///
    /// ```
    /// use pela_zoo::zoo::Architecture;
    ///
    /// let json = r#"{"image_size": 56, "patch_size": 4, "window_size": 7, "num_classes": 10,
    ///                "embed_dim": 32, "depths": [2, 2], "num_heads": [2, 4]}"#;
    /// assert_eq!(Architecture::from_json(json)?.family(), "Swin");
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, ZooError> {
        let invalid = |reason: String| ZooError::InvalidConfig { reason };
        let given: serde_json::Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let serde_json::Value::Object(given) = given else {
            return Err(invalid(
                "expected a JSON object of config fields".to_string(),
            ));
        };
        // The defaults, from a config whose required fields are then taken from the file.
        fn merged<C: serde::Serialize + serde::de::DeserializeOwned>(
            skeleton: C,
            required: &[&str],
            given: serde_json::Map<String, serde_json::Value>,
        ) -> Result<C, ZooError> {
            let mut merged = serde_json::to_value(skeleton).expect("a config serialises");
            let object = merged.as_object_mut().expect("a config is an object");
            for field in required {
                object.remove(*field);
            }
            object.extend(given);
            serde_json::from_value(merged).map_err(|e| ZooError::InvalidConfig {
                reason: e.to_string(),
            })
        }
        let architecture = if given.contains_key("vision") && given.contains_key("text") {
            Self::Albef(
                serde_json::from_str(text).map_err(|e| invalid(format!("an ALBEF config: {e}")))?,
            )
        } else if given.contains_key("num_hidden_layers") {
            Self::Bert(BertConfig::from_hf_json(text)?)
        } else if given.contains_key("window_size") {
            Self::Swin(merged(
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
                given,
            )?)
        } else {
            Self::Vit(merged(
                VitConfig::new(0, 0, 0, 0, 0, 0),
                &[
                    "image_size",
                    "patch_size",
                    "num_classes",
                    "d_model",
                    "depth",
                    "n_heads",
                ],
                given,
            )?)
        };
        architecture.validate()?;
        Ok(architecture)
    }

    /// The architecture saved in the header of a student file (written by
    /// [`VitConfig::save_student`], [`SwinConfig::save_student`] or
    /// [`BertConfig::save_student`]).
    ///
    /// # Errors
    /// [`PelaError::Checkpoint`] when the file is unreadable or has no zoo config in its
    /// header.
    pub fn of_student(path: impl AsRef<Path>) -> Result<Self, ZooError> {
        let path = path.as_ref();
        let header = pela::checkpoint::metadata(path)?;
        if header.contains_key(crate::swin::student::CONFIG_KEY) {
            let config =
                crate::student_file::read_config(path, crate::swin::student::CONFIG_KEY, "Swin")?;
            return Ok(Self::Swin(config));
        }
        if header.contains_key(crate::albef::student::CONFIG_KEY) {
            let config =
                crate::student_file::read_config(path, crate::albef::student::CONFIG_KEY, "ALBEF")?;
            return Ok(Self::Albef(config));
        }
        if header.contains_key(crate::bert::student::CONFIG_KEY) {
            let config =
                crate::student_file::read_config(path, crate::bert::student::CONFIG_KEY, "BERT")?;
            return Ok(Self::Bert(config));
        }
        if header.contains_key(crate::vit::student::CONFIG_KEY) {
            let config =
                crate::student_file::read_config(path, crate::vit::student::CONFIG_KEY, "ViT")?;
            return Ok(Self::Vit(config));
        }
        Err(PelaError::Checkpoint {
            path: path.display().to_string(),
            reason: "the header names no zoo architecture (`pela.vit_config`, \
                     `pela.swin_config`, `pela.bert_config`, `pela.albef_config`): is it a student written by `pela compress` or \
                     `pela distill`?"
                .to_string(),
        }
        .into())
    }

    /// The family's name: `ViT`, `Swin`, `BERT` or `ALBEF`.
    pub fn family(&self) -> &'static str {
        match self {
            Self::Vit(_) => "ViT",
            Self::Swin(_) => "Swin",
            Self::Bert(_) => "BERT",
            Self::Albef(_) => "ALBEF",
        }
    }

    /// Checks the sizes fit together.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the field and the fix.
    pub fn validate(&self) -> Result<(), ZooError> {
        match self {
            Self::Vit(config) => config.validate(),
            Self::Swin(config) => config.validate(),
            Self::Bert(config) => config.validate(),
            Self::Albef(config) => config.validate(),
        }
    }

    /// The input and output of an image classifier; `None` for a text model and for ALBEF
    /// (which takes images and texts).
    ///
    /// ```
    /// use pela_zoo::zoo::Architecture;
    ///
    /// let deit = Architecture::preset("deit_base_patch16_224")?.image_shape().unwrap();
    /// assert_eq!((deit.size, deit.channels, deit.classes), (224, 3, 1000));
    /// assert!(Architecture::preset("all-MiniLM-L6-v2")?.image_shape().is_none());
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn image_shape(&self) -> Option<ImageShape> {
        let (size, channels, classes) = match self {
            Self::Vit(config) => (config.image_size, config.channels, config.num_classes),
            Self::Swin(config) => (config.image_size, config.channels, config.num_classes),
            Self::Bert(_) | Self::Albef(_) => return None,
        };
        Some(ImageShape {
            size,
            channels,
            classes,
        })
    }

    /// The authors' PELA plan of the family ([`VitConfig::pela_plan`],
    /// [`SwinConfig::pela_plan`], [`AlbefConfig::pela_plan`]); for BERT, every encoder
    /// `Linear` at κ = 2 ([`BertConfig::pela_plan`]).
    pub fn pela_plan(&self) -> RankPlan {
        match self {
            Self::Vit(config) => config.pela_plan(),
            Self::Swin(config) => config.pela_plan(),
            Self::Bert(config) => config.pela_plan(2.0),
            Self::Albef(config) => config.pela_plan(),
        }
    }

    /// The authors' distillation objective of the family ([`VitConfig::pela_objective`],
    /// [`SwinConfig::pela_objective`]); for BERT, `L_fd` with α = 1 and `L_rwp` off (the
    /// text terms are [`TextObjective`](crate::bert::TextObjective)'s).
    pub fn pela_objective(&self) -> PelaObjectiveConfig {
        match self {
            Self::Vit(config) => config.pela_objective(),
            Self::Swin(config) => config.pela_objective(),
            Self::Bert(_) => PelaObjectiveConfig::new(),
            Self::Albef(config) => config.pela_objective(),
        }
    }

    /// The FLOPs of one image (of one token for a text model and for ALBEF, each `Linear`
    /// counted once), compressed as `report` says.
    pub fn flops(&self, report: &CompressionReport) -> Flops {
        let (teacher, student, attention) = match self {
            Self::Vit(config) => {
                let flops = VitFlops::new(config, report);
                (flops.teacher(), flops.student(), flops.attention())
            }
            Self::Swin(config) => {
                let flops = SwinFlops::new(config, report);
                (flops.teacher(), flops.student(), flops.attention())
            }
            Self::Bert(_) | Self::Albef(_) => {
                // Each weight is used once a token: 2 FLOPs a multiply-accumulate.
                let totals = report.totals();
                let flops = |macs: usize| 2 * macs as u64;
                (flops(totals.macs_before), flops(totals.macs_after), 0)
            }
        };
        Flops {
            teacher,
            student,
            attention,
            per: match self {
                Self::Bert(_) => "token",
                Self::Albef(_) => "token (every Linear once)",
                _ => "image",
            },
        }
    }

    /// The config as JSON (what `model.json` of a run folder holds).
    pub fn to_json(&self) -> String {
        match self {
            Self::Vit(config) => config.to_string(),
            Self::Swin(config) => config.to_string(),
            Self::Bert(config) => config.to_string(),
            Self::Albef(config) => config.to_string(),
        }
    }
}

/// The objective of the authors' scripts: `L_fd` weight `alpha`, `L_rwp` weight `beta` and
/// margin `epsilon`.
pub(crate) fn objective(alpha: f64, beta: f64, epsilon: f64) -> PelaObjectiveConfig {
    PelaObjectiveConfig::new()
        .with_alpha(alpha)
        .with_beta(beta)
        .with_weight_perturbation(WeightPerturbationConfig::new().with_epsilon(epsilon))
}
