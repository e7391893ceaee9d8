//! PELA's intermediate training of a BERT student on unlabelled text.
//!
//! There is no task loss: the student learns to reproduce its teacher. Each step runs both on
//! a batch of sentences and minimises
//!
//! ```text
//! α·L_fd + β·L_rwp + γ·L_emb,   L_emb = mean(1 − cos(e_student, e_teacher))
//! ```
//!
//! with `L_fd` over every layer's tokens (padding excluded), `L_rwp` optional, and `L_emb` the
//! embedding-level term: the cosine distance between the two models' sentence embeddings
//! (mean-pooled, normalised), the quantity a sentence encoder is used for.

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
    /// `L_rwp`, unweighted (0 when β = 0).
    pub weight_perturbation: f64,
}

/// Trains `distill.student` on `sentences` for `config.epochs` (AdamW, warm-up then cosine,
/// global-norm clipping; `config.label_smoothing` is unused), with `embedding_weight` as γ.
/// The student's embeddings are frozen (they are the teacher's, uncompressed); every other
/// parameter trains.
/// Batches hold sentences of similar length, in an order drawn from `config.seed`.
/// `on_step` hears about every step.
///
/// # Errors
/// No sentences; γ > 0 with α = 0 (the embedding term reads the teacher's last layer, which
/// `L_fd` computes); a sentence the tokenizer rejects.
pub fn distill_on_text<B: AutodiffBackend>(
    mut distill: BertDistill<B>,
    tokenizer: &BertTokenizer,
    sentences: &[String],
    config: &TrainingConfig,
    embedding_weight: f64,
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
    if embedding_weight != 0.0 && distill.objective.alpha == 0.0 {
        return Err(ZooError::InvalidConfig {
            reason: "the embedding term (γ > 0) needs the teacher's last layer, which feature \
                     distillation computes: set α > 0"
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
            let embedding = match (&out.teacher_features, embedding_weight != 0.0) {
                (Some(teacher), true) => {
                    let teacher_last = teacher.last().expect("a BERT has layers").clone();
                    let student = normalize(mean_pool(out.output.clone(), mask.clone()));
                    let teacher = normalize(mean_pool(teacher_last, mask));
                    let cosines: Tensor<B, 1> = (student * teacher).sum_dim(1).squeeze_dim(1);
                    cosines.neg().add_scalar(1.0).mean()
                }
                _ => Tensor::zeros([1], device),
            };
            let loss = distill.loss(embedding.clone() * embedding_weight, &out);
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
