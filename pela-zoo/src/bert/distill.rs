//! PELA's intermediate training of a BERT student on unlabelled text, as a task of the
//! training engine.
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

use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use pela::{Distill, LayerFeatures, LossTerms};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::{Bert, BertInput, BertLowRank, BertTokenizer, mean_pool, normalize};
use crate::ZooError;
use crate::train::{StepOutput, Task, TrainingConfig, TrainingSet};

/// The weights of the embedding-level terms of a [`TextDistillTask`].
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

/// Sentence-embedding distillation of a BERT student, a [`Task`] of the training engine: the
/// terms above, logged as `L_fd`, `L_rwp`, `L_emb`, `L_sim`, and on validation sentences also
/// `Cosine`, the mean cosine between student and teacher embeddings. The student's embeddings
/// stay frozen (they are the teacher's, uncompressed); every other parameter trains. The
/// teacher runs on every batch whenever a term needs it, whatever α is.
///
/// ```no_run
/// use std::sync::Arc;
/// use burn::module::Module;
/// use pela::{Distill, LowRank, PelaObjectiveConfig};
/// use pela_zoo::backend::CpuAutodiff;
/// use pela_zoo::backend::Cpu;
/// use pela_zoo::bert::{MiniLm, Sentences, TextBatcher, TextDistillTask, TextObjective};
/// use pela_zoo::train::{Engine, RunDir, TrainingConfig};
///
/// let minilm = MiniLm::open(MiniLm::default_path())?;
/// let teacher = minilm.load::<Cpu>(&Default::default())?;
/// let student = teacher.to_low_rank(&minilm.config()?.pela_plan(2.0))?.train::<CpuAutodiff>();
/// let distill = Distill::new(teacher, PelaObjectiveConfig::new().init());
/// let training = TrainingConfig::new().with_epochs(2).with_batch_size(32);
/// let texts = vec!["a sentence".to_string(); 64];
/// let outcome = Engine::<CpuAutodiff>::new(training.clone(), RunDir::new("runs/minilm")?).fit(
///     TextDistillTask::new(distill, TextObjective::default()),
///     student,
///     Arc::new(Sentences::new(texts.clone(), training.batch_size)),
///     Arc::new(Sentences::new(texts, training.batch_size)),
///     TextBatcher::new(minilm.tokenizer()?),
/// )?;
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TextDistillTask<B: AutodiffBackend> {
    /// The frozen teacher and the PELA terms.
    pub distill: Distill<B, Bert<B::InnerBackend>>,
    /// The embedding-level terms.
    pub objective: TextObjective,
}

impl<B: AutodiffBackend> TextDistillTask<B> {
    /// The task of `distill` (teacher, α, β) with the embedding terms of `objective`.
    pub fn new(distill: Distill<B, Bert<B::InnerBackend>>, objective: TextObjective) -> Self {
        let embedding_terms = objective.embedding != 0.0 || objective.similarity != 0.0;
        let distill = if embedding_terms {
            distill.with_teacher_features()
        } else {
            distill
        };
        Self { distill, objective }
    }

    /// `L_emb` and `L_sim` (each when its weight is not 0) of the student's last-layer tokens
    /// against the teacher's, and the mean cosine of their embeddings.
    fn embedding_terms<E: Backend>(
        &self,
        student: Tensor<E, 3>,
        teacher: Tensor<E, 3>,
        mask: Tensor<E, 2>,
        terms: &mut LossTerms<E>,
    ) -> Tensor<E, 1> {
        let student = normalize(mean_pool(student, mask.clone()));
        let teacher = normalize(mean_pool(teacher, mask));
        let distance = cosine_distance(student.clone(), teacher.clone());
        if self.objective.embedding != 0.0 {
            terms.push("L_emb", self.objective.embedding, distance.clone());
        }
        if self.objective.similarity != 0.0 {
            terms.push(
                "L_sim",
                self.objective.similarity,
                similarity_distance(student, teacher),
            );
        }
        distance.neg().add_scalar(1.0)
    }

    /// The names of the text terms, in the order the steps add them.
    fn text_term_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.objective.embedding != 0.0 {
            names.push("L_emb");
        }
        if self.objective.similarity != 0.0 {
            names.push("L_sim");
        }
        names
    }
}

impl<B: AutodiffBackend> Task<B> for TextDistillTask<B> {
    type Model = BertLowRank<B>;
    type Batch = BertInput<B>;
    type ValidBatch = BertInput<B::InnerBackend>;

    /// The student is the teacher's ([`Distill::check`]).
    fn check(&self, model: &BertLowRank<B>, _: &TrainingConfig) -> Result<(), ZooError> {
        Ok(self.distill.check(model)?)
    }

