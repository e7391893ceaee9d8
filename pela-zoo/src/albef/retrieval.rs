//! Image–text retrieval as the authors' `Retrieval.py` evaluates it: ITC similarity for every
//! pair, the top `k` of each row re-ranked by the ITM head, and recall at 1, 5 and 10 both
//! ways.

use std::fmt;

use burn::prelude::*;

use super::AlbefModel;
use crate::ZooError;
use crate::bert::BertInput;

/// Which texts describe which image (the authors' `img2txt` and `txt2img`).
///
/// In the authors' evaluation sets each text describes one image; here a text may describe
/// several (captions made from class labels), and a hit is any of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matches {
    /// For each image, the texts that describe it.
    pub image_texts: Vec<Vec<usize>>,
    /// For each text, the images it describes.
    pub text_images: Vec<Vec<usize>>,
}

impl Matches {
    /// The matches of images each with its own captions: image `i` has the texts
    /// `captions[i]` (ids counted on from 0 in order), as the authors' `re_eval_dataset`.
    ///
    /// ```
    /// let matches = pela_zoo::albef::Matches::from_caption_counts(&[2, 1]);
    /// assert_eq!(matches.image_texts, vec![vec![0, 1], vec![2]]);
    /// assert_eq!(matches.text_images, vec![vec![0], vec![0], vec![1]]);
    /// ```
    pub fn from_caption_counts(captions: &[usize]) -> Self {
        let mut matches = Self::default();
        for (image, &count) in captions.iter().enumerate() {
            let first = matches.text_images.len();
            matches.image_texts.push((first..first + count).collect());
            matches.text_images.extend((0..count).map(|_| vec![image]));
        }
        matches
    }

    /// The matches of `image_texts`, with each text's images derived from it.
    pub fn from_image_texts(image_texts: Vec<Vec<usize>>, texts: usize) -> Self {
        let mut text_images = vec![Vec::new(); texts];
        for (image, texts) in image_texts.iter().enumerate() {
            for &text in texts {
                text_images[text].push(image);
            }
        }
        Self {
            image_texts,
            text_images,
        }
    }
}

/// Recall at 1, 5 and 10, in percent: text retrieval (each image's texts ranked, the
/// authors' `txt_r*`) and image retrieval (each text's images ranked, `img_r*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recall {
    /// Image → text: R@1, R@5, R@10.
    pub text: [f64; 3],
    /// Text → image: R@1, R@5, R@10.
    pub image: [f64; 3],
}

impl Recall {
    /// The recalls of the score matrices `i2t` (`[images, texts]`, row-major) and `t2i`
    /// (`[texts, images]`), as the authors' `itm_eval`: an image's rank is the best rank of
    /// its texts. Of equal scores the higher index ranks first, as the authors'
    /// `np.argsort(score)[::-1]` orders them.
    ///
    /// # Errors
    /// [`ZooError::InvalidData`] when the matrices do not fit `matches`, or an image or text
    /// has no match.
    ///
    /// ```
    /// use pela_zoo::albef::{Matches, Recall};
    ///
    /// // Two images, two texts; image 0 ranks its text first, image 1 second.
    /// let matches = Matches::from_caption_counts(&[1, 1]);
    /// let i2t = [0.9, 0.1, 0.8, 0.2];
    /// let t2i = [0.9, 0.2, 0.1, 0.7];
    /// let recall = Recall::from_scores(&i2t, &t2i, &matches)?;
    /// assert_eq!(recall.text, [50.0, 100.0, 100.0]);
    /// assert_eq!(recall.image, [100.0, 100.0, 100.0]);
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn from_scores(i2t: &[f32], t2i: &[f32], matches: &Matches) -> Result<Self, ZooError> {
        let (images, texts) = (matches.image_texts.len(), matches.text_images.len());
        let invalid = |reason: String| ZooError::InvalidData {
            source_name: "retrieval scores".into(),
            reason,
        };
        if i2t.len() != images * texts || t2i.len() != images * texts {
            return Err(invalid(format!(
                "{images} images and {texts} texts need {} scores each way, got {} and {}",
                images * texts,
                i2t.len(),
                t2i.len()
            )));
        }
        let recalls = |scores: &[f32], targets: &[Vec<usize>], what: &str| {
            let columns = scores.len() / targets.len().max(1);
            let mut hits = [0usize; 3];
            for (row, wanted) in scores.chunks(columns.max(1)).zip(targets) {
                if wanted.is_empty() {
                    return Err(invalid(format!("a row without any matching {what}")));
                }
                let rank = best_rank(row, wanted);
                for (hit, k) in hits.iter_mut().zip([1, 5, 10]) {
                    *hit += usize::from(rank < k);
                }
            }
            Ok(hits.map(|h| 100.0 * h as f64 / targets.len().max(1) as f64))
        };
        Ok(Self {
            text: recalls(i2t, &matches.image_texts, "text")?,
            image: recalls(t2i, &matches.text_images, "image")?,
        })
    }

