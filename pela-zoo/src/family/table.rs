//! The table of the zoo's families: one line a family, and every lookup by name, JSON config
//! or student file through it.

use std::any::Any;
use std::path::Path;

use pela::{PelaError, RankPlan};

use super::kind::{ImageClassification, ImageTextRetrieval, ShapeOf, TextEmbedding, VisitKind};
use super::{Family, ImageShape, json, student_file};
use crate::ZooError;
use crate::albef::AlbefConfig;
use crate::bert::BertConfig;
use crate::swin::SwinConfig;
use crate::vit::VitConfig;

/// A command written once for every family: [`Architecture::visit`] calls it with the config
/// of the family at hand.
///
/// ```
/// use pela::LowRank;
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::family::{Architecture, Family, Visit};
///
/// /// The parameters of a family's student under its authors' plan.
/// struct StudentParams;
/// impl Visit for StudentParams {
///     type Output = Result<usize, pela::PelaError>;
///     fn visit<F: Family>(self, config: F) -> Self::Output {
///         let report = config.init::<Cpu>(&CpuDevice::default()).preview(&config.pela_plan())?;
///         Ok(report.totals().params_after)
///     }
/// }
/// let tiny = Architecture::preset("deit_tiny_patch16_224")?;
/// assert!(tiny.visit(StudentParams)? < 5_717_416); // DeiT-Tiny has 5,717,416
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Visit {
    /// What the command gives.
    type Output;
    /// Runs the command on `config`.
    fn visit<F: Family>(self, config: F) -> Self::Output;
}

