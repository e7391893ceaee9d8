//! `pela distill`: train a student against its frozen teacher.

use anyhow::{Context, Result, bail};
use burn::module::Module;
use pela::Distill;
use pela_zoo::train::{ClassifyTask, ParallelBackend, RunDir};
use pela_zoo::zoo::Architecture;

use super::{compression_report_and_student, with_image_config};
use crate::args::DistillArgs;
use crate::inputs;
use crate::printer::Printer;

pub fn run<B: ParallelBackend>(
    args: DistillArgs,
    printer: &Printer,
    devices: Vec<B::Device>,
) -> Result<()> {
    let device = &devices[0];
    let run = RunDir::new(&args.train.run_dir)?;
    if run.has_checkpoint() && !args.train.resume {
        bail!(
            "--run-dir {}: it already holds a checkpoint; add --resume to continue it, or \
             choose another folder",
            run.root().display()
        );
    }
    let architecture = inputs::model(&args.model.model)?;
    let plan = inputs::plan(&architecture, &args.plan)?;
    // What the family distils on: texts for a BERT, images and the teacher's checkpoint else.
    let sources = match architecture.image_shape() {
        None if matches!(architecture, Architecture::Albef(_)) => Sources::Captions,
        None => Sources::Texts(inputs::texts(&args.data)?),
        Some(shape) => {
            let checkpoint = inputs::image_checkpoint(args.checkpoint.as_ref())?;
            let (train_set, valid_set) = inputs::data(&args.data, shape.size)?;
            inputs::check_fits(shape, train_set.as_ref(), "--data")?;
            inputs::check_classes(shape, train_set.as_ref())?;
            printer.status(format!(
                "{}\n{}",
                train_set.describe(),
                valid_set.describe()
            ));
            Sources::Images(checkpoint, (train_set, valid_set))
        }
    };
    if let Some(path) = &args.student {
        let student_architecture = Architecture::of_student(path).context("--student")?;
        // A BERT's pooler comes with its weights, not with --model's config.
        let without_pooler = |architecture: &Architecture| match architecture {
            Architecture::Bert(config) => Architecture::Bert(config.clone().with_pooler(false)),
            other => other.clone(),
        };
        if without_pooler(&student_architecture) != without_pooler(&architecture) {
            bail!(
                "--student {}: it was compressed from another architecture than --model {}",
                path.display(),
                args.model.model
            );
        }
    }
    // The authors' objective of the family, with the flags given.
    let mut objective = architecture.pela_objective();
    objective.alpha = args.alpha.unwrap_or(objective.alpha);
    objective.beta = args.beta.unwrap_or(objective.beta);
    objective.weight_perturbation.epsilon = args
        .epsilon
        .unwrap_or(objective.weight_perturbation.epsilon);
    run.write("plan.json", &plan.to_string())?;
    run.write("objective.json", &objective.to_string())?;
    run.write("model.json", &architecture.to_json())?;
    let (checkpoint, images) = match sources {
        Sources::Texts(texts) => {
            return super::text::distill::<B>(
                &args, run, &plan, objective, texts, printer, devices,
            );
        }
        Sources::Captions => {
            let Architecture::Albef(config) = &architecture else {
                unreachable!("captions are ALBEF's")
            };
            return super::albef::distill::<B>(
                &args, config, run, &plan, objective, printer, devices,
            );
        }
        Sources::Images(checkpoint, images) => (checkpoint, images),
    };
    printer.status(format!(
        "objective: L_task + {}·L_fd + {}·L_rwp (ε = {})",
        objective.alpha, objective.beta, objective.weight_perturbation.epsilon
    ));
    let (sets, batcher) = super::image_sets(images);
    printer.status(format!("loading the teacher from {}", checkpoint.display()));
    with_image_config!(&architecture, "distill", config => {
        let teacher = config
            .load_checkpoint::<B::InnerBackend>(checkpoint, device)
            .context("--checkpoint")?;
        let student = match &args.student {
            Some(path) => {
                pela::checkpoint::load_student(&teacher, path).context("--student")?
            }
            None => compression_report_and_student(&teacher, &plan, printer)?.0,
        };
        let task = ClassifyTask::distill(
            Distill::<B, _>::new(teacher, objective.init()),
            args.train.config.label_smoothing,
        );
        super::StudentRun {
            args: &args.train,
            devices,
            printer,
            done: "distilled",
        }
        .train(
            run,
            task,
            student.train::<B>(),
            sets,
            batcher,
            |student, path| config.save_student(student, path),
        )
    })
}

/// What a distillation reads besides its teacher's architecture.
enum Sources<'a> {
    /// A text model's training and held-out texts.
    Texts((Vec<String>, Vec<String>)),
    /// ALBEF's image–caption annotations, read by its own path.
    Captions,
    /// An image model's checkpoint, and its training and validation images.
    Images(
        &'a std::path::Path,
        (
            Box<dyn pela_zoo::data::ImageDataset>,
            Box<dyn pela_zoo::data::ImageDataset>,
        ),
    ),
}
