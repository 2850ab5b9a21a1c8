//! Joint-space trajectories (clamped cubic splines) and Cartesian tool paths.

use rapier3d::na::{Isometry3, Translation3};

use crate::error::{Result, RobotError};
use crate::kinematics::{solve_ik, IkOptions, IkTarget};
use crate::model::{LinkId, RobotModel};

/// Position, velocity and acceleration of a trajectory at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct TrajectorySample {
    /// Positions.
    pub q: Vec<f64>,
    /// Velocities.
    pub qd: Vec<f64>,
    /// Accelerations.
    pub qdd: Vec<f64>,
}

/// A joint-space trajectory through timed waypoints.
///
/// Each coordinate is a clamped cubic spline: it passes through every waypoint, starts and
/// ends at rest (zero velocity), and its position, velocity and acceleration are continuous
/// (C²). Where a coordinate has the same value at two consecutive waypoints it holds still
/// between them, exactly: the spline is split there into splines from rest to rest (C¹ at
/// those waypoints). Before the first time it holds the first waypoint, after
/// the last it holds the last one.
#[derive(Clone, Debug, PartialEq)]
pub struct JointTrajectory {
    times: Vec<f64>,
    points: Vec<Vec<f64>>,
    /// Second derivatives at the start and end of each segment, `[segment][coordinate]`.
    second: Vec<Vec<[f64; 2]>>,
}

impl JointTrajectory {
    /// Builds the spline. `times` must be finite and strictly increasing, every point must
    /// have the same length, and there must be at least two waypoints.
    pub fn new(times: Vec<f64>, points: Vec<Vec<f64>>) -> Result<Self> {
        if times.len() != points.len() {
            return Err(RobotError::DimensionMismatch {
                what: "trajectory waypoints (one time per point)".into(),
                expected: times.len(),
                got: points.len(),
            });
        }
        if times.len() < 2 {
            return Err(RobotError::InvalidArgument(
                "a trajectory needs at least two waypoints".into(),
            ));
        }
        let n = points[0].len();
        for (i, p) in points.iter().enumerate() {
            if p.len() != n {
                return Err(RobotError::DimensionMismatch {
                    what: format!("trajectory waypoint {i}"),
                    expected: n,
                    got: p.len(),
                });
            }
            if p.iter().any(|v| !v.is_finite()) {
                return Err(RobotError::InvalidArgument(format!(
                    "trajectory waypoint {i} has a non-finite value"
                )));
            }
        }
        for w in times.windows(2) {
            if !(w[0].is_finite() && w[1].is_finite() && w[1] > w[0]) {
                return Err(RobotError::InvalidArgument(format!(
                    "trajectory times must be finite and strictly increasing (got {} then {})",
                    w[0], w[1]
                )));
            }
        }
        let k = times.len();
        let h: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        // Per segment and coordinate: the second derivatives at its start and end.
        let mut second = vec![vec![[0.0; 2]; n]; k - 1];
        for d in 0..n {
            let y: Vec<f64> = points.iter().map(|p| p[d]).collect();
            // A coordinate that does not move between two waypoints holds still there (a
            // single spline through a hold would dip or overshoot in it): the waypoints
            // split into runs at such segments, each run a clamped spline from rest to rest.
            let mut start = 0;
            while start < k - 1 {
                if y[start + 1] == y[start] {
                    start += 1; // a hold: zero second derivatives, constant
                    continue;
                }
                let mut end = start + 1;
                while end < k - 1 && y[end + 1] != y[end] {
                    end += 1;
                }
                let m = clamped_spline(&h[start..end], &y[start..=end]);
                for i in start..end {
                    second[i][d] = [m[i - start], m[i - start + 1]];
                }
                start = end;
            }
        }
        Ok(JointTrajectory {
            times,
            points,
            second,
        })
    }

    /// Number of coordinates.
    pub fn ndof(&self) -> usize {
        self.points[0].len()
    }

    /// Time of the first waypoint.
    pub fn start_time(&self) -> f64 {
        self.times[0]
    }

