//! `vesalius view SCENE.toml|OUT_DIR`: the live window. A scene is simulated as it is
//! drawn (tissue scenes and co-simulations); an output directory of `vesalius run` is
//! replayed with a time scrubber, with the robot, the forces, the needle, the events and
//! the verdict its files hold.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vesalius_cosim::{CoSimScene, SceneRobot};
use vesalius_engine::glam::DQuat;
use vesalius_engine::mesh::vtu::VtuFrame;
use vesalius_robot::prelude::{
    Isometry3, LinkId, RobotModel, Translation3, UnitQuaternion, Vector3,
};
use vesalius_viewer::window::{
    self, CheckLine, EventLine, NeedleReading, Picture, Readings, SeriesLine, Source, SourceError,
    ToolForce, VerdictReading, WindowError, WindowOptions,
};
use vesalius_viewer::Look;

use super::picture::{force_arrow, frame_markers, frame_surface, Live, Recorded};
use super::render::{parse_size, LookArgs};

/// Arguments of `vesalius view`.
#[derive(Args, Debug)]
pub struct ViewArgs {
    /// Scene file (TOML; a co-simulation when it has a [robot]) to simulate live, or an
    /// output directory of `vesalius run` to replay.
    pub scene: PathBuf,
    /// Field, camera, cut, markers and force arrows at first (the panel changes them).
    #[command(flatten)]
    pub look: LookArgs,
    /// Window size, WIDTHxHEIGHT (logical pixels).
    #[arg(long, default_value = "1280x800", value_parser = parse_size)]
    pub size: [u32; 2],
    /// A scene with a `[plan]`: the plan's wall-clock budget, e.g. 500ms or 5s (default: the
    /// scene's). The window plans first, then draws every candidate's needle line (grey to
    /// blue, best last) and the plan's (green) while it plays the plan.
    #[arg(long, value_parser = vesalius_cosim::plan::spec::parse_budget)]
    pub budget: Option<Duration>,
    /// A scene with a `[plan]`: play the scene's own trajectory instead of planning one.
    #[arg(long)]
    pub no_plan: bool,
    /// Playback speed: simulated seconds per second (a simulation slower than that runs as
    /// fast as it can).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Start paused.
    #[arg(long)]
    pub paused: bool,
    /// Write the window's image to this PNG after --exit-after frames (a smoke test).
    #[arg(long, requires = "exit_after")]
    pub screenshot: Option<PathBuf>,
    /// Close the window after this many drawn frames.
    #[arg(long)]
    pub exit_after: Option<u64>,
    /// Overwrite the screenshot if it exists.
    #[arg(long)]
    pub force: bool,
    /// Backend, adapter (the window's too) and threads of the simulation.
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
}

/// Runs `view`.
pub fn run(args: ViewArgs) -> Result<()> {
    let look = args.look.look()?;
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed must be a positive number, got {}", args.speed);
    }
    if args.exit_after == Some(0) {
        bail!("--exit-after must be at least 1 frame");
    }
    if let Some(png) = &args.screenshot {
        if png.exists() && !args.force {
            bail!("{} exists; pass --force to overwrite it", png.display());
        }
        if let Some(dir) = png.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    // Before the scene is loaded (a co-simulation takes seconds to set up): a machine
    // without a display gets its answer at once.
    if let Some(reason) = window::missing_display() {
        return Err(no_window(&WindowError::NoDisplay(reason)));
    }
    let source: Box<dyn Source> = if args.scene.is_dir() {
        Box::new(ReplaySource::open(&args.scene)?)
    } else {
        Box::new(LiveSource::load(&args)?)
    };
    let options = WindowOptions {
        size: args.size,
        adapter: args.backend.adapter.clone(),
        look,
        view: args.look.view,
        ortho: args.look.ortho,
        play: !args.paused,
        speed: args.speed,
        screenshot: args.screenshot.clone(),
        exit_after: args.exit_after,
    };
    window::run(source, options).map_err(|e| match e {
        WindowError::NoDisplay(_) | WindowError::Window(_) | WindowError::Gpu(_) => no_window(&e),
        other => anyhow::Error::new(other),
    })
}

/// The error for a window that cannot be opened, with what to do instead.
fn no_window(e: &WindowError) -> anyhow::Error {
    anyhow::anyhow!(
        "{e}. `vesalius view` needs a display and a GPU adapter that can draw into a window; \
         without them use `vesalius render SCENE|OUT_DIR --time T --png FILE`, which draws \
         offscreen"
    )
}

