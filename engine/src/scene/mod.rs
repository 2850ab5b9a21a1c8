//! Scene files (TOML): a mesh (file or generator), materials per region, pins, planes,
//! solver settings, backend and output cadence. Unknown keys and bad values are errors that
//! name the file and, for syntax and type errors, the line.
//!
//! ```toml
//! [mesh]
//! file = "../anatomy/limb_segment.msh"   # relative to this file; or:
//! # generator = { kind = "box", cells = [12, 12, 6], size = [0.1, 0.1, 0.05] }
//! # generator = { kind = "vein_slab", vein_z = -0.006, vein_angle_deg = 90 }  # VeinSlabParams
//! scale = 1.0                             # coordinate scale (0.001 for millimetres)
//! refine = 0                              # uniform 1:8 refinements (0..=3)
//!
//! [materials]
//! default = { youngs_modulus = 1e4, poisson_ratio = 0.45, density = 1000 }
//! skin = { youngs_modulus = 1e5, poisson_ratio = 0.45, density = 1100, damping = 0.002 }
//! 3 = { youngs_modulus = 2e4, poisson_ratio = 0.45, density = 1060 }   # by region id
//!
//! [[pin]]
//! kind = "plane"          # region | box | plane | vertices
//! normal = [0, 0, 1]
//! offset = 0.0
//!
//! [[plane]]
//! normal = [0, 0, 1]
//! offset = -0.01
//! static_friction = 0.5
//! kinetic_friction = 0.4
//!
//! [simulation]
//! duration = 2.0          # s
//! frame_dt = 0.0166667    # s
//! substeps = "auto"       # or a number; past the stable bound refused unless
//! allow_unstable = false  # is true
//! backend = "auto"        # auto | cpu | gpu
//! threads = "auto"        # CPU backend: or a number (1..=1024)
//! guards = { max_inverted_fraction = 0.05, volume_ratio = [0.5, 2.0], max_speed_ratio = 1.0, max_energy_growth = 0.1, work_tolerance = 0.25 }
//!
//! [output]
//! every = 2               # write every 2nd frame
//!
//! [[motion]]              # moving supports (crate::model::motion): the pins move rigidly
//! t = [0.5, 0.7]          # over [start, end] s
//! translate = [0.0, 0.0, 0.002]
//! ```

pub mod overrides;

use crate::mesh::generate::{box_grid, layered_limb, LimbParams};
use crate::mesh::RegionId;
use crate::mesh::{LoadOptions, MeshError, TetMesh, ValidateOptions};
use crate::model::{Material, Model, ModelBuilder, ModelError, PinSet, Plane};
use crate::sim::{Backend, BackendKind};
use crate::solver::{
    Guards, SolverConfig, SubstepPolicy, Threads, DEFAULT_COURANT, MAX_ITERATIONS, MAX_SUBSTEPS,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most tets a scene may simulate, generated or refined: checked before a generator or
/// a refinement allocates anything.
pub const MAX_TETS: usize = 20_000_000;
const MAX_TETS_MILLIONS: usize = MAX_TETS / 1_000_000;

/// Most uniform refinements (`mesh.refine`).
pub const MAX_REFINE: u32 = 3;

/// Most frames a run may simulate (`simulation.duration / simulation.frame_dt`, with
/// `--duration`): 10 million frames is 46 hours of simulated time at 60 frames/s.
pub const MAX_FRAMES: u64 = 10_000_000;

/// Errors loading or building a scene.
///
/// # One message per error
///
/// Every error type of Vesalius (this one, [`MeshError`], [`ModelError`], the solver's,
/// the robot's and the co-simulation's) follows one rule: **its `Display` is the whole
/// message, the messages of the errors it wraps included, so it exposes none of them as
/// [`std::error::Error::source`]**. A wrapped error lives in a field named `error`, never
/// `source` (which thiserror would expose), and `#[source]` or `#[from]` (which implies
/// `#[source]`) appear only on `#[error(transparent)]` wrappers, which add nothing of their
/// own and forward both message and source to the error they wrap. So a plain `{}`
/// (summary.json, logs, reports) says everything, and a printed chain (anyhow's `{:#}`,
/// as the CLI prints errors) says it once.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The scene file.
        path: String,
        /// The I/O error (in the message, so not a `source`).
        error: std::io::Error,
    },
    /// TOML syntax, unknown key or wrong type (the message names line and column).
    #[error("{path}: {message}")]
    Parse {
        /// The scene file.
        path: String,
        /// What the TOML parser said.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{path}: {what}")]
    Invalid {
        /// The scene file.
        path: String,
        /// What is wrong, with the key.
        what: String,
    },
    /// The mesh could not be loaded or cannot be simulated.
    #[error("{path}: mesh: {error}")]
    Mesh {
        /// The scene file.
        path: String,
        /// The mesh error (in the message, so not a `source`).
        error: MeshError,
    },
    /// The model could not be built.
    #[error("{path}: {error}")]
    Model {
        /// The scene file.
        path: String,
        /// The model error (in the message, so not a `source`).
        error: ModelError,
    },
}

