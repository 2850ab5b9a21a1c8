//! `vesalius render SCENE.toml|OUT_DIR --time T --png FILE`: the tissue at time T (run to
//! it, or read back from a finished run's frames) drawn offscreen (no window, no display
//! server) with the viewer's renderer.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use vesalius_engine::gpu::GpuContext;
use vesalius_viewer::camera::bounding_radius;
use vesalius_viewer::{Camera, Field, Look, Renderer, Solid, Surface};

use super::picture::{frame_markers, frame_surface, Live, Recorded};

/// Arguments of `vesalius render`.
#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Scene file (TOML; a co-simulation when it has a [robot]), or an output directory of
    /// `vesalius run` (its tissue.pvd frames: the one nearest --time is drawn).
    pub scene: PathBuf,
    /// Simulated time to draw (s): the scene runs to the frame nearest it, or the output
    /// frame nearest it is read.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub time: f64,
    /// The PNG to write.
    #[arg(long)]
    pub png: PathBuf,
    /// Image size, WIDTHxHEIGHT.
    #[arg(long, default_value = "800x600", value_parser = parse_size)]
    pub size: [u32; 2],
    /// Field, camera, cut, markers and force arrows.
    #[command(flatten)]
    pub look: LookArgs,
    /// Backend, adapter (the renderer's too) and threads of the simulation.
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
    /// No colour bar (a field's bar and range are drawn at the right by default).
    #[arg(long)]
    pub no_colour_bar: bool,
    /// No progress bar while the scene runs to --time.
    #[arg(long, short)]
    pub quiet: bool,
    /// Overwrite the PNG if it exists.
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn parse_size(s: &str) -> Result<[u32; 2], String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, got {s:?}"))?;
    let side = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|&n| (1..=16384).contains(&n))
            .ok_or_else(|| format!("{v:?} is not a side of 1..=16384 pixels"))
    };
    Ok([side(w)?, side(h)?])
}

pub(crate) fn parse_field(s: &str) -> Result<Field, String> {
    Field::from_name(s).ok_or_else(|| {
        let names: Vec<_> = Field::ALL.iter().map(|f| f.name()).collect();
        format!("unknown field {s:?}; one of {}", names.join(", "))
    })
}

pub(crate) fn parse_view(s: &str) -> Result<[f32; 2], String> {
    let (a, e) = s
        .split_once(',')
        .ok_or_else(|| format!("expected AZIMUTH,ELEVATION in degrees, got {s:?}"))?;
    let num = |v: &str| {
        v.trim()
            .parse::<f32>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{v:?} is not a number of degrees"))
    };
    let (a, e) = (num(a)?, num(e)?);
    if !(-90.0..=90.0).contains(&e) {
        return Err(format!("elevation {e} is outside -90..=90 degrees"));
    }
    Ok([a, e])
}

pub(crate) fn parse_cut(s: &str) -> Result<[f32; 4], String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|x| x.trim().parse::<f32>().ok().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("expected NX,NY,NZ[,OFFSET] numbers, got {s:?}"))?;
    match v[..] {
        [x, y, z] | [x, y, z, _] if x == 0.0 && y == 0.0 && z == 0.0 => {
            Err("the cut's normal must not be zero".into())
        }
        [x, y, z] => Ok([x, y, z, 0.0]),
        [x, y, z, d] => Ok([x, y, z, d]),
        _ => Err(format!("expected NX,NY,NZ[,OFFSET] numbers, got {s:?}")),
    }
}

/// What a picture shows and from where, as `render` and `view` take it (the window's
/// panel changes it later).
#[derive(Args, Debug)]
pub struct LookArgs {
    /// What colours the surface: region, displacement, green_strain, max_stretch or
    /// volume_ratio.
    #[arg(long, default_value = "region", value_parser = parse_field)]
    pub field: Field,
    /// Camera azimuth about +z from +x and elevation above the horizontal, degrees.
    #[arg(long, default_value = "30,25", value_parser = parse_view, allow_hyphen_values = true)]
    pub view: [f32; 2],
    /// Orthographic instead of perspective.
    #[arg(long)]
    pub ortho: bool,
    /// Cut the tissue open: NX,NY,NZ[,OFFSET], the plane with that normal through the
    /// tissue's centre (moved OFFSET metres along the normal); what the normal points to
    /// is taken away and the cut faces of the tets are drawn (the window's panel cuts along
    /// the axis nearest the normal).
    #[arg(long, value_parser = parse_cut, allow_hyphen_values = true)]
    pub cut: Option<[f32; 4]>,
    /// Mark the pinned vertices (dark octahedra) and those attached to tools (magenta).
    #[arg(long)]
    pub pins: bool,
    /// Length of the force arrows of a co-simulation (m per N).
    #[arg(long, default_value_t = 0.02)]
    pub force_scale: f64,
}

