//! The Rust half of the Python package `vesalius` (`vesalius._vesalius`): scenes, the
//! tissue and co-simulation runs with their state as numpy arrays, world snapshots,
//! batched rollouts, `predict` and the planner. The Python half (`python/vesalius/`) adds
//! what is easier written in Python (building a scene from a dict, the context managers)
//! and the type stubs.
//!
//! Every call that steps or plans releases the GIL. A run's Rust object sits behind a
//! mutex that is only taken with the GIL released, so two Python threads sharing one run
//! take turns instead of deadlocking.

use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::{PyException, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use vesalius_cosim::plan::{self as planning, PlanOptions, Variable};
use vesalius_cosim::{
    CoSim as RustCoSim, CoSimError, CoSimScene, PredictOptions, Report as RustReport, SceneRobot,
    Trajectory, WaypointSpec, WorldSnapshot,
};
use vesalius_engine::model::SupportDrive;
use vesalius_engine::output::{tet_strain, FrameWriter, OutputError as EngineOutputError};
use vesalius_engine::scene::{Scene as TissueScene, SceneError as RustSceneError};
use vesalius_engine::sim::{BackendKind, Simulation};
use vesalius_engine::solver::{SimError, Threads};

mod trial;

pyo3::create_exception!(
    vesalius,
    VesaliusError,
    PyException,
    "Base class of the errors the engine raises; the message is the engine's (file and key or line where it has them)."
);
pyo3::create_exception!(
    vesalius,
    SceneError,
    VesaliusError,
    "A scene file (or dict) that cannot be read, parsed or built: the message names the file and the key or line."
);
pyo3::create_exception!(
    vesalius,
    SimulationError,
    VesaliusError,
    "The simulation failed: unstable settings, a blow-up, a device error."
);
pyo3::create_exception!(
    vesalius,
    GuardError,
    SimulationError,
    "A physical sanity guard broke (inversion, volume, speed, energy); the run stopped at that frame."
);
pyo3::create_exception!(
    vesalius,
    RobotError,
    VesaliusError,
    "The robot: its URDF, its joints, a trajectory or joint targets it cannot take."
);
pyo3::create_exception!(
    vesalius,
    OutputError,
    VesaliusError,
    "Writing outputs failed (an existing output folder without force=True, a full disk)."
);

/// The exception for an engine error, by kind.
fn sim_err(e: SimError) -> PyErr {
    match e {
        SimError::Guard(b) => GuardError::new_err(b.to_string()),
        e => SimulationError::new_err(e.to_string()),
    }
}

fn cosim_err(e: CoSimError) -> PyErr {
    match e {
        CoSimError::Sim(e) => sim_err(e),
        CoSimError::Robot(_) | CoSimError::Trajectory(_) | CoSimError::JointTargets { .. } => {
            RobotError::new_err(e.to_string())
        }
        e @ (CoSimError::Scene { .. } | CoSimError::Tissue(_)) => {
            SceneError::new_err(e.to_string())
        }
        e => VesaliusError::new_err(e.to_string()),
    }
}

fn scene_err(e: RustSceneError) -> PyErr {
    SceneError::new_err(e.to_string())
}

fn output_err(e: EngineOutputError) -> PyErr {
    OutputError::new_err(e.to_string())
}

fn poisoned<T>(_: T) -> PyErr {
    PyRuntimeError::new_err("an earlier call on this object panicked; its state is lost")
}

/// A serde value as Python objects (dicts, lists, floats, None), through `json`.
fn to_py<'py>(py: Python<'py>, value: &impl Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| PyRuntimeError::new_err(format!("encoding a result: {e}")))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// A Python value (dicts, lists, numbers, strings) as JSON text, for serde on this side;
/// NaN and infinities are refused (`what` names the value in the message).
fn json_of(obj: &Bound<'_, PyAny>, what: &str, err: fn(String) -> PyErr) -> PyResult<String> {
    let json = obj.py().import("json")?;
    let kwargs = PyDict::new(obj.py());
    kwargs.set_item("allow_nan", false)?;
    match json.call_method("dumps", (obj,), Some(&kwargs)) {
        Ok(t) => t.extract::<String>(),
        Err(e) => Err(err(format!(
            "{what}: not plain data (dicts, lists, finite numbers, strings): {}",
            e.value(obj.py())
        ))),
    }
}

fn robot_err(m: String) -> PyErr {
    RobotError::new_err(m)
}

fn parse_backend(backend: Option<&str>) -> PyResult<Option<BackendKind>> {
    backend
        .map(|b| b.parse::<BackendKind>().map_err(PyValueError::new_err))
        .transpose()
}

/// `threads`: None (the scene's), "auto" or a count.
fn parse_threads(threads: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Threads>> {
    let Some(t) = threads else { return Ok(None) };
    let text = match t.extract::<usize>() {
        Ok(n) => n.to_string(),
        Err(_) => t
            .extract::<String>()
            .map_err(|_| PyValueError::new_err("threads must be \"auto\" or a count (an int)"))?,
    };
    text.parse::<Threads>()
        .map(Some)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

fn duration_arg(duration: Option<f64>) -> PyResult<Option<f64>> {
    match duration {
        Some(d) if !(d.is_finite() && d > 0.0) => Err(PyValueError::new_err(format!(
            "duration must be a positive number of seconds, got {d}"
        ))),
        d => Ok(d),
    }
}

/// A budget: seconds (a number) or text with a unit ("200ms", "2s").
fn parse_budget(budget: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let text = match budget.extract::<f64>() {
        Ok(s) => format!("{s}s"),
        Err(_) => budget.extract::<String>().map_err(|_| {
            PyValueError::new_err("budget must be seconds (a number) or text such as \"200ms\"")
        })?,
    };
    planning::spec::parse_budget(&text).map_err(PyValueError::new_err)
}

fn vec3_array<'py>(py: Python<'py>, v: &[[f32; 3]]) -> Bound<'py, PyArray2<f32>> {
    let flat: Vec<f32> = v.iter().flatten().copied().collect();
    Array2::from_shape_vec((v.len(), 3), flat)
        .expect("n x 3")
        .into_pyarray(py)
}

fn index_array<'py, const N: usize>(py: Python<'py>, v: &[[u32; N]]) -> Bound<'py, PyArray2<u32>> {
    let flat: Vec<u32> = v.iter().flatten().copied().collect();
    Array2::from_shape_vec((v.len(), N), flat)
        .expect("n x N")
        .into_pyarray(py)
}