/// `[mesh]`: a file or a generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshSpec {
    /// Mesh file (.msh, .vtk, .vtu, .node/.ele), relative to the scene file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Procedural mesh instead of a file.
    #[serde(default)]
    pub generator: Option<Generator>,
    /// Coordinate scale applied on load (0.001 for millimetres).
    #[serde(default = "one")]
    pub scale: f64,
    /// Uniform 1:8 refinements applied after loading and validation (0..=3; each one halves
    /// every edge and multiplies the tet count by 8, keeping regions and the surface).
    #[serde(default)]
    pub refine: u32,
}

fn one() -> f64 {
    1.0
}

/// Procedural meshes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Generator {
    /// A box of cubes split in 6 tets each, region 1.
    Box {
        /// Cubes along x, y, z.
        cells: [usize; 3],
        /// Size (m).
        size: [f64; 3],
        /// Minimum corner (m).
        #[serde(default)]
        origin: [f64; 3],
    },
    /// A layered limb segment (skin 1, fat 2, muscle 3, vein 4); any field may be omitted.
    Limb(LimbParams),
    /// A patch of forearm for venipuncture (skin 1, fat 2, muscle 3, vein wall 4, vein
    /// lumen 5; see `mesh::generate::vein_slab`): its anatomy and cell sizes are the keys,
    /// named as the fields of `VeinSlabParams` (`vein_x`, `vein_z`, `vein_radius`,
    /// `wall_thickness`, `skin_thickness`, `muscle_depth`, `vein_angle_deg`, `fine_size`,
    /// ...), each optional with the generator's default.
    VeinSlab(crate::mesh::generate::VeinSlabParams),
}

/// Substeps: `"auto"` or a count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SubstepsSpec {
    /// A fixed count.
    Count(u32),
    /// `"auto"`.
    Word(String),
}

/// `[simulation]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationSpec {
    /// Simulated duration (s).
    pub duration: f64,
    /// Frame length (s).
    pub frame_dt: f64,
    /// Substeps per frame.
    pub substeps: SubstepsSpec,
    /// Scale of the automatic substep bounds.
    pub courant: f64,
    /// Gauss-Seidel sweeps per substep.
    pub iterations: u32,
    /// Warm starting of the constraint multipliers.
    pub warm_start: bool,
    /// Gravity (m/s^2).
    pub gravity: [f64; 3],
    /// Global velocity damping (1/s).
    pub velocity_damping: f64,
    /// Speed above which the run is stopped as blown up (m/s).
    pub max_speed: f64,
    /// Backend.
    pub backend: BackendKind,
    /// GPU adapter filter (name or backend substring).
    pub adapter: Option<String>,
    /// Threads of the CPU backend: `"auto"` (this run's share of the cores) or a count.
    pub threads: Threads,
    /// Run even where the substeps are past the stable bound (refused otherwise).
    pub allow_unstable: bool,
    /// Physical sanity guards that stop a broken run (`guards = { ... }`).
    pub guards: Guards,
}

impl SimulationSpec {
    /// The backend and adapter together, as [`crate::sim::Simulation::new`] takes them.
    pub fn backend(&self) -> Backend {
        Backend::new(self.backend, self.adapter.clone())
    }

    /// The substep policy (`substeps` with `courant`), checked.
    pub fn substep_policy(&self) -> Result<SubstepPolicy, String> {
        match &self.substeps {
            SubstepsSpec::Count(n) if (1..=MAX_SUBSTEPS).contains(n) => {
                Ok(SubstepPolicy::Fixed(*n))
            }
            SubstepsSpec::Count(n) => Err(format!(
                "simulation.substeps must be \"auto\" or a count in 1..={MAX_SUBSTEPS}, got {n}"
            )),
            SubstepsSpec::Word(w) if w == "auto" => {
                if !(self.courant.is_finite() && self.courant > 0.0) {
                    return Err(format!(
                        "simulation.courant must be finite and > 0, got {}",
                        self.courant
                    ));
                }
                Ok(SubstepPolicy::Auto {
                    courant: self.courant,
                })
            }
            SubstepsSpec::Word(w) => Err(format!(
                "simulation.substeps must be \"auto\" or a number, got {w:?}"
            )),
        }
    }

