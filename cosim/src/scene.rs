//! Co-simulation scene files: a tissue scene (the engine's `[mesh]`, `[materials]`, `[[pin]]`,
//! `[[plane]]`, `[simulation]`, `[output]`) plus a robot, its tools, a needle, a trajectory,
//! attachments, target points and success criteria.
//!
//! ```toml
//! [robot]
//! urdf = "../robots/venipuncture/venipuncture.urdf"
//! base = { xyz = [0.0, 0.0, 0.0], rpy = [0.0, 0.0, 0.0] }
//! initial = { stage_z = 0.03, pitch = 0.35 }     # joint positions by name
//! stiffness = 2000.0                             # joint PD gains (default 2000, 100)
//! damping = 100.0
//! coupling = "two_way"                           # or "one_way" (the robot feels nothing)
//!
//! [[tool]]                                       # URDF links whose collision shapes touch tissue
//! link = "tool_tip"
//! static_friction = 0.4
//! kinetic_friction = 0.3
//!
//! [needle]                                       # a needle on a link
//! link = "needle"
//! tip = [0.03, 0.0, 0.0]                          # in the link frame
//! axis = [1.0, 0.0, 0.0]
//! length = 0.03
//! radius = 0.0004
//! # bevel_length = 0.002                        # the tip's share; the shaft behind it
//!                                                # pushes the surface before a puncture
//!
//! [needle_tissue.skin]                           # per region, by name or id
//! puncture_force = 0.6
//! cutting_force = 0.1
//! friction_static = 20.0                          # N per m of shaft
//! friction_kinetic = 10.0
//!
//! [[trajectory]]                                 # waypoints, cubic spline in joint space
//! t = 0.0
//! joints = { insertion = 0.0 }                   # joints not named keep their last value
//! [[trajectory]]
//! t = 2.0
//! link = "tool_tip"                              # or a Cartesian target (IK)
//! xyz = [0.1, 0.0, 0.05]
//! rpy = [0.0, 1.57, 0.0]                          # optional: position-only IK without it
//! # A trajectory starting at t = 0 also sets the robot's starting configuration; a joint
//! # that repeats its value holds still; consecutive Cartesian waypoints of one link are
//! # joined by a straight line (IK every 2 mm / 2 degrees).
//!
//! [[attach]]                                     # grasp or hold tissue vertices
//! link = "jaw"                                    # a robot link, or "world"
//! near = [0.0, 0.0, 0.0]                          # the vertices within `radius` of a point
//! radius = 0.004
//!
//! [[target]]                                     # points whose displacement is reported
//! name = "vein centreline"
//! points = [[0.025, -0.01, -0.0055], [0.025, 0.0, -0.0055]]
//!
//! [criteria]                                     # the run's verdict
//! required_events = ["punctured skin", "tip in vein lumen"]   # in this order
//! forbidden_events = ["exited vein (back wall)"]
//! final_tip_region = "vein_lumen"
//! max_tool_force = 3.0                            # N, every tool, every frame
//! damage_strain = 0.5                             # Green strain above which tissue counts as damaged
//! max_damaged_fraction = 0.01                     # of any region's volume
//!
//! [[motion]]                                     # the patient moves: pinned supports
//! t = [1.5, 1.7]                                  # (and the tissue with them) over [start, end] s
//! translate = [0.002, 0.0, 0.0]                   # m; optional rotate_deg, center, pins
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vesalius_engine::contact::{NeedleTissue, SurfaceContact};
use vesalius_engine::model::{Material, PinSet, Plane, SupportMotion};
use vesalius_engine::scene::overrides::{self, Override};
use vesalius_engine::scene::{MeshSpec, OutputSpec, Scene, SceneError, SceneFile, SimulationSpec};

/// A position and roll-pitch-yaw orientation (URDF convention).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoseSpec {
    /// Position (m).
    #[serde(default)]
    pub xyz: [f64; 3],
    /// Roll, pitch, yaw (rad).
    #[serde(default)]
    pub rpy: [f64; 3],
}

