//! Planning under a latency budget: an anytime sampling optimizer over a needle insertion's
//! variables (`[plan]`, [`spec`]), rolled out on a cheap planning model and checked on the
//! full co-simulation.
//!
//! ```no_run
//! use vesalius_cosim::plan::{plan, PlanOptions};
//! use vesalius_cosim::CoSimScene;
//! let scene = CoSimScene::load("scenes/phlebotomy_plan.toml".as_ref())?;
//! let result = plan(&scene, &PlanOptions::default())?;
//! println!("best cost {:.3}, passes on the full model: {:?}", result.best.cost.total, result.passed());
//! # Ok::<(), vesalius_cosim::CoSimError>(())
//! ```
//!
//! * [`Planner`]: the scene's planning model, insertion frame and optimizer; [`Planner::plan`]
//!   is one anytime re-plan that returns by its deadline, warm-started from the last.
//! * [`plan`]: one plan within the scene's budget, then validation of the best distinct
//!   candidates on the full model until one passes ([`PlanResult`]).
//! * [`fidelity`]: how often the planning model's verdict agrees with the full model's, and
//!   how well it ranks candidates (Spearman), on random candidates.

pub mod insertion;
pub mod needle_path;
pub mod online;
pub mod optimizer;
pub mod spec;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::coupling::PredictOptions;
use crate::report::Report;
use crate::scene::{CoSimError, CoSimScene};
use crate::trajectory::{SceneRobot, Trajectory};
use insertion::{Insertion, InsertionFrame};
use needle_path::NeedlePathModel;
pub use online::{run_supervised, Decision, Replan, Supervisor, SupervisorSummary, Trigger};
use optimizer::Optimizer;
pub use spec::{
    CostSpec, InsertionSpec, Method, OnlineSpec, PlanMode, PlanSpec, PlanningModel, Variable,
    VariableSpec,
};

/// What [`plan`] may override of the scene's `[plan]`.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Wall-clock budget (default: the scene's).
    pub budget: Option<Duration>,
    /// Seed (default: the scene's).
    pub seed: Option<u64>,
    /// Stop after this many iterations even within the budget (a fixed count makes the
    /// plan independent of the machine's speed: deterministic for a seed).
    pub iterations: Option<u64>,
    /// Full-model runs (backend, threads).
    pub predict: PredictOptions,
    /// Best distinct candidates to validate on the full model (default: the scene's
    /// `plan.validate`; 0: none).
    pub validate: Option<usize>,
    /// Where the planner believes the patient is, relative to the scene (m): an image
    /// registration error, or a tracked move ([`Planner::set_registration`]). The planning
    /// model and the candidates' aim see the anatomy moved by it; full-model runs (the
    /// calibration and the validation) see the scene as it is. `None`: no offset.
    pub registration: Option<glam::DVec3>,
}

/// The cost of a candidate and its terms.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    /// The weighted sum (infinite: the candidate was rejected before a rollout).
    pub total: f64,
    /// Failed checks of the scene's criteria.
    pub failed_checks: usize,
    /// The tip's final distance to the insertion target (m).
    pub target_distance: f64,
    /// How far the tip could go deeper or shallower along its axis and still be in the
    /// goal region (m; 0 outside it): the depth error the plan tolerates. Subtracted.
    pub depth_tolerance: f64,
    /// Peak tool force (N).
    pub peak_force: f64,
    /// Largest damaged volume fraction of a region.
    pub damaged_fraction: f64,
    /// Trajectory duration (s).
    pub duration: f64,
}

impl Cost {
    /// The cost of `report` under `weights`, for a trajectory of `duration` with
    /// `target` the index of the insertion target among the report's targets.
    pub fn of(report: &Report, weights: &CostSpec, target: usize, duration: f64) -> Self {
        let failed_checks = report.verdict.failed().count();
        // A tip that cannot be placed is as far as the patch is large.
        let target_distance = report
            .margins
            .targets
            .get(target)
            .and_then(|t| t.final_distance)
            .unwrap_or(1.0);
        let m = &report.margins;
        let inside = m.final_region_distance.is_some_and(|d| d > 0.0);
        let depth_tolerance = match (m.final_back_wall, m.final_chord) {
            (Some(ahead), Some(chord)) if inside => ahead.min(chord - ahead).max(0.0),
            _ => 0.0,
        };
        let peak_force = report.peak_force.iter().copied().fold(0.0, f64::max);
        let damaged_fraction = report
            .peak_damaged_fraction
            .iter()
            .copied()
            .fold(0.0, f64::max);
        let total = weights.failed_check * failed_checks as f64
            + weights.target_distance * target_distance
            - weights.depth_tolerance * depth_tolerance
            + weights.peak_force * peak_force
            + weights.damaged_fraction * damaged_fraction
            + weights.duration * duration;
        Self {
            total,
            failed_checks,
            target_distance,
            depth_tolerance,
            peak_force,
            damaged_fraction,
            duration,
        }
    }

