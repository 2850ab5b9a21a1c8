//! Running a trial on this machine: every case of a [`Design`] against every robot
//! behaviour, on all cores, into a result table that survives being killed.
//!
//! A trial file is a design file ([`Design`]) plus what to run it on:
//!
//! ```toml
//! scene = "../scenes/phlebotomy.toml"   # relative to the trial file
//!
//! [[behaviour]]
//! name = "fixed_stroke"
//! kind = "fixed"                        # the scene's own trajectory
//!
//! [[behaviour]]                         # needs a scene with a [plan] table
//! name = "planned"
//! kind = "plan"                         # a plan for each patient, then run on it
//! iterations = 20                       # of the scene's planner (default 20)
//!
//! [[behaviour]]                         # needs [plan] mode = "online"
//! name = "supervised"
//! kind = "online"                       # the scene's stroke under its online supervisor
//! iterations = 4                        # of each re-plan (default 4)
//!
//! [[behaviour]]
//! name = "planned_supervised"
//! kind = "online"
//! plan_iterations = 20                  # first a plan (as kind = "plan"), then it runs
//!                                       # under the supervisor instead of the scene's stroke
//!
//! [run]                                 # optional
//! duration = 1.0                        # s of each case (default: the scene's)
//! set = ["plan.mode=online"]            # changes to the scene for every case, as
//!                                       # `vesalius run --set` takes them
//! ```
//!
//! Each case's parameters become changes to the scene before it is read
//! (`vesalius_engine::scene::overrides`): `cohort.mesh` (from `cohort.meshes = [..]`, files
//! relative to the trial file) replaces the scene's mesh generator by that file (the rest of
//! its `[mesh]` table kept), `cohort.<name>` sets the mesh generator's `<name>`
//! (`mesh.generator.<name>`), `materials.<region>.<field>` the region's material. A case
//! whose scene is refused (a draw the scene cannot take), or whose run fails, is a row with
//! its error.
//!
//! A `plan` behaviour plans each case's insertion with the scene's `[plan]` on its planning
//! model of that case's anatomy (so the robot sees the patient as a perfect image would
//! show it, unless `[perturbation.registration]` draws an error), a fixed number of iterations seeded by
//! the case (the same plan on any machine, whatever its speed), and runs the plan on the
//! full model: the row is that run's. The planner does not validate on the full model (that
//! would let it try the patient before choosing); the scene's `plan.calibrate` (one
//! full-model rollout of the initial candidate to fit the arm's axial lag) is kept as the
//! scene says.
//!
//! An `online` behaviour runs the scene's trajectory under its online supervisor (`[plan]
//! mode = "online"`: re-plans of the rest of the stroke when the patient moves, the needle
//! stalls or the force drops), each re-plan a fixed number of iterations (the same decisions
//! on any machine; the re-plans' latencies in the row are this machine's). With
//! `plan_iterations` it supervises the plan a `plan` behaviour would make instead of the
//! scene's stroke.
//!
//! `[perturbation]` makes the patient differ from what the robot believes it to be (the
//! arm moving in a share of the cases, the needle's tip off its place, an image
//! registration error, noise on the force sensor): see [`crate::perturbation`]. The
//! planner and the supervisor are built from the belief; every case runs on the truth.
//!
//! The output folder holds `trial.json` (the trial's text and the runner's version: a restart
//! with another trial is refused), `rows.jsonl` (one line per finished row, written and
//! flushed as each finishes, so a killed run keeps them and a restart runs only the rest) and,
//! once every row is there, `results.csv` and `results.parquet` (one row per case and
//! behaviour, in case order; the same columns, typed in the Parquet file) and
//! `summary.json` / `summary.md` (pass rate per behaviour with Wilson 95 % intervals, the
//! failed criteria ranked). Rows have the same values whatever the order or the number of
//! threads they ran on (the CPU backend gives the same bits on any team; each case runs on
//! one thread).

use crate::executor::Executor;
use crate::perturbation::{is_perturbation, Perturbation};
use crate::{Case, Design, TrialError, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;
use vesalius_cosim::engine::scene::overrides::Override;
use vesalius_cosim::engine::solver::Threads;
use vesalius_cosim::plan::{
    run_supervised, PlanMode, PlanOptions, Supervisor, SupervisorSummary, Variable,
};
use vesalius_cosim::{BackendKind, CoSim, CoSimScene, PredictOptions};

/// A robot behaviour a trial runs every case with.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Its name in the table.
    pub name: String,
    /// What the robot does.
    pub kind: BehaviourKind,
    /// `plan`: iterations of the scene's planner (default [`DEFAULT_PLAN_ITERATIONS`]);
    /// `online`: of each re-plan (default [`DEFAULT_REPLAN_ITERATIONS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    /// `online` only: plan the insertion first with this many iterations (as `plan` does)
    /// and supervise that plan instead of the scene's stroke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_iterations: Option<u64>,
}

