//! ALBEF's three pre-training objectives, as the authors' `model_pretrain.py` and `xbert.py`
//! compute them: image–text contrastive learning (ITC) with momentum distillation, image–text
//! matching (ITM) on hard negatives, and masked language modelling (MLM) with momentum
//! distillation.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;

/// What ITC computes: its loss, and the online similarities (ITM draws its hard negatives
/// from them).
#[derive(Debug, Clone)]
pub struct Itc<B: Backend> {
    /// `(loss_i2t + loss_t2i) / 2`, `[1]`.
    pub loss: Tensor<B, 1>,
    /// Image-to-text similarities over the batch's texts, then the queue's: `[batch, batch + queue]`.
    pub sim_i2t: Tensor<B, 2>,
    /// Text-to-image similarities: `[batch, batch + queue]`.
    pub sim_t2i: Tensor<B, 2>,
}

/// An image tensor and a text tensor that go together: features `[batch, embed_dim]`, or
/// the queues `[embed_dim, queue]`.
#[derive(Debug, Clone)]
pub struct ImageText<B: Backend> {
    /// The image side.
    pub image: Tensor<B, 2>,
    /// The text side.
    pub text: Tensor<B, 2>,
}

/// Image–text contrastive loss with momentum distillation.
///
/// Each image is compared with the momentum model's features of the batch's texts and of
/// the queue's (and each text with the images'), at temperature `temp`. The targets are
/// `alpha · softmax(momentum similarities) + (1 − alpha) · [the pair's own column]`, and the
/// loss is the cross-entropy of the online similarities against them, averaged over both
/// directions.
///
/// # Shapes
/// - `online`, `momentum`: features `[batch, embed_dim]`, unit norm
/// - `queue`: `[embed_dim, queue]`
/// - `temp`: `[1]`
///
/// ```
/// use burn::prelude::*;
/// use pela_zoo::albef::{ImageText, itc};
/// use pela_zoo::backend::{Cpu, CpuDevice};
///
/// let device = CpuDevice::default();
/// let eye = || Tensor::<Cpu, 2>::eye(2, &device);
/// let pair = |image, text| ImageText { image, text };
/// let queue = pair(Tensor::zeros([2, 0], &device), Tensor::zeros([2, 0], &device));
/// let temp = Tensor::from_floats([1.0], &device);
/// // Two orthogonal pairs, no queue, α = 0: each row's logits are [1, 0], target column 0.
/// let loss = itc(pair(eye(), eye()), pair(eye(), eye()), queue, temp, 0.0).loss;
/// let expected = (1.0f32 + (-1.0f32).exp()).ln(); // −log(e / (e + 1))
/// assert!((loss.into_scalar() - expected).abs() < 1e-6);
/// ```
pub fn itc<B: Backend>(
    online: ImageText<B>,
    momentum: ImageText<B>,
    queue: ImageText<B>,
    temp: Tensor<B, 1>,
    alpha: f64,
) -> Itc<B> {
    let ImageText {
        image: image_feat,
        text: text_feat,
    } = online;
    let ImageText {
        image: image_feat_m,
        text: text_feat_m,
    } = momentum;
    let (image_queue, text_queue) = (queue.image, queue.text);
    let batch = image_feat.dims()[0];
    let image_all = Tensor::cat(vec![image_feat_m.clone().transpose(), image_queue], 1).detach();
    let text_all = Tensor::cat(vec![text_feat_m.clone().transpose(), text_queue], 1).detach();
    let columns = image_all.dims()[1];
    let scale = temp.recip().unsqueeze::<2>();
    let scale_m = scale.clone().detach();

    let device = image_feat.device();
    let own = Tensor::cat(
        vec![
            Tensor::<B, 2>::eye(batch, &device),
            Tensor::zeros([batch, columns - batch], &device),
        ],
        1,
    );
    let targets = |sim_m: Tensor<B, 2>| {
        (softmax(sim_m, 1).mul_scalar(alpha) + own.clone().mul_scalar(1.0 - alpha)).detach()
    };
    let targets_i2t = targets(image_feat_m.detach().matmul(text_all.clone()) * scale_m.clone());
    let targets_t2i = targets(text_feat_m.detach().matmul(image_all.clone()) * scale_m);

    let sim_i2t = image_feat.matmul(text_all) * scale.clone();
    let sim_t2i = text_feat.matmul(image_all) * scale;
    let cross_entropy = |sim: Tensor<B, 2>, targets: Tensor<B, 2>| {
        (log_softmax(sim, 1) * targets).sum_dim(1).mean().neg()
    };
    let loss = (cross_entropy(sim_i2t.clone(), targets_i2t)
        + cross_entropy(sim_t2i.clone(), targets_t2i))
        / 2.0;
    Itc {
        loss,
        sim_i2t,
        sim_t2i,
    }
}

