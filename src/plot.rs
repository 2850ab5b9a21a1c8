//! PNG time-series plots without system fonts.
//!
//! [`write_time_series_png`] draws one panel per [`Series`], stacked vertically on a shared time
//! axis, with dashed vertical [`Marker`] lines (events) in every panel, and writes the result as an
//! RGB PNG.
//!
//! Drawing uses `plotters`' bitmap backend for pixels and its `ab_glyph` feature for text, with
//! an embedded subset of DejaVu Sans (`assets/fonts/DejaVuSans-subset.ttf`, 38,560 bytes, Bitstream
//! Vera + Arev licences, public-domain DejaVu changes; see `assets/fonts/LICENSE-DejaVuSans.txt`),
//! so nothing depends on fontconfig or installed fonts. The PNG is encoded with the `png` crate.
//!
//! Scales, ticks and layout are computed here rather than with `plotters`' `ChartBuilder`: its
//! tick generator asserts on NaN and can loop forever on non-finite spans, and this module must
//! never panic on any input. Every coordinate handed to `plotters` is already a finite,
//! clamped pixel position.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::backend::{BitMapBackend, RGBPixel};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform, RGBColor};

/// The embedded font (a subset of DejaVu Sans: Latin-1, Greek, common punctuation and symbols).
/// Characters outside the subset render as an empty box instead of failing.
static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-subset.ttf");
/// Family name the embedded font is registered under in `plotters`' (process-global) font table.
const FONT_FAMILY: &str = "vesalius-plot-sans";

/// Largest accepted width or height, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Largest accepted pixel count (width x height); the RGB buffer is 3 bytes per pixel.
pub const MAX_PIXELS: u64 = 50_000_000;

/// One series on a shared time axis.
///
/// `values[i]` is the sample at `times[i]`; non-finite values (NaN, ±inf) are left out of the
/// line, which leaves a gap.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Name of the quantity, used in the panel's axis title `"<label> (<unit>)"`.
    pub label: &'a str,
    /// Unit of the values; when empty the axis title is just `"<label>"`.
    pub unit: &'a str,
    /// One value per time sample.
    pub values: &'a [f64],
}

/// A vertical marker (an event) at a time, with a short label.
///
/// Markers whose time is non-finite or outside the range of the finite `times` are not drawn.
#[derive(Debug, Clone, Copy)]
pub struct Marker<'a> {
    /// Time of the event, in seconds, on the same axis as `times`.
    pub time: f64,
    /// Short text drawn next to the line at the top of every panel.
    pub label: &'a str,
}