/// How often a running co-simulation's verdict is worked out again (it goes over every
/// frame so far).
const VERDICT_EVERY: Duration = Duration::from_millis(1000);

/// A scene simulated as the window plays it.
struct LiveSource {
    live: Live,
    title: String,
    /// The run stopped (a broken guard, a failed step).
    stopped: bool,
    notes: Vec<String>,
    seen: BTreeSet<String>,
    verdict: Option<(Instant, VerdictReading)>,
    /// Every frame's forces so far (the force strip).
    history: Vec<ForceRow>,
    /// A planning scene's candidates' needle lines and the plan's.
    paths: Vec<vesalius_viewer::Solid>,
}

/// The most candidates drawn (the best ones): more hide each other and the tissue.
const MAX_PATHS: usize = 200;
/// Radius of a candidate's needle line, and of the plan's (m).
const PATH_RADIUS: f64 = 1.5e-4;
const PLAN_RADIUS: f64 = 3.5e-4;
const PLAN_COLOUR: [f32; 3] = [0.1, 0.7, 0.2];
/// How far outside the skin a needle line starts (m).
const PATH_OUTSIDE: f64 = 0.01;

/// A planning scene made ready for the window.
struct Planned {
    /// The co-simulation of the plan.
    live: Live,
    /// The candidates' needle lines and the plan's.
    paths: Vec<vesalius_viewer::Solid>,
    /// What the panel tells of the plan.
    notes: Vec<String>,
}

/// A scene with a `[plan]` (unless `--no-plan`): planned within the budget on the planning
/// model (not validated on the full model: `vesalius plan` does that), then the
/// co-simulation of the plan, the candidates' needle lines and what the panel tells of it.
fn planned(args: &ViewArgs) -> Result<Option<Planned>> {
    use vesalius_cosim::plan::{plan, PlanOptions};
    let text = std::fs::read_to_string(&args.scene)
        .with_context(|| format!("reading {}", args.scene.display()))?;
    if args.no_plan || !vesalius_cosim::scene::is_cosim(&text) {
        return Ok(None);
    }
    let scene = CoSimScene::parse(&text, &args.scene)?;
    if scene.file.plan.is_none() {
        return Ok(None);
    }
    let predict = args.backend.predict_options();
    eprintln!(
        "planning (the window opens with the plan; --no-plan plays the scene's own trajectory)"
    );
    let result = plan(
        &scene,
        &PlanOptions {
            budget: args.budget,
            predict: predict.clone(),
            validate: Some(0),
            ..Default::default()
        },
    )?;
    // Best last, so it is drawn over the rest; the plan's own line on top.
    let mut ranked: Vec<(f64, &vesalius_cosim::plan::insertion::Insertion)> = result
        .candidates
        .iter()
        .zip(&result.candidate_insertions)
        .filter_map(|(c, i)| Some((c.cost.total, i.as_ref()?)))
        .filter(|(cost, _)| cost.is_finite())
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let drawn = ranked.len().min(MAX_PATHS);
    let ranked = &ranked[ranked.len() - drawn..];
    let line = |ins: &vesalius_cosim::plan::insertion::Insertion, radius: f64, colour: [f32; 3]| {
        let from = ins.entry - ins.direction * PATH_OUTSIDE;
        vesalius_viewer::solids::arrow(from.to_array(), (ins.aim - from).to_array(), radius, colour)
    };
    let mut paths: Vec<vesalius_viewer::Solid> = ranked
        .iter()
        .enumerate()
        .filter_map(|(k, (_, ins))| {
            let s = (k + 1) as f32 / drawn.max(1) as f32; // 1 = the best
            let colour = [0.75 - 0.6 * s, 0.75 - 0.35 * s, 0.75 + 0.2 * s];
            line(ins, PATH_RADIUS, colour)
        })
        .collect();
    paths.extend(line(&result.insertion, PLAN_RADIUS, PLAN_COLOUR));
    let best = &result.best;
    let notes = vec![format!(
        "planned in {:.2} s: {} iterations, {} candidates ({} drawn), best cost {:.3} ({} on          the planning model; not validated on the full model: `vesalius plan` does that)",
        result.latency.as_secs_f64(),
        result.iterations,
        result.candidates.len(),
        drawn,
        best.cost.total,
        if best.passed { "passes" } else { "fails" },
    )];
    let sim = vesalius_cosim::CoSim::with_trajectory(&scene, &result.trajectory, &predict)?;
    Ok(Some(Planned {
        live: Live::from_cosim(sim),
        paths,
        notes,
    }))
}