    /// Time of the last waypoint.
    pub fn end_time(&self) -> f64 {
        *self.times.last().expect("at least two waypoints")
    }

    /// Waypoint times.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// Waypoint positions.
    pub fn waypoints(&self) -> &[Vec<f64>] {
        &self.points
    }

    /// Evaluates the trajectory at time `t`.
    pub fn sample(&self, t: f64) -> TrajectorySample {
        let n = self.ndof();
        if t.is_nan() || t <= self.start_time() || t >= self.end_time() {
            let p = if t.is_nan() || t <= self.start_time() {
                &self.points[0]
            } else {
                self.points.last().expect("non-empty")
            };
            return TrajectorySample {
                q: p.clone(),
                qd: vec![0.0; n],
                qdd: vec![0.0; n],
            };
        }
        let i = match self.times.partition_point(|&x| x <= t) {
            0 => 0,
            p => (p - 1).min(self.times.len() - 2),
        };
        let h = self.times[i + 1] - self.times[i];
        let a = self.times[i + 1] - t;
        let b = t - self.times[i];
        let mut out = TrajectorySample {
            q: vec![0.0; n],
            qd: vec![0.0; n],
            qdd: vec![0.0; n],
        };
        for d in 0..n {
            let (y0, y1) = (self.points[i][d], self.points[i + 1][d]);
            let [m0, m1] = self.second[i][d];
            if y0 == y1 && m0 == 0.0 && m1 == 0.0 {
                out.q[d] = y0; // a hold, exactly (the formula below rounds)
                continue;
            }
            let c0 = y0 / h - m0 * h / 6.0;
            let c1 = y1 / h - m1 * h / 6.0;
            out.q[d] = m0 * a * a * a / (6.0 * h) + m1 * b * b * b / (6.0 * h) + c0 * a + c1 * b;
            out.qd[d] = -m0 * a * a / (2.0 * h) + m1 * b * b / (2.0 * h) - c0 + c1;
            out.qdd[d] = m0 * a / h + m1 * b / h;
        }
        out
    }

    /// Checks position and velocity limits of `model` on `samples` evenly spaced instants;
    /// returns an error naming the first violated joint and the time.
    pub fn check_limits(&self, model: &RobotModel, samples: usize) -> Result<()> {
        match self.limit_violation(model, samples)? {
            None => Ok(()),
            Some(v) => Err(RobotError::InvalidArgument(v.to_string())),
        }
    }

    /// The first place where the trajectory leaves a joint's position limits or exceeds its
    /// velocity limit, sampled at `samples` evenly spaced times and at every waypoint
    /// (`None`: within the limits). Errors only when the trajectory does not fit `model`.
    pub fn limit_violation(
        &self,
        model: &RobotModel,
        samples: usize,
    ) -> Result<Option<LimitViolation>> {
        if self.ndof() != model.ndof() {
            return Err(RobotError::DimensionMismatch {
                what: format!("trajectory for robot '{}'", model.name),
                expected: model.ndof(),
                got: self.ndof(),
            });
        }
        let limits = model.dof_limits();
        let names = model.dof_names();
        let samples = samples.max(2);
        let (t0, t1) = (self.start_time(), self.end_time());
        let mut times: Vec<f64> = (0..samples)
            .map(|s| t0 + (t1 - t0) * s as f64 / (samples - 1) as f64)
            .chain(self.times.iter().copied())
            .collect();
        times.sort_by(f64::total_cmp);
        for t in times {
            let smp = self.sample(t);
            for i in 0..self.ndof() {
                let (lo, hi) = limits[i];
                let vmax = model.joints()[model.dofs()[i].0].limits.velocity;
                let joint = names[i].clone();
                if smp.q[i] < lo - 1e-9 || smp.q[i] > hi + 1e-9 {
                    return Ok(Some(LimitViolation {
                        joint,
                        dof: i,
                        time: t,
                        kind: LimitKind::Position,
                        value: smp.q[i],
                        bounds: (lo, hi),
                    }));
                }
                if smp.qd[i].abs() > vmax + 1e-9 {
                    return Ok(Some(LimitViolation {
                        joint,
                        dof: i,
                        time: t,
                        kind: LimitKind::Velocity,
                        value: smp.qd[i],
                        bounds: (-vmax, vmax),
                    }));
                }
            }
        }
        Ok(None)
    }
}

