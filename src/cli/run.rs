//! `vesalius run SCENE.toml --out DIR`: headless simulation with a progress bar, ParaView
//! frames and a `summary.json`.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vesalius_engine::output::{FrameWriter, PVD_NAME};
use vesalius_engine::scene::overrides::Override;
use vesalius_engine::scene::Scene;
use vesalius_engine::sim::Simulation;
use vesalius_engine::solver::SimError;

/// Arguments of `vesalius run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scene file (TOML).
    pub scene: PathBuf,
    /// Output directory for frames (.vtu/.pvd) and summary.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Backend, adapter and threads.
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
    /// Simulated duration in seconds. Overrides the scene.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Overwrite results already in the output directory, and run even if the frames to
    /// write would take more than 90 % of the free disk space.
    #[arg(long)]
    pub force: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Follow the scene's trajectory as it is, without the online supervisor of a
    /// `[plan] mode = "online"` scene (to compare the two).
    #[arg(long)]
    pub no_supervisor: bool,
    /// Change a scene value before the run, e.g. `--set materials.skin.youngs_modulus=6e4`
    /// or `--set mesh.generator.vein_radius=0.0025` (dotted keys; arrays of tables by
    /// index: `tool.0.static_friction=0.3`). Repeatable; written to summary.json.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<Override>,
}

/// The frame progress bar of `run` (hidden with `--quiet`).
pub fn progress_bar(frames: u64, quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(frames)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} frames  {elapsed_precise} (eta {eta})  {msg}",
        )
        .expect("valid template"),
    );
    bar
}

/// Runs a scene (a co-simulation when it has a `[robot]`).
pub fn run(args: RunArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.scene)
        .with_context(|| format!("reading {}", args.scene.display()))?;
    if vesalius_cosim::scene::is_cosim(&text) {
        return super::cosim::run(&args, &text);
    }
    let mut scene = Scene::parse_with(&text, &args.scene, &args.set)?;
    if let Some(d) = args.duration {
        scene.file.simulation.duration = d;
    }
    args.backend.apply(&mut scene);
    let built = scene.build()?;
    for w in &built.warnings {
        eprintln!("warning: {w}");
    }
    // Check the output directory before spending time simulating.
    let mut writer = FrameWriter::create(&args.out, args.force)?;
    let sim_spec = &scene.file.simulation;
    let every = scene.file.output.every;
    let model_summary = json!({
        "vertices": built.model.num_vertices(),
        "tets": built.model.num_tets(),
        "colours": built.model.num_colours(),
        "pinned_vertices": built.model.pinned.len(),
        "regions": built.model.materials.iter().map(|(r, m)| json!({
            "id": r, "name": built.model.region_names.get(r), "material": m
        })).collect::<Vec<_>>(),
    });
    let tets = built.model.num_tets();
    let frames = built.frames;
    let mut sim = Simulation::new(built.model, &built.solver, sim_spec.backend())?;
    if let Some(n) = sim.notice() {
        eprintln!("{n}");
    }
    let plan = sim.plan().clone();
    let supports = vesalius_engine::model::SupportDrive::new(sim.model(), &scene.file.motion)
        .map_err(|m| anyhow::anyhow!("{}: {m}", args.scene.display()))?;
    eprintln!(
        "{} tets on {}; {} substeps/frame ({}), dt = {:.3e} s",
        tets,
        sim.backend_name(),
        plan.substeps,
        plan.policy,
        plan.dt
    );

    let bar = progress_bar(frames, args.quiet);
    let started = Instant::now();
    let mut solve_time = Duration::ZERO;
    let mut write_time = Duration::ZERO;
    let t = Instant::now();
    let (model, state) = sim.sync_model_and_state()?;
    let first_step = state.step;
    super::limits::before_first_frame(
        &mut writer,
        model,
        state,
        frames / every as u64 + 2,
        args.force,
    )?;
    writer.write_frame(model, state)?;
    write_time += t.elapsed();
    let mut done = 0u64;
    // Whatever stops the run early (the solver, reading the state back, writing a frame)
    // still leaves a summary.json that says so.
    let mut failure: Option<anyhow::Error> = None;
    let mut breached = None;
    while done < frames {
        if let Some(e) = super::limits::interruption(sim.time()) {
            failure = Some(e);
            break;
        }
        let n = (every as u64).min(frames - done) as u32;
        let t = Instant::now();
        // Moving supports ([[motion]]) change the control every frame.
        let stepped = sim.step_with_supports(&supports, n);
        // The solver judges the guards after every frame (written or not; energy growth
        // with the supports' motion as unknown input); a breach still has its frame written
        // below, to be seen.
        let solver_breach = match stepped {
            Ok(()) => None,
            Err(SimError::Guard(b)) => Some(*b),
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        };
        solve_time += t.elapsed();
        done += n as u64;
        let t = Instant::now();
        let written = sim
            .sync_model_and_state()
            .map_err(anyhow::Error::from)
            .and_then(|(model, state)| {
                // Fewer when the CPU stopped at a breach.
                done = state.step - first_step;
                writer.write_frame(model, state)?;
                Ok(solver_breach)
            });
        match written {
            Err(e) => {
                failure = Some(e);
                break;
            }
            Ok(Some(breach)) => {
                breached = Some(breach.clone());
                failure = Some(breach.into());
                break;
            }
            Ok(None) => {}
        }
        write_time += t.elapsed();
        bar.set_position(done);
        bar.set_message(format!("t = {:.3} s", done as f64 * plan.frame_dt));
    }
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    let simulated = done as f64 * plan.frame_dt;
    let diag = sim.diagnostics().ok();
    let tet_substeps = tets as f64 * plan.substeps as f64 * plan.iterations as f64 * done as f64;
    let summary = json!({
        "vesalius_version": env!("CARGO_PKG_VERSION"),
        "scene": args.scene.display().to_string(),
        "overrides": args.set.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "status": match &failure { None => "ok".to_string(), Some(e) => format!("failed: {e:#}") },
        "backend": format!("{:?}", sim.backend_kind()).to_lowercase(),
        "device": sim.backend_name(),
        "notice": sim.notice(),
        "plan": plan,
        "model": model_summary,
        "steps": done,
        "simulated_time_s": simulated,
        "wall_time_s": wall,
        "solver_time_s": solve_time.as_secs_f64(),
        "output_time_s": write_time.as_secs_f64(),
        "wall_s_per_simulated_s": if simulated > 0.0 { solve_time.as_secs_f64() / simulated } else { 0.0 },
        "throughput_tet_substeps_per_s": if solve_time.as_secs_f64() > 0.0 { tet_substeps / solve_time.as_secs_f64() } else { 0.0 },
        "frames_written": writer.frames_written(),
        "pvd": PVD_NAME,
        "final_diagnostics": diag,
        "guards": sim_spec.guards,
        "guard_breach": breached,
        "mesh_warnings": built.warnings,
    });
    let path = args.out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    if let Some(e) = failure {
        return Err(e.context(format!(
            "frames up to the failure and summary.json are in {}",
            args.out.display()
        )));
    }
    eprintln!(
        "simulated {simulated:.3} s in {:.2} s of solver time ({:.3} s per simulated s, {:.2e} tet-substeps/s); {} frames in {}",
        solve_time.as_secs_f64(),
        solve_time.as_secs_f64() / simulated.max(1e-12),
        tet_substeps / solve_time.as_secs_f64().max(1e-12),
        writer.frames_written(),
        args.out.display()
    );
    Ok(())
}
