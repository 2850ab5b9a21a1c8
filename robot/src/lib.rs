//! # vesalius-robot
//!
//! The robot half of Vesalius: URDF robots loaded into [rapier3d](https://rapier.rs)
//! multibodies, with kinematics, inverse kinematics, joint motors and trajectories.
//!
//! * [`urdf`]: loading (`urdf-rs` parsing, validation with clear errors, mesh URIs,
//!   STL/OBJ/COLLADA meshes, mass properties from geometry when `<inertial>` is missing).
//! * [`model`]: the immutable [`RobotModel`] (links, joints, limits, mimic relations).
//! * [`kinematics`]: forward kinematics, Jacobians, gravity torques and IK, in `f64`, with
//!   mimic joints enforced.
//! * [`control`]: motor commands ([`RobotControl`]), joint trajectories and Cartesian paths.
//! * [`sim`]: [`RobotWorld`], robots in a rapier world, stepped with their controls, with
//!   state read-back and external wrenches (the hook for the tissue coupling).
//!
//! Why not `rapier3d-urdf`: it ignores mimic joints, joint damping/friction and effort/velocity
//! limits, and has no kinematics; this crate reads those and builds the multibody itself.
//! Every robot is a rapier **multibody** (reduced coordinates; no impulse joints), and mimic
//! joints are enforced kinematically (FK/IK expand them) and dynamically (rapier DoF
//! couplings). Kinematics run in `f64`; rapier runs in `f32`.
//!
//! Model / State / Control: [`RobotModel`] never changes during a run, [`RobotState`] is read
//! back after each step, [`RobotControl`] is what the user writes before a step.
//!
//! A complete small program: the venipuncture robot (our URDF in `robots/venipuncture`)
//! loaded, its needle tip moved 5 mm by inverse kinematics, and the joint motors driving
//! the simulated multibody there:
//!
//! ```
//! use vesalius_robot::prelude::*;
//!
//! let urdf = concat!(env!("CARGO_MANIFEST_DIR"), "/../robots/venipuncture/venipuncture.urdf");
//! let model = load_file(urdf, &LoadOptions::default())?;
//! let tip = model.link_id("needle_tip")?;
//! let q0 = model.neutral_configuration();
//! let start = model.link_pose(&q0, tip)?.translation.vector;
//!
//! // Inverse kinematics: the tip 5 mm further along x.
//! let goal = start + Vector3::new(0.005, 0.0, 0.0);
//! let ik = solve_ik(&model, tip, &IkTarget::Position(goal), &q0, &IkOptions::default())?;
//! assert!(ik.position_error < 1e-6);
//!
//! // The robot in a rapier world, its motors holding the IK solution.
//! let mut world = RobotWorld::new();
//! let robot = world.add_robot(&model, BasePlacement::Fixed(Isometry3::identity()), &SimOptions::default())?;
//! world.control_mut(robot)?.set_position_targets(&ik.q, None, Gains::new(4000.0, 150.0))?;
//! for _ in 0..600 {
//!     world.step(); // 1 ms steps by default
//! }
//! let reached = world.state(robot)?.link_poses[tip].translation.vector;
//! println!("tip moved {:.2} mm", (reached - start).norm() * 1e3);
//! assert!((reached - goal).norm() < 5e-4, "tip {:.2} mm from the goal", (reached - goal).norm() * 1e3);
//! # Ok::<(), vesalius_robot::RobotError>(())
//! ```
#![warn(missing_docs)]

pub mod control;
pub mod error;
pub mod kinematics;
pub mod math;
pub mod model;
pub mod sim;
pub mod urdf;

pub use control::{Gains, JointTrajectory, MotorCommand, RobotControl};
pub use error::{Result, RobotError};
pub use model::RobotModel;
pub use sim::{BasePlacement, RobotId, RobotState, RobotWorld, SimOptions};

/// Everything needed for common use.
pub mod prelude {
    pub use crate::control::{
        CartesianPath, CartesianWaypoint, Gains, JointTrajectory, MotorCommand, RobotControl,
        TrajectorySample,
    };
    pub use crate::error::{Result, RobotError};
    pub use crate::kinematics::{solve_ik, solve_ik_best_effort, IkOptions, IkSolution, IkTarget};
    pub use crate::model::{
        Geometry, InertialSource, Joint, JointId, JointKind, JointLimits, Link, LinkId, RobotModel,
    };
    pub use crate::sim::{BasePlacement, RobotId, RobotState, RobotWorld, SimOptions};
    pub use crate::urdf::{load_file, load_str, LoadOptions, MeshCollision, PackageResolver};
    pub use rapier3d::na::{DVector, Isometry3, Point3, Translation3, UnitQuaternion, Vector3};
}
