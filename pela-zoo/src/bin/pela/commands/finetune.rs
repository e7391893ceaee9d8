//! `pela finetune`: a student alone on a classification set, with a new head.

use anyhow::{Context, Result};
use burn::module::Module;
use pela_zoo::train::{ClassifyTask, ParallelBackend, RunDir};
use pela_zoo::vit::VitConfig;

use crate::args::FinetuneArgs;
use crate::inputs;
use crate::printer::Printer;

pub fn run<B: ParallelBackend>(
    args: FinetuneArgs,
    printer: &Printer,
    devices: Vec<B::Device>,
) -> Result<()> {
    let device = &devices[0];
    let (mut config, mut student) =
        VitConfig::load_student::<B::InnerBackend>(&args.student, device).context("--student")?;
    let (train_set, valid_set) = inputs::data(&args.data, config.image_size)?;
    inputs::check_fits(&config, train_set.as_ref(), "--data")?;
    printer.status(format!(
        "{}\n{}",
        train_set.describe(),
        valid_set.describe()
    ));
    if args.keep_head {
        inputs::check_classes(&config, train_set.as_ref())?;
    } else {
        let classes = train_set.classes().len();
        printer.status(format!("a new head for {classes} classes"));
        student = student.with_new_head(classes, device);
        config.num_classes = classes;
    }
    let run = RunDir::new(&args.train.run_dir)?;
    run.write("model.json", &config.to_string())?;
    let task = ClassifyTask::supervised(args.train.config.label_smoothing);
    super::StudentRun {
        args: &args.train,
        config: &config,
        devices,
        printer,
        done: "fine-tuned",
    }
    .train(run, task, student.train::<B>(), (train_set, valid_set))
}
