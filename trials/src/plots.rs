//! The trial's plots (SVG, in `plots/` of the output folder): each behaviour's pass rate
//! against each numeric input (equal-count bins, Wilson 95 % bars), and the distribution of
//! the peak tool force per behaviour.

use crate::runner::{wilson, Row, Trial};
use plotters::prelude::*;
use std::path::Path;

/// The embedded font text is laid out with (a subset of DejaVu Sans, the CLI's plots'
/// too: `assets/fonts/`), so nothing depends on installed fonts.
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");
/// Its family in `plotters`' process-global font table: `sans-serif`, the family plotters'
/// charts use for every label by default (so axis and legend text need it too), and what
/// the SVG asks a viewer for.
const FONT: &str = "sans-serif";

/// Registers the font once per process.
fn ensure_font() -> Result<(), String> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded font is not a valid TrueType font".to_string())
        })
        .clone()
}

/// Bins of an input in a pass-rate plot (fewer when there are fewer distinct rows).
pub const PASS_RATE_BINS: usize = 5;

/// One bin of a pass-rate curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Bin {
    /// Mean of the input over the bin's rows.
    pub x: f64,
    /// Rows that passed / rows (errors count as not passed).
    pub rate: f64,
    /// Wilson 95 % interval of the rate.
    pub wilson_95: [f64; 2],
    /// Rows in the bin.
    pub rows: usize,
}

/// The pass rate of `rows` in `bins` equal-count bins of `input` (sorted by it; the first
/// `n % bins` bins one row larger), or one bin per value where the input takes fewer
/// values than `bins`. Rows without the input are left out.
pub fn pass_rate_bins(rows: &[&Row], input: &str, bins: usize) -> Vec<Bin> {
    let mut v: Vec<(f64, bool)> = rows
        .iter()
        .filter_map(|r| Some((r.case.values.get(input)?.as_f64()?, r.passed)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let bins = bins.min(v.len()).max(1);
    // An input with no more distinct values than bins (a 0/1 share, a list of levels): one
    // bin per value, so no bin mixes two levels.
    let mut levels: Vec<usize> = Vec::new();
    for (i, w) in v.windows(2).enumerate() {
        if w[0].0 != w[1].0 {
            levels.push(i + 1);
        }
    }
    let sizes: Vec<usize> = if levels.len() < bins && !v.is_empty() {
        let mut edges = vec![0];
        edges.extend(&levels);
        edges.push(v.len());
        edges.windows(2).map(|e| e[1] - e[0]).collect()
    } else {
        let (base, extra) = (v.len() / bins, v.len() % bins);
        (0..bins).map(|b| base + usize::from(b < extra)).collect()
    };
    let mut out = Vec::new();
    let mut start = 0;
    for n in sizes {
        let chunk = &v[start..start + n];
        start += n;
        if chunk.is_empty() {
            continue;
        }
        let k = chunk.iter().filter(|(_, p)| *p).count();
        out.push(Bin {
            x: chunk.iter().map(|(x, _)| x).sum::<f64>() / n as f64,
            rate: k as f64 / n as f64,
            wilson_95: wilson(k, n, 1.959_963_984_540_054),
            rows: n,
        });
    }
    out
}

/// A behaviour's colour in every plot.
fn colour(i: usize) -> RGBColor {
    let (r, g, b) = Palette99::pick(i).to_rgba().rgb();
    RGBColor(r, g, b)
}

/// Writes `plots/pass_rate_<input>.svg` for each numeric input that varies and
/// `plots/peak_force.svg`; returns the files written.
pub fn write(trial: &Trial, rows: &[Row], out: &Path) -> Result<Vec<String>, String> {
    ensure_font()?;
    let dir = out.join("plots");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let by_behaviour: Vec<(&str, Vec<&Row>)> = trial
        .behaviours
        .iter()
        .map(|b| {
            (
                b.name.as_str(),
                rows.iter().filter(|r| r.behaviour == b.name).collect(),
            )
        })
        .collect();
    let mut written = Vec::new();
    for input in trial.design.params().keys() {
        let values: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.case.values.get(input)?.as_f64())
            .collect();
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        if values.len() != rows.len() || hi <= lo {
            continue; // a text input (a mesh file) or one that does not vary
        }
        let name = format!("pass_rate_{}.svg", input.replace(['.', '/'], "_"));
        let path = dir.join(&name);
        let curves: Vec<(&str, Vec<Bin>)> = by_behaviour
            .iter()
            .map(|(b, r)| (*b, pass_rate_bins(r, input, PASS_RATE_BINS)))
            .collect();
        pass_rate_plot(&path, input, (lo, hi), &curves)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(format!("plots/{name}"));
    }
    let forces: Vec<(&str, Vec<f64>)> = by_behaviour
        .iter()
        .map(|(b, r)| {
            let f = r
                .iter()
                .filter_map(|r| r.peak_force)
                .filter(|f| f.is_finite());
            (*b, f.collect())
        })
        .collect();
    if forces.iter().any(|(_, f)| !f.is_empty()) {
        let path = dir.join("peak_force.svg");
        force_plot(&path, &forces).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push("plots/peak_force.svg".into());
    }
    Ok(written)
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn pass_rate_plot(
    path: &Path,
    input: &str,
    (lo, hi): (f64, f64),
    curves: &[(&str, Vec<Bin>)],
) -> PlotResult {
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let pad = 0.04 * (hi - lo);
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("pass rate against {input}"), (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((lo - pad)..(hi + pad), 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc(input)
        .y_desc("pass rate (Wilson 95 %)")
        .draw()?;
    for (i, (behaviour, bins)) in curves.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(
                bins.iter().map(|b| (b.x, b.rate)),
                c.stroke_width(2),
            ))?
            .label(*behaviour)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c.stroke_width(2)));
        chart.draw_series(bins.iter().map(|b| {
            ErrorBar::new_vertical(b.x, b.wilson_95[0], b.rate, b.wilson_95[1], c.filled(), 6)
        }))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn force_plot(path: &Path, forces: &[(&str, Vec<f64>)]) -> PlotResult {
    const BINS: usize = 20;
    let hi = forces
        .iter()
        .flat_map(|(_, f)| f.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let width = hi / BINS as f64;
    let counts: Vec<Vec<usize>> = forces
        .iter()
        .map(|(_, f)| {
            let mut c = vec![0; BINS];
            for x in f {
                c[((x / width) as usize).min(BINS - 1)] += 1;
            }
            c
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1);
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("peak tool force per row", (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..hi * 1.02, 0..top + 1)?;
    chart
        .configure_mesh()
        .x_desc("peak tool force (N)")
        .y_desc("rows")
        .draw()?;
    let k = forces.len() as f64;
    for (i, ((behaviour, _), c)) in forces.iter().zip(&counts).enumerate() {
        let col = colour(i);
        // Side by side within each force bin, one slot per behaviour.
        chart
            .draw_series(c.iter().enumerate().filter(|(_, n)| **n > 0).map(|(b, n)| {
                let x0 = width * (b as f64 + i as f64 / k);
                Rectangle::new([(x0, 0), (x0 + width / k, *n)], col.mix(0.8).filled())
            }))?
            .label(*behaviour)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], col.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
