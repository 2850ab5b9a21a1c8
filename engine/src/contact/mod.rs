//! Tools in the tissue: rigid tool shapes, attachments and the needle.
//!
//! * [`shapes`]: the per-vertex contact kernel. Tool shapes (sphere, capsule, cylinder, box,
//!   convex hull) are signed distance functions in the shape's frame; a tissue vertex inside
//!   a shape is pushed to its surface with Coulomb friction on its motion relative to the
//!   tool. Attached vertices (grasped, or held by the world) follow their body rigidly.
//!   GPU twin: `shaders/xpbd/contact.wgsl`.
//! * [`needle`]: the needle kernel (tip pushing a surface face until it punctures, tissue
//!   points stuck to the shaft with stick-slip axial friction, a cutting force at the tip)
//!   and its host-side state machine (puncture events, which region the tip is in, where the
//!   shaft holds the tissue). GPU twin: `shaders/xpbd/needle.wgsl`.
//! * [`faces`]: mesh faces, ray casts and point location in the deformed mesh.
//!
//! # A frame with tools
//! The caller gives each tool body's pose at the start and at the end of the frame. Before
//! the frame, `Contacts::plan_frame` interpolates them (lerp + slerp) to the end of every
//! substep and packs one `ToolSubstep` record per substep; the GPU gets all of them in one
//! upload, the CPU reads the same records. In every substep, on both backends and in this
//! order: predict, warm start, **collide** (planes, then tool shapes, then attachments),
//! **needle pass 0** (barrier face, shaft points, cutting force), solve, **needle pass 1**
//! (barrier and shaft again, puncture test), **finalize** (planes, tool shapes, attachments,
//! velocities), damp. The impulses the tools give the tissue are summed per body over the
//! frame (per vertex on the GPU, reduced once at the end) and come back once per frame as
//! [`BodyWrench`]es: the tissue's force and torque on each body, to be applied to the robot.

pub mod faces;
pub mod needle;
pub mod shapes;
pub mod surface;

pub use needle::{
    event_descriptions, NeedleEvent, NeedleEventKind, NeedleReport, NeedleSpec, NeedleState,
    NeedleTissue, NeedleTracker, PathTracker, DEFAULT_BEVEL_LENGTH, MAX_SHAFT_FACES,
};
pub use shapes::ToolShape;
pub use surface::{SurfaceContact, SurfaceContactChoice};

use crate::mesh::RegionId;
use crate::model::{Model, State};
use glam::{DQuat, DVec3};
use needle::NeedleDevice;
use std::collections::BTreeMap;

/// Most tool bodies (robot links, kinematic objects, the world for world attachments).
pub const MAX_BODIES: usize = 8;
/// Most tool shapes over all bodies.
pub const MAX_SHAPES: usize = 16;

/// A rigid pose: rotation then translation (world from local).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Translation (m).
    pub translation: DVec3,
    /// Rotation (unit quaternion).
    pub rotation: DQuat,
}

impl Default for Pose {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Pose {
    /// The identity.
    pub const IDENTITY: Pose = Pose {
        translation: DVec3::ZERO,
        rotation: DQuat::IDENTITY,
    };

    /// A pose from a translation and a rotation.
    pub fn new(translation: DVec3, rotation: DQuat) -> Self {
        Self {
            translation,
            rotation,
        }
    }

    /// A pure translation.
    pub fn from_translation(t: DVec3) -> Self {
        Self::new(t, DQuat::IDENTITY)
    }

    /// Maps a local point to the world.
    pub fn transform_point(&self, p: DVec3) -> DVec3 {
        self.rotation * p + self.translation
    }

    /// Maps a local direction to the world.
    pub fn transform_vector(&self, v: DVec3) -> DVec3 {
        self.rotation * v
    }

    /// The inverse pose.
    pub fn inverse(&self) -> Pose {
        let r = self.rotation.inverse();
        Pose::new(-(r * self.translation), r)
    }

    /// `self * other` (apply `other` first).
    pub fn mul(&self, other: &Pose) -> Pose {
        Pose::new(
            self.transform_point(other.translation),
            (self.rotation * other.rotation).normalize(),
        )
    }

