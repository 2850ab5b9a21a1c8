//! Moving supports: rigid motions of pinned vertex sets over time intervals (a patient who
//! shifts an arm, a table that tilts), turned into [`Control::pin_targets`] frame by frame.
//!
//! ```toml
//! [[motion]]
//! t = [1.5, 1.7]                  # start and end (s); eases in and out (cosine ramp)
//! translate = [0.002, 0.0, 0.0]   # m, over the interval
//! rotate_deg = [0.0, 0.0, 5.0]    # rotation vector (degrees) about `center`; optional
//! center = [0.02, 0.0, -0.01]     # m; default the origin
//! pins = [0, 1]                   # which [[pin]] sets move (by order); default all
//! ```
//!
//! Motions compose in the order they are listed: each moves what the earlier ones left.
//! Target points and everything else embedded in the tissue follow the tissue.

use glam::{DMat3, DVec3};
use serde::{Deserialize, Serialize};

use super::{Control, Model};

/// Largest translation of one motion (m) and rotation (degrees): beyond these a value is a
/// typo (millimetres given as metres), not a patient moving.
pub const MAX_TRANSLATION: f64 = 1.0;
/// Largest rotation of one motion (degrees).
pub const MAX_ROTATION_DEG: f64 = 180.0;

/// One rigid motion of some pin sets over a time interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportMotion {
    /// Start and end time (s).
    pub t: [f64; 2],
    /// Translation reached at the end (m).
    #[serde(default)]
    pub translate: [f64; 3],
    /// Rotation vector reached at the end (degrees, about `center`).
    #[serde(default)]
    pub rotate_deg: [f64; 3],
    /// Centre of the rotation (m).
    #[serde(default)]
    pub center: [f64; 3],
    /// Indices of the pin sets it moves (the order of the scene's `[[pin]]` tables);
    /// `None`: all of them.
    #[serde(default)]
    pub pins: Option<Vec<usize>>,
}

impl SupportMotion {
    /// Checks the values against a scene with `pin_sets` pin sets (what is wrong, naming
    /// the key).
    pub fn check(&self, pin_sets: usize) -> Result<(), String> {
        let [t0, t1] = self.t;
        if !(t0.is_finite() && t1.is_finite() && t0 >= 0.0 && t1 > t0) {
            return Err(format!(
                "t = [{t0}, {t1}]: needs finite times with 0 <= start < end (s)"
            ));
        }
        let finite = |v: &[f64; 3]| v.iter().all(|c| c.is_finite());
        if !finite(&self.translate) || DVec3::from_array(self.translate).length() > MAX_TRANSLATION
        {
            return Err(format!(
                "translate = {:?}: needs a finite translation of at most {MAX_TRANSLATION} m",
                self.translate
            ));
        }
        if !finite(&self.rotate_deg)
            || DVec3::from_array(self.rotate_deg).length() > MAX_ROTATION_DEG
        {
            return Err(format!(
                "rotate_deg = {:?}: needs a finite rotation of at most {MAX_ROTATION_DEG} degrees",
                self.rotate_deg
            ));
        }
        if !finite(&self.center) {
            return Err(format!("center = {:?} is not finite", self.center));
        }
        if pin_sets == 0 {
            return Err("moves supports, and the scene pins nothing ([[pin]])".into());
        }
        if let Some(pins) = &self.pins {
            if pins.is_empty() {
                return Err("pins = []: moves nothing (leave it out to move every pin set)".into());
            }
            if let Some(p) = pins.iter().find(|&&p| p >= pin_sets) {
                return Err(format!(
                    "pins: no pin set {p} (the scene has {pin_sets}, numbered from 0)"
                ));
            }
        }
        Ok(())
    }

    /// How far along the motion is at time `t` (0 before, 1 after; a cosine ramp between,
    /// so the supports start and stop without a jump in velocity).
    pub fn fraction(&self, t: f64) -> f64 {
        let [t0, t1] = self.t;
        let u = ((t - t0) / (t1 - t0)).clamp(0.0, 1.0);
        0.5 - 0.5 * (std::f64::consts::PI * u).cos()
    }