fn rows_f64<'py, const N: usize>(py: Python<'py>, v: &[[f64; N]]) -> Bound<'py, PyArray2<f64>> {
    let flat: Vec<f64> = v.iter().flatten().copied().collect();
    Array2::from_shape_vec((v.len(), N), flat)
        .expect("n x N")
        .into_pyarray(py)
}

// ---------------------------------------------------------------------------------------
// Scenes

#[derive(Clone)]
enum SceneKind {
    CoSim(Box<CoSimScene>),
    Tissue(Box<TissueScene>),
}

/// A scene: a tissue scene or a co-simulation scene (one with a `[robot]`), loaded from a
/// TOML file or built from a dict (`Scene.from_dict`). Relative paths in it resolve from
/// the file's folder (or `base_dir`).
#[pyclass(module = "vesalius", frozen)]
#[derive(Clone)]
struct Scene {
    kind: SceneKind,
    text: String,
    path: PathBuf,
}

impl Scene {
    fn parse(text: String, path: PathBuf) -> PyResult<Self> {
        let kind = if vesalius_cosim::scene::is_cosim(&text) {
            SceneKind::CoSim(Box::new(
                CoSimScene::parse(&text, &path).map_err(cosim_err)?,
            ))
        } else {
            SceneKind::Tissue(Box::new(
                TissueScene::parse(&text, &path).map_err(scene_err)?,
            ))
        };
        Ok(Self { kind, text, path })
    }

    fn cosim(&self, what: &str) -> PyResult<&CoSimScene> {
        match &self.kind {
            SceneKind::CoSim(s) => Ok(s),
            SceneKind::Tissue(_) => Err(SceneError::new_err(format!(
                "{}: {what} needs a co-simulation scene (one with a [robot]); this is a tissue scene",
                self.path.display()
            ))),
        }
    }
}

#[pymethods]
impl Scene {
    /// Reads a scene file.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            SceneError::new_err(format!("{}: cannot read the scene: {e}", path.display()))
        })?;
        Self::parse(text, path)
    }

    /// A scene from its TOML text; `path` names it in errors and is where its relative
    /// paths resolve from (default: `scene.toml` in the working folder).
    #[staticmethod]
    #[pyo3(signature = (text, path = None))]
    fn from_toml(text: String, path: Option<PathBuf>) -> PyResult<Self> {
        Self::parse(text, path.unwrap_or_else(|| PathBuf::from("scene.toml")))
    }

    /// A scene built in code: a dict with the same tables and keys as a scene file,
    /// checked the same way. Relative paths (meshes, URDFs) resolve from `base_dir`
    /// (default: the working folder); `name` names it in error messages.
    #[staticmethod]
    #[pyo3(signature = (scene, base_dir = None, name = "scene.toml"))]
    fn from_dict(
        scene: &Bound<'_, PyDict>,
        base_dir: Option<PathBuf>,
        name: &str,
    ) -> PyResult<Self> {
        let base = match base_dir {
            Some(b) => b,
            None => std::env::current_dir()
                .map_err(|e| SceneError::new_err(format!("the working folder: {e}")))?,
        };
        let path = base.join(name);
        let shown = path.display().to_string();
        let json = json_of(scene.as_any(), &shown, SceneError::new_err)?;
        let value: serde_json::Value = serde_json::from_str(&json)
            .map_err(|e| SceneError::new_err(format!("{shown}: {e}")))?;
        let text = toml::to_string(&value).map_err(|e| {
            SceneError::new_err(format!(
                "{shown}: the dict is not a scene table (TOML has no None): {e}"
            ))
        })?;
        Self::parse(text, path)
    }

    /// The scene's TOML text.
    #[getter]
    fn text(&self) -> &str {
        &self.text
    }

    /// The scene file's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// "cosim" (a robot in the tissue) or "tissue".
    #[getter]
    fn kind(&self) -> &'static str {
        match self.kind {
            SceneKind::CoSim(_) => "cosim",
            SceneKind::Tissue(_) => "tissue",
        }
    }

    /// Whether the scene has a `[plan]`.
    #[getter]
    fn has_plan(&self) -> bool {
        matches!(&self.kind, SceneKind::CoSim(s) if s.file.plan.is_some())
    }

    /// The names of the planner's decision variables, in candidate order.
    #[staticmethod]
    fn plan_variables() -> Vec<&'static str> {
        Variable::ALL.iter().map(|v| v.key()).collect()
    }

    fn __repr__(&self) -> String {
        format!("<vesalius.Scene {} ({})>", self.path.display(), self.kind())
    }
}

// ---------------------------------------------------------------------------------------
// State arrays, shared by both kinds of run

/// A tissue array read from the simulation (a read-back on the GPU), before it becomes a
/// numpy array.
enum Data {
    V3(Vec<[f32; 3]>),
    Tets(Vec<[u32; 4]>),
    Tris(Vec<[u32; 3]>),
    I32(Vec<i32>),
    Strain([Vec<f32>; 3]),
}

/// The tissue arrays a run exposes, by name.
fn tissue_data(sim: &mut Simulation, what: &str) -> PyResult<Data> {
    let (model, state) = sim.sync_model_and_state().map_err(sim_err)?;
    Ok(match what {
        "positions" => Data::V3(state.positions(model)),
        "displacements" => Data::V3(state.displacements.clone()),
        "velocities" => Data::V3(state.velocities.clone()),
        "rest_positions" => Data::V3(model.rest_positions.clone()),
        "tets" => Data::Tets(model.tets.clone()),
        "surface" => Data::Tris(model.surface.clone()),
        "tet_regions" => Data::I32(model.tet_region.iter().map(|r| r.0).collect()),
        "strain" => {
            let s = tet_strain(model, state);
            Data::Strain([s.green_strain, s.max_stretch, s.volume_ratio])
        }
        other => unreachable!("no tissue array {other}"),
    })
}

