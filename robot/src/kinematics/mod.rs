//! Kinematics on a [`crate::RobotModel`], in `f64`, independent of the physics engine:
//! forward kinematics, Jacobians, gravity torques and inverse kinematics.
//!
//! Mimic joints are enforced here: every function takes the independent configuration `q`
//! (see [`crate::RobotModel::ndof`]) and expands it with the mimic relations, and Jacobian
//! columns of mimic joints are folded into their leader's column with the multiplier.

mod fk;
mod ik;
mod jacobian;

pub(crate) use fk::motion_align as fk_motion_align;
pub use ik::{solve_ik, solve_ik_best_effort, IkOptions, IkSolution, IkTarget};
