//! `pela finetune`: a student alone on a classification set, with a new head.

use crate::Family;
use crate::albef::AlbefConfig;
use crate::bert::BertConfig;
use crate::cli::Commands;
use crate::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
use crate::family::{ImageFamily, VisitKind};
use crate::train::{ClassifyTask, ImageStudent, ParallelBackend, RunDir};
use anyhow::{Context, Result, bail};
use burn::module::{AutodiffModule, HasAutodiffModule, Module};

use crate::cli::args::FinetuneArgs;
use crate::cli::inputs;
use crate::cli::printer::Printer;

pub fn run<Z: Commands, B: ParallelBackend>(
    args: FinetuneArgs,
    printer: &Printer,
    devices: Vec<B::Device>,
) -> Result<()> {
    let architecture = Z::of_student(&args.student).context("--student")?;
    architecture.finetune(Finetune::<B> {
        args: &args,
        printer,
        devices,
    })
}

/// A fine-tuning run as the flags describe it.
pub struct Finetune<'a, B: ParallelBackend> {
    args: &'a FinetuneArgs,
    printer: &'a Printer,
    devices: Vec<B::Device>,
}

impl<'a, B, F> VisitKind<Finetune<'a, B>, F> for ImageClassification
where
    B: ParallelBackend,
    F: ImageFamily,
    F::Student<B::InnerBackend>: HasAutodiffModule<B, TrainModule = F::Student<B>>,
    F::Student<B>: ImageStudent<B> + AutodiffModule<B, InnerModule = F::Student<B::InnerBackend>>,
{
    type Output = Result<()>;

    fn visit(finetune: Finetune<'a, B>, config: F) -> Result<()> {
        let (args, printer) = (finetune.args, finetune.printer);
        let device = &finetune.devices[0];
        let shape = config.image_shape();
        let (train_set, valid_set) = inputs::data(&args.data, shape.size)?;
        inputs::check_fits(shape, train_set.as_ref(), "--data")?;
        printer.status(format!(
            "{}\n{}",
            train_set.describe(),
            valid_set.describe()
        ));
        if args.keep_head {
            inputs::check_classes(shape, train_set.as_ref())?;
        }
        let run = RunDir::new(&args.train.run_dir)?;
        let classes = train_set.classes().len();
        let (sets, batcher) = super::image_sets((train_set, valid_set));
        let (mut config, mut student) =
            F::load_student::<B::InnerBackend>(&args.student, device).context("--student")?;
        if !args.keep_head {
            printer.status(format!("a new head for {classes} classes"));
            student = F::with_new_head(student, classes, device);
            config = config.with_num_classes(classes);
        }
        let given = serde_json::json!({"--student": args.student, "--keep-head": args.keep_head});
        run.record("inputs.json", &given.to_string())?;
        run.record("model.json", &config.to_string())?;
        let settings = super::training_settings(&config, &args.train.flags, printer);
        let task = ClassifyTask::supervised(settings.label_smoothing);
        super::StudentRun {
            args: &args.train,
            settings,
            devices: finetune.devices,
            printer,
            done: "fine-tuned",
        }
        .train(
            run,
            task,
            student.train::<B>(),
            sets,
            batcher,
            |student, path| config.save_student(student, path),
        )
    }
}

/// `pela finetune` trains image classifiers only.
fn not_an_image_classifier<F: Family>(what: &str) -> Result<()> {
    bail!(
        "`pela finetune` trains image classifiers; this {} model is {what} (`pela distill` and \
         `pela eval` take it)",
        F::NAME
    )
}

impl<'a, B: ParallelBackend> VisitKind<Finetune<'a, B>, BertConfig> for TextEmbedding {
    type Output = Result<()>;

    fn visit(_: Finetune<'a, B>, _: BertConfig) -> Result<()> {
        not_an_image_classifier::<BertConfig>("a text encoder")
    }
}

impl<'a, B: ParallelBackend> VisitKind<Finetune<'a, B>, AlbefConfig> for ImageTextRetrieval {
    type Output = Result<()>;

    fn visit(_: Finetune<'a, B>, _: AlbefConfig) -> Result<()> {
        not_an_image_classifier::<AlbefConfig>("an image–text model")
    }
}