/// Which limit a trajectory breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// The joint position leaves `[lower, upper]`.
    Position,
    /// The joint speed exceeds the URDF's velocity limit.
    Velocity,
}

/// Where and how a trajectory breaks a joint limit.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitViolation {
    /// The joint (movable degree of freedom) by name.
    pub joint: String,
    /// Its index among the movable degrees of freedom.
    pub dof: usize,
    /// Time of the violation (s).
    pub time: f64,
    /// Position or velocity.
    pub kind: LimitKind,
    /// The position (m or rad) or velocity (m/s or rad/s) there.
    pub value: f64,
    /// The allowed range.
    pub bounds: (f64, f64),
}

impl std::fmt::Display for LimitViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (lo, hi) = self.bounds;
        match self.kind {
            LimitKind::Position => write!(
                f,
                "trajectory leaves the position limits of '{}' at t = {:.4} s ({:.5} not in [{lo}, {hi}])",
                self.joint, self.time, self.value
            ),
            LimitKind::Velocity => write!(
                f,
                "trajectory exceeds the velocity limit of '{}' at t = {:.4} s (|{:.5}| > {hi})",
                self.joint, self.time, self.value
            ),
        }
    }
}

/// A timed Cartesian target of a tool path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CartesianWaypoint {
    /// Time (s).
    pub time: f64,
    /// Where the tool must be.
    pub target: IkTarget,
}

/// A Cartesian tool path: timed tool positions or poses, linearly interpolated (positions)
/// and slerped (orientations) between waypoints, turned into a [`JointTrajectory`] by IK.
#[derive(Clone, Debug)]
pub struct CartesianPath {
    /// The tool link.
    pub link: LinkId,
    /// Waypoints, strictly increasing in time, all of the same kind (position or pose).
    pub waypoints: Vec<CartesianWaypoint>,
    /// IK options (tool offset, tolerances...).
    pub ik: IkOptions,
}

impl CartesianPath {
    /// Builds a path, checking times and target kinds.
    pub fn new(link: LinkId, waypoints: Vec<CartesianWaypoint>, ik: IkOptions) -> Result<Self> {
        if waypoints.len() < 2 {
            return Err(RobotError::InvalidArgument(
                "a Cartesian path needs at least two waypoints".into(),
            ));
        }
        for w in waypoints.windows(2) {
            if !(w[0].time.is_finite() && w[1].time.is_finite() && w[1].time > w[0].time) {
                return Err(RobotError::InvalidArgument(
                    "Cartesian path times must be finite and strictly increasing".into(),
                ));
            }
            if std::mem::discriminant(&w[0].target) != std::mem::discriminant(&w[1].target) {
                return Err(RobotError::InvalidArgument(
                    "Cartesian path waypoints must all be positions or all be poses".into(),
                ));
            }
        }
        Ok(CartesianPath {
            link,
            waypoints,
            ik,
        })
    }

    /// Interpolated target at time `t` (clamped to the path's time range).
    pub fn target_at(&self, t: f64) -> IkTarget {
        let w = &self.waypoints;
        let t = t.max(w[0].time).min(w[w.len() - 1].time);
        let i = w
            .windows(2)
            .position(|p| t <= p[1].time)
            .unwrap_or(w.len() - 2);
        let s = (t - w[i].time) / (w[i + 1].time - w[i].time);
        match (&w[i].target, &w[i + 1].target) {
            (IkTarget::Position(a), IkTarget::Position(b)) => IkTarget::Position(a.lerp(b, s)),
            (IkTarget::Pose(a), IkTarget::Pose(b)) => IkTarget::Pose(Isometry3::from_parts(
                Translation3::from(a.translation.vector.lerp(&b.translation.vector, s)),
                a.rotation.slerp(&b.rotation, s),
            )),
            _ => w[i].target,
        }
    }

