//! Online supervision: during a run, the supervisor watches the needle and the insertion
//! target and re-plans the rest of the insertion from the live world, within a budget,
//! every few frames and on triggers.
//!
//! ```toml
//! [plan]
//! mode = "online"            # vesalius run supervises (offline: vesalius plan only)
//! budget = "200ms"           # of one re-plan (or plan.online.budget)
//!
//! [plan.online]
//! every = 30                 # frames between periodic re-plans (0: triggers only)
//! force_spike = 1.8          # N of needle axial force: pause and re-plan (default 90 %
//!                            # of criteria.max_tool_force)
//! force_drop = 0.5           # loss of resistance: the force falls by half of its peak
//! drop_frames = 3            #   over the last 3 frames (a wall giving way)
//! target_motion = 0.0005     # m the insertion target moved since the last plan
//! pause = 0.1                # s the needle holds still before a re-planned stroke
//! reaim_time = 0.3           # s to the new approach pose after the patient moved
//! max_extra_advance = 0.004  # m a re-plan may go beyond the current plan's end
//! probe_step = 0.0005        # m a stalled needle advances when no candidate passes
//! switch_margin = 0.5        # cost by which a re-plan must beat the current plan
//! ```
//!
//! What a re-plan decides: once the needle is in the tissue its line is fixed (moving it
//! sideways would tear), so a re-plan chooses how much farther the needle goes along its
//! axis (`advance`, from 0: stop here) and how fast (`speed`, within `plan.variables.speed`'s
//! bounds), by the scene's `[plan]` optimizer and cost on the reduced needle-path model
//! rolled out from the live world ([`rollout_from`](super::needle_path::NeedlePathModel::rollout_from)): the needle's line
//! through the tissue as it is now (moved by the patient, pushed by the needle), frozen,
//! with the simulated needle's events and region. The frozen tissue does not tent: a
//! membrane pushed ahead of the needle instead of giving leaves the plan short, and the
//! stall re-plan when the stroke has ended sees that and asks for more (or, when the wall
//! is pushed so far that no candidate passes on the frozen tissue, advances `probe_step`
//! and looks again, as a clinician feels for the give); the loss of resistance when it
//! gives stops the needle and re-plans the last part from inside. The current plan ("continue") is scored the same way and kept unless a candidate
//! beats it by `switch_margin`; a new stroke starts from rest after `pause`. After a force
//! spike or a loss of resistance the needle pauses whatever the decision.
//!
//! Before the needle is through its first membrane, the patient moving (its pinned supports,
//! as a tracker on the arm sees them; not the vein pushed by the needle's tip) re-aims: the
//! whole insertion is planned again with the scene's `[plan]` variables for the patient
//! where it is now ([`Planner::set_registration`]), and the robot goes from where it is to
//! the new approach pose in `reaim_time`.
//!
//! Each re-plan's trigger, latency and decision is a [`Replan`] (in `events.json`); the
//! [`SupervisorSummary`] has the latency's p50, p99 and maximum and the budget overruns.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use glam::DVec3;
use serde::{Deserialize, Serialize};
use vesalius_robot::prelude::JointTrajectory;

use super::needle_path::LiveNeedle;
use super::optimizer::Optimizer;
use super::spec::{OnlineSpec, PlanMode, PlanSpec, PlanningModel, Variable};
use super::{Cost, Planner};
use crate::coupling::CoSim;
use crate::report::FrameRecord;
use crate::scene::{CoSimError, CoSimScene};
use crate::trajectory::{JointHandle, Trajectory};

/// What set a re-plan off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `plan.online.every` frames since the last re-plan.
    Periodic,
    /// The insertion target moved (the patient, or the vein pushed or rolling).
    TargetMoved,
    /// The patient moved before the needle is in (its supports, as a tracker on the arm
    /// sees them): re-aim the insertion.
    PatientMoved,
    /// The needle's axial force rose above `plan.online.force_spike`.
    ForceSpike,
    /// The needle's axial force fell by `plan.online.force_drop` of its recent peak.
    LossOfResistance,
    /// The plan has ended and the tip is not in the goal region (a membrane that tented
    /// ahead of the needle instead of giving).
    Stalled,
}

impl Trigger {
    /// Whether the needle pauses whatever the re-plan decides.
    pub fn pauses(self) -> bool {
        matches!(self, Trigger::ForceSpike | Trigger::LossOfResistance)
    }

    /// Its name in `events.json` and messages.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Periodic => "periodic",
            Trigger::TargetMoved => "target moved",
            Trigger::PatientMoved => "patient moved",
            Trigger::ForceSpike => "force spike",
            Trigger::LossOfResistance => "loss of resistance",
            Trigger::Stalled => "stalled",
        }
    }
}

