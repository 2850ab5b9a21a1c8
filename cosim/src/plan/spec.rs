//! The `[plan]` table of a co-simulation scene: decision variables with bounds, the cost,
//! the budget and the planning model.
//!
//! ```toml
//! [plan]
//! budget = "200ms"                 # wall-clock budget of one plan ("20ms", "2s", ...)
//! model = "needle_path"            # planning model: "needle_path" (reduced) or "full"
//! method = "cem"                   # "cem" (predictive sampling / CEM), "mppi" or "icem"
//! seed = 1
//! samples = 32                     # candidates per iteration
//! elites = 6                       # kept to refit the sampling distribution
//! validate = 3                     # best plans checked on the full model (vesalius plan)
//! calibrate = true                 # one full run of the initial candidate fits the planning
//!                                  # model's axial lag (the tissue carried with the needle)
//!
//! [plan.insertion]                 # what the variables move: a needle insertion
//! target = "vein centreline"       # a [[target]]: the aim is on it
//! link = "needle_tip"              # the link posed at the approach (default)
//! joint = "insertion"              # the joint that drives the needle along its axis
//! standoff = 0.002                 # the tip starts this far before the skin (m)
//! hold = 0.3                       # s at the approach pose before the stroke
//! settle = 0.3                     # s after the stroke, judged too
//!
//! [plan.variables]                 # any of these; the others keep their defaults
//! pitch_deg = { min = 15.0, max = 35.0 }         # below the skin plane
//! yaw_deg = { min = -30.0, max = 30.0 }          # about the vertical, from +x
//! aim_along = { min = -0.004, max = 0.004 }      # aim point along the target (m)
//! aim_across = { min = -0.0015, max = 0.0015 }   # and across it, in the skin plane
//! depth = { min = -0.002, max = 0.003 }          # stroke past the aim point (m)
//! speed = { min = 0.004, max = 0.012, initial = 0.008 }   # insertion speed (m/s)
//!
//! [plan.cost]                      # weights of the cost terms (defaults shown)
//! failed_check = 10.0              # per failed check of [criteria]
//! target_distance = 1000.0         # per m of the tip's final distance to the target
//! depth_tolerance = 1000.0         # per m the tip could go deeper or shallower (subtracted)
//! peak_force = 1.0                 # per N of peak tool force
//! damaged_fraction = 10.0          # per unit of the largest damaged volume fraction
//! duration = 0.0                   # per s of trajectory
//!
//! # mode = "online" (in [plan]): vesalius run re-plans the rest of the stroke during the
//! # run; [plan.online] sets its triggers (see crate::plan::online).
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Shortest budget accepted: a plan needs at least one rollout.
pub const MIN_BUDGET: Duration = Duration::from_millis(1);
/// Longest budget accepted (10 minutes): a budget beyond this is a typo, not a plan.
pub const MAX_BUDGET: Duration = Duration::from_secs(600);

/// A decision variable of a needle insertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variable {
    /// Insertion angle below the skin plane (degrees; the approach pose's pitch).
    PitchDeg,
    /// Direction in the skin plane, about the vertical from +x (degrees; the approach
    /// pose's yaw).
    YawDeg,
    /// Aim point's offset along the target from its middle (m).
    AimAlong,
    /// Aim point's offset across the target, in the skin plane (m).
    AimAcross,
    /// Stroke past the aim point (m; negative stops short of it).
    Depth,
    /// Insertion speed (m/s).
    Speed,
}

impl Variable {
    /// Every variable, in the order of candidate vectors and of `candidates.csv`.
    pub const ALL: [Variable; 6] = [
        Variable::PitchDeg,
        Variable::YawDeg,
        Variable::AimAlong,
        Variable::AimAcross,
        Variable::Depth,
        Variable::Speed,
    ];

    /// The key in `[plan.variables]`.
    pub fn key(self) -> &'static str {
        match self {
            Variable::PitchDeg => "pitch_deg",
            Variable::YawDeg => "yaw_deg",
            Variable::AimAlong => "aim_along",
            Variable::AimAcross => "aim_across",
            Variable::Depth => "depth",
            Variable::Speed => "speed",
        }
    }

    /// Its value when `[plan.variables]` does not list it.
    pub fn default_value(self) -> f64 {
        match self {
            Variable::PitchDeg => 23.0,
            Variable::YawDeg => 0.0,
            Variable::AimAlong | Variable::AimAcross | Variable::Depth => 0.0,
            Variable::Speed => 0.008,
        }
    }

    /// The physically meaningful range of bounds (the error names it).
    fn range(self) -> (f64, f64, &'static str) {
        match self {
            Variable::PitchDeg => (1.0, 89.0, "degrees below the skin plane"),
            Variable::YawDeg => (-180.0, 180.0, "degrees"),
            Variable::AimAlong | Variable::AimAcross => (-0.1, 0.1, "m"),
            Variable::Depth => (-0.05, 0.05, "m"),
            Variable::Speed => (1e-4, 0.1, "m/s"),
        }
    }
}