    /// Samples the path every `sample_dt` seconds (and at every waypoint), solves IK at each
    /// sample seeded with the previous solution (starting from `q_start`), and fits a
    /// [`JointTrajectory`] through the solutions. Fails with a message naming the time when IK
    /// fails or jumps to another solution branch (a coordinate moving more than
    /// `max_jump` between consecutive samples).
    pub fn to_joint_trajectory(
        &self,
        model: &RobotModel,
        q_start: &[f64],
        sample_dt: f64,
        max_jump: f64,
    ) -> Result<JointTrajectory> {
        model.check_q(q_start)?;
        if !(sample_dt.is_finite() && sample_dt > 0.0) {
            return Err(RobotError::InvalidArgument(format!(
                "sample_dt must be positive (got {sample_dt})"
            )));
        }
        let mut times = Vec::new();
        for w in self.waypoints.windows(2) {
            let span = w[1].time - w[0].time;
            let n = (span / sample_dt).ceil().max(1.0) as usize;
            for k in 0..n {
                times.push(w[0].time + span * k as f64 / n as f64);
            }
        }
        times.push(self.waypoints[self.waypoints.len() - 1].time);
        let mut points = Vec::with_capacity(times.len());
        let mut q = q_start.to_vec();
        for &t in &times {
            let target = self.target_at(t);
            let mut local = self.ik.clone();
            local.restarts = 0;
            let sol = match solve_ik(model, self.link, &target, &q, &local) {
                Ok(s) => s,
                Err(_) => solve_ik(model, self.link, &target, &q, &self.ik).map_err(|e| {
                    RobotError::InvalidArgument(format!("Cartesian path: at t = {t:.4} s: {e}"))
                })?,
            };
            if let Some(prev) = points.last() {
                let prev: &Vec<f64> = prev;
                let jump = prev
                    .iter()
                    .zip(&sol.q)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                if jump > max_jump {
                    return Err(RobotError::InvalidArgument(format!(
                        "Cartesian path: IK solution jumps by {jump:.3} at t = {t:.4} s (another branch; sample more finely or move the path)"
                    )));
                }
            }
            q = sol.q.clone();
            points.push(sol.q);
        }
        JointTrajectory::new(times, points)
    }
}

/// Knot second derivatives of the cubic spline through `y` (segment lengths `h`) with zero
/// velocity at both ends (tridiagonal system, Thomas algorithm).
fn clamped_spline(h: &[f64], y: &[f64]) -> Vec<f64> {
    let k = y.len();
    let mut a = vec![0.0; k];
    let mut b = vec![0.0; k];
    let mut c = vec![0.0; k];
    let mut r = vec![0.0; k];
    b[0] = 2.0 * h[0];
    c[0] = h[0];
    r[0] = 6.0 * ((y[1] - y[0]) / h[0]);
    for i in 1..k - 1 {
        a[i] = h[i - 1];
        b[i] = 2.0 * (h[i - 1] + h[i]);
        c[i] = h[i];
        r[i] = 6.0 * ((y[i + 1] - y[i]) / h[i] - (y[i] - y[i - 1]) / h[i - 1]);
    }
    a[k - 1] = h[k - 2];
    b[k - 1] = 2.0 * h[k - 2];
    r[k - 1] = 6.0 * (-(y[k - 1] - y[k - 2]) / h[k - 2]);
    for i in 1..k {
        let m = a[i] / b[i - 1];
        b[i] -= m * c[i - 1];
        r[i] -= m * r[i - 1];
    }
    let mut x = vec![0.0; k];
    x[k - 1] = r[k - 1] / b[k - 1];
    for i in (0..k - 1).rev() {
        x[i] = (r[i] - c[i] * x[i + 1]) / b[i];
    }
    x
}