/// What a re-plan decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Keep the current plan (after the pause, for a pausing trigger).
    Continue,
    /// Switch to the re-planned stroke.
    Switch,
    /// Stalled, and no candidate passes on the frozen tissue (a wall tented ahead of the
    /// needle hides the lumen behind it): advance `plan.online.probe_step` and see.
    Probe,
}

/// One re-plan of a supervised run.
#[derive(Clone, Debug, Serialize)]
pub struct Replan {
    /// Always "replan" (the entries share `events.json` with the needle's events).
    pub kind: &'static str,
    /// Simulated time (s).
    pub time: f64,
    /// What set it off.
    pub trigger: Trigger,
    /// The trigger's measurement, in words.
    pub detail: String,
    /// Wall time from the trigger to the decision (ms).
    pub latency_ms: f64,
    /// Whether it took longer than the budget plus 1 ms.
    pub over_budget: bool,
    /// Candidates rolled out.
    pub candidates: usize,
    /// The decision.
    pub decision: Decision,
    /// The current plan's cost and the best candidate's (planning model).
    pub continue_cost: f64,
    /// The best candidate's cost.
    pub best_cost: f64,
    /// The stroke from now on of the plan followed after it (m along the needle) ...
    pub advance: f64,
    /// ... and its speed (m/s).
    pub speed: f64,
}

/// Latency figures of a supervised run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SupervisorSummary {
    /// Re-plans made.
    pub replans: usize,
    /// Re-plans that switched the plan.
    pub switches: usize,
    /// Re-plans that probed (stalled with no candidate passing).
    pub probes: usize,
    /// Re-plans per trigger.
    pub triggers: BTreeMap<String, usize>,
    /// The budget of one re-plan (ms).
    pub budget_ms: f64,
    /// Median latency (ms).
    pub latency_p50_ms: f64,
    /// 99th percentile latency (ms).
    pub latency_p99_ms: f64,
    /// Largest latency (ms).
    pub latency_max_ms: f64,
    /// Re-plans over the budget plus 1 ms.
    pub overruns: usize,
}

/// What the trigger rules see of one frame.
#[derive(Clone, Copy, Debug)]
pub struct Observation {
    /// The needle's axial force (N).
    pub force: f64,
    /// The insertion target's mean position (m).
    pub target: DVec3,
    /// Whether re-planning is possible (the needle is in the tissue).
    pub can_plan: bool,
    /// Whether the current plan has ended (the needle holds at its end).
    pub plan_done: bool,
    /// Whether the tip is in the goal region.
    pub in_goal: bool,
    /// The patient's supports' mean displacement (m).
    pub support: DVec3,
}

/// When to re-plan: the trigger rules on the frames' observations (pure, so testable).
#[derive(Clone, Debug)]
pub struct Triggers {
    spec: OnlineSpec,
    spike: Option<f64>,
    spike_armed: bool,
    forces: VecDeque<f64>,
    since_plan: u32,
    target_ref: Option<DVec3>,
    last_target: Option<DVec3>,
    /// Frames since planning became possible.
    inside: u32,
    /// The supports' displacement at the last (re-)aim, and in the last frame.
    support_ref: Option<DVec3>,
    last_support: Option<DVec3>,
}

/// Frames after the needle gets in before a force drop counts as a loss of resistance:
/// the tissue around a membrane that has just given relaxes and the force falls for a few
/// frames (1/6 s at 60 frames/s).
const SETTLE_FRAMES: u32 = 10;

/// Smallest recent peak of the axial force (N) whose fall counts as a loss of resistance.
const MIN_DROP_PEAK: f64 = 0.02;

impl Triggers {
    /// Rules of `spec`, with the spike threshold resolved (`spike`).
    pub fn new(spec: &OnlineSpec, spike: Option<f64>) -> Self {
        Self {
            spec: spec.clone(),
            spike,
            spike_armed: true,
            forces: VecDeque::new(),
            since_plan: 0,
            target_ref: None,
            last_target: None,
            inside: 0,
            support_ref: None,
            last_support: None,
        }
    }

