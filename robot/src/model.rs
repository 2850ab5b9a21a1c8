//! The immutable description of a robot: links, joints, inertias, geometry.
//!
//! A [`RobotModel`] is what never changes during a run (the warp.sim `Model`). It is built by
//! [`crate::urdf::load_file`] / [`crate::urdf::load_str`] and is then used by the kinematics
//! ([`crate::kinematics`]) and by the physics world ([`crate::sim::RobotWorld`]). All values are
//! SI units and `f64`.

use std::path::PathBuf;
use std::sync::Arc;

use rapier3d::na::{Isometry3, Matrix3, Point3, Unit, Vector3};

use crate::error::{Result, RobotError};

/// Defines an id newtype that indexes slices and `Vec`s of per-item data (`links[id]`,
/// `state.link_poses[id]`) but is not interchangeable with other ids or counts.
macro_rules! index_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub(crate) usize);

        impl $name {
            /// The position in the model's list (and in every per-item array of this kind).
            pub fn index(self) -> usize {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($what, " #{}"), self.0)
            }
        }

        impl<T> std::ops::Index<$name> for [T] {
            type Output = T;
            fn index(&self, id: $name) -> &T {
                &self[id.0]
            }
        }

        impl<T> std::ops::IndexMut<$name> for [T] {
            fn index_mut(&mut self, id: $name) -> &mut T {
                &mut self[id.0]
            }
        }

        impl<T> std::ops::Index<$name> for Vec<T> {
            type Output = T;
            fn index(&self, id: $name) -> &T {
                &self[id.0]
            }
        }

        impl<T> std::ops::IndexMut<$name> for Vec<T> {
            fn index_mut(&mut self, id: $name) -> &mut T {
                &mut self[id.0]
            }
        }
    };
}

index_id!(
    /// A link of a [`RobotModel`]: its position in [`RobotModel::links`], and the index of
    /// the link in every per-link array (`RobotState::link_poses`, FK results). Obtained
    /// from [`RobotModel::link_id`] or [`RobotModel::link_ids`].
    LinkId,
    "link"
);
index_id!(
    /// A joint of a [`RobotModel`]: its position in [`RobotModel::joints`] (file order), and
    /// the index of the joint in every per-joint array (`RobotState::joint_positions`).
    /// Obtained from [`RobotModel::joint_id`] or [`RobotModel::joint_ids`].
    JointId,
    "joint"
);

/// The kind of a joint, as in URDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JointKind {
    /// Rotation about the axis, within position limits.
    Revolute,
    /// Rotation about the axis, unbounded.
    Continuous,
    /// Translation along the axis, within position limits.
    Prismatic,
    /// Rigid attachment.
    Fixed,
    /// Six degrees of freedom: coordinates are `[x, y, z, rx, ry, rz]` (translation in the
    /// parent joint frame, then a rotation vector).
    Floating,
}

impl JointKind {
    /// Number of coordinates of this joint.
    pub fn ncoords(self) -> usize {
        match self {
            JointKind::Revolute | JointKind::Continuous | JointKind::Prismatic => 1,
            JointKind::Fixed => 0,
            JointKind::Floating => 6,
        }
    }

    /// The URDF spelling of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            JointKind::Revolute => "revolute",
            JointKind::Continuous => "continuous",
            JointKind::Prismatic => "prismatic",
            JointKind::Fixed => "fixed",
            JointKind::Floating => "floating",
        }
    }
}

/// Joint limits. Missing position limits are infinite; missing or zero effort/velocity limits
/// are treated as "unlimited" (`f64::INFINITY`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JointLimits {
    /// Lower position limit (rad or m).
    pub lower: f64,
    /// Upper position limit (rad or m).
    pub upper: f64,
    /// Maximal effort (N·m or N).
    pub effort: f64,
    /// Maximal speed (rad/s or m/s).
    pub velocity: f64,
}