/// For each row of `similarities` (`[batch, ≥ batch]`), a column of the batch other than
/// its own, drawn with probability `softmax(row[..batch])` (its own column at 0): ALBEF's
/// hard negatives for ITM. The draws come from `rng`, so a seeded run repeats.
///
/// # Panics
/// A batch of fewer than 2.
///
/// ```
/// use burn::prelude::*;
/// use pela_zoo::albef::hard_negatives;
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use rand::SeedableRng;
///
/// let sims = Tensor::<Cpu, 2>::from_floats([[0.0, 50.0, 0.0], [0.0, 0.0, 50.0], [50.0, 0.0, 0.0]], &CpuDevice::default());
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// assert_eq!(hard_negatives(sims, &mut rng), [1, 2, 0]); // the most similar other pair
/// ```
pub fn hard_negatives<B: Backend>(similarities: Tensor<B, 2>, rng: &mut StdRng) -> Vec<usize> {
    let batch = similarities.dims()[0];
    assert!(
        batch >= 2,
        "ITM needs a batch of at least 2 to draw negatives"
    );
    let weights = softmax(similarities.narrow(1, 0, batch), 1)
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .expect("similarities are floats");
    weights
        .chunks(batch)
        .enumerate()
        .map(|(row, weights)| {
            let mut weights = weights.to_vec();
            weights[row] = 0.0;
            match WeightedIndex::new(&weights) {
                Ok(draw) => draw.sample(rng),
                // Every other weight underflowed: any other column.
                Err(_) => (row + 1 + rng.random_range(0..batch - 1)) % batch,
            }
        })
        .collect()
}

/// The ITM loss: cross-entropy of `logits` (`[3 · batch, 2]`: the batch's pairs, then each
/// text with a negative image, then each image with a negative text) against "matched" for
/// the first `batch` rows and "not matched" for the rest.
///
/// ```
/// use burn::prelude::*;
/// use pela_zoo::albef::itm_loss;
/// use pela_zoo::backend::{Cpu, CpuDevice};
///
/// let logits = Tensor::<Cpu, 2>::from_floats([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]], &CpuDevice::default());
/// assert!((itm_loss(logits).into_scalar() - 2f32.ln()).abs() < 1e-6);
/// ```
pub fn itm_loss<B: Backend>(logits: Tensor<B, 2>) -> Tensor<B, 1> {
    let rows = logits.dims()[0];
    assert_eq!(
        rows % 3,
        0,
        "ITM logits come in three blocks of one batch each"
    );
    let batch = rows / 3;
    let log_p = log_softmax(logits, 1);
    let matched = log_p.clone().narrow(0, 0, batch).narrow(1, 1, 1);
    let unmatched = log_p.narrow(0, batch, 2 * batch).narrow(1, 0, 1);
    (matched.sum() + unmatched.sum())
        .div_scalar(rows as f64)
        .neg()
}

/// The special tokens and vocabulary MLM masking needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlmTokens {
    /// `[PAD]`, never masked.
    pub pad: i64,
    /// `[CLS]`, never masked.
    pub cls: i64,
    /// `[MASK]`.
    pub mask: i64,
    /// Tokens in the vocabulary (random replacements are drawn from all of them).
    pub vocab_size: usize,
}

impl MlmTokens {
    /// The special tokens of `tokenizer`'s vocabulary.
    ///
    /// # Errors
    /// [`ZooError::InvalidData`] naming a special token the vocabulary lacks.
    pub fn of(tokenizer: &crate::bert::BertTokenizer) -> Result<Self, crate::ZooError> {
        let id = |token: &str| {
            tokenizer
                .token_id(token)
                .map(i64::from)
                .ok_or_else(|| crate::ZooError::InvalidData {
                    source_name: "tokenizer.json".into(),
                    reason: format!("the vocabulary has no `{token}`; MLM needs a BERT vocabulary"),
                })
        };
        Ok(Self {
            pad: id("[PAD]")?,
            cls: id("[CLS]")?,
            mask: id("[MASK]")?,
            vocab_size: tokenizer.vocab_size(),
        })
    }