/// Why a plot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// `times` has no samples.
    #[error("nothing to plot: the time axis has no samples")]
    EmptyTimes,
    /// `series` is empty.
    #[error("nothing to plot: no series were given")]
    NoSeries,
    /// A series does not have one value per time sample.
    #[error("series `{label}` has {actual} values but the time axis has {expected} samples")]
    LengthMismatch {
        /// The series' label.
        label: String,
        /// Number of time samples (`times.len()`).
        expected: usize,
        /// Number of values in the series.
        actual: usize,
    },
    /// The requested image size is zero, too large, or too small for the number of panels.
    #[error("invalid image size {width}x{height}: {reason}")]
    InvalidSize {
        /// Requested width in pixels.
        width: u32,
        /// Requested height in pixels.
        height: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// The embedded font could not be parsed or registered (a build problem, not an input one).
    #[error("the embedded plot font could not be loaded: {0}")]
    Font(String),
    /// The drawing library reported an error while rendering.
    #[error("rendering the plot failed: {0}")]
    Render(String),
    /// The PNG file could not be created or written.
    #[error("cannot write PNG file {}: {error}", path.display())]
    Io {
        /// The output path.
        path: PathBuf,
        /// The underlying I/O error (in the message, so not a `source`: one message per
        /// error, see `vesalius_engine::scene::SceneError`).
        error: std::io::Error,
    },
    /// The PNG encoder failed for a reason other than I/O.
    #[error("cannot encode PNG file {}: {message}", path.display())]
    Encode {
        /// The output path.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
}

/// Writes a PNG (width x height px) with one panel per series stacked vertically, sharing the
/// time axis `times` (seconds), with axes, tick labels, axis titles ("time (s)", "`<label> (<unit>)`"),
/// a title, and dashed vertical lines + labels for the markers in every panel.
///
/// Non-finite times or values are skipped and leave gaps in the lines; a series with no finite
/// sample gets an empty panel saying so. Constant series, single samples and ranges up to
/// ±`f64::MAX` are drawn. Errors: empty `times` or `series`, a series whose length differs from
/// `times` (named in the error), a size outside 1..=[`MAX_SIDE`] per side or above
/// [`MAX_PIXELS`] or too small to fit the panels, and I/O failures (naming `path`).
/// This function does not panic.
pub fn write_time_series_png(
    path: &Path,
    title: &str,
    times: &[f64],
    series: &[Series],
    markers: &[Marker],
    size: (u32, u32),
) -> Result<(), PlotError> {
    if times.is_empty() {
        return Err(PlotError::EmptyTimes);
    }
    if series.is_empty() {
        return Err(PlotError::NoSeries);
    }
    for s in series {
        if s.values.len() != times.len() {
            return Err(PlotError::LengthMismatch {
                label: s.label.to_string(),
                expected: times.len(),
                actual: s.values.len(),
            });
        }
    }
    let (w, h) = size;
    let bad_size = |reason: String| PlotError::InvalidSize {
        width: w,
        height: h,
        reason,
    };
    if w == 0 || h == 0 {
        return Err(bad_size("width and height must be at least 1 pixel".into()));
    }
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(bad_size(format!(
            "at most {MAX_SIDE} pixels per side and {MAX_PIXELS} pixels in all"
        )));
    }
    ensure_font()?;

    // Belt and braces: the rendering code is written not to panic, but it calls into a third-party
    // drawing library; a panic there becomes an error instead of taking the CLI down.
    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        render(title, times, series, markers, size)
    }))
    .unwrap_or_else(|_| {
        Err(PlotError::Render(
            "internal panic in the drawing code".into(),
        ))
    })?;
    write_png(path, &rendered, size)
}

/// Registers the embedded font once per process; later calls return the first outcome.
fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "not a valid TrueType font".to_string())
        })
        .clone()
        .map_err(PlotError::Font)
}

fn write_png(path: &Path, rgb: &[u8], (w, h): (u32, u32)) -> Result<(), PlotError> {
    let io_err = |error: std::io::Error| PlotError::Io {
        path: path.to_path_buf(),
        error,
    };
    let enc_err = |e: png::EncodingError| match e {
        png::EncodingError::IoError(error) => io_err(error),
        other => PlotError::Encode {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    };
    let file = File::create(path).map_err(io_err)?;
    let mut out = BufWriter::new(file);
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Plots are mostly flat colour; fdeflate's fast mode compresses them well and quickly.
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(enc_err)?;
        writer.write_image_data(rgb).map_err(enc_err)?;
        writer.finish().map_err(enc_err)?;
    }
    out.flush().map_err(io_err)
}

// ---------------------------------------------------------------------------------------------
// Scales and ticks
// ---------------------------------------------------------------------------------------------

/// A finite, non-empty value range `lo < hi`. All arithmetic on it halves first so that
/// `hi - lo` cannot overflow even for `[-f64::MAX, f64::MAX]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Range {
    lo: f64,
    hi: f64,
}

