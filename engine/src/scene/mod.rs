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
//!
//! [output]
//! every = 2               # write every 2nd frame
//! ```

use crate::mesh::generate::{box_grid, layered_limb, LimbParams};
use crate::mesh::{LoadOptions, MeshError, TetMesh, ValidateOptions};
use crate::model::{Material, Model, ModelBuilder, ModelError, PinSet, Plane};
use crate::sim::{Backend, BackendKind};
use crate::solver::{SolverConfig, SubstepPolicy, Threads, DEFAULT_COURANT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors loading or building a scene.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The scene file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
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
    #[error("{path}: mesh: {source}")]
    Mesh {
        /// The scene file.
        path: String,
        /// The mesh error.
        source: MeshError,
    },
    /// The model could not be built.
    #[error("{path}: {source}")]
    Model {
        /// The scene file.
        path: String,
        /// The model error.
        source: ModelError,
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
    Limb {
        /// Outer radius (m).
        radius: Option<f64>,
        /// Length along +z (m).
        length: Option<f64>,
        /// Skin thickness (m).
        skin_thickness: Option<f64>,
        /// Muscle core radius (m).
        muscle_radius: Option<f64>,
        /// Vein radius (m).
        vein_radius: Option<f64>,
        /// Vein axis (x, y) (m).
        vein_center: Option<[f64; 2]>,
        /// Angular divisions.
        n_theta: Option<usize>,
        /// Radial cell size (m).
        radial_size: Option<f64>,
        /// Axial divisions.
        n_z: Option<usize>,
    },
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
}

impl SimulationSpec {
    /// The backend and adapter together, as [`crate::sim::Simulation::new`] takes them.
    pub fn backend(&self) -> Backend {
        Backend::new(self.backend, self.adapter.clone())
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
        let text = std::fs::read_to_string(path).map_err(|source| SceneError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses scene text; `path` is used for messages and relative mesh paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SceneError> {
        let file: SceneFile = toml::from_str(text).map_err(|e| SceneError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
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
                crate::mesh::load(&full, &LoadOptions { scale: spec.scale }).map_err(|source| {
                    SceneError::Mesh {
                        path: self.path.display().to_string(),
                        source,
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
            crate::mesh::validate(&mut mesh, &ValidateOptions::default()).map_err(|source| {
                SceneError::Mesh {
                    path: self.path.display().to_string(),
                    source,
                }
            })?;
        if !report.is_ok() {
            let errors: Vec<String> = report.errors.iter().map(|i| i.message.clone()).collect();
            return Err(self.invalid(format!("mesh cannot be simulated: {}", errors.join("; "))));
        }
        let warnings = report.warnings.iter().map(|i| i.message.clone()).collect();
        if spec.refine > 3 || mesh.tets.len() * 8usize.pow(spec.refine) > 20_000_000 {
            return Err(self.invalid(format!(
                "mesh.refine = {} would make {} x 8^{} tets (at most 3 levels and 20 million tets)",
                spec.refine,
                mesh.tets.len(),
                spec.refine
            )));
        }
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
                if cells.iter().any(|&c| c == 0 || c > 1000)
                    || size.iter().any(|&s| !(s.is_finite() && s > 0.0))
                {
                    return Err(self.invalid(format!("box generator: cells must be 1..=1000 and size > 0, got {cells:?} {size:?}")));
                }
                Ok(box_grid(*cells, *size, *origin))
            }
            Generator::Limb {
                radius,
                length,
                skin_thickness,
                muscle_radius,
                vein_radius,
                vein_center,
                n_theta,
                radial_size,
                n_z,
            } => {
                let d = LimbParams::default();
                let p = LimbParams {
                    radius: radius.unwrap_or(d.radius),
                    length: length.unwrap_or(d.length),
                    skin_thickness: skin_thickness.unwrap_or(d.skin_thickness),
                    muscle_radius: muscle_radius.unwrap_or(d.muscle_radius),
                    vein_radius: vein_radius.unwrap_or(d.vein_radius),
                    vein_center: vein_center.unwrap_or(d.vein_center),
                    n_theta: n_theta.unwrap_or(d.n_theta),
                    radial_size: radial_size.unwrap_or(d.radial_size),
                    n_z: n_z.unwrap_or(d.n_z),
                };
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
                    return Err(
                        self.invalid(format!("limb generator: inconsistent parameters {p:?}"))
                    );
                }
                Ok(layered_limb(&p))
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
        let (mesh, warnings) = self.mesh()?;
        let sim = &self.file.simulation;
        if !(sim.duration.is_finite() && sim.duration > 0.0) {
            return Err(self.invalid(format!(
                "simulation.duration must be > 0 s, got {}",
                sim.duration
            )));
        }
        if !(sim.frame_dt.is_finite() && sim.frame_dt > 0.0) {
            return Err(self.invalid(format!(
                "simulation.frame_dt must be > 0 s, got {}",
                sim.frame_dt
            )));
        }
        if self.file.output.every == 0 {
            return Err(self.invalid("output.every must be >= 1"));
        }
        let substeps = match &sim.substeps {
            SubstepsSpec::Count(n) => SubstepPolicy::Fixed(*n),
            SubstepsSpec::Word(w) if w == "auto" => SubstepPolicy::Auto {
                courant: sim.courant,
            },
            SubstepsSpec::Word(w) => {
                return Err(self.invalid(format!(
                    "simulation.substeps must be \"auto\" or a number, got {w:?}"
                )))
            }
        };
        let names: BTreeMap<&str, i32> = mesh
            .region_names
            .iter()
            .map(|(id, n)| (n.as_str(), *id))
            .collect();
        let present: std::collections::BTreeSet<i32> = mesh.regions.iter().copied().collect();
        let mut builder = ModelBuilder::new(mesh.clone())
            .gravity(sim.gravity)
            .velocity_damping(sim.velocity_damping);
        for (key, m) in &self.file.materials {
            if key == "default" {
                builder = builder.default_material(*m);
                continue;
            }
            let region = match key.parse::<i32>() {
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
        let model = builder.build().map_err(|source| SceneError::Model {
            path: self.path.display().to_string(),
            source,
        })?;
        let solver = SolverConfig {
            frame_dt: sim.frame_dt,
            substeps,
            iterations: sim.iterations,
            warm_start: sim.warm_start,
            max_speed: sim.max_speed,
            threads: sim.threads,
            allow_unstable: sim.allow_unstable,
        };
        let frames = (sim.duration / sim.frame_dt).round().max(1.0) as u64;
        Ok(BuiltScene {
            model,
            solver,
            frames,
            warnings,
        })
    }
}