/// The array moved into numpy (no copy).
fn data_to_py(py: Python<'_>, data: Data) -> PyResult<Bound<'_, PyAny>> {
    Ok(match data {
        Data::V3(v) => vec3_array(py, &v).into_any(),
        Data::Tets(v) => index_array(py, &v).into_any(),
        Data::Tris(v) => index_array(py, &v).into_any(),
        Data::I32(v) => Array1::from_vec(v).into_pyarray(py).into_any(),
        Data::Strain([g, s, j]) => {
            let d = PyDict::new(py);
            d.set_item("green_strain", Array1::from_vec(g).into_pyarray(py))?;
            d.set_item("max_stretch", Array1::from_vec(s).into_pyarray(py))?;
            d.set_item("volume_ratio", Array1::from_vec(j).into_pyarray(py))?;
            d.into_any()
        }
    })
}

/// Runs `f` on the locked run with the GIL released. Every lock of a run is taken this
/// way and dropped before the GIL is taken back, so a thread waiting for the lock never
/// holds the GIL that the holder needs (no deadlock between Python threads).
fn with_locked<T: Send, R: Send>(
    py: Python<'_>,
    m: &Mutex<T>,
    f: impl FnOnce(&mut T) -> PyResult<R> + Send,
) -> PyResult<R> {
    py.detach(|| {
        let mut g = m.lock().map_err(poisoned)?;
        f(&mut g)
    })
}

/// Frames written as a run steps: the ParaView series of the CLI (`tissue.pvd` and a
/// `.vtu` per written frame).
struct Recording {
    writer: FrameWriter,
    every: u64,
    stepped: u64,
}

impl Recording {
    fn open(dir: &Path, every: u64, force: bool, sim: &mut Simulation) -> PyResult<Self> {
        if every == 0 {
            return Err(PyValueError::new_err("every must be at least 1"));
        }
        let mut writer = FrameWriter::create(dir, force).map_err(output_err)?;
        let (m, s) = sim.sync_model_and_state().map_err(sim_err)?;
        writer.write_frame(m, s).map_err(output_err)?;
        Ok(Self {
            writer,
            every,
            stepped: 0,
        })
    }

    fn after_frame(&mut self, sim: &mut Simulation) -> Result<(), String> {
        self.stepped += 1;
        if self.stepped.is_multiple_of(self.every) {
            let (m, s) = sim.sync_model_and_state().map_err(|e| e.to_string())?;
            self.writer.write_frame(m, s).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Tissue runs

struct TissueInner {
    sim: Simulation,
    supports: SupportDrive,
    frames: u64,
    recording: Option<Recording>,
}

/// A tissue-only run (a scene without a robot): step frames, read the state.
#[pyclass(module = "vesalius", frozen)]
struct Tissue {
    inner: Mutex<TissueInner>,
    scene: PathBuf,
}

#[pymethods]
impl Tissue {
    /// A run of `scene` (a tissue scene), with the scene's backend and threads unless
    /// given ("cpu", "gpu", "auto"; threads "auto" or a count).
    #[new]
    #[pyo3(signature = (scene, backend = None, threads = None, duration = None))]
    fn new(
        py: Python<'_>,
        scene: &Scene,
        backend: Option<&str>,
        threads: Option<&Bound<'_, PyAny>>,
        duration: Option<f64>,
    ) -> PyResult<Self> {
        let SceneKind::Tissue(s) = &scene.kind else {
            return Err(SceneError::new_err(format!(
                "{}: a scene with a [robot] runs as vesalius.CoSim, not Tissue",
                scene.path.display()
            )));
        };
        let mut s = (**s).clone();
        if let Some(b) = parse_backend(backend)? {
            s.file.simulation.backend = b;
        }
        if let Some(t) = parse_threads(threads)? {
            s.file.simulation.threads = t;
        }
        if let Some(d) = duration_arg(duration)? {
            s.file.simulation.duration = d;
        }
        let path = scene.path.clone();
        let inner = py.detach(move || -> PyResult<TissueInner> {
            let built = s.build().map_err(scene_err)?;
            let frames = built.frames;
            let sim = Simulation::new(built.model, &built.solver, s.file.simulation.backend())
                .map_err(sim_err)?;
            let supports = SupportDrive::new(sim.model(), &s.file.motion)
                .map_err(|m| SceneError::new_err(format!("{}: {m}", path.display())))?;
            Ok(TissueInner {
                sim,
                supports,
                frames,
                recording: None,
            })
        })?;
        Ok(Self {
            inner: Mutex::new(inner),
            scene: scene.path.clone(),
        })
    }

    /// Advances `frames` frames (GIL released); returns the simulated time. A broken guard
    /// raises `GuardError` (the state is the breaking frame's on the CPU).
    #[pyo3(signature = (frames = 1))]
    fn step(&self, py: Python<'_>, frames: u64) -> PyResult<f64> {
        py.detach(|| -> PyResult<f64> {
            let mut g = self.inner.lock().map_err(poisoned)?;
            let inner = &mut *g;
            for _ in 0..frames {
                inner
                    .sim
                    .step_with_supports(&inner.supports, 1)
                    .map_err(sim_err)?;
                if let Some(r) = &mut inner.recording {
                    r.after_frame(&mut inner.sim)
                        .map_err(OutputError::new_err)?;
                }
            }
            Ok(inner.sim.time())
        })
    }

    /// Runs the frames the scene asks for (its duration) from where the run is.
    fn run(&self, py: Python<'_>) -> PyResult<f64> {
        let left = {
            let g = self.inner.lock().map_err(poisoned)?;
            let done = (g.sim.time() / g.sim.plan().frame_dt).round() as u64;
            g.frames.saturating_sub(done)
        };
        self.step(py, left)
    }

    /// Writes the ParaView series (`tissue.pvd`, one `.vtu` per written frame, as `vesalius
    /// run` does) into `out` from now on: the current frame, then every `every`-th frame.
    /// An existing non-empty folder is refused unless `force`.
    #[pyo3(signature = (out, every = 1, force = false))]
    fn record(&self, py: Python<'_>, out: PathBuf, every: u64, force: bool) -> PyResult<()> {
        py.detach(|| {
            let mut g = self.inner.lock().map_err(poisoned)?;
            let inner = &mut *g;
            inner.recording = Some(Recording::open(&out, every, force, &mut inner.sim)?);
            Ok(())
        })
    }

    /// Stops writing frames (the series written so far stays complete).
    fn close(&self) -> PyResult<()> {
        self.inner.lock().map_err(poisoned)?.recording = None;
        Ok(())
    }

    /// Vertex positions now (N x 3, float32, m).
    fn positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "positions")
    }
    /// Vertex displacements from rest (N x 3, float32, m).
    fn displacements<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "displacements")
    }
    /// Vertex velocities (N x 3, float32, m/s).
    fn velocities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "velocities")
    }
    /// Rest positions (N x 3, float32, m).
    fn rest_positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "rest_positions")
    }
    /// Tets (T x 4, uint32 vertex indices).
    fn tets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "tets")
    }
    /// Boundary triangles, outward (F x 3, uint32 vertex indices).
    fn surface_triangles<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "surface")
    }
    /// Region id of every tet (T, int32).
    fn tet_regions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "tet_regions")
    }
    /// Per-tet strain now: a dict of `green_strain` (Frobenius norm of E), `max_stretch`
    /// and `volume_ratio` (det F), each (T,) float32.
    fn tet_strain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "strain")
    }

    /// Region names by id.
    #[getter]
    fn region_names(&self) -> PyResult<std::collections::BTreeMap<i32, String>> {
        Ok(region_tags(
            &self
                .inner
                .lock()
                .map_err(poisoned)?
                .sim
                .model()
                .region_names,
        ))
    }

    /// Simulated time (s).
    #[getter]
    fn time(&self) -> PyResult<f64> {
        Ok(self.inner.lock().map_err(poisoned)?.sim.time())
    }

    /// Frames the scene asks for.
    #[getter]
    fn frames(&self) -> PyResult<u64> {
        Ok(self.inner.lock().map_err(poisoned)?.frames)
    }

    /// The substep plan: substeps per frame, dt, frame dt, and how it was chosen.
    #[getter]
    fn substeps(&self) -> PyResult<u32> {
        Ok(self.inner.lock().map_err(poisoned)?.sim.plan().substeps)
    }

    /// The backend, in words (adapter included).
    #[getter]
    fn backend(&self) -> PyResult<String> {
        Ok(self.inner.lock().map_err(poisoned)?.sim.backend_name())
    }

    /// Whole-model diagnostics now (energies, volume, worst tets), as a dict.
    fn diagnostics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let d = py.detach(|| -> PyResult<_> {
            let mut g = self.inner.lock().map_err(poisoned)?;
            g.sim.diagnostics().map_err(sim_err)
        })?;
        to_py(py, &d)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close()?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        match self.inner.lock() {
            Ok(g) => format!(
                "<vesalius.Tissue {}: {} tets on {}, t = {:.4} s>",
                self.scene.display(),
                g.sim.model().num_tets(),
                g.sim.backend_name(),
                g.sim.time()
            ),
            Err(_) => "<vesalius.Tissue (lost)>".into(),
        }
    }
}