impl LiveSource {
    fn load(args: &ViewArgs) -> Result<Self> {
        eprintln!("loading {}", args.scene.display());
        let (live, paths, mut notes) = match planned(args)? {
            Some(p) => (p.live, p.paths, p.notes),
            None => (
                Live::load(&args.scene, &args.backend, None)?,
                Vec::new(),
                Vec::new(),
            ),
        };
        if let Some(sim) = live.cosim() {
            notes.extend(sim.notice().map(str::to_string));
            notes.extend(sim.warnings().iter().cloned());
        }
        for n in &notes {
            eprintln!("{n}");
        }
        Ok(Self {
            live,
            title: args.scene.display().to_string(),
            stopped: false,
            notes,
            seen: BTreeSet::new(),
            verdict: None,
            history: Vec::new(),
            paths,
        })
    }

    /// Keeps the last frame's forces for the strip.
    fn record(&mut self) {
        let Some(rec) = self.live.cosim().and_then(|s| s.last_record()) else {
            return;
        };
        if self.history.last().is_some_and(|r| r.time >= rec.time) {
            return;
        }
        self.history.push(ForceRow {
            time: rec.time,
            forces: rec.forces.clone(),
            needle: rec.needle.as_ref().map(|n| NeedleReading {
                depth: n.depth,
                region: n.tip_region.clone(),
                axial_force: n.axial_force,
            }),
        });
    }

    fn note(&mut self, text: String) {
        if self.seen.insert(text.clone()) {
            eprintln!("{text}");
            self.notes.push(text);
        }
    }
}

impl Source for LiveSource {
    fn title(&self) -> String {
        self.title.clone()
    }

    fn time(&self) -> f64 {
        self.live.time()
    }

    fn frame_dt(&self) -> f64 {
        self.live.frame_dt()
    }

    fn end_time(&self) -> f64 {
        self.live.end_time()
    }

    fn seekable(&self) -> bool {
        false
    }

    fn advance(&mut self) -> Result<bool, SourceError> {
        if self.stopped || self.time() + 0.5 * self.frame_dt() > self.end_time() {
            return Ok(false);
        }
        let stepped = self.live.step().map_err(|e| format!("{e:#}"));
        self.record();
        match stepped {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.stopped = true;
                let t = self.time();
                self.note(format!(
                    "t = {t:.4} s: a physical sanity guard broke; the run stops here"
                ));
                self.verdict = None;
                Ok(true)
            }
            Err(e) => {
                self.stopped = true;
                Err(e.into())
            }
        }
    }

    fn seek(&mut self, _time: f64) -> Result<bool, SourceError> {
        Ok(false)
    }

    fn picture(&mut self, look: &Look) -> Result<Picture, SourceError> {
        let mut drawn = self.live.picture(look).map_err(|e| format!("{e:#}"))?;
        for w in std::mem::take(&mut drawn.warnings) {
            self.note(format!("warning: {w}"));
        }
        drawn.solids.extend(self.paths.iter().cloned());
        Ok(Picture {
            surface: drawn.surface,
            solids: drawn.solids,
        })
    }

    fn readings(&mut self) -> Readings {
        let Some(sim) = self.live.cosim() else {
            return Readings {
                notes: self.notes.clone(),
                ..Default::default()
            };
        };
        let mut r = Readings {
            notes: self.notes.clone(),
            ..Default::default()
        };
        if let Some(rec) = sim.last_record() {
            r.forces = sim
                .body_names()
                .iter()
                .zip(&rec.forces)
                .map(|(b, f)| ToolForce {
                    body: b.clone(),
                    force: *f,
                })
                .collect();
            r.needle = rec.needle.as_ref().map(|n| NeedleReading {
                depth: n.depth,
                region: n.tip_region.clone(),
                axial_force: n.axial_force,
            });
        }
        r.events = sim
            .events()
            .iter()
            .map(|e| EventLine {
                time: e.time,
                text: e.description.clone(),
            })
            .collect();
        let ended = self.stopped || sim.time() + 0.5 * self.live.frame_dt() > sim.end_time();
        let stale = self
            .verdict
            .as_ref()
            .is_none_or(|(at, v)| (at.elapsed() >= VERDICT_EVERY || ended) && v.time < sim.time());
        if stale && sim.last_record().is_some() {
            let report = sim.report();
            self.verdict = Some((Instant::now(), verdict_reading(&report.verdict, sim.time())));
        }
        r.series = series_lines(sim.body_names(), &self.history);
        r.verdict = self.verdict.as_ref().map(|(_, v)| v.clone());
        r
    }
}

