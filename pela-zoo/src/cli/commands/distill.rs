//! `pela distill`: train a student against its frozen teacher.

use crate::Family;
use crate::albef::AlbefConfig;
use crate::bert::BertConfig;
use crate::cli::Commands;
use crate::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
use crate::family::{ImageFamily, VisitKind};
use crate::train::{ClassifyTask, ImageStudent, ImageTeacher, ParallelBackend, RunDir};
use anyhow::{Context, Result, bail};
use burn::module::{AutodiffModule, HasAutodiffModule, Module};
use pela::{Distill, PelaObjectiveConfig, RankPlan};

use super::compression_report_and_student;
use crate::cli::args::DistillArgs;
use crate::cli::inputs;
use crate::cli::printer::Printer;

pub fn run<Z: Commands, B: ParallelBackend>(
    args: DistillArgs,
    printer: &Printer,
    devices: Vec<B::Device>,
) -> Result<()> {
    let run = RunDir::new(&args.train.run_dir)?;
    if run.has_checkpoint() && !args.train.resume {
        bail!(
            "--run-dir {}: it already holds a checkpoint; add --resume to continue it, or \
             choose another folder",
            run.root().display()
        );
    }
    let architecture = inputs::model::<Z>(&args.model.model)?;
    let plan = inputs::plan(&architecture, &args.plan)?;
    if let Some(path) = &args.student {
        let student = Z::of_student(path).context("--student")?;
        if !architecture.same_architecture(&student) {
            bail!(
                "--student {}: it was compressed from another architecture than --model {}",
                path.display(),
                args.model.model
            );
        }
    }
    architecture.distill(DistillRun::<B> {
        args: &args,
        plan,
        run,
        printer,
        devices,
    })
}

/// A distillation as the flags describe it.
pub struct DistillRun<'a, B: ParallelBackend> {
    args: &'a DistillArgs,
    plan: RankPlan,
    run: RunDir,
    printer: &'a Printer,
    devices: Vec<B::Device>,
}

impl<B: ParallelBackend> DistillRun<'_, B> {
    /// Records the inputs, the plan, the objective (the family's, with the flags given) and
    /// the model in the run folder (compared with the saved ones when resuming).
    fn start<F: Family>(&self, config: &F) -> Result<PelaObjectiveConfig> {
        let args = self.args;
        let mut objective = config.pela_objective();
        objective.alpha = args.alpha.unwrap_or(objective.alpha);
        objective.beta = args.beta.unwrap_or(objective.beta);
        objective.weight_perturbation.epsilon = args
            .epsilon
            .unwrap_or(objective.weight_perturbation.epsilon);
        let given = serde_json::json!({"--checkpoint": args.checkpoint, "--student": args.student});
        self.run.record("inputs.json", &given.to_string())?;
        self.run.record("plan.json", &self.plan.to_string())?;
        self.run.record("objective.json", &objective.to_string())?;
        self.run.record("model.json", &config.to_string())?;
        Ok(objective)
    }
}

impl<'a, B, F> VisitKind<DistillRun<'a, B>, F> for ImageClassification
where
    B: ParallelBackend,
    F: ImageFamily,
    F::Model<B::InnerBackend>: ImageTeacher<B::InnerBackend>,
    F::Student<B::InnerBackend>: HasAutodiffModule<B, TrainModule = F::Student<B>>,
    F::Student<B>: ImageStudent<B> + AutodiffModule<B, InnerModule = F::Student<B::InnerBackend>>,
{
    type Output = Result<()>;

    fn visit(distill: DistillRun<'a, B>, config: F) -> Result<()> {
        let (args, printer) = (distill.args, distill.printer);
        let shape = config.image_shape();
        let checkpoint = inputs::image_checkpoint(args.checkpoint.as_ref())?;
        let (train_set, valid_set) = inputs::data(&args.data, shape.size)?;
        inputs::check_fits(shape, train_set.as_ref(), "--data")?;
        inputs::check_classes(shape, train_set.as_ref())?;
        printer.status(format!(
            "{}\n{}",
            train_set.describe(),
            valid_set.describe()
        ));
        let objective = distill.start(&config)?;
        printer.status(format!(
            "objective: L_task + {}·L_fd + {}·L_rwp (ε = {})",
            objective.alpha, objective.beta, objective.weight_perturbation.epsilon
        ));
        let (sets, batcher) = super::image_sets((train_set, valid_set));
        printer.status(format!("loading the teacher from {}", checkpoint.display()));
        let teacher = config
            .load_checkpoint::<B::InnerBackend>(checkpoint, &distill.devices[0])
            .context("--checkpoint")?;
        let student = match &args.student {
            Some(path) => pela::checkpoint::load_student(&teacher, path).context("--student")?,
            None => compression_report_and_student(&teacher, &distill.plan, printer)?.0,
        };
        let settings = super::training_settings(&config, &args.train.flags, printer);
        let task = ClassifyTask::distill(
            Distill::<B, _>::new(teacher, objective.init()),
            settings.label_smoothing,
        );
        super::StudentRun {
            args: &args.train,
            settings,
            devices: distill.devices,
            printer,
            done: "distilled",
        }
        .train(
            distill.run,
            task,
            student.train::<B>(),
            sets,
            batcher,
            |student, path| config.save_student(student, path),
        )
    }
}

impl<'a, B: ParallelBackend> VisitKind<DistillRun<'a, B>, BertConfig> for TextEmbedding {
    type Output = Result<()>;

    fn visit(distill: DistillRun<'a, B>, config: BertConfig) -> Result<()> {
        let texts = inputs::texts(&distill.args.data)?;
        let objective = distill.start(&config)?;
        super::text::distill::<B>(
            distill.args,
            distill.run,
            &distill.plan,
            objective,
            texts,
            distill.printer,
            distill.devices,
        )
    }
}

impl<'a, B: ParallelBackend> VisitKind<DistillRun<'a, B>, AlbefConfig> for ImageTextRetrieval {
    type Output = Result<()>;

    fn visit(distill: DistillRun<'a, B>, config: AlbefConfig) -> Result<()> {
        let objective = distill.start(&config)?;
        super::albef::distill::<B>(
            distill.args,
            &config,
            distill.run,
            &distill.plan,
            objective,
            distill.printer,
            distill.devices,
        )
    }
}
