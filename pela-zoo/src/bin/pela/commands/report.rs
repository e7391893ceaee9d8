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
    if let pela_zoo::zoo::Architecture::Albef(config) = &architecture {
        let totals = report.totals();
        printer.result(format!(
            "with the momentum copy of pre-training (an EMA of the model without its ITM head \
             and temperature): {} → {}",
            pela::thousands(config.with_momentum_copy(totals.params_before)),
            pela::thousands(config.with_momentum_copy(totals.params_after))
        ));
    }
    let flops = architecture.flops(&report);
    // Images cost GFLOPs, a token MFLOPs.
    let (scale, unit, article) = match flops.per {
        "image" => (1e9, "G", "an"),
        _ => (1e6, "M", "a"),
    };
    let attention = if flops.attention > 0 {
        format!(
            "attention products {:.2} {unit}, unchanged",
            flops.attention as f64 / scale
        )
    } else {
        "attention products (they grow with the text's length) unchanged, not counted".to_string()
    };
    printer.result(format!(
        "FLOPs {article} {} (2 per weight use, as the paper counts): {:.2} {unit} → {:.2} {unit} \
         ({:.2}× fewer); {attention}",
        flops.per,
        flops.teacher as f64 / scale,
        flops.student as f64 / scale,
        flops.teacher as f64 / flops.student as f64,
    ));
    Ok(())
}