    /// Frames to simulate: `duration / frame_dt` rounded (at least 1), checked against
    /// [`MAX_FRAMES`].
    pub fn frames(&self) -> Result<u64, String> {
        if !(self.duration.is_finite() && self.duration > 0.0) {
            return Err(format!(
                "simulation.duration must be finite and > 0 s, got {}",
                self.duration
            ));
        }
        if !(self.frame_dt.is_finite() && self.frame_dt > 0.0) {
            return Err(format!(
                "simulation.frame_dt must be finite and > 0 s, got {}",
                self.frame_dt
            ));
        }
        let frames = (self.duration / self.frame_dt).round().max(1.0);
        if frames > MAX_FRAMES as f64 {
            return Err(format!(
                "simulation.duration (or --duration) = {} s is {frames:.3e} frames of {} s; at most {MAX_FRAMES} frames",
                self.duration, self.frame_dt
            ));
        }
        Ok(frames as u64)
    }

    /// Checks every value of `[simulation]` (the error names the key).
    pub fn check(&self) -> Result<(), String> {
        self.guards.check()?;
        self.frames()?;
        self.substep_policy()?;
        if !(1..=MAX_ITERATIONS).contains(&self.iterations) {
            return Err(format!(
                "simulation.iterations must be in 1..={MAX_ITERATIONS}, got {}",
                self.iterations
            ));
        }
        if !self.gravity.iter().all(|g| g.is_finite()) {
            return Err(format!(
                "simulation.gravity must be finite, got {:?}",
                self.gravity
            ));
        }
        if !(self.velocity_damping.is_finite() && self.velocity_damping >= 0.0) {
            return Err(format!(
                "simulation.velocity_damping must be finite and >= 0 (1/s), got {}",
                self.velocity_damping
            ));
        }
        if !(self.max_speed.is_finite() && self.max_speed > 0.0) {
            return Err(format!(
                "simulation.max_speed must be finite and > 0 m/s, got {}",
                self.max_speed
            ));
        }
        self.threads
            .check()
            .map_err(|e| format!("simulation.{e}"))?;
        Ok(())
    }
}

impl Default for SimulationSpec {
    fn default() -> Self {
        let s = SolverConfig::default();
        Self {
            duration: 1.0,
            frame_dt: s.frame_dt,
            substeps: SubstepsSpec::Word("auto".into()),
            courant: DEFAULT_COURANT,
            iterations: s.iterations,
            warm_start: s.warm_start,
            gravity: [0.0, 0.0, -9.81],
            velocity_damping: 0.0,
            max_speed: s.max_speed,
            backend: BackendKind::Auto,
            adapter: None,
            threads: s.threads,
            allow_unstable: s.allow_unstable,
            guards: Guards::default(),
        }
    }
}

/// `[output]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSpec {
    /// Write a frame every this many simulation frames (the first and last are always written).
    pub every: u32,
}

impl Default for OutputSpec {
    fn default() -> Self {
        Self { every: 1 }
    }
}

/// A scene file as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneFile {
    /// The mesh.
    pub mesh: MeshSpec,
    /// Materials by region id, region name, or `default`.
    #[serde(default)]
    pub materials: BTreeMap<String, Material>,
    /// Pinned vertex sets.
    #[serde(default)]
    pub pin: Vec<PinSet>,
    /// Static collision planes.
    #[serde(default)]
    pub plane: Vec<Plane>,
    /// Solver and run settings.
    #[serde(default)]
    pub simulation: SimulationSpec,
    /// Output cadence.
    #[serde(default)]
    pub output: OutputSpec,
    /// Moving supports: rigid motions of the pin sets over time ([`crate::model::motion`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub motion: Vec<crate::model::SupportMotion>,
}

