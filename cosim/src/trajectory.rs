//! Trajectories in code: the scene's robot with typed joint and link handles, a builder of
//! timed waypoints checked when it is built, and the joint-space spline the controller
//! follows.
//!
//! ```no_run
//! use vesalius_cosim::{CoSimScene, SceneRobot};
//! let scene = CoSimScene::load("scenes/phlebotomy.toml".as_ref())?;
//! let robot = SceneRobot::load(&scene)?;
//! let tip = robot.link("needle_tip")?;          // checked here, once
//! let insertion = robot.joint("insertion")?;
//! let trajectory = robot
//!     .trajectory()
//!     .pose(0.0, tip, [0.01016, 0.0, 0.00078], Some([0.0, 0.4014, 0.0]))
//!     .hold(0.3)
//!     .move_by(2.9, &[(insertion, 0.0194)])
//!     .build()?;                                 // IK, joint and velocity limits
//! let report = vesalius_cosim::predict(&scene, Some(&trajectory), &Default::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The scene file's `[[trajectory]]` waypoints go through the same builder
//! ([`SceneRobot::trajectory_from_specs`]), so a script and a scene file get the same
//! spline for the same waypoints.

use crate::scene::{CoSimError, CoSimScene, WaypointSpec};
use std::sync::Arc;
use vesalius_robot::control::LimitKind;
use vesalius_robot::prelude::*;

/// Straight Cartesian segments are followed by IK points this far apart (m) ...
const CARTESIAN_STEP_M: f64 = 0.002;
/// ... or this far apart in orientation (degrees), whichever is denser.
const CARTESIAN_STEP_DEG: f64 = 2.0;
/// At most this many IK points on one straight segment.
const MAX_SEGMENT_POINTS: usize = 500;
/// Evenly spaced samples (besides the waypoints) at which joint limits are checked.
const LIMIT_SAMPLES: usize = 200;

/// A movable joint of the scene's robot, found by name once ([`SceneRobot::joint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JointHandle(usize);

impl JointHandle {
    /// Index among the robot's movable degrees of freedom.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A link of the scene's robot, found by name once ([`SceneRobot::link`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkHandle(LinkId);

/// What is wrong with a trajectory, naming the waypoint.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrajectoryError {
    /// No joint or link of that name.
    #[error("no {what} {name:?} in robot {robot} (there are: {known})")]
    UnknownName {
        /// "joint" or "link".
        what: &'static str,
        /// The name asked for.
        name: String,
        /// The robot.
        robot: String,
        /// The names there are.
        known: String,
    },
    /// A waypoint itself is wrong (time, values, unreachable target).
    #[error("waypoint {index} (t = {time} s): {message}")]
    Waypoint {
        /// Its index in the trajectory.
        index: usize,
        /// Its time (s).
        time: f64,
        /// What is wrong.
        message: String,
    },
    /// The spline between two waypoints breaks a joint limit.
    #[error("between waypoint {from} and {to}: {message}")]
    Limit {
        /// The waypoint before the violation.
        from: usize,
        /// The waypoint after it.
        to: usize,
        /// Which limit, where and by how much.
        message: String,
    },
    /// No waypoints.
    #[error("the trajectory has no waypoints")]
    Empty,
}

/// One timed waypoint.
#[derive(Clone, Debug, PartialEq)]
enum Waypoint {
    /// Joint positions set and moved; the others keep the previous waypoint's.
    Joints {
        t: f64,
        set: Vec<(JointHandle, f64)>,
        delta: Vec<(JointHandle, f64)>,
    },
    /// A link's pose (orientation optional: position-only IK without it).
    Cartesian {
        t: f64,
        link: LinkHandle,
        xyz: [f64; 3],
        rpy: Option<[f64; 3]>,
    },
}

impl Waypoint {
    fn time(&self) -> f64 {
        match self {
            Self::Joints { t, .. } | Self::Cartesian { t, .. } => *t,
        }
    }
}

/// The scene's robot as a trajectory sees it: its model on its base, its starting
/// configuration and its names.
#[derive(Clone, Debug)]
pub struct SceneRobot {
    model: Arc<RobotModel>,
    q0: Vec<f64>,
}

