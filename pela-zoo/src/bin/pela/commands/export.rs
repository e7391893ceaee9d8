//! `pela export`: a student in the authors' compressed layout or multiplied out to dense.

use anyhow::{Context, Result};
use pela_zoo::Family;
use pela_zoo::albef::AlbefConfig;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::bert::BertConfig;
use pela_zoo::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
use pela_zoo::family::{Architecture, ImageFamily, VisitKind};

use crate::args::{ExportArgs, Layout};
use crate::printer::Printer;

pub fn run(args: ExportArgs, printer: &Printer) -> Result<()> {
    let architecture = Architecture::of_student(&args.student).context("--student")?;
    architecture.visit_kind(Export {
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
        crate::inputs::check_output(&args.output, "--output")?;
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