    fn rejected() -> Self {
        Self {
            total: f64::INFINITY,
            ..Default::default()
        }
    }
}

/// One evaluated candidate.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    /// Its variables, in [`Variable::ALL`] order.
    pub variables: Vec<f64>,
    /// Its cost.
    pub cost: Cost,
    /// Whether the model's verdict passed.
    pub passed: bool,
    /// The model that rolled it out.
    pub model: PlanningModel,
    /// The iteration (of the plan that drew it).
    pub iteration: u64,
    /// Wall time since the plan started when it was done (s).
    pub wall_s: f64,
    /// Why it was rejected without a rollout (IK, joint limits, no entry point).
    pub rejected: Option<String>,
}

/// What one anytime re-plan returns.
#[derive(Clone, Debug)]
pub struct PlanStep {
    /// The best candidate so far (over every re-plan since the last [`Planner::rewarm`]).
    pub best: Candidate,
    /// Every candidate this re-plan evaluated, in order.
    pub candidates: Vec<Candidate>,
    /// Iterations this re-plan ran.
    pub iterations: u64,
    /// Wall time from the call to the return.
    pub latency: Duration,
}

/// The scene's planner: planning model, insertion frame, optimizer state.
pub struct Planner {
    scene: CoSimScene,
    spec: PlanSpec,
    robot: SceneRobot,
    frame: InsertionFrame,
    path_model: Option<NeedlePathModel>,
    model: PlanningModel,
    target: usize,
    optimizer: Optimizer,
    predict: PredictOptions,
    best: Option<Candidate>,
}

impl Planner {
    /// The planner of `scene`'s `[plan]` (an error if it has none), with `options`' seed.
    pub fn new(scene: &CoSimScene, options: &PlanOptions) -> Result<Self, CoSimError> {
        let spec = scene
            .file
            .plan
            .clone()
            .ok_or_else(|| scene.invalid("no [plan] table: nothing to plan"))?;
        spec.check().map_err(|m| scene.invalid(m))?;
        let robot = SceneRobot::load(scene)?;
        let path_model = NeedlePathModel::new(scene)?;
        let targets: Vec<(String, Vec<[f64; 3]>)> = scene
            .file
            .target
            .iter()
            .map(|t| (t.name.clone(), t.points.clone()))
            .collect();
        let faces = path_model.faces();
        let frame = InsertionFrame::new(
            &spec.insertion,
            path_model.tissue(),
            faces,
            &robot,
            &targets,
        )
        .map_err(|m| scene.invalid(m))?;
        let target = targets
            .iter()
            .position(|t| t.0 == spec.insertion.target)
            .unwrap_or(0);
        let (bounds, initial) = spec.bounds();
        let optimizer = Optimizer::new(
            spec.method,
            bounds,
            initial,
            spec.samples,
            spec.elites,
            options.seed.unwrap_or(spec.seed),
        );
        Ok(Self {
            scene: scene.clone(),
            model: spec.model,
            spec,
            robot,
            frame,
            path_model: Some(path_model),
            target,
            optimizer,
            predict: options.predict.clone(),
            best: None,
        })
    }

    /// The `[plan]` this planner follows.
    pub fn spec(&self) -> &PlanSpec {
        &self.spec
    }

    /// The reduced needle-path planning model.
    pub fn path_model(&self) -> &NeedlePathModel {
        self.path_model.as_ref().expect("built with the planner")
    }

    /// The scene's robot as trajectories see it.
    pub fn robot(&self) -> &SceneRobot {
        &self.robot
    }

    /// The insertion and its trajectory for variables `x`.
    pub fn trajectory(&self, x: &[f64]) -> Result<(Insertion, Trajectory), String> {
        let ins = self.frame.insertion(x)?;
        let tr = self.frame.trajectory(&self.robot, &ins)?;
        Ok((ins, tr))
    }

