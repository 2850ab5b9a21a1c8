//! Read-back of a simulated robot.

use rapier3d::na::{Isometry3, Vector3};

/// The state of one robot after a step.
#[derive(Clone, Debug, PartialEq)]
pub struct RobotState {
    /// Independent coordinates `q` (see [`crate::RobotModel::ndof`]).
    pub q: Vec<f64>,
    /// Their velocities.
    pub qd: Vec<f64>,
    /// Position of every joint, indexed by joint id (mimic joints included; 0 for fixed
    /// joints; first coordinate for floating joints).
    pub joint_positions: Vec<f64>,
    /// Torque/force applied by the actuators on each entry of `q` during the last step:
    /// motor + gravity compensation + feed-forward, after effort clamping.
    pub applied_torques: Vec<f64>,
    /// World pose of every link, indexed by link id.
    pub link_poses: Vec<Isometry3<f64>>,
    /// World velocity of every link as `(linear velocity of the link frame's origin, angular
    /// velocity)`, indexed by link id, computed from `q` and `qd` (and the base's motion for
    /// a floating base) with the model's Jacobians.
    pub link_velocities: Vec<(Vector3<f64>, Vector3<f64>)>,
}
