//! `pela compress`: teacher checkpoint in, student checkpoint and report out.

use std::path::Path;

use crate::backend::{Cpu, CpuDevice};
use crate::bert::BertConfig;
use crate::cli::Commands;
use crate::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
use crate::family::{ImageFamily, VisitKind};
use anyhow::{Context, Result};
use pela::{CompressionReport, RankPlan};

use super::compression_report_and_student;
use crate::cli::args::CompressArgs;
use crate::cli::inputs;
use crate::cli::printer::Printer;

pub fn run<Z: Commands>(args: CompressArgs, printer: &Printer) -> Result<()> {
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
    let report = architecture.compress(Compress {
        args: &args,
        plan: &plan,
        printer,
    })?;
    let report_path = args.output.with_extension("report.json");
    std::fs::write(&report_path, report.to_json())
        .with_context(|| format!("writing {}", report_path.display()))?;
    printer.finished(format!(
        "wrote {} and {}",
        args.output.display(),
        report_path.display()
    ));
    Ok(())
}

/// The compression of a teacher into `--output`; it gives the report.
pub struct Compress<'a> {
    args: &'a CompressArgs,
    plan: &'a RankPlan,
    printer: &'a Printer,
}

impl<'a, F: ImageFamily> VisitKind<Compress<'a>, F> for ImageClassification {
    type Output = Result<CompressionReport>;

    fn visit(
        Compress {
            args,
            plan,
            printer,
        }: Compress<'a>,
        config: F,
    ) -> Self::Output {
        let checkpoint = inputs::image_checkpoint(args.checkpoint.as_ref())?;
        printer.status(format!("loading {}", checkpoint.display()));
        let teacher = config
            .load_checkpoint::<Cpu>(checkpoint, &CpuDevice::default())
            .with_context(|| format!("--checkpoint for --model {}", args.model.model))?;
        let (student, report) = compression_report_and_student(&teacher, plan, printer)?;
        printer.result(&report);
        config
            .save_student(&student, &args.output)
            .with_context(|| "--output")?;
        Ok(report)
    }
}

impl<'a> VisitKind<Compress<'a>, BertConfig> for TextEmbedding {
    type Output = Result<CompressionReport>;

    fn visit(
        Compress {
            args,
            plan,
            printer,
        }: Compress<'a>,
        _: BertConfig,
    ) -> Self::Output {
        super::text::compress(args, plan, printer)
    }
}

impl<'a> VisitKind<Compress<'a>, crate::albef::AlbefConfig> for ImageTextRetrieval {
    type Output = Result<CompressionReport>;

    fn visit(
        Compress {
            args,
            plan,
            printer,
        }: Compress<'a>,
        config: crate::albef::AlbefConfig,
    ) -> Self::Output {
        super::albef::compress(args, &config, plan, printer)
    }
}