impl JointLimits {
    /// No limits at all.
    pub const UNLIMITED: JointLimits = JointLimits {
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
        effort: f64::INFINITY,
        velocity: f64::INFINITY,
    };

    /// Whether both position limits are finite.
    pub fn has_position_limits(&self) -> bool {
        self.lower.is_finite() && self.upper.is_finite()
    }

    /// Clamps a position into the limits.
    pub fn clamp(&self, q: f64) -> f64 {
        q.max(self.lower).min(self.upper)
    }
}

/// `<dynamics>` of a joint: viscous damping and dry (Coulomb) friction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JointDynamics {
    /// Viscous damping (N·m·s/rad or N·s/m).
    pub damping: f64,
    /// Dry friction (N·m or N).
    pub friction: f64,
}

/// A `<mimic>` relation: `q_this = multiplier * q_leader + offset`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mimic {
    /// The mimicked joint, as written in the URDF.
    pub leader: JointId,
    /// Multiplier (default 1).
    pub multiplier: f64,
    /// Offset (default 0).
    pub offset: f64,
    /// The independent joint at the end of the mimic chain (the same as `leader` unless the
    /// leader itself mimics another joint).
    pub root_leader: JointId,
    /// Multiplier relative to `root_leader`.
    pub root_multiplier: f64,
    /// Offset relative to `root_leader`.
    pub root_offset: f64,
}

/// A joint of the tree.
#[derive(Clone, Debug)]
pub struct Joint {
    /// Name as in the URDF.
    pub name: String,
    /// Type.
    pub kind: JointKind,
    /// Parent link.
    pub parent: LinkId,
    /// Child link.
    pub child: LinkId,
    /// Pose of the joint frame (= child link frame at zero position) in the parent link frame.
    pub origin: Isometry3<f64>,
    /// Unit axis in the joint frame (revolute, continuous, prismatic).
    pub axis: Unit<Vector3<f64>>,
    /// Limits.
    pub limits: JointLimits,
    /// Damping and friction.
    pub dynamics: JointDynamics,
    /// Mimic relation, if any.
    pub mimic: Option<Mimic>,
    /// Offset of this joint's coordinates in the full coordinate vector (see
    /// [`RobotModel::ncoords`]).
    pub coord_offset: usize,
    /// Index of this joint's first coordinate in the independent configuration vector `q`
    /// (`None` for fixed and mimic joints).
    pub dof: Option<usize>,
}

impl Joint {
    /// Whether the joint moves (not fixed).
    pub fn is_movable(&self) -> bool {
        self.kind != JointKind::Fixed
    }
}

/// Triangle mesh data (scaled, in the mesh's own frame).
#[derive(Clone, Debug)]
pub struct MeshData {
    /// Vertices (m).
    pub vertices: Vec<Point3<f32>>,
    /// Triangles as vertex indices.
    pub triangles: Vec<[u32; 3]>,
}

/// A geometric primitive or mesh, in the frame of its `<origin>`.
#[derive(Clone, Debug)]
pub enum Geometry {
    /// Box with full side lengths.
    Box {
        /// Side lengths (m).
        size: Vector3<f64>,
    },
    /// Cylinder along the local Z axis.
    Cylinder {
        /// Radius (m).
        radius: f64,
        /// Length (m).
        length: f64,
    },
    /// Capsule along the local Z axis (`length` is the cylindrical part).
    Capsule {
        /// Radius (m).
        radius: f64,
        /// Length of the cylindrical part (m).
        length: f64,
    },
    /// Sphere.
    Sphere {
        /// Radius (m).
        radius: f64,
    },
    /// Mesh file.
    Mesh {
        /// URI as written in the URDF.
        uri: String,
        /// Resolved path, `None` when the file is missing and the user allowed it.
        path: Option<PathBuf>,
        /// Scale factors.
        scale: Vector3<f64>,
        /// Loaded triangles (`None` when not loaded: visual meshes are only resolved unless
        /// they stand in for missing collision geometry).
        data: Option<Arc<MeshData>>,
    },
}