    /// Interpolation: translations linearly, rotations by slerp.
    pub fn lerp(&self, other: &Pose, t: f64) -> Pose {
        Pose::new(
            self.translation.lerp(other.translation, t),
            self.rotation.slerp(other.rotation, t).normalize(),
        )
    }

    /// Whether every component is finite and the rotation is a unit quaternion.
    pub fn is_valid(&self) -> bool {
        self.translation.is_finite()
            && self.rotation.is_finite()
            && (self.rotation.length() - 1.0).abs() < 1e-3
    }

    /// The 3x4 rows `[R | t]` of this pose in f32 (world from local).
    pub(crate) fn rows(&self) -> [[f32; 4]; 3] {
        let m = glam::DMat3::from_quat(self.rotation);
        let mut out = [[0.0f32; 4]; 3];
        for (k, row) in out.iter_mut().enumerate() {
            let r = m.row(k);
            *row = [
                r.x as f32,
                r.y as f32,
                r.z as f32,
                self.translation[k] as f32,
            ];
        }
        out
    }
}

/// A tool shape placed on a body.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolShapeDesc {
    /// Index of the body in [`ToolSetup::bodies`].
    pub body: usize,
    /// The geometry.
    pub shape: ToolShape,
    /// Pose of the shape in the body frame.
    pub origin: Pose,
    /// Static Coulomb friction coefficient against tissue.
    pub static_friction: f64,
    /// Kinetic Coulomb friction coefficient against tissue.
    pub kinetic_friction: f64,
}

/// Tissue vertices held by a body (a grasp) or by the world, at their current positions.
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    /// The body, or `None` for the world (the force is then reported as body `"world"`).
    pub body: Option<usize>,
    /// Vertex indices.
    pub vertices: Vec<u32>,
}

/// What the tissue is coupled to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolSetup {
    /// Names of the rigid bodies whose poses the caller provides each frame.
    pub bodies: Vec<String>,
    /// Tool shapes on those bodies.
    pub shapes: Vec<ToolShapeDesc>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// The needle, if any.
    pub needle: Option<NeedleSpec>,
    /// Needle properties per tissue region id (regions not listed: no puncture threshold,
    /// no cutting force, no friction).
    pub needle_tissue: BTreeMap<RegionId, NeedleTissue>,
    /// Vertex or face contact between the tool shapes and the tissue surface.
    pub surface_contact: SurfaceContact,
}

/// Errors of the tool setup and of a frame's inputs.
#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    /// The setup is inconsistent (names what).
    #[error("tool setup: {0}")]
    Setup(String),
    /// A frame's poses are wrong (count, NaN).
    #[error("tool poses: {0}")]
    Poses(String),
}

/// The tissue's force and torque on one body over a frame (mean over the substeps).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BodyWrench {
    /// Force (N, world axes).
    pub force: DVec3,
    /// Torque about the body origin at the end of the frame (N m, world axes).
    pub torque: DVec3,
}

/// What came back from one frame with tools.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactReport {
    /// Per body of [`Contacts::body_names`], same order.
    pub wrenches: Vec<BodyWrench>,
    /// The needle's frame, if there is a needle.
    pub needle: Option<NeedleReport>,
}

/// Static parameters of one shape as the kernels read them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct ShapeParams {
    /// x kind (`ToolShape::kind`), y body, z first hull plane, w hull plane count.
    pub kind: [u32; 4],
    /// Dimensions: sphere (r), capsule / cylinder (r, half length), box (half extents).
    pub dims: [f32; 4],
    /// x static friction, y kinetic friction, z 1 if the shape takes face contact, w the
    /// share of the core left when shortened by the smallest radius.
    pub friction: [f32; 4],
    /// The shape's core for face contact (`surface::deepest_point`): the segment from
    /// `-xyz` to `xyz` (a point when zero); w the farthest any point of the shape lies from it.
    pub core: [f32; 4],
}

