//! What a run predicts: per-frame records, the summary and the verdict, and their files
//! (`forces.csv`, `link_poses.csv`, `events.json`, the report inside `summary.json`).

// Index loops over xyz and tet vertices read like the math.
#![allow(clippy::needless_range_loop)]

use crate::scene::{Coupling, CriteriaSpec};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use vesalius_engine::contact::{ContactReport, NeedleEvent, NeedleReport};
use vesalius_engine::model::{Model, State};
use vesalius_engine::output::tet_strain;
use vesalius_robot::RobotState;

/// One frame of a run.
#[derive(Clone, Debug, Serialize)]
pub struct FrameRecord {
    /// Time at the end of the frame (s).
    pub time: f64,
    /// Per tool body: tissue force on it (N, world).
    pub forces: Vec<[f64; 3]>,
    /// Per tool body: tissue torque on it about its origin (N m).
    pub torques: Vec<[f64; 3]>,
    /// Joint positions (per movable joint).
    pub joint_positions: Vec<f64>,
    /// Joint torques / forces applied by the actuators.
    pub joint_torques: Vec<f64>,
    /// Every link's pose: x, y, z, qx, qy, qz, qw.
    pub link_poses: Vec<[f64; 7]>,
    /// The needle.
    pub needle: Option<NeedleReport>,
    /// Per region: largest Green strain norm of a tet.
    pub max_strain: Vec<f64>,
    /// Per region: volume fraction above the damage strain.
    pub damaged_fraction: Vec<f64>,
    /// Per target: largest displacement of its points (m).
    pub target_displacement: Vec<f64>,
    /// Wall time of the frame: rigid steps, tissue (with contact), recording (s).
    pub timing: [f64; 3],
}

/// One check of the verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// The measured value(s).
    pub detail: String,
}

/// The scenario's success criteria, evaluated.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// All checks passed.
    pub passed: bool,
    /// Each check.
    pub checks: Vec<Check>,
}

/// The whole prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Tissue backend.
    pub backend: String,
    /// Coupling used.
    pub coupling: Coupling,
    /// Frames simulated.
    pub frames: usize,
    /// Simulated time (s).
    pub simulated_time: f64,
    /// Tool bodies (robot links; "world" for world attachments).
    pub bodies: Vec<String>,
    /// Movable joints.
    pub joints: Vec<String>,
    /// Tissue regions.
    pub regions: Vec<String>,
    /// Targets.
    pub targets: Vec<String>,
    /// Largest force magnitude per body over the run (N).
    pub peak_force: Vec<f64>,
    /// Largest joint torque magnitude per joint over the run.
    pub peak_joint_torque: Vec<f64>,
    /// Largest Green strain per region over the run.
    pub peak_strain: Vec<f64>,
    /// Largest damaged volume fraction per region over the run.
    pub peak_damaged_fraction: Vec<f64>,
    /// Damage threshold used (Green strain norm).
    pub damage_strain: f64,
    /// Largest displacement per target over the run (m).
    pub peak_target_displacement: Vec<f64>,
    /// Needle events.
    pub events: Vec<NeedleEvent>,
    /// Region of the needle tip at the end.
    pub final_tip_region: Option<String>,
    /// The verdict of the scene's criteria.
    pub verdict: Verdict,
    /// Wall time: rigid steps, tissue, recording (s, totals).
    pub wall_time: [f64; 3],
    /// Wall seconds per simulated second (all parts).
    pub wall_per_simulated_second: f64,
    /// Per-frame records.
    #[serde(skip)]
    pub records: Vec<FrameRecord>,
}

/// Builds the records frame by frame.
#[derive(Clone)]
pub(crate) struct Recorder {
    bodies: Vec<String>,
    joints: Vec<String>,
    region_ids: Vec<i32>,
    regions: Vec<String>,
    region_volume: Vec<f64>,
    tet_region: Vec<usize>,
    targets: Vec<String>,
    damage: f64,
    records: Vec<FrameRecord>,
    events: Vec<NeedleEvent>,
}

