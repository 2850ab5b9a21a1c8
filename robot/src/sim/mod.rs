//! Robots in a rapier3d physics world: building bodies, colliders and multibody joints,
//! applying motor commands, gravity compensation and external wrenches, and reading the
//! state back (the warp.sim `State`).

mod state;
mod world;

pub use state::RobotState;
pub use world::{BasePlacement, RobotId, RobotWorld, SimOptions};