/// Everything the kernels need for one substep, computed on the host before the frame.
/// Laid out as `ToolSubstep` in `shaders/xpbd/contact.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct ToolSubstep {
    /// x bodies, y shapes, z 1 if any vertex is attached, w substep index in the frame.
    pub counts: [u32; 4],
    /// Needle: tip (w 1 if there is a needle), axis, tip at the previous substep.
    pub needle: [[f32; 4]; 3],
    /// Body to world rows `[R | t]` at the end of this substep.
    pub bodies: [[[f32; 4]; 3]; MAX_BODIES],
    /// World to shape rows at the end of this substep.
    pub shapes: [[[f32; 4]; 3]; MAX_SHAPES],
    /// World to shape rows at the end of the previous substep (for friction).
    pub shapes_prev: [[[f32; 4]; 3]; MAX_SHAPES],
    /// Each shape's world bounding box at the end of this substep, grown by
    /// [`BOUNDS_MARGIN`] (min xyz, max xyz; w unused): vertex contact skips a vertex outside
    /// it without transforming it (it cannot be inside the shape, so nothing changes but
    /// the cost). Unbounded for convex hulls.
    pub bounds: [[[f32; 4]; 2]; MAX_SHAPES],
}
const _: () = assert!(
    std::mem::size_of::<ToolSubstep>() == 64 + 48 * (MAX_BODIES + 2 * MAX_SHAPES) + 32 * MAX_SHAPES
);

/// How much a shape's bounding box (`ToolSubstep::bounds`) is grown (m): far more than the
/// rounding of a vertex's transform into the shape frame in f32 (under a micrometre a metre
/// from the origin), so a vertex it skips is one the shape's distance would have found
/// outside.
pub(crate) const BOUNDS_MARGIN: f64 = 1e-5;

impl Default for ToolSubstep {
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

/// Per-body sums of one frame as both backends produce them: impulse x dt on the body
/// (kg m) and its moment about the body origin of the substep.
pub type RawWrench = [f64; 6];

/// The tools' part of the world's [`State`]: what changes between frames. The tool bodies'
/// poses at the end of the last frame (where the next frame's motion starts) and the
/// needle's [`NeedleState`]. Restoring a state restores the tools with the tissue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolState {
    /// Every body's pose at the end of the last frame: the setup's bodies, then the world
    /// body when something is attached to the world.
    pub poses: Vec<Pose>,
    /// The needle's state (`None`: no needle).
    pub needle: Option<NeedleState>,
}

/// The tools of a simulation: shapes, attachments and the needle, fixed for a run, and the
/// next frame's kernel records. What changes between frames is the [`ToolState`] in the
/// world's [`State`].
#[derive(Clone)]
pub struct Contacts {
    body_names: Vec<String>,
    shape_bodies: Vec<usize>,
    shape_origins: Vec<Pose>,
    /// Half extents of each shape's box in its frame (`None`: a convex hull, unbounded).
    shape_extents: Vec<Option<[f64; 3]>>,
    pub(crate) shapes: Vec<ShapeParams>,
    pub(crate) hull_planes: Vec<[f32; 4]>,
    /// Per vertex: local position on the attached body (xyz), body + 1 (w; 0: free). Empty
    /// when nothing is attached.
    pub(crate) attach: Vec<[f32; 4]>,
    pub(crate) substeps: Vec<ToolSubstep>,
    world_body: Option<usize>,
    pub(crate) needle: Option<NeedleTracker>,
    /// The tissue surface, when the tool shapes take face contact.
    pub(crate) surface: Option<surface::SurfaceMesh>,
    surface_choice: SurfaceContactChoice,
    /// Start time of the frame planned last (s).
    frame_start_time: f64,
}