    /// Rolls candidate `x` out on `model` and scores it.
    pub fn evaluate(
        &self,
        x: &[f64],
        model: PlanningModel,
    ) -> Result<(Candidate, Option<Report>), CoSimError> {
        let mut cand = Candidate {
            variables: x.to_vec(),
            cost: Cost::rejected(),
            passed: false,
            model,
            iteration: self.optimizer.iteration(),
            wall_s: 0.0,
            rejected: None,
        };
        let (ins, tr) = match self.trajectory(x) {
            Ok(t) => t,
            Err(e) => {
                cand.rejected = Some(e);
                return Ok((cand, None));
            }
        };
        let report = match model {
            PlanningModel::NeedlePath => self
                .path_model
                .as_ref()
                .expect("built with the planner")
                .rollout(&tr, ins.duration)?,
            PlanningModel::Full => {
                let mut opts = self.predict.clone();
                opts.duration = Some(ins.duration);
                crate::predict(&self.scene, Some(&tr), &opts)?
            }
        };
        cand.cost = Cost::of(&report, &self.spec.cost, self.target, ins.duration);
        cand.passed = report.verdict.passed;
        Ok((cand, Some(report)))
    }

    /// One anytime re-plan: iterations of the optimizer until `budget` is spent (or
    /// `iterations` have run); returns by the deadline plus the candidates in flight.
    /// The incumbent is among every iteration's candidates, so the best never worsens.
    pub fn plan(
        &mut self,
        budget: Duration,
        iterations: Option<u64>,
    ) -> Result<PlanStep, CoSimError> {
        let start = Instant::now();
        let deadline = start + budget;
        let mut all = Vec::new();
        let mut ran = 0;
        while iterations.is_none_or(|n| ran < n) {
            let xs = self.optimizer.ask();
            let model = self.model;
            // Every candidate checks the deadline before it starts (one costs well under a
            // millisecond on the planning model); the results are taken in candidate order
            // up to the first one that did not start.
            let done: Vec<Option<Result<(Candidate, f64), CoSimError>>> = {
                use rayon::prelude::*;
                let this = &*self;
                xs.par_iter()
                    .map(|x| {
                        if Instant::now() >= deadline {
                            return None;
                        }
                        Some(
                            this.evaluate(x, model)
                                .map(|c| (c.0, start.elapsed().as_secs_f64())),
                        )
                    })
                    .collect()
            };
            let mut costs = Vec::with_capacity(xs.len());
            let mut cut = false;
            for d in done {
                let Some(r) = d else {
                    cut = true;
                    break;
                };
                let (mut c, wall) = r?;
                c.wall_s = wall;
                costs.push(c.cost.total);
                if self
                    .best
                    .as_ref()
                    .is_none_or(|b| c.cost.total < b.cost.total)
                {
                    self.best = Some(c.clone());
                }
                all.push(c);
            }
            self.optimizer.tell(&xs[..costs.len()], &costs);
            if !cut {
                ran += 1;
            }
            if cut || Instant::now() >= deadline {
                break;
            }
        }
        let best = self.best.clone().unwrap_or_else(|| Candidate {
            variables: self.spec.bounds().1,
            cost: Cost::rejected(),
            passed: false,
            model: self.model,
            iteration: 0,
            wall_s: 0.0,
            rejected: Some("no candidate finished within the budget".into()),
        });
        Ok(PlanStep {
            best,
            candidates: all,
            iterations: ran,
            latency: start.elapsed(),
        })
    }

    /// Runs candidate `x` on the full model and fits the planning model's axial lag to it:
    /// how far short of its kinematic end the tip ended in the tissue's material, along the
    /// needle. Returns the full-model candidate and the lag (`None`: the tip ended outside
    /// the tissue, nothing to fit).
    pub fn calibrate(&mut self, x: &[f64]) -> Result<(Candidate, Option<f64>), CoSimError> {
        let (cand, report) = self.evaluate(x, PlanningModel::Full)?;
        let (Some(report), Ok((_, tr))) = (report, self.trajectory(x)) else {
            return Ok((cand, None));
        };
        let Some(material) = report.final_tip_rest else {
            return Ok((cand, None));
        };
        let model = self.path_model.as_mut().expect("built with the planner");
        let q = tr.spline().waypoints().last().cloned().unwrap_or_default();
        let (kinematic, axis) = model.tip_and_axis(&q)?;
        let lag = (kinematic - glam::DVec3::from_array(material))
            .dot(axis)
            .max(0.0);
        model.set_axial_lag(lag);
        // The incumbent's cost was on the old model.
        self.optimizer.rewarm();
        self.best = None;
        Ok((cand, Some(lag)))
    }