    /// One frame's observation; returns the trigger, if any, with its measurement in words.
    /// A target that moves triggers once it has settled (it moved less than a tenth of
    /// `target_motion` in the last frame): re-planning while the patient still moves would
    /// plan for where the vein is passing through.
    pub fn observe(&mut self, o: Observation) -> Option<(Trigger, String)> {
        self.since_plan = self.since_plan.saturating_add(1);
        let peak = self.forces.iter().copied().fold(0.0, f64::max);
        self.forces.push_back(o.force);
        while self.forces.len() > self.spec.drop_frames as usize + 1 {
            self.forces.pop_front();
        }
        let step = self
            .last_target
            .replace(o.target)
            .map_or(0.0, |p| (o.target - p).length());
        let reference = *self.target_ref.get_or_insert(o.target);
        if let Some(s) = self.spike {
            if o.force < 0.8 * s {
                self.spike_armed = true;
            }
        }
        let support_step = self
            .last_support
            .replace(o.support)
            .map_or(0.0, |p| (o.support - p).length());
        let support_ref = *self.support_ref.get_or_insert(o.support);
        if !o.can_plan {
            // Motion and force drops are measured from when planning becomes possible (the
            // first membrane giving is how the needle gets in, not a loss of resistance).
            self.target_ref = Some(o.target);
            self.forces.clear();
            self.inside = 0;
            // Before the needle is in, the patient's own motion (not the vein pushed by the
            // needle's tip) re-aims, once it has settled.
            let moved = (o.support - support_ref).length();
            if moved > self.spec.target_motion && support_step < 0.1 * self.spec.target_motion {
                self.support_ref = Some(o.support);
                self.since_plan = 0;
                return Some((
                    Trigger::PatientMoved,
                    format!(
                        "the patient moved {:.2} mm before the needle was in",
                        moved * 1e3
                    ),
                ));
            }
            return None;
        }
        self.inside = self.inside.saturating_add(1);
        // While the target moves, a falling force is the patient moving off the needle.
        let moving = step >= 0.1 * self.spec.target_motion;
        let moved = (o.target - reference).length();
        let force = o.force;
        let found = if let Some(s) = self.spike.filter(|&s| force > s && self.spike_armed) {
            self.spike_armed = false;
            Some((
                Trigger::ForceSpike,
                format!("axial force {force:.3} N > {s:.3} N"),
            ))
        } else if !moving
            && self.inside > SETTLE_FRAMES
            && peak > MIN_DROP_PEAK
            && force < (1.0 - self.spec.force_drop) * peak
        {
            Some((
                Trigger::LossOfResistance,
                format!(
                    "axial force fell from {peak:.3} N to {force:.3} N within {} frames",
                    self.spec.drop_frames
                ),
            ))
        } else if moved > self.spec.target_motion && !moving {
            Some((
                Trigger::TargetMoved,
                format!("target moved {:.2} mm since the last plan", moved * 1e3),
            ))
        } else if o.plan_done && !o.in_goal && self.since_plan >= self.spec.stall_frames {
            Some((
                Trigger::Stalled,
                "the plan has ended with the tip short of its goal".to_string(),
            ))
        } else if self.spec.every > 0 && self.since_plan >= self.spec.every {
            Some((
                Trigger::Periodic,
                format!("{} frames since the last plan", self.since_plan),
            ))
        } else {
            None
        };
        if found.is_some() {
            self.since_plan = 0;
            self.target_ref = Some(o.target);
            self.support_ref = Some(o.support);
            self.forces.clear();
        }
        found
    }
}

/// The supervisor of one run.
pub struct Supervisor {
    spec: PlanSpec,
    budget: Duration,
    joints: Vec<JointHandle>,
    insertion: JointHandle,
    speed: (f64, f64, f64),
    target: usize,
    triggers: Triggers,
    /// The goal region of the tip (`criteria.final_tip_region`).
    goal: Option<String>,
    /// A fixed number of optimizer iterations per re-plan instead of the budget.
    iterations: Option<u64>,
    /// The insertion planner: its needle-path model and robot serve the stroke re-plans,
    /// its optimizer the re-aims before the needle is in.
    planner: Planner,
    end_time: f64,
    log: Vec<Replan>,
    /// How far off the robot's image of the patient is (m, world), added to every
    /// registration the planner gets.
    registration_error: DVec3,
    /// The force sensor's white noise: standard deviation (N) and seed.
    force_noise: Option<(f64, u64)>,
}

impl Supervisor {
    /// The supervisor of `scene`'s `[plan]` (which must have `mode = "online"` and the
    /// needle-path planning model) for a run ending at `end_time` (s).
    pub fn new(scene: &CoSimScene, end_time: f64) -> Result<Self, CoSimError> {
        let spec = scene
            .file
            .plan
            .clone()
            .ok_or_else(|| scene.invalid("online supervision needs a [plan] table"))?;
        spec.check().map_err(|m| scene.invalid(m))?;
        if spec.mode != PlanMode::Online {
            return Err(scene.invalid("plan.mode is not \"online\": nothing to supervise"));
        }
        if spec.model != PlanningModel::NeedlePath {
            return Err(scene.invalid(
                "plan.mode = \"online\" re-plans on the needle-path model (plan.model = \"needle_path\"): a full-model rollout takes seconds",
            ));
        }
        let budget = match &spec.online.budget {
            Some(b) => super::spec::parse_budget(b)
                .map_err(|e| scene.invalid(format!("plan.online.budget: {e}")))?,
            None => spec.budget().map_err(|m| scene.invalid(m))?,
        };
        let planner = Planner::new(scene, &super::PlanOptions::default())?;
        let robot = planner.robot();
        let joints = robot
            .model()
            .dof_names()
            .iter()
            .map(|n| robot.joint(n))
            .collect::<Result<Vec<_>, _>>()?;
        let insertion = robot
            .joint(&spec.insertion.joint)
            .map_err(|e| scene.invalid(format!("plan.insertion.joint: {e}")))?;
        let target = scene
            .file
            .target
            .iter()
            .position(|t| t.name == spec.insertion.target)
            .ok_or_else(|| {
                scene.invalid(format!(
                    "plan.insertion.target: no [[target]] named {:?}",
                    spec.insertion.target
                ))
            })?;
        let speed = match spec.variables.get(&Variable::Speed) {
            Some(b) => (
                b.min,
                b.max,
                b.initial.unwrap_or(Variable::Speed.default_value()),
            ),
            None => {
                let d = Variable::Speed.default_value();
                (0.5 * d, 1.5 * d, d)
            }
        };
        let spike = spec
            .online
            .force_spike
            .or(scene.file.criteria.max_tool_force.map(|f| 0.9 * f));
        Ok(Self {
            triggers: Triggers::new(&spec.online, spike),
            goal: scene.file.criteria.final_tip_region.clone(),
            iterations: None,
            planner,
            spec,
            budget,
            joints,
            insertion,
            speed,
            target,
            end_time,
            log: Vec::new(),
            registration_error: DVec3::ZERO,
            force_noise: None,
        })
    }

