//! ALBEF's annotation files: `[{"image": path, "caption": text or [texts]}]` with an image
//! root, as the authors' `re_train_dataset` / `re_eval_dataset` read COCO and Flickr30K.

use std::path::{Component, Path, PathBuf};

use burn::prelude::*;
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};
use rand::rngs::StdRng;

use super::{AlbefModel, CaptionItem, Matches, Recall, retrieval_scores};
use crate::ZooError;
use crate::bert::BertTokenizer;
use crate::data::{Normalization, random_resized_crop};
use crate::train::TrainingSet;

/// The normalisation of the authors' image transforms (CLIP's mean and standard deviation).
pub fn normalization() -> Normalization {
    Normalization {
        mean: vec![0.481_454_66, 0.457_827_5, 0.408_210_73],
        std: vec![0.268_629_54, 0.261_302_6, 0.275_777_1],
    }
}

/// The authors' `max_words`: captions are cut to 30 words.
pub const MAX_WORDS: usize = 30;

/// One image and its captions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// The image's path, relative to the image root.
    pub image: String,
    /// Its captions, as written in the file.
    pub captions: Vec<String>,
}

/// An annotation file and the folder its image paths start from.
///
/// ```
/// use pela_zoo::albef::Annotations;
///
/// let json = r#"[{"image": "a.png", "caption": "A dog, running!"},
///                {"image": "b.png", "caption": ["two cats", "a pair of cats"]}]"#;
/// let annotations = Annotations::from_json(json, "test.json", "/data/images")?;
/// assert_eq!(annotations.len(), 2);
/// let (texts, matches) = annotations.texts();
/// assert_eq!(texts, ["a dog running", "two cats", "a pair of cats"]);
/// assert_eq!(matches.image_texts, vec![vec![0], vec![1, 2]]);
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Annotations {
    source: String,
    root: PathBuf,
    entries: Vec<Annotation>,
}

/// Whether `image`, joined to a root, stays inside it: relative, without `..` (checked on the
/// text, so that a root reached through a link still works).
fn inside_root(image: &str) -> bool {
    Path::new(image)
        .components()
        .all(|part| matches!(part, Component::Normal(_) | Component::CurDir))
}

impl Annotations {
    /// Reads the annotation file `json`, whose image paths start at `image_root`, and checks
    /// that every image exists.
    ///
    /// # Errors
    /// [`ZooError::Io`] for an unreadable file; [`ZooError::InvalidData`] for JSON of another
    /// shape (naming the entry) or a missing image (naming it and the root).
    pub fn read(json: impl AsRef<Path>, image_root: impl AsRef<Path>) -> Result<Self, ZooError> {
        let json = json.as_ref();
        let text = std::fs::read_to_string(json).map_err(|e| ZooError::io(json, e))?;
        let annotations = Self::from_json(&text, &json.display().to_string(), image_root)?;
        if let Some(missing) = annotations
            .entries
            .iter()
            .find(|entry| !annotations.root.join(&entry.image).is_file())
        {
            return Err(annotations.invalid(format!(
                "the image `{}` is not in the image root {}; give the folder the paths start \
                 from",
                missing.image,
                annotations.root.display()
            )));
        }
        Ok(annotations)
    }

    /// The annotations of the JSON `text`, called `source` in errors. The images are not
    /// checked.
    ///
    /// # Errors
    /// [`ZooError::InvalidData`] naming the entry that is not `{"image": …, "caption": …}`.
    pub fn from_json(
        text: &str,
        source: &str,
        image_root: impl AsRef<Path>,
    ) -> Result<Self, ZooError> {
        let mut annotations = Self {
            source: source.to_string(),
            root: image_root.as_ref().to_path_buf(),
            entries: Vec::new(),
        };
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| annotations.invalid(format!("not JSON: {e}")))?;
        let serde_json::Value::Array(items) = value else {
            return Err(annotations.invalid(
                "expected a list of {\"image\": path, \"caption\": text or [texts]}".into(),
            ));
        };
        for (i, item) in items.iter().enumerate() {
            let image = item.get("image").and_then(|v| v.as_str());
            let captions = match item.get("caption") {
                Some(serde_json::Value::String(caption)) => Some(vec![caption.clone()]),
                Some(serde_json::Value::Array(list)) => list
                    .iter()
                    .map(|c| c.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>(),
                _ => None,
            };
            if let Some(image) = image.filter(|image| !inside_root(image)) {
                return Err(annotations.invalid(format!(
                    "entry {i}: the image path `{image}` leaves the image root (an absolute \
                     path, or `..`); give paths relative to --image-root, inside it"
                )));
            }
            match (image, captions) {
                (Some(image), Some(captions)) if !captions.is_empty() => {
                    annotations.entries.push(Annotation {
                        image: image.to_string(),
                        captions,
                    })
                }
                _ => {
                    return Err(annotations.invalid(format!(
                        "entry {i} is not {{\"image\": path, \"caption\": text or [texts]}} \
                         with at least one caption: {item}"
                    )));
                }
            }
        }
        if annotations.entries.is_empty() {
            return Err(annotations.invalid("no entries".into()));
        }
        Ok(annotations)
    }