impl Contacts {
    /// Checks `setup` against `model` and records the attachments at the vertices' current
    /// positions in `state`, with the bodies at `poses` (one per [`ToolSetup::bodies`]).
    /// Returns the tools and their state now, for `state.tools`.
    pub fn new(
        model: &Model,
        state: &State,
        setup: &ToolSetup,
        poses: &[Pose],
    ) -> Result<(Self, ToolState), ContactError> {
        let mut body_names = setup.bodies.clone();
        if poses.len() != body_names.len() {
            return Err(ContactError::Poses(format!(
                "{} poses for {} bodies",
                poses.len(),
                body_names.len()
            )));
        }
        check_poses(poses)?;
        let world_body = if setup.attachments.iter().any(|a| a.body.is_none()) {
            body_names.push("world".into());
            Some(body_names.len() - 1)
        } else {
            None
        };
        if body_names.len() > MAX_BODIES {
            return Err(ContactError::Setup(format!(
                "{} tool bodies (at most {MAX_BODIES})",
                body_names.len()
            )));
        }
        if setup.shapes.len() > MAX_SHAPES {
            return Err(ContactError::Setup(format!(
                "{} tool shapes (at most {MAX_SHAPES})",
                setup.shapes.len()
            )));
        }
        let mut shapes = Vec::new();
        let mut hull_planes = Vec::new();
        for (k, s) in setup.shapes.iter().enumerate() {
            if s.body >= setup.bodies.len() {
                return Err(ContactError::Setup(format!(
                    "shape {k} is on body {} but there are {} bodies",
                    s.body,
                    setup.bodies.len()
                )));
            }
            if !(s.static_friction >= 0.0
                && s.kinetic_friction >= 0.0
                && s.static_friction.is_finite()
                && s.kinetic_friction.is_finite())
            {
                return Err(ContactError::Setup(format!(
                    "shape {k}: friction must be finite and >= 0"
                )));
            }
            if !s.origin.is_valid() {
                return Err(ContactError::Setup(format!(
                    "shape {k}: invalid origin pose"
                )));
            }
            s.shape.check().map_err(|e| {
                ContactError::Setup(format!("shape {k} on {}: {e}", setup.bodies[s.body]))
            })?;
            let (_, _, planes) = s.shape.kernel_params();
            shapes.push(s.shape.shape_params(
                s.body as u32,
                hull_planes.len() as u32,
                [s.static_friction as f32, s.kinetic_friction as f32],
                false,
            ));
            hull_planes.extend(planes);
        }
        let (surface, surface_choice) = choose_surface(model, setup, &mut shapes);
        let nv = model.num_vertices();
        let positions = state.positions(model);
        let mut attach = Vec::new();
        if !setup.attachments.is_empty() {
            attach = vec![[0.0f32; 4]; nv];
            for (k, a) in setup.attachments.iter().enumerate() {
                let (body, pose) = match a.body {
                    Some(b) if b < setup.bodies.len() => (b, poses[b]),
                    Some(b) => {
                        return Err(ContactError::Setup(format!(
                            "attachment {k} is on body {b} but there are {} bodies",
                            setup.bodies.len()
                        )))
                    }
                    None => (world_body.expect("world body added above"), Pose::IDENTITY),
                };
                let inv = pose.inverse();
                for &v in &a.vertices {
                    let i = v as usize;
                    if i >= nv {
                        return Err(ContactError::Setup(format!(
                            "attachment {k}: vertex {v} out of range ({nv} vertices)"
                        )));
                    }
                    if model.inv_mass[i] == 0.0 {
                        return Err(ContactError::Setup(format!(
                            "attachment {k}: vertex {v} is pinned; attach it or pin it, not both"
                        )));
                    }
                    if attach[i][3] != 0.0 {
                        return Err(ContactError::Setup(format!(
                            "attachment {k}: vertex {v} is already attached"
                        )));
                    }
                    let p = positions[i];
                    let l = inv.transform_point(DVec3::new(p[0] as f64, p[1] as f64, p[2] as f64));
                    attach[i] = [l.x as f32, l.y as f32, l.z as f32, (body + 1) as f32];
                }
            }
        }
        let needle = match &setup.needle {
            Some(spec) => {
                if spec.body >= setup.bodies.len() {
                    return Err(ContactError::Setup(format!(
                        "the needle is on body {} but there are {} bodies",
                        spec.body,
                        setup.bodies.len()
                    )));
                }
                Some(NeedleTracker::new(model, spec, &setup.needle_tissue)?)
            }
            None => None,
        };
        let mut last_end = poses.to_vec();
        if world_body.is_some() {
            last_end.push(Pose::IDENTITY);
        }
        let tools = ToolState {
            poses: last_end,
            needle: needle.as_ref().map(|_| NeedleState::default()),
        };
        let contacts = Self {
            body_names,
            shape_bodies: setup.shapes.iter().map(|s| s.body).collect(),
            shape_origins: setup.shapes.iter().map(|s| s.origin).collect(),
            shape_extents: setup
                .shapes
                .iter()
                .map(|s| s.shape.half_extents())
                .collect(),
            shapes,
            hull_planes,
            attach,
            substeps: Vec::new(),
            world_body,
            needle,
            surface,
            surface_choice,
            frame_start_time: state.time,
        };
        Ok((contacts, tools))
    }