    /// The mean of the six recalls (the authors' `r_mean`).
    pub fn mean(&self) -> f64 {
        (self.text.iter().sum::<f64>() + self.image.iter().sum::<f64>()) / 6.0
    }
}

impl fmt::Display for Recall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [t1, t5, t10] = self.text;
        let [i1, i5, i10] = self.image;
        write!(
            f,
            "text retrieval R@1/5/10 {t1:.2} / {t5:.2} / {t10:.2}, image retrieval \
             {i1:.2} / {i5:.2} / {i10:.2} (mean {:.2})",
            self.mean()
        )
    }
}

/// The position of the best of `wanted` when `row` is sorted by score, highest first (of
/// equal scores the higher index first).
fn best_rank(row: &[f32], wanted: &[usize]) -> usize {
    wanted
        .iter()
        .map(|&w| {
            let score = row[w];
            row.iter()
                .enumerate()
                .filter(|&(i, &s)| s > score || (s == score && i > w))
                .count()
        })
        .min()
        .unwrap_or(usize::MAX)
}

/// The score matrices of a retrieval evaluation: `[images, texts]` and `[texts, images]`,
/// row-major. Outside each row's top `k` by ITC the score is -100, inside it the ITM head's
/// "matched" logit, as the authors' `evaluation`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalScores {
    /// Image → text scores.
    pub i2t: Vec<f32>,
    /// Text → image scores.
    pub t2i: Vec<f32>,
    /// The ITC similarities, `[images, texts]`.
    pub similarity: Vec<f32>,
}

