//! What `vesalius render` and `vesalius view` share: a scene run forward frame by frame
//! ([`Live`]: a tissue scene or a co-simulation) and a finished run's frames read back
//! ([`Recorded`]), each drawn as the tissue's surface and the rigid bodies for a [`Look`].

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use vesalius_cosim::{CoSim, CoSimScene, PredictOptions};
use vesalius_engine::mesh::vtu::{parse_pvd, parse_vtu_frame, VtuFrame};
use vesalius_engine::model::{Model, State, SupportDrive};
use vesalius_engine::output::fixed;
use vesalius_engine::output::PVD_NAME;
use vesalius_engine::scene::Scene;
use vesalius_engine::sim::Simulation;
use vesalius_viewer::camera::bounding_radius;
use vesalius_viewer::solids::{
    arrow, marker, vertex_markers, ATTACHED_COLOUR, FORCE_COLOUR, PIN_COLOUR, TARGET_COLOUR,
};
use vesalius_viewer::{Look, Solid, Surface};

use super::backend::BackendArgs;

/// Radius of the force arrows' shafts (m).
const ARROW_RADIUS: f64 = 4e-4;
/// Radius of the target points' markers (m).
const TARGET_RADIUS: f64 = 1e-3;
/// The pinned and attached vertices' markers, as a fraction of the tissue's bounding
/// radius.
const PIN_SIZE: f32 = 0.012;

/// A scene being simulated, one frame at a time.
pub enum Live {
    /// A tissue scene: the simulation and its scripted supports.
    Tissue {
        /// The simulation.
        sim: Box<Simulation>,
        /// The supports' motion (`[motion]`).
        supports: SupportDrive,
        /// The scene's duration (s).
        duration: f64,
    },
    /// A co-simulation (a scene with a `[robot]`).
    CoSim {
        /// The coupled run.
        sim: Box<CoSim>,
        /// Its frame time (s).
        frame_dt: f64,
    },
}

/// A picture of a frame: the tissue, the rigid bodies, and what could not be drawn as
/// asked (a link's mesh that fell back to its collision shapes).
pub struct Drawn {
    /// The tissue.
    pub surface: Surface,
    /// Robot links, tools, force arrows, markers.
    pub solids: Vec<Solid>,
    /// Warnings.
    pub warnings: Vec<String>,
}

impl Live {
    /// Loads the scene at `path` (a co-simulation when it has a `[robot]`) with the backend
    /// options, at time 0. `duration` (s) lengthens a co-simulation past its scene's
    /// duration.
    pub fn load(path: &Path, backend: &BackendArgs, duration: Option<f64>) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        if vesalius_cosim::scene::is_cosim(&text) {
            let scene = CoSimScene::parse(&text, path)?;
            let options = PredictOptions {
                duration: duration.map(|d| d.max(scene.tissue().file.simulation.duration)),
                ..backend.predict_options()
            };
            let mut sim = CoSim::new(&scene, &options)?;
            let frame_dt = sim.tissue().plan().frame_dt;
            Ok(Live::CoSim {
                sim: Box::new(sim),
                frame_dt,
            })
        } else {
            let mut scene = Scene::parse(&text, path)?;
            backend.apply(&mut scene);
            let built = scene.build()?;
            let spec = &scene.file.simulation;
            let sim = Simulation::new(built.model, &built.solver, spec.backend())?;
            let supports = SupportDrive::new(sim.model(), &scene.file.motion)
                .map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?;
            Ok(Live::Tissue {
                sim: Box::new(sim),
                supports,
                duration: spec.duration,
            })
        }
    }

    /// A co-simulation built elsewhere (with a planned trajectory).
    pub fn from_cosim(mut sim: CoSim) -> Self {
        let frame_dt = sim.tissue().plan().frame_dt;
        Live::CoSim {
            sim: Box::new(sim),
            frame_dt,
        }
    }

    /// Simulates one frame. `Ok(false)`: the run cannot go on (a co-simulation broke a
    /// physical sanity guard in that frame).
    pub fn step(&mut self) -> Result<bool> {
        match self {
            Live::Tissue { sim, supports, .. } => {
                sim.step_with_supports(supports, 1)?;
                Ok(true)
            }
            Live::CoSim { sim, .. } => Ok(sim.step_frame()?.guard.is_none()),
        }
    }

    /// The simulated time (s).
    pub fn time(&self) -> f64 {
        match self {
            Live::Tissue { sim, .. } => sim.time(),
            Live::CoSim { sim, .. } => sim.time(),
        }
    }

    /// The frame time (s).
    pub fn frame_dt(&self) -> f64 {
        match self {
            Live::Tissue { sim, .. } => sim.plan().frame_dt,
            Live::CoSim { frame_dt, .. } => *frame_dt,
        }
    }

    /// The end of the scene's last frame (s).
    pub fn end_time(&self) -> f64 {
        match self {
            Live::Tissue { duration, .. } => *duration,
            Live::CoSim { sim, .. } => sim.end_time(),
        }
    }

    /// The frames to `time`, rounded to the nearest.
    pub fn frames_to(&self, time: f64) -> u64 {
        (time / self.frame_dt()).round() as u64
    }

    /// The co-simulation, if this is one.
    pub fn cosim(&self) -> Option<&CoSim> {
        match self {
            Live::CoSim { sim, .. } => Some(sim),
            Live::Tissue { .. } => None,
        }
    }

    /// The picture of the current frame: the tissue as `look` asks and, in a
    /// co-simulation, the robot where the simulation has it (tool links marked), the
    /// tissue's force on each tool body as an arrow at its link's origin and the target
    /// points where the tissue has carried them.
    pub fn picture(&mut self, look: &Look) -> Result<Drawn> {
        let mut solids = Vec::new();
        let mut warnings = Vec::new();
        let surface = match self {
            Live::Tissue { sim, .. } => {
                let attached = sim.contacts().map(|c| c.attached_vertices());
                let (model, state) = sim.sync_model_and_state()?;
                let surface = model_surface(model, state, look)?;
                let attached = attached.as_deref().unwrap_or_default();
                solids.extend(held_markers(&model.pinned, attached, &surface, look));
                surface
            }
            Live::CoSim { sim, .. } => {
                let robot = sim.world().state(sim.robot())?;
                let tools: Vec<_> = sim
                    .body_names()
                    .iter()
                    .filter_map(|n| sim.robot_model().link_id(n).ok())
                    .collect();
                let (robot_solids, problems) =
                    vesalius_viewer::robot_solids(sim.robot_model(), &robot.link_poses, &tools);
                warnings.extend(
                    problems
                        .into_iter()
                        .map(|p| format!("{p} (drawn from its collision shapes)")),
                );
                solids = robot_solids;
                if let Some(record) = sim.last_record() {
                    for (name, f) in sim.body_names().iter().zip(&record.forces) {
                        let Ok(link) = sim.robot_model().link_id(name) else {
                            continue;
                        };
                        let o = robot.link_poses[link].translation.vector;
                        solids.extend(force_arrow([o.x, o.y, o.z], *f, look));
                    }
                }
                for points in sim.target_points()? {
                    for p in points {
                        solids.push(marker(p.to_array(), TARGET_RADIUS, TARGET_COLOUR));
                    }
                }
                let attached = sim.tissue().contacts().map(|c| c.attached_vertices());
                let (model, state) = sim.tissue().sync_model_and_state()?;
                let surface = model_surface(model, state, look)?;
                let attached = attached.as_deref().unwrap_or_default();
                solids.extend(held_markers(&model.pinned, attached, &surface, look));
                surface
            }
        };
        Ok(Drawn {
            surface,
            solids,
            warnings,
        })
    }
}