/// How the robot and the tissue exchange forces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coupling {
    /// The tissue's reaction acts on the robot.
    #[default]
    TwoWay,
    /// The robot moves the tools but feels nothing.
    OneWay,
}

fn default_stiffness() -> f64 {
    2000.0
}
fn default_damping() -> f64 {
    100.0
}
fn default_true() -> bool {
    true
}

/// `[robot]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotSpec {
    /// URDF file, relative to the scene file.
    pub urdf: PathBuf,
    /// Fixed base pose.
    #[serde(default)]
    pub base: PoseSpec,
    /// Initial joint positions by joint name (others: neutral); the seed of the first IK
    /// waypoint. A trajectory starting at t = 0 overrides it with its first waypoint.
    #[serde(default)]
    pub initial: BTreeMap<String, f64>,
    /// Joint PD stiffness (N/m or N m/rad).
    #[serde(default = "default_stiffness")]
    pub stiffness: f64,
    /// Joint PD damping.
    #[serde(default = "default_damping")]
    pub damping: f64,
    /// Gravity compensation in the controller.
    #[serde(default = "default_true")]
    pub gravity_compensation: bool,
    /// Two-way or one-way coupling.
    #[serde(default)]
    pub coupling: Coupling,
    /// Rigid-body steps per tissue frame.
    #[serde(default = "default_rigid_steps")]
    pub rigid_steps: u32,
}

fn default_rigid_steps() -> u32 {
    8
}

/// Most rigid-body steps per tissue frame (`robot.rigid_steps`): 1000 at 60 frames/s is a
/// 60 kHz robot step.
pub const MAX_RIGID_STEPS: u32 = 1000;

/// `[[tool]]`: a link whose URDF collision shapes touch the tissue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// Link name.
    pub link: String,
    /// Static Coulomb friction against tissue.
    #[serde(default = "default_friction")]
    pub static_friction: f64,
    /// Kinetic Coulomb friction.
    #[serde(default = "default_friction")]
    pub kinetic_friction: f64,
}

fn default_friction() -> f64 {
    0.3
}

/// `[needle]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedleSpecFile {
    /// Link carrying the needle.
    pub link: String,
    /// Tip in the link frame (m).
    pub tip: [f64; 3],
    /// Insertion direction in the link frame.
    pub axis: [f64; 3],
    /// Shaft length (m).
    pub length: f64,
    /// Shaft radius (m).
    pub radius: f64,
    /// Spacing of the shaft's hold points (m; default half the mean edge).
    #[serde(default)]
    pub track_spacing: Option<f64>,
    /// The tip's share of the shaft (m; default 2 mm): before the tip is in, the shaft
    /// behind it pushes the tissue's surface. `length` or more turns that off.
    #[serde(default)]
    pub bevel_length: Option<f64>,
}

/// One `[[trajectory]]` waypoint: joint positions or a Cartesian target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaypointSpec {
    /// Time (s).
    pub t: f64,
    /// Joint positions by name (the others keep the previous waypoint's).
    #[serde(default)]
    pub joints: BTreeMap<String, f64>,
    /// Joint motions by name relative to the previous waypoint (e.g. an insertion stroke
    /// after a Cartesian approach pose).
    #[serde(default)]
    pub joints_delta: BTreeMap<String, f64>,
    /// Link for a Cartesian target.
    #[serde(default)]
    pub link: Option<String>,
    /// Target position of `link` (m).
    #[serde(default)]
    pub xyz: Option<[f64; 3]>,
    /// Target orientation of `link` (roll, pitch, yaw; omit for position-only IK).
    #[serde(default)]
    pub rpy: Option<[f64; 3]>,
}

/// `[[attach]]`: tissue vertices held by a link or the world.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachSpec {
    /// A robot link, or `"world"`.
    pub link: String,
    /// Vertices within `radius` of this point (rest positions, m).
    pub near: [f64; 3],
    /// Radius (m).
    pub radius: f64,
}

/// `[[target]]`: named points tracked through the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Name.
    pub name: String,
    /// Rest positions (m), inside the tissue.
    pub points: Vec<[f64; 3]>,
}

