//! Errors of the robot subsystem.

use std::path::PathBuf;

/// Everything that can go wrong while loading, querying or simulating a robot.
///
/// Every variant names the file, link or joint involved so that a message printed to a user
/// is enough to find the culprit in the URDF. One message per error: a variant that wraps
/// another error prints its message and does not expose it as a `source` (the rule of
/// `vesalius_engine::scene::SceneError`), so a printed chain says it once.
#[derive(Debug, thiserror::Error)]
pub enum RobotError {
    /// The URDF file could not be read.
    #[error("cannot read URDF file {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error (in the message, so not a `source`).
        error: std::io::Error,
    },
    /// The URDF is not well-formed XML or does not follow the URDF schema.
    #[error("cannot parse URDF {source_name}: {message}")]
    Parse {
        /// File name, or `<string>` for in-memory input.
        source_name: String,
        /// What the parser reported.
        message: String,
    },
    /// A joint names a type this loader does not support (`planar`, or an unknown word).
    #[error("{source_name}: joint '{joint}' has unsupported type '{kind}' (supported: revolute, continuous, prismatic, fixed, floating)")]
    UnsupportedJointType {
        /// File name or `<string>`.
        source_name: String,
        /// The joint.
        joint: String,
        /// The type found.
        kind: String,
    },
    /// The robot has no link.
    #[error("{source_name}: the robot has no link")]
    NoLinks {
        /// File name or `<string>`.
        source_name: String,
    },
    /// Two links or two joints share a name.
    #[error("{source_name}: duplicate {what} name '{name}'")]
    DuplicateName {
        /// File name or `<string>`.
        source_name: String,
        /// `"link"` or `"joint"`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A joint references a link that does not exist.
    #[error("{source_name}: joint '{joint}' references unknown {role} link '{link}'")]
    UnknownLinkInJoint {
        /// File name or `<string>`.
        source_name: String,
        /// The joint.
        joint: String,
        /// `"parent"` or `"child"`.
        role: &'static str,
        /// The missing link.
        link: String,
    },
    /// A link is the child of more than one joint.
    #[error("{source_name}: link '{link}' is the child of two joints ('{first}' and '{second}'); URDF requires a tree")]
    MultipleParents {
        /// File name or `<string>`.
        source_name: String,
        /// The link.
        link: String,
        /// First joint.
        first: String,
        /// Second joint.
        second: String,
    },
    /// The joint graph contains a cycle.
    #[error("{source_name}: the kinematic graph has a cycle through link '{link}'")]
    Cycle {
        /// File name or `<string>`.
        source_name: String,
        /// A link on the cycle.
        link: String,
    },
    /// More than one link has no parent joint.
    #[error("{source_name}: the robot is not connected: links {roots:?} all have no parent joint")]
    MultipleRoots {
        /// File name or `<string>`.
        source_name: String,
        /// The parentless links.
        roots: Vec<String>,
    },
    /// A numeric value is NaN, infinite or out of its admissible range.
    #[error("{source_name}: invalid value in {location}: {reason}")]
    InvalidValue {
        /// File name or `<string>`.
        source_name: String,
        /// Where, e.g. `joint 'elbow' <origin xyz>`.
        location: String,
        /// Why it is refused.
        reason: String,
    },
    /// A `<mimic>` element is inconsistent.
    #[error("{source_name}: joint '{joint}' mimics '{target}': {reason}")]
    InvalidMimic {
        /// File name or `<string>`.
        source_name: String,
        /// The mimicking joint.
        joint: String,
        /// The mimicked joint.
        target: String,
        /// Why it is refused.
        reason: String,
    },
    /// A mesh file referenced by a link could not be found.
    #[error("link '{link}': mesh '{uri}' not found (tried {tried:?})")]
    MeshNotFound {
        /// The link.
        link: String,
        /// The URI as written in the URDF.
        uri: String,
        /// The candidate paths that were tried.
        tried: Vec<PathBuf>,
    },
    /// A mesh file exists but cannot be read or holds no triangles.
    #[error("link '{link}': cannot load mesh {path}: {message}")]
    MeshLoad {
        /// The link.
        link: String,
        /// The resolved path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Strict mode: a link that needs mass has no `<inertial>`.
    #[error("link '{link}' has no <inertial> (strict mode refuses to guess mass properties)")]
    MissingInertial {
        /// The link.
        link: String,
    },
    /// A name given to the API does not exist in the robot.
    #[error("robot '{robot}' has no {what} named '{name}'")]
    UnknownName {
        /// The robot.
        robot: String,
        /// `"link"` or `"joint"`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A vector has the wrong length.
    #[error("{what}: expected {expected} values, got {got}")]
    DimensionMismatch {
        /// What the vector is.
        what: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// An argument given to the API is invalid (NaN, negative time step, unordered times...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Inverse kinematics did not reach the target within tolerance.
    #[error("inverse kinematics for link '{link}' did not converge: position error {position_error:.3e} m, orientation error {orientation_error:.3e} rad after {iterations} iterations")]
    IkNotConverged {
        /// The link.
        link: String,
        /// Best position error reached (m).
        position_error: f64,
        /// Best orientation error reached (rad; 0 for position-only targets).
        orientation_error: f64,
        /// Total iterations over all restarts.
        iterations: usize,
    },
    /// rapier refused to build the multibody.
    #[error("robot '{robot}': physics engine refused joint '{joint}': {reason}")]
    Physics {
        /// The robot.
        robot: String,
        /// The joint.
        joint: String,
        /// Why.
        reason: String,
    },
    /// An unknown robot id was given to a world.
    #[error("no robot with id {0} in this world")]
    UnknownRobot(usize),
}

/// Result alias of the robot subsystem.
pub type Result<T, E = RobotError> = std::result::Result<T, E>;
