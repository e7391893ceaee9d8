//! `pela export`: a student in the authors' compressed layout or multiplied out to dense.

use anyhow::{Context, Result};
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::zoo::Architecture;

use super::with_image_config;
use crate::args::{ExportArgs, Layout};
use crate::printer::Printer;

pub fn run(args: ExportArgs, printer: &Printer) -> Result<()> {
    let architecture = Architecture::of_student(&args.student).context("--student")?;
    if let Architecture::Bert(_) = architecture {
        return super::text::export(&args, printer);
    }
    crate::inputs::check_output(&args.output, "--output")?;
    if let Architecture::Albef(config) = &architecture {
        let (_, student) =
            pela_zoo::albef::AlbefConfig::load_student::<Cpu>(&args.student, &CpuDevice::default())
                .context("--student")?;
        match args.layout {
            Layout::Compressed => config.save_student(&student, &args.output),
            Layout::Dense => config.save_dense(&student, &args.output),
        }
        .context("--output")?;
        printer.finished(format!("wrote {}", args.output.display()));
        return Ok(());
    }
    with_image_config!(&architecture, "export", config => {
        let skeleton = config.init::<Cpu>(&CpuDevice::default());
        let student =
            pela::checkpoint::load_student(&skeleton, &args.student).context("--student")?;
        match args.layout {
            Layout::Compressed => config.save_student(&student, &args.output),
            Layout::Dense => config.save_dense(&student, &args.output),
        }
        .context("--output")?;
    });
    printer.finished(format!("wrote {}", args.output.display()));
    Ok(())
}