/// `[criteria]`: what makes a run a success.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriteriaSpec {
    /// Event descriptions that must happen, in this order.
    #[serde(default)]
    pub required_events: Vec<String>,
    /// Event descriptions that must not happen.
    #[serde(default)]
    pub forbidden_events: Vec<String>,
    /// Region the needle tip must be in at the end.
    #[serde(default)]
    pub final_tip_region: Option<String>,
    /// Largest allowed tool force magnitude (N).
    #[serde(default)]
    pub max_tool_force: Option<f64>,
    /// Green strain norm above which tissue counts as damaged (default 0.5).
    #[serde(default)]
    pub damage_strain: Option<f64>,
    /// Largest allowed damaged volume fraction of any region.
    #[serde(default)]
    pub max_damaged_fraction: Option<f64>,
}

/// A co-simulation scene file as written. The tissue fields repeat the engine's
/// [`SceneFile`] on purpose: serde cannot combine `flatten` with `deny_unknown_fields`, and
/// unknown keys must stay errors with their line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoSimFile {
    /// The tissue mesh.
    pub mesh: MeshSpec,
    /// Tissue materials by region.
    #[serde(default)]
    pub materials: BTreeMap<String, Material>,
    /// Pinned tissue.
    #[serde(default)]
    pub pin: Vec<PinSet>,
    /// Static planes.
    #[serde(default)]
    pub plane: Vec<Plane>,
    /// Solver and run settings.
    #[serde(default)]
    pub simulation: SimulationSpec,
    /// Output cadence.
    #[serde(default)]
    pub output: OutputSpec,
    /// The robot.
    pub robot: RobotSpec,
    /// Tool links.
    #[serde(default)]
    pub tool: Vec<ToolSpec>,
    /// Vertex or face contact between the tools and the tissue surface (`"auto"`,
    /// `"vertices"`, `"faces"`; auto picks faces for tools thin against the surface's
    /// vertex spacing).
    #[serde(default)]
    pub tool_contact: SurfaceContact,
    /// The needle.
    #[serde(default)]
    pub needle: Option<NeedleSpecFile>,
    /// Needle properties per region (by name or id).
    #[serde(default)]
    pub needle_tissue: BTreeMap<String, NeedleTissue>,
    /// The trajectory.
    #[serde(default)]
    pub trajectory: Vec<WaypointSpec>,
    /// Attachments.
    #[serde(default)]
    pub attach: Vec<AttachSpec>,
    /// Tracked points.
    #[serde(default)]
    pub target: Vec<TargetSpec>,
    /// Success criteria.
    #[serde(default)]
    pub criteria: CriteriaSpec,
    /// What `vesalius plan` optimizes ([`crate::plan::spec`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::plan::PlanSpec>,
    /// Patient motion: rigid motions of the pinned supports over time intervals
    /// ([`vesalius_engine::model::motion`]); the tissue and its targets follow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub motion: Vec<SupportMotion>,
}

fn finite_at_least(key: &str, v: f64, min: f64, unit: &str) -> Result<(), String> {
    if v.is_finite() && v >= min {
        Ok(())
    } else {
        Err(format!("{key} must be finite and >= {min}{unit}, got {v}"))
    }
}

fn finite_positive(key: &str, v: f64, unit: &str) -> Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(format!("{key} must be finite and > 0{unit}, got {v}"))
    }
}

fn finite_all(key: &str, v: &[f64]) -> Result<(), String> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(format!("{key} must be finite, got {v:?}"))
    }
}

