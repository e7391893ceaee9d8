//! `pela export`: a student in the authors' compressed layout or multiplied out to dense.

use crate::Family;
use crate::albef::AlbefConfig;
use crate::bert::BertConfig;
use crate::cli::Commands;
use crate::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
use crate::family::{ImageFamily, VisitKind};
use anyhow::{Context, Result};
use burn::prelude::Backend;

use crate::cli::args::{ExportArgs, Layout};
use crate::cli::printer::Printer;

pub fn run<Z: Commands, B: Backend>(
    args: ExportArgs,
    printer: &Printer,
    device: B::Device,
) -> Result<()> {
    let architecture = Z::of_student(&args.student).context("--student")?;
    architecture.export(Export::<B> {
        device: &device,
        args: &args,
        printer,
    })
}

/// The export of `--student` to `--output`.
pub struct Export<'a, B: Backend> {
    device: &'a B::Device,
    args: &'a ExportArgs,
    printer: &'a Printer,
}

impl<B: Backend> Export<'_, B> {
    /// A student of a family whose dense layout is its teacher's checkpoint.
    fn student_file<F: Family>(self) -> Result<()> {
        let args = self.args;
        crate::cli::inputs::check_output(&args.output, "--output")?;
        crate::cli::inputs::check_not_input(
            &args.output,
            "--output",
            &[("--student", &args.student)],
        )?;
        let (config, student) =
            F::load_student::<B>(&args.student, self.device).context("--student")?;
        match args.layout {
            Layout::Compressed => config.save_student(&student, &args.output),
            Layout::Dense => config.save_dense(&student, &args.output),
        }
        .context("--output")?;
        self.printer
            .finished(format!("wrote {}", args.output.display()));
        Ok(())
    }
}

impl<'a, B: Backend, F: ImageFamily> VisitKind<Export<'a, B>, F> for ImageClassification {
    type Output = Result<()>;

    fn visit(export: Export<'a, B>, _: F) -> Result<()> {
        export.student_file::<F>()
    }
}

impl<'a, B: Backend> VisitKind<Export<'a, B>, AlbefConfig> for ImageTextRetrieval {
    type Output = Result<()>;

    fn visit(export: Export<'a, B>, _: AlbefConfig) -> Result<()> {
        export.student_file::<AlbefConfig>()
    }
}

impl<'a, B: Backend> VisitKind<Export<'a, B>, BertConfig> for TextEmbedding {
    type Output = Result<()>;

    fn visit(
        Export {
            device,
            args,
            printer,
        }: Export<'a, B>,
        _: BertConfig,
    ) -> Result<()> {
        super::text::export::<B>(args, device, printer)
    }
}