/// Bounds of one variable.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// The first incumbent's value (default: the variable's default if within the
    /// bounds, else the middle).
    #[serde(default)]
    pub initial: Option<f64>,
}

/// The planning model: what a candidate rollout costs and what it neglects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanningModel {
    /// The reduced needle-path model ([`crate::plan::needle_path`]): the needle's straight
    /// path through the region tags of the rest mesh, the events and margins the full model
    /// reports, and a quasi-static axial force. Microseconds per rollout.
    #[default]
    NeedlePath,
    /// The full co-simulation (seconds to minutes per rollout).
    Full,
}

/// The sampling optimizer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Predictive sampling / cross-entropy method: Gaussian samples about the mean, the
    /// elites refit mean and spread.
    #[default]
    Cem,
    /// MPPI: the mean is the exponentially cost-weighted average of all samples.
    Mppi,
    /// iCEM: CEM with a third of the previous iteration's elites kept among the samples
    /// and smoothed (momentum) updates of mean and spread. Its temporally correlated noise
    /// needs time-series variables (waypoint offsets over time), which a needle insertion's
    /// variables are not: the samples are independent per variable.
    Icem,
}

/// The needle insertion the variables parametrise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsertionSpec {
    /// The `[[target]]` the aim point lies on (its middle point and direction there).
    pub target: String,
    /// The link posed at the approach.
    #[serde(default = "default_link")]
    pub link: String,
    /// The joint that drives the needle along its axis.
    #[serde(default = "default_joint")]
    pub joint: String,
    /// Distance of the tip before the skin at the approach (m).
    #[serde(default = "default_standoff")]
    pub standoff: f64,
    /// Time at the approach pose before the stroke (s).
    #[serde(default = "default_hold")]
    pub hold: f64,
    /// Time after the stroke that is simulated and judged (s).
    #[serde(default = "default_settle")]
    pub settle: f64,
}

fn default_link() -> String {
    "needle_tip".into()
}
fn default_joint() -> String {
    "insertion".into()
}
fn default_standoff() -> f64 {
    0.002
}
fn default_hold() -> f64 {
    0.3
}
fn default_settle() -> f64 {
    0.3
}
fn default_samples() -> usize {
    32
}
fn default_elites() -> usize {
    6
}
fn default_validate() -> usize {
    3
}
fn default_calibrate() -> bool {
    true
}
fn default_budget() -> String {
    "200ms".into()
}

/// Weights of the cost terms (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostSpec {
    /// Per failed check of the scene's criteria.
    pub failed_check: f64,
    /// Per m of the tip's final distance to the insertion target.
    pub target_distance: f64,
    /// Per m of depth tolerance: how far the tip could go deeper or shallower and stay in
    /// the goal region (subtracted: more is better).
    pub depth_tolerance: f64,
    /// Per N of peak tool force.
    pub peak_force: f64,
    /// Per unit of the largest damaged volume fraction of any region.
    pub damaged_fraction: f64,
    /// Per s of trajectory.
    pub duration: f64,
}

impl Default for CostSpec {
    fn default() -> Self {
        Self {
            failed_check: 10.0,
            target_distance: 1000.0,
            depth_tolerance: 1000.0,
            peak_force: 1.0,
            damaged_fraction: 10.0,
            duration: 0.0,
        }
    }
}

/// The `[plan]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// Wall-clock budget of one plan, with its unit: "20ms", "0.5s", "2s".
    #[serde(default = "default_budget")]
    pub budget: String,
    /// The planning model.
    #[serde(default)]
    pub model: PlanningModel,
    /// The optimizer.
    #[serde(default)]
    pub method: Method,
    /// Seed of the candidates' random numbers.
    #[serde(default)]
    pub seed: u64,
    /// Candidates per iteration.
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Elites that refit the sampling distribution.
    #[serde(default = "default_elites")]
    pub elites: usize,
    /// Best distinct plans that `vesalius plan` checks on the full model, best first, until
    /// one passes.
    #[serde(default = "default_validate")]
    pub validate: usize,
    /// Calibrate the planning model's axial lag (how far the tissue moves with the needle)
    /// on one full-model run of the initial candidate before planning.
    #[serde(default = "default_calibrate")]
    pub calibrate: bool,
    /// The insertion the variables move.
    pub insertion: InsertionSpec,
    /// The decision variables and their bounds.
    pub variables: BTreeMap<Variable, VariableSpec>,
    /// Cost weights.
    #[serde(default)]
    pub cost: CostSpec,
    /// When the plan is made: before the run (`vesalius plan`) or also during it.
    #[serde(default)]
    pub mode: PlanMode,
    /// The online supervisor's triggers and re-plans (`mode = "online"`).
    #[serde(default)]
    pub online: OnlineSpec,
}