impl Range {
    /// Range of the finite values yielded, or `None` if there are none. Constant (or nearly
    /// constant, relative to magnitude) data is widened so it has a visible extent.
    fn of(values: impl Iterator<Item = f64>) -> Option<Range> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return None;
        }
        let half_span = hi / 2.0 - lo / 2.0;
        let magnitude = lo.abs().max(hi.abs());
        if half_span <= magnitude * 1e-12 || half_span < f64::MIN_POSITIVE * 1e3 {
            let mid = lo / 2.0 + hi / 2.0;
            let d = if mid.abs() < 1e-300 {
                1.0
            } else {
                mid.abs() * 0.05
            };
            return Some(Range {
                lo: clamp_finite(mid - d),
                hi: clamp_finite(mid + d),
            });
        }
        Some(Range { lo, hi })
    }

    /// Half the span; always finite and positive.
    fn half_span(&self) -> f64 {
        self.hi / 2.0 - self.lo / 2.0
    }

    /// The range widened by `frac` of its span on each side (clamped to finite values).
    fn padded(&self, frac: f64) -> Range {
        let pad = self.half_span() * 2.0 * frac;
        let pad = if pad.is_finite() { pad } else { f64::MAX };
        Range {
            lo: clamp_finite(self.lo - pad),
            hi: clamp_finite(self.hi + pad),
        }
    }

    /// Position of `v` in the range, 0 at `lo` and 1 at `hi` (not clamped).
    fn fraction(&self, v: f64) -> f64 {
        (v / 2.0 - self.lo / 2.0) / self.half_span()
    }

    fn contains(&self, v: f64) -> bool {
        v.is_finite() && v >= self.lo && v <= self.hi
    }

    /// "Nice" tick values (1, 2 or 5 times a power of ten) inside the range, at most about
    /// `max_ticks`, with the step used (for label precision). Falls back to the two ends.
    fn ticks(&self, max_ticks: usize) -> (Vec<f64>, f64) {
        let max_ticks = max_ticks.clamp(2, 50);
        let fallback = (vec![self.lo, self.hi], self.half_span() / 10.0);
        let raw = self.half_span() / (max_ticks as f64 / 2.0);
        if !(raw.is_finite() && raw > 0.0) {
            return fallback;
        }
        let base = 10f64.powf(raw.log10().floor());
        if !(base.is_finite() && base > 0.0) {
            return fallback;
        }
        let frac = raw / base;
        let mult = if frac <= 1.0 {
            1.0
        } else if frac <= 2.0 {
            2.0
        } else if frac <= 5.0 {
            5.0
        } else {
            10.0
        };
        let step = mult * base;
        if !(step.is_finite() && step > 0.0) {
            return fallback;
        }
        let (k0, k1) = ((self.lo / step).ceil(), (self.hi / step).floor());
        if !(k0.is_finite() && k1.is_finite()) || k1 < k0 || k1 - k0 > 60.0 {
            return fallback;
        }
        let mut out: Vec<f64> = Vec::new();
        for i in 0..=((k1 - k0) as usize) {
            let v = (k0 + i as f64) * step;
            let v = if v == 0.0 { 0.0 } else { v }; // no "-0"
            if self.contains(v) && out.last() != Some(&v) {
                out.push(v);
            }
        }
        if out.len() < 2 {
            return fallback;
        }
        (out, step)
    }
}

fn clamp_finite(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(-f64::MAX, f64::MAX)
    }
}

/// Formats tick values that are `step` apart with just enough (and the same) precision,
/// switching to scientific notation for very large or small magnitudes and using a true minus
/// sign.
fn format_ticks(ticks: &[f64], step: f64) -> Vec<String> {
    let mag = ticks.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let step = if step.is_finite() && step > 0.0 {
        step
    } else {
        mag
    };
    let mag = mag.max(step);
    ticks
        .iter()
        .map(|&v| {
            let text = if v == 0.0 || mag.is_nan() || mag <= 0.0 {
                "0".to_string()
            } else if !(1e-3..1e6).contains(&mag) {
                let digits = (mag.log10().floor() - step.log10().floor()).clamp(0.0, 15.0) as usize;
                format!("{v:.digits$e}")
            } else {
                let decimals = (-step.log10().floor()).clamp(0.0, 15.0) as usize;
                format!("{v:.decimals$}")
            };
            text.replace('-', "\u{2212}")
        })
        .collect()
}

/// Maps a range fraction to a pixel coordinate between `a` (fraction 0) and `b` (fraction 1),
/// clamped so that wild values stay near the image.
fn to_px(frac: f64, a: i32, b: i32) -> i32 {
    let p = f64::from(a) + frac * f64::from(b - a);
    if p.is_nan() {
        a
    } else {
        p.clamp(-10_000.0, 50_000.0).round() as i32
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
const AXIS: RGBColor = RGBColor(40, 40, 40);
const GRID: RGBColor = RGBColor(225, 225, 225);
const MARKER: RGBColor = RGBColor(120, 120, 120);
const MARKER_TEXT: RGBColor = RGBColor(70, 70, 70);

type Area<'a> = DrawingArea<BitMapBackend<'a, RGBPixel>, plotters::coord::Shift>;

fn render_err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Render(e.to_string())
}

fn font(size: f64) -> TextStyle<'static> {
    (FONT_FAMILY, size.max(6.0)).into_font().color(&AXIS)
}