/// The force `f` (N) as an arrow from `origin` (m), [`Look::force_scale`] long per newton.
pub fn force_arrow(origin: [f64; 3], f: [f64; 3], look: &Look) -> Option<Solid> {
    let v = f.map(|c| c * look.force_scale);
    arrow(origin, v, ARROW_RADIUS, FORCE_COLOUR)
}

/// The surface of `model` in `state`, as `look` asks.
fn model_surface(model: &Model, state: &State, look: &Look) -> Result<Surface> {
    Ok(look.cut_surface(|cut| match cut {
        None => Surface::new(model, state, look.field),
        Some(plane) => Surface::cut(model, state, look.field, plane),
    })?)
}

/// Markers at the `pinned` and the `attached` vertices (to tools or the world) at their
/// positions in `surface`, each in its colour, when `look` asks.
fn held_markers(pinned: &[u32], attached: &[u32], surface: &Surface, look: &Look) -> Vec<Solid> {
    if !look.pins {
        return Vec::new();
    }
    let size = PIN_SIZE * bounding_radius(surface.bounds());
    [(pinned, PIN_COLOUR), (attached, ATTACHED_COLOUR)]
        .into_iter()
        .filter(|(v, _)| !v.is_empty())
        .map(|(v, colour)| vertex_markers(&surface.positions, v, size, colour))
        .collect()
}

/// The markers of a finished run's frame: its pinned and attached vertices, from the
/// frame's `fixed` array (frames written before it existed have none), when `look` asks.
pub fn frame_markers(frame: &VtuFrame, surface: &Surface, look: &Look) -> Vec<Solid> {
    let Some(held) = frame.point_data.get("fixed").filter(|a| a.components == 1) else {
        return Vec::new();
    };
    let with = |value: i32| -> Vec<u32> {
        (0..held.values.len())
            .filter(|&i| held.values[i] == f64::from(value))
            .map(|i| i as u32)
            .collect()
    };
    held_markers(&with(fixed::PINNED), &with(fixed::ATTACHED), surface, look)
}

/// A finished run's tissue frames: an output directory of `vesalius run` and its
/// `tissue.pvd`.
pub struct Recorded {
    /// The directory.
    pub dir: PathBuf,
    /// Each frame's time (s) and file (relative to the directory), in time order.
    pub frames: Vec<(f64, String)>,
}

impl Recorded {
    /// Reads the frame index of the output directory `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let index = dir.join(PVD_NAME);
        let text = std::fs::read(&index).with_context(|| {
            format!(
                "{}: no {PVD_NAME}: not an output directory of `vesalius run`",
                dir.display()
            )
        })?;
        let mut frames = parse_pvd(&text).with_context(|| index.display().to_string())?;
        if frames.is_empty() {
            bail!("{} lists no frames", index.display());
        }
        frames.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Self {
            dir: dir.to_path_buf(),
            frames,
        })
    }

    /// The index of the frame nearest `time`.
    pub fn nearest(&self, time: f64) -> usize {
        (0..self.frames.len())
            .min_by(|&a, &b| {
                (self.frames[a].0 - time)
                    .abs()
                    .total_cmp(&(self.frames[b].0 - time).abs())
            })
            .unwrap_or(0)
    }

    /// Reads frame `i`.
    pub fn read(&self, i: usize) -> Result<VtuFrame> {
        let path = self.dir.join(&self.frames[i].1);
        let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        parse_vtu_frame(&data).with_context(|| path.display().to_string())
    }
}

/// The surface of a frame read back, as `look` asks.
pub fn frame_surface(frame: &VtuFrame, look: &Look) -> Result<Surface> {
    Ok(look.cut_surface(|cut| Surface::from_frame(frame, look.field, cut))?)
}
