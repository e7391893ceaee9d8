//! `pela report`: the per-layer table of a model under a plan.

use anyhow::Result;
use pela::LowRank;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::vit::VitFlops;

use crate::args::ReportArgs;
use crate::inputs;
use crate::printer::{ConversionBar, Printer};

pub fn run(args: ReportArgs, printer: &Printer) -> Result<()> {
    let config = inputs::model(&args.model.model)?;
    let plan = inputs::plan(&config, &args.plan)?;
    printer.status(format!(
        "{}: random weights, no checkpoint needed",
        args.model.model
    ));
    let teacher = config.init::<Cpu>(&CpuDevice::default());
    let report = if args.svd {
        let bar = printer.bar(
            teacher.preview(&plan)?.totals().low_rank_layers as u64,
            "SVD",
        );
        let report = teacher
            .to_low_rank_with_progress(&plan, &ConversionBar(bar.clone()))?
            .1;
        bar.finish_and_clear();
        report
    } else {
        teacher.preview(&plan)?
    };
    if args.json {
        printer.result(report.to_json());
        return Ok(());
    }
    printer.result(&report);
    let flops = VitFlops::new(&config, &report);
    printer.result(format!(
        "FLOPs an image (2 per weight use, as the paper counts): {:.2} G → {:.2} G ({:.2}× \
         fewer); attention products {:.2} G, unchanged",
        flops.teacher() as f64 / 1e9,
        flops.student() as f64 / 1e9,
        flops.teacher() as f64 / flops.student() as f64,
        flops.attention() as f64 / 1e9
    ));
    Ok(())
}