    /// The planning model's calibrated axial lag (m).
    pub fn axial_lag(&self) -> f64 {
        self.path_model.as_ref().map_or(0.0, |m| m.axial_lag())
    }

    /// The insertion for variables `x` started at `t0` from joints `from`, its approach
    /// reached `transition` s later ([`InsertionFrame::trajectory_from`]).
    pub fn trajectory_from(
        &self,
        x: &[f64],
        t0: f64,
        from: &[(crate::trajectory::JointHandle, f64)],
        transition: f64,
    ) -> Result<(Insertion, Trajectory), String> {
        let ins = self.frame.insertion(x)?;
        let tr = self
            .frame
            .trajectory_from(&self.robot, &ins, t0, from, transition)?;
        Ok((ins, tr))
    }

    /// The cost of a joint trajectory on the planning model (registered as
    /// [`Planner::set_registration`] says), judged until `duration`.
    pub fn cost_of(
        &self,
        spline: &vesalius_robot::prelude::JointTrajectory,
        duration: f64,
    ) -> Result<Cost, CoSimError> {
        let model = self.path_model.as_ref().expect("built with the planner");
        let report = model.rollout_spline(spline, duration)?;
        let duration = duration.max(spline.end_time());
        Ok(Cost::of(&report, &self.spec.cost, self.target, duration))
    }

    /// The patient has moved rigidly by `offset` (m) from the rest configuration (a tracker
    /// on the arm): candidates aim at the tissue where it is now, and the planning model walks
    /// them through it there. The incumbent is kept as the warm start, evaluated again.
    pub fn set_registration(&mut self, offset: glam::DVec3) {
        self.frame.set_registration(offset);
        if let Some(m) = self.path_model.as_mut() {
            m.set_registration(offset);
        }
        self.rewarm();
    }

    /// The world changed (a re-plan from a new state): the incumbent is kept as the warm
    /// start but evaluated again.
    pub fn rewarm(&mut self) {
        self.optimizer.rewarm();
        self.best = None;
    }
}

/// A plan and its check on the full model.
#[derive(Clone, Debug)]
pub struct PlanResult {
    /// The plan's best candidate on the planning model.
    pub best: Candidate,
    /// The candidate that passed on the full model, or the best if none did (the first
    /// validated); `None` without validation.
    pub chosen: Option<Candidate>,
    /// Its insertion and trajectory.
    pub insertion: Insertion,
    /// The trajectory to run.
    pub trajectory: Trajectory,
    /// Every candidate of the plan, and the validations (model = full) after them.
    pub candidates: Vec<Candidate>,
    /// Each candidate's insertion (its needle line: entry, direction, aim), beside
    /// [`PlanResult::candidates`]; `None` where it has none (no entry point).
    pub candidate_insertions: Vec<Option<Insertion>>,
    /// The full model's report of the chosen plan (`None` without validation).
    pub full_report: Option<Report>,
    /// Iterations of the plan.
    pub iterations: u64,
    /// The planning model's axial lag fitted on the full model before planning (m).
    pub axial_lag: Option<f64>,
    /// Wall time of the plan alone (the budgeted part).
    pub latency: Duration,
}

impl PlanResult {
    /// The variables of the trajectory returned (the chosen candidate's, else the best's).
    pub fn trajectory_variables(&self) -> Vec<f64> {
        self.chosen.as_ref().unwrap_or(&self.best).variables.clone()
    }

    /// Whether the chosen plan passed on the full model (`None`: not validated).
    pub fn passed(&self) -> Option<bool> {
        self.full_report.as_ref().map(|r| r.verdict.passed)
    }
}