/// The force strip's lines of `rows`: the needle's axial force where there is a needle (its
/// link's |F| would mostly repeat it), else each tool body's |F|.
fn series_lines(bodies: &[String], rows: &[ForceRow]) -> Vec<SeriesLine> {
    if rows.iter().any(|r| r.needle.is_some()) {
        return vec![SeriesLine {
            name: "needle axial force".into(),
            points: rows
                .iter()
                .filter_map(|r| r.needle.as_ref().map(|n| [r.time, n.axial_force]))
                .collect(),
        }];
    }
    bodies
        .iter()
        .enumerate()
        .map(|(k, b)| SeriesLine {
            name: format!("|F| on {b}"),
            points: rows
                .iter()
                .filter_map(|r| {
                    let [x, y, z] = *r.forces.get(k)?;
                    Some([r.time, (x * x + y * y + z * z).sqrt()])
                })
                .collect(),
        })
        .collect()
}

fn verdict_reading(v: &vesalius_cosim::Verdict, time: f64) -> VerdictReading {
    VerdictReading {
        passed: v.passed,
        checks: v
            .checks
            .iter()
            .map(|c| CheckLine {
                passed: c.passed,
                text: format!("{} ({})", c.name, c.detail),
            })
            .collect(),
        time,
    }
}

/// One row of `forces.csv`.
struct ForceRow {
    time: f64,
    forces: Vec<[f64; 3]>,
    needle: Option<NeedleReading>,
}

/// The robot of a finished co-simulation: its model (from the scene `summary.json` names)
/// and every link's pose per recorded frame (`link_poses.csv`).
struct RecordedRobot {
    model: Arc<RobotModel>,
    tools: Vec<LinkId>,
    times: Vec<f64>,
    /// Per recorded frame, per link of the model.
    poses: Vec<Vec<Isometry3<f64>>>,
}

/// A finished run, replayed.
struct ReplaySource {
    run: Recorded,
    index: usize,
    frame: VtuFrame,
    bodies: Vec<String>,
    rows: Vec<ForceRow>,
    /// The force strip's lines of the whole run.
    series: Vec<SeriesLine>,
    events: Vec<EventLine>,
    verdict: Option<VerdictReading>,
    robot: Option<RecordedRobot>,
    notes: Vec<String>,
}

impl ReplaySource {
    fn open(dir: &Path) -> Result<Self> {
        let run = Recorded::open(dir)?;
        let frame = run.read(0)?;
        let mut notes = Vec::new();
        let (bodies, rows) = match read_forces(&dir.join("forces.csv")) {
            Ok(Some(x)) => x,
            Ok(None) => (Vec::new(), Vec::new()),
            Err(e) => {
                notes.push(format!("forces.csv: {e:#}"));
                (Vec::new(), Vec::new())
            }
        };
        let events = match read_events(&dir.join("events.json")) {
            Ok(e) => e,
            Err(e) => {
                notes.push(format!("events.json: {e:#}"));
                Vec::new()
            }
        };
        let summary: Option<serde_json::Value> = std::fs::read_to_string(dir.join("summary.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let verdict = summary.as_ref().and_then(|s| summary_verdict(s, &rows));
        if let Some(status) = summary
            .as_ref()
            .and_then(|s| s["status"].as_str())
            .filter(|s| *s != "ok")
        {
            notes.push(format!("run {status}"));
        }
        let robot = match summary.as_ref().and_then(|s| s["scene"].as_str()) {
            Some(scene) if dir.join("link_poses.csv").exists() => {
                match read_robot(Path::new(scene), &dir.join("link_poses.csv"), &bodies) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        notes.push(format!("robot not drawn: {e:#}"));
                        None
                    }
                }
            }
            _ => None,
        };
        for n in &notes {
            eprintln!("{n}");
        }
        eprintln!(
            "{}: {} frames, {:.4} .. {:.4} s",
            dir.display(),
            run.frames.len(),
            run.frames[0].0,
            run.frames[run.frames.len() - 1].0
        );
        Ok(Self {
            run,
            index: 0,
            frame,
            series: series_lines(&bodies, &rows),
            bodies,
            rows,
            events,
            verdict,
            robot,
            notes,
        })
    }