impl SceneRobot {
    /// Loads the scene's URDF, places it on the scene's base and sets `robot.initial`.
    pub fn load(scene: &CoSimScene) -> Result<Self, CoSimError> {
        let f = &scene.file;
        let urdf = scene.resolve(&f.robot.urdf);
        let loaded = load_file(&urdf, &LoadOptions::default())?;
        let base = vesalius_robot::math::urdf_pose(f.robot.base.xyz, f.robot.base.rpy);
        let model = Arc::new(loaded.with_base_pose(base));
        let mut robot = Self {
            q0: model.neutral_configuration(),
            model,
        };
        for (name, v) in &f.robot.initial {
            let j = robot
                .joint(name)
                .map_err(|e| scene.invalid(format!("robot.initial: {e}")))?;
            if !v.is_finite() {
                return Err(scene.invalid(format!("robot.initial.{name}: {v} is not finite")));
            }
            robot.q0[j.0] = *v;
        }
        Ok(robot)
    }

    /// The robot model (on its base).
    pub fn model(&self) -> &Arc<RobotModel> {
        &self.model
    }

    /// The starting configuration (`robot.initial`, others neutral).
    pub fn initial_configuration(&self) -> &[f64] {
        &self.q0
    }

    /// A movable joint by name.
    pub fn joint(&self, name: &str) -> Result<JointHandle, TrajectoryError> {
        let names = self.model.dof_names();
        names
            .iter()
            .position(|n| n == name)
            .map(JointHandle)
            .ok_or_else(|| TrajectoryError::UnknownName {
                what: "joint",
                name: name.into(),
                robot: self.model.name.clone(),
                known: names.join(", "),
            })
    }