    fn invalid(&self, reason: String) -> ZooError {
        ZooError::InvalidData {
            source_name: self.source.clone(),
            reason,
        }
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no image (never, once read).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[Annotation] {
        &self.entries
    }

    /// Every caption cleaned by [`pre_caption`], in file order, and which image each
    /// describes (the authors' `re_eval_dataset`).
    pub fn texts(&self) -> (Vec<String>, Matches) {
        let texts = self
            .entries
            .iter()
            .flat_map(|e| e.captions.iter().map(|c| pre_caption(c, MAX_WORDS)))
            .collect();
        let counts: Vec<usize> = self.entries.iter().map(|e| e.captions.len()).collect();
        (texts, Matches::from_caption_counts(&counts))
    }

    /// Image `index` as `[3, size, size]` values, normalised by `normalization`: resized to
    /// the square (bicubic), as the authors' test transform; with `augment`, a random crop
    /// of 50–100 % of the area and a random flip first (their training transform without
    /// RandAugment).
    ///
    /// # Errors
    /// [`ZooError::File`] naming a file that does not decode.
    pub fn image(
        &self,
        index: usize,
        size: usize,
        normalization: &Normalization,
        augment: Option<&mut StdRng>,
    ) -> Result<Vec<f32>, ZooError> {
        let path = self.root.join(&self.entries[index].image);
        let image: RgbImage = image::open(&path)
            .map(DynamicImage::into_rgb8)
            .map_err(|e| ZooError::File {
                path: path.display().to_string(),
                reason: format!("cannot decode the image: {e}"),
            })?;
        let side = size as u32;
        let image = match augment {
            Some(rng) => random_resized_crop(&image, side, 0.5, FilterType::CatmullRom, rng),
            None => image::imageops::resize(&image, side, side, FilterType::CatmullRom),
        };
        let plane = size * size;
        let mut pixels = vec![0.0f32; 3 * plane];
        for (i, pixel) in image.pixels().enumerate() {
            for c in 0..3 {
                let value = f32::from(pixel[c]) / 255.0;
                pixels[c * plane + i] = (value - normalization.mean[c]) / normalization.std[c];
            }
        }
        Ok(pixels)
    }

    /// The pairs for training: one a caption, its image decoded when the engine asks for it.
    ///
    /// # Errors
    /// A caption the tokenizer rejects.
    pub fn pairs(
        &self,
        tokenizer: &BertTokenizer,
        size: usize,
        normalization: Normalization,
    ) -> Result<AnnotatedPairs, ZooError> {
        let mut pairs = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            for caption in &entry.captions {
                let ids = tokenizer.ids(&pre_caption(caption, MAX_WORDS))?;
                pairs.push((index, ids.into_iter().map(i64::from).collect()));
            }
        }
        Ok(AnnotatedPairs {
            annotations: self.clone(),
            pairs,
            size,
            normalization,
        })
    }

