//! What a run predicts: per-frame records, the summary and the verdict, and their files
//! (`forces.csv`, `link_poses.csv`, `events.json`, the report inside `summary.json`).

// Index loops over xyz and tet vertices read like the math.
#![allow(clippy::needless_range_loop)]

use crate::margins::FrameMargins;
use crate::scene::{Coupling, CriteriaSpec};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use vesalius_engine::contact::{ContactReport, NeedleEvent, NeedleEventKind, NeedleReport};
use vesalius_engine::mesh::RegionId;
use vesalius_engine::model::{Model, State};
use vesalius_engine::output::tet_strain;
use vesalius_engine::solver::Breach;
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
    /// The needle tip's margins (distance to the goal region's boundary and back wall,
    /// to each target).
    pub margins: FrameMargins,
    /// The physical sanity guard this frame broke, if any (the run stops there).
    pub guard: Option<Breach>,
    /// Wall time of the frame: rigid steps, tissue (with contact), recording (s).
    pub timing: [f64; 3],
}

/// A success criterion of the scene (`[criteria]`), with what it asks for.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Criterion {
    /// These events, in this order (`required_events`).
    RequiredEvents {
        /// Event descriptions.
        events: Vec<String>,
    },
    /// This event never (`forbidden_events`).
    ForbiddenEvent {
        /// Event description.
        event: String,
    },
    /// The needle tip ends in this region (`final_tip_region`).
    FinalTipRegion {
        /// Region name.
        region: String,
    },
    /// No tool force above this (`max_tool_force`, N).
    MaxToolForce {
        /// Limit (N).
        limit: f64,
    },
    /// No region's damaged volume fraction above this (`max_damaged_fraction`).
    MaxDamagedFraction {
        /// Limit (fraction of the region's volume).
        limit: f64,
    },
    /// No physical sanity guard broken (`[simulation] guards`): always checked, a broken
    /// simulation is never a pass.
    PhysicalSanity,
}

/// The unit of a check's margin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarginUnit {
    /// Newtons.
    Newton,
    /// Metres.
    Metre,
    /// A volume fraction.
    Fraction,
    /// A count of events.
    Events,
}

/// What a run showed for a criterion.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Measured {
    /// The required events found in order: how many, and the time of each (`None`: not
    /// found in order).
    Events {
        /// How many of the required events happened in order.
        matched: usize,
        /// Time of each required event (s).
        times: Vec<Option<f64>>,
    },
    /// How often an event happened, and when first.
    Occurrences {
        /// Count.
        count: usize,
        /// Time of the first (s).
        first_time: Option<f64>,
    },
    /// Where the tip ended.
    TipRegion {
        /// The region (`None`: outside the tissue or no needle).
        region: Option<String>,
        /// Signed distance to the goal region's boundary (m, positive inside).
        boundary_distance: Option<f64>,
    },
    /// The largest value over the run.
    Peak {
        /// The value.
        value: f64,
        /// When (s).
        time: f64,
        /// Where: the tool body or the region.
        at: String,
    },
}

/// One check of the verdict: structured, so that a script or an optimizer reads the numbers
/// rather than the text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// What was asked.
    pub criterion: Criterion,
    /// Whether it held.
    pub passed: bool,
    /// How far inside the criterion the run stayed (positive or zero) or outside it
    /// (negative): limit minus peak for forces and damage, the tip's distance to the goal
    /// region's boundary, minus the missing or forbidden events' count. `passed` is
    /// exactly `margin >= 0`; a margin that cannot be measured (no needle) is -infinity
    /// (`null` in JSON).
    pub margin: f64,
    /// Unit of `margin`.
    pub unit: MarginUnit,
    /// What the run showed.
    pub measured: Measured,
    /// A one-line label for people, made from the fields above (e.g. "tool force <= 2 N").
    pub name: String,
    /// The measured value for people (e.g. "peak 0.243 N at 2.48 s on needle").
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

impl Verdict {
    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// The smallest margin of the checks of one unit (how close the run came to failing
    /// them; `None` without such checks).
    pub fn worst_margin(&self, unit: MarginUnit) -> Option<f64> {
        self.checks
            .iter()
            .filter(|c| c.unit == unit)
            .map(|c| c.margin)
            .reduce(f64::min)
    }
}

/// A target's distance to the needle tip over the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetMargin {
    /// The target's name.
    pub name: String,
    /// Distance at the end (m).
    pub final_distance: Option<f64>,
    /// Smallest distance over the run (m) ...
    pub min_distance: Option<f64>,
    /// ... and when (s).
    pub min_time: Option<f64>,
}

