//! What the all-MiniLM-L6-v2 examples share: the texts (distillation, calibration, held out)
//! the measurements of a model (WordSim-353 ρ, cosine to the teacher) and the distillation.

use std::path::Path;
use std::sync::Arc;

use burn::module::Module;
use pela::{Distill, PelaObjectiveConfig};
use pela_zoo::ZooError;
use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
use pela_zoo::bert::{
    Bert, BertLowRank, BertTokenizer, SentenceEncoder, Sentences, TextBatcher, TextDistillTask,
    TextObjective, cosine, embed_texts, wordsim_spearman,
};
use pela_zoo::text::{Gensim, WordSim353};
use pela_zoo::train::{Engine, ProgressRenderer, RunDir, TrainingConfig};

/// The texts of a run, from the Lee news corpus and the movie reviews of `gensim`'s wheel.
pub struct Texts {
    /// News sentences (at most 40 words) and single words (none of WordSim-353's) to distil on.
    pub train: Vec<String>,
    /// How many of `train` are sentences (the rest are words).
    pub sentences: usize,
    /// The calibration texts of the data-aware initialisation: 256 of the training sentences
    /// and 512 of its words.
    pub calibration: Vec<String>,
    /// Every 10th news sentence and the 200 movie-review sentences: never trained on.
    pub held_out: Vec<String>,
    /// WordSim-353.
    pub wordsim: WordSim353,
}

impl Texts {
    /// Splits the corpus: at most `sentences` news sentences and `words` single words to
    /// distil on.
    pub fn load(sentences: usize, words: usize) -> Result<Self, ZooError> {
        let gensim = Gensim::open(Gensim::default_path())?;
        let wordsim = gensim.wordsim353()?;
        let news = gensim.news_sentences()?;
        let reviews = gensim.review_sentences()?;
        let (mut train, mut held_out) = (Vec::new(), Vec::new());
        for (i, sentence) in news.iter().enumerate() {
            if i % 10 == 9 {
                held_out.push(sentence.clone());
            } else {
                train.push(sentence.clone());
            }
        }
        // Single words of the news text too (a sentence encoder also embeds short queries),
        // but none of WordSim-353's, which stay unseen.
        let wordsim_words: std::collections::HashSet<String> =
            wordsim.words().iter().map(|w| w.to_lowercase()).collect();
        let mut seen = std::collections::HashSet::new();
        let single_words: Vec<String> = train
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
            .filter(|w| w.len() >= 3 && w.chars().all(char::is_alphabetic))
            .map(str::to_lowercase)
            .filter(|w| !wordsim_words.contains(w) && seen.insert(w.clone()))
            .take(words)
            .collect();
        train.retain(|s| s.split_whitespace().count() <= 40);
        train.truncate(sentences);
        let calibration = train
            .iter()
            .take(256)
            .chain(single_words.iter().take(512))
            .cloned()
            .collect();
        let sentence_count = train.len();
        train.extend(single_words);
        held_out.extend(reviews.iter().cloned());
        Ok(Self {
            train,
            sentences: sentence_count,
            calibration,
            held_out,
            wordsim,
        })
    }

    /// The calibration texts as `&str`.
    pub fn calibration(&self) -> Vec<&str> {
        self.calibration.iter().map(String::as_str).collect()
    }
}

/// What is measured on every model.
pub struct Bench<'a> {
    pub tokenizer: &'a BertTokenizer,
    pub wordsim: &'a WordSim353,
    pub held_out: Vec<&'a str>,
    pub teacher_embeddings: Vec<Vec<f32>>,
    pub device: CpuDevice,
}

impl<'a> Bench<'a> {
    /// Embeds the held-out texts with the teacher once.
    pub fn new<M: SentenceEncoder<Cpu>>(
        teacher: &M,
        tokenizer: &'a BertTokenizer,
        texts: &'a Texts,
    ) -> Result<Self, ZooError> {
        let device = CpuDevice::default();
        let held_out: Vec<&str> = texts.held_out.iter().map(String::as_str).collect();
        Ok(Self {
            tokenizer,
            wordsim: &texts.wordsim,
            teacher_embeddings: embed_texts(teacher, tokenizer, &held_out, 64, &device)?,
            held_out,
            device,
        })
    }