    /// Checks that `tools` is a state of these tools (as restored from a snapshot).
    pub(crate) fn check_state(&self, tools: &ToolState) -> Result<(), ContactError> {
        if tools.poses.len() != self.num_bodies() || tools.needle.is_some() != self.needle.is_some()
        {
            return Err(ContactError::Setup(format!(
                "the state's tools ({} bodies{}) are not this simulation's ({} bodies{})",
                tools.poses.len(),
                if tools.needle.is_some() {
                    ", a needle"
                } else {
                    ""
                },
                self.num_bodies(),
                if self.needle.is_some() {
                    ", a needle"
                } else {
                    ""
                },
            )));
        }
        check_poses(&tools.poses)
    }

    /// Names of the bodies whose wrenches [`ContactReport::wrenches`] lists (the setup's,
    /// plus `"world"` when something is attached to the world).
    pub fn body_names(&self) -> &[String] {
        &self.body_names
    }

    /// Whether the tool shapes take face contact, and why (see [`SurfaceContact`]).
    pub fn surface_contact(&self) -> &SurfaceContactChoice {
        &self.surface_choice
    }

    /// Whether there is a needle (its state machine needs the positions every frame).
    pub fn has_needle(&self) -> bool {
        self.needle.is_some()
    }

    /// The needle's state machine, if any (its state is in [`ToolState::needle`]).
    pub fn needle(&self) -> Option<&NeedleTracker> {
        self.needle.as_ref()
    }

    /// The vertices attached to a tool body or the world, in index order.
    pub fn attached_vertices(&self) -> Vec<u32> {
        (0..self.attach.len())
            .filter(|&i| self.is_attached(i))
            .map(|i| i as u32)
            .collect()
    }

    /// Whether vertex `i` is attached to a body or the world.
    #[inline]
    pub(crate) fn is_attached(&self, i: usize) -> bool {
        self.attach.get(i).is_some_and(|a| a[3] > 0.0)
    }

    /// Number of bodies including the world body.
    pub(crate) fn num_bodies(&self) -> usize {
        self.body_names.len()
    }

    /// Bodies of the setup, whose poses a frame takes (the world body of attachments
    /// excluded).
    pub fn num_setup_bodies(&self) -> usize {
        self.body_names.len() - usize::from(self.world_body.is_some())
    }