    /// The record nearest the current frame's time, if any (records are per simulated
    /// frame; the tissue's frames every `output.every`).
    fn row(&self) -> Option<&ForceRow> {
        nearest_by(&self.rows, self.time(), |r| r.time)
    }

    fn go(&mut self, index: usize) -> Result<bool, SourceError> {
        if index == self.index {
            return Ok(false);
        }
        self.frame = self.run.read(index).map_err(|e| format!("{e:#}"))?;
        self.index = index;
        Ok(true)
    }
}

fn nearest_by<T>(items: &[T], time: f64, t: impl Fn(&T) -> f64) -> Option<&T> {
    items
        .iter()
        .min_by(|a, b| (t(a) - time).abs().total_cmp(&(t(b) - time).abs()))
}

impl Source for ReplaySource {
    fn title(&self) -> String {
        self.run.dir.display().to_string()
    }

    fn time(&self) -> f64 {
        self.run.frames[self.index].0
    }

    fn frame_dt(&self) -> f64 {
        let f = &self.run.frames;
        if f.len() < 2 {
            return 1.0 / 60.0;
        }
        (f[f.len() - 1].0 - f[0].0) / (f.len() - 1) as f64
    }

    fn end_time(&self) -> f64 {
        self.run.frames[self.run.frames.len() - 1].0
    }

    fn seekable(&self) -> bool {
        true
    }

    fn advance(&mut self) -> Result<bool, SourceError> {
        if self.index + 1 >= self.run.frames.len() {
            return Ok(false);
        }
        self.go(self.index + 1)
    }

    fn seek(&mut self, time: f64) -> Result<bool, SourceError> {
        let i = self.run.nearest(time);
        self.go(i)
    }

    fn picture(&mut self, look: &Look) -> Result<Picture, SourceError> {
        let surface = frame_surface(&self.frame, look).map_err(|e| format!("{e:#}"))?;
        let mut solids = frame_markers(&self.frame, &surface, look);
        if let Some(robot) = &self.robot {
            let t = self.time();
            if let Some(k) = (0..robot.times.len()).min_by(|&a, &b| {
                (robot.times[a] - t)
                    .abs()
                    .total_cmp(&(robot.times[b] - t).abs())
            }) {
                let poses = &robot.poses[k];
                let (s, _) = vesalius_viewer::robot_solids(&robot.model, poses, &robot.tools);
                solids.extend(s);
                if let Some(row) = self.row() {
                    for (name, f) in self.bodies.iter().zip(&row.forces) {
                        if let Ok(link) = robot.model.link_id(name) {
                            let o = poses[link.index()].translation.vector;
                            solids.extend(force_arrow([o.x, o.y, o.z], *f, look));
                        }
                    }
                }
            }
        }
        Ok(Picture { surface, solids })
    }

    fn readings(&mut self) -> Readings {
        let t = self.time();
        let mut r = Readings {
            notes: self.notes.clone(),
            ..Default::default()
        };
        if let Some(row) = self.row() {
            r.forces = self
                .bodies
                .iter()
                .zip(&row.forces)
                .map(|(b, f)| ToolForce {
                    body: b.clone(),
                    force: *f,
                })
                .collect();
            r.needle = row.needle.clone();
        }
        // Events up to the frame shown (and the frame time's rounding).
        let slack = 0.5 * self.frame_dt();
        r.events = self
            .events
            .iter()
            .filter(|e| e.time <= t + slack)
            .cloned()
            .collect();
        // The whole run, with the strip's cursor at the frame shown.
        r.series = self.series.clone();
        r.verdict = self.verdict.clone();
        r
    }
}

