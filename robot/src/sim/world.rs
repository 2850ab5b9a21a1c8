//! [`RobotWorld`]: a rapier [`PhysicsWorld`] plus the robots living in it.

use std::sync::Arc;

use rapier3d::math::{Mat3, Vector};
use rapier3d::na::{Isometry3, Vector3};
use rapier3d::pipeline::PhysicsWorld;
use rapier3d::prelude::{
    ColliderBuilder, GenericJoint, GenericJointBuilder, JointAxesMask, JointAxis, MassProperties,
    MotorModel, MultibodyLinkId, RigidBodyBuilder, RigidBodyHandle,
};

use super::state::RobotState;
use crate::control::{MotorCommand, RobotControl};
use crate::error::{Result, RobotError};
use crate::kinematics::fk_motion_align;
use crate::math::{from_pose, from_vec, to_pose, to_vec};
use crate::model::{InertialSource, JointId, JointKind, LinkId, RobotModel};
use crate::urdf::{parry_shape, MeshCollision};

/// Identifies a robot in a [`RobotWorld`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RobotId(pub usize);

/// How the root link is attached to the world.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BasePlacement {
    /// Welded to the world at this pose.
    Fixed(Isometry3<f64>),
    /// Free six-degree-of-freedom base starting at this pose (a mobile or floating robot).
    Floating(Isometry3<f64>),
}

impl BasePlacement {
    fn pose(&self) -> Isometry3<f64> {
        match self {
            BasePlacement::Fixed(p) | BasePlacement::Floating(p) => *p,
        }
    }
}

/// Options used when a robot is added to a world.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// How mesh geometry becomes colliders (default: convex hulls).
    pub mesh_collision: MeshCollision,
    /// Whether links of the same robot collide with each other (default false: URDF meshes
    /// of neighbouring links usually overlap).
    pub self_collision: bool,
    /// Mass given to massless links that are not the root (virtual frames such as the
    /// dVRK's jaw link) and to links whose mass computed from geometry is below it, so that
    /// the multibody mass matrix stays well conditioned (kg, default 1e-3). Masses written in
    /// the URDF are never changed.
    pub min_link_mass: f64,
    /// Principal inertia given to such links (kg·m², default 1e-6).
    pub min_link_inertia: f64,
    /// Reflected rotor inertia added to every joint coordinate (kg·m² or kg, default 0).
    pub armature: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            mesh_collision: MeshCollision::ConvexHull,
            self_collision: false,
            min_link_mass: 1e-3,
            min_link_inertia: 1e-6,
            armature: 0.0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct PendingWrench {
    link: LinkId,
    force: Vector3<f64>,
    torque: Vector3<f64>,
    point: Option<Vector3<f64>>,
}

#[derive(Clone, Debug)]
struct Instance {
    model: Arc<RobotModel>,
    namespace: String,
    floating_base: bool,
    bodies: Vec<RigidBodyHandle>,
    control: RobotControl,
    applied: Vec<f64>,
    /// Gravity compensation + feed-forward applied per full coordinate in the last step.
    extra: Vec<f64>,
    /// Motor `(target, target velocity, kp, kd)` per `q` entry in the last step, with gravity
    /// compensation and feed-forward folded into the targets.
    motor_targets: Vec<Option<(f64, f64, f64, f64)>>,
    pending: Vec<PendingWrench>,
    armature: f64,
}

/// A physics world holding robots (and anything else the caller puts in
/// [`RobotWorld::physics`]).
///
/// Serial and tree-shaped robots become rapier **multibodies** (reduced coordinates), so
/// their joints cannot drift apart; no impulse joints are used. Mimic joints are separate
/// multibody coordinates tied to their leader by rapier's holonomic DoF couplings
/// (`q_mimic = multiplier * q_leader + offset`, with drift correction), which is how a closed
/// parallelogram such as the dVRK's moves. URDF `<dynamics>` damping and friction become the
/// multibody's per-coordinate viscous damping and dry friction.
///
/// One call to [`RobotWorld::step`] applies every robot's [`RobotControl`], its gravity
/// compensation and the wrenches queued with [`RobotWorld::apply_wrench`], advances rapier by
/// one time step and records the applied torques.
pub struct RobotWorld {
    /// The rapier world (bodies, colliders, joints, integration parameters, gravity).
    pub physics: PhysicsWorld,
    robots: Vec<Instance>,
}

