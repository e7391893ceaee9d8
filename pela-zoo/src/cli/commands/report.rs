//! `pela report`: the per-layer table of a model under a plan.

use crate::Family;
use crate::family::{Visit, Zoo};
use anyhow::Result;
use burn::prelude::Backend;
use pela::{CompressionReport, RankPlan};

use super::compression_report;
use crate::cli::args::ReportArgs;
use crate::cli::inputs;
use crate::cli::printer::Printer;

pub fn run<Z: Zoo, B: Backend>(
    args: ReportArgs,
    printer: &Printer,
    device: B::Device,
) -> Result<()> {
    let architecture = inputs::model::<Z>(&args.model.model)?;
    let plan = inputs::plan(&architecture, &args.plan)?;
    printer.status(format!(
        "{} ({}): random weights, no checkpoint needed",
        args.model.model,
        architecture.family()
    ));
    let (report, lines) = architecture.visit(Report::<B> {
        device: &device,
        plan: &plan,
        svd: args.svd,
        printer,
    })?;
    if args.json {
        printer.result(report.to_json());
        return Ok(());
    }
    printer.result(&report);
    for line in lines {
        printer.result(line);
    }
    Ok(())
}

/// The report of a family's model with random weights, and the lines below its table: the
/// family's notes and the FLOPs.
struct Report<'a, B: Backend> {
    device: &'a B::Device,
    plan: &'a RankPlan,
    svd: bool,
    printer: &'a Printer,
}

impl<B: Backend> Visit for Report<'_, B> {
    type Output = Result<(CompressionReport, Vec<String>)>;

    fn visit<F: Family>(self, config: F) -> Self::Output {
        let model = config.init::<B>(self.device);
        let report = compression_report(&model, self.plan, self.svd, self.printer)?;
        let mut lines = config.report_notes(&report);
        lines.push(config.flops(&report).to_string());
        Ok((report, lines))
    }
}
