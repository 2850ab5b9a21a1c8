//! The reduced needle-path planning model.
//!
//! What it keeps of the full co-simulation: the anatomy (the scene's own mesh and region
//! tags, at rest), the robot's kinematics (the needle's pose at each waypoint by forward
//! kinematics), the needle's event state machine and descriptions
//! ([`PathTracker`], the simulated needle's), the tip's margins
//! (`MarginProbe`, the same code on the rest positions) and the verdict (the same
//! `Recorder` and criteria). A candidate costs one ray cast per trajectory segment
//! through the mesh's region interfaces: microseconds, where a full rollout costs seconds.
//!
//! What it neglects, and so what its fidelity figures measure (see `vesalius plan
//! --fidelity`): the tissue's deformation (the skin tenting before it gives, the vein
//! pushed and rolled by the shaft, the wall sliding along it), the robot's tracking error
//! under load, and damage. Its force is quasi-static along the axis: the puncture force
//! at a membrane, else the cutting force of the tip's region plus the kinetic shaft friction
//! of every region over the length of shaft inside it (the forces of the scene's
//! `[needle_tissue]`, per metre as the simulated needle uses them).

use std::collections::BTreeMap;
use std::sync::Arc;
use vesalius_engine::mesh::RegionId;

use glam::DVec3;
use vesalius_engine::contact::faces::{locate, FaceSet};
use vesalius_engine::contact::{NeedleReport, NeedleSpec, NeedleState, NeedleTissue, PathTracker};
use vesalius_engine::model::Model;
use vesalius_robot::prelude::{JointTrajectory, LinkId, Point3, RobotModel, Vector3};

use crate::margins::MarginProbe;
use crate::report::{FrameRecord, Recorder, Report};
use crate::scene::{CoSimError, CoSimScene, Coupling, CriteriaSpec};
use crate::trajectory::{SceneRobot, Trajectory};

/// The tissue a rollout walks through: its vertex positions and target points.
#[derive(Clone, Copy)]
struct World<'a> {
    positions: &'a [[f32; 3]],
    targets: &'a [Vec<DVec3>],
}

/// The live world a re-plan starts from ([`NeedlePathModel::rollout_from`]).
#[derive(Clone, Debug)]
pub struct LiveNeedle {
    /// Simulated time (s).
    pub time: f64,
    /// The joint positions the controller is commanded to now.
    pub q: Vec<f64>,
    /// The tissue's vertex positions now (world, m).
    pub positions: Vec<[f32; 3]>,
    /// The target points now (world, m), per `[[target]]`.
    pub targets: Vec<Vec<DVec3>>,
    /// The simulated needle's state (events, tip region, entry).
    pub needle: NeedleState,
    /// The needle's axial force now (N).
    pub axial_force: f64,
}

/// The reduced model of one scene (built once, shared by every candidate).
#[derive(Clone)]
pub struct NeedlePathModel {
    tissue: Arc<Model>,
    faces: Arc<FaceSet>,
    probe: MarginProbe,
    tracker: PathTracker,
    robot: Arc<RobotModel>,
    needle_link: LinkId,
    needle_tip: DVec3,
    needle_axis: DVec3,
    needle_length: f64,
    props: BTreeMap<RegionId, NeedleTissue>,
    targets: Vec<Vec<DVec3>>,
    recorder: Recorder,
    criteria: CriteriaSpec,
    axial_lag: f64,
    /// Where the patient is: world = rest + `offset` (a rigid translation, 0 at rest).
    offset: DVec3,
}

