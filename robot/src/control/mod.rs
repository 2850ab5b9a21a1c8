//! Control inputs: joint motors (the warp.sim `Control`) and trajectories.

mod motors;
mod trajectory;

pub use motors::{Gains, MotorCommand, RobotControl};
pub use trajectory::{
    CartesianPath, CartesianWaypoint, JointTrajectory, LimitKind, LimitViolation, TrajectorySample,
};
