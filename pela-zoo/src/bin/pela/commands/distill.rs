//! `pela distill`: train a student against its frozen teacher.

use anyhow::{Context, Result, bail};
use burn::module::Module;
use pela::Distill;
use pela_zoo::train::{ClassifyTask, ParallelBackend, RunDir};
use pela_zoo::zoo::Architecture;

use super::{compression_report_and_student, with_config};
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
    let (train_set, valid_set) = inputs::data(&args.data, architecture.image_size())?;
    inputs::check_fits(&architecture, train_set.as_ref(), "--data")?;
    inputs::check_classes(&architecture, train_set.as_ref())?;
    printer.status(format!(
        "{}\n{}",
        train_set.describe(),
        valid_set.describe()
    ));
    if let Some(path) = &args.student {
        let student_architecture = Architecture::of_student(path).context("--student")?;
        if student_architecture != architecture {
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
    printer.status(format!(
        "objective: L_task + {}·L_fd + {}·L_rwp (ε = {})",
        objective.alpha, objective.beta, objective.weight_perturbation.epsilon
    ));
    run.write("plan.json", &plan.to_string())?;
    run.write("objective.json", &objective.to_string())?;
    run.write("model.json", &architecture.to_json())?;

    printer.status(format!(
        "loading the teacher from {}",
        args.checkpoint.display()
    ));
    with_config!(&architecture, config => {
        let teacher = config
            .load_checkpoint::<B::InnerBackend>(&args.checkpoint, device)
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
            (train_set, valid_set),
            |student, path| config.save_student(student, path),
        )
    })
}
