//! `pela compress`: teacher checkpoint in, student checkpoint and report out.

use anyhow::{Context, Result};
use pela::LowRank;
use pela_zoo::backend::{Cpu, CpuDevice};

use crate::args::CompressArgs;
use crate::inputs;
use crate::printer::{ConversionBar, Printer};

pub fn run(args: CompressArgs, printer: &Printer) -> Result<()> {
    let config = inputs::model(&args.model.model)?;
    let plan = inputs::plan(&config, &args.plan)?;
    let device = CpuDevice::default();
    printer.status(format!("loading {}", args.checkpoint.display()));
    let teacher = config
        .load_checkpoint::<Cpu>(&args.checkpoint, &device)
        .with_context(|| format!("--checkpoint for --model {}", args.model.model))?;
    let layers = teacher.preview(&plan)?.totals().low_rank_layers;
    let bar = printer.bar(layers as u64, "SVD");
    let (student, report) =
        teacher.to_low_rank_with_progress(&plan, &ConversionBar(bar.clone()))?;
    bar.finish_and_clear();
    printer.result(&report);
    config
        .save_student(&student, &args.output)
        .with_context(|| "--output")?;
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