    /// Packs the substep records of the next frame: the bodies move from the poses they had at
    /// the end of the last frame to `end` (one per setup body). `positions` (world, current)
    /// are needed only with a needle.
    pub(crate) fn plan_frame(
        &mut self,
        tools: &mut ToolState,
        model: &Model,
        positions: Option<&[[f32; 3]]>,
        end: &[Pose],
        substeps: u32,
        time: f64,
    ) -> Result<(), ContactError> {
        let nb_user = self.num_setup_bodies();
        if end.len() != nb_user {
            return Err(ContactError::Poses(format!(
                "{} poses for {nb_user} bodies",
                end.len()
            )));
        }
        check_poses(end)?;
        let start = std::mem::take(&mut tools.poses);
        let mut end = end.to_vec();
        if self.world_body.is_some() {
            end.push(Pose::IDENTITY);
        }
        let n = substeps.max(1);
        let pose_at = |b: usize, s: u32| start[b].lerp(&end[b], s as f64 / n as f64);
        let shape_pose =
            |k: usize, s: u32| pose_at(self.shape_bodies[k], s).mul(&self.shape_origins[k]);
        self.substeps.clear();
        for s in 1..=n {
            let mut rec = ToolSubstep {
                counts: [
                    self.num_bodies() as u32,
                    self.shapes.len() as u32,
                    (!self.attach.is_empty()) as u32,
                    s - 1,
                ],
                ..Default::default()
            };
            for b in 0..self.num_bodies() {
                rec.bodies[b] = pose_at(b, s).rows();
            }
            for k in 0..self.shapes.len() {
                let now = shape_pose(k, s);
                rec.shapes[k] = now.inverse().rows();
                rec.shapes_prev[k] = shape_pose(k, s - 1).inverse().rows();
                rec.bounds[k] =
                    self.shape_extents[k].map_or(UNBOUNDED, |half| world_bounds(&now, half));
            }
            if let Some(nd) = &self.needle {
                let b = nd.spec.body;
                let (tip, axis) = nd.spec.world_tip_axis(&pose_at(b, s));
                let (prev, _) = nd.spec.world_tip_axis(&pose_at(b, s - 1));
                rec.needle = [
                    [tip.x as f32, tip.y as f32, tip.z as f32, 1.0],
                    [axis.x as f32, axis.y as f32, axis.z as f32, 0.0],
                    [prev.x as f32, prev.y as f32, prev.z as f32, 0.0],
                ];
            }
            self.substeps.push(rec);
        }
        self.frame_start_time = time;
        if let (Some(nd), Some(st)) = (&self.needle, &mut tools.needle) {
            let b = nd.spec.body;
            let Some(positions) = positions else {
                tools.poses = start;
                return Err(ContactError::Setup(
                    "the needle needs the tissue positions each frame".into(),
                ));
            };
            nd.prepare_frame(st, model, positions, &start[b], &end[b]);
        }
        tools.poses = end;
        Ok(())
    }

    /// Turns one frame's raw sums into wrenches and runs the needle's end-of-frame logic.
    pub(crate) fn finish_frame(
        &self,
        tools: &mut ToolState,
        model: &Model,
        raw: &[RawWrench],
        needle_dev: Option<NeedleDevice>,
        positions: Option<&[[f32; 3]]>,
        dt: f64,
    ) -> ContactReport {
        let n = self.substeps.len().max(1) as f64;
        let scale = 1.0 / (dt * dt * n);
        let mut wrenches: Vec<BodyWrench> = raw
            .iter()
            .map(|r| BodyWrench {
                force: DVec3::new(r[0], r[1], r[2]) * scale,
                torque: DVec3::new(r[3], r[4], r[5]) * scale,
            })
            .collect();
        wrenches.resize(self.num_bodies(), BodyWrench::default());
        let mut report = ContactReport {
            wrenches,
            needle: None,
        };
        if let (Some(nd), Some(st), Some(dev), Some(pos)) =
            (&self.needle, &mut tools.needle, needle_dev, positions)
        {
            let b = nd.spec.body;
            let end = tools.poses[b];
            let nr = nd.finish_frame(
                st,
                model,
                pos,
                dev,
                &end,
                self.frame_start_time,
                dt,
                n as u32,
            );
            // The needle's wrench on its body, moved from the tip to the body origin.
            let w = &mut report.wrenches[b];
            w.force += nr.force;
            w.torque += nr.torque_about_tip + (nr.tip - end.translation).cross(nr.force);
            report.needle = Some(nr);
        }
        report
    }
}

/// An unbounded box (`ToolSubstep::bounds` of a shape with no extents).
const UNBOUNDED: [[f32; 4]; 2] = [
    [-f32::MAX, -f32::MAX, -f32::MAX, 0.0],
    [f32::MAX, f32::MAX, f32::MAX, 0.0],
];

/// The world bounding box of a box of half extents `half` about the origin of `pose`, grown
/// by [`BOUNDS_MARGIN`].
fn world_bounds(pose: &Pose, half: [f64; 3]) -> [[f32; 4]; 2] {
    let m = glam::DMat3::from_quat(pose.rotation);
    let (mut lo, mut hi) = ([0.0f32; 4], [0.0f32; 4]);
    for (i, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).take(3).enumerate() {
        let r = m.row(i);
        let e = r.x.abs() * half[0] + r.y.abs() * half[1] + r.z.abs() * half[2] + BOUNDS_MARGIN;
        *l = (pose.translation[i] - e) as f32;
        *h = (pose.translation[i] + e) as f32;
    }
    [lo, hi]
}