impl Default for RobotWorld {
    fn default() -> Self {
        Self::new()
    }
}

/// A copy that steps on with the same bits as the original (a snapshot of the world: bodies,
/// colliders, joints with their multibody state, islands, broad and narrow phase with their
/// contact impulses, the robots' controls and queued wrenches). rapier's pipelines are only
/// workspace (its docs: "not part of a snapshot") and start afresh; `PhysicsWorld` itself
/// is not `Clone` because of them, hence this impl by hand.
impl Clone for RobotWorld {
    fn clone(&self) -> Self {
        let p = &self.physics;
        Self {
            physics: PhysicsWorld {
                gravity: p.gravity,
                integration_parameters: p.integration_parameters,
                physics_pipeline: Default::default(),
                collision_pipeline: Default::default(),
                islands: p.islands.clone(),
                broad_phase: p.broad_phase.clone(),
                narrow_phase: p.narrow_phase.clone(),
                bodies: p.bodies.clone(),
                colliders: p.colliders.clone(),
                impulse_joints: p.impulse_joints.clone(),
                multibody_joints: p.multibody_joints.clone(),
                soft_bodies: p.soft_bodies.clone(),
                ccd_solver: p.ccd_solver.clone(),
            },
            robots: self.robots.clone(),
        }
    }
}

impl std::fmt::Debug for RobotWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RobotWorld")
            .field(
                "robots",
                &self.robots.iter().map(|r| &r.namespace).collect::<Vec<_>>(),
            )
            .field("dt", &self.physics.integration_parameters.dt)
            .finish()
    }
}

fn axis_of(kind: JointKind) -> JointAxis {
    match kind {
        JointKind::Prismatic => JointAxis::LinX,
        _ => JointAxis::AngX,
    }
}

impl RobotWorld {
    /// An empty world with gravity `(0, 0, -9.81)`, a 2 ms time step and 12 velocity-solver
    /// iterations (rapier's default of 4 leaves the coupled joint-motor constraints of a
    /// multibody visibly unconverged: millirad tracking errors and slow velocity motors).
    pub fn new() -> Self {
        let mut physics = PhysicsWorld::new();
        physics.gravity = Vector::new(0.0, 0.0, -9.81);
        physics.integration_parameters.dt = 0.002;
        physics.integration_parameters.num_solver_iterations = 12;
        RobotWorld {
            physics,
            robots: Vec::new(),
        }
    }

    /// Gravity (m/s²).
    pub fn gravity(&self) -> Vector3<f64> {
        from_vec(self.physics.gravity)
    }

    /// Sets gravity (m/s²).
    pub fn set_gravity(&mut self, g: Vector3<f64>) {
        self.physics.gravity = to_vec(&g);
    }

    /// Time step (s).
    pub fn timestep(&self) -> f64 {
        self.physics.integration_parameters.dt as f64
    }

