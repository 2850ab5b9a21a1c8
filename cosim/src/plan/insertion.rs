//! From decision variables to a needle-insertion trajectory: the approach pose, a hold,
//! and a stroke along the needle's axis.
//!
//! The aim point lies on the insertion target (a `[[target]]` polyline, e.g. a vein's
//! centreline): its middle, moved by `aim_along` along the target and `aim_across` across
//! it in the skin plane (the world's xy-plane; z is up). The needle's direction comes from
//! `pitch_deg` (below the skin plane) and `yaw_deg` (about z, from +x), the approach pose's
//! `rpy = [0, pitch, yaw]`. The needle's line through the aim point enters the tissue at
//! the entry point (the first boundary face behind the aim, on the rest mesh); the tip
//! starts `standoff` before it, and the stroke drives it the distance to the aim point plus
//! `depth`, at `speed`.

use glam::DVec3;
use std::sync::Arc;
use vesalius_engine::contact::faces::FaceSet;
use vesalius_engine::model::Model;

use super::spec::{InsertionSpec, Variable};
use crate::trajectory::{JointHandle, LinkHandle, SceneRobot, Trajectory};

/// The geometry the variables are measured in.
#[derive(Clone)]
pub struct InsertionFrame {
    spec: InsertionSpec,
    /// The target's middle point (rest) and unit directions along and across it.
    middle: DVec3,
    along: DVec3,
    across: DVec3,
    faces: Arc<FaceSet>,
    rest: Vec<[f32; 3]>,
    link: LinkHandle,
    joint: JointHandle,
    /// Where the patient is: world = rest + `offset` (a rigid translation, 0 at rest).
    offset: DVec3,
}

/// One candidate insertion, before it is a trajectory.
#[derive(Clone, Debug, PartialEq)]
pub struct Insertion {
    /// The aim point (m, world).
    pub aim: DVec3,
    /// The needle's unit direction.
    pub direction: DVec3,
    /// Where its line enters the tissue (rest mesh).
    pub entry: DVec3,
    /// The approach position of the posed link and its rpy.
    pub approach: [f64; 3],
    /// Approach orientation (roll, pitch, yaw).
    pub rpy: [f64; 3],
    /// Stroke of the insertion joint (m).
    pub stroke: f64,
    /// When the stroke starts and ends (s).
    pub stroke_start: f64,
    /// When the stroke ends (s).
    pub stroke_end: f64,
    /// The simulated duration (s): the stroke's end plus the settling time.
    pub duration: f64,
}

