//! Joint motor commands.

use crate::error::{Result, RobotError};
use crate::model::RobotModel;

/// Proportional-derivative gains of a joint motor, in physical units (N·m/rad and
/// N·m·s/rad for revolute joints, N/m and N·s/m for prismatic joints).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gains {
    /// Stiffness `kp`.
    pub stiffness: f64,
    /// Damping `kd`.
    pub damping: f64,
}

impl Gains {
    /// Builds gains.
    pub fn new(stiffness: f64, damping: f64) -> Self {
        Gains { stiffness, damping }
    }
}

/// What the motor of one independent coordinate does during the next steps.
///
/// Motors are solved implicitly by rapier (a spring-damper constraint integrated with the
/// velocity solver), so high gains stay stable. The generalized force is
/// `kp (target - q) + kd (target_velocity - v) + extra`, evaluated at the end of the step,
/// where `extra` is gravity compensation plus feed-forward (folded into the motor as a shifted
/// target), and the total is clamped to the joint's URDF effort limit. Target velocities are
/// clamped to the URDF velocity limit. A motor with both gains zero is off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MotorCommand {
    /// No motor: the joint is passive (damping and friction from `<dynamics>` still act).
    Off,
    /// Position (PD) control.
    Position {
        /// Target position (rad or m).
        target: f64,
        /// Target velocity (rad/s or m/s), e.g. from a trajectory.
        target_velocity: f64,
        /// Gains.
        gains: Gains,
    },
    /// Velocity control: `kd (target - v)`.
    Velocity {
        /// Target velocity (rad/s or m/s).
        target: f64,
        /// Velocity gain (N·m·s/rad or N·s/m).
        damping: f64,
    },
}

/// Inputs of one robot: one motor command and one feed-forward torque per entry of the
/// configuration `q`, and a gravity-compensation switch.
///
/// Mimic joints have no motor of their own: they follow their leader through a coupling
/// constraint, and gravity compensation acts on them directly.
#[derive(Clone, Debug, PartialEq)]
pub struct RobotControl {
    /// Motor command per entry of `q`.
    pub motors: Vec<MotorCommand>,
    /// Feed-forward torque/force per entry of `q`, added to the motor (clamped with it to
    /// the effort limit).
    pub feedforward: Vec<f64>,
    /// Adds the joint torques that cancel gravity (computed from the model's inertials at the
    /// current configuration) to every joint, within its effort limit.
    pub gravity_compensation: bool,
}

impl RobotControl {
    /// All motors off, no feed-forward, no gravity compensation.
    pub fn new(model: &RobotModel) -> Self {
        RobotControl {
            motors: vec![MotorCommand::Off; model.ndof()],
            feedforward: vec![0.0; model.ndof()],
            gravity_compensation: false,
        }
    }

    /// Position control of every coordinate towards `q` (and velocity `qd`, or zero) with
    /// the same gains on every joint.
    pub fn set_position_targets(
        &mut self,
        q: &[f64],
        qd: Option<&[f64]>,
        gains: Gains,
    ) -> Result<()> {
        let g = vec![gains; self.motors.len()];
        self.set_position_targets_with_gains(q, qd, &g)
    }

    /// Position control of every coordinate with per-joint gains.
    pub fn set_position_targets_with_gains(
        &mut self,
        q: &[f64],
        qd: Option<&[f64]>,
        gains: &[Gains],
    ) -> Result<()> {
        let n = self.motors.len();
        for (what, len) in [("position targets", q.len()), ("gains", gains.len())] {
            if len != n {
                return Err(RobotError::DimensionMismatch {
                    what: what.into(),
                    expected: n,
                    got: len,
                });
            }
        }
        if let Some(qd) = qd {
            if qd.len() != n {
                return Err(RobotError::DimensionMismatch {
                    what: "velocity targets".into(),
                    expected: n,
                    got: qd.len(),
                });
            }
        }
        let bad = q
            .iter()
            .chain(qd.unwrap_or(&[]).iter())
            .any(|v| !v.is_finite())
            || gains.iter().any(|g| {
                !(g.stiffness.is_finite()
                    && g.damping.is_finite()
                    && g.stiffness >= 0.0
                    && g.damping >= 0.0)
            });
        if bad {
            return Err(RobotError::InvalidArgument(
                "motor targets must be finite and gains finite and non-negative".into(),
            ));
        }
        for i in 0..n {
            self.motors[i] = MotorCommand::Position {
                target: q[i],
                target_velocity: qd.map_or(0.0, |v| v[i]),
                gains: gains[i],
            };
        }
        Ok(())
    }

    /// Velocity control of every coordinate.
    pub fn set_velocity_targets(&mut self, qd: &[f64], damping: f64) -> Result<()> {
        if qd.len() != self.motors.len() {
            return Err(RobotError::DimensionMismatch {
                what: "velocity targets".into(),
                expected: self.motors.len(),
                got: qd.len(),
            });
        }
        if qd.iter().any(|v| !v.is_finite()) || !(damping.is_finite() && damping >= 0.0) {
            return Err(RobotError::InvalidArgument(
                "velocity targets and damping must be finite (damping >= 0)".into(),
            ));
        }
        for (m, &v) in self.motors.iter_mut().zip(qd) {
            *m = MotorCommand::Velocity { target: v, damping };
        }
        Ok(())
    }
}
