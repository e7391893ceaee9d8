//! `pela export`: a student in the authors' compressed layout or multiplied out to dense.

use crate::Family;
use crate::albef::AlbefConfig;
use crate::backend::{Cpu, CpuDevice};
use crate::bert::BertConfig;
use crate::cli::Commands;
use crate::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
use crate::family::{ImageFamily, VisitKind};
use anyhow::{Context, Result};

use crate::cli::args::{ExportArgs, Layout};
use crate::cli::printer::Printer;

pub fn run<Z: Commands>(args: ExportArgs, printer: &Printer) -> Result<()> {
    let architecture = Z::of_student(&args.student).context("--student")?;
    architecture.export(Export {
        args: &args,
        printer,
    })
}

/// The export of `--student` to `--output`.
pub struct Export<'a> {
    args: &'a ExportArgs,
    printer: &'a Printer,
}

impl Export<'_> {
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
            F::load_student::<Cpu>(&args.student, &CpuDevice::default()).context("--student")?;
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

impl<'a, F: ImageFamily> VisitKind<Export<'a>, F> for ImageClassification {
    type Output = Result<()>;

    fn visit(export: Export<'a>, _: F) -> Result<()> {
        export.student_file::<F>()
    }
}

impl<'a> VisitKind<Export<'a>, AlbefConfig> for ImageTextRetrieval {
    type Output = Result<()>;

    fn visit(export: Export<'a>, _: AlbefConfig) -> Result<()> {
        export.student_file::<AlbefConfig>()
    }
}

impl<'a> VisitKind<Export<'a>, BertConfig> for TextEmbedding {
    type Output = Result<()>;

    fn visit(Export { args, printer }: Export<'a>, _: BertConfig) -> Result<()> {
        super::text::export(args, printer)
    }
}
