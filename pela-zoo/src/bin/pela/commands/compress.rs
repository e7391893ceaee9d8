//! `pela compress`: teacher checkpoint in, student checkpoint and report out.

use anyhow::{Context, Result};
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::zoo::Architecture;

use super::{compression_report_and_student, with_image_config};
use crate::args::CompressArgs;
use crate::inputs;
use crate::printer::Printer;

pub fn run(args: CompressArgs, printer: &Printer) -> Result<()> {
    inputs::check_output(&args.output, "--output")?;
    let architecture = inputs::model(&args.model.model)?;
    let plan = inputs::plan(&architecture, &args.plan)?;
    let report = if let Architecture::Bert(_) = architecture {
        super::text::compress(&args, &plan, printer)?
    } else if let Architecture::Albef(config) = &architecture {
        super::albef::compress(&args, config, &plan, printer)?
    } else {
        let checkpoint = inputs::image_checkpoint(args.checkpoint.as_ref())?;
        let device = CpuDevice::default();
        printer.status(format!("loading {}", checkpoint.display()));
        with_image_config!(&architecture, "compress", config => {
            let teacher = config
                .load_checkpoint::<Cpu>(checkpoint, &device)
                .with_context(|| format!("--checkpoint for --model {}", args.model.model))?;
            let (student, report) = compression_report_and_student(&teacher, &plan, printer)?;
            printer.result(&report);
            config
                .save_student(&student, &args.output)
                .with_context(|| "--output")?;
            report
        })
    };
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