impl Tissue {
    fn with<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut TissueInner) -> PyResult<R> + Send,
    ) -> PyResult<R> {
        with_locked(py, &self.inner, f)
    }

    fn array<'py>(&self, py: Python<'py>, what: &str) -> PyResult<Bound<'py, PyAny>> {
        let data = self.with(py, |g| tissue_data(&mut g.sim, what))?;
        data_to_py(py, data)
    }
}

// ---------------------------------------------------------------------------------------
// Co-simulation runs

struct CoSimInner {
    sim: RustCoSim,
    scene: CoSimScene,
    robot: SceneRobot,
    recording: Option<(Recording, PathBuf)>,
}

/// A co-simulation: the scene's URDF robot moving its tools through the tissue. Step it
/// frame by frame (closed-loop control with `set_joint_targets`), or give it a trajectory,
/// take snapshots and roll candidates out from them.
#[pyclass(module = "vesalius", frozen)]
struct CoSim {
    inner: Mutex<CoSimInner>,
}

/// A run's world between two frames (`CoSim.snapshot()`): tissue, tools, needle, robot,
/// controller and records. Restoring it continues with the same bits on the CPU backend.
#[pyclass(module = "vesalius", frozen)]
struct Snapshot {
    inner: WorldSnapshot,
}

#[pymethods]
impl Snapshot {
    /// Simulated time (s).
    #[getter]
    fn time(&self) -> f64 {
        self.inner.time()
    }
    /// Frames run.
    #[getter]
    fn frame(&self) -> u64 {
        self.inner.frame()
    }
    fn __repr__(&self) -> String {
        format!(
            "<vesalius.Snapshot frame {} (t = {:.4} s)>",
            self.inner.frame(),
            self.inner.time()
        )
    }
}

fn predict_options(
    backend: Option<&str>,
    threads: Option<&Bound<'_, PyAny>>,
    duration: Option<f64>,
) -> PyResult<PredictOptions> {
    Ok(PredictOptions {
        backend: parse_backend(backend)?,
        threads: parse_threads(threads)?,
        duration: duration_arg(duration)?,
        ..Default::default()
    })
}

/// Waypoints as the scene file's `[[trajectory]]` tables (JSON text from the Python layer)
/// into a checked trajectory of the scene's robot.
fn trajectory_of(robot: &SceneRobot, json: &str) -> PyResult<Trajectory> {
    let specs: Vec<WaypointSpec> = serde_json::from_str(json).map_err(|e| {
        RobotError::new_err(format!(
            "trajectory: each waypoint is a dict with t and joints, joints_delta or link, xyz, rpy: {e}"
        ))
    })?;
    robot
        .trajectory_from_specs(&specs)
        .map_err(|e| RobotError::new_err(format!("trajectory: {e}")))?
        .ok_or_else(|| RobotError::new_err("trajectory: no waypoints"))
}

fn frame_dict<'py>(
    py: Python<'py>,
    rec: &vesalius_cosim::FrameRecord,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("time", rec.time)?;
    d.set_item("forces", rows_f64(py, &rec.forces))?;
    d.set_item("torques", rows_f64(py, &rec.torques))?;
    d.set_item(
        "joint_positions",
        Array1::from_vec(rec.joint_positions.clone()).into_pyarray(py),
    )?;
    d.set_item(
        "joint_torques",
        Array1::from_vec(rec.joint_torques.clone()).into_pyarray(py),
    )?;
    d.set_item("max_strain", rec.max_strain.clone())?;
    d.set_item("damaged_fraction", rec.damaged_fraction.clone())?;
    d.set_item("target_displacement", rec.target_displacement.clone())?;
    match &rec.needle {
        Some(n) => d.set_item("needle", needle_dict(py, n)?)?,
        None => d.set_item("needle", py.None())?,
    }
    d.set_item("guard", rec.guard.as_ref().map(|b| b.to_string()))?;
    Ok(d)
}

