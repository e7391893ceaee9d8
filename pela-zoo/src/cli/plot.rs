//! `pela compress --plot FILE`: the allocations of a [`pela::AllocationComparison`] side by
//! side, drawn with plotters: each layer's rank at the budget, and each allocation's predicted
//! error from a small to a large size.
//!
//! Text needs a TrueType font, read from the file `PELA_PLOT_FONT` names or from the usual
//! places of DejaVu Sans and Liberation Sans (Debian's `fonts-dejavu-core`): plotters' own
//! font lookup (font-kit) needs fontconfig's and freetype's C libraries at build time.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use pela::{Allocation, AllocationComparison};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The picture's size in pixels: two panels side by side.
pub const SIZE: (u32, u32) = (1400, 560);

/// The budgets of the size panel, as fractions of the layers' dense cost: 5 % to 95 %.
pub fn fractions() -> Vec<f64> {
    (1..=19).map(|k| k as f64 * 0.05).collect()
}

/// The picture formats, by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

/// The format of `path` by its extension, and a font to write it with; checked before any
/// long work, so that a bad `--plot` fails at once.
///
/// # Errors
/// An extension other than `.png` or `.svg`, or no font (the error says how to get one).
pub fn check(path: &Path) -> Result<Format> {
    if path.is_dir() {
        bail!(
            "--plot {}: is a folder; give a file such as {}",
            path.display(),
            path.join("ranks.png").display()
        );
    }
    let format = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => Format::Png,
        Some("svg") => Format::Svg,
        _ => bail!(
            "--plot {}: the picture is written as PNG or SVG; end the file name in .png or .svg",
            path.display()
        ),
    };
    font().map_err(|why| anyhow!("--plot: {why}"))?;
    Ok(format)
}

/// Draws `comparison` into `path` (PNG or SVG by its extension), written atomically.
///
/// # Errors
/// As [`check`], or the file cannot be written.
pub fn draw(comparison: &AllocationComparison, path: &Path) -> Result<()> {
    let format = check(path)?;
    let (width, height) = SIZE;
    let bytes = match format {
        Format::Png => {
            let mut pixels = vec![0u8; width as usize * height as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
                panels(root, comparison).map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
            }
            let mut png = Vec::new();
            image::ImageEncoder::write_image(
                image::codecs::png::PngEncoder::new(&mut png),
                &pixels,
                width,
                height,
                image::ExtendedColorType::Rgb8,
            )
            .with_context(|| format!("encoding {}", path.display()))?;
            png
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                panels(root, comparison).map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
            }
            svg.into_bytes()
        }
    };
    crate::fs::write_atomic(path, &bytes)?;
    Ok(())
}

/// The colour of each allocation's lines.
pub fn colour(allocation: Allocation) -> RGBColor {
    match allocation {
        Allocation::Uniform => RGBColor(110, 110, 110),
        Allocation::Spectrum => RGBColor(31, 119, 180),
        Allocation::DataAware => RGBColor(214, 39, 40),
    }
}

type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn panels<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, c: &AllocationComparison) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let (ranks, sizes) = root.split_horizontally(SIZE.0 / 2);
    rank_panel(&ranks, c)?;
    size_panel(&sizes, c)?;
    root.present()
}

/// Each layer's rank at the budget, by allocation; its full rank (dense) in light grey.
fn rank_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &AllocationComparison,
) -> Drawn<DB> {
    let layers = c.layers.len().max(1);
    let top = c.full_ranks.iter().copied().max().unwrap_or(1) as f64 * 1.08;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "rank of each layer at the budget ({} layers)",
                c.layers.len()
            ),
            ("sans-serif", 20),
        )
        .margin(14)
        .x_label_area_size(42)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..layers as f64 - 0.5, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("layer, in model order")
        .y_desc("rank (dense: full rank)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    let grey = RGBColor(200, 200, 200);
    let full = c
        .full_ranks
        .iter()
        .enumerate()
        .map(|(i, &r)| (i as f64, r as f64));
    chart
        .draw_series(LineSeries::new(full, grey.stroke_width(1)))?
        .label("full rank")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], grey.stroke_width(2)));
    for compared in &c.allocations {
        let colour = colour(compared.allocation);
        let points: Vec<(f64, f64)> = compared
            .ranks
            .iter()
            .zip(&c.full_ranks)
            .enumerate()
            .map(|(i, (rank, &full))| (i as f64, rank.unwrap_or(full) as f64))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(format!("{}", compared.allocation))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
}

/// Each allocation's predicted error against the size it keeps; the budget as a vertical line.
fn size_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &AllocationComparison,
) -> Drawn<DB> {
    let dense = c.dense_cost.max(1) as f64;
    let highest = c
        .allocations
        .iter()
        .flat_map(|a| a.sizes.iter().map(|s| s.error))
        .fold(0.0f64, f64::max)
        .max(1e-6)
        * 1.08;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("predicted {} against size", c.measure),
            ("sans-serif", 20),
        )
        .margin(14)
        .x_label_area_size(42)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..100.0, 0.0..highest)?;
    chart
        .configure_mesh()
        .x_desc(format!("{} kept, % of the dense layers'", c.unit))
        .y_desc("RMS relative error over the layers")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .draw()?;
    let at_budget = 100.0 * c.budget as f64 / dense;
    chart
        .draw_series(LineSeries::new(
            [(at_budget, 0.0), (at_budget, highest)],
            BLACK.mix(0.5).stroke_width(1),
        ))?
        .label(format!("the budget ({at_budget:.0} %)"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.mix(0.5)));
    for compared in &c.allocations {
        let colour = colour(compared.allocation);
        let points: Vec<(f64, f64)> = compared
            .sizes
            .iter()
            .map(|s| (100.0 * s.cost as f64 / dense, s.error))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(format!("{}", compared.allocation))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
}

/// Where a TrueType font is usually found: Debian and Ubuntu, Fedora, Arch, macOS, Windows.
const FONT_PLACES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers the font as plotters' `sans-serif`, once; the file it came from.
fn font() -> Result<&'static Path, String> {
    static FONT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let named = std::env::var_os("PELA_PLOT_FONT").map(PathBuf::from);
        let candidates: Vec<PathBuf> = match &named {
            Some(path) => vec![path.clone()],
            None => FONT_PLACES.iter().map(PathBuf::from).collect(),
        };
        for path in &candidates {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            // plotters keeps the font for the whole run: leaked once, on the first plot.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return Ok(path.clone());
            }
            if named.is_some() {
                return Err(format!(
                    "PELA_PLOT_FONT={} is not a TrueType or OpenType font",
                    path.display()
                ));
            }
        }
        Err(match named {
            Some(path) => format!("PELA_PLOT_FONT={}: no such file", path.display()),
            None => format!(
                "no TrueType font for the picture's text in {}; install one (Debian: `apt \
                 install fonts-dejavu-core`) or name a .ttf file with PELA_PLOT_FONT=FILE",
                FONT_PLACES[..6].join(", ")
            ),
        })
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}