/// Resolves the setup's [`SurfaceContact`]: the surface mesh when faces are on (and marks
/// the shapes that take face contact), and the choice as reported.
fn choose_surface(
    model: &Model,
    setup: &ToolSetup,
    shapes: &mut [ShapeParams],
) -> (Option<surface::SurfaceMesh>, SurfaceContactChoice) {
    let smallest_radius = setup
        .shapes
        .iter()
        .filter_map(|s| surface::face_radii(&s.shape).map(|(r, _)| r))
        .fold(f64::INFINITY, f64::min);
    let mut choice = SurfaceContactChoice {
        requested: setup.surface_contact,
        faces: false,
        triangles: 0,
        mean_edge: 0.0,
        smallest_radius,
    };
    if setup.surface_contact == SurfaceContact::Vertices || !smallest_radius.is_finite() {
        return (None, choice);
    }
    let mesh = surface::SurfaceMesh::new(model);
    choice.triangles = mesh.faces.len();
    choice.mean_edge = mesh.mean_edge;
    choice.faces = match setup.surface_contact {
        SurfaceContact::Faces => true,
        _ => smallest_radius < surface::AUTO_RADIUS_PER_EDGE * mesh.mean_edge,
    } && !mesh.faces.is_empty();
    if !choice.faces {
        return (None, choice);
    }
    for (p, s) in shapes.iter_mut().zip(&setup.shapes) {
        if surface::face_radii(&s.shape).is_some() {
            p.friction[2] = 1.0;
        }
    }
    (Some(mesh), choice)
}

fn check_poses(poses: &[Pose]) -> Result<(), ContactError> {
    for (k, p) in poses.iter().enumerate() {
        if !p.is_valid() {
            return Err(ContactError::Poses(format!(
                "pose {k} is not finite or its rotation is not a unit quaternion: {p:?}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every point inside a shape, at any pose, lies in its world bounding box (what lets
    /// vertex contact skip the vertices outside it without changing a bit).
    #[test]
    fn a_shape_lies_inside_its_world_bounds() {
        let shapes = [
            ToolShape::Sphere { radius: 0.01 },
            ToolShape::Capsule {
                radius: 0.002,
                half_length: 0.03,
            },
            ToolShape::Cylinder {
                radius: 0.0025,
                half_length: 0.175,
            },
            ToolShape::Box {
                half_extents: [0.04, 0.03, 0.005],
            },
        ];
        // A counter-based sequence in [0, 1): no dependency for a test's random poses.
        let mut k = 0u64;
        let mut u = || {
            k += 1;
            let mut z = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            (z >> 11) as f64 / (1u64 << 53) as f64
        };
        for shape in &shapes {
            let half = shape.half_extents().expect("bounded");
            for _ in 0..50 {
                let axis = DVec3::new(u() - 0.5, u() - 0.5, u() - 0.5).normalize();
                let pose = Pose::new(
                    DVec3::new(u() - 0.5, u() - 0.5, u() - 0.5),
                    glam::DQuat::from_axis_angle(axis, 6.3 * u()),
                );
                let [lo, hi] = world_bounds(&pose, half);
                for _ in 0..200 {
                    let l = [
                        (2.0 * u() - 1.0) * half[0],
                        (2.0 * u() - 1.0) * half[1],
                        (2.0 * u() - 1.0) * half[2],
                    ];
                    if shape.distance(l) > 0.0 {
                        continue;
                    }
                    let w = pose.transform_point(DVec3::from_array(l));
                    for j in 0..3 {
                        assert!(
                            (w[j] as f32) >= lo[j] && (w[j] as f32) <= hi[j],
                            "{shape:?} at {pose:?}: {w} outside {lo:?}..{hi:?}"
                        );
                    }
                }
            }
        }
        assert!(ToolShape::Convex { planes: vec![] }
            .half_extents()
            .is_none());
    }
}
