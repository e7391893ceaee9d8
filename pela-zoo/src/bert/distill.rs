//! PELA's intermediate training of a BERT student on unlabelled text.
//!
//! There is no task loss: the student learns to reproduce its teacher. Each step runs both on
//! a batch of sentences and minimises
//!
//! ```text
//! α·L_fd + β·L_rwp + γ·L_emb + δ·L_sim
//! L_emb = mean_i (1 − cos(s_i, t_i))
//! L_sim = mean_ij (cos(s_i, s_j) − cos(t_i, t_j))²
//! ```
//!
//! with `L_fd` over every layer's tokens (padding excluded), `L_rwp` optional, and two
//! embedding-level terms on the sentence embeddings `s_i` (student) and `t_i` (teacher),
//! mean-pooled and normalised, the quantity a sentence encoder is used for: `L_emb`, the
//! cosine distance of each sentence's two embeddings, and `L_sim`, the difference of the
//! batch's cosine-similarity matrices (relational distillation, Park et al., CVPR 2019): what
//! a similarity search or WordSim-353 reads is how embeddings relate to each other.

use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use pela::Distill;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::{Bert, BertLowRank, BertTokenizer, mean_pool, normalize};
use crate::ZooError;
use crate::train::{TrainingConfig, clip_global_norm};

/// A BERT student beside its frozen teacher.
pub type BertDistill<B> = Distill<B, Bert<<B as AutodiffBackend>::InnerBackend>, BertLowRank<B>>;

/// The weights of the embedding-level terms of [`distill_on_text`].
///
/// ```
/// use pela_zoo::bert::distill::TextObjective;
///
/// let objective = TextObjective::default();
/// assert_eq!((objective.embedding, objective.similarity), (4.0, 20.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextObjective {
    /// γ, the weight of `L_emb` (each sentence's embedding against its teacher's).
    pub embedding: f64,
    /// δ, the weight of `L_sim` (the batch's cosine similarities against the teacher's).
    pub similarity: f64,
}

impl Default for TextObjective {
    /// γ = 4, δ = 20: the settings measured on all-MiniLM-L6-v2 (`examples/minilm_pela.rs`).
    fn default() -> Self {
        Self {
            embedding: 4.0,
            similarity: 20.0,
        }
    }
}

/// One optimizer step, as [`distill_on_text`] reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStep {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The step within all epochs, from 1.
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// The learning rate of the step.
    pub learning_rate: f64,
    /// The weighted total.
    pub loss: f64,
    /// `L_fd`, unweighted.
    pub feature_distillation: f64,
    /// `L_emb`, unweighted: the mean cosine distance of the sentence embeddings.
    pub embedding: f64,
    /// `L_sim`, unweighted: the mean squared difference of the batch's cosine similarities.
    pub similarity: f64,
    /// `L_rwp`, unweighted (0 when β = 0).
    pub weight_perturbation: f64,
}

/// Trains `distill.student` on `sentences` for `config.epochs` (AdamW, warm-up then cosine,
/// global-norm clipping; `config.label_smoothing` is unused), with the embedding-level terms
/// weighted by `objective`.
/// The student's embeddings are frozen (they are the teacher's, uncompressed); every other
/// parameter trains.
/// Batches hold sentences of similar length, in an order drawn from `config.seed`.
/// `on_step` hears about every step.
///
/// # Errors
/// No sentences; γ or δ > 0 with α = 0 (the embedding terms read the teacher's last layer,
/// which `L_fd` computes); a sentence the tokenizer rejects.
pub fn distill_on_text<B: AutodiffBackend>(
    mut distill: BertDistill<B>,
    tokenizer: &BertTokenizer,
    sentences: &[String],
    config: &TrainingConfig,
    objective: TextObjective,
    on_step: &mut dyn FnMut(&TextStep),
    device: &B::Device,
) -> Result<BertDistill<B>, ZooError> {
    config.validate()?;
    if sentences.is_empty() {
        return Err(ZooError::InvalidData {
            source_name: "distillation text".into(),
            reason: "no sentences to distil on".into(),
        });
    }
    let embedding_terms = objective.embedding != 0.0 || objective.similarity != 0.0;
    if embedding_terms && distill.objective.alpha == 0.0 {
        return Err(ZooError::InvalidConfig {
            reason: "the embedding terms (γ or δ > 0) need the teacher's last layer, which \
                     feature distillation computes: set α > 0"
                .into(),
        });
    }
    // The embeddings are the teacher's and stay so: the compressed encoder layers learn.
    distill.student = pela::trainable_params(distill.student);
    distill.student.embeddings = distill.student.embeddings.no_grad();
    let mut optim = AdamWConfig::new()
        .with_weight_decay(config.weight_decay as f32)
        .init();
    let per_epoch = sentences.len().div_ceil(config.batch_size);
    let steps = per_epoch * config.epochs;
    let mut step = 0;
    for epoch in 1..=config.epochs {
        for batch in batches(sentences, config.batch_size, config.seed + epoch as u64) {
            let texts: Vec<&str> = batch.iter().map(|&i| sentences[i].as_str()).collect();
            let input = tokenizer.encode::<B>(&texts, device)?;
            let mask = input.attention_mask.clone();
            let out = distill.forward(input)?;
            let (embedding, similarity) = match (&out.teacher_features, embedding_terms) {
                (Some(teacher), true) => {
                    let teacher_last = teacher.last().expect("a BERT has layers").clone();
                    let student = normalize(mean_pool(out.output.clone(), mask.clone()));
                    let teacher = normalize(mean_pool(teacher_last, mask));
                    let similarity = if objective.similarity != 0.0 {
                        similarity_distance(student.clone(), teacher.clone())
                    } else {
                        Tensor::zeros([1], device)
                    };
                    (cosine_distance(student, teacher), similarity)
                }
                _ => (Tensor::zeros([1], device), Tensor::zeros([1], device)),
            };
            let loss = distill.loss(
                embedding.clone() * objective.embedding + similarity.clone() * objective.similarity,
                &out,
            );
            let scalar =
                |t: Option<Tensor<B, 1>>| t.map(|t| t.into_scalar().elem::<f64>()).unwrap_or(0.0);
            let learning_rate = config.learning_rate_at(step, steps, per_epoch);
            step += 1;
            let report = TextStep {
                epoch,
                step,
                steps,
                learning_rate,
                loss: scalar(Some(loss.total.clone())),
                feature_distillation: scalar(loss.feature_distillation.clone()),
                embedding: scalar(Some(embedding)),
                similarity: scalar(Some(similarity)),
                weight_perturbation: scalar(loss.weight_perturbation.clone()),
            };
            let mut grads = GradientsParams::from_grads(loss.total.backward(), &distill.student);
            if let Some(max_norm) = config.grad_clip {
                clip_global_norm(&distill.student, &mut grads, max_norm);
            }
            distill.student = optim.step(learning_rate, distill.student, grads);
            on_step(&report);
        }
    }
    Ok(distill)
}

