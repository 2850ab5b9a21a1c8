//! URDF loading: parsing with `urdf-rs`, validation, mesh URIs, geometry and mass properties.
//!
//! The loader reads `<link>` (inertial, visual, collision) and `<joint>` (type, origin, axis,
//! limit, dynamics, mimic) and ignores every other element (`<gazebo>`, `<transmission>`,
//! `<ros2_control>`, `<material>` colours...). See [`LoadOptions`] for the knobs.

mod geometry;
mod load;
mod mesh;

pub(crate) use geometry::parry_shape;
pub use geometry::MeshCollision;
pub use load::{load_file, load_str, LoadOptions};
pub use mesh::{load_mesh, PackageResolver};