/// `forces.csv`: the tool bodies (the columns `BODY.fx`) and each row's forces and needle.
fn read_forces(path: &Path) -> Result<Option<(Vec<String>, Vec<ForceRow>)>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut reader = csv::Reader::from_path(path)?;
    let head = reader.headers()?.clone();
    let col = |name: &str| head.iter().position(|h| h == name);
    let mut bodies = Vec::new();
    let mut starts = Vec::new();
    for (i, h) in head.iter().enumerate() {
        if let Some(b) = h.strip_suffix(".fx") {
            bodies.push(b.to_string());
            starts.push(i);
        }
    }
    let (axial, depth, region) = (col("needle_axial_n"), col("tip_depth_m"), col("tip_region"));
    let time = col("time_s").context("no time_s column")?;
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec?;
        let num = |i: usize| rec.get(i).and_then(|v| v.parse::<f64>().ok());
        let forces = starts
            .iter()
            .map(|&i| [num(i), num(i + 1), num(i + 2)].map(|v| v.unwrap_or(f64::NAN)))
            .collect();
        let needle = match (axial.and_then(num), depth.and_then(num)) {
            (Some(axial_force), Some(depth)) => Some(NeedleReading {
                depth,
                region: region
                    .and_then(|i| rec.get(i))
                    .filter(|r| !r.is_empty() && *r != "outside")
                    .map(str::to_string),
                axial_force,
            }),
            _ => None,
        };
        rows.push(ForceRow {
            time: num(time).context("a row without a time")?,
            forces,
            needle,
        });
    }
    Ok(Some((bodies, rows)))
}

/// `events.json`: the needle's events and the supervisor's re-plans.
fn read_events(path: &Path) -> Result<Vec<EventLine>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let values: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    Ok(values
        .iter()
        .map(|v| EventLine {
            time: v["time"].as_f64().unwrap_or(f64::NAN),
            text: match v["description"].as_str() {
                Some(d) => d.to_string(),
                None => format!(
                    "re-plan ({}): {}",
                    v["trigger"].as_str().unwrap_or("?"),
                    v["detail"].as_str().unwrap_or("")
                ),
            },
        })
        .collect())
}

/// The verdict in `summary.json`'s report.
fn summary_verdict(summary: &serde_json::Value, rows: &[ForceRow]) -> Option<VerdictReading> {
    let v = &summary["report"]["verdict"];
    Some(VerdictReading {
        passed: v["passed"].as_bool()?,
        checks: v["checks"]
            .as_array()?
            .iter()
            .map(|c| CheckLine {
                passed: c["passed"].as_bool().unwrap_or(false),
                text: format!(
                    "{} ({})",
                    c["name"].as_str().unwrap_or("?"),
                    c["detail"].as_str().unwrap_or("")
                ),
            })
            .collect(),
        time: summary["report"]["simulated_time"]
            .as_f64()
            .or_else(|| rows.last().map(|r| r.time))
            .unwrap_or(f64::NAN),
    })
}

/// The robot of the scene at `scene` (as the run's summary names it) at the poses of
/// `link_poses.csv`.
fn read_robot(scene: &Path, poses: &Path, bodies: &[String]) -> Result<RecordedRobot> {
    let scene = CoSimScene::load(scene)?;
    let model = SceneRobot::load(&scene)?.model().clone();
    let tools = bodies
        .iter()
        .filter_map(|b| model.link_id(b).ok())
        .collect();
    let mut reader = csv::Reader::from_path(poses)?;
    let mut times: Vec<f64> = Vec::new();
    let mut all: Vec<Vec<Isometry3<f64>>> = Vec::new();
    let n = model.links().len();
    for rec in reader.records() {
        let rec = rec?;
        let num = |i: usize| -> Result<f64> {
            rec.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .with_context(|| {
                    format!(
                        "line {}: column {i} is not a number",
                        rec.position().map_or(0, |p| p.line())
                    )
                })
        };
        let t = num(0)?;
        if times.last() != Some(&t) {
            times.push(t);
            all.push(vec![Isometry3::identity(); n]);
        }
        let Some(link) = rec.get(1).and_then(|name| model.link_id(name).ok()) else {
            continue;
        };
        let [x, y, z, qx, qy, qz, qw] = [2, 3, 4, 5, 6, 7, 8].map(|i| num(i).unwrap_or(f64::NAN));
        let axis = DQuat::from_xyzw(qx, qy, qz, qw)
            .normalize()
            .to_scaled_axis();
        let frame = all.last_mut().expect("pushed above");
        frame[link.index()] = Isometry3::from_parts(
            Translation3::new(x, y, z),
            UnitQuaternion::from_scaled_axis(Vector3::new(axis.x, axis.y, axis.z)),
        );
    }
    if times.is_empty() {
        bail!("{} has no poses", poses.display());
    }
    Ok(RecordedRobot {
        model,
        tools,
        times,
        poses: all,
    })
}
