//! `vesalius render SCENE.toml|OUT_DIR --time T --png FILE`: the tissue at time T (run to
//! it, or read back from a finished run's frames) drawn offscreen (no window, no display
//! server) with the viewer's renderer.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use vesalius_cosim::{CoSim, CoSimScene, PredictOptions};
use vesalius_engine::gpu::GpuContext;
use vesalius_engine::mesh::vtu::{parse_pvd, parse_vtu_frame};
use vesalius_engine::model::SupportDrive;
use vesalius_engine::output::PVD_NAME;
use vesalius_engine::scene::Scene;
use vesalius_engine::sim::Simulation;
use vesalius_viewer::camera::bounding_radius;
use vesalius_viewer::solids::{
    arrow, marker, vertex_markers, FORCE_COLOUR, PIN_COLOUR, TARGET_COLOUR,
};
use vesalius_viewer::{Camera, CutPlane, Field, Renderer, Solid, Surface};

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
    /// is taken away and the cut faces of the tets are drawn.
    #[arg(long, value_parser = parse_cut, allow_hyphen_values = true)]
    pub cut: Option<[f32; 4]>,
    /// Backend, adapter (the renderer's too) and threads of the simulation.
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
    /// Mark the pinned vertices (dark octahedra).
    #[arg(long)]
    pub pins: bool,
    /// No colour bar (a field's bar and range are drawn at the right by default).
    #[arg(long)]
    pub no_colour_bar: bool,
    /// Length of the force arrows of a co-simulation (m per N).
    #[arg(long, default_value_t = 0.02)]
    pub force_scale: f64,
    /// No progress bar while the scene runs to --time.
    #[arg(long, short)]
    pub quiet: bool,
    /// Overwrite the PNG if it exists.
    #[arg(long)]
    pub force: bool,
}