fn needle_dict<'py>(
    py: Python<'py>,
    n: &vesalius_cosim::NeedleReport,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("axial_force", n.axial_force)?;
    d.set_item("barrier_force", n.barrier_force)?;
    d.set_item("friction_force", n.friction_force)?;
    d.set_item("cutting_force", n.cutting_force)?;
    d.set_item("force", n.force.to_array())?;
    d.set_item("tip", n.tip.to_array())?;
    d.set_item("tip_region", n.tip_region.clone())?;
    d.set_item("depth", n.depth)?;
    d.set_item("shaft_points", n.shaft_points)?;
    d.set_item("events", to_py(py, &n.events)?)?;
    Ok(d)
}

impl CoSim {
    fn with<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut CoSimInner) -> PyResult<R> + Send,
    ) -> PyResult<R> {
        with_locked(py, &self.inner, f)
    }
}

#[pymethods]
impl CoSim {
    /// A co-simulation of `scene` (one with a `[robot]`), with the scene's backend,
    /// threads and duration unless given.
    #[new]
    #[pyo3(signature = (scene, backend = None, threads = None, duration = None))]
    fn new(
        py: Python<'_>,
        scene: &Scene,
        backend: Option<&str>,
        threads: Option<&Bound<'_, PyAny>>,
        duration: Option<f64>,
    ) -> PyResult<Self> {
        let sc = scene.cosim("vesalius.CoSim")?.clone();
        let options = predict_options(backend, threads, duration)?;
        let inner = py.detach(move || -> Result<CoSimInner, CoSimError> {
            let sim = RustCoSim::new(&sc, &options)?;
            let robot = SceneRobot::load(&sc)?;
            Ok(CoSimInner {
                sim,
                scene: sc,
                robot,
                recording: None,
            })
        });
        Ok(Self {
            inner: Mutex::new(inner.map_err(cosim_err)?),
        })
    }

