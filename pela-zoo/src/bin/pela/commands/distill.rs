//! `pela distill`: train a student against its frozen teacher.

use anyhow::{Context, Result, bail};
use burn::module::Module;
use pela::{Distill, LowRank, PelaObjectiveConfig, WeightPerturbationConfig};
use pela_zoo::train::{ClassifyTask, ParallelBackend, RunDir};
use pela_zoo::vit::VitConfig;

use crate::args::DistillArgs;
use crate::inputs;
use crate::printer::{ConversionBar, Printer};

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
    let config = inputs::model(&args.model.model)?;
    let plan = inputs::plan(&config, &args.plan)?;
    let (train_set, valid_set) = inputs::data(&args.data, config.image_size)?;
    inputs::check_fits(&config, train_set.as_ref(), "--data")?;
    inputs::check_classes(&config, train_set.as_ref())?;
    printer.status(format!(
        "{}\n{}",
        train_set.describe(),
        valid_set.describe()
    ));

    printer.status(format!(
        "loading the teacher from {}",
        args.checkpoint.display()
    ));
    let teacher = config
        .load_checkpoint::<B::InnerBackend>(&args.checkpoint, device)
        .context("--checkpoint")?;
    let student = match &args.student {
        Some(path) => {
            let (student_config, student) =
                VitConfig::load_student::<B::InnerBackend>(path, device).context("--student")?;
            if student_config != config {
                bail!(
                    "--student {}: it was compressed from another architecture than --model {}",
                    path.display(),
                    args.model.model
                );
            }
            student
        }
        None => {
            let layers = teacher.preview(&plan)?.totals().low_rank_layers;
            let bar = printer.bar(layers as u64, "SVD");
            let (student, _) =
                teacher.to_low_rank_with_progress(&plan, &ConversionBar(bar.clone()))?;
            bar.finish_and_clear();
            student
        }
    };
    let objective = PelaObjectiveConfig::new()
        .with_alpha(args.alpha)
        .with_beta(args.beta)
        .with_weight_perturbation(WeightPerturbationConfig::new().with_epsilon(args.epsilon));
    let task = ClassifyTask::distill(
        Distill::<B, _>::new(teacher, objective.init()),
        args.train.config.label_smoothing,
    );
    run.write("plan.json", &plan.to_string())?;
    run.write("objective.json", &objective.to_string())?;
    run.write("model.json", &config.to_string())?;
    super::StudentRun {
        args: &args.train,
        config: &config,
        devices,
        printer,
        done: "distilled",
    }
    .train(run, task, student.train::<B>(), (train_set, valid_set))
}
