//! `pela compress`: teacher checkpoint in, student checkpoint and report out.

use std::path::Path;

use crate::bert::BertConfig;
use crate::cli::Commands;
use crate::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
use crate::family::{ImageFamily, VisitKind};
use anyhow::{Context, Result};
use burn::prelude::Backend;
use pela::{CompressionReport, RankPlan};

use crate::train::{Classifier, calibrate_classifier, evenly_spaced};

use super::{Calibrate, compress_teacher};
use crate::cli::args::CompressArgs;
use crate::cli::inputs;
use crate::cli::printer::Printer;

pub fn run<Z: Commands, B: Backend>(
    args: CompressArgs,
    printer: &Printer,
    device: B::Device,
) -> Result<()> {
    inputs::check_output(&args.output, "--output")?;
    let model = Path::new(&args.model.model);
    let mut given = vec![("--model", model)];
    given.extend(
        args.checkpoint
            .as_deref()
            .map(|path| ("--checkpoint", path)),
    );
    inputs::check_not_input(&args.output, "--output", &given)?;
    if let Some(picture) = &args.allocation.plot {
        inputs::check_output(picture, "--plot")?;
        inputs::check_not_input(picture, "--plot", &given)?;
        crate::cli::plot::check(picture)?;
    }
    let architecture = inputs::model::<Z>(&args.model.model)?;
    let plan = inputs::plan(&architecture, &args.plan)?;
    let report = architecture.compress(Compress::<B> {
        device: &device,
        args: &args,
        plan: &plan,
        printer,
    })?;
    let report_path = args.output.with_extension("report.json");
    std::fs::write(&report_path, report.to_json())
        .with_context(|| format!("writing {}", report_path.display()))?;
    printer.finished(format!(
        "wrote {}, {} and {}",
        args.output.display(),
        report_path.display(),
        args.output.with_extension("plan.json").display()
    ));
    Ok(())
}

/// Images or texts a batch of a calibration pass.
pub(super) const CALIBRATION_BATCH: usize = 32;

/// The compression of a teacher into `--output`; it gives the report.
pub struct Compress<'a, B: Backend> {
    device: &'a B::Device,
    args: &'a CompressArgs,
    plan: &'a RankPlan,
    printer: &'a Printer,
}

impl<'a, B: Backend, F: ImageFamily> VisitKind<Compress<'a, B>, F> for ImageClassification
where
    F::Student<B>: Classifier<B>,
{
    type Output = Result<CompressionReport>;

    fn visit(
        Compress {
            device,
            args,
            plan,
            printer,
        }: Compress<'a, B>,
        config: F,
    ) -> Self::Output {
        let checkpoint = inputs::image_checkpoint(args.checkpoint.as_ref())?;
        printer.status(format!("loading {}", checkpoint.display()));
        let teacher = config
            .load_checkpoint::<B>(checkpoint, device)
            .with_context(|| format!("--checkpoint for --model {}", args.model.model))?;
        let calibration = match &args.calibration.calibration {
            Some(spec) => {
                let shape = config.image_shape();
                let (images, _) = inputs::images(Some(spec), None, shape.size, "--calibration")?;
                inputs::check_fits(shape, images.as_ref(), "--calibration")?;
                let picked =
                    evenly_spaced(images.len(), args.calibration.calibration_size as usize);
                printer.status(format!(
                    "calibration: {} images, evenly spaced over {}",
                    picked.len(),
                    images.describe()
                ));
                Some((images, picked))
            }
            None => None,
        };
        let calibrate = calibration.as_ref().map(|(images, picked)| {
            move |twin: &F::Student<B>| -> Result<burn::tensor::Tensor<B, 2>> {
                Ok(calibrate_classifier(
                    twin,
                    images.as_ref(),
                    picked,
                    CALIBRATION_BATCH,
                    device,
                )?)
            }
        });
        let calibrate = calibrate
            .as_ref()
            .map(|c| c as Calibrate<'_, B, F::Student<B>>);
        let (student, report) = compress_teacher(
            &teacher,
            plan,
            args,
            calibrate,
            &|path| config.layer_rows(path),
            printer,
        )?;
        printer.result(&report);
        config
            .save_student(&student, &args.output)
            .with_context(|| "--output")?;
        Ok(report)
    }
}

impl<'a, B: Backend> VisitKind<Compress<'a, B>, BertConfig> for TextEmbedding {
    type Output = Result<CompressionReport>;

    fn visit(
        Compress {
            device,
            args,
            plan,
            printer,
        }: Compress<'a, B>,
        _: BertConfig,
    ) -> Self::Output {
        super::text::compress::<B>(args, plan, device, printer)
    }
}

impl<'a, B: Backend> VisitKind<Compress<'a, B>, crate::albef::AlbefConfig> for ImageTextRetrieval {
    type Output = Result<CompressionReport>;

    fn visit(
        Compress {
            device,
            args,
            plan,
            printer,
        }: Compress<'a, B>,
        config: crate::albef::AlbefConfig,
    ) -> Self::Output {
        if args.calibration.calibration.is_some() {
            anyhow::bail!(
                "--calibration: `pela compress` calibrates image classifiers and BERTs; ALBEF's \
                 calibration needs image–caption pairs through both towers: drop the flag, or \
                 run `pela::LowRank::to_low_rank_data_aware` in your own program"
            );
        }
        super::albef::compress::<B>(args, &config, plan, device, printer)
    }
}