    /// Advances `frames` frames (GIL released) and returns the last frame's record: time,
    /// forces and torques per tool body (B x 3), joint positions and torques, the needle
    /// (axial force and its parts, tip, region, depth, this frame's events), strain and
    /// damage per region. A broken guard raises `GuardError` (the frame is in `report()`).
    #[pyo3(signature = (frames = 1))]
    fn step<'py>(&self, py: Python<'py>, frames: u64) -> PyResult<Bound<'py, PyDict>> {
        if frames == 0 {
            return Err(PyValueError::new_err("frames must be at least 1"));
        }
        let rec = py.detach(|| -> PyResult<vesalius_cosim::FrameRecord> {
            let mut g = self.inner.lock().map_err(poisoned)?;
            let inner = &mut *g;
            let mut last = None;
            for _ in 0..frames {
                let rec = inner.sim.step_frame().map_err(cosim_err)?.clone();
                if let Some((r, _)) = &mut inner.recording {
                    r.after_frame(inner.sim.tissue())
                        .map_err(OutputError::new_err)?;
                }
                if let Some(b) = &rec.guard {
                    return Err(GuardError::new_err(b.to_string()));
                }
                last = Some(rec);
            }
            Ok(last.expect("at least one frame"))
        })?;
        frame_dict(py, &rec)
    }

    /// Runs to the end of the scene's duration and returns the report.
    fn run(&self, py: Python<'_>) -> PyResult<Report> {
        let report = py.detach(|| -> PyResult<RustReport> {
            let mut g = self.inner.lock().map_err(poisoned)?;
            let inner = &mut *g;
            let left = inner
                .sim
                .frames()
                .saturating_sub(inner.sim.tissue().sync_state().map_err(sim_err)?.step);
            for _ in 0..left {
                let rec = inner.sim.step_frame().map_err(cosim_err)?;
                let broken = rec.guard.is_some();
                if let Some((r, _)) = &mut inner.recording {
                    r.after_frame(inner.sim.tissue())
                        .map_err(OutputError::new_err)?;
                }
                if broken {
                    break;
                }
            }
            Ok(inner.sim.report())
        })?;
        Ok(Report { inner: report })
    }

    /// Holds the joints at `q` from the next frame on (one value per joint in
    /// `joint_names` order; closed-loop control), instead of a trajectory.
    fn set_joint_targets(&self, py: Python<'_>, q: Vec<f64>) -> PyResult<()> {
        self.with(py, |g| g.sim.set_joint_targets(&q).map_err(cosim_err))
    }

    /// Follows `waypoints` from now on: a list of dicts as the scene file's
    /// `[[trajectory]]` tables (`t` in absolute simulated time, then `joints`,
    /// `joints_delta`, or `link` with `xyz` and optional `rpy`).
    fn set_trajectory(&self, py: Python<'_>, waypoints: &Bound<'_, PyAny>) -> PyResult<()> {
        let json = json_of(waypoints, "trajectory", robot_err)?;
        self.with(py, |g| {
            let t = trajectory_of(&g.robot, &json)?;
            g.sim.set_trajectory(&t);
            Ok(())
        })
    }

    /// The world now; restore it with `restore`.
    fn snapshot(&self, py: Python<'_>) -> PyResult<Snapshot> {
        let s = py.detach(|| -> PyResult<WorldSnapshot> {
            let mut g = self.inner.lock().map_err(poisoned)?;
            g.sim.snapshot().map_err(cosim_err)
        })?;
        Ok(Snapshot { inner: s })
    }

    /// Puts the world back as `snapshot` has it.
    fn restore(&self, py: Python<'_>, snapshot: &Snapshot) -> PyResult<()> {
        py.detach(|| -> PyResult<()> {
            let mut g = self.inner.lock().map_err(poisoned)?;
            g.sim.restore(&snapshot.inner).map_err(cosim_err)
        })
    }

    /// Rolls every candidate (each a list of waypoint dicts) out from `snapshot` for
    /// `horizon` frames, spread over the CPU threads, and returns one report each (GIL
    /// released). This run's own world is left as it was.
    fn rollout_batch(
        &self,
        py: Python<'_>,
        snapshot: &Snapshot,
        candidates: Vec<Bound<'_, PyAny>>,
        horizon: u64,
    ) -> PyResult<Vec<Report>> {
        let candidates_json = candidates
            .iter()
            .enumerate()
            .map(|(k, c)| json_of(c, &format!("candidate {k}"), robot_err))
            .collect::<PyResult<Vec<_>>>()?;
        let reports = py.detach(|| -> PyResult<Vec<RustReport>> {
            let mut g = self.inner.lock().map_err(poisoned)?;
            let trajectories = candidates_json
                .iter()
                .map(|c| trajectory_of(&g.robot, c))
                .collect::<PyResult<Vec<_>>>()?;
            g.sim
                .rollout_batch(&snapshot.inner, &trajectories, horizon)
                .map_err(cosim_err)
        })?;
        Ok(reports.into_iter().map(|r| Report { inner: r }).collect())
    }

    /// The report of the frames run so far, with the scene's verdict.
    fn report(&self, py: Python<'_>) -> PyResult<Report> {
        let inner = self.with(py, |g| Ok(g.sim.report()))?;
        Ok(Report { inner })
    }

    /// Writes the run's outputs into `out` as `vesalius run` does: the ParaView series
    /// from now on (every `every`-th frame), and on `close()` (or leaving a `with` block)
    /// `forces.csv`, `link_poses.csv`, `events.json` and `summary.json` with the report.
    /// An existing non-empty folder is refused unless `force`.
    #[pyo3(signature = (out, every = 1, force = false))]
    fn record(&self, py: Python<'_>, out: PathBuf, every: u64, force: bool) -> PyResult<()> {
        self.with(py, |inner| {
            let r = Recording::open(&out, every, force, inner.sim.tissue())?;
            inner.recording = Some((r, out));
            Ok(())
        })
    }

    /// Finishes a recording: writes the report's files (see `record`). Nothing to do
    /// without one.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, Self::finish_recording)
    }
    /// Vertex positions now (N x 3, float32, m).
    fn positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "positions")
    }
    /// Vertex displacements from rest (N x 3, float32, m).
    fn displacements<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "displacements")
    }
    /// Vertex velocities (N x 3, float32, m/s).
    fn velocities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "velocities")
    }
    /// Rest positions (N x 3, float32, m).
    fn rest_positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "rest_positions")
    }
    /// Tets (T x 4, uint32).
    fn tets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "tets")
    }
    /// Boundary triangles, outward (F x 3, uint32).
    fn surface_triangles<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "surface")
    }
    /// Region id of every tet (T, int32).
    fn tet_regions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "tet_regions")
    }
    /// Per-tet strain now: `green_strain`, `max_stretch`, `volume_ratio` (each (T,) float32).
    fn tet_strain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, "strain")
    }

    /// The tissue's last wrench on each tool body (B x 6: force xyz in N, torque xyz in
    /// N m about the body's origin, world frame).
    fn tool_wrenches<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let rows = self.with(py, |g| {
            Ok(match g.sim.last_record() {
                Some(r) => r
                    .forces
                    .iter()
                    .zip(&r.torques)
                    .map(|(f, t)| [f[0], f[1], f[2], t[0], t[1], t[2]])
                    .collect(),
                None => vec![[0.0; 6]; g.sim.body_names().len()],
            })
        })?;
        Ok(rows_f64(py, &rows))
    }

    /// Joint positions now (one per `joint_names`).
    fn joint_positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let q = self.with(py, |g| {
            let s = g
                .sim
                .world()
                .state(g.sim.robot())
                .map_err(|e| RobotError::new_err(e.to_string()))?;
            Ok(s.q)
        })?;
        Ok(Array1::from_vec(q).into_pyarray(py))
    }

    /// Joint velocities now.
    fn joint_velocities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let qd = self.with(py, |g| {
            let s = g
                .sim
                .world()
                .state(g.sim.robot())
                .map_err(|e| RobotError::new_err(e.to_string()))?;
            Ok(s.qd)
        })?;
        Ok(Array1::from_vec(qd).into_pyarray(py))
    }

    /// The joint targets held when no trajectory is followed.
    fn joint_targets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let q = self.with(py, |g| Ok(g.sim.joint_targets().to_vec()))?;
        Ok(Array1::from_vec(q).into_pyarray(py))
    }

    /// The needle now (the last frame's: axial force, tip, region, depth, events), or None
    /// without a needle or before the first frame.
    fn needle<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let n = self.with(py, |g| {
            Ok(g.sim.last_record().and_then(|r| r.needle.clone()))
        })?;
        match n {
            Some(n) => Ok(Some(needle_dict(py, &n)?)),
            None => Ok(None),
        }
    }

    /// The needle's events so far (dicts: time, kind, description, region, from, tip,
    /// force).
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.with(py, |g| Ok(g.sim.events().to_vec()))?;
        to_py(py, &e)
    }

    /// The target points (per `[[target]]`, each P x 3, m) where they are now.
    fn target_points<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let pts = py.detach(|| -> PyResult<Vec<Vec<[f64; 3]>>> {
            let mut g = self.inner.lock().map_err(poisoned)?;
            let t = g.sim.target_points().map_err(cosim_err)?;
            Ok(t.into_iter()
                .map(|v| v.into_iter().map(|p| p.to_array()).collect())
                .collect())
        })?;
        PyList::new(py, pts.iter().map(|p| rows_f64(py, p)))
    }

    /// Names of the robot's joints (the order of joint arrays and targets).
    #[getter]
    fn joint_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with(py, |g| Ok(g.sim.robot_model().dof_names()))
    }

    /// Names of the tool bodies (the rows of `tool_wrenches`).
    #[getter]
    fn body_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with(py, |g| Ok(g.sim.body_names().to_vec()))
    }

    /// Region names by id.
    #[getter]
    fn region_names(&self, py: Python<'_>) -> PyResult<std::collections::BTreeMap<i32, String>> {
        self.with(py, |g| {
            Ok(region_tags(&g.sim.tissue().model().region_names))
        })
    }

    /// Simulated time (s).
    #[getter]
    fn time(&self, py: Python<'_>) -> PyResult<f64> {
        self.with(py, |g| Ok(g.sim.time()))
    }

    /// Frames the scene asks for.
    #[getter]
    fn frames(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |g| Ok(g.sim.frames()))
    }

    /// Substeps per frame of the tissue solver.
    #[getter]
    fn substeps(&self, py: Python<'_>) -> PyResult<u32> {
        self.with(py, |g| Ok(g.sim.tissue().plan().substeps))
    }

    /// The tissue backend, in words.
    #[getter]
    fn backend(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |g| Ok(g.sim.backend_name().to_string()))
    }

    /// Warnings found while loading the scene.
    #[getter]
    fn warnings(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with(py, |g| Ok(g.sim.warnings().to_vec()))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        self.with(py, |g| {
            let name = g.sim.robot_model().name.clone();
            let path = g.scene.path.display().to_string();
            let t = g.sim.time();
            let tets = g.sim.tissue().model().num_tets();
            Ok(format!(
                "<vesalius.CoSim {path}: robot {name}, {tets} tets on {}, t = {t:.4} s>",
                g.sim.backend_name()
            ))
        })
        .unwrap_or_else(|_| "<vesalius.CoSim (lost)>".into())
    }
}