    /// The robot's image of the patient is off by `offset` (m, world; an image-registration
    /// error): the planner sees the anatomy moved by it from the start, and a re-aim after
    /// the patient moves sees the tracked move plus it. Stroke re-plans once the needle is
    /// in start from the live world and do not see it.
    pub fn set_registration_error(&mut self, offset: DVec3) {
        self.registration_error = offset;
        self.planner.set_registration(offset);
    }

    /// The axial-force reading the triggers and re-plans see gets white noise of standard
    /// deviation `sd` (N), drawn per frame from a counter-based generator keyed by `seed`
    /// and the frame's time (the same noise on any machine). `sd = 0`: exact readings.
    pub fn set_force_noise(&mut self, sd: f64, seed: u64) -> Result<(), String> {
        if !(sd.is_finite() && sd >= 0.0) {
            return Err(format!(
                "force noise sd = {sd} N is not a non-negative number"
            ));
        }
        self.force_noise = (sd > 0.0).then_some((sd, seed));
        Ok(())
    }

    /// What the force sensor reads after the frame `rec`: the needle's axial force, with
    /// the sensor's noise.
    fn sensed_force(&self, rec: &FrameRecord) -> f64 {
        let force = rec.needle.as_ref().map_or(0.0, |n| n.axial_force);
        sensor_reading(force, self.force_noise, rec.time)
    }

    /// Runs exactly `iterations` optimizer iterations per re-plan, whatever they take
    /// (`None`: until the budget is spent). A fixed count makes a supervised run
    /// independent of the machine's speed: the same decisions, and on the CPU backend the
    /// same bits, on any machine (tests); latencies may then exceed the budget.
    pub fn set_iterations(&mut self, iterations: Option<u64>) {
        self.iterations = iterations;
    }

    /// The re-plans so far.
    pub fn log(&self) -> &[Replan] {
        &self.log
    }

