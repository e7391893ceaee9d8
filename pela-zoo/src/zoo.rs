//! The registry of the zoo's image classifiers: every family's presets under one name space,
//! and what is common to them (sizes, the authors' plan and objective, FLOPs). The `pela`
//! command reads its `--model` and student files through it.

use std::path::Path;

use pela::{CompressionReport, PelaError, PelaObjectiveConfig, RankPlan, WeightPerturbationConfig};

use crate::ZooError;
use crate::swin::{SwinConfig, SwinFlops};
use crate::vit::{VitConfig, VitFlops};

/// An image classifier of the zoo: a ViT (DeiT, DeiT-III) or a Swin, by its config.
///
/// ```
/// use pela_zoo::zoo::Architecture;
///
/// let swin = Architecture::preset("swin_base_patch4_window7_224")?;
/// assert_eq!((swin.family(), swin.image_size()), ("Swin", 224));
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
}

/// The FLOPs of one image through a teacher and its student, as the paper counts them
/// ([`VitFlops`], [`SwinFlops`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flops {
    /// The dense teacher.
    pub teacher: u64,
    /// The student.
    pub student: u64,
    /// The attention products, unchanged by PELA and not in the two counts above.
    pub attention: u64,
}

impl Architecture {
    /// Every preset name, of every family.
    pub fn preset_names() -> impl Iterator<Item = &'static str> {
        VitConfig::preset_names().chain(SwinConfig::preset_names())
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
        Err(ZooError::unknown_model(name, Self::preset_names()))
    }

    /// The architecture of a JSON config: a [`SwinConfig`] when it has a `window_size`,
    /// a [`VitConfig`] otherwise. Fields with a default may be left out.
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
        let architecture = if given.contains_key("window_size") {
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
    /// [`VitConfig::save_student`] or [`SwinConfig::save_student`]).
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
        if header.contains_key(crate::vit::student::CONFIG_KEY) {
            let config =
                crate::student_file::read_config(path, crate::vit::student::CONFIG_KEY, "ViT")?;
            return Ok(Self::Vit(config));
        }
        Err(PelaError::Checkpoint {
            path: path.display().to_string(),
            reason: "the header names no zoo architecture (`pela.vit_config`, \
                     `pela.swin_config`): is it a student written by `pela compress` or \
                     `pela distill`?"
                .to_string(),
        }
        .into())
    }

    /// The family's name: `ViT` or `Swin`.
    pub fn family(&self) -> &'static str {
        match self {
            Self::Vit(_) => "ViT",
            Self::Swin(_) => "Swin",
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
        }
    }

    /// The side of the square input image, in pixels.
    pub fn image_size(&self) -> usize {
        match self {
            Self::Vit(config) => config.image_size,
            Self::Swin(config) => config.image_size,
        }
    }

    /// The channels of the input image.
    pub fn channels(&self) -> usize {
        match self {
            Self::Vit(config) => config.channels,
            Self::Swin(config) => config.channels,
        }
    }

    /// The number of classes of the head.
    pub fn num_classes(&self) -> usize {
        match self {
            Self::Vit(config) => config.num_classes,
            Self::Swin(config) => config.num_classes,
        }
    }

    /// The authors' PELA plan of the family ([`VitConfig::pela_plan`],
    /// [`SwinConfig::pela_plan`]).
    pub fn pela_plan(&self) -> RankPlan {
        match self {
            Self::Vit(config) => config.pela_plan(),
            Self::Swin(config) => config.pela_plan(),
        }
    }

    /// The authors' distillation objective of the family ([`VitConfig::pela_objective`],
    /// [`SwinConfig::pela_objective`]).
    pub fn pela_objective(&self) -> PelaObjectiveConfig {
        match self {
            Self::Vit(config) => config.pela_objective(),
            Self::Swin(config) => config.pela_objective(),
        }
    }

    /// The FLOPs of one image, compressed as `report` says.
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
        };
        Flops {
            teacher,
            student,
            attention,
        }
    }

    /// The config as JSON (what `model.json` of a run folder holds).
    pub fn to_json(&self) -> String {
        match self {
            Self::Vit(config) => config.to_string(),
            Self::Swin(config) => config.to_string(),
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