    /// WordSim-353 ρ and the mean cosine to the teacher's held-out embeddings.
    pub fn quality<M: SentenceEncoder<Cpu>>(&self, model: &M) -> Result<(f64, f64), ZooError> {
        let spearman = wordsim_spearman(model, self.tokenizer, self.wordsim, &self.device)?;
        let embeddings = embed_texts(model, self.tokenizer, &self.held_out, 64, &self.device)?;
        let cosine_to_teacher = embeddings
            .iter()
            .zip(&self.teacher_embeddings)
            .map(|(a, b)| cosine(a, b))
            .sum::<f64>()
            / embeddings.len() as f64;
        Ok((spearman, cosine_to_teacher))
    }
}

/// The distillation's settings, as flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Distillation {
    /// News sentences to distil on (at most 40 words each).
    #[arg(long, default_value_t = 640)]
    pub sentences: usize,
    /// Single words of the news text to distil on (none of WordSim-353's).
    #[arg(long, default_value_t = 4000)]
    pub words: usize,
    /// Distillation epochs.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Texts a batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Peak learning rate (AdamW, cosine decay to 1/100 of it).
    #[arg(long = "lr", default_value_t = 1e-4)]
    pub learning_rate: f64,
    /// Weight α of `L_fd`.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Weight β of `L_rwp` (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub beta: f64,
    /// Weight γ of `L_emb`.
    #[arg(long, default_value_t = TextObjective::default().embedding)]
    pub gamma: f64,
    /// Weight δ of `L_sim`.
    #[arg(long, default_value_t = TextObjective::default().similarity)]
    pub delta: f64,
}

impl Distillation {
    /// The texts of these settings.
    pub fn texts(&self) -> Result<Texts, ZooError> {
        Texts::load(self.sentences, self.words)
    }

    /// The settings in a file name, so that a rerun with other settings does not reuse a
    /// student distilled with these.
    pub fn key(&self) -> String {
        format!(
            "n{}_w{}_e{}_b{}_lr{:e}_a{}_b{}_g{}_d{}",
            self.sentences,
            self.words,
            self.epochs,
            self.batch_size,
            self.learning_rate,
            self.alpha,
            self.beta,
            self.gamma,
            self.delta
        )
    }

    /// `student` distilled from `teacher` on `texts.train` (`L_fd` over every layer's tokens,
    /// plus γ·`L_emb` and δ·`L_sim`, `L_rwp` with β), validated each epoch on 256 held-out
    /// sentences; the run's files in `run` (emptied first).
    pub fn run(
        &self,
        teacher: &Bert<Cpu>,
        student: BertLowRank<Cpu>,
        texts: &Texts,
        tokenizer: &BertTokenizer,
        run: &Path,
    ) -> Result<BertLowRank<Cpu>, ZooError> {
        let objective = PelaObjectiveConfig::new()
            .with_alpha(self.alpha)
            .with_beta(self.beta)
            .init();
        let distill = Distill::new(teacher.clone(), objective);
        let config = TrainingConfig::new()
            .with_epochs(self.epochs)
            .with_batch_size(self.batch_size)
            .with_learning_rate(self.learning_rate)
            .with_min_learning_rate(self.learning_rate / 100.0)
            .with_warmup_epochs(0)
            .with_weight_decay(0.01)
            .with_grad_clip(1.0);
        let text_objective = TextObjective {
            embedding: self.gamma,
            similarity: self.delta,
        };
        let valid: Vec<String> = texts.held_out.iter().take(256).cloned().collect();
        if run.exists() {
            std::fs::remove_dir_all(run).map_err(|e| ZooError::io(run, e))?;
        }
        let outcome = Engine::<CpuAutodiff>::new(config.clone(), RunDir::new(run)?)
            .renderer(ProgressRenderer::new(false))
            .on_epoch(|metrics| eprintln!("    {}", metrics.summary()))
            .fit(
                TextDistillTask::new(distill, text_objective),
                student.train::<CpuAutodiff>(),
                Arc::new(Sentences::new(texts.train.clone(), config.batch_size)),
                Arc::new(Sentences::new(valid, config.batch_size)),
                TextBatcher::new(tokenizer.clone()),
            )?;
        Ok(outcome.model)
    }

    /// The settings, for the table's footnote.
    pub fn describe(&self) -> String {
        format!(
            "{} epochs, batch {}, lr {:e}, α {}, β {}, γ {}, δ {}",
            self.epochs,
            self.batch_size,
            self.learning_rate,
            self.alpha,
            self.beta,
            self.gamma,
            self.delta
        )
    }
}