    /// Latency figures of the re-plans so far.
    pub fn summary(&self) -> SupervisorSummary {
        let mut lat: Vec<f64> = self.log.iter().map(|r| r.latency_ms).collect();
        lat.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            if lat.is_empty() {
                0.0
            } else {
                lat[((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1]
            }
        };
        let mut triggers = BTreeMap::new();
        for r in &self.log {
            *triggers.entry(r.trigger.name().to_string()).or_insert(0) += 1;
        }
        SupervisorSummary {
            replans: self.log.len(),
            switches: self
                .log
                .iter()
                .filter(|r| r.decision == Decision::Switch)
                .count(),
            probes: self
                .log
                .iter()
                .filter(|r| r.decision == Decision::Probe)
                .count(),
            triggers,
            budget_ms: self.budget.as_secs_f64() * 1e3,
            latency_p50_ms: pct(0.5),
            latency_p99_ms: pct(0.99),
            latency_max_ms: lat.last().copied().unwrap_or(0.0),
            overruns: self.log.iter().filter(|r| r.over_budget).count(),
        }
    }

    /// Watches the frame `sim` just ran (its record `rec`) and re-plans if a trigger says
    /// so; returns the re-plan made.
    pub fn after_frame(
        &mut self,
        sim: &mut CoSim,
        rec: &FrameRecord,
    ) -> Result<Option<&Replan>, CoSimError> {
        // A re-plan's latency runs from the end of the frame: reading the live world is part
        // of it.
        let clock = Instant::now();
        let force = self.sensed_force(rec);
        let points = &sim.target_points()?[self.target];
        let target =
            points.iter().copied().fold(DVec3::ZERO, |a, p| a + p) / points.len().max(1) as f64;
        let can_plan = sim.trajectory().is_some() && needle_in(sim)?;
        let time = sim.time();
        let plan_done = sim.trajectory().is_none_or(|t| time >= t.end_time());
        let in_goal = match (&self.goal, &rec.needle) {
            (Some(g), Some(n)) => n.tip_region.as_deref() == Some(g.as_str()),
            _ => false,
        };
        let support = sim.support_offset()?.unwrap_or(DVec3::ZERO);
        let Some((trigger, detail)) = self.triggers.observe(Observation {
            force,
            target,
            can_plan,
            plan_done,
            in_goal,
            support,
        }) else {
            return Ok(None);
        };
        if trigger == Trigger::PatientMoved {
            return self.reaim(sim, support, detail, clock);
        }
        let Some(live) = self.live(sim, force)? else {
            return Ok(None);
        };
        self.apply(sim, live, trigger, detail, clock)
    }

    /// Re-plans now, whatever the triggers say (an operator's request, a bench), from the
    /// world `sim` is in after the frame `rec`; `None` if the needle is not in yet.
    pub fn replan_now(
        &mut self,
        sim: &mut CoSim,
        rec: &FrameRecord,
        trigger: Trigger,
    ) -> Result<Option<&Replan>, CoSimError> {
        let clock = Instant::now();
        let force = self.sensed_force(rec);
        let Some(live) = self.live(sim, force)? else {
            return Ok(None);
        };
        self.apply(sim, live, trigger, "requested".into(), clock)
    }

    /// The budget of one re-plan.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Sets the budget of one re-plan (checked as `plan.budget` is).
    pub fn set_budget(&mut self, budget: Duration) -> Result<(), String> {
        super::spec::check_budget(budget).map_err(|e| format!("budget {budget:?} {e}"))?;
        self.budget = budget;
        Ok(())
    }

    /// Before the needle is in: plans the whole insertion again (the scene's `[plan]`
    /// variables) for the patient moved by `offset`, starting from where the robot is now,
    /// and follows it unless the current plan is as good there.
    fn reaim(
        &mut self,
        sim: &mut CoSim,
        offset: DVec3,
        detail: String,
        clock: Instant,
    ) -> Result<Option<&Replan>, CoSimError> {
        let Some(current) = sim.trajectory().cloned() else {
            return Ok(None);
        };
        let t0 = sim.time();
        let q = current.sample(t0).q;
        self.planner
            .set_registration(offset + self.registration_error);
        let continue_cost = self.planner.cost_of(&current, self.end_time)?.total;
        let left = self.budget.saturating_sub(clock.elapsed());
        let step = self
            .planner
            .plan(left.max(super::spec::MIN_BUDGET), self.iterations)?;
        let from = self.joints_at(&q);
        let x = step.best.variables.clone();
        let planned = self
            .planner
            .trajectory_from(&x, t0, &from, self.spec.online.reaim_time);
        let best_cost = step.best.cost.total;
        let speed_at = Variable::ALL
            .iter()
            .position(|&v| v == Variable::Speed)
            .expect("speed is a variable");
        let (decision, advance, speed) = match &planned {
            Ok((ins, tr)) if best_cost < continue_cost - self.spec.online.switch_margin => {
                sim.set_trajectory(tr);
                (Decision::Switch, ins.stroke, x[speed_at])
            }
            _ => (Decision::Continue, 0.0, 0.0),
        };
        let (latency_ms, over_budget) = self.latency(clock);
        self.log.push(Replan {
            kind: "replan",
            time: t0,
            trigger: Trigger::PatientMoved,
            detail,
            latency_ms,
            over_budget,
            candidates: step.candidates.len() + 1,
            decision,
            continue_cost,
            best_cost,
            advance,
            speed,
        });
        Ok(self.log.last())
    }

    /// Re-plans from `live`, follows the decision and logs it.
    fn apply(
        &mut self,
        sim: &mut CoSim,
        live: LiveNeedle,
        trigger: Trigger,
        detail: String,
        clock: Instant,
    ) -> Result<Option<&Replan>, CoSimError> {
        let Some(current) = sim.trajectory().cloned() else {
            return Ok(None);
        };
        let replan = self.replan(&live, &current, trigger, detail, clock)?;
        if let Some(tr) = replan.1 {
            sim.set_trajectory(&tr);
        }
        self.log.push(replan.0);
        Ok(self.log.last())
    }

    /// The live world a re-plan starts from, if the needle is in the tissue (through its
    /// first membrane, as the needle's events have it); `force` is the needle's axial force
    /// now.
    pub fn live(&self, sim: &mut CoSim, force: f64) -> Result<Option<LiveNeedle>, CoSimError> {
        let Some(current) = sim.trajectory() else {
            return Ok(None);
        };
        let time = sim.time();
        let q = current.sample(time).q;
        if !needle_in(sim)? {
            return Ok(None);
        }
        let needle = sim.tissue().sync_state()?.tools.needle.clone();
        let Some(needle) = needle else {
            return Ok(None);
        };
        let (positions, targets) = sim.positions_and_targets()?;
        Ok(Some(LiveNeedle {
            time,
            q,
            positions,
            targets,
            needle,
            axial_force: force,
        }))
    }

    /// What the planning model predicts for a stroke from `live` of `advance` (m along the
    /// needle) at `speed` (m/s) after holding still `pause` s (`None`: the stroke breaks
    /// a joint limit).
    pub fn what_if(
        &self,
        live: &LiveNeedle,
        advance: f64,
        speed: f64,
        pause: f64,
    ) -> Result<Option<(Cost, crate::report::Report)>, CoSimError> {
        let Ok(tr) = self.stroke(live, advance, speed, pause) else {
            return Ok(None);
        };
        self.rollout(live, tr.spline()).map(Some)
    }

    /// The joints set to `q`, for a trajectory's first waypoint.
    fn joints_at(&self, q: &[f64]) -> Vec<(JointHandle, f64)> {
        self.joints.iter().map(|&j| (j, q[j.index()])).collect()
    }

    /// A stroke from `live` of `advance` (m) at `speed` (m/s), from rest after `pause` s.
    fn stroke(
        &self,
        live: &LiveNeedle,
        advance: f64,
        speed: f64,
        pause: f64,
    ) -> Result<Trajectory, String> {
        let start = live.time + pause.max(1e-3);
        let mut b = self
            .planner
            .robot()
            .trajectory()
            .joints(live.time, &self.joints_at(&live.q))
            .hold(start);
        if advance > 1e-6 {
            b = b.move_by(start + advance / speed, &[(self.insertion, advance)]);
        }
        b.build().map_err(|e| e.to_string())
    }

    /// A joint trajectory rolled out from `live` on the planning model, and its cost.
    fn rollout(
        &self,
        live: &LiveNeedle,
        spline: &JointTrajectory,
    ) -> Result<(Cost, crate::report::Report), CoSimError> {
        let report = self
            .planner
            .path_model()
            .rollout_from(live, spline, self.end_time)?;
        let duration = spline.end_time().max(self.end_time);
        Ok((
            Cost::of(&report, &self.spec.cost, self.target, duration),
            report,
        ))
    }

    /// The total cost of a joint trajectory from `live`.
    fn score(&self, live: &LiveNeedle, spline: &JointTrajectory) -> Result<f64, CoSimError> {
        Ok(self.rollout(live, spline)?.0.total)
    }

    /// A re-plan's latency since `clock` (ms) and whether it exceeded the budget + 1 ms.
    fn latency(&self, clock: Instant) -> (f64, bool) {
        let l = clock.elapsed();
        (
            l.as_secs_f64() * 1e3,
            l > self.budget + Duration::from_millis(1),
        )
    }

    fn replan(
        &self,
        live: &LiveNeedle,
        current: &JointTrajectory,
        trigger: Trigger,
        detail: String,
        clock: Instant,
    ) -> Result<(Replan, Option<Trajectory>), CoSimError> {
        let deadline = clock + self.budget;
        let j = self.insertion.index();
        let end_q = current.waypoints().last().map_or(live.q[j], |w| w[j]);
        let planned = (end_q - live.q[j]).max(0.0);
        let old_speed = segment_speed(current, live.time, j).unwrap_or(self.speed.2);
        let old_speed = old_speed.clamp(self.speed.0, self.speed.1);
        let pause = if trigger.pauses() {
            self.spec.online.pause
        } else {
            0.0
        };
        // "Continue": the current plan as it is, or after the pause.
        let (continue_cost, continue_tr) = if trigger.pauses() {
            match self.stroke(live, planned, old_speed, pause) {
                Ok(tr) => (self.score(live, tr.spline())?, Some(tr)),
                Err(_) => (f64::INFINITY, None),
            }
        } else {
            (self.score(live, current)?, None)
        };
        let mut optimizer = Optimizer::new(
            self.spec.method,
            vec![
                (0.0, planned + self.spec.online.max_extra_advance),
                (self.speed.0, self.speed.1),
            ],
            vec![planned, old_speed],
            self.spec.samples,
            self.spec.elites,
            self.spec.seed ^ (live.time.to_bits()),
        );
        let pause_new = self.spec.online.pause;
        let mut best: Option<(f64, Vec<f64>, Trajectory)> = None;
        let mut count = 1;
        'plan: while self.iterations.is_none_or(|n| optimizer.iteration() < n) {
            let xs = optimizer.ask();
            let mut costs = Vec::with_capacity(xs.len());
            for x in &xs {
                if self.iterations.is_none() && Instant::now() >= deadline {
                    optimizer.tell(&xs[..costs.len()], &costs);
                    break 'plan;
                }
                let (cost, tr) = match self.stroke(live, x[0], x[1], pause_new) {
                    Ok(tr) => (self.score(live, tr.spline())?, Some(tr)),
                    Err(_) => (f64::INFINITY, None),
                };
                count += 1;
                costs.push(cost);
                if let Some(tr) = tr {
                    if best.as_ref().is_none_or(|b| cost < b.0) {
                        best = Some((cost, x.clone(), tr));
                    }
                }
            }
            optimizer.tell(&xs, &costs);
        }
        let best_cost = best.as_ref().map_or(f64::INFINITY, |b| b.0);
        let switch = best_cost < continue_cost - self.spec.online.switch_margin;
        // Every candidate fails a check: on a stall that is the tented wall, not the plan.
        let hopeless = best_cost >= self.spec.cost.failed_check;
        let probe_step = self.spec.online.probe_step;
        let (decision, advance, speed, tr) = match best {
            _ if trigger == Trigger::Stalled && hopeless && probe_step > 0.0 => {
                match self.stroke(live, probe_step, old_speed, pause_new) {
                    Ok(tr) => (Decision::Probe, probe_step, old_speed, Some(tr)),
                    Err(_) => (Decision::Continue, planned, old_speed, continue_tr),
                }
            }
            Some((_, x, tr)) if switch => (Decision::Switch, x[0], x[1], Some(tr)),
            _ => (Decision::Continue, planned, old_speed, continue_tr),
        };
        let (latency_ms, over_budget) = self.latency(clock);
        Ok((
            Replan {
                kind: "replan",
                time: live.time,
                trigger,
                detail,
                latency_ms,
                over_budget,
                candidates: count,
                decision,
                continue_cost,
                best_cost,
                advance,
                speed,
            },
            tr,
        ))
    }
}

