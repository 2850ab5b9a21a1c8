//! The coupled frame: robot and tissue advanced together.
//!
//! # One frame, in this order (both tissue backends)
//! 1. **Controller**: the trajectory is sampled at each rigid step's end time and becomes
//!    the joints' PD position targets (with velocity feed-forward).
//! 2. **Rigid step**: rapier advances the robot `rigid_steps` times; on every step each tool
//!    link carries the wrench the tissue put on it during the previous frame (two-way
//!    coupling; one frame of lag, the usual explicit co-simulation split).
//! 3. **Tool poses to the tissue**: the tool links' poses at the end of the frame go to the
//!    tissue solver, which interpolates them from the last frame's to every substep (a tool
//!    moving fast is seen in between, not only where it ends up).
//! 4. **Tissue substeps with contact** (tool shapes, attachments, needle).
//! 5. **Reaction**: the tissue's impulses on each tool link, summed over the substeps, come
//!    back as a force and a torque per link, applied in step 2 of the next frame.
//! 6. **Record**: wrenches, joint torques, needle state and events, strain per region,
//!    target displacements.

// Index loops over xyz and tet vertices read like the math.
#![allow(clippy::needless_range_loop)]

use crate::margins::MarginProbe;
use crate::report::{FrameRecord, Recorder, Report};
use crate::scene::{CoSimError, CoSimScene, Coupling, CriteriaSpec};
use crate::trajectory::{SceneRobot, Trajectory, TrajectoryError};
use glam::{DQuat, DVec3};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;
use vesalius_engine::contact::faces::locate;
use vesalius_engine::contact::{
    event_descriptions, Attachment, BodyWrench, ContactReport, NeedleSpec, Pose, ToolSetup,
    ToolShape, ToolShapeDesc,
};
use vesalius_engine::mesh::RegionId;
use vesalius_engine::model::{Control, Model, State, SupportDrive};
use vesalius_engine::sim::{BackendKind, Simulation};
use vesalius_engine::solver::{diagnostics, EnergyInput, EnergyWatch, Guards, SimError, Threads};
use vesalius_robot::prelude::*;

/// Overrides for a run.
#[derive(Clone, Debug, Default)]
pub struct PredictOptions {
    /// Backend (default: the scene's).
    pub backend: Option<BackendKind>,
    /// GPU adapter filter.
    pub adapter: Option<String>,
    /// CPU backend threads (default: the scene's).
    pub threads: Option<Threads>,
    /// Simulated duration (s; default: the scene's).
    pub duration: Option<f64>,
    /// Coupling (default: the scene's).
    pub coupling: Option<Coupling>,
}

/// A point embedded in a tet (rest configuration).
#[derive(Clone, Debug)]
pub(crate) struct Embedded {
    pub tet: u32,
    pub bary: [f64; 4],
}

impl Embedded {
    /// Where the point is in world positions `pos`.
    fn position(&self, model: &Model, pos: &[[f32; 3]]) -> DVec3 {
        let tet = model.tets[self.tet as usize];
        (0..4)
            .map(|j| {
                let p = pos[tet[j] as usize];
                DVec3::new(p[0] as f64, p[1] as f64, p[2] as f64) * self.bary[j]
            })
            .sum()
    }
}

/// Rest positions plus displacements.
fn world_positions(model: &Model, state: &vesalius_engine::model::State) -> Vec<[f32; 3]> {
    state.positions(model)
}

/// "id = name" for every region of a model.
/// The names the needle gives the regions of `model` (its tip region, event regions):
/// the mesh's name, or `region <id>`.
fn tip_region_names(model: &Model) -> Vec<String> {
    let mut ids: Vec<RegionId> = model.materials.iter().map(|(r, _)| *r).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.iter()
        .map(|r| {
            model
                .region_names
                .get(r)
                .cloned()
                .unwrap_or_else(|| format!("region {r}"))
        })
        .collect()
}