impl NeedlePathModel {
    /// The reduced model of `scene`: its tissue mesh (generated or read once), robot and
    /// needle. The scene must have a needle and no other tools or attachments (those need
    /// the full model).
    pub fn new(scene: &CoSimScene) -> Result<Self, CoSimError> {
        let f = &scene.file;
        let bad = |m: String| scene.invalid(m);
        let Some(needle) = &f.needle else {
            return Err(bad(
                "plan.model = \"needle_path\" needs a [needle]; use model = \"full\"".into(),
            ));
        };
        if !f.tool.is_empty() || !f.attach.is_empty() {
            return Err(bad("plan.model = \"needle_path\" models a needle alone, and this scene has [[tool]] or [[attach]]; use model = \"full\"".into()));
        }
        let built = scene.tissue().build()?;
        let model = built.model;
        let robot = SceneRobot::load(scene)?;
        let needle_link = robot
            .link(&needle.link)
            .map_err(|e| bad(format!("needle.link: {e}")))?
            .id();
        let region_id = |key: &str| -> Result<RegionId, CoSimError> {
            key.parse::<RegionId>()
                .ok()
                .or_else(|| {
                    model
                        .region_names
                        .iter()
                        .find(|(_, n)| n.as_str() == key)
                        .map(|(i, _)| *i)
                })
                .ok_or_else(|| bad(format!("needle_tissue.{key}: no region of that name")))
        };
        let mut props = BTreeMap::new();
        for (key, p) in &f.needle_tissue {
            props.insert(region_id(key)?, *p);
        }
        let goal = match &f.criteria.final_tip_region {
            Some(name) => Some(
                region_id(name)
                    .map_err(|_| bad(format!("criteria.final_tip_region: no region {name:?}")))?,
            ),
            None => None,
        };
        let faces = Arc::new(FaceSet::new(&model));
        let spec = NeedleSpec {
            body: 0,
            tip: DVec3::from_array(needle.tip),
            axis: DVec3::from_array(needle.axis),
            length: needle.length,
            radius: needle.radius,
            track_spacing: needle.track_spacing,
            bevel_length: needle.bevel_length,
        };
        let tracker = PathTracker::new(&model, &spec, &props, faces.clone())
            .map_err(|e| bad(e.to_string()))?;
        let probe = MarginProbe::new(&model, goal);
        let targets = f
            .target
            .iter()
            .map(|t| t.points.iter().map(|p| DVec3::from_array(*p)).collect())
            .collect();
        let recorder = Recorder::new(
            &model,
            vec![needle.link.clone()],
            robot.model().dof_names(),
            f.target.iter().map(|t| t.name.clone()).collect(),
            f.criteria.damage_strain.unwrap_or(0.5),
        );
        Ok(Self {
            tissue: Arc::new(model),
            faces,
            probe,
            tracker,
            robot: robot.model().clone(),
            needle_link,
            needle_tip: spec.tip,
            needle_axis: spec.axis.normalize(),
            needle_length: needle.length,
            props,
            targets,
            recorder,
            criteria: f.criteria.clone(),
            axial_lag: 0.0,
            offset: DVec3::ZERO,
        })
    }

    /// How far the tissue is carried along with the needle (m): the tip ends this much
    /// short of its kinematic end in the tissue's material. Calibrated from a full-model
    /// run ([`crate::plan::Planner::calibrate`]); 0 holds the tissue still.
    pub fn set_axial_lag(&mut self, lag: f64) {
        self.axial_lag = lag;
    }

    /// The calibrated axial lag (m).
    pub fn axial_lag(&self) -> f64 {
        self.axial_lag
    }

    /// The patient has moved rigidly by `offset` from the rest configuration: `rollout`
    /// walks the needle through the rest mesh where it is relative to the tissue.
    pub fn set_registration(&mut self, offset: DVec3) {
        self.offset = offset;
    }

    /// The tissue's region interfaces and boundary (rest configuration).
    pub fn faces(&self) -> Arc<FaceSet> {
        self.faces.clone()
    }

    /// The tissue model (rest configuration).
    pub fn tissue(&self) -> &Model {
        &self.tissue
    }

    /// The needle's tip and unit axis (world) in joint configuration `q`.
    pub fn tip_and_axis(&self, q: &[f64]) -> Result<(DVec3, DVec3), CoSimError> {
        let pose = self.robot.link_pose(q, self.needle_link)?;
        let p = pose.transform_point(&Point3::new(
            self.needle_tip.x,
            self.needle_tip.y,
            self.needle_tip.z,
        ));
        let a = pose.transform_vector(&Vector3::new(
            self.needle_axis.x,
            self.needle_axis.y,
            self.needle_axis.z,
        ));
        Ok((
            DVec3::new(p.x, p.y, p.z),
            DVec3::new(a.x, a.y, a.z).normalize(),
        ))
    }

    /// The region at `p` of the tissue at `positions` (`None`: outside).
    fn region_at(&self, positions: &[[f32; 3]], p: DVec3) -> Option<RegionId> {
        locate(&self.tissue, positions, &[p.to_array()])[0]
            .map(|(t, _)| self.tissue.tet_region[t as usize])
    }

    /// Rolls `trajectory` out on the reduced model until `duration` (s; at least the
    /// trajectory's end) and reports as the full model does (same events, margins, checks).
    pub fn rollout(&self, trajectory: &Trajectory, duration: f64) -> Result<Report, CoSimError> {
        self.rollout_spline(trajectory.spline(), duration)
    }