impl CoSimFile {
    /// Checks the robot, tool, needle, attachment, target and criteria values that need
    /// neither the mesh nor the robot model (the error names the key).
    fn check_values(&self) -> Result<(), String> {
        let r = &self.robot;
        finite_all("robot.base.xyz", &r.base.xyz)?;
        finite_all("robot.base.rpy", &r.base.rpy)?;
        for (joint, q) in &r.initial {
            finite_all(&format!("robot.initial.{joint}"), &[*q])?;
        }
        finite_at_least("robot.stiffness", r.stiffness, 0.0, " (N/m or N m/rad)")?;
        finite_at_least("robot.damping", r.damping, 0.0, " (N s/m or N m s/rad)")?;
        if !(1..=MAX_RIGID_STEPS).contains(&r.rigid_steps) {
            return Err(format!(
                "robot.rigid_steps must be in 1..={MAX_RIGID_STEPS}, got {}",
                r.rigid_steps
            ));
        }
        for (k, t) in self.tool.iter().enumerate() {
            finite_at_least(
                &format!("tool[{k}].static_friction"),
                t.static_friction,
                0.0,
                "",
            )?;
            finite_at_least(
                &format!("tool[{k}].kinetic_friction"),
                t.kinetic_friction,
                0.0,
                "",
            )?;
        }
        if let Some(n) = &self.needle {
            finite_all("needle.tip", &n.tip)?;
            finite_all("needle.axis", &n.axis)?;
            if n.axis.iter().all(|&a| a == 0.0) {
                return Err("needle.axis must be non-zero".into());
            }
            finite_positive("needle.length", n.length, " m")?;
            finite_positive("needle.radius", n.radius, " m")?;
            if let Some(s) = n.track_spacing {
                finite_positive("needle.track_spacing", s, " m")?;
            }
            if let Some(b) = n.bevel_length {
                finite_positive("needle.bevel_length", b, " m")?;
            }
        }
        for (k, a) in self.attach.iter().enumerate() {
            finite_all(&format!("attach[{k}].near"), &a.near)?;
            finite_positive(&format!("attach[{k}].radius"), a.radius, " m")?;
        }
        for t in &self.target {
            for p in &t.points {
                finite_all(&format!("target {:?}: points", t.name), p)?;
            }
        }
        let c = &self.criteria;
        if let Some(f) = c.max_tool_force {
            finite_at_least("criteria.max_tool_force", f, 0.0, " N")?;
        }
        if let Some(s) = c.damage_strain {
            finite_positive("criteria.damage_strain", s, "")?;
        }
        if let Some(f) = c.max_damaged_fraction {
            if !(f.is_finite() && (0.0..=1.0).contains(&f)) {
                return Err(format!(
                    "criteria.max_damaged_fraction must be in 0..=1, got {f}"
                ));
            }
        }
        if let Some(p) = &self.plan {
            p.check()?;
            if self.needle.is_none() {
                return Err(
                    "plan: the planner moves a needle insertion, and the scene has no [needle]"
                        .into(),
                );
            }
            if !self.target.iter().any(|t| t.name == p.insertion.target) {
                return Err(format!(
                    "plan.insertion.target: no [[target]] named {:?}",
                    p.insertion.target
                ));
            }
        }
        let has_events = !(c.required_events.is_empty() && c.forbidden_events.is_empty());
        if self.needle.is_none() && (has_events || c.final_tip_region.is_some()) {
            return Err(
                "criteria: required_events, forbidden_events and final_tip_region are about the needle, and the scene has no [needle]"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Errors of co-simulation scenes and runs.
///
/// One message per error, as for the engine's
/// [`SceneError`]: a variant that wraps another error
/// prints its message and does not expose it as a `source` (so `Robot` and `Trajectory`
/// convert with the `From` impls below, not thiserror's `#[from]`, which would); the
/// transparent ones add nothing of their own.
#[derive(Debug, thiserror::Error)]
pub enum CoSimError {
    /// The scene file could not be read or parsed, or a value is wrong (names file, line
    /// or key).
    #[error("{path}: {message}")]
    Scene {
        /// The scene file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The tissue part of the scene.
    #[error(transparent)]
    Tissue(#[from] vesalius_engine::scene::SceneError),
    /// The robot.
    #[error("robot: {0}")]
    Robot(vesalius_robot::RobotError),
    /// The tissue simulation.
    #[error(transparent)]
    Sim(#[from] vesalius_engine::solver::SimError),
    /// A trajectory built in code.
    #[error("trajectory: {0}")]
    Trajectory(crate::trajectory::TrajectoryError),
    /// Joint targets set from outside
    /// ([`CoSim::set_joint_targets`](crate::coupling::CoSim::set_joint_targets)) that the
    /// robot cannot take: a wrong count, a non-finite value, a value outside its limits.
    #[error("joint targets: {message}")]
    JointTargets {
        /// Which value and why.
        message: String,
    },
    /// A [`WorldSnapshot`](crate::coupling::WorldSnapshot) restored into a co-simulation
    /// of another scene.
    #[error("the snapshot has {snapshot} tool bodies and this co-simulation {this}: it is another scene's")]
    ForeignSnapshot {
        /// Tool bodies in the snapshot.
        snapshot: usize,
        /// Tool bodies here.
        this: usize,
    },
}

impl From<vesalius_robot::RobotError> for CoSimError {
    fn from(e: vesalius_robot::RobotError) -> Self {
        CoSimError::Robot(e)
    }
}

impl From<crate::trajectory::TrajectoryError> for CoSimError {
    fn from(e: crate::trajectory::TrajectoryError) -> Self {
        CoSimError::Trajectory(e)
    }
}

/// A loaded co-simulation scene.
#[derive(Clone, Debug)]
pub struct CoSimScene {
    /// Path of the scene file.
    pub path: PathBuf,
    /// Contents.
    pub file: CoSimFile,
}

/// Whether a TOML scene text describes a co-simulation (has a `[robot]` table).
pub fn is_cosim(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("robot"))
}

impl CoSimScene {
    /// Reads and parses a scene file.
    pub fn load(path: &Path) -> Result<Self, CoSimError> {
        let text = std::fs::read_to_string(path).map_err(|e| CoSimError::Scene {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses scene text and checks its values ([`CoSimScene::check`]); `path` is used for
    /// messages and relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, CoSimError> {
        let file: CoSimFile = toml::from_str(text).map_err(|e| CoSimError::Scene {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let scene = Self {
            path: path.to_path_buf(),
            file,
        };
        scene.check()?;
        Ok(scene)
    }

    /// Parses scene text as [`CoSimScene::parse`] does after making `changes` to its values
    /// ([`vesalius_engine::scene::overrides`]); an error about a changed value lists the
    /// changes.
    pub fn parse_with(text: &str, path: &Path, changes: &[Override]) -> Result<Self, CoSimError> {
        if changes.is_empty() {
            return Self::parse(text, path);
        }
        let invalid = |message: String| CoSimError::Scene {
            path: path.display().to_string(),
            message,
        };
        let file: CoSimFile = overrides::read_with(text, changes).map_err(invalid)?;
        let scene = Self {
            path: path.to_path_buf(),
            file,
        };
        scene.check().map_err(|e| {
            let message = match e {
                CoSimError::Scene { message, .. } => message,
                CoSimError::Tissue(SceneError::Invalid { what, .. }) => what,
                other => other.to_string(),
            };
            invalid(format!("with {}: {message}", overrides::describe(changes)))
        })?;
        Ok(scene)
    }

    /// Checks every value that needs neither the mesh nor the robot (the tissue's with
    /// [`Scene::check`]), naming the key. What needs them (link, region and event names)
    /// is checked when the co-simulation is built, before it runs.
    pub fn check(&self) -> Result<(), CoSimError> {
        self.tissue().check()?;
        self.file.check_values().map_err(|m| self.invalid(m))
    }

    /// An error about this scene.
    pub fn invalid(&self, message: impl Into<String>) -> CoSimError {
        CoSimError::Scene {
            path: self.path.display().to_string(),
            message: message.into(),
        }
    }

    /// The tissue part as an engine scene.
    pub fn tissue(&self) -> Scene {
        let f = &self.file;
        Scene {
            path: self.path.clone(),
            file: SceneFile {
                mesh: f.mesh.clone(),
                materials: f.materials.clone(),
                pin: f.pin.clone(),
                plane: f.plane.clone(),
                simulation: f.simulation.clone(),
                output: f.output.clone(),
                motion: f.motion.clone(),
            },
        }
    }

    /// A path in the scene resolved against the scene file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.path.parent().unwrap_or_else(|| Path::new(".")).join(p)
        }
    }
}
