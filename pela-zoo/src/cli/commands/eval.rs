//! `pela eval`: accuracy, loss and latency of an image classifier; the measures of its kind
//! for the other families.

use crate::albef::AlbefConfig;
use crate::bert::BertConfig;
use crate::cli::Commands;
use crate::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
use crate::family::{ImageFamily, VisitKind};
use crate::train::{Classifier, evaluate, latency_ms};
use anyhow::{Context, Result, bail};
use burn::prelude::Backend;
use burn::tensor::backend::AutodiffBackend;

use crate::cli::args::EvalArgs;
use crate::cli::inputs;
use crate::cli::printer::Printer;

pub fn run<Z: Commands, B: AutodiffBackend>(
    args: EvalArgs,
    printer: &Printer,
    devices: Vec<B::Device>,
) -> Result<()> {
    let architecture = match &args.student {
        Some(path) => Z::of_student(path).context("--student")?,
        None => inputs::model::<Z>(&args.model.model)?,
    };
    architecture.eval(Eval::<B::InnerBackend> {
        args: &args,
        printer,
        device: &devices[0],
    })
}

/// The evaluation of `--student`, or of the teacher of `--model` and `--checkpoint`.
pub struct Eval<'a, B: Backend> {
    args: &'a EvalArgs,
    printer: &'a Printer,
    device: &'a B::Device,
}

impl<'a, B: Backend, F: ImageFamily> VisitKind<Eval<'a, B>, F> for ImageClassification
where
    F::Model<B>: Classifier<B>,
    F::Student<B>: Classifier<B>,
{
    type Output = Result<()>;

    fn visit(eval: Eval<'a, B>, config: F) -> Result<()> {
        match (&eval.args.student, &eval.args.checkpoint) {
            (Some(path), _) => {
                let (config, student) =
                    F::load_student::<B>(path, eval.device).context("--student")?;
                eval.classifier(&config, &student)
            }
            (None, Some(path)) => {
                let teacher = config
                    .load_checkpoint::<B>(path, eval.device)
                    .context("--checkpoint")?;
                eval.classifier(&config, &teacher)
            }
            (None, None) => bail!("give a --student file, or --model and a teacher --checkpoint"),
        }
    }
}

impl<B: Backend> Eval<'_, B> {
    /// Accuracy and loss on the validation images of `--data`, and the latency of a batch.
    fn classifier<F: ImageFamily, M: Classifier<B>>(&self, config: &F, model: &M) -> Result<()> {
        let (args, printer, device) = (self.args, self.printer, self.device);
        let shape = config.image_shape();
        let (_, valid) = inputs::data(&args.data, shape.size)?;
        inputs::check_fits(shape, valid.as_ref(), "--data")?;
        inputs::check_classes(shape, valid.as_ref())?;
        printer.status(valid.describe());
        let evaluation = evaluate(model, valid.as_ref(), args.batch_size, device)?;
        let latency = latency_ms(model, valid.shape(), args.batch_size, 3, 10, device);
        printer.result(format!(
            "accuracy {:.2} % ({} images), loss {:.4}, latency {:.2} ms a batch of {} ({:.0} \
             images/s)",
            100.0 * evaluation.accuracy,
            evaluation.images,
            evaluation.loss,
            latency,
            args.batch_size,
            args.batch_size as f64 / latency * 1e3
        ));
        Ok(())
    }
}

impl<'a, B: Backend> VisitKind<Eval<'a, B>, BertConfig> for TextEmbedding {
    type Output = Result<()>;

    fn visit(eval: Eval<'a, B>, _: BertConfig) -> Result<()> {
        super::text::eval::<B>(eval.args, eval.printer, eval.device)
    }
}

impl<'a, B: Backend> VisitKind<Eval<'a, B>, AlbefConfig> for ImageTextRetrieval {
    type Output = Result<()>;

    fn visit(eval: Eval<'a, B>, config: AlbefConfig) -> Result<()> {
        super::albef::eval::<B>(eval.args, &config, eval.printer, eval.device)
    }
}