/// What a behaviour does.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BehaviourKind {
    /// The scene's own trajectory, as it is.
    Fixed,
    /// The scene's planner on each case's anatomy, then its plan (module docs).
    Plan,
    /// The scene's trajectory under its online supervisor (module docs).
    Online,
}

/// Iterations of a `plan` behaviour's planner when the trial does not say.
pub const DEFAULT_PLAN_ITERATIONS: u64 = 20;

/// Iterations of each re-plan of an `online` behaviour when the trial does not say.
pub const DEFAULT_REPLAN_ITERATIONS: u64 = 4;

/// Simulated seconds an `online` behaviour supervising a plan runs beyond the plan's
/// insertion (its pauses and re-planned strokes), unless `run.duration` says otherwise.
pub const SUPERVISED_EXTRA_TIME: f64 = 1.0;

/// `[run]`: how each case runs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Simulated seconds of each case (default: the scene's duration).
    pub duration: Option<f64>,
    /// Changes to the scene for every case (`KEY=VALUE`, as `vesalius run --set` takes
    /// them), made before the case's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
}

/// What a trial file holds beside its design.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrialTail {
    scene: PathBuf,
    behaviour: Vec<Behaviour>,
    #[serde(default)]
    run: RunSpec,
}

/// A trial: a design, the scene its cases change, the behaviours.
#[derive(Clone, Debug)]
pub struct Trial {
    /// The trial file.
    pub path: PathBuf,
    /// Its text (kept in the output folder, to refuse resuming another trial there).
    pub text: String,
    /// The scene file (resolved against the trial file's folder, absolute).
    pub scene_path: PathBuf,
    /// The scene's text.
    pub scene_text: String,
    /// Cases and their parameters.
    pub design: Design,
    /// Behaviours, each run on every case.
    pub behaviours: Vec<Behaviour>,
    /// How each case runs.
    pub run: RunSpec,
    /// `run.set`, read.
    set: Vec<Override>,
    /// The scene's `needle.tip` (after `run.set`), for `perturbation.needle`.
    needle_tip: Option<[f64; 3]>,
    /// A cohort of mesh files (`cohort.meshes`): the scene's `[mesh]` table each case's
    /// file replaces (its generator dropped, its other keys kept), and each file as the
    /// trial names it with its absolute path.
    mesh_files: Option<(toml::Table, BTreeMap<String, PathBuf>)>,
}

/// Checks a cohort of mesh files: no generator parameter beside it, every file there.
/// Returns the scene's `[mesh]` table without its generator and each file's absolute path
/// (relative ones are relative to the trial file's folder, `base`).
fn mesh_cohort(
    design: &Design,
    param: &crate::Param,
    base: &Path,
    scene_text: &str,
) -> Result<(toml::Table, BTreeMap<String, PathBuf>), String> {
    if let Some(other) = design
        .params()
        .keys()
        .find(|k| k.starts_with("cohort.") && *k != "cohort.mesh")
    {
        return Err(format!(
            "{other}: a cohort of mesh files (cohort.meshes) has no generator to give \
             `{}` to; draw it in the files, or use the scene's generator without meshes",
            &other["cohort.".len()..]
        ));
    }
    let crate::Param::Fixed { values, .. } = param else {
        unreachable!("cohort.mesh is made from cohort.meshes, a fixed list")
    };
    let mut files = BTreeMap::new();
    for v in values {
        let name = v.as_str().expect("cohort.meshes holds strings");
        let path = base.join(name);
        if !path.is_file() {
            return Err(format!(
                "cohort.meshes: `{name}` ({}) is not a file",
                path.display()
            ));
        }
        files.insert(name.to_string(), path);
    }
    let doc: toml::Table = toml::from_str(scene_text).map_err(|e| e.to_string())?;
    let mut mesh = match doc.get("mesh") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => toml::Table::new(),
    };
    mesh.remove("generator");
    Ok((mesh, files))
}

/// One row of the result table: one case with one behaviour.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Row {
    /// `<case id>/<behaviour>`.
    pub id: String,
    /// The case.
    pub case: Case,
    /// The behaviour's name.
    pub behaviour: String,
    /// The scene's verdict (false for an error).
    pub passed: bool,
    /// The criteria that failed, by kind (`final_tip_region`, `physical_sanity`, ...).
    pub failed: Vec<String>,
    /// Needle events as `time:description`, in order.
    pub events: Vec<String>,
    /// Largest tool force over the run (N, over the tools).
    pub peak_force: Option<f64>,
    /// Largest damaged volume fraction over the regions.
    pub peak_damaged_fraction: Option<f64>,
    /// The guard that stopped the run, if one did.
    pub guard: Option<String>,
    /// Simulated time (s).
    pub simulated_time: f64,
    /// Wall time of the case (s).
    pub wall_time: f64,
    /// Backend of the run.
    pub backend: String,
    /// Why the case has no verdict (the scene refused the draw, the run failed).
    pub error: Option<String>,
    /// A `plan` behaviour's plan: its decision variables by key (`pitch_deg`, `depth`, ...)
    /// and its cost on the planning model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlannedRow>,
    /// An `online` behaviour's supervisor: its re-plans (latencies on this machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<SupervisorSummary>,
}