impl CoSim {
    /// Writes the report's files of a recording (see `record`).
    fn finish_recording(inner: &mut CoSimInner) -> PyResult<()> {
        let Some((rec, out)) = inner.recording.take() else {
            return Ok(());
        };

        let report = inner.sim.report();
        let links: Vec<String> = inner
            .sim
            .robot_model()
            .links()
            .iter()
            .map(|l| l.name.clone())
            .collect();
        let io = |e: std::io::Error, f: &str| {
            OutputError::new_err(format!("writing {}: {e}", out.join(f).display()))
        };
        report
            .write_forces_csv(&out.join("forces.csv"))
            .map_err(|e| io(e, "forces.csv"))?;
        report
            .write_link_poses_csv(&out.join("link_poses.csv"), &links)
            .map_err(|e| io(e, "link_poses.csv"))?;
        report
            .write_events_json(&out.join("events.json"))
            .map_err(|e| io(e, "events.json"))?;
        let summary = serde_json::json!({
            "vesalius_version": env!("CARGO_PKG_VERSION"),
            "scene": inner.scene.path.display().to_string(),
            "written_by": "python",
            "frames_written": rec.writer.frames_written(),
            "pvd": vesalius_engine::output::PVD_NAME,
            "files": ["forces.csv", "link_poses.csv", "events.json"],
            "report": report,
        });
        std::fs::write(
            out.join("summary.json"),
            serde_json::to_string_pretty(&summary).expect("json") + "\n",
        )
        .map_err(|e| io(e, "summary.json"))?;
        Ok(())
    }
}

impl CoSim {
    fn array<'py>(&self, py: Python<'py>, what: &str) -> PyResult<Bound<'py, PyAny>> {
        let data = self.with(py, |g| tissue_data(g.sim.tissue(), what))?;
        data_to_py(py, data)
    }
}

// ---------------------------------------------------------------------------------------
// Reports

/// What a run predicts: peak forces, events, the tip's margins, the verdict with a margin
/// per check, and the per-frame records as arrays.
#[pyclass(module = "vesalius", frozen)]
struct Report {
    inner: RustReport,
}

#[pymethods]
impl Report {
    /// Whether every check of the scene's criteria passed.
    #[getter]
    fn passed(&self) -> bool {
        self.inner.verdict.passed
    }

    /// The checks: dicts of name, passed, margin, unit, detail, criterion.
    #[getter]
    fn checks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.verdict.checks)
    }

    /// The needle's events (dicts).
    #[getter]
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.events)
    }

    /// Region of the needle tip at the end (None: outside, or no needle).
    #[getter]
    fn final_tip_region(&self) -> Option<String> {
        self.inner.final_tip_region.clone()
    }

    /// The guard the run broke, in words (None: none).
    #[getter]
    fn guard_breach(&self) -> Option<String> {
        self.inner.guard_breach.as_ref().map(|b| b.to_string())
    }

    /// Largest force magnitude per tool body over the run (N).
    #[getter]
    fn peak_force(&self) -> Vec<f64> {
        self.inner.peak_force.clone()
    }

    /// Frames simulated.
    #[getter]
    fn frames(&self) -> usize {
        self.inner.frames
    }

    /// Per-frame arrays: `time` (F,), `forces` and `torques` (F x B x 3),
    /// `joint_positions` and `joint_torques` (F x J), `needle_axial_force` and
    /// `needle_depth` (F,; NaN without a needle).
    fn series<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = &self.inner.records;
        let f = r.len();
        let b = self.inner.bodies.len();
        let j = self.inner.joints.len();
        let d = PyDict::new(py);
        d.set_item(
            "time",
            Array1::from_iter(r.iter().map(|x| x.time)).into_pyarray(py),
        )?;
        let per_body = |get: &dyn Fn(&vesalius_cosim::FrameRecord) -> &Vec<[f64; 3]>| {
            let flat: Vec<f64> = r
                .iter()
                .flat_map(|x| get(x).iter().flatten().copied())
                .collect();
            Array3::from_shape_vec((f, b, 3), flat).expect("F x B x 3")
        };
        d.set_item("forces", per_body(&|x| &x.forces).into_pyarray(py))?;
        d.set_item("torques", per_body(&|x| &x.torques).into_pyarray(py))?;
        let per_joint = |get: &dyn Fn(&vesalius_cosim::FrameRecord) -> &Vec<f64>| {
            let flat: Vec<f64> = r.iter().flat_map(|x| get(x).iter().copied()).collect();
            Array2::from_shape_vec((f, j), flat).expect("F x J")
        };
        d.set_item(
            "joint_positions",
            per_joint(&|x| &x.joint_positions).into_pyarray(py),
        )?;
        d.set_item(
            "joint_torques",
            per_joint(&|x| &x.joint_torques).into_pyarray(py),
        )?;
        let needle = |get: fn(&vesalius_cosim::NeedleReport) -> f64| {
            Array1::from_iter(r.iter().map(|x| x.needle.as_ref().map_or(f64::NAN, get)))
        };
        d.set_item(
            "needle_axial_force",
            needle(|n| n.axial_force).into_pyarray(py),
        )?;
        d.set_item("needle_depth", needle(|n| n.depth).into_pyarray(py))?;
        Ok(d)
    }

    /// Everything but the per-frame records, as `summary.json`'s `report` has it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        let failed: Vec<&str> = self
            .inner
            .verdict
            .failed()
            .map(|c| c.name.as_str())
            .collect();
        format!(
            "<vesalius.Report {} frames ({:.3} s), {}{}>",
            self.inner.frames,
            self.inner.simulated_time,
            if self.inner.verdict.passed {
                "passed"
            } else {
                "failed: "
            },
            failed.join("; ")
        )
    }
}