    /// Where the motion takes point `x` at fraction `s`.
    pub fn apply(&self, s: f64, x: DVec3) -> DVec3 {
        let c = DVec3::from_array(self.center);
        let r = DVec3::from_array(self.rotate_deg) * (s * std::f64::consts::PI / 180.0);
        let rot = if r.length() > 0.0 {
            DMat3::from_axis_angle(r.normalize(), r.length())
        } else {
            DMat3::IDENTITY
        };
        c + rot * (x - c) + DVec3::from_array(self.translate) * s
    }
}

/// The scene's support motions resolved on a model: which pinned vertices each moves.
#[derive(Clone, Debug, Default)]
pub struct SupportDrive {
    motions: Vec<SupportMotion>,
    /// Per motion, per entry of `Model::pinned`: whether it moves that vertex.
    moved: Vec<Vec<bool>>,
    /// The rest positions of the pinned vertices.
    rest: Vec<DVec3>,
}

impl SupportDrive {
    /// Resolves `motions` on `model` (its `pin_sets` in scene order); checked.
    pub fn new(model: &Model, motions: &[SupportMotion]) -> Result<Self, String> {
        let mut moved = Vec::with_capacity(motions.len());
        for (i, m) in motions.iter().enumerate() {
            m.check(model.pin_sets.len())
                .map_err(|e| format!("motion[{i}]: {e}"))?;
            let mut mark = vec![false; model.pinned.len()];
            let sets: Vec<usize> = match &m.pins {
                Some(p) => p.clone(),
                None => (0..model.pin_sets.len()).collect(),
            };
            for s in sets {
                for v in &model.pin_sets[s] {
                    if let Ok(k) = model.pinned.binary_search(v) {
                        mark[k] = true;
                    }
                }
            }
            moved.push(mark);
        }
        let rest = model
            .pinned
            .iter()
            .map(|&i| DVec3::from_array(model.rest_positions[i as usize].map(f64::from)))
            .collect();
        Ok(Self {
            motions: motions.to_vec(),
            moved,
            rest,
        })
    }

    /// Whether any motion moves the supports between `t0` and `t1` (a frame).
    pub fn moves_during(&self, t0: f64, t1: f64) -> bool {
        self.motions.iter().any(|m| m.t[0] < t1 && m.t[1] > t0)
    }

    /// The pinned vertices' displacements at time `t` (the order of `Model::pinned`).
    pub fn targets(&self, t: f64) -> Vec<[f32; 3]> {
        (0..self.rest.len())
            .map(|k| {
                let mut x = self.rest[k];
                for (m, moved) in self.motions.iter().zip(&self.moved) {
                    if moved[k] {
                        x = m.apply(m.fraction(t), x);
                    }
                }
                (x - self.rest[k]).as_vec3().to_array()
            })
            .collect()
    }

    /// The control of the frame from `t0` to `t1`: the supports' targets at `t1` while a
    /// motion runs, else none (they hold).
    pub fn control(&self, t0: f64, t1: f64) -> Control {
        Control {
            pin_targets: if self.moves_during(t0, t1) {
                self.targets(t1)
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }

    /// Whether there are motions at all.
    pub fn is_empty(&self) -> bool {
        self.motions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn motion() -> SupportMotion {
        SupportMotion {
            t: [1.0, 2.0],
            translate: [0.002, 0.0, 0.0],
            rotate_deg: [0.0, 0.0, 90.0],
            center: [1.0, 0.0, 0.0],
            pins: None,
        }
    }

    #[test]
    fn ramp_and_rigid_map() {
        let m = motion();
        assert_eq!(m.fraction(0.5), 0.0);
        assert!((m.fraction(1.5) - 0.5).abs() < 1e-12);
        assert_eq!(m.fraction(3.0), 1.0);
        // (2, 0, 0) turned 90 degrees about z through (1, 0, 0) is (1, 1, 0), then shifted.
        let x = m.apply(1.0, DVec3::new(2.0, 0.0, 0.0));
        assert!((x - DVec3::new(1.002, 1.0, 0.0)).length() < 1e-12, "{x}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut m = motion();
        m.t = [2.0, 1.0];
        assert!(m.check(1).unwrap_err().starts_with("t = "));
        let mut m = motion();
        m.translate = [2.0, 0.0, 0.0];
        assert!(m.check(1).unwrap_err().starts_with("translate"));
        let mut m = motion();
        m.pins = Some(vec![3]);
        assert!(m.check(2).unwrap_err().contains("no pin set 3"));
        assert!(motion().check(0).unwrap_err().contains("pins nothing"));
    }
}