impl SceneFile {
    /// Checks every value that needs no mesh, and the size of a generated mesh against
    /// [`MAX_TETS`], naming the key (see [`Scene::check`]).
    pub fn check(&self) -> Result<(), String> {
        for (i, m) in self.motion.iter().enumerate() {
            m.check(self.pin.len())
                .map_err(|e| format!("motion[{i}]: {e}"))?;
        }
        let mesh = &self.mesh;
        if mesh.refine > MAX_REFINE {
            return Err(format!(
                "mesh.refine must be in 0..={MAX_REFINE} (at most {MAX_REFINE} levels), got {}",
                mesh.refine
            ));
        }
        match &mesh.generator {
            Some(Generator::Box {
                cells,
                size,
                origin,
            }) => {
                let tets = check_box(cells, size, origin)?;
                check_refined_size(mesh.refine, tets, "the box generator")?;
            }
            Some(Generator::Limb(p)) => check_limb(p, mesh.refine)?,
            Some(Generator::VeinSlab(p)) => {
                p.check().map_err(|e| format!("vein_slab generator: {e}"))?;
                check_refined_size(mesh.refine, p.tet_count(), "the vein_slab generator")?;
            }
            None => {}
        }
        for (key, m) in &self.materials {
            m.check()
                .map_err(|what| format!("materials.{key}: {what}"))?;
        }
        for (i, p) in self.pin.iter().enumerate() {
            p.check().map_err(|what| format!("pin[{i}]: {what}"))?;
        }
        if self.plane.len() > crate::model::MAX_PLANES {
            return Err(format!(
                "{} [[plane]] tables; at most {}",
                self.plane.len(),
                crate::model::MAX_PLANES
            ));
        }
        for (i, p) in self.plane.iter().enumerate() {
            p.check().map_err(|what| format!("plane[{i}]: {what}"))?;
        }
        self.simulation.check()?;
        let every = self.output.every;
        if !(1..=MAX_FRAMES).contains(&(every as u64)) {
            return Err(format!(
                "output.every must be in 1..={MAX_FRAMES} frames, got {every}"
            ));
        }
        Ok(())
    }
}

/// Checks a box generator's values; returns its tet count (6 per cell).
fn check_box(cells: &[usize; 3], size: &[f64; 3], origin: &[f64; 3]) -> Result<usize, String> {
    if cells.contains(&0) {
        return Err(format!(
            "mesh.generator.cells must be >= 1 on every axis, got {cells:?}"
        ));
    }
    let tets = cells
        .iter()
        .try_fold(6usize, |n, &c| n.checked_mul(c))
        .filter(|&n| n <= MAX_TETS);
    let Some(tets) = tets else {
        return Err(format!(
            "mesh.generator.cells = {cells:?} makes {:.3e} tets (6 per cell); at most {MAX_TETS_MILLIONS} million tets",
            6.0 * cells.iter().map(|&c| c as f64).product::<f64>()
        ));
    };
    if !size.iter().all(|s| s.is_finite() && *s > 0.0) {
        return Err(format!(
            "mesh.generator.size must be finite and > 0 m, got {size:?}"
        ));
    }
    if !origin.iter().all(|o| o.is_finite()) {
        return Err(format!(
            "mesh.generator.origin must be finite, got {origin:?}"
        ));
    }
    Ok(tets)
}

/// Checks that `refine` levels of a mesh of `tets` tets (made by `what`) stay within
/// [`MAX_REFINE`] and [`MAX_TETS`].
fn check_refined_size(refine: u32, tets: usize, what: &str) -> Result<(), String> {
    if refine > MAX_REFINE {
        return Err(format!(
            "mesh.refine must be in 0..={MAX_REFINE} (at most {MAX_REFINE} levels), got {refine}"
        ));
    }
    let refined = tets.saturating_mul(8usize.pow(refine));
    if refined > MAX_TETS {
        return Err(format!(
            "mesh.refine = {refine} would make {tets} x 8^{refine} = {refined} tets from {what}; at most {MAX_TETS_MILLIONS} million tets"
        ));
    }
    Ok(())
}

/// The limb generator's parameters, defaults for those not given.
#[allow(clippy::too_many_arguments)]
/// Checks the limb generator's parameters and its size (estimated before anything is
/// generated).
fn check_limb(p: &LimbParams, refine: u32) -> Result<(), String> {
    let positive = [
        p.radius,
        p.length,
        p.skin_thickness,
        p.muscle_radius,
        p.vein_radius,
        p.radial_size,
    ]
    .iter()
    .all(|v| v.is_finite() && *v > 0.0);
    if !positive
        || p.radius <= p.muscle_radius + p.skin_thickness
        || p.n_theta < 6
        || p.n_z < 1
        || p.n_z > 2000
        || p.n_theta > 2000
    {
        return Err(format!("limb generator: inconsistent parameters {p:?}"));
    }
    let tets = p.estimated_tets();
    if tets > MAX_TETS {
        return Err(format!(
            "limb generator: n_theta = {}, n_z = {} and radial_size = {} m (radius {} m) make about {tets} tets; at most {MAX_TETS_MILLIONS} million tets",
            p.n_theta, p.n_z, p.radial_size, p.radius
        ));
    }
    check_refined_size(refine, tets, "the limb generator")
}