impl LookArgs {
    /// What the picture shows; an impossible force scale is refused.
    pub fn look(&self) -> Result<Look> {
        if !(self.force_scale.is_finite() && self.force_scale >= 0.0) {
            bail!(
                "--force-scale must be a finite length per newton >= 0, got {}",
                self.force_scale
            );
        }
        Ok(Look {
            field: self.field,
            cut: self.cut,
            pins: self.pins,
            force_scale: self.force_scale,
        })
    }
}

/// The frame of the output directory `dir` nearest `--time`.
fn replay(dir: &std::path::Path, args: &RenderArgs) -> Result<(Surface, Vec<Solid>, f64)> {
    let run = Recorded::open(dir)?;
    let i = run.nearest(args.time);
    let frame = run.read(i)?;
    let look = args.look.look()?;
    let surface = frame_surface(&frame, &look)?;
    let markers = frame_markers(&frame, &surface, &look);
    Ok((surface, markers, run.frames[i].0))
}

/// Runs `render`.
pub fn run(args: RenderArgs) -> Result<()> {
    if !(args.time.is_finite() && args.time >= 0.0) {
        bail!(
            "--time must be a finite number of seconds >= 0, got {}",
            args.time
        );
    }
    args.look.look()?;
    if args.png.exists() && !args.force {
        bail!(
            "{} exists; pass --force to overwrite it",
            args.png.display()
        );
    }
    let (surface, solids) = if args.scene.is_dir() {
        let (surface, markers, time) = replay(&args.scene, &args)?;
        eprintln!("frame at t = {time:.4} s");
        (surface, markers)
    } else {
        simulate(&args)?
    };
    draw(&args, &surface, &solids)
}

/// Runs the scene to the frame nearest `--time` and takes its picture.
fn simulate(args: &RenderArgs) -> Result<(Surface, Vec<Solid>)> {
    let mut live = Live::load(&args.scene, &args.backend, Some(args.time))?;
    let frames = live.frames_to(args.time);
    let bar = super::run::progress_bar(frames, args.quiet);
    for _ in 0..frames {
        // A broken frame ends the run; the picture shows it.
        if !live.step()? {
            break;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let drawn = live.picture(&args.look.look()?)?;
    for w in &drawn.warnings {
        eprintln!("warning: {w}");
    }
    Ok((drawn.surface, drawn.solids))
}

/// Draws `surface` and `solids` as the arguments ask and writes the PNG.
fn draw(args: &RenderArgs, surface: &Surface, solids: &[Solid]) -> Result<()> {
    let renderer = Renderer::new(GpuContext::new(args.backend.adapter.as_deref())?)?;
    let mut camera = Camera::fit(surface.bounds(), args.look.view[0], args.look.view[1]);
    if args.look.ortho {
        camera = camera.orthographic(1.05 * bounding_radius(surface.bounds()));
    }
    let mut image = renderer.render_with(surface, solids, &camera, args.size)?;
    if let (Some((lo, hi)), false) = (surface.range(), args.no_colour_bar) {
        vesalius_viewer::colour_bar::draw(&mut image, args.look.field.title(), lo, hi);
    }
    if let Some(dir) = args.png.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    image.write_png(&args.png)?;
    let range = surface
        .range()
        .map(|(lo, hi)| format!(", {} {lo:.4e} .. {hi:.4e}", args.look.field.name()))
        .unwrap_or_default();
    eprintln!(
        "{}: {}x{} on {}{range}",
        args.png.display(),
        args.size[0],
        args.size[1],
        renderer.context().adapter
    );
    Ok(())
}
