//! What the all-MiniLM-L6-v2 examples share: the texts (distillation, calibration, held out)
//! and the measurements of a model (WordSim-353 ρ, cosine to the teacher, latency).

use std::time::Instant;

use burn::module::Module;
use pela_zoo::ZooError;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::bert::{BertTokenizer, SentenceEncoder, cosine, embed_texts, wordsim_spearman};
use pela_zoo::text::{Gensim, WordSim353};

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

/// One model's measurements.
pub struct Row {
    pub name: String,
    pub params: usize,
    pub mflops_per_token: f64,
    pub latency_ms: f64,
    pub spearman: f64,
    pub cosine_to_teacher: f64,
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

    /// Every measurement of `model`, latency included.
    pub fn row<M: SentenceEncoder<Cpu> + Module<Cpu>>(
        &self,
        name: String,
        model: &M,
        mflops_per_token: f64,
    ) -> Result<Row, ZooError> {
        let (spearman, cosine_to_teacher) = self.quality(model)?;
        // The fastest of 7 times to embed 32 held-out sentences (the embeddings above warm up):
        // other load on the machine can only slow a run down, so the minimum is the stable
        // figure; the median moved by ±10 % between runs of the same model.
        let batch = &self.held_out[..32.min(self.held_out.len())];
        let times: Vec<f64> = (0..7)
            .map(|_| {
                let started = Instant::now();
                embed_texts(model, self.tokenizer, batch, 32, &self.device).map(|_| ())?;
                Ok(started.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<_, ZooError>>()?;
        let row = Row {
            name,
            params: model.num_params(),
            mflops_per_token,
            latency_ms: times.iter().copied().fold(f64::INFINITY, f64::min),
            spearman,
            cosine_to_teacher,
        };
        eprintln!(
            "  {}: WordSim ρ {:.4}, cosine to the teacher {:.4}",
            row.name, row.spearman, row.cosine_to_teacher
        );
        Ok(row)
    }
}