/// A loaded scene: its file, its directory (mesh paths are relative to it) and contents.
#[derive(Clone, Debug)]
pub struct Scene {
    /// Path of the scene file.
    pub path: PathBuf,
    /// Parsed contents.
    pub file: SceneFile,
}

/// What [`Scene::build`] makes.
#[derive(Debug)]
pub struct BuiltScene {
    /// The model.
    pub model: Model,
    /// Solver settings.
    pub solver: SolverConfig,
    /// Frames to simulate.
    pub frames: u64,
    /// Warnings found while loading the mesh (units, unreferenced vertices, fixed tets).
    pub warnings: Vec<String>,
}

impl Scene {
    /// Reads and parses a scene file.
    pub fn load(path: &Path) -> Result<Self, SceneError> {
        let text = std::fs::read_to_string(path).map_err(|error| SceneError::Io {
            path: path.display().to_string(),
            error,
        })?;
        Self::parse(&text, path)
    }

    /// Parses scene text and checks its values ([`Scene::check`]); `path` is used for
    /// messages and relative mesh paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SceneError> {
        let file: SceneFile = toml::from_str(text).map_err(|e| SceneError::Parse {
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

    /// Parses scene text as [`Scene::parse`] does after making `changes` to its values
    /// ([`overrides`]); an error about a changed value lists the changes.
    pub fn parse_with(
        text: &str,
        path: &Path,
        changes: &[overrides::Override],
    ) -> Result<Self, SceneError> {
        if changes.is_empty() {
            return Self::parse(text, path);
        }
        let file: SceneFile =
            overrides::read_with(text, changes).map_err(|message| SceneError::Parse {
                path: path.display().to_string(),
                message,
            })?;
        let scene = Self {
            path: path.to_path_buf(),
            file,
        };
        scene.file.check().map_err(|what| {
            scene.invalid(format!("with {}: {what}", overrides::describe(changes)))
        })?;
        Ok(scene)
    }

    /// Checks every value that needs no mesh, and every size against its limit, before
    /// anything is loaded, generated or allocated; the error names the key. [`Scene::parse`]
    /// and [`Scene::build`] call it (the latter again, for values changed since, such as
    /// `--duration`). What needs the mesh (region names, pins that select nothing) is
    /// checked by [`Scene::build`] once the mesh is there, still before any simulation.
    pub fn check(&self) -> Result<(), SceneError> {
        self.file.check().map_err(|what| self.invalid(what))
    }

    fn invalid(&self, what: impl Into<String>) -> SceneError {
        SceneError::Invalid {
            path: self.path.display().to_string(),
            what: what.into(),
        }
    }

    /// Loads or generates the mesh and validates it (inverted tets are reoriented, with a
    /// warning; anything that cannot be simulated is an error).
    pub fn mesh(&self) -> Result<(TetMesh, Vec<String>), SceneError> {
        let spec = &self.file.mesh;
        if !(spec.scale.is_finite() && spec.scale > 0.0) {
            return Err(self.invalid(format!("mesh.scale must be > 0, got {}", spec.scale)));
        }
        let mut mesh = match (&spec.file, &spec.generator) {
            (Some(_), Some(_)) => {
                return Err(self.invalid("[mesh] has both `file` and `generator`: give one"))
            }
            (None, None) => return Err(self.invalid("[mesh] needs `file` or `generator`")),
            (Some(file), None) => {
                let base = self.path.parent().unwrap_or(Path::new("."));
                let full = if file.is_absolute() {
                    file.clone()
                } else {
                    base.join(file)
                };
                crate::mesh::load(&full, &LoadOptions { scale: spec.scale }).map_err(|error| {
                    SceneError::Mesh {
                        path: self.path.display().to_string(),
                        error,
                    }
                })?
            }
            (None, Some(g)) => {
                let mut m = self.generate(g)?;
                m.scale(spec.scale);
                m
            }
        };
        let report =
            crate::mesh::validate(&mut mesh, &ValidateOptions::default()).map_err(|error| {
                SceneError::Mesh {
                    path: self.path.display().to_string(),
                    error,
                }
            })?;
        if !report.is_ok() {
            let errors: Vec<String> = report.errors.iter().map(|i| i.message.clone()).collect();
            return Err(self.invalid(format!("mesh cannot be simulated: {}", errors.join("; "))));
        }
        let mut warnings: Vec<String> = Vec::new();
        for w in &report.warnings {
            if !warnings.contains(&w.message) {
                warnings.push(w.message.clone());
            }
        }
        // Generated sizes were checked before generating (`check`); a file's tet count is
        // known only now, before refining.
        check_refined_size(spec.refine, mesh.tets.len(), "the mesh")
            .map_err(|what| self.invalid(what))?;
        for _ in 0..spec.refine {
            mesh = crate::mesh::refine(&mesh);
        }
        Ok((mesh, warnings))
    }

    fn generate(&self, g: &Generator) -> Result<TetMesh, SceneError> {
        match g {
            Generator::Box {
                cells,
                size,
                origin,
            } => {
                // Sizes and values: checked by `check` before we get here.
                check_box(cells, size, origin).map_err(|what| self.invalid(what))?;
                Ok(box_grid(*cells, *size, *origin))
            }
            Generator::Limb(p) => {
                check_limb(p, self.file.mesh.refine).map_err(|what| self.invalid(what))?;
                Ok(layered_limb(p))
            }
            Generator::VeinSlab(p) => {
                p.check()
                    .map_err(|e| self.invalid(format!("vein_slab generator: {e}")))?;
                let ok = p.fine_size >= 1e-4
                    && p.fine_size <= p.path_size
                    && p.path_size <= p.max_cell
                    && p.max_cell <= 0.01
                    && p.fine_size <= p.wall_thickness * 2.5;
                if !ok {
                    return Err(self.invalid(format!(
                        "vein_slab generator: need 1e-4 <= fine_size ({}) <= path_size ({}) <= max_cell ({}) <= 0.01 m and fine_size <= 2.5 x wall_thickness ({})",
                        p.fine_size, p.path_size, p.max_cell, p.wall_thickness
                    )));
                }
                Ok(crate::mesh::generate::vein_slab(p))
            }
        }
    }

    /// Builds the model and solver settings.
    pub fn build(&self) -> Result<BuiltScene, SceneError> {
        self.check()?;
        let (mesh, warnings) = self.mesh()?;
        let sim = &self.file.simulation;
        let substeps = sim.substep_policy().map_err(|what| self.invalid(what))?;
        let names: BTreeMap<&str, RegionId> = mesh
            .region_names
            .iter()
            .map(|(id, n)| (n.as_str(), *id))
            .collect();
        let present: std::collections::BTreeSet<RegionId> = mesh.regions.iter().copied().collect();
        let mut builder = ModelBuilder::new(mesh.clone())
            .gravity(sim.gravity)
            .velocity_damping(sim.velocity_damping);
        for (key, m) in &self.file.materials {
            if key == "default" {
                builder = builder.default_material(*m);
                continue;
            }
            let region = match key.parse::<RegionId>() {
                Ok(id) => id,
                Err(_) => *names.get(key.as_str()).ok_or_else(|| {
                    self.invalid(format!(
                        "materials.{key}: no region of that name (regions: {})",
                        mesh.region_names
                            .iter()
                            .map(|(i, n)| format!("{i} = {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
            };
            if !present.contains(&region) {
                return Err(self.invalid(format!("materials.{key}: region {region} has no tets in this mesh (regions present: {present:?})")));
            }
            builder = builder.material(region, *m);
        }
        for p in &self.file.pin {
            builder = builder.pin(p.clone());
        }
        for p in &self.file.plane {
            builder = builder.plane(*p);
        }
        let model = builder.build().map_err(|error| SceneError::Model {
            path: self.path.display().to_string(),
            error,
        })?;
        let solver = SolverConfig {
            frame_dt: sim.frame_dt,
            substeps,
            iterations: sim.iterations,
            warm_start: sim.warm_start,
            max_speed: sim.max_speed,
            threads: sim.threads,
            allow_unstable: sim.allow_unstable,
            guards: sim.guards.clone(),
        };
        let frames = sim.frames().map_err(|what| self.invalid(what))?;
        Ok(BuiltScene {
            model,
            solver,
            frames,
            warnings,
        })
    }
}
