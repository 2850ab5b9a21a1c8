//! Inverse kinematics: damped least squares with Levenberg-Marquardt damping adaptation,
//! joint limits, and random restarts.

use rapier3d::na::{DMatrix, DVector, Isometry3, Vector3};

use crate::error::{Result, RobotError};
use crate::math::rotation_error;
use crate::model::{JointKind, LinkId, RobotModel};

/// What the tool frame must reach, in world coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IkTarget {
    /// Position of the tool point only (3 constraints).
    Position(Vector3<f64>),
    /// Position and orientation of the tool frame (6 constraints).
    Pose(Isometry3<f64>),
}

/// Options of [`solve_ik`].
#[derive(Clone, Debug)]
pub struct IkOptions {
    /// The tool frame in the link frame (default identity: the link frame itself).
    pub tool_offset: Isometry3<f64>,
    /// Iterations per attempt (default 200).
    pub max_iterations: usize,
    /// Random restarts after the first attempt from the initial guess (default 30).
    pub restarts: usize,
    /// Position tolerance (m, default 1e-6).
    pub position_tolerance: f64,
    /// Orientation tolerance (rad, default 1e-5).
    pub orientation_tolerance: f64,
    /// Initial Levenberg-Marquardt damping (default 1e-3).
    pub initial_damping: f64,
    /// Largest change of one coordinate per iteration (rad or m, default 0.5).
    pub max_step: f64,
    /// Length converting orientation error to position-like error (m/rad, default 0.1):
    /// balances the two parts of a pose target.
    pub orientation_scale: f64,
    /// Entries of `q` that IK must not change (floating joints are always locked).
    pub locked: Vec<usize>,
    /// Seed of the restart sampler (IK is deterministic for a given seed).
    pub seed: u64,
}

impl Default for IkOptions {
    fn default() -> Self {
        IkOptions {
            tool_offset: Isometry3::identity(),
            max_iterations: 200,
            restarts: 30,
            position_tolerance: 1e-6,
            orientation_tolerance: 1e-5,
            initial_damping: 1e-3,
            max_step: 0.5,
            orientation_scale: 0.1,
            locked: Vec::new(),
            seed: 0x5eed_1234_abcd_0001,
        }
    }
}

/// Result of an IK solve.
#[derive(Clone, Debug, PartialEq)]
pub struct IkSolution {
    /// The configuration (all entries of `q`, locked ones unchanged).
    pub q: Vec<f64>,
    /// Remaining position error (m).
    pub position_error: f64,
    /// Remaining orientation error (rad; 0 for position targets).
    pub orientation_error: f64,
    /// Iterations used over all attempts.
    pub iterations: usize,
    /// Attempts used (1 = converged from the initial guess).
    pub attempts: usize,
    /// Whether both tolerances were met.
    pub converged: bool,
}

struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (v >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Solves IK for `link` (with [`IkOptions::tool_offset`]) starting at `q_init`, and fails with
/// [`RobotError::IkNotConverged`] when no attempt meets the tolerances.
pub fn solve_ik(
    model: &RobotModel,
    link: LinkId,
    target: &IkTarget,
    q_init: &[f64],
    options: &IkOptions,
) -> Result<IkSolution> {
    let sol = solve_ik_best_effort(model, link, target, q_init, options)?;
    if sol.converged {
        Ok(sol)
    } else {
        Err(RobotError::IkNotConverged {
            link: model.links[link].name.clone(),
            position_error: sol.position_error,
            orientation_error: sol.orientation_error,
            iterations: sol.iterations,
        })
    }
}

/// Like [`solve_ik`] but returns the best configuration found even when it did not converge
/// (check [`IkSolution::converged`]). Errors only on invalid input.
pub fn solve_ik_best_effort(
    model: &RobotModel,
    link: LinkId,
    target: &IkTarget,
    q_init: &[f64],
    options: &IkOptions,
) -> Result<IkSolution> {
    model.check_q(q_init)?;
    if link.index() >= model.links.len() {
        return Err(RobotError::InvalidArgument(format!(
            "link id {link} out of range for robot '{}'",
            model.name
        )));
    }
    let finite = match target {
        IkTarget::Position(p) => p.iter().all(|v| v.is_finite()),
        IkTarget::Pose(t) => {
            t.translation.vector.iter().all(|v| v.is_finite())
                && t.rotation.coords.iter().all(|v| v.is_finite())
        }
    };
    if !finite {
        return Err(RobotError::InvalidArgument(
            "IK target is not finite".into(),
        ));
    }
    let limits = model.dof_limits();
    let n = model.ndof();
    let free: Vec<usize> = (0..n)
        .filter(|i| {
            !options.locked.contains(i)
                && model.joints[model.dofs[*i].0].kind != JointKind::Floating
        })
        .collect();
    let mut rng = Rng(options.seed | 1);
    let mut best: Option<IkSolution> = None;
    let mut total_iters = 0;
    let mut attempts = 0;
    for attempt in 0..=options.restarts {
        attempts += 1;
        let mut q: Vec<f64> = q_init.to_vec();
        if attempt > 0 {
            for &i in &free {
                let (lo, hi) = limits[i];
                let (lo, hi) = if lo.is_finite() && hi.is_finite() {
                    (lo, hi)
                } else if model.joints[model.dofs[i].0].kind == JointKind::Prismatic {
                    (q_init[i] - 0.5, q_init[i] + 0.5)
                } else {
                    (-std::f64::consts::PI, std::f64::consts::PI)
                };
                q[i] = lo + (hi - lo) * rng.next_f64();
            }
        }
        for &i in &free {
            q[i] = q[i].max(limits[i].0).min(limits[i].1);
        }
        let (sol, iters) = attempt_lm(model, link, target, q, &free, &limits, options);
        total_iters += iters;
        let better = match &best {
            None => true,
            Some(b) => cost(&sol, options) < cost(b, options),
        };
        if better {
            best = Some(sol);
        }
        if best.as_ref().is_some_and(|b| b.converged) {
            break;
        }
    }
    let mut best = best.expect("at least one attempt");
    best.iterations = total_iters;
    best.attempts = attempts;
    Ok(best)
}

fn cost(s: &IkSolution, o: &IkOptions) -> f64 {
    s.position_error + o.orientation_scale * s.orientation_error
}

/// Error vector (3 or 6) and its pieces.
fn residual(
    model: &RobotModel,
    q: &[f64],
    link: LinkId,
    target: &IkTarget,
    options: &IkOptions,
) -> (DVector<f64>, f64, f64) {
    let full = model.full_coordinates(q).expect("q checked");
    let pose = model.pose_from_full(&full, link) * options.tool_offset;
    match target {
        IkTarget::Position(p) => {
            let e = p - pose.translation.vector;
            let n = e.norm();
            (DVector::from_column_slice(e.as_slice()), n, 0.0)
        }
        IkTarget::Pose(t) => {
            let e = t.translation.vector - pose.translation.vector;
            let r = rotation_error(&t.rotation, &pose.rotation);
            let mut v = DVector::zeros(6);
            v.fixed_rows_mut::<3>(0).copy_from(&e);
            v.fixed_rows_mut::<3>(3)
                .copy_from(&(r * options.orientation_scale));
            (v, e.norm(), r.norm())
        }
    }
}

fn attempt_lm(
    model: &RobotModel,
    link: LinkId,
    target: &IkTarget,
    mut q: Vec<f64>,
    free: &[usize],
    limits: &[(f64, f64)],
    options: &IkOptions,
) -> (IkSolution, usize) {
    let rows = match target {
        IkTarget::Position(_) => 3,
        IkTarget::Pose(_) => 6,
    };
    let (mut e, mut pe, mut oe) = residual(model, &q, link, target, options);
    let mut lambda = options.initial_damping;
    let mut iters = 0;
    let done = |pe: f64, oe: f64| {
        pe <= options.position_tolerance && (rows == 3 || oe <= options.orientation_tolerance)
    };
    while iters < options.max_iterations && !done(pe, oe) {
        iters += 1;
        let full = model.full_coordinates(&q).expect("q checked");
        let jfull = model.jacobian_full(&full, link, &options.tool_offset.translation.vector);
        let jq = model.fold_mimic(&jfull);
        let mut j = DMatrix::zeros(rows, free.len());
        for (c, &i) in free.iter().enumerate() {
            for r in 0..rows {
                let scale = if r >= 3 {
                    options.orientation_scale
                } else {
                    1.0
                };
                j[(r, c)] = jq[(r, i)] * scale;
            }
        }
        let jt = j.transpose();
        let jtj = &jt * &j;
        let g = &jt * &e;
        let mut accepted = false;
        for _ in 0..12 {
            let mut a = jtj.clone();
            for d in 0..free.len() {
                a[(d, d)] += lambda * (1.0 + jtj[(d, d)]);
            }
            let Some(chol) = a.cholesky() else {
                lambda *= 10.0;
                continue;
            };
            let mut dq = chol.solve(&g);
            let m = dq.amax();
            if m > options.max_step {
                dq *= options.max_step / m;
            }
            let mut q_new = q.clone();
            for (c, &i) in free.iter().enumerate() {
                q_new[i] = (q[i] + dq[c]).max(limits[i].0).min(limits[i].1);
            }
            let (e_new, pe_new, oe_new) = residual(model, &q_new, link, target, options);
            if e_new.norm() < e.norm() {
                q = q_new;
                e = e_new;
                pe = pe_new;
                oe = oe_new;
                lambda = (lambda * 0.3).max(1e-12);
                accepted = true;
                break;
            }
            lambda *= 5.0;
        }
        if !accepted {
            break; // stuck in a local minimum (or at a limit): let the caller restart
        }
    }
    // Wrap continuous joints into (-π, π].
    for &i in free {
        if model.joints[model.dofs[i].0].kind == JointKind::Continuous {
            let w = q[i].sin().atan2(q[i].cos());
            q[i] = w;
        }
    }
    let (_, pe, oe) = residual(model, &q, link, target, options);
    let converged = done(pe, oe);
    (
        IkSolution {
            q,
            position_error: pe,
            orientation_error: oe,
            iterations: iters,
            attempts: 1,
            converged,
        },
        iters,
    )
}