/// Whether the needle of `sim` is in the tissue: through its first membrane, as its events
/// have it (what a stroke re-plan needs; cheap, checked every frame).
fn needle_in(sim: &mut CoSim) -> Result<bool, CoSimError> {
    Ok(sim
        .tissue()
        .sync_state()?
        .tools
        .needle
        .as_ref()
        .is_some_and(|n| n.tip_region().is_some()))
}

/// The mean speed of coordinate `j` over the trajectory segment around time `t` (`None`:
/// it holds still there).
fn segment_speed(tr: &JointTrajectory, t: f64, j: usize) -> Option<f64> {
    let times = tr.times();
    let k = times.windows(2).position(|w| w[0] <= t && t < w[1])?;
    let (q0, q1) = (tr.waypoints()[k][j], tr.waypoints()[k + 1][j]);
    let v = (q1 - q0).abs() / (times[k + 1] - times[k]);
    (v > 0.0).then_some(v)
}

/// A force sensor's reading of `force` (N) at `time` (s): with `noise = (sd, seed)`, plus
/// white noise of that standard deviation keyed by the seed and the time's bits.
fn sensor_reading(force: f64, noise: Option<(f64, u64)>, time: f64) -> f64 {
    match noise {
        Some((sd, seed)) => force + sd * super::optimizer::normal(seed, time.to_bits(), 0, 0),
        None => force,
    }
}