    /// Text and image retrieval recall of `model` on these images and captions, evaluated
    /// as the authors do ([`retrieval_scores`] with the top `settings.k` re-ranked by ITM,
    /// then [`Recall::from_scores`]).
    ///
    /// # Errors
    /// An image that does not decode, a caption the tokenizer rejects.
    pub fn recall<B: Backend, M: AlbefModel<B>>(
        &self,
        model: &M,
        tokenizer: &BertTokenizer,
        settings: &RetrievalSettings,
        device: &B::Device,
    ) -> Result<Recall, ZooError> {
        let RetrievalSettings {
            image_size: size,
            normalization,
            k,
            batch,
        } = settings;
        let (size, batch) = (*size, (*batch).max(1));
        let (texts, matches) = self.texts();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let texts = tokenizer.encode::<B>(&refs, device)?;
        let mut images = Vec::new();
        for start in (0..self.len()).step_by(batch) {
            let end = (start + batch).min(self.len());
            let mut pixels = Vec::with_capacity((end - start) * 3 * size * size);
            for index in start..end {
                pixels.extend(self.image(index, size, normalization, None)?);
            }
            images.push(Tensor::<B, 4>::from_data(
                TensorData::new(pixels, [end - start, 3, size, size]),
                device,
            ));
        }
        let scores = retrieval_scores(model, images, texts, *k, batch);
        Recall::from_scores(&scores.i2t, &scores.t2i, &matches)
    }
}

/// How [`Annotations::recall`] evaluates retrieval.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalSettings {
    /// The side images are resized to (the model's image size).
    pub image_size: usize,
    /// The images' normalisation ([`normalization`] for the authors' models).
    pub normalization: Normalization,
    /// The candidates of each image and each text re-ranked by ITM (the authors' `k_test`,
    /// 256 in their configs).
    pub k: usize,
    /// Images or texts through the model at once.
    pub batch: usize,
}

/// Image–caption pairs of [`Annotations`] as a training set of the engine: one item a
/// caption, its image decoded (and, in training, augmented) on demand.
#[derive(Debug, Clone)]
pub struct AnnotatedPairs {
    annotations: Annotations,
    pairs: Vec<(usize, Vec<i64>)>,
    size: usize,
    normalization: Normalization,
}

impl AnnotatedPairs {
    /// Every `every`-th pair held out (the second set), the others kept in order.
    pub fn split(self, every: usize) -> (Self, Self) {
        let every = every.max(2);
        let (mut kept, mut held_out) = (Vec::new(), Vec::new());
        for (i, pair) in self.pairs.iter().enumerate() {
            if i % every == every - 1 {
                held_out.push(pair.clone());
            } else {
                kept.push(pair.clone());
            }
        }
        let with = |pairs| Self {
            pairs,
            ..self.clone()
        };
        (with(kept), with(held_out))
    }

    /// The first `n` pairs.
    pub fn truncated(mut self, n: usize) -> Self {
        self.pairs.truncate(n);
        self
    }
}

impl TrainingSet<CaptionItem> for AnnotatedPairs {
    fn len(&self) -> usize {
        self.pairs.len()
    }

    fn item(&self, index: usize, augment: Option<&mut StdRng>) -> Result<CaptionItem, ZooError> {
        let (image, ids) = &self.pairs[index];
        let pixels = self
            .annotations
            .image(*image, self.size, &self.normalization, augment)?;
        Ok(CaptionItem {
            image: pixels,
            input_ids: ids.clone(),
        })
    }

    fn describe(&self) -> String {
        format!(
            "{}: {} captions of {} images, {} × {} pixels",
            self.annotations.source,
            self.pairs.len(),
            self.annotations.len(),
            self.size,
            self.size
        )
    }
}

/// A caption cleaned as the authors' `pre_caption`: lower case, the characters
/// `,.'!?"()*#:;~` removed, `-` and `/` turned into spaces, `<person>` into `person`, runs
/// of spaces into one, and cut to `max_words` words.
///
/// ```
/// use pela_zoo::albef::pre_caption;
///
/// assert_eq!(pre_caption("A man's well-worn T-shirt.", 30), "a mans well worn t shirt");
/// assert_eq!(pre_caption("one two three", 2), "one two");
/// ```
pub fn pre_caption(caption: &str, max_words: usize) -> String {
    let cleaned: String = caption
        .to_lowercase()
        .chars()
        .filter(|c| !",.'!?\"()*#:;~".contains(*c))
        .map(|c| if c == '-' || c == '/' { ' ' } else { c })
        .collect::<String>()
        .replace("<person>", "person");
    cleaned
        .split_whitespace()
        .take(max_words)
        .collect::<Vec<_>>()
        .join(" ")
}