/// What a `plan` behaviour chose for a case.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct PlannedRow {
    /// The decision variables, by key.
    pub variables: BTreeMap<String, f64>,
    /// Its cost on the planning model.
    pub planning_cost: f64,
    /// Whether it passed on the planning model (the robot's prediction; the row's `passed`
    /// is the patient's outcome).
    pub planning_passed: bool,
    /// Planner iterations.
    pub iterations: u64,
}

/// A trial that cannot run (the file, the output folder).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The trial file: syntax, a key, a value.
    #[error("{path}: {message}")]
    File {
        /// The trial file.
        path: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The design.
    #[error("{path}: {source}")]
    Design {
        /// The trial file.
        path: String,
        /// What the design said.
        source: TrialError,
    },
    /// The output folder.
    #[error("{path}: {message}")]
    Output {
        /// The folder or file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The Ray cluster: unreachable, the driver missing, rows lost past their retries.
    #[error("Ray at {address}: {message}")]
    Ray {
        /// The cluster's address as given.
        address: String,
        /// What went wrong (and the driver's last words).
        message: String,
    },
}

impl Trial {
    /// Reads a trial file and the scene it names, and checks both (every case's scene is
    /// checked again when the case runs, with its draws).
    pub fn load(path: &Path) -> Result<Self, RunError> {
        let file_err = |message: String| RunError::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        let mut doc: toml::Table = toml::from_str(&text).map_err(|e| file_err(e.to_string()))?;
        let mut tail = toml::Table::new();
        for key in ["scene", "behaviour", "run"] {
            if let Some(v) = doc.remove(key) {
                tail.insert(key.into(), v);
            }
        }
        let tail: TrialTail = toml::Value::Table(tail)
            .try_into()
            .map_err(|e: toml::de::Error| file_err(e.message().to_string()))?;
        let design = Design::from_table(&doc).map_err(|source| RunError::Design {
            path: path.display().to_string(),
            source,
        })?;
        if tail.behaviour.is_empty() {
            return Err(file_err("behaviour: no behaviour to run".into()));
        }
        let mut names = BTreeSet::new();
        for b in &tail.behaviour {
            let ok = !b.name.is_empty()
                && b.name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(file_err(format!(
                    "behaviour.name: `{}` is not a name (letters, digits, _ and -)",
                    b.name
                )));
            }
            if !names.insert(&b.name) {
                return Err(file_err(format!("behaviour.name: `{}` twice", b.name)));
            }
            match (b.kind, b.iterations) {
                (BehaviourKind::Fixed, Some(_)) => {
                    return Err(file_err(format!(
                        "behaviour `{}`: iterations is for kind = \"plan\" or \"online\"",
                        b.name
                    )))
                }
                (BehaviourKind::Plan | BehaviourKind::Online, Some(0)) => {
                    return Err(file_err(format!(
                        "behaviour `{}`: iterations must be at least 1",
                        b.name
                    )))
                }
                _ => {}
            }
            match (b.kind, b.plan_iterations) {
                (BehaviourKind::Fixed | BehaviourKind::Plan, Some(_)) => {
                    return Err(file_err(format!(
                        "behaviour `{}`: plan_iterations is for kind = \"online\" (a plan \
                         behaviour's are `iterations`)",
                        b.name
                    )))
                }
                (BehaviourKind::Online, Some(0)) => {
                    return Err(file_err(format!(
                        "behaviour `{}`: plan_iterations must be at least 1",
                        b.name
                    )))
                }
                _ => {}
            }
        }
        if let Some(d) = tail.run.duration {
            if !(d.is_finite() && d > 0.0) {
                return Err(file_err(format!(
                    "run.duration: {d} is not a positive time"
                )));
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        // Absolute: a row's messages name the scene the same way wherever it ran (a Ray
        // worker reads the trial by its absolute path).
        let scene_path = base.join(&tail.scene);
        let scene_path = std::fs::canonicalize(&scene_path).unwrap_or(scene_path);
        let scene_text = std::fs::read_to_string(&scene_path)
            .map_err(|e| file_err(format!("scene: {}: {e}", scene_path.display())))?;
        let set = tail
            .run
            .set
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.parse::<Override>()
                    .map_err(|e| file_err(format!("run.set[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let scene = CoSimScene::parse_with(&scene_text, &scene_path, &set)
            .map_err(|e| file_err(format!("scene (with run.set): {e}")))?;
        let needle_tip = scene.file.needle.as_ref().map(|n| n.tip);
        let needle_drawn = ["x", "y", "z"].iter().any(|k| {
            design
                .params()
                .contains_key(&format!("perturbation.needle.{k}"))
        });
        if needle_drawn && needle_tip.is_none() {
            return Err(file_err(format!(
                "perturbation.needle: {} has no [needle] to move the tip of",
                scene_path.display()
            )));
        }
        let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
        let mesh_files = match design.params().get("cohort.mesh") {
            None => None,
            Some(param) => Some(mesh_cohort(&design, param, &base, &scene_text).map_err(file_err)?),
        };
        // What each behaviour needs of the scene.
        let mode = scene.file.plan.as_ref().map(|p| p.mode);
        for b in &tail.behaviour {
            let missing = match b.kind {
                BehaviourKind::Plan if mode.is_none() => Some(("plan", "a [plan] table")),
                BehaviourKind::Online if mode != Some(PlanMode::Online) => {
                    Some(("online", "[plan] mode = \"online\""))
                }
                _ => None,
            };
            if let Some((kind, what)) = missing {
                return Err(file_err(format!(
                    "behaviour `{}`: kind = \"{kind}\" needs a scene with {what}; {} has none",
                    b.name,
                    scene_path.display()
                )));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            text,
            scene_path,
            scene_text,
            design,
            behaviours: tail.behaviour,
            run: tail.run,
            set,
            needle_tip,
            mesh_files,
        })
    }

    /// Every row's id, in table order (case index, repetition, behaviour).
    pub fn row_ids(&self) -> Vec<String> {
        let cases = self.design.cases();
        cases
            .iter()
            .flat_map(|c| self.behaviours.iter().map(move |b| row_id(c, b)))
            .collect()
    }

    /// The case and behaviour of a row id (`c0003-r0/fixed`).
    pub fn row(&self, id: &str) -> Option<(Case, &Behaviour)> {
        let (case, behaviour) = id.split_once('/')?;
        let b = self.behaviours.iter().find(|b| b.name == behaviour)?;
        let c = self.design.cases().into_iter().find(|c| c.id == case)?;
        Some((c, b))
    }

    /// A digest of the trial's text, its scene's and the runner's version: two processes
    /// (a Ray driver and its workers, on other machines) with the same fingerprint make the
    /// same rows. FNV-1a (64 bit), written out: a stable, portable hash of a few kB, where
    /// std's hasher may change between Rust releases and a cryptographic crate is not
    /// needed (this guards against a stale copy, not an adversary).
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for part in [
            self.text.as_str(),
            self.scene_text.as_str(),
            env!("CARGO_PKG_VERSION"),
        ] {
            for b in part.bytes().chain([0xff]) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }

    /// Runs one case with one behaviour; an error is the row's, never the caller's.
    pub fn run_case(&self, case: &Case, behaviour: &Behaviour) -> Row {
        let clock = Instant::now();
        let mut row = Row {
            id: row_id(case, behaviour),
            case: case.clone(),
            behaviour: behaviour.name.clone(),
            passed: false,
            failed: Vec::new(),
            events: Vec::new(),
            peak_force: None,
            peak_damaged_fraction: None,
            guard: None,
            simulated_time: 0.0,
            wall_time: 0.0,
            backend: String::new(),
            error: None,
            plan: None,
            supervisor: None,
        };
        let perturbation = Perturbation::of(case);
        let mut planned = None;
        let mut supervised = None;
        let result = self
            .scenes(case, &perturbation)
            .and_then(|(belief, truth)| {
                let options = PredictOptions {
                    backend: Some(BackendKind::Cpu),
                    threads: Some(Threads::fixed(1).expect("one thread")),
                    duration: self.run.duration,
                    ..Default::default()
                };
                // The plan a `plan` behaviour makes, or an `online` one with plan_iterations.
                let iterations = match behaviour.kind {
                    BehaviourKind::Fixed => None,
                    BehaviourKind::Plan => {
                        Some(behaviour.iterations.unwrap_or(DEFAULT_PLAN_ITERATIONS))
                    }
                    BehaviourKind::Online => behaviour.plan_iterations,
                };
                let plan = match iterations {
                    None => None,
                    Some(n) => {
                        let plan = vesalius_cosim::plan::plan(
                            &belief,
                            &PlanOptions {
                                // The iteration count ends the plan, not the clock.
                                budget: Some(Duration::from_secs(24 * 3600)),
                                seed: Some(case.seed),
                                iterations: Some(n),
                                predict: options.clone(),
                                validate: Some(0),
                                registration: (perturbation.registration != glam::DVec3::ZERO)
                                    .then_some(perturbation.registration),
                            },
                        )?;
                        planned = Some(PlannedRow {
                            variables: Variable::ALL
                                .iter()
                                .zip(plan.trajectory_variables())
                                .map(|(v, x)| (v.key().to_string(), x))
                                .collect(),
                            planning_cost: plan.best.cost.total,
                            planning_passed: plan.best.passed,
                            iterations: plan.iterations,
                        });
                        Some(plan)
                    }
                };
                // A plan's run lasts as long as its insertion; under the supervisor, longer by
                // the time its pauses and re-planned strokes take.
                let slack = match behaviour.kind {
                    BehaviourKind::Online => SUPERVISED_EXTRA_TIME,
                    _ => 0.0,
                };
                let options = PredictOptions {
                    duration: self
                        .run
                        .duration
                        .or(plan.as_ref().map(|p| p.insertion.duration + slack)),
                    ..options
                };
                let trajectory = plan.as_ref().map(|p| &p.trajectory);
                match behaviour.kind {
                    BehaviourKind::Fixed | BehaviourKind::Plan => {
                        vesalius_cosim::predict(&truth, trajectory, &options)
                    }
                    BehaviourKind::Online => {
                        let sim = match trajectory {
                            Some(t) => CoSim::with_trajectory(&truth, t, &options)?,
                            None => CoSim::new(&truth, &options)?,
                        };
                        let mut sup = Supervisor::new(&belief, sim.end_time())?;
                        sup.set_iterations(Some(
                            behaviour.iterations.unwrap_or(DEFAULT_REPLAN_ITERATIONS),
                        ));
                        if perturbation.registration != glam::DVec3::ZERO {
                            sup.set_registration_error(perturbation.registration);
                        }
                        sup.set_force_noise(perturbation.force_noise, case.seed)
                            .map_err(|m| {
                                truth.invalid(format!("perturbation.force_noise.sd: {m}"))
                            })?;
                        let report = run_supervised(sim, &mut sup, |_, _| {})?;
                        supervised = Some(sup.summary());
                        Ok(report)
                    }
                }
            });
        match result {
            Ok(report) => {
                row.passed = report.verdict.passed;
                row.failed = report
                    .verdict
                    .failed()
                    .map(|c| {
                        serde_json::to_value(&c.criterion)
                            .ok()
                            .and_then(|v| v["kind"].as_str().map(String::from))
                            .unwrap_or_else(|| format!("{:?}", c.criterion))
                    })
                    .collect();
                row.events = report
                    .events
                    .iter()
                    .map(|e| format!("{:.4}:{}", e.time, e.description))
                    .collect();
                row.peak_force = report.peak_force.iter().copied().reduce(f64::max);
                row.peak_damaged_fraction = report
                    .peak_damaged_fraction
                    .iter()
                    .copied()
                    .reduce(f64::max);
                row.guard = report.guard_breach.as_ref().map(|b| b.to_string());
                row.simulated_time = report.simulated_time;
                row.backend = report.backend.clone();
            }
            Err(e) => row.error = Some(e.to_string()),
        }
        row.plan = planned;
        row.supervisor = supervised;
        row.wall_time = clock.elapsed().as_secs_f64();
        row
    }
}

/// A row's id: the case's and the behaviour's.
fn row_id(case: &Case, behaviour: &Behaviour) -> String {
    format!("{}/{}", case.id, behaviour.name)
}

impl Trial {
    /// The scenes of a case: the robot's belief (`run.set` and the case's anatomy and
    /// materials, [`Trial::overrides`]) and the truth it runs on (the belief with the
    /// case's patient motion and needle placement, [`crate::perturbation`]).
    pub fn scenes(
        &self,
        case: &Case,
        perturbation: &Perturbation,
    ) -> Result<(CoSimScene, CoSimScene), vesalius_cosim::CoSimError> {
        let mut changes = self.set.clone();
        changes.extend(self.overrides(case));
        let belief = CoSimScene::parse_with(&self.scene_text, &self.scene_path, &changes)?;
        let truth_changes = perturbation
            .truth_overrides(self.needle_tip)
            .map_err(|m| belief.invalid(m))?;
        if truth_changes.is_empty() {
            return Ok((belief.clone(), belief));
        }
        changes.extend(truth_changes);
        let truth = CoSimScene::parse_with(&self.scene_text, &self.scene_path, &changes)?;
        Ok((belief, truth))
    }

    /// The scene changes a case's anatomy and materials stand for: `cohort.mesh` replaces
    /// the scene's `[mesh]` by that file (absolute), `cohort.<name>` sets
    /// `mesh.generator.<name>`, any other parameter but a perturbation the scene key of its
    /// name.
    pub fn overrides(&self, case: &Case) -> Vec<Override> {
        case.values
            .iter()
            .filter(|(name, _)| !is_perturbation(name))
            .map(|(name, value)| {
                if let (Some((mesh, files)), Value::Text(file)) = (&self.mesh_files, value) {
                    if name == "cohort.mesh" {
                        let mut mesh = mesh.clone();
                        let path = files[file.as_str()].display().to_string();
                        mesh.insert("file".into(), toml::Value::String(path));
                        return Override::new("mesh", toml::Value::Table(mesh));
                    }
                }
                let key = match name.strip_prefix("cohort.") {
                    Some(rest) => format!("mesh.generator.{rest}"),
                    None => name.clone(),
                };
                let value = match value {
                    Value::Number(x) => toml::Value::Float(*x),
                    Value::Text(s) => toml::Value::String(s.clone()),
                };
                Override::new(key, value)
            })
            .collect()
    }
}

/// What [`run`] did.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Every row, in table order.
    pub rows: Vec<Row>,
    /// Rows run now (the rest were in the journal from an earlier run).
    pub ran: usize,
}

/// Runs the rows of `trial` that `out` does not hold yet (all of them in a new folder) on
/// `executor` ([`Local`](crate::executor::Local): this machine's rayon pool;
/// [`Ray`](crate::executor::Ray): a Ray cluster), calling
/// `progress(row, done, total)` as each finishes; then writes the table and the summaries.
/// Rows are journalled as they come back, so an executor that fails midway (a lost
/// cluster) keeps what finished, and writes no table. `only`: run just these row or case ids (`c0003-r0` runs its
/// every behaviour) again, whether or not the journal holds them, and leave the journal and
/// the table as they are.
pub fn run(
    trial: &Trial,
    out: &Path,
    only: Option<&[String]>,
    executor: &dyn Executor,
    progress: impl Fn(&Row, usize, usize) + Sync,
) -> Result<RunOutcome, RunError> {
    let out_err = |p: &Path, message: String| RunError::Output {
        path: p.display().to_string(),
        message,
    };
    std::fs::create_dir_all(out).map_err(|e| out_err(out, e.to_string()))?;
    let stamp = out.join("trial.json");
    let mine = serde_json::json!({
        "trial": trial.path.display().to_string(),
        "text": trial.text,
        "scene_text": trial.scene_text,
        "version": env!("CARGO_PKG_VERSION"),
    });
    match std::fs::read_to_string(&stamp) {
        Ok(theirs) => {
            let theirs: serde_json::Value =
                serde_json::from_str(&theirs).map_err(|e| out_err(&stamp, e.to_string()))?;
            if ["text", "scene_text", "version"]
                .iter()
                .any(|k| theirs[k] != mine[k])
            {
                return Err(out_err(
                    out,
                    "holds the results of another trial (its trial file, scene or version \
                     differ); use another --out"
                        .into(),
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(
                &stamp,
                serde_json::to_string_pretty(&mine).expect("json") + "\n",
            )
            .map_err(|e| out_err(&stamp, e.to_string()))?;
        }
        Err(e) => return Err(out_err(&stamp, e.to_string())),
    }
    let journal_path = out.join("rows.jsonl");
    let mut done: BTreeMap<String, Row> = BTreeMap::new();
    if let Ok(f) = std::fs::File::open(&journal_path) {
        for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| out_err(&journal_path, e.to_string()))?;
            // A line cut short by a kill is the last one: that row runs again.
            match serde_json::from_str::<Row>(&line) {
                Ok(row) => {
                    done.insert(row.id.clone(), row);
                }
                Err(_) if line.trim().is_empty() => {}
                Err(e) => log_partial(&journal_path, n + 1, &e),
            }
        }
    }
    let cases = trial.design.cases();
    let wanted = |c: &Case, b: &Behaviour| match only {
        None => true,
        Some(ids) => ids.iter().any(|i| *i == c.id || *i == row_id(c, b)),
    };
    let jobs: Vec<(&Case, &Behaviour)> = cases
        .iter()
        .flat_map(|c| trial.behaviours.iter().map(move |b| (c, b)))
        .filter(|(c, b)| wanted(c, b))
        .collect();
    if jobs.is_empty() {
        return Err(out_err(
            out,
            format!(
                "no row has the id(s) {}",
                only.unwrap_or_default().join(", ")
            ),
        ));
    }
    let pending: Vec<&(&Case, &Behaviour)> = jobs
        .iter()
        .filter(|(c, b)| only.is_some() || !done.contains_key(&row_id(c, b)))
        .collect();
    let journal = Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(|e| out_err(&journal_path, e.to_string()))?,
    );
    let total = jobs.len();
    let finished = std::sync::atomic::AtomicUsize::new(total - pending.len());
    let fresh = Mutex::new(Vec::with_capacity(pending.len()));
    let pending: Vec<(&Case, &Behaviour)> = pending.into_iter().copied().collect();
    executor.execute(trial, &pending, &|row: Row| {
        if only.is_none() {
            let line = serde_json::to_string(&row).expect("a row is JSON");
            let mut f = journal.lock().expect("journal lock");
            writeln!(f, "{line}")
                .and_then(|()| f.flush())
                .map_err(|e| out_err(&journal_path, e.to_string()))?;
        }
        let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(&row, n, total);
        fresh.lock().expect("rows lock").push(row);
        Ok(())
    })?;
    let fresh = fresh.into_inner().expect("rows lock");
    let ran = fresh.len();
    for row in fresh {
        done.insert(row.id.clone(), row);
    }
    // An executor that handed back fewer rows than it was given (it returned Ok) is a bug
    // of the executor; no table is passed off as complete without them.
    let rows: Vec<Row> = jobs
        .iter()
        .map(|(c, b)| {
            done.get(&row_id(c, b))
                .cloned()
                .ok_or_else(|| out_err(out, format!("row {} never came back", row_id(c, b))))
        })
        .collect::<Result<_, _>>()?;
    if only.is_none() {
        write_table(trial, out, &rows)?;
    }
    Ok(RunOutcome { rows, ran })
}

/// A journal line that does not read (cut short by a kill): its row runs again.
fn log_partial(path: &Path, line: usize, e: &serde_json::Error) {
    eprintln!(
        "{}:{line}: an unfinished row ({e}); it runs again",
        path.display()
    );
}

/// Writes `plots/`, then `results.csv`, `results.parquet`, `summary.json` and `summary.md`
/// (each through a temporary file, so none is ever half written).
fn write_table(trial: &Trial, out: &Path, rows: &[Row]) -> Result<(), RunError> {
    let out_err = |p: &Path, message: String| RunError::Output {
        path: p.display().to_string(),
        message,
    };
    let columns = crate::table::columns(trial, rows);
    let parquet = crate::table::parquet(&columns)
        .map_err(|e| out_err(&out.join("results.parquet"), e.to_string()))?;
    let summary = summarize(trial, rows);
    let md = summary_markdown(&summary);
    crate::plots::write(trial, rows, out)
        .map_err(|message| out_err(&out.join("plots"), message))?;
    for (name, bytes) in [
        ("results.csv", crate::table::csv(&columns)),
        ("results.parquet", parquet),
        (
            "summary.json",
            (serde_json::to_string_pretty(&summary).expect("json") + "\n").into_bytes(),
        ),
        ("summary.md", md.into_bytes()),
    ] {
        let path = out.join(name);
        let tmp = out.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| out_err(&path, e.to_string()))?;
    }
    Ok(())
}

/// Pass rate of one behaviour.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BehaviourSummary {
    /// The behaviour.
    pub behaviour: String,
    /// Rows.
    pub cases: usize,
    /// Rows that passed.
    pub passed: usize,
    /// Rows with an error (no verdict: counted as not passed).
    pub errors: usize,
    /// passed / cases.
    pub pass_rate: f64,
    /// Wilson score 95 % interval of the pass rate.
    pub wilson_95: [f64; 2],
    /// Mean wall time of a row (s, on one CPU thread): what a case costs, to size a trial.
    pub mean_wall_time_s: f64,
    /// The numeric inputs that most separate the rows that passed from those that failed
    /// (rows with an error left out), most separating first; empty unless both outcomes
    /// occur.
    pub separation: Vec<Separation>,
    /// Failed criteria by kind, most frequent first.
    pub failure_modes: Vec<(String, usize)>,
    /// A `plan` behaviour's rows whose plan passed on the planning model and failed on the
    /// full model: where the robot's prediction was wrong about the patient (`None` for
    /// other behaviours).
    pub plan_misses: Option<usize>,
}

/// The trial's summary.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// The trial file.
    pub trial: String,
    /// Cases of the design (points times repetitions).
    pub cases: usize,
    /// Per behaviour, in the file's order.
    pub behaviours: Vec<BehaviourSummary>,
}

/// How well one numeric input separates passing from failing rows.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Separation {
    /// The input's full name (`cohort.vein_z`).
    pub input: String,
    /// The probability that a passing row's value is above a failing row's (ties count
    /// half): the Mann-Whitney U statistic over the product of the group sizes (the area
    /// under the ROC curve of the input as a predictor of passing). 0.5: no separation; 0 or
    /// 1: the input alone tells the outcome.
    pub auc: f64,
    /// Mean of the input over the passing rows.
    pub mean_passed: f64,
    /// Mean over the failing rows.
    pub mean_failed: f64,
}