/// Runs `sim` to its end under `supervisor`, showing each frame's record and the re-plan
/// it set off (if any) to `observe`.
pub fn run_supervised(
    mut sim: CoSim,
    supervisor: &mut Supervisor,
    mut observe: impl FnMut(&FrameRecord, Option<&Replan>),
) -> Result<crate::report::Report, CoSimError> {
    for _ in 0..sim.frames() {
        let rec = sim.step_frame()?.clone();
        let broken = rec.guard.is_some();
        let replan = supervisor.after_frame(&mut sim, &rec)?;
        observe(&rec, replan);
        if broken {
            break;
        }
    }
    Ok(sim.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Triggers {
        let spec = OnlineSpec {
            every: 10,
            stall_frames: 5,
            ..Default::default()
        };
        Triggers::new(&spec, Some(1.0))
    }

    fn at(force: f64, target: DVec3) -> Observation {
        Observation {
            force,
            target,
            can_plan: true,
            plan_done: false,
            in_goal: false,
            support: DVec3::ZERO,
        }
    }

    #[test]
    fn the_force_sensor_noise_is_white_with_the_sd_asked_for_and_the_same_for_a_seed() {
        let frames: Vec<f64> = (1..=20_000).map(|i| f64::from(i) / 60.0).collect();
        let read = |noise| -> Vec<f64> {
            frames
                .iter()
                .map(|&t| sensor_reading(0.3, noise, t) - 0.3)
                .collect()
        };
        let e = read(Some((0.02, 7)));
        let n = e.len() as f64;
        let mean = e.iter().sum::<f64>() / n;
        let sd = (e.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        // Standard errors: sd / sqrt(n) = 1.4e-4 for the mean, sd / sqrt(2n) = 1e-4 for sd.
        assert!(mean.abs() < 6e-4, "mean {mean}");
        assert!((sd - 0.02).abs() < 5e-4, "sd {sd}");
        // White: successive readings uncorrelated (standard error 1 / sqrt(n) = 0.007).
        let lag1 = e.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / ((n - 1.0) * sd * sd);
        assert!(lag1.abs() < 0.03, "lag-1 correlation {lag1}");
        assert_eq!(read(Some((0.02, 7))), e, "the same seed");
        assert_ne!(read(Some((0.02, 8))), e, "another seed");
        assert!(read(None).iter().all(|&x| x == 0.0), "no noise: exact");
    }

    #[test]
    fn spike_fires_once_until_the_force_falls_back() {
        let spec = OnlineSpec {
            every: 0,
            ..Default::default()
        };
        let mut t = Triggers::new(&spec, Some(1.0));
        for _ in 0..SETTLE_FRAMES {
            assert!(t.observe(at(0.001, DVec3::ZERO)).is_none());
        }
        assert!(t.observe(at(0.5, DVec3::ZERO)).is_none());
        assert_eq!(
            t.observe(at(1.2, DVec3::ZERO)).unwrap().0,
            Trigger::ForceSpike
        );
        assert!(t.observe(at(1.3, DVec3::ZERO)).is_none());
        // 0.6 N is under half of the 1.3 N peak (and re-arms the spike).
        let (k, _) = t.observe(at(0.6, DVec3::ZERO)).unwrap();
        assert_eq!(k, Trigger::LossOfResistance);
        assert_eq!(
            t.observe(at(1.1, DVec3::ZERO)).unwrap().0,
            Trigger::ForceSpike
        );
    }

    #[test]
    fn the_patient_moving_before_the_needle_is_in_re_aims_once_settled() {
        let mut t = rules();
        let out = |mm: f64| Observation {
            can_plan: false,
            support: DVec3::new(0.0, 0.0, -mm * 1e-3),
            ..at(0.0, DVec3::ZERO)
        };
        assert!(t.observe(out(0.0)).is_none());
        assert!(t.observe(out(0.4)).is_none());
        assert!(t.observe(out(0.9)).is_none(), "still moving");
        let (k, d) = t.observe(out(0.92)).unwrap();
        assert_eq!(k, Trigger::PatientMoved, "{d}");
        for _ in 0..20 {
            assert!(t.observe(out(0.92)).is_none());
        }
    }

    #[test]
    fn drop_motion_stall_and_period() {
        let mut t = rules();
        // Just in: a falling force is the membrane that let the needle in relaxing.
        for f in [0.3, 0.1, 0.03] {
            assert!(t.observe(at(f, DVec3::ZERO)).is_none());
        }
        for _ in 0..SETTLE_FRAMES {
            t.observe(at(0.001, DVec3::ZERO));
        }
        t.observe(at(0.3, DVec3::ZERO));
        assert!(t.observe(at(0.2, DVec3::ZERO)).is_none());
        let (k, d) = t.observe(at(0.1, DVec3::ZERO)).unwrap();
        assert_eq!(k, Trigger::LossOfResistance, "{d}");
        // A peak too small to count.
        assert!(t.observe(at(0.01, DVec3::ZERO)).is_none());
        assert!(t.observe(at(0.001, DVec3::ZERO)).is_none());
        // Moving: nothing until it settles.
        let x = |mm: f64| DVec3::new(mm * 1e-3, 0.0, 0.0);
        assert!(t.observe(at(0.001, x(0.3))).is_none());
        assert!(t.observe(at(0.001, x(0.6))).is_none());
        assert_eq!(
            t.observe(at(0.001, x(0.62))).unwrap().0,
            Trigger::TargetMoved
        );
        for _ in 0..9 {
            assert!(t.observe(at(0.001, x(0.62))).is_none());
        }
        assert_eq!(t.observe(at(0.001, x(0.62))).unwrap().0, Trigger::Periodic);
        // The plan ended short of the goal: a re-plan after stall_frames.
        let done = |in_goal| Observation {
            plan_done: true,
            in_goal,
            ..at(0.001, x(0.62))
        };
        for _ in 0..4 {
            assert!(t.observe(done(false)).is_none());
        }
        assert_eq!(t.observe(done(false)).unwrap().0, Trigger::Stalled);
        for _ in 0..9 {
            assert!(t.observe(done(true)).is_none());
        }
        // Not inside: nothing fires, and the target's motion until then does not count.
        for _ in 0..20 {
            let o = Observation {
                can_plan: false,
                ..at(0.001, x(10.0))
            };
            assert!(t.observe(o).is_none());
        }
        assert_eq!(t.observe(at(0.001, x(10.0))).unwrap().0, Trigger::Periodic);
    }
}