impl InsertionFrame {
    /// The frame of `spec` in a tissue with faces `faces` of `model`, for the scene's robot
    /// and its targets (name, rest points).
    pub fn new(
        spec: &InsertionSpec,
        model: &Model,
        faces: Arc<FaceSet>,
        robot: &SceneRobot,
        targets: &[(String, Vec<[f64; 3]>)],
    ) -> Result<Self, String> {
        let (_, points) = targets
            .iter()
            .find(|(n, _)| n == &spec.target)
            .ok_or_else(|| {
                format!(
                    "plan.insertion.target: no [[target]] named {:?} (targets: {})",
                    spec.target,
                    targets
                        .iter()
                        .map(|t| format!("{:?}", t.0))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        let pts: Vec<DVec3> = points.iter().map(|p| DVec3::from_array(*p)).collect();
        let (middle, tangent) = polyline_middle(&pts);
        let flat = DVec3::new(tangent.x, tangent.y, 0.0);
        let along = if flat.length() > 1e-9 {
            flat.normalize()
        } else {
            DVec3::Y
        };
        let across = DVec3::Z.cross(along);
        let link = robot
            .link(&spec.link)
            .map_err(|e| format!("plan.insertion.link: {e}"))?;
        let joint = robot
            .joint(&spec.joint)
            .map_err(|e| format!("plan.insertion.joint: {e}"))?;
        Ok(Self {
            spec: spec.clone(),
            middle,
            along,
            across,
            faces,
            rest: model.rest_positions.clone(),
            link,
            joint,
            offset: DVec3::ZERO,
        })
    }

    /// The patient has moved rigidly by `offset` from the rest configuration (a tracker on
    /// the arm): aims, entries and approaches are where the tissue is now.
    pub fn set_registration(&mut self, offset: DVec3) {
        self.offset = offset;
    }

    /// The insertion for variables `x` (in [`Variable::ALL`] order).
    pub fn insertion(&self, x: &[f64]) -> Result<Insertion, String> {
        let v = |var: Variable| x[Variable::ALL.iter().position(|&w| w == var).unwrap_or(0)];
        let (pitch, yaw) = (
            v(Variable::PitchDeg).to_radians(),
            v(Variable::YawDeg).to_radians(),
        );
        let direction = DVec3::new(
            pitch.cos() * yaw.cos(),
            pitch.cos() * yaw.sin(),
            -pitch.sin(),
        );
        // In the rest frame; moved to the world by the registration at the end.
        let aim =
            self.middle + self.along * v(Variable::AimAlong) + self.across * v(Variable::AimAcross);
        // Back from the aim point to where the line leaves the tissue: the entry.
        let hits = self.faces.ray_hits(
            &self.rest,
            aim.to_array(),
            (-direction).to_array(),
            0.0,
            1.0,
        );
        let entry_hit = hits
            .iter()
            .find(|h| self.faces.faces[h.face].outer.is_none())
            .ok_or_else(|| {
                format!(
                    "the needle's line through the aim point {:?} does not cross the tissue's surface",
                    aim.to_array()
                )
            })?;
        let entry_t = entry_hit.t;
        let entry = aim - direction * entry_t;
        // Through the skin, not a cut face of the patch (its sides and floor are pinned).
        let f = self.faces.faces[entry_hit.face];
        let p = |i: u32| {
            let q = self.rest[i as usize];
            DVec3::new(q[0] as f64, q[1] as f64, q[2] as f64)
        };
        let normal = (p(f.verts[1]) - p(f.verts[0]))
            .cross(p(f.verts[2]) - p(f.verts[0]))
            .normalize_or_zero();
        if normal.z.abs() < 0.5 {
            return Err(format!(
                "the needle's line enters the tissue through a side of the patch at {:?}, not through the skin",
                entry.to_array()
            ));
        }
        let (aim, entry) = (aim + self.offset, entry + self.offset);
        let approach = entry - direction * self.spec.standoff;
        let stroke = self.spec.standoff + entry_t + v(Variable::Depth);
        if stroke <= 0.0 {
            return Err(format!(
                "stroke {stroke:.4} m: the depth stops the tip before it leaves the approach"
            ));
        }
        let stroke_start = self.spec.hold;
        let stroke_end = stroke_start + stroke / v(Variable::Speed);
        Ok(Insertion {
            aim,
            direction,
            entry,
            approach: approach.to_array(),
            rpy: [0.0, pitch, yaw],
            stroke,
            stroke_start,
            stroke_end,
            duration: stroke_end + self.spec.settle,
        })
    }

    /// The trajectory of an insertion for `robot` (checked: IK of the approach, joint
    /// position and velocity limits).
    pub fn trajectory(&self, robot: &SceneRobot, ins: &Insertion) -> Result<Trajectory, String> {
        let mut b = robot
            .trajectory()
            .pose(0.0, self.link, ins.approach, Some(ins.rpy));
        if ins.stroke_start > 0.0 {
            b = b.hold(ins.stroke_start);
        }
        b.move_by(ins.stroke_end, &[(self.joint, ins.stroke)])
            .build()
            .map_err(|e| e.to_string())
    }

    /// The same insertion started later, from where the robot is: at `t0` the joints are at
    /// `from`, the approach pose is reached `transition` s later, then the hold and the
    /// stroke follow as in [`InsertionFrame::trajectory`] (a re-aim during a run).
    pub fn trajectory_from(
        &self,
        robot: &SceneRobot,
        ins: &Insertion,
        t0: f64,
        from: &[(JointHandle, f64)],
        transition: f64,
    ) -> Result<Trajectory, String> {
        let at = t0 + transition.max(1e-3);
        let mut b =
            robot
                .trajectory()
                .joints(t0, from)
                .pose(at, self.link, ins.approach, Some(ins.rpy));
        if ins.stroke_start > 0.0 {
            b = b.hold(at + ins.stroke_start);
        }
        b.move_by(at + ins.stroke_end, &[(self.joint, ins.stroke)])
            .build()
            .map_err(|e| e.to_string())
    }
}

/// The point halfway along a polyline (by length) and the unit tangent there.
fn polyline_middle(pts: &[DVec3]) -> (DVec3, DVec3) {
    if pts.len() < 2 {
        return (pts.first().copied().unwrap_or(DVec3::ZERO), DVec3::Y);
    }
    let total: f64 = pts.windows(2).map(|w| (w[1] - w[0]).length()).sum();
    let mut left = 0.5 * total;
    for w in pts.windows(2) {
        let l = (w[1] - w[0]).length();
        if l >= left && l > 0.0 {
            return (w[0] + (w[1] - w[0]) * (left / l), (w[1] - w[0]) / l);
        }
        left -= l;
    }
    let n = pts.len();
    (pts[n - 1], (pts[n - 1] - pts[n - 2]).normalize_or_zero())
}
