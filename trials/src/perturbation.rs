//! What a case's `[perturbation]` parameters do to its run.
//!
//! A trial separates the patient as it is (the *truth*: the scene the case runs on) from
//! the patient as the robot believes it to be (the *belief*: the scene its planner and
//! online supervisor are built from). Without perturbations the two are the same scene, the
//! case's anatomy and materials (a perfect image). Each perturbation makes them differ:
//!
//! | `[perturbation.<group>]` | keys | the truth | the robot |
//! |---|---|---|---|
//! | `motion` | `share`, `start`, `ramp`, `x`, `y`, `z` | in a share of the cases the arm (the scene's pinned supports, and the tissue with them) moves rigidly by `(x, y, z)` m from `start` s over `ramp` s, in place of the scene's `[[motion]]`; in the rest it holds still | a tracker on the arm: the online supervisor re-aims when the target moves; a `plan` behaviour's plan does not know |
//! | `needle` | `x`, `y`, `z` | the needle's tip sits off its nominal place on the robot by this (m, in the needle link's frame): a mounting or bending error | the robot's model of the needle is nominal |
//! | `registration` | `x`, `y`, `z` | as it is | the planner sees the anatomy moved by this (m, world): an image-registration error ([`Planner::set_registration`](vesalius_cosim::plan::Planner::set_registration)) |
//! | `force_noise` | `sd` | as it is | the supervisor's axial-force reading gets white noise of this sd (N), drawn per frame from the case's seed |
//!
//! Every key is a number (one level) or a distribution (`{ dist = .. }`), a design
//! parameter `perturbation.<group>.<key>` like any other (drawn, stratified, in the row);
//! `motion.share` becomes the 0/1 parameter `perturbation.motion.moving`. A fixed stroke
//! (`kind = "fixed"`) has no planner and no sensor: only the truth's perturbations reach it.

use glam::DVec3;
use vesalius_cosim::engine::scene::overrides::Override;

use crate::{Case, Value};

/// The patient's rigid move in a case.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PatientMotion {
    /// When it starts (s).
    pub start: f64,
    /// How long it takes (s).
    pub ramp: f64,
    /// How far (m, world).
    pub offset: DVec3,
}

/// A case's perturbations.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Perturbation {
    /// `None`: the trial has no `[perturbation.motion]` (the scene's `[[motion]]` is kept);
    /// `Some(None)`: this case holds still.
    pub motion: Option<Option<PatientMotion>>,
    /// The needle tip's offset from its nominal place (m, needle link frame), if drawn.
    pub needle: Option<DVec3>,
    /// The planner's registration error (m, world).
    pub registration: DVec3,
    /// The supervisor's force-sensor noise (N, standard deviation).
    pub force_noise: f64,
}

/// Whether a parameter is a perturbation (not a change to the scene's file).
pub fn is_perturbation(name: &str) -> bool {
    name.starts_with("perturbation.")
}

impl Perturbation {
    /// The perturbations of `case` (a missing key is 0).
    pub fn of(case: &Case) -> Self {
        let v = &case.values;
        let num = |key: &str| {
            v.get(&format!("perturbation.{key}"))
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
        };
        let has = |group: &str| {
            let prefix = format!("perturbation.{group}.");
            v.keys().any(|k| k.starts_with(&prefix))
        };
        let vec = |group: &str| {
            DVec3::new(
                num(&format!("{group}.x")),
                num(&format!("{group}.y")),
                num(&format!("{group}.z")),
            )
        };
        Perturbation {
            motion: has("motion").then(|| {
                (num("motion.moving") >= 0.5).then(|| PatientMotion {
                    start: num("motion.start"),
                    ramp: num("motion.ramp"),
                    offset: vec("motion"),
                })
            }),
            needle: has("needle").then(|| vec("needle")),
            registration: vec("registration"),
            force_noise: num("force_noise.sd"),
        }
    }

    /// The changes that make the truth out of the belief: the patient's motion and the
    /// needle's place (`needle_tip`: the scene's `needle.tip`, if it has a needle).
    pub fn truth_overrides(&self, needle_tip: Option<[f64; 3]>) -> Result<Vec<Override>, String> {
        let mut out = Vec::new();
        if let Some(motion) = self.motion {
            let moves: Vec<toml::Value> = motion
                .into_iter()
                .map(|m| {
                    let mut t = toml::Table::new();
                    t.insert("t".into(), floats(&[m.start, m.start + m.ramp]));
                    t.insert("translate".into(), floats(&m.offset.to_array()));
                    toml::Value::Table(t)
                })
                .collect();
            out.push(Override::new("motion", toml::Value::Array(moves)));
        }
        if let Some(offset) = self.needle {
            let tip = needle_tip.ok_or(
                "perturbation.needle: the scene has no [needle] to move the tip of".to_string(),
            )?;
            let moved = DVec3::from_array(tip) + offset;
            out.push(Override::new("needle.tip", floats(&moved.to_array())));
        }
        Ok(out)
    }
}

fn floats(xs: &[f64]) -> toml::Value {
    toml::Value::Array(xs.iter().map(|&x| toml::Value::Float(x)).collect())
}