impl Geometry {
    /// A short human-readable description (`box 0.1x0.2x0.3`, `mesh link_1.stl (1234 tris)`).
    pub fn describe(&self) -> String {
        match self {
            Geometry::Box { size } => format!("box {:.4}x{:.4}x{:.4}", size.x, size.y, size.z),
            Geometry::Cylinder { radius, length } => {
                format!("cylinder r={radius:.4} l={length:.4}")
            }
            Geometry::Capsule { radius, length } => format!("capsule r={radius:.4} l={length:.4}"),
            Geometry::Sphere { radius } => format!("sphere r={radius:.4}"),
            Geometry::Mesh {
                uri, data, path, ..
            } => match (data, path) {
                (Some(d), _) => format!(
                    "mesh {uri} ({} vertices, {} triangles)",
                    d.vertices.len(),
                    d.triangles.len()
                ),
                (None, Some(_)) => format!("mesh {uri} (not loaded)"),
                (None, None) => format!("mesh {uri} (missing)"),
            },
        }
    }
}

/// A piece of geometry placed in a link frame.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Pose of the geometry in the link frame.
    pub origin: Isometry3<f64>,
    /// The geometry.
    pub geometry: Geometry,
}

/// Where a link's mass properties come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InertialSource {
    /// The URDF's `<inertial>`.
    Urdf,
    /// Computed from the collision geometry and the default density.
    Geometry,
    /// The link has neither an inertial nor any volume: a massless virtual frame.
    Massless,
}

/// Mass properties of a link, in the link frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Inertial {
    /// Mass (kg).
    pub mass: f64,
    /// Centre of mass in the link frame (m).
    pub com: Vector3<f64>,
    /// Inertia tensor about the centre of mass, in link-frame axes (kg·m²).
    pub inertia: Matrix3<f64>,
    /// Provenance.
    pub source: InertialSource,
}

/// Where the collision shapes of a link come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollisionSource {
    /// `<collision>` elements.
    Collision,
    /// No `<collision>`: the `<visual>` geometry stands in.
    Visual,
    /// No geometry at all.
    None,
}

/// A link of the tree.
#[derive(Clone, Debug)]
pub struct Link {
    /// Name as in the URDF.
    pub name: String,
    /// The joint whose child this link is (`None` for the root).
    pub parent_joint: Option<JointId>,
    /// Joints whose parent this link is.
    pub child_joints: Vec<JointId>,
    /// Mass properties.
    pub inertial: Inertial,
    /// Collision shapes (possibly taken from the visuals, see `collision_source`).
    pub collisions: Vec<Shape>,
    /// Provenance of `collisions`.
    pub collision_source: CollisionSource,
    /// Visual shapes (meshes resolved but not loaded).
    pub visuals: Vec<Shape>,
}

/// An immutable robot description.
#[derive(Clone, Debug)]
pub struct RobotModel {
    /// The `<robot name>`.
    pub name: String,
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    pub(crate) links: Vec<Link>,
    pub(crate) joints: Vec<Joint>,
    pub(crate) root: LinkId,
    /// Joints in topological order (every joint after the joint of its parent link).
    pub(crate) joint_order: Vec<JointId>,
    /// Independent coordinates: `(joint, coordinate within joint)` for every entry of `q`.
    pub(crate) dofs: Vec<(JointId, usize)>,
    pub(crate) ncoords: usize,
    /// Pose of the root link in the world.
    pub(crate) base_pose: Isometry3<f64>,
    /// Warnings produced while loading.
    pub warnings: Vec<String>,
}

impl RobotModel {
    /// All links, indexed by [`LinkId`].
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// All joints, indexed by [`JointId`], in file order.
    pub fn joints(&self) -> &[Joint] {
        &self.joints
    }

