//! The table of the zoo's families: one line a family.

use super::ImageShape;
use super::kind::{ImageClassification, ImageTextRetrieval, ShapeOf, TextEmbedding};
use crate::albef::AlbefConfig;
use crate::bert::BertConfig;
use crate::swin::SwinConfig;
use crate::vit::VitConfig;

crate::families! {
    /// A model of the zoo, by its config: one variant a family, each with the kind of task
    /// it is distilled and evaluated on ([`kind`](super::kind)). Its lookups are [`Zoo`]'s.
    ///
    /// ```
    /// use pela_zoo::family::{Architecture, Zoo};
    ///
    /// let swin = Architecture::preset("swin_base_patch4_window7_224")?;
    /// assert_eq!((swin.family(), swin.image_shape().map(|s| s.size)), ("Swin", Some(224)));
    /// let minilm = Architecture::preset("all-MiniLM-L6-v2")?;
    /// assert_eq!(minilm.family(), "BERT");
    /// let typo = Architecture::preset("swin_bsae_patch4_window7_224").unwrap_err();
    /// assert!(typo.to_string().contains("did you mean `swin_base_patch4_window7_224`"));
    ///
    /// let json = r#"{"image_size": 56, "patch_size": 4, "window_size": 7, "num_classes": 10,
    ///                "embed_dim": 32, "depths": [2, 2], "num_heads": [2, 4]}"#;
    /// assert_eq!(Architecture::from_json(json)?.family(), "Swin");
    /// let unknown = Architecture::from_json(r#"{"width": 3}"#).unwrap_err();
    /// assert!(unknown.to_string().contains("ViT configs have `d_model`, `depth`, `n_heads`"));
    /// let no_heads = r#"{"image_size": 32, "patch_size": 8, "num_classes": 10, "d_model": 64, "depth": 2}"#;
    /// assert!(Architecture::from_json(no_heads).unwrap_err().to_string().contains("missing field `n_heads`"));
    ///
    /// let deit = Architecture::preset("deit_tiny_patch16_224")?;
    /// assert_eq!(deit.config::<pela_zoo::vit::VitConfig>().map(|c| c.d_model), Some(192));
    /// assert!(deit.config::<pela_zoo::swin::SwinConfig>().is_none());
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    ///
    /// [`Zoo`]: super::Zoo
    #[derive(Debug, Clone, PartialEq)]
    pub enum Architecture {
        /// A vision transformer with a class token (DeiT, DeiT-III, DINOv2).
        Vit(VitConfig): ImageClassification,
        /// A Swin Transformer.
        Swin(SwinConfig): ImageClassification,
        /// A BERT encoder (all-MiniLM-L6-v2, or any Hugging Face BERT by its folder or
        /// `config.json`).
        Bert(BertConfig): TextEmbedding,
        /// ALBEF: a ViT image encoder, a BERT text and fusion encoder, and their heads.
        Albef(AlbefConfig): ImageTextRetrieval,
    }
}

impl Architecture {
    /// The input and output of an image classifier; `None` for the other kinds.
    ///
    /// ```
    /// use pela_zoo::family::{Architecture, Zoo};
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