/// Plans `scene` within its budget, then validates the best distinct candidates on the full
/// model (best first) until one passes. A plan that cannot pass returns its best with the
/// failing report: it never claims success.
pub fn plan(scene: &CoSimScene, options: &PlanOptions) -> Result<PlanResult, CoSimError> {
    let mut planner = Planner::new(scene, options)?;
    if let Some(offset) = options.registration {
        planner.set_registration(offset);
    }
    let budget = match options.budget {
        Some(b) => b,
        None => planner.spec.budget().map_err(|m| scene.invalid(m))?,
    };
    let mut candidates = Vec::new();
    let mut axial_lag = None;
    if planner.spec.calibrate && planner.model == PlanningModel::NeedlePath {
        let (_, initial) = planner.spec.bounds();
        let (c, lag) = planner.calibrate(&initial)?;
        candidates.push(c);
        axial_lag = lag;
    }
    let step = planner.plan(budget, options.iterations)?;
    candidates.extend(step.candidates.iter().cloned());
    let validate = options.validate.unwrap_or(planner.spec.validate);
    // Best distinct passing-on-the-planning-model candidates first, then the rest.
    let mut ranked: Vec<&Candidate> = step
        .candidates
        .iter()
        .filter(|c| c.cost.total.is_finite())
        .collect();
    ranked.sort_by(|a, b| a.cost.total.total_cmp(&b.cost.total));
    let mut distinct: Vec<&Candidate> = Vec::new();
    for c in ranked {
        if distinct.len() >= validate {
            break;
        }
        if !distinct.iter().any(|d| d.variables == c.variables) {
            distinct.push(c);
        }
    }
    let mut chosen: Option<(Candidate, Report)> = None;
    for c in distinct {
        let (mut full, report) = planner.evaluate(&c.variables, PlanningModel::Full)?;
        full.iteration = c.iteration;
        candidates.push(full.clone());
        let Some(report) = report else { continue };
        let passed = report.verdict.passed;
        if chosen.is_none() || passed {
            chosen = Some((full, report));
        }
        if passed {
            break;
        }
    }
    let x = chosen
        .as_ref()
        .map_or(step.best.variables.clone(), |c| c.0.variables.clone());
    let (insertion, trajectory) = planner
        .trajectory(&x)
        .map_err(|m| scene.invalid(format!("plan: the best candidate has no trajectory: {m}")))?;
    let (chosen, full_report) = match chosen {
        Some((c, r)) => (Some(c), Some(r)),
        None => (None, None),
    };
    let candidate_insertions = candidates
        .iter()
        .map(|c| planner.frame.insertion(&c.variables).ok())
        .collect();
    Ok(PlanResult {
        best: step.best,
        chosen,
        insertion,
        trajectory,
        candidates,
        candidate_insertions,
        full_report,
        iterations: step.iterations,
        axial_lag,
        latency: step.latency,
    })
}

/// The planning model against the full model on random candidates.
#[derive(Clone, Debug, Serialize)]
pub struct Fidelity {
    /// Candidates rolled out on both models (feasible ones).
    pub candidates: usize,
    /// Drawn candidates rejected before a rollout (IK, limits).
    pub rejected: usize,
    /// Fraction whose verdicts agree.
    pub verdict_agreement: f64,
    /// Spearman rank correlation of the costs.
    pub spearman: f64,
    /// Mean wall time of a planning rollout and of a full rollout (s).
    pub planning_rollout_s: f64,
    /// Mean wall time of a full rollout (s).
    pub full_rollout_s: f64,
    /// Per candidate: variables, planning cost and verdict, full cost and verdict.
    pub pairs: Vec<FidelityPair>,
}

/// One candidate on both models.
#[derive(Clone, Debug, Serialize)]
pub struct FidelityPair {
    /// Variables.
    pub variables: Vec<f64>,
    /// The planning model's cost and verdict.
    pub planning: (f64, bool),
    /// The full model's.
    pub full: (f64, bool),
}

/// Rolls `n` feasible candidates, drawn uniformly within the scene's bounds (keyed by
/// `seed`), out on the planning model and on the full model; `progress` sees each pair.
pub fn fidelity(
    scene: &CoSimScene,
    n: usize,
    seed: u64,
    options: &PlanOptions,
    mut progress: impl FnMut(&FidelityPair),
) -> Result<Fidelity, CoSimError> {
    let mut planner = Planner::new(scene, options)?;
    let (bounds, initial) = planner.spec.bounds();
    if planner.spec.calibrate {
        planner.calibrate(&initial)?;
    }
    let mut pairs = Vec::new();
    let mut rejected = 0;
    let (mut tp, mut tf) = (0.0, 0.0);
    let mut j = 0u64;
    while pairs.len() < n && j < 100 * n as u64 + 100 {
        let x: Vec<f64> = bounds
            .iter()
            .enumerate()
            .map(|(d, (lo, hi))| lo + (hi - lo) * optimizer::uniform(seed, u64::MAX, j, d as u64))
            .collect();
        j += 1;
        let clock = Instant::now();
        let (p, _) = planner.evaluate(&x, PlanningModel::NeedlePath)?;
        let dp = clock.elapsed().as_secs_f64();
        if p.rejected.is_some() {
            rejected += 1;
            continue;
        }
        let clock = Instant::now();
        let (f, _) = planner.evaluate(&x, PlanningModel::Full)?;
        tf += clock.elapsed().as_secs_f64();
        tp += dp;
        let pair = FidelityPair {
            variables: x,
            planning: (p.cost.total, p.passed),
            full: (f.cost.total, f.passed),
        };
        progress(&pair);
        pairs.push(pair);
    }
    let m = pairs.len().max(1) as f64;
    let agree = pairs.iter().filter(|p| p.planning.1 == p.full.1).count() as f64 / m;
    let a: Vec<f64> = pairs.iter().map(|p| p.planning.0).collect();
    let b: Vec<f64> = pairs.iter().map(|p| p.full.0).collect();
    Ok(Fidelity {
        candidates: pairs.len(),
        rejected,
        verdict_agreement: agree,
        spearman: spearman(&a, &b),
        planning_rollout_s: tp / m,
        full_rollout_s: tf / m,
        pairs,
    })
}