/// Checks the criteria's event descriptions and final tip region against what the needle
/// can report in `model` (the error names the key): an unknown one could never be met.
fn check_criteria(criteria: &CriteriaSpec, model: &Model) -> Result<(), String> {
    let regions = tip_region_names(model);
    let known = event_descriptions(&regions);
    for (key, events) in [
        ("required_events", &criteria.required_events),
        ("forbidden_events", &criteria.forbidden_events),
    ] {
        if let Some(e) = events.iter().find(|e| !known.contains(e.as_str())) {
            return Err(format!(
                "criteria.{key}: no event {e:?} can happen in this tissue; the needle's events here are: {}",
                known.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if let Some(r) = &criteria.final_tip_region {
        if !regions.contains(r) {
            return Err(format!(
                "criteria.final_tip_region: no region {r:?} (regions, by the names the needle reports: {})",
                regions.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(())
}

fn region_list(model: &Model) -> String {
    model
        .region_names
        .iter()
        .map(|(i, n)| format!("{i} = {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A robot and a tissue coupled through tools.
pub struct CoSim {
    tissue: Simulation,
    world: RobotWorld,
    robot: RobotId,
    model: Arc<RobotModel>,
    body_links: Vec<LinkId>,
    trajectory: Option<JointTrajectory>,
    hold: Vec<f64>,
    gains: Gains,
    coupling: Coupling,
    rigid_steps: u32,
    frame_dt: f64,
    frames: u64,
    wrenches: Vec<BodyWrench>,
    stiffness: Vec<ContactStiffness>,
    recorder: Recorder,
    targets: Vec<(String, Vec<Embedded>)>,
    backend_name: String,
    notice: Option<String>,
    warnings: Vec<String>,
    criteria: CriteriaSpec,
    margin_probe: MarginProbe,
    /// Physical sanity guards: the solver judges the per-frame ones; the energy guard is
    /// judged here every frame with the tools' work.
    guards: Guards,
    /// The needle's body and its tip and axis in the body frame.
    needle: Option<(usize, DVec3, DVec3)>,
    /// Worlds forked from this one for [`CoSim::rollout_batch`], kept between batches.
    pool: Vec<CoSim>,
    /// The patient's motion (`[[motion]]`): the pinned supports' targets per frame.
    supports: SupportDrive,
    /// The energy guard's balance: the tissue's energy against the tools' work on it.
    energy: EnergyWatch,
}

/// A co-simulation's world between two frames: everything a run changes, so that a run
/// restored from it ([`CoSim::restore`]) continues as if it had never stopped (the same
/// bits on the CPU backend). The tissue's state with the tools' (their poses, the needle's
/// punctured faces, shaft points with their stick-slip state, tip region, events), the robot
/// world (rapier's bodies and multibody joints, the controller's targets), the trajectory
/// the controller follows (its cursor is the time) or the joint targets it holds, the tissue's last wrench on each tool
/// link with its linearised contact stiffness, and the records so far.
#[derive(Clone)]
pub struct WorldSnapshot {
    tissue: State,
    robot: RobotWorld,
    trajectory: Option<JointTrajectory>,
    hold: Vec<f64>,
    wrenches: Vec<BodyWrench>,
    stiffness: Vec<ContactStiffness>,
    recorder: Recorder,
    energy: EnergyWatch,
}

impl WorldSnapshot {
    /// Simulated time (s).
    pub fn time(&self) -> f64 {
        self.tissue.time
    }

    /// Frames run.
    pub fn frame(&self) -> u64 {
        self.tissue.step
    }

    /// The tissue's state, the tools' included.
    pub fn tissue(&self) -> &State {
        &self.tissue
    }
}

/// A trajectory error as an error of the scene file that holds the waypoints.
fn scene_trajectory_error(scene: &CoSimScene, e: TrajectoryError) -> CoSimError {
    scene.invalid(match e {
        TrajectoryError::Waypoint {
            index,
            time,
            message,
        } => format!("trajectory[{index}] (t = {time} s): {message}"),
        TrajectoryError::Limit { from, to, message } => {
            format!("trajectory[{from}] to trajectory[{to}]: {message}")
        }
        e => format!("trajectory: {e}"),
    })
}

fn pose_of(p: &crate::scene::PoseSpec) -> Isometry3<f64> {
    vesalius_robot::math::urdf_pose(p.xyz, p.rpy)
}

/// nalgebra isometry (robot crate) to the engine's pose.
pub fn to_pose(iso: &Isometry3<f64>) -> Pose {
    let t = iso.translation.vector;
    let q = iso.rotation.quaternion();
    Pose::new(
        DVec3::new(t.x, t.y, t.z),
        DQuat::from_xyzw(q.i, q.j, q.k, q.w).normalize(),
    )
}

/// The tool shapes of a link's URDF collision geometry. Meshes become convex hulls
/// (parry's), expressed about their centroid so the shape frame lies inside them.
pub fn link_tool_shapes(
    model: &RobotModel,
    link: LinkId,
    body: usize,
    static_friction: f64,
    kinetic_friction: f64,
) -> Result<Vec<ToolShapeDesc>, String> {
    let l = &model.links()[link];
    if l.collisions.is_empty() {
        return Err(format!(
            "link {} has no collision or visual geometry",
            l.name
        ));
    }
    let mut out = Vec::new();
    for s in &l.collisions {
        let origin = to_pose(&s.origin);
        let (shape, origin) = match &s.geometry {
            Geometry::Sphere { radius } => (ToolShape::Sphere { radius: *radius }, origin),
            Geometry::Box { size } => (
                ToolShape::Box {
                    half_extents: [size.x / 2.0, size.y / 2.0, size.z / 2.0],
                },
                origin,
            ),
            Geometry::Cylinder { radius, length } => (
                ToolShape::Cylinder {
                    radius: *radius,
                    half_length: length / 2.0,
                },
                origin,
            ),
            Geometry::Capsule { radius, length } => (
                ToolShape::Capsule {
                    radius: *radius,
                    half_length: length / 2.0,
                },
                origin,
            ),
            Geometry::Mesh { data, uri, .. } => {
                let data = data
                    .as_ref()
                    .ok_or_else(|| format!("link {}: mesh {uri} is not loaded", l.name))?;
                let (planes, centroid) = hull_planes(&data.vertices)
                    .map_err(|e| format!("link {}: mesh {uri}: {e}", l.name))?;
                (
                    ToolShape::Convex { planes },
                    origin.mul(&Pose::from_translation(centroid)),
                )
            }
        };
        out.push(ToolShapeDesc {
            body,
            shape,
            origin,
            static_friction,
            kinetic_friction,
        });
    }
    Ok(out)
}

/// Planes of the convex hull of `points`, about the hull's vertex centroid (returned).
fn hull_planes(points: &[Point3<f32>]) -> Result<(Vec<[f64; 4]>, DVec3), String> {
    use rapier3d::parry::transformation::convex_hull;
    let pts: Vec<_> = points
        .iter()
        .map(|p| rapier3d::math::Vector::new(p.x, p.y, p.z))
        .collect();
    let (verts, tris) = convex_hull(&pts);
    if verts.len() < 4 || tris.is_empty() {
        return Err("degenerate convex hull (flat or too few points)".into());
    }
    let v: Vec<DVec3> = verts
        .iter()
        .map(|p| DVec3::new(p.x as f64, p.y as f64, p.z as f64))
        .collect();
    let c = v.iter().copied().sum::<DVec3>() / v.len() as f64;
    let mut planes: Vec<[f64; 4]> = Vec::new();
    for t in &tris {
        let (a, b, d) = (
            v[t[0] as usize] - c,
            v[t[1] as usize] - c,
            v[t[2] as usize] - c,
        );
        let n = (b - a).cross(d - a);
        if n.length() < 1e-18 {
            continue;
        }
        let mut n = n.normalize();
        let mut off = n.dot(a);
        if off < 0.0 {
            n = -n;
            off = -off;
        }
        // Merge coplanar triangles.
        if planes.iter().any(|p| {
            (p[0] * n.x + p[1] * n.y + p[2] * n.z) > 1.0 - 1e-9 && (p[3] - off).abs() < 1e-9
        }) {
            continue;
        }
        planes.push([n.x, n.y, n.z, off]);
    }
    if planes.len() > vesalius_engine::contact::shapes::MAX_HULL_PLANES {
        return Err(format!(
            "convex hull has {} faces (at most {}); simplify the collision mesh",
            planes.len(),
            vesalius_engine::contact::shapes::MAX_HULL_PLANES
        ));
    }
    Ok((planes, c))
}

impl CoSim {
    /// Builds the tissue, the robot and the coupling of `scene`, with the scene's
    /// `[[trajectory]]`.
    pub fn new(scene: &CoSimScene, options: &PredictOptions) -> Result<Self, CoSimError> {
        let robot = SceneRobot::load(scene)?;
        let trajectory = robot
            .trajectory_from_specs(&scene.file.trajectory)
            .map_err(|e| scene_trajectory_error(scene, e))?;
        Self::build(scene, robot, trajectory, options)
    }

    /// The same with `trajectory` instead of the scene's waypoints (built with
    /// [`SceneRobot::trajectory`] for the scene's robot).
    pub fn with_trajectory(
        scene: &CoSimScene,
        trajectory: &Trajectory,
        options: &PredictOptions,
    ) -> Result<Self, CoSimError> {
        let robot = SceneRobot::load(scene)?;
        Self::build(scene, robot, Some(trajectory.clone()), options)
    }

    fn build(
        scene: &CoSimScene,
        robot_setup: SceneRobot,
        trajectory: Option<Trajectory>,
        options: &PredictOptions,
    ) -> Result<Self, CoSimError> {
        // Again: the scene's fields are public and may have changed since it was parsed.
        scene.check()?;
        let mut tissue_scene = scene.tissue();
        if let Some(d) = options.duration {
            tissue_scene.file.simulation.duration = d;
        }
        if let Some(b) = options.backend {
            tissue_scene.file.simulation.backend = b;
        }
        if options.adapter.is_some() {
            tissue_scene.file.simulation.adapter = options.adapter.clone();
        }
        if let Some(t) = options.threads {
            tissue_scene.file.simulation.threads = t;
        }
        let built = tissue_scene.build()?;
        let f = &scene.file;
        let bad = |m: String| scene.invalid(m);
        check_criteria(&f.criteria, &built.model).map_err(bad)?;
        let mut warnings = Vec::new();
        for w in built.warnings.iter().cloned().chain(
            robot_setup
                .model()
                .warnings
                .iter()
                .map(|w| format!("robot: {w}")),
        ) {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        let urdf = scene.resolve(&f.robot.urdf);
        let mut world = RobotWorld::new();
        let g = f.simulation.gravity;
        world.set_gravity(Vector3::new(g[0], g[1], g[2]));
        // rigid_steps and the other values: checked when the scene was parsed.
        world.set_timestep(f.simulation.frame_dt / f.robot.rigid_steps as f64)?;
        // The same base pose as the scene robot's model (add_robot sets it again).
        let robot = world.add_robot(
            robot_setup.model(),
            BasePlacement::Fixed(pose_of(&f.robot.base)),
            &SimOptions::default(),
        )?;
        let model = Arc::new(world.model(robot)?.clone());
        let names = model.dof_names();
        let q0 = robot_setup.initial_configuration().to_vec();
        world.set_configuration(robot, &q0)?;
        let link_of = |name: &str, what: &str| {
            robot_setup
                .link(name)
                .map(|h| h.id())
                .map_err(|e| bad(format!("{what}: {e} ({})", urdf.display())))
        };
        // Bodies: tool links, the needle's link, attachment links.
        let mut body_links: Vec<LinkId> = Vec::new();
        let mut body_of = |l: LinkId| {
            if let Some(i) = body_links.iter().position(|&b| b == l) {
                i
            } else {
                body_links.push(l);
                body_links.len() - 1
            }
        };
        let mut setup = ToolSetup {
            surface_contact: f.tool_contact,
            ..Default::default()
        };
        for (k, t) in f.tool.iter().enumerate() {
            let l = link_of(&t.link, &format!("tool[{k}].link"))?;
            let b = body_of(l);
            setup.shapes.extend(
                link_tool_shapes(&model, l, b, t.static_friction, t.kinetic_friction)
                    .map_err(|e| bad(format!("tool[{k}]: {e}")))?,
            );
        }
        if let Some(n) = &f.needle {
            let l = link_of(&n.link, "needle.link")?;
            setup.needle = Some(NeedleSpec {
                body: body_of(l),
                tip: DVec3::from_array(n.tip),
                axis: DVec3::from_array(n.axis),
                length: n.length,
                radius: n.radius,
                track_spacing: n.track_spacing,
                bevel_length: n.bevel_length,
            });
        }
        let mtissue = &built.model;
        for (k, a) in f.attach.iter().enumerate() {
            let body = if a.link == "world" {
                None
            } else {
                Some(body_of(link_of(&a.link, &format!("attach[{k}].link"))?))
            };
            let r2 = a.radius * a.radius;
            let vertices: Vec<u32> = (0..mtissue.num_vertices() as u32)
                .filter(|&v| {
                    let p = mtissue.rest_positions[v as usize];
                    let d: f64 = (0..3).map(|j| (p[j] as f64 - a.near[j]).powi(2)).sum();
                    d <= r2 && mtissue.inv_mass[v as usize] > 0.0
                })
                .collect();
            if vertices.is_empty() {
                return Err(bad(format!(
                    "attach[{k}]: no free tissue vertex within {} m of {:?}",
                    a.radius, a.near
                )));
            }
            setup.attachments.push(Attachment { body, vertices });
        }
        let region_id = |key: &str| -> Result<RegionId, CoSimError> {
            if let Ok(id) = key.parse::<RegionId>() {
                return Ok(id);
            }
            mtissue
                .region_names
                .iter()
                .find(|(_, n)| n.as_str() == key)
                .map(|(id, _)| *id)
                .ok_or_else(|| {
                    bad(format!(
                        "needle_tissue.{key}: no region of that name (regions: {})",
                        mtissue
                            .region_names
                            .iter()
                            .map(|(i, n)| format!("{i} = {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        };
        for (key, props) in &f.needle_tissue {
            props
                .check()
                .map_err(|e| bad(format!("needle_tissue.{key}: {e}")))?;
            setup.needle_tissue.insert(region_id(key)?, *props);
        }
        setup.bodies = body_links
            .iter()
            .map(|&l| model.links()[l].name.clone())
            .collect();
        // Targets, embedded at rest.
        let mut targets = Vec::new();
        for t in &f.target {
            let found = locate(mtissue, &mtissue.rest_positions, &t.points);
            let mut emb = Vec::new();
            for (p, hit) in t.points.iter().zip(found) {
                let (tet, bary) = hit.ok_or_else(|| {
                    bad(format!(
                        "target {:?}: point {p:?} is not inside the tissue",
                        t.name
                    ))
                })?;
                emb.push(Embedded { tet, bary });
            }
            targets.push((t.name.clone(), emb));
        }
        // A trajectory that starts at t = 0 also gives the starting configuration (its
        // first waypoint, e.g. an approach pose found by IK): the robot does not swing there
        // from `initial` during the first frames, dragging attached tissue with it.
        let trajectory: Option<JointTrajectory> = trajectory.map(|t| t.spline().clone());
        if let Some(tr) = &trajectory {
            if tr.start_time() <= 0.0 {
                world.set_configuration(robot, &tr.waypoints()[0])?;
            }
        }
        // The goal region of the tip's margins.
        let goal = match &f.criteria.final_tip_region {
            Some(name) => Some(region_id(name).map_err(|_| {
                bad(format!(
                    "criteria.final_tip_region: no region {name:?} (regions: {})",
                    region_list(mtissue)
                ))
            })?),
            None => None,
        };
        let frames = built.frames;
        let frame_dt = built.solver.frame_dt;
        let mut tissue = Simulation::new(
            built.model,
            &built.solver,
            tissue_scene.file.simulation.backend(),
        )?;
        let notice = tissue.notice().map(str::to_string);
        let rs = world.state(robot)?;
        let poses: Vec<Pose> = body_links
            .iter()
            .map(|&l| to_pose(&rs.link_poses[l]))
            .collect();
        tissue.set_tools(&setup, &poses)?;
        let backend_name = tissue.backend_name();
        let nb = tissue.contacts().map_or(0, |c| c.body_names().len());
        let body_names = tissue
            .contacts()
            .map(|c| c.body_names().to_vec())
            .unwrap_or_default();
        let damage = f.criteria.damage_strain.unwrap_or(0.5);
        let margin_probe = MarginProbe::new(tissue.model(), goal);
        let needle = setup
            .needle
            .as_ref()
            .map(|n| (n.body, n.tip, n.axis.normalize()));
        let recorder = Recorder::new(
            tissue.model(),
            body_names,
            names.clone(),
            targets.iter().map(|t| t.0.clone()).collect(),
            damage,
        );
        let mut world = world;
        world.control_mut(robot)?.gravity_compensation = f.robot.gravity_compensation;
        let supports = SupportDrive::new(tissue.model(), &f.motion).map_err(bad)?;
        Ok(Self {
            tissue,
            world,
            robot,
            model,
            body_links,
            trajectory,
            hold: q0,
            gains: Gains::new(f.robot.stiffness, f.robot.damping),
            coupling: options.coupling.unwrap_or(f.robot.coupling),
            rigid_steps: f.robot.rigid_steps,
            frame_dt,
            frames,
            wrenches: vec![BodyWrench::default(); nb],
            stiffness: vec![ContactStiffness::default(); nb],
            recorder,
            targets,
            backend_name,
            notice,
            warnings,
            criteria: f.criteria.clone(),
            margin_probe,
            guards: tissue_scene.file.simulation.guards.clone(),
            needle,
            pool: Vec::new(),
            supports,
            energy: EnergyWatch::default(),
        })
    }

    /// The world now ([`WorldSnapshot`]); on the GPU this reads the tissue's state back.
    pub fn snapshot(&mut self) -> Result<WorldSnapshot, CoSimError> {
        let tissue = self.tissue.sync_state()?.clone();
        Ok(WorldSnapshot {
            tissue,
            robot: self.world.clone(),
            trajectory: self.trajectory.clone(),
            hold: self.hold.clone(),
            wrenches: self.wrenches.clone(),
            stiffness: self.stiffness.clone(),
            recorder: self.recorder.clone(),
            energy: self.energy.clone(),
        })
    }

    /// Puts the world back as `snapshot` has it (taken from this run or from one it was
    /// forked from or forked into).
    pub fn restore(&mut self, snapshot: &WorldSnapshot) -> Result<(), CoSimError> {
        if snapshot.wrenches.len() != self.wrenches.len() {
            return Err(CoSimError::ForeignSnapshot {
                snapshot: snapshot.wrenches.len(),
                this: self.wrenches.len(),
            });
        }
        self.tissue.set_state(snapshot.tissue.clone())?;
        self.world = snapshot.robot.clone();
        self.trajectory = snapshot.trajectory.clone();
        self.hold = snapshot.hold.clone();
        self.wrenches = snapshot.wrenches.clone();
        self.stiffness = snapshot.stiffness.clone();
        self.recorder = snapshot.recorder.clone();
        self.energy = snapshot.energy.clone();
        Ok(())
    }

    /// From now on the controller follows `trajectory` (built with
    /// [`SceneRobot::trajectory`] for the scene's robot; it is sampled at absolute times, so
    /// a re-plan gives the rest of the run from the current time on).
    pub fn set_trajectory(&mut self, trajectory: &Trajectory) {
        self.trajectory = Some(trajectory.spline().clone());
    }

    /// From the next frame on the controller holds the joints at `q` (one value per entry
    /// of the robot's configuration, in [`RobotModel::dof_names`] order) with zero velocity
    /// targets, instead of following a trajectory: closed-loop control, a target set from
    /// outside before each frame. Refused (and nothing changed) for a wrong count, a
    /// non-finite value or one outside its joint's position limits.
    pub fn set_joint_targets(&mut self, q: &[f64]) -> Result<(), CoSimError> {
        let names = self.model.dof_names();
        if q.len() != names.len() {
            return Err(CoSimError::JointTargets {
                message: format!(
                    "{} values for {} joints ({})",
                    q.len(),
                    names.len(),
                    names.join(", ")
                ),
            });
        }
        for (k, (&v, &(j, _))) in q.iter().zip(self.model.dofs()).enumerate() {
            let joint = &self.model.joints()[j];
            let l = &joint.limits;
            if !v.is_finite() {
                return Err(CoSimError::JointTargets {
                    message: format!("{} (value {k}) is {v}, not a finite number", names[k]),
                });
            }
            if l.has_position_limits() && !(l.lower..=l.upper).contains(&v) {
                return Err(CoSimError::JointTargets {
                    message: format!(
                        "{} (value {k}) is {v}, outside its limits [{}, {}]",
                        names[k], l.lower, l.upper
                    ),
                });
            }
        }
        self.trajectory = None;
        self.hold = q.to_vec();
        Ok(())
    }

    /// The joint targets the controller holds when it follows no trajectory (the initial
    /// configuration, or the last [`CoSim::set_joint_targets`]).
    pub fn joint_targets(&self) -> &[f64] {
        &self.hold
    }

    /// A second co-simulation in the same world, to run apart from this one (a world for a
    /// candidate rollout): the tissue forked on the same backend ([`Simulation::fork`]), the
    /// robot world copied.
    pub fn fork(&mut self) -> Result<CoSim, CoSimError> {
        Ok(Self {
            tissue: self.tissue.fork()?,
            world: self.world.clone(),
            robot: self.robot,
            model: self.model.clone(),
            body_links: self.body_links.clone(),
            trajectory: self.trajectory.clone(),
            hold: self.hold.clone(),
            gains: self.gains,
            coupling: self.coupling,
            rigid_steps: self.rigid_steps,
            frame_dt: self.frame_dt,
            frames: self.frames,
            wrenches: self.wrenches.clone(),
            stiffness: self.stiffness.clone(),
            recorder: self.recorder.clone(),
            targets: self.targets.clone(),
            backend_name: self.backend_name.clone(),
            notice: self.notice.clone(),
            warnings: self.warnings.clone(),
            criteria: self.criteria.clone(),
            margin_probe: self.margin_probe.clone(),
            guards: self.guards.clone(),
            needle: self.needle,
            pool: Vec::new(),
            supports: self.supports.clone(),
            energy: self.energy.clone(),
        })
    }

    /// Rolls every candidate trajectory out from `snapshot` for `horizon` frames (fewer if
    /// a guard stops it: a broken rollout ends there and fails its verdict's "physically
    /// sane" check) and returns one report per candidate, in their order. Each report covers
    /// the whole run, the frames before the snapshot included, with the scene's verdict and
    /// margins, as [`CoSim::run`] would give for that trajectory.
    ///
    /// The worlds are forks of this one, made on the first batch and kept. On the CPU
    /// backend there is one world per thread of rayon's pool, each taking every
    /// `worlds`-th candidate in turn (restored from the snapshot for each), so a report
    /// has the same bits as the candidate run alone. On the GPU the worlds share the device
    /// and run one after another: each world is its own set of buffers and dispatches
    /// (batching them into one dispatch per kernel is not done).
    pub fn rollout_batch(
        &mut self,
        snapshot: &WorldSnapshot,
        candidates: &[Trajectory],
        horizon: u64,
    ) -> Result<Vec<Report>, CoSimError> {
        use rayon::prelude::*;
        let workers = match self.tissue.backend_kind() {
            BackendKind::Cpu => rayon::current_num_threads(),
            _ => 1,
        }
        .min(candidates.len())
        .max(1);
        while self.pool.len() < workers {
            let world = self.fork()?;
            self.pool.push(world);
        }
        let rollout = |world: &mut CoSim, c: &Trajectory| -> Result<Report, CoSimError> {
            world.restore(snapshot)?;
            world.set_trajectory(c);
            let stopped = world.run_frames(horizon, |_| ControlFlow::Continue(()))?;
            world.report_now(stopped)
        };
        let runs: Vec<Vec<(usize, Result<Report, CoSimError>)>> = self.pool[..workers]
            .par_iter_mut()
            .enumerate()
            .map(|(w, world)| {
                (w..candidates.len())
                    .step_by(workers)
                    .map(|i| (i, rollout(world, &candidates[i])))
                    .collect()
            })
            .collect();
        let mut reports: Vec<Option<Report>> = vec![None; candidates.len()];
        for (i, r) in runs.into_iter().flatten() {
            reports[i] = Some(r?);
        }
        Ok(reports
            .into_iter()
            .map(|r| r.expect("every candidate ran"))
            .collect())
    }

    /// Frames the scene asks for.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The tissue simulation.
    pub fn tissue(&mut self) -> &mut Simulation {
        &mut self.tissue
    }

    /// The robot world.
    pub fn world(&self) -> &RobotWorld {
        &self.world
    }

    /// The robot's id in the world.
    pub fn robot(&self) -> RobotId {
        self.robot
    }

    /// The robot model.
    pub fn robot_model(&self) -> &RobotModel {
        &self.model
    }

    /// The joint trajectory the controller follows (from the scene's waypoints), if any.
    pub fn trajectory(&self) -> Option<&JointTrajectory> {
        self.trajectory.as_ref()
    }

    /// A notice about the tissue backend choice, if any.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Warnings found while loading the scene, each once: the tissue mesh's (units,
    /// unreferenced vertices, reoriented tets) and the robot's (prefixed `robot: `).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Human-readable tissue backend.
    pub fn backend_name(&self) -> &str {
        &self.backend_name
    }

    /// Advances one frame (see the module documentation) and records it.
    pub fn step_frame(&mut self) -> Result<&FrameRecord, CoSimError> {
        let t0 = self.tissue.time();
        let h = self.frame_dt / self.rigid_steps as f64;
        let clock = Instant::now();
        for k in 1..=self.rigid_steps {
            let t = t0 + h * k as f64;
            let (q, qd) = match &self.trajectory {
                Some(tr) => {
                    let s = tr.sample(t);
                    (s.q, s.qd)
                }
                None => (self.hold.clone(), vec![0.0; self.hold.len()]),
            };
            self.world
                .control_mut(self.robot)?
                .set_position_targets(&q, Some(&qd), self.gains)?;
            if self.coupling == Coupling::TwoWay {
                let rs = self.world.state(self.robot)?;
                for (b, &l) in self.body_links.iter().enumerate() {
                    let w = self.wrenches[b];
                    let o = rs.link_poses[l].translation.vector;
                    let f = self.stiffness[b].force_at(w.force, DVec3::new(o.x, o.y, o.z));
                    self.world.apply_force_at_point(
                        self.robot,
                        l,
                        Vector3::new(f.x, f.y, f.z),
                        o,
                        Vector3::new(w.torque.x, w.torque.y, w.torque.z),
                    )?;
                }
            }
            self.world.step();
        }
        let rigid_s = clock.elapsed().as_secs_f64();
        let rs = self.world.state(self.robot)?;
        let poses: Vec<Pose> = self
            .body_links
            .iter()
            .map(|&l| to_pose(&rs.link_poses[l]))
            .collect();
        // The frame's inputs: the patient's supports and the tool links' poses.
        let control = Control {
            tool_poses: poses.clone(),
            ..self.supports.control(t0, t0 + self.frame_dt)
        };
        self.tissue.set_control(control);
        // The tools' poses before the frame, for the work they do on the tissue (the state
        // is on the host: it was read back after the last frame).
        let before = self.tissue.sync_state()?.tools.poses.clone();
        let clock = Instant::now();
        // The solver judges the per-frame guards; a breaking frame is still recorded.
        let solver_breach = match self.tissue.step(1) {
            Ok(()) => None,
            Err(SimError::Guard(b)) => Some(*b),
            Err(e) => return Err(e.into()),
        };
        let report = self
            .tissue
            .contact_report()
            .cloned()
            .expect("the co-simulation's tissue has tools");
        let tissue_s = clock.elapsed().as_secs_f64();
        self.wrenches = report.wrenches.clone();
        for (b, k) in self.stiffness.iter_mut().enumerate() {
            k.update(poses[b].translation, self.wrenches[b].force);
        }
        let clock = Instant::now();
        let plan = self.tissue.plan().clone();
        let (model, state) = self.tissue.sync_model_and_state()?;
        let targets = target_displacements(model, state, &self.targets);
        let pos = world_positions(model, state);
        let tip = self.needle.map(|(b, tip, axis)| {
            (
                poses[b].transform_point(tip),
                poses[b].transform_vector(axis).normalize(),
            )
        });
        let target_points = target_points(model, &pos, &self.targets);
        let margins = self.margin_probe.measure(model, &pos, tip, &target_points);
        let diag = diagnostics(model, state);
        let input = if self.supports.moves_during(t0, t0 + self.frame_dt) {
            EnergyInput::Unknown
        } else {
            EnergyInput::Work(tool_work(&report, &before, &poses))
        };
        let breach = solver_breach.or_else(|| {
            self.guards
                .energy_breach(model, &plan, &diag, &mut self.energy, input)
        });
        let rec = self.recorder.record(
            model,
            state,
            &report,
            &rs,
            (targets, margins),
            [rigid_s, tissue_s, 0.0],
        );
        rec.guard = breach;
        rec.timing[2] = clock.elapsed().as_secs_f64();
        Ok(rec)
    }

    /// Runs the remaining frames and returns the report.
    pub fn run(self) -> Result<Report, CoSimError> {
        self.run_observed(|_| ControlFlow::Continue(()))
    }

    /// Runs the remaining frames, showing each frame's record to `observe` as soon as it is
    /// made; `ControlFlow::Break` stops the run there (e.g. once a candidate has failed)
    /// and the report covers the frames run so far ([`Report::stopped_early`]).
    pub fn run_observed(
        mut self,
        observe: impl FnMut(&FrameRecord) -> ControlFlow<()>,
    ) -> Result<Report, CoSimError> {
        let stopped = self.run_frames(self.frames, observe)?;
        self.report_now(stopped)
    }

    /// Runs up to `frames` frames as [`CoSim::run_observed`] does; returns the time it
    /// stopped at if `observe` or a guard stopped it.
    pub fn run_frames(
        &mut self,
        frames: u64,
        mut observe: impl FnMut(&FrameRecord) -> ControlFlow<()>,
    ) -> Result<Option<f64>, CoSimError> {
        for _ in 0..frames {
            let rec = self.step_frame()?;
            // A broken frame ends the run: nothing after it is a prediction.
            let broken = rec.guard.is_some();
            if observe(rec).is_break() || broken {
                return Ok(Some(rec.time));
            }
        }
        Ok(None)
    }

    /// The report so far as a run that stopped now would give it (`stopped`: where a
    /// guard or an observer stopped it).
    fn report_now(&mut self, stopped: Option<f64>) -> Result<Report, CoSimError> {
        let tip_rest = self.tip_in_rest_frame()?;
        let mut report = self.report();
        report.stopped_early = stopped;
        report.final_tip_rest = tip_rest;
        Ok(report)
    }

    /// The material point of the tissue (its rest position) where the needle tip is now
    /// (`None`: no needle, or the tip outside the tissue).
    pub fn tip_in_rest_frame(&mut self) -> Result<Option<[f64; 3]>, CoSimError> {
        let Some((b, tip, _)) = self.needle else {
            return Ok(None);
        };
        let rs = self.world.state(self.robot)?;
        let pose = to_pose(&rs.link_poses[self.body_links[b]]);
        let p = pose.transform_point(tip);
        let (model, state) = self.tissue.sync_model_and_state()?;
        let pos = world_positions(model, state);
        Ok(locate(model, &pos, &[p.to_array()])[0].map(|(t, bary)| {
            Embedded { tet: t, bary }
                .position(model, &model.rest_positions)
                .to_array()
        }))
    }

    /// The target points where they are now (world, m), per `[[target]]` in scene order.
    pub fn target_points(&mut self) -> Result<Vec<Vec<DVec3>>, CoSimError> {
        Ok(self.positions_and_targets()?.1)
    }

    /// The tissue's vertex positions and the target points (per `[[target]]`) now (world,
    /// m).
    pub fn positions_and_targets(&mut self) -> Result<(Vec<[f32; 3]>, TargetPoints), CoSimError> {
        let (model, state) = self.tissue.sync_model_and_state()?;
        let pos = world_positions(model, state);
        let targets = target_points(model, &pos, &self.targets);
        Ok((pos, targets))
    }

    /// Simulated time (s).
    pub fn time(&self) -> f64 {
        self.tissue.time()
    }

    /// The mean displacement of the tissue's pinned supports (m; `None`: nothing is
    /// pinned): where the patient has moved, as a tracker on the arm would say.
    pub fn support_offset(&mut self) -> Result<Option<DVec3>, CoSimError> {
        let (model, state) = self.tissue.sync_model_and_state()?;
        if model.pinned.is_empty() {
            return Ok(None);
        }
        let sum = model.pinned.iter().fold(DVec3::ZERO, |a, &i| {
            let d = state.displacements[i as usize];
            a + DVec3::new(d[0] as f64, d[1] as f64, d[2] as f64)
        });
        Ok(Some(sum / model.pinned.len() as f64))
    }

    /// The duration the scene asks for: the end of its last frame (s).
    pub fn end_time(&self) -> f64 {
        self.frames as f64 * self.frame_dt
    }

    /// The report of the frames run so far, with the scene's verdict.
    pub fn finish(self) -> Report {
        self.recorder
            .finish(&self.criteria, self.backend_name, self.coupling)
    }

    /// The last frame's record (`None` before the first frame), without copying the
    /// report.
    pub fn last_record(&self) -> Option<&FrameRecord> {
        self.recorder.last()
    }

    /// The needle's events so far.
    pub fn events(&self) -> &[vesalius_engine::contact::NeedleEvent] {
        self.recorder.events()
    }

    /// The tool bodies' names (robot links, "world" for world attachments): the order of
    /// the records' forces.
    pub fn body_names(&self) -> &[String] {
        self.recorder.bodies()
    }

    /// The report so far (without consuming the run).
    pub fn report(&self) -> Report {
        self.recorder
            .clone()
            .finish(&self.criteria, self.backend_name.clone(), self.coupling)
    }
}

/// The work the tools did on the tissue over a frame (J): minus the tissue's mean wrench on
/// each body (force, and torque about its origin) times the body's displacement (and
/// rotation vector) over the frame. Exact for the mean force when a body moves at constant
/// velocity over the substeps, as the tools do.
fn tool_work(report: &ContactReport, before: &[Pose], after: &[Pose]) -> f64 {
    report
        .wrenches
        .iter()
        .zip(before.iter().zip(after))
        .map(|(w, (p0, p1))| {
            let turn = (p1.rotation * p0.rotation.inverse()).to_scaled_axis();
            -(w.force.dot(p1.translation - p0.translation) + w.torque.dot(turn))
        })
        .sum()
}

/// The tissue's force on a tool linearised about where it was measured, so that within a
/// frame the robot feels the force change as the tool moves: `F(x) = F0 - k (x - x0)`.
///
/// Why: the tissue's force is measured once per frame and applied during the next frame's
/// rigid steps. Held constant, a light tool on stiff tissue overshoots by a frame's travel
/// and the pair oscillates (a 50 g probe on 10 kPa tissue bounced between contact and
/// its joint limit). The stiffness `k` is estimated from the last frames' force change along
/// the tool's motion (secant, never negative, smoothed); the force never changes sign.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ContactStiffness {
    x0: Option<DVec3>,
    f0: DVec3,
    k: f64,
}

impl ContactStiffness {
    fn update(&mut self, x: DVec3, f: DVec3) {
        if let Some(x0) = self.x0 {
            let dx = x - x0;
            let d2 = dx.length_squared();
            if d2 > 1e-14 {
                let k = (-(f - self.f0).dot(dx) / d2).clamp(0.0, 1e6);
                self.k = 0.5 * self.k + 0.5 * k;
            }
            if f.length_squared() == 0.0 {
                self.k = 0.0;
            }
        }
        self.x0 = Some(x);
        self.f0 = f;
    }

    fn force_at(&self, f: DVec3, x: DVec3) -> DVec3 {
        let Some(x0) = self.x0 else { return f };
        let g = f - (x - x0) * self.k;
        if g.dot(f) <= 0.0 {
            DVec3::ZERO
        } else {
            g
        }
    }
}

/// Target points in the world (m), per `[[target]]` in scene order.
pub type TargetPoints = Vec<Vec<DVec3>>;

/// Where the embedded target points are in the tissue at `pos`.
fn target_points(
    model: &Model,
    pos: &[[f32; 3]],
    targets: &[(String, Vec<Embedded>)],
) -> TargetPoints {
    targets
        .iter()
        .map(|(_, pts)| pts.iter().map(|e| e.position(model, pos)).collect())
        .collect()
}

fn target_displacements(
    model: &Model,
    state: &vesalius_engine::model::State,
    targets: &[(String, Vec<Embedded>)],
) -> Vec<f64> {
    targets
        .iter()
        .map(|(_, pts)| {
            pts.iter()
                .map(|e| {
                    let tet = model.tets[e.tet as usize];
                    let mut u = [0.0f64; 3];
                    for j in 0..4 {
                        let d = state.displacements[tet[j] as usize];
                        for k in 0..3 {
                            u[k] += e.bary[j] * d[k] as f64;
                        }
                    }
                    (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt()
                })
                .fold(0.0, f64::max)
        })
        .collect()
}
