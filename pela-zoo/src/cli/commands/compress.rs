//! `pela compress`: teacher checkpoint in, student checkpoint and report out.

use std::path::Path;

use crate::bert::BertConfig;
use crate::cli::Commands;
use crate::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
use crate::family::{ImageFamily, VisitKind};
use anyhow::{Context, Result};
use burn::prelude::Backend;
use pela::{CompressionReport, RankPlan};

use super::compress_teacher;
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

/// The compression of a teacher into `--output`; it gives the report.
pub struct Compress<'a, B: Backend> {
    device: &'a B::Device,
    args: &'a CompressArgs,
    plan: &'a RankPlan,
    printer: &'a Printer,
}

impl<'a, B: Backend, F: ImageFamily> VisitKind<Compress<'a, B>, F> for ImageClassification {
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
        let (student, report) = compress_teacher(&teacher, plan, args, printer)?;
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
        super::albef::compress::<B>(args, &config, plan, device, printer)
    }
}