/// `L_emb`: the mean of `1 − cos(s_i, t_i)` over the rows of two `[batch, width]` matrices of
/// unit rows.
fn cosine_distance<B: Backend>(student: Tensor<B, 2>, teacher: Tensor<B, 2>) -> Tensor<B, 1> {
    let cosines: Tensor<B, 1> = (student * teacher).sum_dim(1).squeeze_dim(1);
    cosines.neg().add_scalar(1.0).mean()
}

/// `L_sim`: the mean of `(cos(s_i, s_j) − cos(t_i, t_j))²` over all pairs `i, j` of the rows of
/// two `[batch, width]` matrices of unit rows.
fn similarity_distance<B: Backend>(student: Tensor<B, 2>, teacher: Tensor<B, 2>) -> Tensor<B, 1> {
    let student_similarities = student.clone().matmul(student.transpose());
    let teacher_similarities = teacher.clone().matmul(teacher.transpose());
    (student_similarities - teacher_similarities)
        .powi_scalar(2)
        .mean()
}

/// The batches of one epoch, as indices into `sentences`: shuffled with `seed`, then sorted by
/// length within groups of 16 batches, so that a batch holds sentences of similar length.
fn batches(sentences: &[String], batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..sentences.len()).collect();
    order.shuffle(&mut rng);
    let mut batches: Vec<Vec<usize>> = order
        .chunks(batch_size * 16)
        .flat_map(|group| {
            let mut group = group.to_vec();
            group.sort_by_key(|&i| sentences[i].len());
            group
                .chunks(batch_size)
                .map(<[usize]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    batches.shuffle(&mut rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_ndarray::NdArray;

    fn unit_rows(rows: &[[f32; 2]]) -> Tensor<NdArray, 2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::<NdArray, 1>::from_floats(flat.as_slice(), &Default::default())
            .reshape([rows.len(), 2])
    }

    #[test]
    fn embedding_terms_match_their_closed_forms() {
        // Teacher: the x and y axes. Student: the first turned by 60°, the second by 90°:
        // cos(s0, t0) = cos 60° = 1/2, cos(s1, t1) = cos 90° = 0, and the pair's cosine is
        // cos 120° = −1/2 where the teacher's is 0.
        let (s60, c60) = (3f32.sqrt() / 2.0, 0.5);
        let teacher = unit_rows(&[[1.0, 0.0], [0.0, 1.0]]);
        let student = unit_rows(&[[c60, s60], [-1.0, 0.0]]);
        let embedding = cosine_distance(student.clone(), teacher.clone()).into_scalar();
        assert!((embedding - 0.75).abs() < 1e-6, "{embedding}");
        // Two off-diagonal entries of (−1/2 − 0)² over four entries.
        let similarity = similarity_distance(student, teacher.clone()).into_scalar();
        assert!((similarity - 0.125).abs() < 1e-6, "{similarity}");
        let same = similarity_distance(teacher.clone(), teacher).into_scalar();
        assert!(same.abs() < 1e-6, "{same}");
    }

    #[test]
    fn batches_cover_every_sentence_once_and_depend_on_the_seed() {
        let sentences: Vec<String> = (0..100).map(|i| "word ".repeat(i % 17 + 1)).collect();
        let epoch = batches(&sentences, 8, 1);
        let mut seen: Vec<usize> = epoch.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        assert_eq!(epoch, batches(&sentences, 8, 1));
        assert_ne!(epoch, batches(&sentences, 8, 2));
        assert!(epoch.iter().all(|b| b.len() <= 8));
    }
}
