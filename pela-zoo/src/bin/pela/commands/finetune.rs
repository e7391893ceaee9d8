//! `pela finetune`: a student alone on a classification set, with a new head.

use anyhow::{Context, Result};
use burn::module::Module;
use pela_zoo::train::{ClassifyTask, ParallelBackend, RunDir};
use pela_zoo::zoo::Architecture;

use super::with_image_config;
use crate::args::FinetuneArgs;
use crate::inputs;
use crate::printer::Printer;

pub fn run<B: ParallelBackend>(
    args: FinetuneArgs,
    printer: &Printer,
    devices: Vec<B::Device>,
) -> Result<()> {
    let device = &devices[0];
    let architecture = Architecture::of_student(&args.student).context("--student")?;
    let shape = inputs::image_shape(&architecture, "finetune")?;
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
    with_image_config!(architecture, "finetune", mut config => {
        let skeleton = config.init::<B::InnerBackend>(device);
        let mut student =
            pela::checkpoint::load_student(&skeleton, &args.student).context("--student")?;
        if !args.keep_head {
            printer.status(format!("a new head for {classes} classes"));
            student = student.with_new_head(classes, device);
            config.num_classes = classes;
        }
        run.write("model.json", &config.to_string())?;
        let task = ClassifyTask::supervised(args.train.config.label_smoothing);
        super::StudentRun {
            args: &args.train,
            devices,
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
    })
}