    /// Sets the time step (s).
    pub fn set_timestep(&mut self, dt: f64) -> Result<()> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(RobotError::InvalidArgument(format!(
                "time step must be positive (got {dt})"
            )));
        }
        self.physics.integration_parameters.dt = dt as f32;
        Ok(())
    }

    /// Number of robots.
    pub fn robot_count(&self) -> usize {
        self.robots.len()
    }

    fn inst(&self, id: RobotId) -> Result<&Instance> {
        self.robots.get(id.0).ok_or(RobotError::UnknownRobot(id.0))
    }

    fn inst_mut(&mut self, id: RobotId) -> Result<&mut Instance> {
        self.robots
            .get_mut(id.0)
            .ok_or(RobotError::UnknownRobot(id.0))
    }

    /// Adds a robot. Its model is copied with its base pose set to the placement's pose.
    /// The robot gets a namespace (its `<robot name>`, or `name_2`, `name_3`... when taken)
    /// used by [`RobotWorld::scoped_joint_names`] and [`RobotWorld::find_joint`], so two
    /// robots with the same joint names stay distinguishable.
    pub fn add_robot(
        &mut self,
        model: &RobotModel,
        placement: BasePlacement,
        options: &SimOptions,
    ) -> Result<RobotId> {
        let pose = placement.pose();
        if !(pose.translation.vector.iter().all(|v| v.is_finite())
            && pose.rotation.coords.iter().all(|v| v.is_finite()))
        {
            return Err(RobotError::InvalidArgument(
                "base pose is not finite".into(),
            ));
        }
        let model = Arc::new(model.clone().with_base_pose(pose));
        let q0 = model.neutral_configuration();
        let zero = vec![0.0; model.ndof()];
        let poses = model.link_poses(&zero)?;
        let _ = q0;

        // Bodies and colliders.
        let mut bodies = Vec::with_capacity(model.links().len());
        for (l, link) in model.link_ids().zip(model.links()) {
            let is_root = l == model.root();
            let builder = if is_root && matches!(placement, BasePlacement::Fixed(_)) {
                RigidBodyBuilder::fixed()
            } else {
                RigidBodyBuilder::dynamic()
            };
            let inertial = link.inertial;
            // Masses guessed from geometry below the minimum (tiny visual parts) are raised
            // like massless links; masses written in the URDF are kept.
            let keep = inertial.mass > 0.0
                && (inertial.source == InertialSource::Urdf
                    || inertial.mass >= options.min_link_mass);
            let (mass, com, inertia) = if keep {
                (inertial.mass, inertial.com, inertial.inertia)
            } else if !is_root || matches!(placement, BasePlacement::Floating(_)) {
                (
                    options.min_link_mass,
                    Vector3::zeros(),
                    rapier3d::na::Matrix3::identity() * options.min_link_inertia,
                )
            } else {
                (0.0, Vector3::zeros(), rapier3d::na::Matrix3::zeros())
            };
            let m3 = Mat3::from_cols(
                to_vec(&inertia.column(0).into_owned()),
                to_vec(&inertia.column(1).into_owned()),
                to_vec(&inertia.column(2).into_owned()),
            );
            let mprops = MassProperties::with_inertia_matrix(to_vec(&com), mass as f32, m3);
            let body = builder
                .pose(to_pose(&poses[l]))
                .additional_mass_properties(mprops)
                .can_sleep(false)
                .build();
            let handle = self.physics.bodies.insert(body);
            for shape in &link.collisions {
                if let Some((s, extra)) = parry_shape(&shape.geometry, options.mesh_collision) {
                    let collider = ColliderBuilder::new(s)
                        .position(to_pose(&(shape.origin * extra)))
                        .density(0.0)
                        .build();
                    self.physics.colliders.insert_with_parent(
                        collider,
                        handle,
                        &mut self.physics.bodies,
                    );
                }
            }
            bodies.push(handle);
        }

        // Multibody joints, parents first.
        for &j in model.joint_order() {
            let joint = &model.joints()[j];
            let align = fk_motion_align(joint);
            let frame1 = joint.origin * align;
            let mask = match joint.kind {
                JointKind::Revolute | JointKind::Continuous => JointAxesMask::LOCKED_REVOLUTE_AXES,
                JointKind::Prismatic => JointAxesMask::LOCKED_PRISMATIC_AXES,
                JointKind::Fixed => JointAxesMask::LOCKED_FIXED_AXES,
                JointKind::Floating => JointAxesMask::empty(),
            };
            let mut data: GenericJoint = GenericJointBuilder::new(mask)
                .local_frame1(to_pose(&frame1))
                .local_frame2(to_pose(&align))
                .contacts_enabled(false)
                .build();
            if matches!(joint.kind, JointKind::Revolute | JointKind::Prismatic)
                && joint.limits.has_position_limits()
            {
                data.set_limits(
                    axis_of(joint.kind),
                    [joint.limits.lower as f32, joint.limits.upper as f32],
                );
            }
            let inserted = self.physics.multibody_joints.insert(
                bodies[joint.parent],
                bodies[joint.child],
                data,
                true,
            );
            if inserted.is_none() {
                return Err(RobotError::Physics {
                    robot: model.name.clone(),
                    joint: joint.name.clone(),
                    reason: "rapier refused the multibody joint (link already attached?)".into(),
                });
            }
        }

        // Mimic couplings.
        for joint in model.joints() {
            let Some(m) = &joint.mimic else { continue };
            let leader = &model.joints()[m.root_leader];
            let (Some(l1), Some(l2)) = (
                self.link_id_of(bodies[leader.child]),
                self.link_id_of(bodies[joint.child]),
            ) else {
                continue;
            };
            if let Some(mb) = self
                .physics
                .multibody_joints
                .get_multibody_mut(l1.multibody)
            {
                mb.add_dof_coupling(rapier3d::prelude::MultibodyDofCoupling {
                    link1: l1.id,
                    dof1: 0,
                    axis1: axis_of(leader.kind) as usize,
                    link2: l2.id,
                    dof2: 0,
                    axis2: axis_of(joint.kind) as usize,
                    coeff: m.root_multiplier as f32,
                    offset: m.root_offset as f32,
                });
            }
        }
        if let Some(root) = self.link_id_of(bodies[model.root()]) {
            if let Some(mb) = self
                .physics
                .multibody_joints
                .get_multibody_mut(root.multibody)
            {
                mb.set_self_contacts_enabled(options.self_collision);
            }
        }

        let mut namespace = model.name.clone();
        let mut k = 2;
        while self.robots.iter().any(|r| r.namespace == namespace) {
            namespace = format!("{}_{k}", model.name);
            k += 1;
        }
        let n = model.ndof();
        let nc = model.ncoords();
        self.robots.push(Instance {
            control: RobotControl::new(&model),
            applied: vec![0.0; n],
            extra: vec![0.0; nc],
            motor_targets: vec![None; n],
            model,
            namespace,
            floating_base: matches!(placement, BasePlacement::Floating(_)),
            bodies,
            pending: Vec::new(),
            armature: options.armature,
        });
        let id = RobotId(self.robots.len() - 1);
        self.sync_joint_parameters(id);
        Ok(id)
    }

    fn link_id_of(&self, body: RigidBodyHandle) -> Option<MultibodyLinkId> {
        self.physics.multibody_joints.rigid_body_link(body).copied()
    }

    /// The model of a robot (with its base pose set to the placement).
    pub fn model(&self, id: RobotId) -> Result<&RobotModel> {
        Ok(&self.inst(id)?.model)
    }

    /// The namespace of a robot.
    pub fn namespace(&self, id: RobotId) -> Result<&str> {
        Ok(&self.inst(id)?.namespace)
    }

    /// Joint names prefixed with the robot's namespace (`namespace/joint`), indexed by joint id.
    pub fn scoped_joint_names(&self, id: RobotId) -> Result<Vec<String>> {
        let inst = self.inst(id)?;
        Ok(inst
            .model
            .joints()
            .iter()
            .map(|j| format!("{}/{}", inst.namespace, j.name))
            .collect())
    }

    /// Finds a joint from its scoped name (`namespace/joint`).
    pub fn find_joint(&self, scoped: &str) -> Option<(RobotId, JointId)> {
        let (ns, name) = scoped.split_once('/')?;
        let (i, inst) = self
            .robots
            .iter()
            .enumerate()
            .find(|(_, r)| r.namespace == ns)?;
        inst.model.joint_id(name).ok().map(|j| (RobotId(i), j))
    }

    /// The rapier body of a link (to attach sensors, query contacts...).
    pub fn link_body(&self, id: RobotId, link: LinkId) -> Result<RigidBodyHandle> {
        let inst = self.inst(id)?;
        inst.bodies.get(link.index()).copied().ok_or_else(|| {
            RobotError::InvalidArgument(format!(
                "link id {link} out of range for robot '{}'",
                inst.namespace
            ))
        })
    }

    /// The control inputs of a robot.
    pub fn control(&self, id: RobotId) -> Result<&RobotControl> {
        Ok(&self.inst(id)?.control)
    }

    /// Mutable control inputs of a robot; they act from the next [`RobotWorld::step`] on.
    pub fn control_mut(&mut self, id: RobotId) -> Result<&mut RobotControl> {
        Ok(&mut self.inst_mut(id)?.control)
    }

    /// Queues a wrench on a link for the next step only: `force` (N) at the link's centre of
    /// mass and `torque` (N·m), both in world axes. Call it every frame for a lasting load
    /// (this is how the tissue's reaction is fed back).
    pub fn apply_wrench(
        &mut self,
        id: RobotId,
        link: LinkId,
        force: Vector3<f64>,
        torque: Vector3<f64>,
    ) -> Result<()> {
        self.queue(id, link, force, torque, None)
    }

    /// Queues a force (N, world axes) applied at a world point on a link, plus a torque, for
    /// the next step only.
    pub fn apply_force_at_point(
        &mut self,
        id: RobotId,
        link: LinkId,
        force: Vector3<f64>,
        point: Vector3<f64>,
        torque: Vector3<f64>,
    ) -> Result<()> {
        self.queue(id, link, force, torque, Some(point))
    }

    fn queue(
        &mut self,
        id: RobotId,
        link: LinkId,
        force: Vector3<f64>,
        torque: Vector3<f64>,
        point: Option<Vector3<f64>>,
    ) -> Result<()> {
        let finite = force.iter().chain(torque.iter()).all(|v| v.is_finite())
            && point.is_none_or(|p| p.iter().all(|v| v.is_finite()));
        if !finite {
            return Err(RobotError::InvalidArgument("wrench is not finite".into()));
        }
        let inst = self.inst_mut(id)?;
        if link.index() >= inst.model.links().len() {
            return Err(RobotError::InvalidArgument(format!(
                "link id {link} out of range for robot '{}'",
                inst.namespace
            )));
        }
        inst.pending.push(PendingWrench {
            link,
            force,
            torque,
            point,
        });
        Ok(())
    }

    /// Reads full coordinates and velocities from rapier.
    fn read_full(&self, inst: &Instance) -> (Vec<f64>, Vec<f64>) {
        let model = &inst.model;
        let mut q = vec![0.0; model.ncoords()];
        let mut v = vec![0.0; model.ncoords()];
        for joint in model.joints() {
            if !joint.is_movable() {
                continue;
            }
            let Some(lid) = self.link_id_of(inst.bodies[joint.child]) else {
                continue;
            };
            let Some(mb) = self.physics.multibody_joints.get_multibody(lid.multibody) else {
                continue;
            };
            let Some(link) = mb.link(lid.id) else {
                continue;
            };
            let coords = link.joint.coords();
            let vel = mb.joint_velocity(link);
            let o = joint.coord_offset;
            match joint.kind {
                JointKind::Revolute | JointKind::Continuous => {
                    q[o] = coords[3] as f64;
                    v[o] = vel.iter().next().copied().unwrap_or(0.0) as f64;
                }
                JointKind::Prismatic => {
                    q[o] = coords[0] as f64;
                    v[o] = vel.iter().next().copied().unwrap_or(0.0) as f64;
                }
                JointKind::Floating => {
                    let r = link.joint.joint_rot().to_scaled_axis();
                    let vals = [coords[0], coords[1], coords[2], r.x, r.y, r.z];
                    for c in 0..6 {
                        q[o + c] = vals[c] as f64;
                        v[o + c] = vel.get(c).copied().unwrap_or(0.0) as f64;
                    }
                }
                JointKind::Fixed => {}
            }
        }
        (q, v)
    }

    /// Writes URDF damping/friction and the armature into the multibody's per-coordinate
    /// vectors (they are indexed by assembly id, which changes with the root type).
    fn sync_joint_parameters(&mut self, id: RobotId) {
        let inst = &self.robots[id.0];
        for joint in inst.model.joints() {
            if !joint.is_movable() {
                continue;
            }
            let Some(lid) = self
                .physics
                .multibody_joints
                .rigid_body_link(inst.bodies[joint.child])
                .copied()
            else {
                continue;
            };
            let Some(mb) = self
                .physics
                .multibody_joints
                .get_multibody_mut(lid.multibody)
            else {
                continue;
            };
            let Some(link) = mb.link(lid.id) else {
                continue;
            };
            let start = link.assembly_id();
            let n = link.joint.ndofs();
            for d in start..start + n {
                if d < mb.damping().len() {
                    mb.damping_mut()[d] = joint.dynamics.damping as f32;
                    mb.frictions_mut()[d] = joint.dynamics.friction as f32;
                    mb.armature_mut()[d] = inst.armature as f32;
                }
            }
        }
    }

    /// Teleports a robot to configuration `q` (mimic joints follow) with zero velocity.
    pub fn set_configuration(&mut self, id: RobotId, q: &[f64]) -> Result<()> {
        let inst = self.inst(id)?;
        let full = inst.model.full_coordinates(q)?;
        let (current, _) = self.read_full(inst);
        let model = inst.model.clone();
        let bodies = inst.bodies.clone();
        let mut touched = Vec::new();
        for joint in model.joints() {
            if !joint.is_movable() {
                continue;
            }
            let Some(lid) = self.link_id_of(bodies[joint.child]) else {
                continue;
            };
            let o = joint.coord_offset;
            let Some(mb) = self
                .physics
                .multibody_joints
                .get_multibody_mut(lid.multibody)
            else {
                continue;
            };
            let Some(link) = mb.link_mut(lid.id) else {
                continue;
            };
            match joint.kind {
                JointKind::Floating => {
                    let disp: Vec<f32> = (0..6)
                        .map(|c| (full[o + c] - current[o + c]) as f32)
                        .collect();
                    link.joint.apply_displacement(&disp);
                }
                _ => {
                    link.joint
                        .apply_displacement(&[(full[o] - current[o]) as f32]);
                }
            }
            if !touched.contains(&lid.multibody) {
                touched.push(lid.multibody);
            }
        }
        for mbi in touched {
            if let Some(mb) = self.physics.multibody_joints.get_multibody_mut(mbi) {
                mb.generalized_velocity_mut().fill(0.0);
                // Read the root pose from its body: before the first step the multibody does not
                // know it yet, and a placed base would snap back to the origin.
                mb.forward_kinematics(&self.physics.bodies, true);
                mb.update_rigid_bodies(&mut self.physics.bodies, true);
            }
        }
        Ok(())
    }

    /// The state of a robot: configuration, velocities, joint positions (mimic included),
    /// applied torques of the last step and link poses.
    pub fn state(&self, id: RobotId) -> Result<RobotState> {
        let inst = self.inst(id)?;
        let model = &inst.model;
        let (full, vfull) = self.read_full(inst);
        let q: Vec<f64> = model
            .dofs()
            .iter()
            .map(|&(j, c)| full[model.joints()[j].coord_offset + c])
            .collect();
        let qd: Vec<f64> = model
            .dofs()
            .iter()
            .map(|&(j, c)| vfull[model.joints()[j].coord_offset + c])
            .collect();
        let joint_positions = model
            .joints()
            .iter()
            .map(|j| {
                if j.is_movable() {
                    full[j.coord_offset]
                } else {
                    0.0
                }
            })
            .collect();
        let link_poses = inst
            .bodies
            .iter()
            .map(|h| from_pose(self.physics.bodies[*h].position()))
            .collect();
        // Link twists from the joint state (consistent with `q`, `qd`), plus the motion of a
        // floating base.
        let root_body = &self.physics.bodies[inst.bodies[model.root()]];
        let (root_v, root_w) = if inst.floating_base {
            let w = from_vec(root_body.angvel());
            let com = from_vec(root_body.center_of_mass());
            let origin = from_vec(root_body.position().translation);
            (from_vec(root_body.linvel()) + w.cross(&(origin - com)), w)
        } else {
            (Vector3::zeros(), Vector3::zeros())
        };
        let root_pose = from_pose(root_body.position());
        let kin = if inst.floating_base {
            std::borrow::Cow::Owned((**model).clone().with_base_pose(root_pose))
        } else {
            std::borrow::Cow::Borrowed(&**model)
        };
        let vvec = rapier3d::na::DVector::from_column_slice(&vfull);
        let link_velocities = model
            .link_ids()
            .map(|l| {
                let jac = kin.jacobian_full(&full, l, &Vector3::zeros());
                let tw = jac * &vvec;
                let p = kin.pose_from_full(&full, l).translation.vector;
                let v = root_v + root_w.cross(&(p - root_pose.translation.vector));
                (
                    tw.fixed_rows::<3>(0).into_owned() + v,
                    tw.fixed_rows::<3>(3).into_owned() + root_w,
                )
            })
            .collect();
        Ok(RobotState {
            q,
            qd,
            joint_positions,
            applied_torques: inst.applied.clone(),
            link_poses,
            link_velocities,
        })
    }

    /// Advances the world by one time step (see the type's documentation).
    pub fn step(&mut self) {
        let gravity = self.gravity();
        for r in 0..self.robots.len() {
            self.sync_joint_parameters(RobotId(r));
            self.prepare_robot(r, &gravity);
        }
        self.physics.step();
        for r in 0..self.robots.len() {
            self.finish_robot(r);
        }
    }

    fn prepare_robot(&mut self, r: usize, gravity: &Vector3<f64>) {
        let (full, _) = self.read_full(&self.robots[r]);
        let inst = &self.robots[r];
        let model = inst.model.clone();
        let bodies = inst.bodies.clone();
        // Reset the forces we own.
        for h in &bodies {
            if let Some(b) = self.physics.bodies.get_mut(*h) {
                b.reset_forces(false);
                b.reset_torques(false);
            }
        }
        // Gravity compensation and feed-forward, per full coordinate.
        let mut extra = if inst.control.gravity_compensation {
            let base = if inst.floating_base {
                from_pose(self.physics.bodies[bodies[model.root()]].position())
            } else {
                model.base_pose()
            };
            let m = (*model).clone().with_base_pose(base);
            m.gravity_compensation_full(&full, gravity)
                .as_slice()
                .to_vec()
        } else {
            vec![0.0; model.ncoords()]
        };
        for (i, &(j, c)) in model.dofs().iter().enumerate() {
            extra[model.joints()[j].coord_offset + c] +=
                inst.control.feedforward.get(i).copied().unwrap_or(0.0);
        }
        for joint in model.joints() {
            if joint.kind.ncoords() == 1 {
                let e = joint.limits.effort;
                let o = joint.coord_offset;
                extra[o] = extra[o].max(-e).min(e);
            }
        }
        // Motors.
        let control = inst.control.clone();
        let mut motor_targets = vec![None; model.ndof()];
        for (i, &(j, _)) in model.dofs().iter().enumerate() {
            let joint = &model.joints()[j];
            if joint.kind.ncoords() != 1 {
                continue;
            }
            let Some(lid) = self.link_id_of(bodies[joint.child]) else {
                continue;
            };
            let Some(mb) = self
                .physics
                .multibody_joints
                .get_multibody_mut(lid.multibody)
            else {
                continue;
            };
            let Some(link) = mb.link_mut(lid.id) else {
                continue;
            };
            let axis = axis_of(joint.kind);
            let o = joint.coord_offset;
            let effort = joint.limits.effort.min(f32::MAX as f64) as f32;
            let data = &mut link.joint.data;
            // Gravity compensation and feed-forward are folded into the motor (a shifted
            // target), so that motor + extra is clamped to the effort limit as a whole.
            let vmax = joint.limits.velocity;
            // Velocity targets are clamped to the URDF velocity limit.
            let command = match control.motors.get(i).copied().unwrap_or(MotorCommand::Off) {
                MotorCommand::Position {
                    target,
                    target_velocity,
                    gains,
                } => MotorCommand::Position {
                    target,
                    target_velocity: target_velocity.max(-vmax).min(vmax),
                    gains,
                },
                MotorCommand::Velocity { target, damping } => MotorCommand::Velocity {
                    target: target.max(-vmax).min(vmax),
                    damping,
                },
                MotorCommand::Off => MotorCommand::Off,
            };
            let shifted = match command {
                MotorCommand::Off => None,
                MotorCommand::Position {
                    target,
                    target_velocity,
                    gains,
                } => {
                    if gains.stiffness > 0.0 {
                        Some((
                            target + extra[o] / gains.stiffness,
                            target_velocity,
                            gains.stiffness,
                            gains.damping,
                        ))
                    } else if gains.damping > 0.0 {
                        Some((
                            target,
                            target_velocity + extra[o] / gains.damping,
                            0.0,
                            gains.damping,
                        ))
                    } else {
                        None
                    }
                }
                MotorCommand::Velocity { target, damping } => {
                    (damping > 0.0).then(|| (0.0, target + extra[o] / damping, 0.0, damping))
                }
            };
            match shifted {
                None => {
                    data.motor_axes.remove(axis.into());
                    motor_targets[i] = None;
                }
                Some((tq, tv, kp, kd)) => {
                    data.set_motor(axis, tq as f32, tv as f32, kp as f32, kd as f32);
                    data.set_motor_model(axis, MotorModel::ForceBased);
                    data.set_motor_max_force(axis, effort);
                    motor_targets[i] = Some((tq, tv, kp, kd));
                    // The motor carries this coordinate's extra torque.
                    extra[o] = 0.0;
                }
            }
        }
        // Joint torques as equal and opposite body loads.
        for joint in model.joints() {
            if joint.kind.ncoords() != 1 {
                continue;
            }
            let tau = extra[joint.coord_offset];
            if tau == 0.0 {
                continue;
            }
            let child_pose = from_pose(self.physics.bodies[bodies[joint.child]].position());
            let a = child_pose.rotation * joint.axis.into_inner();
            match joint.kind {
                JointKind::Prismatic => {
                    let point = self.physics.bodies[bodies[joint.child]].center_of_mass();
                    let f = to_vec(&(a * tau));
                    self.physics.bodies[bodies[joint.child]].add_force(f, false);
                    self.physics.bodies[bodies[joint.parent]].add_force_at_point(-f, point, false);
                }
                _ => {
                    let t = to_vec(&(a * tau));
                    self.physics.bodies[bodies[joint.child]].add_torque(t, false);
                    self.physics.bodies[bodies[joint.parent]].add_torque(-t, false);
                }
            }
        }
        // External wrenches.
        let pending = std::mem::take(&mut self.robots[r].pending);
        for w in pending {
            let b = &mut self.physics.bodies[bodies[w.link]];
            match w.point {
                Some(p) => b.add_force_at_point(to_vec(&w.force), to_vec(&p), false),
                None => b.add_force(to_vec(&w.force), false),
            }
            b.add_torque(to_vec(&w.torque), false);
        }
        let inst = &mut self.robots[r];
        inst.extra = extra;
        inst.motor_targets = motor_targets;
    }

    fn finish_robot(&mut self, r: usize) {
        let (full, vfull) = self.read_full(&self.robots[r]);
        let inst = &mut self.robots[r];
        let model = &inst.model;
        for (i, &(j, c)) in model.dofs().iter().enumerate() {
            let joint = &model.joints()[j];
            let o = joint.coord_offset + c;
            inst.applied[i] = match inst.motor_targets[i] {
                // Implicit spring-damper: its force is evaluated at the end of the step.
                Some((tq, tv, kp, kd)) => {
                    let e = joint.limits.effort;
                    (kp * (tq - full[o]) + kd * (tv - vfull[o])).max(-e).min(e)
                }
                None => inst.extra[o],
            };
        }
    }
}