    fn train_metrics(&self) -> Vec<&'static str> {
        // A step's terms: the PELA objective's, then the text terms.
        let mut names = vec!["Loss"];
        names.extend(self.distill.objective.term_names());
        names.extend(self.text_term_names());
        names.push("Cosine");
        names
    }

    fn valid_metrics(&self) -> Vec<&'static str> {
        // Validation measures `L_fd` and the text terms (no `L_rwp`: weights do not move).
        let mut names = vec!["Loss"];
        if self.distill.objective.alpha != 0.0 {
            names.push(pela::PelaObjective::FEATURE_DISTILLATION);
        }
        names.extend(self.text_term_names());
        names.push("Cosine");
        names
    }

    fn prepare(&self, model: BertLowRank<B>) -> BertLowRank<B> {
        let mut model = pela::trainable_params(model);
        model.embeddings = model.embeddings.no_grad();
        model
    }

    fn train_step(&self, model: &BertLowRank<B>, input: BertInput<B>) -> StepOutput<B> {
        let batch_size = input.input_ids.dims()[0];
        let mask = input.attention_mask.clone();
        let out = self
            .distill
            .forward(model, input)
            .expect(crate::train::task::PAIRED);
        let mut terms = out.terms;
        let cosine = match out.teacher_features.as_ref().and_then(|t| t.last()) {
            Some(teacher) => self.embedding_terms(out.output, teacher.clone(), mask, &mut terms),
            None => Tensor::zeros([1], &mask.device()),
        };
        StepOutput::new(terms, batch_size).with_metric("Cosine", cosine)
    }

    fn valid_step(
        &self,
        model: &BertLowRank<B::InnerBackend>,
        input: BertInput<B::InnerBackend>,
    ) -> StepOutput<B::InnerBackend> {
        let batch_size = input.input_ids.dims()[0];
        let mask = input.attention_mask.clone();
        let (_, teacher) = self.distill.teacher.forward_features(input.clone());
        let (output, student) = model.forward_features(input);
        let mut terms = LossTerms::new();
        if self.distill.objective.alpha != 0.0 {
            let fd = self
                .distill
                .objective
                .feature_distillation
                .forward(&student, &teacher)
                .expect(crate::train::task::PAIRED);
            terms.push(
                pela::PelaObjective::FEATURE_DISTILLATION,
                self.distill.objective.alpha,
                fd,
            );
        }
        let last = teacher.last().expect("a BERT has layers").clone();
        let cosine = self.embedding_terms(output, last, mask, &mut terms);
        if terms.is_empty() {
            terms.push("L_emb", 0.0, cosine.clone().neg().add_scalar(1.0));
        }
        StepOutput::new(terms, batch_size).with_metric("Cosine", cosine)
    }

    fn to_device(self, device: &B::Device) -> Self {
        Self {
            distill: self.distill.to_device(device),
            ..self
        }
    }
}

/// Sentences to distil on, as a training set of the engine: each epoch's order is drawn from
/// the run's seed and then grouped by length, so that a batch holds sentences of similar
/// length (less padding).
#[derive(Debug, Clone)]
pub struct Sentences {
    texts: Vec<String>,
    batch_size: usize,
}

impl Sentences {
    /// `texts`, read `batch_size` at a time.
    pub fn new(texts: Vec<String>, batch_size: usize) -> Self {
        Self {
            texts,
            batch_size: batch_size.max(1),
        }
    }
}

impl TrainingSet<String> for Sentences {
    fn len(&self) -> usize {
        self.texts.len()
    }

    fn item(&self, index: usize, _augment: Option<&mut StdRng>) -> Result<String, ZooError> {
        Ok(self.texts[index].clone())
    }

    fn epoch_order(&self, seed: u64) -> Vec<usize> {
        batches(&self.texts, self.batch_size, seed)
            .into_iter()
            .flatten()
            .collect()
    }

    fn describe(&self) -> String {
        format!("{} sentences", self.texts.len())
    }
}

/// Burn's batcher of sentences: tokenises them, padded to the batch's longest.
#[derive(Clone)]
pub struct TextBatcher {
    tokenizer: BertTokenizer,
}

impl TextBatcher {
    /// Tokenises with `tokenizer`.
    pub fn new(tokenizer: BertTokenizer) -> Self {
        Self { tokenizer }
    }
}

impl<B: Backend> Batcher<B, String, BertInput<B>> for TextBatcher {
    fn batch(&self, texts: Vec<String>, device: &B::Device) -> BertInput<B> {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.tokenizer
            .encode::<B>(&texts, device)
            .unwrap_or_else(|error| panic!("{error}"))
    }
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
/// length within groups of 16 batches, so that a batch holds sentences of similar length. Every
/// batch but the last is full, so the batches line up with the data loader's.
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
    let short = batches
        .iter()
        .position(|b| b.len() < batch_size)
        .map(|i| batches.remove(i));
    batches.shuffle(&mut rng);
    batches.extend(short);
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
        // Only the last batch may be short, so batches line up with the data loader's.
        assert!(epoch[..epoch.len() - 1].iter().all(|b| b.len() == 8));
    }
}