    /// [`NeedlePathModel::rollout`] of a joint trajectory.
    pub fn rollout_spline(
        &self,
        spline: &JointTrajectory,
        duration: f64,
    ) -> Result<Report, CoSimError> {
        let (times, qs) = (spline.times(), spline.waypoints());
        // The last waypoint that moves the tip ends short by the tissue's lag.
        let last_move = (1..qs.len())
            .rev()
            .find(|&k| qs[k] != qs[k - 1])
            .unwrap_or(0);
        let mut path = Vec::with_capacity(qs.len());
        for (k, q) in qs.iter().enumerate() {
            let (mut tip, axis) = self.tip_and_axis(q)?;
            tip -= self.offset;
            if k == last_move && k > 0 {
                let prev: DVec3 = path.last().map_or(tip, |p: &(f64, DVec3, DVec3)| p.1);
                let along = (tip - prev).dot(axis).max(0.0);
                tip -= axis * self.axial_lag.clamp(0.0, along);
            }
            path.push((times[k], tip, axis));
        }
        let rest = &self.tissue.rest_positions;
        let region = self.region_at(rest, path[0].1);
        let end = duration.max(spline.end_time());
        let world = World {
            positions: rest,
            targets: &self.targets,
        };
        self.walk(
            world,
            &path,
            self.tracker.clone(),
            region,
            Vec::new(),
            None,
            end,
        )
    }

    /// Rolls the rest of the joint trajectory `spline` (its waypoints after `live.time`)
    /// out from the live world `live`: the needle's line through the tissue as it is now
    /// (deformed, moved), frozen, with the simulated needle's events and region. The report
    /// holds the events so far, so the verdict judges the whole run.
    pub fn rollout_from(
        &self,
        live: &LiveNeedle,
        spline: &JointTrajectory,
        duration: f64,
    ) -> Result<Report, CoSimError> {
        let (tip, axis) = self.tip_and_axis(&live.q)?;
        let mut path = vec![(live.time, tip, axis)];
        for (t, q) in spline.times().iter().zip(spline.waypoints()) {
            if *t > live.time {
                let (tip, axis) = self.tip_and_axis(q)?;
                path.push((*t, tip, axis));
            }
        }
        let mut tracker = self.tracker.clone();
        tracker.resume(&live.needle);
        let first = (
            live.time,
            live.axial_force,
            (0..tracker.events().len()).collect(),
        );
        let region = self.region_at(&live.positions, tip);
        let pieces = self.shaft_pieces(&live.positions, tip, axis, region);
        let end = duration.max(spline.end_time());
        let world = World {
            positions: &live.positions,
            targets: &live.targets,
        };
        self.walk(world, &path, tracker, region, pieces, Some(first), end)
    }

    /// The shaft behind a tip at `tip` moving along `axis` through the tissue at
    /// `positions`: (length, region) pieces from the entry to the tip, up to the needle's
    /// length.
    fn shaft_pieces(
        &self,
        positions: &[[f32; 3]],
        tip: DVec3,
        axis: DVec3,
        region: Option<RegionId>,
    ) -> Vec<(f64, Option<RegionId>)> {
        let len = self.needle_length;
        let hits = self
            .faces
            .ray_hits(positions, tip.to_array(), (-axis).to_array(), 0.0, len);
        let (mut pieces, mut s_prev, mut region) = (Vec::new(), 0.0, region);
        for hit in hits {
            let f = self.faces.faces[hit.face];
            let next = if hit.leaving_inner {
                f.outer.map(|o| o.1)
            } else {
                Some(f.inner.1)
            };
            if next == region {
                continue;
            }
            pieces.push((hit.t - s_prev, region));
            s_prev = hit.t;
            region = next;
            if region.is_none() {
                break;
            }
        }
        if region.is_some() {
            pieces.push((len - s_prev, region));
        }
        pieces.reverse();
        pieces
    }