/// When planning happens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// `vesalius plan` plans before the run; `vesalius run` follows the scene's trajectory.
    #[default]
    Offline,
    /// `vesalius run` also supervises the run: it re-plans the rest of the insertion from
    /// the live world every few frames and on triggers ([`crate::plan::online`]).
    Online,
}

/// `[plan.online]`: the supervisor of a run (see [`crate::plan::online`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnlineSpec {
    /// Frames between periodic re-plans (0: only on triggers).
    pub every: u32,
    /// Budget of one re-plan (default: `plan.budget`).
    pub budget: Option<String>,
    /// Needle axial force (N) above which the needle pauses and the rest is re-planned
    /// (default: 90 % of `criteria.max_tool_force`; none without it).
    pub force_spike: Option<f64>,
    /// Loss of resistance: the axial force falls by this fraction of its peak over the last
    /// `drop_frames` frames (a wall giving way).
    pub force_drop: f64,
    /// Frames over which a force drop is measured.
    pub drop_frames: u32,
    /// Movement of the insertion target since the last plan (m) that triggers a re-plan
    /// (once it has settled).
    pub target_motion: f64,
    /// Frames between re-plans while the plan has ended with the tip short of its goal.
    pub stall_frames: u32,
    /// How long the needle holds still before a re-planned stroke starts (s).
    pub pause: f64,
    /// How long a re-aim takes the needle from where it is to the new approach pose (s).
    pub reaim_time: f64,
    /// How much farther than the current plan's end a re-plan may advance the needle (m).
    pub max_extra_advance: f64,
    /// How much lower (in cost units) a re-planned stroke's cost must be than the current
    /// plan's for the supervisor to switch (a switch stops and restarts the stroke).
    pub switch_margin: f64,
    /// How far a stalled needle advances when no candidate passes on the frozen tissue (m;
    /// 0: it holds).
    pub probe_step: f64,
}

impl Default for OnlineSpec {
    fn default() -> Self {
        Self {
            every: 30,
            budget: None,
            force_spike: None,
            force_drop: 0.5,
            drop_frames: 3,
            target_motion: 5e-4,
            stall_frames: 15,
            pause: 0.1,
            reaim_time: 0.3,
            max_extra_advance: 0.004,
            switch_margin: 0.5,
            probe_step: 5e-4,
        }
    }
}

impl OnlineSpec {
    /// Checks the values, naming the key.
    pub fn check(&self) -> Result<(), String> {
        if self.every > 100_000 {
            return Err(format!(
                "plan.online.every must be at most 100000 frames, got {}",
                self.every
            ));
        }
        if let Some(b) = &self.budget {
            parse_budget(b).map_err(|e| format!("plan.online.budget: {e}"))?;
        }
        if let Some(f) = self.force_spike {
            if !(f.is_finite() && f > 0.0) {
                return Err(format!(
                    "plan.online.force_spike must be finite and > 0 N, got {f}"
                ));
            }
        }
        if !(self.force_drop > 0.0 && self.force_drop < 1.0) {
            return Err(format!(
                "plan.online.force_drop must be a fraction in (0, 1), got {}",
                self.force_drop
            ));
        }
        if !(1..=100_000).contains(&self.stall_frames) {
            return Err(format!(
                "plan.online.stall_frames must be in 1..=100000, got {}",
                self.stall_frames
            ));
        }
        if !(1..=1000).contains(&self.drop_frames) {
            return Err(format!(
                "plan.online.drop_frames must be in 1..=1000, got {}",
                self.drop_frames
            ));
        }
        for (k, v, max) in [
            ("target_motion", self.target_motion, 0.1),
            ("pause", self.pause, 10.0),
            ("reaim_time", self.reaim_time, 10.0),
            ("max_extra_advance", self.max_extra_advance, 0.05),
            ("switch_margin", self.switch_margin, 1e6),
            ("probe_step", self.probe_step, 0.01),
        ] {
            if !(v.is_finite() && v >= 0.0 && v <= max) {
                return Err(format!("plan.online.{k} must be in 0..={max}, got {v}"));
            }
        }
        Ok(())
    }
}

/// Parses a budget with its unit ("200ms", "2s", "1.5 s", "500us"), checked against
/// [`MIN_BUDGET`] and [`MAX_BUDGET`].
pub fn parse_budget(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("budget {text:?} needs a unit: ms or s (e.g. \"200ms\")"))?;
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("budget {text:?}: {:?} is not a number", num.trim()))?;
    let secs = match unit.trim() {
        "us" | "µs" => v * 1e-6,
        "ms" => v * 1e-3,
        "s" => v,
        "min" => v * 60.0,
        u => return Err(format!("budget {text:?}: unknown unit {u:?} (use ms or s)")),
    };
    if !secs.is_finite() {
        return Err(format!("budget {text:?} is not finite"));
    }
    let budget = Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO);
    check_budget(budget).map_err(|e| format!("budget {text:?} {e}"))?;
    Ok(budget)
}