    /// BERT-base uncased's (and all-MiniLM-L6-v2's) vocabulary: `[PAD]` 0, `[CLS]` 101,
    /// `[MASK]` 103, 30,522 tokens.
    pub fn bert_uncased() -> Self {
        Self {
            pad: 0,
            cls: 101,
            mask: 103,
            vocab_size: 30522,
        }
    }
}

/// A masked batch for MLM: the input ids to feed, and the labels (`-100` where not masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedTokens {
    /// The ids with the masked tokens replaced.
    pub input_ids: Vec<i64>,
    /// The original id where a token is masked, `-100` elsewhere.
    pub labels: Vec<i64>,
}

/// BERT's masking, as the authors' `ALBEF.mask`: each token but `[PAD]` and `[CLS]` is
/// masked with `probability`; a masked token becomes `[MASK]` with probability 0.8, else a
/// random token with probability 0.5, else stays.
///
/// ```
/// use pela_zoo::albef::{MlmTokens, mask_tokens};
/// use rand::SeedableRng;
///
/// let tokens = MlmTokens { pad: 0, cls: 2, mask: 4, vocab_size: 50 };
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// let masked = mask_tokens(&[2, 9, 9, 9, 0], 1.0, tokens, &mut rng);
/// assert_eq!(masked.labels, [-100, 9, 9, 9, -100]); // every real token but [CLS]
/// assert_eq!(masked.input_ids[0], 2);
/// ```
pub fn mask_tokens(
    input_ids: &[i64],
    probability: f64,
    tokens: MlmTokens,
    rng: &mut StdRng,
) -> MaskedTokens {
    let mut ids = input_ids.to_vec();
    let mut labels = vec![-100; ids.len()];
    for (id, label) in ids.iter_mut().zip(labels.iter_mut()) {
        let masked = rng.random_bool(probability);
        if !masked || *id == tokens.pad || *id == tokens.cls {
            continue;
        }
        *label = *id;
        if rng.random_bool(0.8) {
            *id = tokens.mask;
        } else if rng.random_bool(0.5) {
            *id = rng.random_range(0..tokens.vocab_size as i64);
        }
    }
    MaskedTokens {
        input_ids: ids,
        labels,
    }
}

/// The MLM loss with momentum distillation: `(1 − alpha) · CE(logits, labels) + alpha ·
/// CE(logits, soft_labels)`, each averaged over the masked tokens (labels other than
/// `-100`). 0 when no token is masked (where the authors' code gives NaN).
///
/// # Shapes
/// - `logits`, `soft_labels` (the momentum model's probabilities): `[batch, tokens, vocab]`
/// - `labels`: `[batch, tokens]`
///
/// ```
/// use burn::prelude::*;
/// use pela_zoo::albef::mlm_loss;
/// use pela_zoo::backend::{Cpu, CpuDevice};
///
/// let device = CpuDevice::default();
/// let logits = Tensor::<Cpu, 3>::zeros([1, 2, 4], &device); // uniform over 4 tokens
/// let labels = Tensor::<Cpu, 2, Int>::from_ints([[3, -100]], &device);
/// let loss = mlm_loss(logits, labels, None, 0.0);
/// assert!((loss.into_scalar() - 4f32.ln()).abs() < 1e-6);
/// ```
pub fn mlm_loss<B: Backend>(
    logits: Tensor<B, 3>,
    labels: Tensor<B, 2, Int>,
    soft_labels: Option<Tensor<B, 3>>,
    alpha: f64,
) -> Tensor<B, 1> {
    let [batch, tokens, vocab] = logits.dims();
    let log_p = log_softmax(logits.reshape([batch * tokens, vocab]), 1);
    let labels = labels.reshape([batch * tokens, 1]);
    let masked = labels.clone().greater_equal_elem(0).float(); // [n, 1]
    let count = masked.clone().sum().clamp_min(1.0);
    let picked = log_p.clone().gather(1, labels.clamp_min(0));
    let hard = (picked * masked.clone()).sum().neg() / count.clone();
    match soft_labels {
        None => hard,
        Some(soft) => {
            let soft = soft.reshape([batch * tokens, vocab]).detach();
            let per_token = (log_p * soft).sum_dim(1).neg();
            let distill = (per_token * masked).sum() / count;
            hard.mul_scalar(1.0 - alpha) + distill.mul_scalar(alpha)
        }
    }
}