    /// Walks the tip along `path` (time, tip, axis; rest frame) from `region` with
    /// `tracker`'s events and the shaft `pieces` behind it, and reports until `end`.
    /// `first`: a record to start with (time, force, events of the tracker so far).
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        world: World<'_>,
        path: &[(f64, DVec3, DVec3)],
        mut tracker: PathTracker,
        mut region: Option<RegionId>,
        mut pieces: Vec<(f64, Option<RegionId>)>,
        first: Option<(f64, f64, Vec<usize>)>,
        end: f64,
    ) -> Result<Report, CoSimError> {
        let mut recorder = self.recorder.clone();
        let (_, mut tip, mut axis) = path[0];
        let mut records: Vec<(f64, f64, Vec<usize>)> = first.into_iter().collect();
        let mut seen_events = tracker.events().len();
        let rest = world.positions;
        for w in path.windows(2) {
            let ((t0, _, _), (t1, tip1, axis1)) = (w[0], w[1]);
            let d = tip1 - tip;
            let len = d.length();
            if len > 1e-9 {
                let dir = d / len;
                let hits = self
                    .faces
                    .ray_hits(rest, tip.to_array(), dir.to_array(), 0.0, len);
                let mut s_prev = 0.0;
                for hit in hits {
                    let f = self.faces.faces[hit.face];
                    let (from, to) = if hit.leaving_inner {
                        (Some(f.inner.1), f.outer.map(|o| o.1))
                    } else {
                        (f.outer.map(|o| o.1), Some(f.inner.1))
                    };
                    // A ray through an edge or a vertex hits each face there: one crossing.
                    if to == region || from != region {
                        continue;
                    }
                    pieces.push((hit.t - s_prev, region));
                    s_prev = hit.t;
                    let time = t0 + (t1 - t0) * hit.t / len;
                    let at = tip + dir * hit.t;
                    let force_before = self.axial_force(&pieces, region);
                    let membrane = to.map_or(0.0, |r| self.props_of(r).puncture_force);
                    // Pushing a membrane: its puncture force on top of the shaft's friction.
                    let force = force_before.max(self.friction(&pieces) + membrane);
                    tracker.cross(from, to, time, at, axis);
                    region = to;
                    let n = tracker.events().len();
                    records.push((time, force, (seen_events..n).collect()));
                    seen_events = n;
                }
                pieces.push((len - s_prev, region));
            }
            let n = tracker.events().len();
            records.push((
                t1,
                self.axial_force(&pieces, region),
                (seen_events..n).collect(),
            ));
            seen_events = n;
            tip = tip1;
            axis = axis1;
        }
        if records.last().is_none_or(|r| r.0 < end) {
            let force = records.last().map_or(0.0, |r| r.1);
            records.push((end, force, Vec::new()));
        }
        let margins = self
            .probe
            .measure(&self.tissue, rest, Some((tip, axis)), world.targets);
        let nr = recorder.region_count();
        let dof = self.robot.ndof();
        for (time, force, events) in records {
            let at_end = time >= end;
            let f = -axis * force;
            let name = |r: Option<RegionId>| r.map(|r| tracker.region_name(r));
            recorder.push(FrameRecord {
                time,
                forces: vec![f.to_array()],
                torques: vec![[0.0; 3]],
                joint_positions: vec![0.0; dof],
                joint_torques: vec![0.0; dof],
                link_poses: Vec::new(),
                needle: Some(NeedleReport {
                    tip_region: name(tracker.tip_region()),
                    axial_force: force,
                    events: events
                        .iter()
                        .map(|&i| tracker.events()[i].clone())
                        .collect(),
                    ..Default::default()
                }),
                max_strain: vec![0.0; nr],
                damaged_fraction: vec![0.0; nr],
                target_displacement: vec![0.0; self.targets.len()],
                margins: if at_end {
                    margins.clone()
                } else {
                    Default::default()
                },
                guard: None,
                timing: [0.0; 3],
            });
        }
        Ok(recorder.finish(&self.criteria, "needle path".into(), Coupling::OneWay))
    }

    fn props_of(&self, r: RegionId) -> NeedleTissue {
        self.props.get(&r).copied().unwrap_or_default()
    }

    /// Kinetic shaft friction of the pieces within the needle's length behind the tip (N).
    fn friction(&self, pieces: &[(f64, Option<RegionId>)]) -> f64 {
        let mut left = self.needle_length;
        let mut f = 0.0;
        for &(len, r) in pieces.iter().rev() {
            let l = len.min(left);
            if let Some(r) = r {
                f += self.props_of(r).friction_kinetic * l;
            }
            left -= l;
            if left <= 0.0 {
                break;
            }
        }
        f
    }

    /// The quasi-static axial force with the tip cutting through `region` (N).
    fn axial_force(&self, pieces: &[(f64, Option<RegionId>)], region: Option<RegionId>) -> f64 {
        self.friction(pieces) + region.map_or(0.0, |r| self.props_of(r).cutting_force)
    }
}