/// The needle tip's margins over the run (see [`FrameMargins`]); `None` without a needle or
/// a `final_tip_region`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunMargins {
    /// The goal region (`criteria.final_tip_region`).
    pub region: Option<String>,
    /// Signed distance of the tip to its boundary at the end (m, positive inside).
    pub final_region_distance: Option<f64>,
    /// The deepest the tip was inside it during the run (m; negative: never inside).
    pub max_region_distance: Option<f64>,
    /// Distance from the tip to the back wall along the axis at the end (m; negative:
    /// through it).
    pub final_back_wall: Option<f64>,
    /// The closest the tip came to the back wall from the frame the needle first reported
    /// it in the region (m; negative: it went through; `None`: it never was there).
    pub min_back_wall: Option<f64>,
    /// The chord of the goal region on the needle's line at the end (m).
    pub final_chord: Option<f64>,
    /// Per target.
    pub targets: Vec<TargetMargin>,
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
    /// Punctures per region (by name).
    pub punctures: BTreeMap<String, usize>,
    /// Region of the needle tip at the end.
    pub final_tip_region: Option<String>,
    /// The needle tip's distances to the goal region and targets, at the end and over the
    /// run.
    pub margins: RunMargins,
    /// The verdict of the scene's criteria.
    pub verdict: Verdict,
    /// The physical sanity guard the run broke (it stopped at that frame), if any.
    pub guard_breach: Option<Breach>,
    /// Set when an observer stopped the run early: the time of the last frame run (s).
    /// The verdict then judges the frames run so far.
    pub stopped_early: Option<f64>,
    /// Where the needle tip ended in the tissue's rest configuration: the material point it
    /// is at (the tet it is in, by barycentric coordinates; `None`: no needle, or outside
    /// the tissue). Beside the tip's kinematic end it shows how far the tissue moved with
    /// the needle (what a planning model that holds the tissue still neglects).
    pub final_tip_rest: Option<[f64; 3]>,
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
    region_ids: Vec<RegionId>,
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
        let mut region_ids: Vec<RegionId> = model.tet_region.clone();
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
        // Per target its largest displacement (m), and the tip's margins.
        (targets, margins): (Vec<f64>, FrameMargins),
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
            margins,
            guard: None,
            timing,
        });
        self.records.last_mut().expect("just pushed")
    }

    /// Adds a record made by a planning model (its events with it).
    pub fn push(&mut self, rec: FrameRecord) {
        if let Some(n) = &rec.needle {
            self.events.extend(n.events.iter().cloned());
        }
        self.records.push(rec);
    }

    /// The last frame's record.
    pub fn last(&self) -> Option<&FrameRecord> {
        self.records.last()
    }

    /// The needle's events so far.
    pub fn events(&self) -> &[NeedleEvent] {
        &self.events
    }

    /// The tool bodies' names.
    pub fn bodies(&self) -> &[String] {
        &self.bodies
    }

    /// The number of regions a record has values for.
    pub fn region_count(&self) -> usize {
        self.regions.len()
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
        let margins = self.margins(criteria);
        let checks = self.checks(criteria, &margins);
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
            punctures: count_punctures(&self.events),
            events: self.events,
            final_tip_region,
            margins,
            verdict: Verdict { passed, checks },
            guard_breach: r.iter().find_map(|x| x.guard.clone()),
            stopped_early: None,
            final_tip_rest: None,
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

impl Recorder {
    /// The tip's margins over the run.
    fn margins(&self, criteria: &CriteriaSpec) -> RunMargins {
        let r = &self.records;
        let last = r.last().map(|x| &x.margins);
        let extreme = |f: &dyn Fn(&FrameMargins) -> Option<f64>, max: bool| {
            r.iter().filter_map(|x| f(&x.margins)).reduce(
                |a, b| {
                    if max {
                        a.max(b)
                    } else {
                        a.min(b)
                    }
                },
            )
        };
        let targets = self
            .targets
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let at = |x: &FrameRecord| x.margins.target_distance.get(k).copied().flatten();
                let min = r
                    .iter()
                    .filter_map(|x| at(x).map(|d| (d, x.time)))
                    .reduce(|a, b| if b.0 < a.0 { b } else { a });
                TargetMargin {
                    name: name.clone(),
                    final_distance: r.last().and_then(at),
                    min_distance: min.map(|m| m.0),
                    min_time: min.map(|m| m.1),
                }
            })
            .collect();
        RunMargins {
            region: criteria.final_tip_region.clone(),
            final_region_distance: last.and_then(|m| m.region_distance),
            max_region_distance: extreme(&|m| m.region_distance, true),
            final_back_wall: last.and_then(|m| m.back_wall),
            min_back_wall: {
                // From the first frame the needle reports the tip in the region: before
                // it, while a wall tents ahead of the tip, the crushed tets around it can
                // put the region's stretch behind the tip (and the tip inside the
                // region's deformed tets), though it has not gone through.
                let goal = criteria.final_tip_region.as_deref();
                let first_inside = r.iter().position(|x| {
                    goal.is_some()
                        && x.needle.as_ref().and_then(|n| n.tip_region.as_deref()) == goal
                });
                first_inside.and_then(|i| {
                    r[i..]
                        .iter()
                        .filter_map(|x| x.margins.back_wall)
                        .reduce(f64::min)
                })
            },
            final_chord: last.and_then(|m| m.chord),
            targets,
        }
    }

    /// The scene's criteria, evaluated with their margins.
    fn checks(&self, criteria: &CriteriaSpec, margins: &RunMargins) -> Vec<Check> {
        let mut checks = Vec::new();
        let events = &self.events;
        if !criteria.required_events.is_empty() {
            // In order: each required event is looked for after the previous one.
            let mut from = 0;
            let times: Vec<Option<f64>> = criteria
                .required_events
                .iter()
                .map(|want| {
                    let found = events[from.min(events.len())..]
                        .iter()
                        .position(|e| &e.description == want);
                    found.map(|k| {
                        let e = &events[from + k];
                        from += k + 1;
                        e.time
                    })
                })
                .collect();
            // A required event missing breaks the order for the rest: count the prefix.
            let matched = times.iter().take_while(|t| t.is_some()).count();
            let missing = criteria.required_events.len() - matched;
            let seen: Vec<&str> = events.iter().map(|e| e.description.as_str()).collect();
            checks.push(Check {
                name: format!("events in order: {}", criteria.required_events.join(" -> ")),
                passed: missing == 0,
                margin: -(missing as f64),
                unit: MarginUnit::Events,
                detail: format!("events: {}", seen.join(", ")),
                measured: Measured::Events {
                    matched,
                    times: times
                        .iter()
                        .enumerate()
                        .map(|(k, t)| t.filter(|_| k < matched))
                        .collect(),
                },
                criterion: Criterion::RequiredEvents {
                    events: criteria.required_events.clone(),
                },
            });
        }
        for f in &criteria.forbidden_events {
            let hits: Vec<&NeedleEvent> = events.iter().filter(|e| &e.description == f).collect();
            let first_time = hits.first().map(|e| e.time);
            checks.push(Check {
                name: format!("no event {f:?}"),
                passed: hits.is_empty(),
                margin: -(hits.len() as f64),
                unit: MarginUnit::Events,
                detail: match first_time {
                    Some(t) => format!("happened {} times, first at {t:.3} s", hits.len()),
                    None => "did not happen".into(),
                },
                measured: Measured::Occurrences {
                    count: hits.len(),
                    first_time,
                },
                criterion: Criterion::ForbiddenEvent { event: f.clone() },
            });
        }
        if let Some(region) = &criteria.final_tip_region {
            let got = self
                .records
                .last()
                .and_then(|x| x.needle.as_ref())
                .and_then(|n| n.tip_region.clone());
            let passed = got.as_deref() == Some(region.as_str());
            let d = margins.final_region_distance;
            // The tracker's region decides (it holds a change only once it lasts); the
            // margin's size is the geometric distance, its sign the verdict's.
            let margin = match d {
                Some(d) if passed => d.abs(),
                Some(d) => -d.abs().max(f64::MIN_POSITIVE),
                None if passed => 0.0,
                None => f64::NEG_INFINITY,
            };
            checks.push(Check {
                name: format!("tip ends in {region}"),
                passed,
                margin,
                unit: MarginUnit::Metre,
                detail: format!(
                    "tip ends in {}{}",
                    got.as_deref().unwrap_or("no region"),
                    d.map_or(String::new(), |d| format!(
                        ", {:.3} mm {} the boundary of {region}",
                        d.abs() * 1e3,
                        if d >= 0.0 { "inside" } else { "outside" }
                    ))
                ),
                measured: Measured::TipRegion {
                    region: got,
                    boundary_distance: d,
                },
                criterion: Criterion::FinalTipRegion {
                    region: region.clone(),
                },
            });
        }
        let norm = |v: &[f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if let Some(limit) = criteria.max_tool_force {
            let peak = self.peak(|x| x.forces.iter().map(norm).collect());
            let at = self.bodies.get(peak.2).cloned().unwrap_or_default();
            checks.push(Check {
                name: format!("tool force <= {limit} N"),
                passed: peak.0 <= limit,
                margin: limit - peak.0,
                unit: MarginUnit::Newton,
                detail: format!("peak {:.3} N at {:.3} s on {at}", peak.0, peak.1),
                measured: Measured::Peak {
                    value: peak.0,
                    time: peak.1,
                    at,
                },
                criterion: Criterion::MaxToolForce { limit },
            });
        }
        if let Some(limit) = criteria.max_damaged_fraction {
            let peak = self.peak(|x| x.damaged_fraction.clone());
            let at = self.regions.get(peak.2).cloned().unwrap_or_default();
            checks.push(Check {
                name: format!("damaged volume <= {limit} of every region"),
                passed: peak.0 <= limit,
                margin: limit - peak.0,
                unit: MarginUnit::Fraction,
                detail: format!("peak {:.4} at {:.3} s in {at}", peak.0, peak.1),
                measured: Measured::Peak {
                    value: peak.0,
                    time: peak.1,
                    at,
                },
                criterion: Criterion::MaxDamagedFraction { limit },
            });
        }
        // Last: the scene's own criteria come first, in their order.
        {
            let broken: Vec<&FrameRecord> =
                self.records.iter().filter(|x| x.guard.is_some()).collect();
            let first = broken.first().and_then(|x| x.guard.as_ref());
            checks.push(Check {
                name: "physically sane".into(),
                passed: broken.is_empty(),
                margin: -(broken.len() as f64),
                unit: MarginUnit::Events,
                detail: match first {
                    Some(b) => b.to_string(),
                    None => "no guard broken".into(),
                },
                measured: Measured::Occurrences {
                    count: broken.len(),
                    first_time: first.map(|b| b.time),
                },
                criterion: Criterion::PhysicalSanity,
            });
        }
        checks
    }

    /// The largest value of a per-item series over the run: (value, time, item).
    fn peak(&self, f: impl Fn(&FrameRecord) -> Vec<f64>) -> (f64, f64, usize) {
        let mut best = (0.0, self.records.first().map_or(0.0, |x| x.time), 0);
        for rec in &self.records {
            for (i, v) in f(rec).into_iter().enumerate() {
                if v > best.0 {
                    best = (v, rec.time, i);
                }
            }
        }
        best
    }
}