    /// The ids of all links, in [`RobotModel::links`] order.
    pub fn link_ids(&self) -> impl ExactSizeIterator<Item = LinkId> + '_ {
        (0..self.links.len()).map(LinkId)
    }

    /// The ids of all joints, in [`RobotModel::joints`] order.
    pub fn joint_ids(&self) -> impl ExactSizeIterator<Item = JointId> + '_ {
        (0..self.joints.len()).map(JointId)
    }

    /// The link at position `index` of [`RobotModel::links`], if there is one.
    pub fn link_at(&self, index: usize) -> Option<LinkId> {
        (index < self.links.len()).then_some(LinkId(index))
    }

    /// The joint at position `index` of [`RobotModel::joints`], if there is one.
    pub fn joint_at(&self, index: usize) -> Option<JointId> {
        (index < self.joints.len()).then_some(JointId(index))
    }

    /// The root link.
    pub fn root(&self) -> LinkId {
        self.root
    }

    /// Joints in topological order (parents first).
    pub fn joint_order(&self) -> &[JointId] {
        &self.joint_order
    }

    /// Number of independent coordinates: the length of the configuration vector `q`
    /// (one per revolute/continuous/prismatic joint that is not a mimic joint, six per floating
    /// joint).
    pub fn ndof(&self) -> usize {
        self.dofs.len()
    }

    /// The joint (and coordinate within it) of each entry of `q`.
    pub fn dofs(&self) -> &[(JointId, usize)] {
        &self.dofs
    }

    /// Names of the entries of `q` (`joint` or `joint[i]` for floating joints).
    pub fn dof_names(&self) -> Vec<String> {
        self.dofs
            .iter()
            .map(|&(j, c)| {
                let joint = &self.joints[j];
                if joint.kind == JointKind::Floating {
                    format!("{}[{c}]", joint.name)
                } else {
                    joint.name.clone()
                }
            })
            .collect()
    }

    /// Number of coordinates over all joints, mimic joints included.
    pub fn ncoords(&self) -> usize {
        self.ncoords
    }

    /// Pose of the root link in the world.
    pub fn base_pose(&self) -> Isometry3<f64> {
        self.base_pose
    }

    /// Returns a copy placed at another base pose.
    pub fn with_base_pose(mut self, pose: Isometry3<f64>) -> Self {
        self.base_pose = pose;
        self
    }

    /// Looks a link up by name.
    pub fn link_id(&self, name: &str) -> Result<LinkId> {
        self.links
            .iter()
            .position(|l| l.name == name)
            .map(LinkId)
            .ok_or_else(|| RobotError::UnknownName {
                robot: self.name.clone(),
                what: "link",
                name: name.to_string(),
            })
    }

    /// Looks a joint up by name.
    pub fn joint_id(&self, name: &str) -> Result<JointId> {
        self.joints
            .iter()
            .position(|j| j.name == name)
            .map(JointId)
            .ok_or_else(|| RobotError::UnknownName {
                robot: self.name.clone(),
                what: "joint",
                name: name.to_string(),
            })
    }

    /// The link at the end of the longest chain of joints from the root, the last declared
    /// one on ties (URDFs usually declare the tool frame last): a sensible default tool link.
    pub fn default_tool_link(&self) -> LinkId {
        let mut depth = vec![0usize; self.links.len()];
        for &j in &self.joint_order {
            let joint = &self.joints[j];
            depth[joint.child] = depth[joint.parent] + 1;
        }
        let mut best = self.root;
        for (i, d) in depth.iter().enumerate() {
            if *d >= depth[best] {
                best = LinkId(i);
            }
        }
        best
    }

    /// Mimic joints: `(mimic joint, leader, multiplier, offset)` as written in the file.
    pub fn mimic_relations(&self) -> Vec<(JointId, JointId, f64, f64)> {
        self.joints
            .iter()
            .enumerate()
            .filter_map(|(i, j)| {
                j.mimic
                    .as_ref()
                    .map(|m| (JointId(i), m.leader, m.multiplier, m.offset))
            })
            .collect()
    }

    /// Position limits of the independent coordinates, intersected with the limits of the
    /// mimic joints that follow them (a mimic joint's range constrains its leader).
    pub fn dof_limits(&self) -> Vec<(f64, f64)> {
        let mut lim: Vec<(f64, f64)> = self
            .dofs
            .iter()
            .map(|&(j, _)| {
                let l = &self.joints[j].limits;
                match self.joints[j].kind {
                    JointKind::Revolute | JointKind::Prismatic => (l.lower, l.upper),
                    _ => (f64::NEG_INFINITY, f64::INFINITY),
                }
            })
            .collect();
        for joint in &self.joints {
            let (Some(m), JointKind::Revolute | JointKind::Prismatic) = (&joint.mimic, joint.kind)
            else {
                continue;
            };
            let Some(d) = self.joints[m.root_leader].dof else {
                continue;
            };
            if m.root_multiplier == 0.0 {
                continue;
            }
            let a = (joint.limits.lower - m.root_offset) / m.root_multiplier;
            let b = (joint.limits.upper - m.root_offset) / m.root_multiplier;
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let (cur_lo, cur_hi) = lim[d];
            let (new_lo, new_hi) = (cur_lo.max(lo), cur_hi.min(hi));
            if new_lo <= new_hi {
                lim[d] = (new_lo, new_hi);
            }
        }
        lim
    }

    /// Expands an independent configuration `q` into the coordinates of every joint
    /// (mimic joints get `multiplier * q_leader + offset`). The result is indexed by
    /// [`Joint::coord_offset`].
    pub fn full_coordinates(&self, q: &[f64]) -> Result<Vec<f64>> {
        self.check_q(q)?;
        let mut full = vec![0.0; self.ncoords];
        for (i, &(j, c)) in self.dofs.iter().enumerate() {
            full[self.joints[j].coord_offset + c] = q[i];
        }
        for joint in &self.joints {
            if let Some(m) = &joint.mimic {
                let leader = &self.joints[m.root_leader];
                full[joint.coord_offset] =
                    m.root_multiplier * full[leader.coord_offset] + m.root_offset;
            }
        }
        Ok(full)
    }

    /// The position of every joint (one value per joint, 0 for fixed joints, the first
    /// coordinate for floating joints), mimic joints included.
    pub fn joint_positions(&self, q: &[f64]) -> Result<Vec<f64>> {
        let full = self.full_coordinates(q)?;
        Ok(self
            .joints
            .iter()
            .map(|j| {
                if j.is_movable() {
                    full[j.coord_offset]
                } else {
                    0.0
                }
            })
            .collect())
    }

    /// A configuration at the middle of the limits (0 for unlimited coordinates).
    pub fn neutral_configuration(&self) -> Vec<f64> {
        self.dof_limits()
            .iter()
            .map(|&(lo, hi)| {
                if lo.is_finite() && hi.is_finite() {
                    if lo <= 0.0 && hi >= 0.0 {
                        0.0
                    } else {
                        0.5 * (lo + hi)
                    }
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Total mass (kg).
    pub fn total_mass(&self) -> f64 {
        self.links.iter().map(|l| l.inertial.mass).sum()
    }

    pub(crate) fn check_q(&self, q: &[f64]) -> Result<()> {
        if q.len() != self.dofs.len() {
            return Err(RobotError::DimensionMismatch {
                what: format!("configuration of robot '{}'", self.name),
                expected: self.dofs.len(),
                got: q.len(),
            });
        }
        if let Some(i) = q.iter().position(|v| !v.is_finite()) {
            return Err(RobotError::InvalidArgument(format!(
                "configuration entry {i} ({}) of robot '{}' is not finite",
                self.dof_names()[i],
                self.name
            )));
        }
        Ok(())
    }
}
