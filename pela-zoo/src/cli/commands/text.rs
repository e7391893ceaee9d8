//! The commands on text models (BERT): the teacher from a name, a folder or a config, its
//! compression, distillation on unlabelled text, evaluation on scored pairs, and export.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::Family;
use crate::bert::{
    Bert, BertConfig, BertFiles, BertLowRank, BertTokenizer, SentenceEncoder, Sentences,
    TextBatcher, TextDistillTask, TextObjective, cosine, embed_texts, pair_correlations,
};
use crate::train::{ParallelBackend, RunDir, TrainingSet};
use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::prelude::Backend;
use pela::{CompressionReport, Distill, PelaObjectiveConfig, RankPlan};

use super::compression_report_and_student;
use crate::cli::args::{CompressArgs, DistillArgs, EvalArgs, ExportArgs, Layout};
use crate::cli::inputs;
use crate::cli::printer::Printer;

/// A BERT teacher as the flags give it.
struct Teacher<B: Backend> {
    files: BertFiles,
    /// The architecture, with the pooler when the weights have one.
    config: BertConfig,
    model: Bert<B>,
}

impl<B: Backend> Teacher<B> {
    /// The BERT `spec` names (`--model`), its weights replaced by `checkpoint` if given.
    fn load(
        spec: &str,
        checkpoint: Option<&Path>,
        device: &B::Device,
        printer: &Printer,
    ) -> Result<Self> {
        let files = inputs::bert_files(spec, checkpoint)?;
        printer.status(format!("loading {spec}"));
        let model = files
            .load::<B>(device)
            .with_context(|| format!("--model {spec}"))?;
        let config = files.config()?.with_pooler(model.pooler.is_some());
        Ok(Self {
            files,
            config,
            model,
        })
    }

    /// The tokenizer, which text input needs.
    fn tokenizer(&self, flag: &str) -> Result<BertTokenizer> {
        self.files.tokenizer().context(flag.to_string())
    }
}

/// `pela compress` of a BERT: the student file holds the config and, when the teacher has
/// one, the tokenizer.
pub fn compress<B: Backend>(
    args: &CompressArgs,
    plan: &RankPlan,
    device: &B::Device,
    printer: &Printer,
) -> Result<CompressionReport> {
    let teacher = Teacher::<B>::load(
        &args.model.model,
        args.checkpoint.as_deref(),
        device,
        printer,
    )?;
    let tokenizer = teacher.files.tokenizer().ok();
    if tokenizer.is_none() {
        printer.status(
            "warning: the teacher has no tokenizer.json; the student can be distilled and \
             evaluated only with a --model that has one",
        );
    }
    let calibration = match &args.calibration.calibration {
        Some(spec) => {
            let Some(tokenizer) = tokenizer.as_ref() else {
                bail!(
                    "--calibration: the teacher has no tokenizer.json to read texts with; give a \
                     --model folder that has one"
                );
            };
            let texts = inputs::corpus(spec, "--calibration")?;
            let picked: Vec<String> = crate::train::evenly_spaced(
                texts.len(),
                args.calibration.calibration_size as usize,
            )
            .into_iter()
            .map(|i| texts[i].clone())
            .collect();
            printer.status(format!(
                "calibration: {} texts, evenly spaced over the {} of {spec}",
                picked.len(),
                texts.len()
            ));
            Some((tokenizer, picked))
        }
        None => None,
    };
    let calibrate = calibration.as_ref().map(|(tokenizer, texts)| {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        move |twin: &BertLowRank<B>| -> Result<burn::tensor::Tensor<B, 2>> {
            let rows = embed_texts(
                twin,
                tokenizer,
                &texts,
                super::compress::CALIBRATION_BATCH,
                device,
            )?;
            Ok(crate::bert::embedding_matrix(rows, device))
        }
    });
    let calibrate = calibrate
        .as_ref()
        .map(|c| c as super::Calibrate<'_, B, BertLowRank<B>>);
    let (student, report) = super::compress_teacher(
        &teacher.model,
        plan,
        args,
        calibrate,
        &|path| teacher.config.layer_rows(path),
        printer,
    )?;
    printer.result(&report);
    teacher
        .config
        .save_student_with_tokenizer(&student, &args.output, tokenizer.as_ref())
        .context("--output")?;
    Ok(report)
}

/// `pela distill` of a BERT on unlabelled texts: `L_fd` over every layer's tokens, γ·`L_emb`,
/// δ·`L_sim` and β·`L_rwp` ([`TextDistillTask`]).
pub fn distill<B: ParallelBackend>(
    args: &DistillArgs,
    run: RunDir,
    plan: &RankPlan,
    objective: PelaObjectiveConfig,
    (train, valid): (Vec<String>, Vec<String>),
    printer: &Printer,
    devices: Vec<B::Device>,
) -> Result<()> {
    let device = &devices[0];
    let teacher = Teacher::<B::InnerBackend>::load(
        &args.model.model,
        args.checkpoint.as_deref(),
        device,
        printer,
    )?;
    let tokenizer = teacher.tokenizer("--model")?;
    let text_objective = TextObjective {
        embedding: args.gamma,
        similarity: args.delta,
    };
    printer.status(format!(
        "{} training texts, {} held out for validation",
        train.len(),
        valid.len()
    ));
    printer.status(format!(
        "objective: {}·L_fd + {}·L_emb + {}·L_sim + {}·L_rwp (ε = {})",
        objective.alpha,
        text_objective.embedding,
        text_objective.similarity,
        objective.beta,
        objective.weight_perturbation.epsilon
    ));
    let student = match &args.student {
        Some(path) => pela::checkpoint::load_student(&teacher.model, path).context("--student")?,
        None => compression_report_and_student(&teacher.model, plan, printer)?.0,
    };
    let config = teacher.config;
    let task = TextDistillTask::new(
        Distill::<B, _>::new(teacher.model, objective.init()),
        text_objective,
    );
    let settings = super::training_settings(&config, &args.train.flags, printer);
    let batch_size = settings.batch_size;
    let train: Arc<dyn TrainingSet<String>> = Arc::new(Sentences::new(train, batch_size));
    let valid: Arc<dyn TrainingSet<String>> = Arc::new(Sentences::new(valid, batch_size));
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
        student.train::<B>(),
        (train, valid),
        TextBatcher::new(tokenizer.clone()),
        |student, path| config.save_student_with_tokenizer(student, path, Some(&tokenizer)),
    )
}