/// Punctures per region.
fn count_punctures(events: &[NeedleEvent]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in events {
        if e.kind == NeedleEventKind::Puncture {
            if let Some(r) = &e.region {
                *out.entry(r.clone()).or_insert(0) += 1;
            }
        }
    }
    out
}

impl Report {
    /// Writes `forces.csv`: time, per body force and torque, needle axial force, tip depth
    /// and region, the tip's margins (distance to the goal region's boundary, to its back
    /// wall, to each target; empty where not measured), per joint torque. Quoted where a
    /// name needs it (the `csv` crate).
    pub fn write_forces_csv(&self, path: &Path) -> std::io::Result<()> {
        let mut w = csv::Writer::from_path(path)?;
        let mut head = vec!["time_s".to_string()];
        for b in &self.bodies {
            for c in ["fx", "fy", "fz", "tx", "ty", "tz"] {
                head.push(format!("{b}.{c}"));
            }
        }
        head.extend(
            [
                "needle_axial_n",
                "tip_depth_m",
                "tip_region",
                "tip_region_distance_m",
                "tip_back_wall_m",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        for t in &self.targets {
            head.push(format!("tip_to_{t}_m"));
        }
        for j in &self.joints {
            head.push(format!("{j}.torque"));
        }
        w.write_record(&head)?;
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6e}"));
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
                None => row.extend([String::new(), String::new(), String::new()]),
            }
            row.push(opt(r.margins.region_distance));
            row.push(opt(r.margins.back_wall));
            for k in 0..self.targets.len() {
                row.push(opt(r.margins.target_distance.get(k).copied().flatten()));
            }
            row.extend(r.joint_torques.iter().map(|v| format!("{v:.6e}")));
            w.write_record(&row)?;
        }
        w.flush()
    }

    /// Writes `link_poses.csv`: time, link name, x, y, z, qx, qy, qz, qw (every link, every
    /// frame).
    pub fn write_link_poses_csv(&self, path: &Path, link_names: &[String]) -> std::io::Result<()> {
        let mut w = csv::Writer::from_path(path)?;
        w.write_record(["time_s", "link", "x", "y", "z", "qx", "qy", "qz", "qw"])?;
        for r in &self.records {
            for (l, p) in r.link_poses.iter().enumerate() {
                let name = link_names.get(l).map_or("?", |s| s.as_str());
                let mut row = vec![format!("{:.6}", r.time), name.to_string()];
                row.extend(p.iter().map(|v| format!("{v:.9}")));
                w.write_record(&row)?;
            }
        }
        w.flush()
    }

    /// Writes `events.json`.
    pub fn write_events_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.events)?;
        std::fs::write(path, text)
    }
}