impl Recorder {
    pub fn new(
        model: &Model,
        bodies: Vec<String>,
        joints: Vec<String>,
        targets: Vec<String>,
        damage: f64,
    ) -> Self {
        let mut region_ids: Vec<i32> = model.tet_region.clone();
        region_ids.sort_unstable();
        region_ids.dedup();
        let tet_region: Vec<usize> = model
            .tet_region
            .iter()
            .map(|r| region_ids.binary_search(r).unwrap_or(0))
            .collect();
        let mut region_volume = vec![0.0; region_ids.len()];
        for (t, &r) in tet_region.iter().enumerate() {
            region_volume[r] += model.rest_volume[t] as f64;
        }
        let regions = region_ids
            .iter()
            .map(|r| {
                model
                    .region_names
                    .get(r)
                    .cloned()
                    .unwrap_or_else(|| format!("region {r}"))
            })
            .collect();
        Self {
            bodies,
            joints,
            region_ids,
            regions,
            region_volume,
            tet_region,
            targets,
            damage,
            records: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn record(
        &mut self,
        model: &Model,
        state: &State,
        report: &ContactReport,
        robot: &RobotState,
        targets: Vec<f64>,
        timing: [f64; 3],
    ) -> &mut FrameRecord {
        let strain = tet_strain(model, state);
        let nr = self.region_ids.len();
        let mut max_strain = vec![0.0f64; nr];
        let mut damaged = vec![0.0f64; nr];
        for (t, &r) in self.tet_region.iter().enumerate() {
            let e = strain.green_strain[t] as f64;
            max_strain[r] = max_strain[r].max(e);
            if e > self.damage {
                damaged[r] += model.rest_volume[t] as f64;
            }
        }
        for (d, v) in damaged.iter_mut().zip(&self.region_volume) {
            *d /= v.max(1e-300);
        }
        if let Some(n) = &report.needle {
            self.events.extend(n.events.iter().cloned());
        }
        self.records.push(FrameRecord {
            time: state.time,
            forces: report.wrenches.iter().map(|w| w.force.to_array()).collect(),
            torques: report
                .wrenches
                .iter()
                .map(|w| w.torque.to_array())
                .collect(),
            joint_positions: robot.q.clone(),
            joint_torques: robot.applied_torques.clone(),
            link_poses: robot
                .link_poses
                .iter()
                .map(|p| {
                    let t = p.translation.vector;
                    let q = p.rotation.quaternion();
                    [t.x, t.y, t.z, q.i, q.j, q.k, q.w]
                })
                .collect(),
            needle: report.needle.clone(),
            max_strain,
            damaged_fraction: damaged,
            target_displacement: targets,
            timing,
        });
        self.records.last_mut().expect("just pushed")
    }

    pub fn finish(self, criteria: &CriteriaSpec, backend: String, coupling: Coupling) -> Report {
        let r = &self.records;
        let peak = |f: &dyn Fn(&FrameRecord) -> Vec<f64>, n: usize| -> Vec<f64> {
            let mut out = vec![0.0f64; n];
            for rec in r {
                for (o, v) in out.iter_mut().zip(f(rec)) {
                    *o = o.max(v);
                }
            }
            out
        };
        let norm = |v: &[f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        let peak_force = peak(&|x| x.forces.iter().map(norm).collect(), self.bodies.len());
        let peak_joint_torque = peak(
            &|x| x.joint_torques.iter().map(|t| t.abs()).collect(),
            self.joints.len(),
        );
        let peak_strain = peak(&|x| x.max_strain.clone(), self.regions.len());
        let peak_damaged_fraction = peak(&|x| x.damaged_fraction.clone(), self.regions.len());
        let peak_target_displacement = peak(&|x| x.target_displacement.clone(), self.targets.len());
        let final_tip_region = r
            .last()
            .and_then(|x| x.needle.as_ref())
            .and_then(|n| n.tip_region.clone());
        let mut wall = [0.0; 3];
        for rec in r {
            for k in 0..3 {
                wall[k] += rec.timing[k];
            }
        }
        let simulated_time = r.last().map_or(0.0, |x| x.time) - r.first().map_or(0.0, |x| x.time)
            + r.get(1).map_or(0.0, |x| x.time - r[0].time);
        // Verdict.
        let mut checks = Vec::new();
        let descriptions: Vec<&str> = self.events.iter().map(|e| e.description.as_str()).collect();
        if !criteria.required_events.is_empty() {
            let mut it = descriptions.iter();
            let in_order = criteria
                .required_events
                .iter()
                .all(|want| it.any(|d| d == want));
            checks.push(Check {
                name: format!("events in order: {}", criteria.required_events.join(" -> ")),
                passed: in_order,
                detail: format!("events: {}", descriptions.join(", ")),
            });
        }
        for f in &criteria.forbidden_events {
            let hit = descriptions.iter().any(|d| d == f);
            checks.push(Check {
                name: format!("no event {f:?}"),
                passed: !hit,
                detail: if hit {
                    "happened".into()
                } else {
                    "did not happen".into()
                },
            });
        }
        if let Some(region) = &criteria.final_tip_region {
            checks.push(Check {
                name: format!("tip ends in {region}"),
                passed: final_tip_region.as_deref() == Some(region.as_str()),
                detail: format!("tip ends in {final_tip_region:?}"),
            });
        }
        if let Some(limit) = criteria.max_tool_force {
            let m = peak_force.iter().copied().fold(0.0, f64::max);
            checks.push(Check {
                name: format!("tool force <= {limit} N"),
                passed: m <= limit,
                detail: format!("peak {m:.3} N"),
            });
        }
        if let Some(limit) = criteria.max_damaged_fraction {
            let m = peak_damaged_fraction.iter().copied().fold(0.0, f64::max);
            checks.push(Check {
                name: format!("damaged volume <= {limit} of every region"),
                passed: m <= limit,
                detail: format!("peak {m:.4}"),
            });
        }
        let passed = checks.iter().all(|c| c.passed);
        let total: f64 = wall.iter().sum();
        Report {
            backend,
            coupling,
            frames: r.len(),
            simulated_time,
            bodies: self.bodies,
            joints: self.joints,
            regions: self.regions,
            targets: self.targets,
            peak_force,
            peak_joint_torque,
            peak_strain,
            peak_damaged_fraction,
            damage_strain: self.damage,
            peak_target_displacement,
            events: self.events,
            final_tip_region,
            verdict: Verdict { passed, checks },
            wall_time: wall,
            wall_per_simulated_second: if simulated_time > 0.0 {
                total / simulated_time
            } else {
                0.0
            },
            records: self.records,
        }
    }
}

impl Report {
    /// Writes `forces.csv`: time, per body force and torque, needle axial force, tip depth
    /// and region, per joint torque.
    pub fn write_forces_csv(&self, path: &Path) -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut head = vec!["time_s".to_string()];
        for b in &self.bodies {
            for c in ["fx", "fy", "fz", "tx", "ty", "tz"] {
                head.push(format!("{b}.{c}"));
            }
        }
        head.extend(
            ["needle_axial_n", "tip_depth_m", "tip_region"]
                .iter()
                .map(|s| s.to_string()),
        );
        for j in &self.joints {
            head.push(format!("{j}.torque"));
        }
        writeln!(f, "{}", head.join(","))?;
        for r in &self.records {
            let mut row = vec![format!("{:.6}", r.time)];
            for (fo, to) in r.forces.iter().zip(&r.torques) {
                row.extend(fo.iter().chain(to).map(|v| format!("{v:.6e}")));
            }
            match &r.needle {
                Some(n) => {
                    row.push(format!("{:.6e}", n.axial_force));
                    row.push(format!("{:.6e}", n.depth));
                    row.push(n.tip_region.clone().unwrap_or_else(|| "outside".into()));
                }
                None => row.extend(["".into(), "".into(), "".into()]),
            }
            row.extend(r.joint_torques.iter().map(|v| format!("{v:.6e}")));
            writeln!(f, "{}", row.join(","))?;
        }
        f.flush()
    }

    /// Writes `link_poses.csv`: time, link index, x, y, z, qx, qy, qz, qw (every link, every
    /// frame).
    pub fn write_link_poses_csv(&self, path: &Path, link_names: &[String]) -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(f, "time_s,link,x,y,z,qx,qy,qz,qw")?;
        for r in &self.records {
            for (l, p) in r.link_poses.iter().enumerate() {
                let name = link_names.get(l).map_or("?", |s| s.as_str());
                writeln!(
                    f,
                    "{:.6},{name},{}",
                    r.time,
                    p.iter()
                        .map(|v| format!("{v:.9}"))
                        .collect::<Vec<_>>()
                        .join(",")
                )?;
            }
        }
        f.flush()
    }

    /// Writes `events.json`.
    pub fn write_events_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.events)?;
        std::fs::write(path, text)
    }
}