    /// A link by name.
    pub fn link(&self, name: &str) -> Result<LinkHandle, TrajectoryError> {
        self.model
            .link_id(name)
            .map(LinkHandle)
            .map_err(|_| TrajectoryError::UnknownName {
                what: "link",
                name: name.into(),
                robot: self.model.name.clone(),
                known: self
                    .model
                    .links()
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// A new, empty trajectory of this robot.
    pub fn trajectory(&self) -> TrajectoryBuilder<'_> {
        TrajectoryBuilder {
            robot: self,
            waypoints: Vec::new(),
            error: None,
        }
    }

    /// The scene file's waypoints as a trajectory (`Ok(None)` for none). Errors name the
    /// waypoint as `trajectory[k]`.
    pub fn trajectory_from_specs(
        &self,
        specs: &[WaypointSpec],
    ) -> Result<Option<Trajectory>, TrajectoryError> {
        if specs.is_empty() {
            return Ok(None);
        }
        let mut b = self.trajectory();
        for (k, w) in specs.iter().enumerate() {
            let wp_err = |message: String| TrajectoryError::Waypoint {
                index: k,
                time: w.t,
                message,
            };
            let handles = |m: &std::collections::BTreeMap<String, f64>, key: &str| {
                m.iter()
                    .map(|(n, v)| {
                        self.joint(n)
                            .map(|j| (j, *v))
                            .map_err(|e| wp_err(format!("{key}: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            let set = handles(&w.joints, "joints")?;
            let delta = handles(&w.joints_delta, "joints_delta")?;
            match (&w.link, &w.xyz) {
                (Some(link), Some(xyz)) => {
                    if !set.is_empty() || !delta.is_empty() {
                        return Err(wp_err(
                            "a waypoint is either joints or a Cartesian target (link, xyz), not both"
                                .into(),
                        ));
                    }
                    let l = self.link(link).map_err(|e| wp_err(format!("link: {e}")))?;
                    b = b.pose(w.t, l, *xyz, w.rpy);
                }
                (None, None) => {
                    if w.rpy.is_some() {
                        return Err(wp_err("`rpy` needs `link` and `xyz`".into()));
                    }
                    b = b.joints(w.t, &set).move_by_at_same_waypoint(&delta);
                }
                _ => {
                    return Err(wp_err(
                        "a Cartesian waypoint needs both `link` and `xyz`".into(),
                    ))
                }
            }
        }
        b.build().map(Some)
    }
}

/// Timed waypoints of one robot, checked by [`TrajectoryBuilder::build`]: times finite and
/// increasing, values finite, Cartesian targets reachable (IK), and the spline through them
/// inside every joint's position and velocity limits.
#[derive(Clone, Debug)]
pub struct TrajectoryBuilder<'a> {
    robot: &'a SceneRobot,
    waypoints: Vec<Waypoint>,
    error: Option<TrajectoryError>,
}

impl TrajectoryBuilder<'_> {
    /// At time `t` (s), these joints go to these positions (m or rad); the others keep the
    /// previous waypoint's.
    pub fn joints(mut self, t: f64, set: &[(JointHandle, f64)]) -> Self {
        self.waypoints.push(Waypoint::Joints {
            t,
            set: set.to_vec(),
            delta: Vec::new(),
        });
        self
    }

    /// At time `t`, these joints move by these amounts from the previous waypoint (e.g. an
    /// insertion stroke after a Cartesian approach pose).
    pub fn move_by(mut self, t: f64, delta: &[(JointHandle, f64)]) -> Self {
        self.waypoints.push(Waypoint::Joints {
            t,
            set: Vec::new(),
            delta: delta.to_vec(),
        });
        self
    }

    /// Adds joint motions to the last waypoint (which must be a joint waypoint).
    fn move_by_at_same_waypoint(mut self, more: &[(JointHandle, f64)]) -> Self {
        if let Some(Waypoint::Joints { delta, .. }) = self.waypoints.last_mut() {
            delta.extend_from_slice(more);
        }
        self
    }

    /// At time `t` everything holds where the previous waypoint left it.
    pub fn hold(self, t: f64) -> Self {
        let prev = self.waypoints.last().cloned();
        match prev {
            // Repeating a Cartesian target keeps the link on its pose (and its straight-line
            // successor starts there).
            Some(Waypoint::Cartesian { link, xyz, rpy, .. }) => self.pose(t, link, xyz, rpy),
            _ => self.joints(t, &[]),
        }
    }

    /// At time `t` the link is at `xyz` (m, world) with orientation `rpy` (roll, pitch, yaw;
    /// `None`: position only). From a previous pose of the same link the link moves on a
    /// straight line (slerp for the orientation).
    pub fn pose(mut self, t: f64, link: LinkHandle, xyz: [f64; 3], rpy: Option<[f64; 3]>) -> Self {
        self.waypoints
            .push(Waypoint::Cartesian { t, link, xyz, rpy });
        self
    }

    /// Checks the waypoints and builds the joint-space spline.
    pub fn build(self) -> Result<Trajectory, TrajectoryError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.waypoints.is_empty() {
            return Err(TrajectoryError::Empty);
        }
        let model = &*self.robot.model;
        let mut times = Vec::new();
        let mut points = Vec::new();
        // Which waypoint each spline point comes from (IK points on a straight segment
        // belong to the segment's end).
        let mut owner = Vec::new();
        let mut q = self.robot.q0.clone();
        let mut last_cartesian: Option<(LinkId, f64, Isometry3<f64>, bool)> = None;
        let mut prev_t = f64::NEG_INFINITY;
        for (k, w) in self.waypoints.iter().enumerate() {
            let t = w.time();
            let bad = |message: String| TrajectoryError::Waypoint {
                index: k,
                time: t,
                message,
            };
            if !t.is_finite() || t < 0.0 {
                return Err(bad("the time must be finite and >= 0".into()));
            }
            if t <= prev_t {
                return Err(bad(format!(
                    "times must increase (the previous waypoint is at {prev_t} s)"
                )));
            }
            prev_t = t;
            match w {
                Waypoint::Joints { set, delta, .. } => {
                    last_cartesian = None;
                    for (j, v) in set {
                        if !v.is_finite() {
                            return Err(bad(format!("joint {}: {v} is not finite", self.name(*j))));
                        }
                        q[j.0] = *v;
                    }
                    for (j, v) in delta {
                        if !v.is_finite() {
                            return Err(bad(format!("joint {}: {v} is not finite", self.name(*j))));
                        }
                        q[j.0] += *v;
                    }
                }
                Waypoint::Cartesian { link, xyz, rpy, .. } => {
                    if !xyz
                        .iter()
                        .chain(rpy.iter().flatten())
                        .all(|v| v.is_finite())
                    {
                        return Err(bad("the pose is not finite".into()));
                    }
                    let l = link.0;
                    let pose = vesalius_robot::math::urdf_pose(*xyz, rpy.unwrap_or([0.0; 3]));
                    let target_of = |p: &Isometry3<f64>, oriented: bool| {
                        if oriented {
                            IkTarget::Pose(*p)
                        } else {
                            IkTarget::Position(p.translation.vector)
                        }
                    };
                    let link_name = &model.links()[l].name;
                    let ik = |target: &IkTarget, seed: &[f64]| {
                        solve_ik(model, l, target, seed, &IkOptions::default()).map_err(|e| {
                            bad(format!("the target of {link_name} is not reachable: {e}"))
                        })
                    };
                    // From the previous Cartesian waypoint of the same link the link moves
                    // on a straight line: a spline through only the two end configurations
                    // of a redundant arm can sag far off the line (9 mm over a 40 mm slide
                    // of the 7-DOF arm).
                    if let Some((pl, pt, ppose, poriented)) = &last_cartesian {
                        if *pl == l {
                            let oriented = *poriented && rpy.is_some();
                            let dist = (pose.translation.vector - ppose.translation.vector).norm();
                            let angle = ppose.rotation.angle_to(&pose.rotation);
                            let n = ((dist / CARTESIAN_STEP_M)
                                .max(angle / CARTESIAN_STEP_DEG.to_radians())
                                .ceil() as usize)
                                .clamp(1, MAX_SEGMENT_POINTS);
                            for j in 1..n {
                                let s = j as f64 / n as f64;
                                let mid = Isometry3::from_parts(
                                    (ppose.translation.vector.lerp(&pose.translation.vector, s))
                                        .into(),
                                    ppose.rotation.slerp(&pose.rotation, s),
                                );
                                q = ik(&target_of(&mid, oriented), &q)?.q;
                                times.push(pt + (t - pt) * s);
                                points.push(q.clone());
                                owner.push(k);
                            }
                        }
                    }
                    q = ik(&target_of(&pose, rpy.is_some()), &q)?.q;
                    last_cartesian = Some((l, t, pose, rpy.is_some()));
                }
            }
            times.push(t);
            points.push(q.clone());
            owner.push(k);
        }
        if times.len() == 1 {
            times.push(times[0] + 1.0);
            points.push(q);
            owner.push(0);
        }
        let spline =
            JointTrajectory::new(times.clone(), points).map_err(|e| TrajectoryError::Waypoint {
                index: 0,
                time: times[0],
                message: e.to_string(),
            })?;
        let violation = spline.limit_violation(model, LIMIT_SAMPLES).map_err(|e| {
            TrajectoryError::Waypoint {
                index: 0,
                time: times[0],
                message: e.to_string(),
            }
        })?;
        if let Some(v) = violation {
            // The waypoints on either side of the violation.
            let after = times
                .iter()
                .position(|&t| t >= v.time)
                .unwrap_or(times.len() - 1);
            let to = owner[after];
            let from = if after == 0 {
                0
            } else {
                owner[after - 1].min(to)
            };
            let what = match v.kind {
                LimitKind::Position => "position",
                LimitKind::Velocity => "velocity",
            };
            log::debug!("trajectory breaks the {what} limit of {}", v.joint);
            return Err(TrajectoryError::Limit {
                from,
                to,
                message: v.to_string(),
            });
        }
        let waypoints = self.specs();
        Ok(Trajectory { waypoints, spline })
    }

    fn name(&self, j: JointHandle) -> String {
        self.robot.model.dof_names()[j.0].clone()
    }

    /// The waypoints as scene-file waypoints (for writing a `plan.toml`).
    fn specs(&self) -> Vec<WaypointSpec> {
        let names = self.robot.model.dof_names();
        let links = self.robot.model.links();
        self.waypoints
            .iter()
            .map(|w| match w {
                Waypoint::Joints { t, set, delta } => WaypointSpec {
                    t: *t,
                    joints: set.iter().map(|(j, v)| (names[j.0].clone(), *v)).collect(),
                    joints_delta: delta
                        .iter()
                        .map(|(j, v)| (names[j.0].clone(), *v))
                        .collect(),
                    link: None,
                    xyz: None,
                    rpy: None,
                },
                Waypoint::Cartesian { t, link, xyz, rpy } => WaypointSpec {
                    t: *t,
                    joints: Default::default(),
                    joints_delta: Default::default(),
                    link: Some(links[link.0].name.clone()),
                    xyz: Some(*xyz),
                    rpy: *rpy,
                },
            })
            .collect()
    }
}

/// A checked trajectory: its waypoints and the joint-space spline through them.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    waypoints: Vec<WaypointSpec>,
    spline: JointTrajectory,
}

impl Trajectory {
    /// The waypoints, as a scene file writes them (`[[trajectory]]`).
    pub fn waypoints(&self) -> &[WaypointSpec] {
        &self.waypoints
    }

    /// The joint-space spline the controller follows.
    pub fn spline(&self) -> &JointTrajectory {
        &self.spline
    }

    /// Time of the last waypoint (s).
    pub fn end_time(&self) -> f64 {
        self.spline.end_time()
    }
}

impl LinkHandle {
    /// The link's id in the robot model.
    pub fn id(self) -> LinkId {
        self.0
    }
}