/// [`Separation`] of every numeric input of `rows` (without errors), most separating first
/// (by |auc - 0.5|, ties by name); empty unless both outcomes occur.
pub fn separation(rows: &[&Row]) -> Vec<Separation> {
    let rows: Vec<&&Row> = rows.iter().filter(|r| r.error.is_none()).collect();
    let (pass, fail): (Vec<&&Row>, Vec<&&Row>) = rows.iter().partition(|r| r.passed);
    if pass.is_empty() || fail.is_empty() {
        return Vec::new();
    }
    let inputs: BTreeSet<&String> = rows.iter().flat_map(|r| r.case.values.keys()).collect();
    let mut out: Vec<Separation> = inputs
        .into_iter()
        .filter_map(|k| {
            let of = |g: &[&&Row]| -> Option<Vec<f64>> {
                g.iter().map(|r| r.case.values.get(k)?.as_f64()).collect()
            };
            let (p, f) = (of(&pass)?, of(&fail)?);
            // Every pair: the groups are trial-sized (hundreds), not millions.
            let mut u = 0.0;
            for a in &p {
                for b in &f {
                    u += match a.total_cmp(b) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            Some(Separation {
                input: k.clone(),
                auc: u / (p.len() * f.len()) as f64,
                mean_passed: mean(&p),
                mean_failed: mean(&f),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (b.auc - 0.5)
            .abs()
            .total_cmp(&(a.auc - 0.5).abs())
            .then_with(|| a.input.cmp(&b.input))
    });
    out
}

/// Pass rates and failure modes per behaviour.
pub fn summarize(trial: &Trial, rows: &[Row]) -> Summary {
    let behaviours = trial
        .behaviours
        .iter()
        .map(|b| {
            let mine: Vec<&Row> = rows.iter().filter(|r| r.behaviour == b.name).collect();
            let passed = mine.iter().filter(|r| r.passed).count();
            let errors = mine.iter().filter(|r| r.error.is_some()).count();
            let mut modes: BTreeMap<String, usize> = BTreeMap::new();
            for r in &mine {
                for f in &r.failed {
                    *modes.entry(f.clone()).or_default() += 1;
                }
                if r.error.is_some() {
                    *modes.entry("error".into()).or_default() += 1;
                }
            }
            let mut failure_modes: Vec<(String, usize)> = modes.into_iter().collect();
            failure_modes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let n = mine.len();
            BehaviourSummary {
                behaviour: b.name.clone(),
                cases: n,
                passed,
                errors,
                pass_rate: if n > 0 { passed as f64 / n as f64 } else { 0.0 },
                wilson_95: wilson(passed, n, 1.959_963_984_540_054),
                separation: separation(&mine),
                mean_wall_time_s: if n > 0 {
                    mine.iter().map(|r| r.wall_time).sum::<f64>() / n as f64
                } else {
                    0.0
                },
                failure_modes,
                plan_misses: (b.kind == BehaviourKind::Plan).then(|| {
                    mine.iter()
                        .filter(|r| !r.passed && r.plan.as_ref().is_some_and(|p| p.planning_passed))
                        .count()
                }),
            }
        })
        .collect();
    Summary {
        trial: trial.path.display().to_string(),
        cases: trial.design.num_cases() as usize,
        behaviours,
    }
}

/// The Wilson score interval of `k` successes in `n` trials at `z` standard scores (Wilson
/// 1927): it stays inside [0, 1] and is not degenerate at 0 or n successes, unlike the
/// normal approximation.
pub fn wilson(k: usize, n: usize, z: f64) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

/// `summary.md`: the pass-rate table and the failure modes.
fn summary_markdown(s: &Summary) -> String {
    let mut md = format!(
        "# Trial {}\n\n{} cases per behaviour.\n\n| behaviour | passed | pass rate | Wilson 95 % | errors | s per case | failure modes |\n|---|---:|---:|---|---:|---:|---|\n",
        s.trial, s.cases
    );
    for b in &s.behaviours {
        let modes = b
            .failure_modes
            .iter()
            .map(|(m, n)| format!("{m} ({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        md += &format!(
            "| {} | {}/{} | {:.1} % | {:.1}-{:.1} % | {} | {:.1} | {} |\n",
            b.behaviour,
            b.passed,
            b.cases,
            100.0 * b.pass_rate,
            100.0 * b.wilson_95[0],
            100.0 * b.wilson_95[1],
            b.errors,
            b.mean_wall_time_s,
            modes
        );
    }
    for b in &s.behaviours {
        if !b.separation.is_empty() {
            let list = b
                .separation
                .iter()
                .take(3)
                .map(|x| {
                    format!(
                        "`{}` (AUC {:.2}: mean {:.4e} passing, {:.4e} failing)",
                        x.input, x.auc, x.mean_passed, x.mean_failed
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            md += &format!(
                "\n{}: the inputs that most separate pass from fail: {list}.\n",
                b.behaviour
            );
        }
    }
    for b in &s.behaviours {
        if let Some(m) = b.plan_misses {
            md += &format!(
                "\n{}: {m} of {} plans passed on the planning model and failed on the patient.\n",
                b.behaviour, b.cases
            );
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::wilson;

    /// Against the interval as published tables give it (Newcombe 1998, table I: 81/263
    /// gives 0.2553-0.3662) and its limits.
    #[test]
    fn wilson_interval_matches_published_values() {
        let [lo, hi] = wilson(81, 263, 1.959_963_984_540_054);
        assert!(
            (lo - 0.2553).abs() < 5e-4 && (hi - 0.3662).abs() < 5e-4,
            "{lo} {hi}"
        );
        let [lo, hi] = wilson(0, 10, 1.96);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 5e-4, "{hi}");
        assert_eq!(wilson(0, 0, 1.96), [0.0, 1.0]);
    }
}