/// Declares the table: the [`Architecture`] enum, one variant a family, and its dispatch.
macro_rules! families {
    ($($(#[$doc:meta])* $variant:ident($config:ty): $kind:ty,)+) => {
        /// A model of the zoo, by its config: one variant a family, each with the kind of task
        /// it is distilled and evaluated on ([`kind`](super::kind)).
        ///
        /// ```
        /// use pela_zoo::family::Architecture;
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
            $($(#[$doc])* $variant($config),)+
        }

        $(impl From<$config> for Architecture {
            fn from(config: $config) -> Self {
                Self::$variant(config)
            }
        })+

        impl Architecture {
            /// Runs `visitor` on the config of this family.
            pub fn visit<V: Visit>(self, visitor: V) -> V::Output {
                match self {
                    $(Self::$variant(config) => visitor.visit(config),)+
                }
            }

            /// Runs the arm of `visitor` for this family's kind.
            pub fn visit_kind<V, O>(self, visitor: V) -> O
            where
                $($kind: VisitKind<V, $config, Output = O>,)+
            {
                match self {
                    $(Self::$variant(config) => <$kind as VisitKind<V, $config>>::visit(visitor, config),)+
                }
            }

            /// The config, when this is a model of family `F`.
            ///
            /// ```
            /// use pela_zoo::family::Architecture;
            /// use pela_zoo::swin::SwinConfig;
            /// use pela_zoo::vit::VitConfig;
            ///
            /// let deit = Architecture::preset("deit_tiny_patch16_224")?;
            /// assert_eq!(deit.config::<VitConfig>().map(|c| c.d_model), Some(192));
            /// assert!(deit.config::<SwinConfig>().is_none());
            /// # Ok::<(), pela_zoo::ZooError>(())
            /// ```
            pub fn config<F: Family>(&self) -> Option<&F> {
                match self {
                    $(Self::$variant(config) => (config as &dyn Any).downcast_ref::<F>(),)+
                }
            }

            /// Every preset name, of every family.
            pub fn preset_names() -> Vec<&'static str> {
                let mut names = Vec::new();
                $(names.extend(<$config as Family>::preset_names());)+
                names
            }

            /// The preset called `name`, of any family.
            ///
            /// # Errors
            /// [`ZooError::UnknownModel`], with the closest name of all families.
            pub fn preset(name: &str) -> Result<Self, ZooError> {
                $(if let Some(config) = <$config as Family>::preset(name) {
                    return Ok(Self::$variant(config));
                })+
                Err(ZooError::unknown_model(name, Self::preset_names().into_iter()))
            }

            /// The architecture of a JSON config, of the family of whose
            /// [`JSON_FIELDS`](Family::JSON_FIELDS) it has the most (an ALBEF config has `vision` and
            /// `text`, Hugging Face's `config.json` of a BERT `num_hidden_layers`, a Swin
            /// `embed_dim`, `depths` and `window_size`, a ViT `d_model`, `depth` and
            /// `n_heads`). Fields with a default may be left out.
            ///
            /// # Errors
            /// [`ZooError::InvalidConfig`] naming the missing or malformed field, or what each
            /// family needs when the fields fit none or several.
            ///
            /// ```
            /// use pela_zoo::family::Architecture;
            ///
            /// let json = r#"{"image_size": 56, "patch_size": 4, "window_size": 7, "num_classes": 10,
            ///                "embed_dim": 32, "depths": [2, 2], "num_heads": [2, 4]}"#;
            /// assert_eq!(Architecture::from_json(json)?.family(), "Swin");
            /// let unknown = Architecture::from_json(r#"{"width": 3}"#).unwrap_err();
            /// assert!(unknown.to_string().contains("ViT configs have `d_model`, `depth`, `n_heads`"));
            /// let no_heads = r#"{"image_size": 32, "patch_size": 8, "num_classes": 10, "d_model": 64, "depth": 2}"#;
            /// assert!(Architecture::from_json(no_heads).unwrap_err().to_string().contains("missing field `n_heads`"));
            /// # Ok::<(), pela_zoo::ZooError>(())
            /// ```
            pub fn from_json(text: &str) -> Result<Self, ZooError> {
                let fields = json::object(text)?;
                // Each family by how many of its own fields the text has: the best is read,
                // so that a config missing one field is told which.
                let present = |wanted: &[&str]| wanted.iter().filter(|f| fields.contains_key(**f)).count();
                let scores = [$((<$config as Family>::NAME, present(<$config as Family>::JSON_FIELDS)),)+];
                let best = scores.iter().map(|(_, score)| *score).max().unwrap_or(0);
                let matching: Vec<&str> = scores
                    .iter()
                    .filter(|(_, score)| best > 0 && *score == best)
                    .map(|(name, _)| *name)
                    .collect();
                let needs = || {
                    let needs: Vec<String> = vec![$(format!(
                        "{} configs have {}",
                        <$config as Family>::NAME,
                        <$config as Family>::JSON_FIELDS
                            .iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),)+];
                    needs.join("; ")
                };
                match matching.as_slice() {
                    [name] => {
                        $(if *name == <$config as Family>::NAME {
                            return Ok(Self::$variant(<$config as Family>::from_json(text)?));
                        })+
                        unreachable!("`matching` holds the names of the table's families")
                    }
                    [] => Err(ZooError::InvalidConfig {
                        reason: format!("the fields fit no model family: {}", needs()),
                    }),
                    several => Err(ZooError::InvalidConfig {
                        reason: format!(
                            "the fields fit several model families ({}): {}",
                            several.join(", "),
                            needs()
                        ),
                    }),
                }
            }

            /// The architecture saved in the header of a student file (written by
            /// [`Family::save_student`]).
            ///
            /// # Errors
            /// [`PelaError::Checkpoint`] when the file is unreadable or has no zoo config in
            /// its header.
            pub fn of_student(path: impl AsRef<Path>) -> Result<Self, ZooError> {
                let path = path.as_ref();
                let header = pela::checkpoint::metadata(path)?;
                $(if header.contains_key(<$config as Family>::HEADER_KEY) {
                    return Ok(Self::$variant(student_file::read_config::<$config>(path)?));
                })+
                let keys: Vec<String> = vec![$(format!("`{}`", <$config as Family>::HEADER_KEY),)+];
                Err(PelaError::Checkpoint {
                    path: path.display().to_string(),
                    reason: format!(
                        "the header names no zoo architecture ({}): is it a student written by \
                         `pela compress` or `pela distill`?",
                        keys.join(", ")
                    ),
                }
                .into())
            }

            /// The family's name: `ViT`, `Swin`, `BERT`, `ALBEF`.
            pub fn family(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$config as Family>::NAME,)+
                }
            }

            /// The authors' PELA plan of the family ([`Family::pela_plan`]).
            pub fn pela_plan(&self) -> RankPlan {
                match self {
                    $(Self::$variant(config) => Family::pela_plan(config),)+
                }
            }
        }
    };
}

families! {
    /// A vision transformer with a class token (DeiT, DeiT-III).
    Vit(VitConfig): ImageClassification,
    /// A Swin Transformer.
    Swin(SwinConfig): ImageClassification,
    /// A BERT encoder (all-MiniLM-L6-v2, or any Hugging Face BERT by its `config.json`).
    Bert(BertConfig): TextEmbedding,
    /// ALBEF: a ViT image encoder, a BERT text and fusion encoder, and their heads.
    Albef(AlbefConfig): ImageTextRetrieval,
}

impl Architecture {
    /// The input and output of an image classifier; `None` for the other kinds.
    ///
    /// ```
    /// use pela_zoo::family::Architecture;
    ///
    /// let deit = Architecture::preset("deit_base_patch16_224")?.image_shape().unwrap();
    /// assert_eq!((deit.size, deit.channels, deit.classes), (224, 3, 1000));
    /// assert!(Architecture::preset("all-MiniLM-L6-v2")?.image_shape().is_none());
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn image_shape(&self) -> Option<ImageShape> {
        self.clone().visit_kind(ShapeOf)
    }
}