/// Runs a co-simulation scene to its end (with `trajectory`, a list of waypoint dicts,
/// instead of the scene's when given) and returns its report (GIL released).
#[pyfunction]
#[pyo3(signature = (scene, trajectory = None, *, backend = None, threads = None, duration = None))]
fn predict(
    py: Python<'_>,
    scene: &Scene,
    trajectory: Option<&Bound<'_, PyAny>>,
    backend: Option<&str>,
    threads: Option<&Bound<'_, PyAny>>,
    duration: Option<f64>,
) -> PyResult<Report> {
    let sc = scene.cosim("predict")?;
    let options = predict_options(backend, threads, duration)?;
    let trajectory = match trajectory {
        Some(t) => {
            let json = json_of(t, "trajectory", robot_err)?;
            Some(trajectory_of(
                &SceneRobot::load(sc).map_err(cosim_err)?,
                &json,
            )?)
        }
        None => None,
    };
    let report = py
        .detach(|| vesalius_cosim::predict(sc, trajectory.as_ref(), &options))
        .map_err(cosim_err)?;
    Ok(Report { inner: report })
}

// ---------------------------------------------------------------------------------------
// Planning

/// A plan: the best candidate, its check on the full model, every candidate.
#[pyclass(module = "vesalius", frozen)]
struct PlanResult {
    inner: planning::PlanResult,
    scene: CoSimScene,
    text: String,
}

#[pymethods]
impl PlanResult {
    /// The returned plan's variables by name (the chosen candidate's, else the best's).
    #[getter]
    fn variables(&self) -> std::collections::BTreeMap<&'static str, f64> {
        Variable::ALL
            .iter()
            .map(|v| v.key())
            .zip(self.inner.trajectory_variables())
            .collect()
    }

    /// The planning model's best candidate's cost and its terms (a dict).
    #[getter]
    fn cost<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(
            py,
            &self.inner.chosen.as_ref().unwrap_or(&self.inner.best).cost,
        )
    }

    /// Whether the plan passed on the full model (None: not validated).
    #[getter]
    fn passed(&self) -> Option<bool> {
        self.inner.passed()
    }

    /// The full model's report of the plan (None: not validated).
    #[getter]
    fn full_report(&self) -> Option<Report> {
        self.inner.full_report.clone().map(|r| Report { inner: r })
    }

    /// Every candidate evaluated (dicts: variables, cost, passed, model, iteration, wall_s,
    /// rejected), the full-model validations last.
    #[getter]
    fn candidates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.candidates)
    }

    /// The plan's waypoints (dicts as the scene file's `[[trajectory]]` tables).
    #[getter]
    fn waypoints<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.inner.trajectory.waypoints())
    }

    /// Optimizer iterations.
    #[getter]
    fn iterations(&self) -> u64 {
        self.inner.iterations
    }

    /// Wall time of the plan itself (the budgeted part, s).
    #[getter]
    fn latency(&self) -> f64 {
        self.inner.latency.as_secs_f64()
    }

    /// The planning model's fitted axial lag (m; None: not calibrated).
    #[getter]
    fn axial_lag(&self) -> Option<f64> {
        self.inner.axial_lag
    }

    /// The scene with the plan as its trajectory (what `vesalius plan` writes as
    /// `plan.toml`): runnable as is.
    fn scene(&self) -> PyResult<Scene> {
        let duration = self.inner.trajectory.end_time() + 0.25;
        let text = planning::scene_with_trajectory(
            &self.scene,
            &self.text,
            &self.inner.trajectory,
            duration,
        )
        .map_err(|m| SceneError::new_err(format!("{}: {m}", self.scene.path.display())))?;
        Scene::parse(text, self.scene.path.clone())
    }

    fn __repr__(&self) -> String {
        let vars: Vec<String> = self
            .variables()
            .iter()
            .map(|(k, v)| format!("{k}={v:.4}"))
            .collect();
        format!(
            "<vesalius.PlanResult {} ({} candidates, {} iterations in {:.1} ms): {}>",
            match self.inner.passed() {
                Some(true) => "passed on the full model",
                Some(false) => "FAILED on the full model",
                None => "not validated",
            },
            self.inner.candidates.len(),
            self.inner.iterations,
            self.inner.latency.as_secs_f64() * 1e3,
            vars.join(", ")
        )
    }
}

/// Plans the scene's `[plan]` within `budget` (seconds or "200ms"; default the scene's),
/// then checks the best `validate` distinct candidates on the full model until one
/// passes (GIL released). `iterations` fixes the optimizer's iterations (results then
/// independent of the machine's speed).
#[pyfunction]
#[pyo3(signature = (scene, *, budget = None, seed = None, iterations = None, validate = None, backend = None, threads = None))]
#[allow(clippy::too_many_arguments)]
fn plan(
    py: Python<'_>,
    scene: &Scene,
    budget: Option<&Bound<'_, PyAny>>,
    seed: Option<u64>,
    iterations: Option<u64>,
    validate: Option<usize>,
    backend: Option<&str>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<PlanResult> {
    let sc = scene.cosim("plan")?.clone();
    if iterations == Some(0) {
        return Err(PyValueError::new_err("iterations must be at least 1"));
    }
    let options = PlanOptions {
        budget: budget.map(parse_budget).transpose()?,
        seed,
        iterations,
        predict: predict_options(backend, threads, None)?,
        validate,
        registration: None,
    };
    let result = py
        .detach(|| planning::plan(&sc, &options))
        .map_err(cosim_err)?;
    Ok(PlanResult {
        inner: result,
        scene: sc,
        text: scene.text.clone(),
    })
}

/// The native module.
#[pymodule]
fn _vesalius(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Scene>()?;
    m.add_class::<Tissue>()?;
    m.add_class::<CoSim>()?;
    m.add_class::<Snapshot>()?;
    m.add_class::<Report>()?;
    m.add_class::<PlanResult>()?;
    m.add_class::<trial::Trial>()?;
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add("VesaliusError", py.get_type::<VesaliusError>())?;
    m.add("SceneError", py.get_type::<SceneError>())?;
    m.add("SimulationError", py.get_type::<SimulationError>())?;
    m.add("GuardError", py.get_type::<GuardError>())?;
    m.add("RobotError", py.get_type::<RobotError>())?;
    m.add("OutputError", py.get_type::<OutputError>())?;
    m.add("TrialError", py.get_type::<trial::TrialError>())?;
    Ok(())
}

/// Region names keyed by their tags as Python ints.
fn region_tags(
    names: &std::collections::BTreeMap<vesalius_engine::mesh::RegionId, String>,
) -> std::collections::BTreeMap<i32, String> {
    names.iter().map(|(r, n)| (r.0, n.clone())).collect()
}