fn parse_size(s: &str) -> Result<[u32; 2], String> {
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

fn parse_field(s: &str) -> Result<Field, String> {
    Field::from_name(s).ok_or_else(|| {
        let names: Vec<_> = Field::ALL.iter().map(|f| f.name()).collect();
        format!("unknown field {s:?}; one of {}", names.join(", "))
    })
}

fn parse_view(s: &str) -> Result<[f32; 2], String> {
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

fn parse_cut(s: &str) -> Result<[f32; 4], String> {
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

/// The surface `make` builds (given the cut, if any), cut as `--cut` asks: through the
/// centre of the whole surface's box, moved along the normal.
fn cut_as_asked(
    args: &RenderArgs,
    make: impl Fn(Option<CutPlane>) -> Result<Surface, vesalius_viewer::ViewerError>,
) -> Result<Surface> {
    let whole = make(None)?;
    let Some([nx, ny, nz, d]) = args.cut else {
        return Ok(whole);
    };
    let (lo, hi) = whole.bounds();
    let n = [nx, ny, nz];
    let len = (nx * nx + ny * ny + nz * nz).sqrt();
    let point: [f32; 3] = std::array::from_fn(|k| 0.5 * (lo[k] + hi[k]) + d * n[k] / len);
    let plane = CutPlane::new(n, point).context("the cut's normal must not be zero")?;
    Ok(make(Some(plane))?)
}

/// The surface of `model` in `state`, cut as `--cut` asks.
fn surface_of(
    model: &vesalius_engine::model::Model,
    state: &vesalius_engine::model::State,
    args: &RenderArgs,
) -> Result<Surface> {
    cut_as_asked(args, |cut| match cut {
        None => Surface::new(model, state, args.field),
        Some(plane) => Surface::cut(model, state, args.field, plane),
    })
}

/// The frame of the output directory `dir` nearest `--time`, from its `tissue.pvd`.
fn replay(dir: &Path, args: &RenderArgs) -> Result<(Surface, f64)> {
    let index = dir.join(PVD_NAME);
    let text = std::fs::read(&index).with_context(|| {
        format!(
            "{}: no {PVD_NAME}: not an output directory of `vesalius run`",
            dir.display()
        )
    })?;
    let frames = parse_pvd(&text).with_context(|| index.display().to_string())?;
    let Some((time, file)) = frames
        .iter()
        .min_by(|a, b| (a.0 - args.time).abs().total_cmp(&(b.0 - args.time).abs()))
    else {
        bail!("{} lists no frames", index.display());
    };
    let path = dir.join(file);
    let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let frame = parse_vtu_frame(&data).with_context(|| path.display().to_string())?;
    let surface = cut_as_asked(args, |cut| Surface::from_frame(&frame, args.field, cut))?;
    Ok((surface, *time))
}

/// Runs `render`.
pub fn run(args: RenderArgs) -> Result<()> {
    if !(args.time.is_finite() && args.time >= 0.0) {
        bail!(
            "--time must be a finite number of seconds >= 0, got {}",
            args.time
        );
    }
    if !(args.force_scale.is_finite() && args.force_scale >= 0.0) {
        bail!(
            "--force-scale must be a finite length per newton >= 0, got {}",
            args.force_scale
        );
    }
    if args.png.exists() && !args.force {
        bail!(
            "{} exists; pass --force to overwrite it",
            args.png.display()
        );
    }
    let (surface, solids) = if args.scene.is_dir() {
        let (surface, time) = replay(&args.scene, &args)?;
        eprintln!("frame at t = {time:.4} s");
        (surface, Vec::new())
    } else {
        simulate(&args)?
    };
    draw(&args, &surface, &solids)
}

/// Runs the scene to `--time` and takes its surface, and the robot's links for a
/// co-simulation.
fn simulate(args: &RenderArgs) -> Result<(Surface, Vec<Solid>)> {
    let mut solids = Vec::new();
    let text = std::fs::read_to_string(&args.scene)
        .with_context(|| format!("reading {}", args.scene.display()))?;
    let surface = if vesalius_cosim::scene::is_cosim(&text) {
        let scene = CoSimScene::parse(&text, &args.scene)?;
        let options = PredictOptions {
            duration: Some(args.time.max(scene.tissue().file.simulation.duration)),
            ..args.backend.predict_options()
        };
        let mut sim = CoSim::new(&scene, &options)?;
        let frame_dt = sim.tissue().plan().frame_dt;
        let frames = (args.time / frame_dt).round() as u64;
        let bar = super::run::progress_bar(frames, args.quiet);
        sim.run_frames(frames, |_| {
            bar.inc(1);
            std::ops::ControlFlow::Continue(())
        })?;
        bar.finish_and_clear();
        // The robot where it is, its tool links marked.
        let robot = sim.world().state(sim.robot())?;
        let tools: Vec<_> = sim
            .body_names()
            .iter()
            .filter_map(|n| sim.robot_model().link_id(n).ok())
            .collect();
        let (robot_solids, problems) =
            vesalius_viewer::robot_solids(sim.robot_model(), &robot.link_poses, &tools);
        for p in problems {
            eprintln!("warning: {p} (drawn from its collision shapes)");
        }
        solids = robot_solids;
        // The tissue's force on each tool body, at its link's origin, and the target
        // points where the tissue has carried them.
        if let Some(record) = sim.last_record().cloned() {
            for (name, f) in sim.body_names().iter().zip(&record.forces) {
                let Ok(link) = sim.robot_model().link_id(name) else {
                    continue;
                };
                let o = robot.link_poses[link].translation.vector;
                let v = f.map(|c| c * args.force_scale);
                if let Some(a) = arrow([o.x, o.y, o.z], v, 4e-4, FORCE_COLOUR) {
                    solids.push(a);
                }
            }
        }
        for points in sim.target_points()? {
            for p in points {
                solids.push(marker(p.to_array(), 1e-3, TARGET_COLOUR));
            }
        }
        let (model, state) = sim.tissue().sync_model_and_state()?;
        let surface = surface_of(model, state, args)?;
        solids.extend(pin_markers(model, &surface, args));
        surface
    } else {
        let mut scene = Scene::parse(&text, &args.scene)?;
        args.backend.apply(&mut scene);
        let built = scene.build()?;
        let spec = &scene.file.simulation;
        let mut sim = Simulation::new(built.model, &built.solver, spec.backend())?;
        let supports = SupportDrive::new(sim.model(), &scene.file.motion)
            .map_err(|m| anyhow::anyhow!("{}: {m}", args.scene.display()))?;
        let frame_dt = sim.plan().frame_dt;
        let frames = (args.time / frame_dt).round() as u64;
        let bar = super::run::progress_bar(frames, args.quiet);
        for _ in 0..frames {
            sim.step_with_supports(&supports, 1)?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        let (model, state) = sim.sync_model_and_state()?;
        let surface = surface_of(model, state, args)?;
        solids.extend(pin_markers(model, &surface, args));
        surface
    };
    Ok((surface, solids))
}

/// The pinned vertices of `model` at their positions in `surface`, when `--pins` asks.
fn pin_markers(
    model: &vesalius_engine::model::Model,
    surface: &Surface,
    args: &RenderArgs,
) -> Option<Solid> {
    if !args.pins || model.pinned.is_empty() {
        return None;
    }
    let size = 0.012 * bounding_radius(surface.bounds());
    Some(vertex_markers(
        &surface.positions,
        &model.pinned,
        size,
        PIN_COLOUR,
    ))
}

/// Draws `surface` and `solids` as the arguments ask and writes the PNG.
fn draw(args: &RenderArgs, surface: &Surface, solids: &[Solid]) -> Result<()> {
    let renderer = Renderer::new(GpuContext::new(args.backend.adapter.as_deref())?)?;
    let mut camera = Camera::fit(surface.bounds(), args.view[0], args.view[1]);
    if args.ortho {
        camera = camera.orthographic(1.05 * bounding_radius(surface.bounds()));
    }
    let mut image = renderer.render_with(surface, solids, &camera, args.size)?;
    if let (Some((lo, hi)), false) = (surface.range(), args.no_colour_bar) {
        vesalius_viewer::colour_bar::draw(&mut image, lo, hi);
    }
    if let Some(dir) = args.png.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    image.write_png(&args.png)?;
    let range = surface
        .range()
        .map(|(lo, hi)| format!(", {} {lo:.4e} .. {hi:.4e}", args.field.name()))
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