/// Scores every image against every text the way the authors evaluate retrieval: ITC
/// similarity for all pairs, then the ITM head on the top `k` texts of each image and the
/// top `k` images of each text (`k_test`: 256 in their configs).
///
/// `images` yields the images in batches; `texts` holds every text, padded to one length;
/// `batch` bounds how many texts (and ITM pairs) go through the model at once.
///
/// # Shapes
/// - each of `images`: `[n, channels, size, size]`
/// - `texts`: `[texts, tokens]`
///
/// ```
/// use burn::prelude::*;
/// use pela_zoo::albef::{AlbefConfig, Matches, Recall, retrieval_scores};
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::bert::{BertConfig, BertInput};
/// use pela_zoo::vit::VitConfig;
///
/// let device = CpuDevice::default();
/// let config = AlbefConfig::new(
///     VitConfig::new(32, 16, 0, 64, 2, 4),
///     BertConfig::new(100, 64, 4, 4, 128, 16).with_cross_attention_from(Some(2)),
/// );
/// let albef = config.init::<Cpu>(&device);
/// let images = Tensor::<Cpu, 4>::zeros([2, 3, 32, 32], &device);
/// let ids = Tensor::<Cpu, 2, Int>::from_ints([[1, 5, 2], [1, 9, 2], [1, 7, 2]], &device);
/// let texts = BertInput {
///     token_type_ids: ids.zeros_like(),
///     attention_mask: ids.ones_like().float(),
///     input_ids: ids,
/// };
/// let scores = retrieval_scores(&albef, [images], texts, 2, 8);
/// assert_eq!((scores.i2t.len(), scores.t2i.len()), (6, 6));
/// assert_eq!(scores.i2t.iter().filter(|&&s| s == -100.0).count(), 2); // 1 of 3 texts an image
/// let recall = Recall::from_scores(&scores.i2t, &scores.t2i, &Matches::from_caption_counts(&[2, 1]))?;
/// assert!((0.0..=100.0).contains(&recall.mean()));
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
pub fn retrieval_scores<B: Backend, M: AlbefModel<B>>(
    model: &M,
    images: impl IntoIterator<Item = Tensor<B, 4>>,
    texts: BertInput<B>,
    k: usize,
    batch: usize,
) -> RetrievalScores {
    let batch = batch.max(1);
    let [n_texts, _] = texts.input_ids.dims();
    // The text tokens and features, `batch` texts at a time.
    let (mut text_tokens, mut text_features) = (Vec::new(), Vec::new());
    for start in (0..n_texts).step_by(batch) {
        let len = batch.min(n_texts - start);
        let chunk = BertInput {
            input_ids: texts.input_ids.clone().narrow(0, start, len),
            token_type_ids: texts.token_type_ids.clone().narrow(0, start, len),
            attention_mask: texts.attention_mask.clone().narrow(0, start, len),
        };
        let mask = chunk.attention_mask.clone();
        let (tokens, _) = model.encode_text(chunk);
        text_features.push(model.text_feature(tokens.clone(), mask));
        text_tokens.push(tokens);
    }
    let text_tokens = Tensor::cat(text_tokens, 0);
    let text_features = Tensor::cat(text_features, 0);
    let text_mask = texts.attention_mask;
    // The image tokens and features.
    let (mut image_tokens, mut image_features) = (Vec::new(), Vec::new());
    for images in images {
        let (tokens, _) = model.encode_image(images);
        image_features.push(model.image_feature(tokens.clone()));
        image_tokens.push(tokens);
    }
    let image_tokens = Tensor::cat(image_tokens, 0);
    let image_features = Tensor::cat(image_features, 0);
    let n_images = image_tokens.dims()[0];
    let similarity = image_features.matmul(text_features.transpose());
    let similarity: Vec<f32> = similarity.into_data().convert::<f32>().to_vec().unwrap();

    let k_texts = k.clamp(1, n_texts);
    let k_images = k.clamp(1, n_images);
    let mut i2t = vec![-100.0f32; n_images * n_texts];
    let mut t2i = vec![-100.0f32; n_texts * n_images];
    // ITM on (text, image) index pairs, `batch` at a time: the "matched" logits.
    let itm = |pairs: &[(usize, usize)]| -> Vec<f32> {
        let mut scores = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(batch) {
            let device = image_tokens.device();
            let index = |f: &dyn Fn(&(usize, usize)) -> usize| {
                let ids: Vec<i64> = chunk.iter().map(|p| f(p) as i64).collect();
                Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [chunk.len()]), &device)
            };
            let (t, i) = (index(&|p| p.0), index(&|p| p.1));
            let fused = model
                .fuse(
                    text_tokens.clone().select(0, t.clone()),
                    text_mask.clone().select(0, t),
                    image_tokens.clone().select(0, i),
                )
                .0;
            let logits = model.itm_logits(fused).narrow(1, 1, 1);
            scores.extend(logits.into_data().convert::<f32>().to_vec::<f32>().unwrap());
        }
        scores
    };
    for image in 0..n_images {
        let row = &similarity[image * n_texts..(image + 1) * n_texts];
        let top = top_k(row, k_texts);
        let pairs: Vec<(usize, usize)> = top.iter().map(|&t| (t, image)).collect();
        for (t, score) in top.into_iter().zip(itm(&pairs)) {
            i2t[image * n_texts + t] = score;
        }
    }
    for text in 0..n_texts {
        let column: Vec<f32> = (0..n_images)
            .map(|i| similarity[i * n_texts + text])
            .collect();
        let top = top_k(&column, k_images);
        let pairs: Vec<(usize, usize)> = top.iter().map(|&i| (text, i)).collect();
        for (i, score) in top.into_iter().zip(itm(&pairs)) {
            t2i[text * n_images + i] = score;
        }
    }
    RetrievalScores {
        i2t,
        t2i,
        similarity,
    }
}

/// The indices of the `k` highest values of `row` (equal values by index).
fn top_k(row: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}