fn text_width(area: &Area, text: &str, style: &TextStyle) -> Result<i32, PlotError> {
    let (w, _) = area.estimate_text_size(text, style).map_err(render_err)?;
    Ok(i32::try_from(w).unwrap_or(i32::MAX))
}

/// `text`, shortened with "…" if needed so that it is at most `max_w` pixels wide.
fn fit_text(area: &Area, text: &str, style: &TextStyle, max_w: i32) -> Result<String, PlotError> {
    // Keep pathological inputs cheap: nothing wider than the image has more than ~2 chars/px.
    let text: String = text.chars().take(4096).collect();
    if text_width(area, &text, style)? <= max_w {
        return Ok(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate: String = chars[..mid].iter().chain(std::iter::once(&'…')).collect();
        if text_width(area, &candidate, style)? <= max_w {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo == 0 {
        return Ok(String::new());
    }
    Ok(chars[..lo].iter().chain(std::iter::once(&'…')).collect())
}

fn axis_title(s: &Series) -> String {
    if s.unit.trim().is_empty() {
        s.label.to_string()
    } else {
        format!("{} ({})", s.label, s.unit)
    }
}

/// Draws the plot into a fresh RGB buffer of `w * h * 3` bytes.
fn render(
    title: &str,
    times: &[f64],
    series: &[Series],
    markers: &[Marker],
    (w, h): (u32, u32),
) -> Result<Vec<u8>, PlotError> {
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let backend = BitMapBackend::<RGBPixel>::with_buffer_and_format(&mut buf, (w, h))
            .map_err(render_err)?;
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(render_err)?;
        draw_all(&root, title, times, series, markers, (w as i32, h as i32))?;
        root.present().map_err(render_err)?;
    }
    Ok(buf)
}

fn draw_all(
    root: &Area,
    title: &str,
    times: &[f64],
    series: &[Series],
    markers: &[Marker],
    (w, h): (i32, i32),
) -> Result<(), PlotError> {
    let n = series.len() as i32;
    let too_small = |reason: &str| PlotError::InvalidSize {
        width: w as u32,
        height: h as u32,
        reason: reason.to_string(),
    };

    // Everything scales with the image so that large renders stay legible.
    let s = (f64::from(w) / 1000.0)
        .min(f64::from(h) / 700.0)
        .clamp(0.7, 3.0);
    let px = |v: f64| (v * s).round() as i32;
    let title_font = font(20.0 * s);
    let label_font = font(14.0 * s);
    let tick_font = font(12.0 * s);
    let marker_font = font(11.0 * s).color(&MARKER_TEXT);
    let (pad, gap, tick_len, panel_gap) = (px(10.0), px(5.0), px(5.0), px(14.0));
    let title_h = px(26.0);
    let label_h = px(17.0);
    let tick_h = px(14.0);

    // Scales: the shared time axis spans the finite times; each panel spans its finite values
    // (only those at finite times), padded 5% so extremes do not sit on the frame.
    let t_range = Range::of(times.iter().copied()).unwrap_or(Range { lo: 0.0, hi: 1.0 });
    let y_ranges: Vec<Option<Range>> = series
        .iter()
        .map(|sr| {
            Range::of(
                times
                    .iter()
                    .zip(sr.values)
                    .filter(|(t, _)| t.is_finite())
                    .map(|(_, v)| *v),
            )
            .map(|r| r.padded(0.05))
        })
        .collect();

    // Layout, outer to inner.
    let top = pad + title_h + gap;
    let bottom_margin = tick_len + gap + tick_h + gap + label_h + pad;
    let avail_h = h - top - bottom_margin - (n - 1) * panel_gap;
    let panel_h = avail_h / n.max(1);
    if panel_h < 30 {
        return Err(too_small(&format!(
            "{n} panel(s) need at least {} pixels of height",
            h - avail_h + 30 * n
        )));
    }
    let y_ticks_per_panel = ((panel_h / px(28.0).max(1)) as usize).clamp(2, 8);
    let mut y_tick_sets = Vec::with_capacity(series.len());
    let mut y_label_w = 0;
    for r in &y_ranges {
        let set = match r {
            Some(r) => {
                let (ticks, step) = r.ticks(y_ticks_per_panel);
                let labels = format_ticks(&ticks, step);
                for l in &labels {
                    y_label_w = y_label_w.max(text_width(root, l, &tick_font)?);
                }
                ticks.into_iter().zip(labels).collect()
            }
            None => Vec::new(),
        };
        y_tick_sets.push(set);
    }
    let y_label_w = y_label_w.min(w / 4);
    let left = pad + label_h + gap + y_label_w + gap + tick_len;
    let right = w - px(20.0);
    if right - left < 40 {
        return Err(too_small("the plot area would be less than 40 pixels wide"));
    }

    // Title.
    let title_text = fit_text(root, title, &title_font, w - 2 * pad)?;
    root.draw_text(
        &title_text,
        &title_font.pos(Pos::new(HPos::Center, VPos::Top)),
        (w / 2, pad),
    )
    .map_err(render_err)?;

    // Time ticks, shared by all panels (labels under the bottom one).
    let x_ticks_wanted = ((right - left) / px(90.0).max(1)).clamp(2, 12) as usize;
    let (t_ticks, t_step) = t_range.ticks(x_ticks_wanted);
    let t_labels = format_ticks(&t_ticks, t_step);
    let t_px = |t: f64| to_px(t_range.fraction(t), left, right);

    let visible_markers: Vec<&Marker> = markers
        .iter()
        .filter(|m| t_range.contains(m.time))
        .take(1000)
        .collect();

    for (i, sr) in series.iter().enumerate() {
        let y0 = top + i as i32 * (panel_h + panel_gap); // panel top
        let y1 = y0 + panel_h; // panel bottom
        let color = PALETTE[i % PALETTE.len()];

        // Grid.
        for &t in &t_ticks {
            let x = t_px(t);
            root.draw(&PathElement::new(vec![(x, y0), (x, y1)], GRID))
                .map_err(render_err)?;
        }
        let y_range = y_ranges[i];
        let v_px = |v: f64| match y_range {
            Some(r) => to_px(r.fraction(v), y1, y0),
            None => (y0 + y1) / 2,
        };
        for (v, _) in &y_tick_sets[i] {
            let y = v_px(*v);
            root.draw(&PathElement::new(vec![(left, y), (right, y)], GRID))
                .map_err(render_err)?;
        }

        // Markers: dashed line plus label near the top, staggered over two rows.
        let dash = px(6.0).max(2);
        let dash_gap = px(4.0).max(2);
        for (k, m) in visible_markers.iter().enumerate() {
            let x = t_px(m.time);
            let mut y = y0;
            while y < y1 {
                let ye = (y + dash).min(y1);
                root.draw(&PathElement::new(vec![(x, y), (x, ye)], MARKER))
                    .map_err(render_err)?;
                y = ye + dash_gap;
            }
            let row_y = y0 + px(3.0) + (k as i32 % 2) * px(13.0);
            let room_right = right - x - px(4.0);
            let room_left = x - left - px(4.0);
            let (anchor, tx, room) = if room_right >= px(60.0) || room_right >= room_left {
                (HPos::Left, x + px(3.0), room_right)
            } else {
                (HPos::Right, x - px(3.0), room_left)
            };
            let label = fit_text(root, m.label, &marker_font, room)?;
            if !label.is_empty() {
                root.draw_text(
                    &label,
                    &marker_font.pos(Pos::new(anchor, VPos::Top)),
                    (tx, row_y),
                )
                .map_err(render_err)?;
            }
        }

        // Data: polylines broken at non-finite samples; isolated samples become dots.
        let line_w = (1.5 * s).round().max(1.0) as u32;
        let style = ShapeStyle::from(&color).stroke_width(line_w);
        let mut segment: Vec<(i32, i32)> = Vec::new();
        let flush = |segment: &mut Vec<(i32, i32)>| -> Result<(), PlotError> {
            match segment.len() {
                0 => {}
                1 => {
                    root.draw(&Circle::new(
                        segment[0],
                        (2.0 * s).round().max(2.0) as i32,
                        color.filled(),
                    ))
                    .map_err(render_err)?;
                }
                _ if line_w <= 1 => {
                    root.draw(&PathElement::new(std::mem::take(segment), style))
                        .map_err(render_err)?;
                }
                _ => {
                    // Thick polylines are drawn segment by segment: `plotters`' mitred joins
                    // spike on noisy data.
                    for pair in segment.windows(2) {
                        root.draw(&PathElement::new(vec![pair[0], pair[1]], style))
                            .map_err(render_err)?;
                    }
                }
            }
            segment.clear();
            Ok(())
        };
        for (t, v) in times.iter().zip(sr.values) {
            if t.is_finite() && v.is_finite() && y_range.is_some() {
                let p = (t_px(*t), v_px(*v));
                if segment.last() != Some(&p) {
                    segment.push(p);
                }
            } else {
                flush(&mut segment)?;
            }
        }
        flush(&mut segment)?;
        if y_range.is_none() {
            let msg_font = label_font
                .color(&MARKER_TEXT)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw_text(
                "no finite data",
                &msg_font,
                ((left + right) / 2, (y0 + y1) / 2),
            )
            .map_err(render_err)?;
        }

        // Frame, ticks and tick labels.
        root.draw(&Rectangle::new([(left, y0), (right, y1)], AXIS))
            .map_err(render_err)?;
        let y_tick_font = tick_font.pos(Pos::new(HPos::Right, VPos::Center));
        for (v, label) in &y_tick_sets[i] {
            let y = v_px(*v);
            root.draw(&PathElement::new(
                vec![(left - tick_len, y), (left, y)],
                AXIS,
            ))
            .map_err(render_err)?;
            let label = fit_text(root, label, &tick_font, y_label_w)?;
            root.draw_text(&label, &y_tick_font, (left - tick_len - gap, y))
                .map_err(render_err)?;
        }
        let last = i + 1 == series.len();
        for (&t, label) in t_ticks.iter().zip(&t_labels) {
            let x = t_px(t);
            root.draw(&PathElement::new(vec![(x, y1), (x, y1 + tick_len)], AXIS))
                .map_err(render_err)?;
            if last {
                // Centred under the tick, but kept inside the image.
                let x_tick_font = tick_font.pos(Pos::new(HPos::Left, VPos::Top));
                let tw = text_width(root, label, &tick_font)?;
                let tx = (x - tw / 2).min(w - tw - 2).max(2);
                root.draw_text(label, &x_tick_font, (tx, y1 + tick_len + gap))
                    .map_err(render_err)?;
            }
        }

        // Panel's axis title, rotated, centred on the panel.
        let y_title_font = label_font
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Center));
        let y_title = fit_text(root, &axis_title(sr), &label_font, panel_h)?;
        root.draw_text(&y_title, &y_title_font, (pad + label_h / 2, (y0 + y1) / 2))
            .map_err(render_err)?;
    }

    // Shared time-axis title.
    let x_title_font = label_font.pos(Pos::new(HPos::Center, VPos::Bottom));
    root.draw_text("time (s)", &x_title_font, ((left + right) / 2, h - pad))
        .map_err(render_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "vesalius-plot-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Decodes a PNG into (width, height, rgb bytes).
    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::BufReader::new(File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn distinct_colours(rgb: &[u8]) -> usize {
        let mut set = std::collections::HashSet::new();
        for px in rgb.chunks_exact(3) {
            set.insert((px[0], px[1], px[2]));
        }
        set.len()
    }

    fn plot_ok(
        times: &[f64],
        series: &[Series],
        markers: &[Marker],
        size: (u32, u32),
    ) -> (u32, u32, Vec<u8>) {
        let dir = TempDir::new("ok");
        let path = dir.0.join("plot.png");
        write_time_series_png(&path, "test plot", times, series, markers, size).unwrap();
        decode(&path)
    }

    #[test]
    fn writes_a_decodable_png_with_content() {
        let times: Vec<f64> = (0..500).map(|i| i as f64 * 0.01).collect();
        let a: Vec<f64> = times.iter().map(|t| (t * 3.0).sin()).collect();
        let b: Vec<f64> = times.iter().map(|t| 100.0 * t * t).collect();
        let series = [
            Series {
                label: "knee angle",
                unit: "rad",
                values: &a,
            },
            Series {
                label: "ground force",
                unit: "N",
                values: &b,
            },
        ];
        let markers = [
            Marker {
                time: 1.0,
                label: "heel strike",
            },
            Marker {
                time: 3.5,
                label: "toe off",
            },
        ];
        let (w, h, rgb) = plot_ok(&times, &series, &markers, (900, 600));
        assert_eq!((w, h), (900, 600));
        assert!(distinct_colours(&rgb) > 10, "image looks blank");
        // The first series' colour is present (the line was drawn).
        let blue = PALETTE[0];
        assert!(rgb
            .chunks_exact(3)
            .any(|p| (p[0], p[1], p[2]) == (blue.0, blue.1, blue.2)));
        // Text was rendered: anti-aliased glyph edges leave grey pixels in the title band.
        let title_band = &rgb[(900 * 10 * 3)..(900 * 30 * 3)];
        assert!(title_band
            .chunks_exact(3)
            .any(|p| p[0] == p[1] && p[1] == p[2] && p[0] > 60 && p[0] < 200));
    }

    #[test]
    fn length_mismatch_names_the_series() {
        let dir = TempDir::new("mismatch");
        let path = dir.0.join("x.png");
        let err = write_time_series_png(
            &path,
            "t",
            &[0.0, 1.0, 2.0],
            &[
                Series {
                    label: "ok",
                    unit: "m",
                    values: &[1.0, 2.0, 3.0],
                },
                Series {
                    label: "hip torque",
                    unit: "N m",
                    values: &[1.0, 2.0],
                },
            ],
            &[],
            (400, 300),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                PlotError::LengthMismatch {
                    expected: 3,
                    actual: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("hip torque"), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn empty_inputs_are_errors() {
        let dir = TempDir::new("empty");
        let path = dir.0.join("x.png");
        let e = write_time_series_png(
            &path,
            "t",
            &[],
            &[Series {
                label: "a",
                unit: "",
                values: &[],
            }],
            &[],
            (400, 300),
        );
        assert!(matches!(e, Err(PlotError::EmptyTimes)));
        let e = write_time_series_png(&path, "t", &[1.0], &[], &[], (400, 300));
        assert!(matches!(e, Err(PlotError::NoSeries)));
    }

    #[test]
    fn bad_sizes_are_errors_not_panics() {
        let dir = TempDir::new("size");
        let path = dir.0.join("x.png");
        let s = [Series {
            label: "a",
            unit: "",
            values: &[1.0, 2.0],
        }];
        for size in [
            (0, 0),
            (0, 100),
            (100, 0),
            (MAX_SIDE + 1, 10),
            (10_000, 10_000),
            (1, 1),
            (50, 50),
        ] {
            let e = write_time_series_png(&path, "t", &[0.0, 1.0], &s, &[], size);
            assert!(
                matches!(e, Err(PlotError::InvalidSize { .. })),
                "{size:?}: {e:?}"
            );
        }
        // Many panels in a short image: a clear error.
        let many = vec![s[0]; 40];
        let e = write_time_series_png(&path, "t", &[0.0, 1.0], &many, &[], (800, 600));
        assert!(matches!(e, Err(PlotError::InvalidSize { .. })), "{e:?}");
    }

    #[test]
    fn io_error_names_the_path() {
        let dir = TempDir::new("io");
        let path = dir.0.join("no-such-dir").join("x.png");
        let e = write_time_series_png(
            &path,
            "t",
            &[0.0, 1.0],
            &[Series {
                label: "a",
                unit: "",
                values: &[1.0, 2.0],
            }],
            &[],
            (400, 300),
        )
        .unwrap_err();
        assert!(matches!(e, PlotError::Io { .. }));
        assert!(e.to_string().contains("no-such-dir"), "{e}");
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let big = f64::MAX;
        let t3 = [0.0, 1.0, 2.0];
        let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
            (t3.to_vec(), vec![nan, nan, nan]),            // all NaN
            (t3.to_vec(), vec![5.0, 5.0, 5.0]),            // constant
            (t3.to_vec(), vec![0.0, 0.0, 0.0]),            // constant zero
            (vec![2.5], vec![7.0]),                        // single point
            (vec![nan], vec![nan]),                        // single NaN
            (vec![nan, nan], vec![1.0, 2.0]),              // no finite time
            (vec![1.0, 1.0, 1.0], vec![1.0, 2.0, 3.0]),    // constant time
            (t3.to_vec(), vec![1.0, nan, 3.0]),            // gap leaves isolated points
            (t3.to_vec(), vec![-big, big, 0.0]),           // huge range
            (vec![-big, 0.0, big], vec![1.0, 2.0, 3.0]),   // huge time range
            (t3.to_vec(), vec![inf, -inf, 1.0]),           // infinities
            (t3.to_vec(), vec![1e-320, 2e-320, 0.0]),      // subnormals
            (t3.to_vec(), vec![1e15, 1e15 + 0.125, 1e15]), // tiny relative variation
            (vec![3.0, 1.0, 2.0], vec![1.0, 3.0, 2.0]),    // unsorted times
        ];
        let markers = [
            Marker {
                time: 1.0,
                label: "event",
            },
            Marker {
                time: nan,
                label: "nan",
            },
            Marker {
                time: 1e300,
                label: "far away",
            },
            Marker {
                time: 1.0,
                label: "",
            },
            Marker {
                time: 2.0,
                label: "a very long marker label that will not fit anywhere at all ⚡ \n",
            },
        ];
        for (times, values) in &cases {
            let series = [Series {
                label: "q",
                unit: "",
                values,
            }];
            for ms in [&markers[..], &[]] {
                let (w, h, rgb) = plot_ok(times, &series, ms, (400, 300));
                assert_eq!((w, h), (400, 300));
                assert!(distinct_colours(&rgb) > 2, "{times:?} {values:?}");
            }
        }
    }

    #[test]
    fn tiny_and_large_images() {
        let t = [0.0, 1.0];
        let v = [0.0, 1.0];
        let s = [Series {
            label: "a label that is far too long to fit in a tiny panel",
            unit: "units",
            values: &v,
        }];
        let (w, h, _) = plot_ok(&t, &s, &[], (160, 120));
        assert_eq!((w, h), (160, 120));
        let (w, h, _) = plot_ok(
            &t,
            &s,
            &[Marker {
                time: 0.5,
                label: "m",
            }],
            (3000, 2000),
        );
        assert_eq!((w, h), (3000, 2000));
    }

    #[test]
    fn ticks_are_nice_and_bounded() {
        let r = Range { lo: 0.0, hi: 10.0 };
        let (t, step) = r.ticks(6);
        assert_eq!(step, 2.0);
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let r = Range::of([-f64::MAX, f64::MAX].into_iter()).unwrap();
        let (t, _) = r.ticks(6);
        assert!(t.len() >= 2 && t.len() <= 60 && t.iter().all(|v| v.is_finite()));
        assert_eq!(Range::of([f64::NAN].into_iter()), None);
        let c = Range::of([3.0, 3.0].into_iter()).unwrap();
        assert!(c.lo < 3.0 && c.hi > 3.0);
        assert_eq!(
            format_ticks(&[-0.5, 0.0, 0.5], 0.5),
            ["\u{2212}0.5", "0", "0.5"]
        );
        assert_eq!(format_ticks(&[2.0, 3.0], 1.0), ["2", "3"]);
        assert_eq!(format_ticks(&[1.5e7, 2e7], 5e6), ["1.5e7", "2.0e7"]);
        assert_eq!(format_ticks(&[9.8e14, 1e15], 2e13), ["9.80e14", "1.00e15"]);
        // The two-end fallback for the full f64 range is not rounded to a misleading "2e308".
        let (t, step) = Range {
            lo: -f64::MAX,
            hi: f64::MAX,
        }
        .ticks(2);
        assert_eq!(format_ticks(&t, step), ["\u{2212}1.8e308", "1.8e308"]);
    }
}
