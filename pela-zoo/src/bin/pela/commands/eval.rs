//! `pela eval`: accuracy, loss and latency.

use anyhow::{Context, Result, bail};
use burn::tensor::backend::AutodiffBackend;
use pela_zoo::train::{Classifier, evaluate, latency_ms};
use pela_zoo::zoo::Architecture;

use super::with_image_config;
use crate::args::EvalArgs;
use crate::inputs;
use crate::printer::Printer;

pub fn run<B: AutodiffBackend>(
    args: EvalArgs,
    printer: &Printer,
    devices: Vec<B::Device>,
) -> Result<()> {
    let device = &devices[0];
    let architecture = match &args.student {
        Some(path) => Architecture::of_student(path).context("--student")?,
        None => inputs::model(&args.model.model)?,
    };
    if let Architecture::Bert(_) = architecture {
        return super::text::eval::<B::InnerBackend>(&args, printer, device);
    }
    if let Architecture::Albef(config) = &architecture {
        return super::albef::eval::<B::InnerBackend>(&args, config, printer, device);
    }
    match (&args.student, &args.checkpoint) {
        (Some(path), _) => {
            with_image_config!(&architecture, "eval", config => {
                let skeleton = config.init::<B::InnerBackend>(device);
                let student =
                    pela::checkpoint::load_student(&skeleton, path).context("--student")?;
                report(&args, &architecture, &student, printer, device)
            })
        }
        (None, Some(path)) => {
            with_image_config!(&architecture, "eval", config => {
                let teacher = config
                    .load_checkpoint::<B::InnerBackend>(path, device)
                    .context("--checkpoint")?;
                report(&args, &architecture, &teacher, printer, device)
            })
        }
        (None, None) => bail!("give a --student file, or --model and a teacher --checkpoint"),
    }
}

fn report<B: burn::tensor::backend::Backend, M: Classifier<B>>(
    args: &EvalArgs,
    architecture: &Architecture,
    model: &M,
    printer: &Printer,
    device: &B::Device,
) -> Result<()> {
    let shape = inputs::image_shape(architecture, "eval")?;
    let (_, valid) = inputs::data(&args.data, shape.size)?;
    inputs::check_fits(shape, valid.as_ref(), "--data")?;
    inputs::check_classes(shape, valid.as_ref())?;
    printer.status(valid.describe());
    let evaluation = evaluate(model, valid.as_ref(), args.batch_size, device)?;
    let latency = latency_ms(model, valid.shape(), args.batch_size, 3, 10, device);
    printer.result(format!(
        "accuracy {:.2} % ({} images), loss {:.4}, latency {:.2} ms a batch of {} ({:.0} images/s)",
        100.0 * evaluation.accuracy,
        evaluation.images,
        evaluation.loss,
        latency,
        args.batch_size,
        args.batch_size as f64 / latency * 1e3
    ));
    Ok(())
}