/// `pela eval` of a BERT teacher or student: Spearman and Pearson on scored pairs, and with
/// `--texts` the mean cosine to the `--teacher`'s embeddings.
pub fn eval<B: Backend>(args: &EvalArgs, printer: &Printer, device: &B::Device) -> Result<()> {
    match &args.student {
        Some(path) => {
            let (_, student) = BertConfig::load_student::<B>(path, device).context("--student")?;
            let tokenizer = BertConfig::student_tokenizer(path)
                .context("--student")?
                .context(
                    "--student: the file holds no tokenizer (its teacher had no tokenizer.json); \
                     compress a teacher folder that has one",
                )?;
            evaluate(args, &student, &tokenizer, printer, device)
        }
        None => {
            let teacher = Teacher::<B>::load(
                &args.model.model,
                args.checkpoint.as_deref(),
                device,
                printer,
            )?;
            let tokenizer = teacher.tokenizer("--model")?;
            evaluate(args, &teacher.model, &tokenizer, printer, device)
        }
    }
}

fn evaluate<B: Backend, M: SentenceEncoder<B>>(
    args: &EvalArgs,
    model: &M,
    tokenizer: &BertTokenizer,
    printer: &Printer,
    device: &B::Device,
) -> Result<()> {
    let spec = args.pairs.as_deref().unwrap_or("wordsim353");
    let pairs = inputs::pairs(spec)?;
    let started = Instant::now();
    let (spearman, pearson) = pair_correlations(model, tokenizer, &pairs, device)?;
    let seconds = started.elapsed().as_secs_f64();
    let texts = pairs.words().len();
    printer.result(format!(
        "{spec}: Spearman ρ {spearman:.4}, Pearson r {pearson:.4} over {} pairs ({texts} texts \
         embedded in {seconds:.2} s, {:.0} texts/s)",
        pairs.pairs.len(),
        texts as f64 / seconds
    ));
    let (Some(path), Some(teacher)) = (&args.texts, &args.teacher) else {
        return Ok(());
    };
    let held_out =
        inputs::read_lines(path).with_context(|| format!("--texts {}", path.display()))?;
    let held_out: Vec<&str> = held_out.iter().map(String::as_str).collect();
    let teacher = Teacher::<B>::load(teacher, None, device, printer).context("--teacher")?;
    let teacher_tokenizer = teacher.tokenizer("--teacher")?;
    let ours = embed_texts(model, tokenizer, &held_out, args.batch_size, device)?;
    let theirs = embed_texts(
        &teacher.model,
        &teacher_tokenizer,
        &held_out,
        args.batch_size,
        device,
    )?;
    let mean = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| cosine(a, b))
        .sum::<f64>()
        / held_out.len().max(1) as f64;
    printer.result(format!(
        "cosine to the teacher's embeddings {mean:.4}, mean over the {} texts of {}",
        held_out.len(),
        path.display()
    ));
    Ok(())
}

/// `pela export` of a BERT student: the authors' layout (a file), or dense as a Hugging Face
/// model folder.
pub fn export<B: Backend>(args: &ExportArgs, device: &B::Device, printer: &Printer) -> Result<()> {
    let student = [("--student", args.student.as_path())];
    match args.layout {
        Layout::Compressed => {
            inputs::check_output(&args.output, "--output")?;
            inputs::check_not_input(&args.output, "--output", &student)?;
        }
        Layout::Dense => {
            inputs::check_output_folder(&args.output, "--output")?;
            inputs::check_not_input(&args.output.join("model.safetensors"), "--output", &student)?;
            inputs::check_not_foreign_model(&args.output, "--output")?;
        }
    }
    let (config, student) =
        BertConfig::load_student::<B>(&args.student, device).context("--student")?;
    let tokenizer = BertConfig::student_tokenizer(&args.student).context("--student")?;
    match args.layout {
        Layout::Compressed => {
            config.save_student_with_tokenizer(&student, &args.output, tokenizer.as_ref())
        }
        Layout::Dense => {
            if tokenizer.is_none() {
                printer.status(
                    "warning: the student holds no tokenizer; the folder gets no tokenizer \
                     files",
                );
            }
            config.export_hf(&student, &args.output, tokenizer.as_ref())
        }
    }
    .context("--output")?;
    printer.finished(format!(
        "wrote {}{}",
        args.output.display(),
        match args.layout {
            Layout::Dense => " (a Hugging Face model folder: AutoModel.from_pretrained loads it)",
            Layout::Compressed => "",
        }
    ));
    Ok(())
}
