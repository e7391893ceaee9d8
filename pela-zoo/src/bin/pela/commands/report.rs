//! `pela report`: the per-layer table of a model under a plan.

use anyhow::Result;
use pela_zoo::backend::{Cpu, CpuDevice};

use super::{compression_report, with_config};
use crate::args::ReportArgs;
use crate::inputs;
use crate::printer::Printer;

pub fn run(args: ReportArgs, printer: &Printer) -> Result<()> {
    let architecture = inputs::model(&args.model.model)?;
    let plan = inputs::plan(&architecture, &args.plan)?;
    printer.status(format!(
        "{} ({}): random weights, no checkpoint needed",
        args.model.model,
        architecture.family()
    ));
    let report = with_config!(&architecture, config => compression_report(
        &config.init::<Cpu>(&CpuDevice::default()),
        &plan,
        args.svd,
        printer
    )?);
    if args.json {
        printer.result(report.to_json());
        return Ok(());
    }
    printer.result(&report);
    let flops = architecture.flops(&report);
    printer.result(format!(
        "FLOPs an image (2 per weight use, as the paper counts): {:.2} G → {:.2} G ({:.2}× \
         fewer); attention products {:.2} G, unchanged",
        flops.teacher as f64 / 1e9,
        flops.student as f64 / 1e9,
        flops.teacher as f64 / flops.student as f64,
        flops.attention as f64 / 1e9
    ));
    Ok(())
}