/// Ranks with ties at their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = 0.5 * (i + j) as f64;
        for &k in &idx[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation (Pearson's of the ranks; 0 for fewer than 2 or constant).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let (ra, rb) = (ranks(&a[..n]), ranks(&b[..n]));
    let mean = (n - 1) as f64 / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for k in 0..n {
        let (x, y) = (ra[k] - mean, rb[k] - mean);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// The text of `scene` (read from `text`) with its `[[trajectory]]` replaced by
/// `trajectory`, `[simulation] duration` set to `duration`, and its relative paths (robot
/// URDF, mesh file) made absolute so that the file runs from anywhere: what `vesalius plan`
/// writes as `plan.toml`. Comments and every other key are kept as written. The result is
/// parsed back and checked to hold exactly this trajectory.
pub fn scene_with_trajectory(
    scene: &CoSimScene,
    text: &str,
    trajectory: &Trajectory,
    duration: f64,
) -> Result<String, String> {
    let mut out = String::new();
    let mut table = String::new();
    let mut skipping = false;
    let mut duration_set = false;
    let absolute = |line: &str| -> Option<String> {
        let (key, value) = line.split_once('=')?;
        let v: toml::Value = toml::from_str(&format!("v = {}", value.trim()))
            .ok()
            .and_then(|t: toml::Table| t.get("v").cloned())?;
        let p = std::path::PathBuf::from(v.as_str()?);
        let abs = scene.resolve(&p);
        let abs = abs.canonicalize().unwrap_or(abs);
        Some(format!(
            "{} = {}",
            key.trim_end(),
            toml::Value::String(abs.display().to_string())
        ))
    };
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            let name = t
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            if table == "simulation" && !duration_set {
                out.push_str(&format!("duration = {duration}\n"));
                duration_set = true;
            }
            skipping = name == "trajectory";
            table = name;
            if skipping {
                continue;
            }
        }
        if skipping {
            continue;
        }
        let key = t.split(['=', ' ']).next().unwrap_or_default();
        let edited = match (table.as_str(), key) {
            ("simulation", "duration") => {
                duration_set = true;
                Some(format!("duration = {duration}"))
            }
            ("robot", "urdf") | ("mesh", "file") => absolute(t),
            _ => None,
        };
        match edited {
            Some(e) => out.push_str(&e),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    if !duration_set {
        if table != "simulation" {
            out.push_str("\n[simulation]\n");
        }
        out.push_str(&format!("duration = {duration}\n"));
    }
    out.push_str("\n# The plan (vesalius plan).\n");
    for w in trajectory.waypoints() {
        // Inline values: a nested table header would need the array's own path.
        let value = toml::Value::try_from(w).map_err(|e| e.to_string())?;
        out.push_str("[[trajectory]]\n");
        for (k, v) in value.as_table().into_iter().flatten() {
            if v.as_table().is_some_and(|t| t.is_empty()) {
                continue;
            }
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push('\n');
    }
    let back = CoSimScene::parse(&out, &scene.path).map_err(|e| e.to_string())?;
    if back.file.trajectory != trajectory.waypoints() {
        return Err("the rewritten scene does not hold the plan's trajectory".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_known_rankings() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // Textbook example: d^2 sum = 2 over n = 5 -> 1 - 6*2/(5*24) = 0.9.
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 3.0, 4.0, 5.0]);
        assert!((r - 0.9).abs() < 1e-12, "{r}");
    }
}