/// Checks a budget against [`MIN_BUDGET`] and [`MAX_BUDGET`] (the error says the range).
pub fn check_budget(budget: Duration) -> Result<(), String> {
    if budget < MIN_BUDGET || budget > MAX_BUDGET {
        return Err(format!(
            "must be between {} ms and {} s",
            MIN_BUDGET.as_millis(),
            MAX_BUDGET.as_secs()
        ));
    }
    Ok(())
}

impl PlanSpec {
    /// Checks every value that needs neither the mesh nor the robot; the error names the
    /// key (`plan.variables.pitch_deg.min`, ...).
    pub fn check(&self) -> Result<(), String> {
        parse_budget(&self.budget).map_err(|e| format!("plan.budget: {e}"))?;
        if !(1..=100_000).contains(&self.samples) {
            return Err(format!(
                "plan.samples must be in 1..=100000, got {}",
                self.samples
            ));
        }
        if self.elites == 0 || self.elites > self.samples {
            return Err(format!(
                "plan.elites must be in 1..=plan.samples ({}), got {}",
                self.samples, self.elites
            ));
        }
        if self.validate > 100 {
            return Err(format!(
                "plan.validate must be at most 100 (full-model runs), got {}",
                self.validate
            ));
        }
        let ins = &self.insertion;
        for (key, v, min) in [
            ("standoff", ins.standoff, 0.0),
            ("hold", ins.hold, 0.0),
            ("settle", ins.settle, 0.0),
        ] {
            if !(v.is_finite() && v >= min) {
                return Err(format!(
                    "plan.insertion.{key} must be finite and >= {min}, got {v}"
                ));
            }
        }
        if ins.standoff > 0.05 {
            return Err(format!(
                "plan.insertion.standoff must be at most 0.05 m, got {}",
                ins.standoff
            ));
        }
        if self.variables.is_empty() {
            return Err("plan.variables: no variable to plan; name at least one of pitch_deg, yaw_deg, aim_along, aim_across, depth, speed".into());
        }
        for (var, b) in &self.variables {
            let key = format!("plan.variables.{}", var.key());
            let (lo, hi, unit) = var.range();
            for (k, v) in [("min", b.min), ("max", b.max)] {
                if !v.is_finite() {
                    return Err(format!("{key}.{k} must be finite, got {v}"));
                }
                if v < lo || v > hi {
                    return Err(format!("{key}.{k} = {v} is outside {lo}..={hi} ({unit})"));
                }
            }
            if b.min > b.max {
                return Err(format!("{key}: min ({}) is above max ({})", b.min, b.max));
            }
            if let Some(i) = b.initial {
                if !(i.is_finite() && i >= b.min && i <= b.max) {
                    return Err(format!(
                        "{key}.initial = {i} is outside its bounds {}..={}",
                        b.min, b.max
                    ));
                }
            }
        }
        self.online.check()?;
        let c = &self.cost;
        for (k, v) in [
            ("failed_check", c.failed_check),
            ("target_distance", c.target_distance),
            ("depth_tolerance", c.depth_tolerance),
            ("peak_force", c.peak_force),
            ("damaged_fraction", c.damaged_fraction),
            ("duration", c.duration),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("plan.cost.{k} must be finite and >= 0, got {v}"));
            }
        }
        Ok(())
    }

    /// The budget as a duration (checked by [`PlanSpec::check`]).
    pub fn budget(&self) -> Result<Duration, String> {
        parse_budget(&self.budget).map_err(|e| format!("plan.budget: {e}"))
    }

    /// Bounds of every variable in [`Variable::ALL`] order (unlisted ones fixed at their
    /// default) and the first incumbent.
    pub fn bounds(&self) -> (Vec<(f64, f64)>, Vec<f64>) {
        Variable::ALL
            .iter()
            .map(|v| match self.variables.get(v) {
                Some(b) => {
                    let d = v.default_value();
                    let init = b.initial.unwrap_or(if d >= b.min && d <= b.max {
                        d
                    } else {
                        0.5 * (b.min + b.max)
                    });
                    ((b.min, b.max), init)
                }
                None => ((v.default_value(), v.default_value()), v.default_value()),
            })
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_with_units_and_limits() {
        assert_eq!(parse_budget("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_budget("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(
            parse_budget(" 1.5 s ").unwrap(),
            Duration::from_millis(1500)
        );
        for bad in ["200", "0ms", "-5ms", "1h", "nanms", "2000s", "ms"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
    }
}
