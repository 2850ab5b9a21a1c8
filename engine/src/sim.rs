//! [`Simulation`]: a model, its state and a backend in one value, for callers that do not
//! want to drive the backends' borrow-everything `step` functions themselves.
//!
//! The backend is one value, [`Backend`]: `Backend::Cpu`, or the GPU (or `Auto`) with an
//! optional adapter filter. On the GPU the state stays on the device between steps; the
//! accessors that need it on the host say so in their name ([`Simulation::sync_state`]) or
//! their docs, and read it back only when it changed.

use crate::contact::{ContactReport, Contacts, Pose, ToolSetup, ToolState};
use crate::model::{Control, Model, State};
use crate::solver::{diagnostics, CpuXpbd, Diagnostics, SimError, SolverConfig, StepPlan};
use serde::{Deserialize, Serialize};

/// Which backend to run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// A hardware GPU when there is one, else the CPU backend (with a notice).
    #[default]
    Auto,
    /// The CPU backend (a thread team, see [`crate::solver::Threads`]).
    Cpu,
    /// The wgpu backend on the best adapter (software adapters as a last resort).
    Gpu,
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            _ => Err(format!("unknown backend {s:?}: expected auto, cpu or gpu")),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Gpu => "gpu",
        })
    }
}

/// Where a [`Simulation`] runs: a backend and, for the GPU, which adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A hardware GPU when there is one (or when `adapter` or `VESALIUS_ADAPTER` asks for
    /// one), else the CPU backend, with a [`Simulation::notice`].
    Auto {
        /// GPU adapter filter: a case-insensitive substring of the adapter name or backend
        /// (see [`crate::gpu`]); `None` picks the best adapter.
        adapter: Option<String>,
    },
    /// The CPU backend (threads: [`SolverConfig::threads`]).
    Cpu,
    /// The wgpu backend on the best adapter (software adapters as a last resort).
    Gpu {
        /// GPU adapter filter, as for `Auto`.
        adapter: Option<String>,
    },
}

impl Default for Backend {
    /// `Auto` on the best adapter.
    fn default() -> Self {
        Self::Auto { adapter: None }
    }
}

impl Backend {
    /// The backend `kind` with adapter filter `adapter` (which the CPU backend ignores), as
    /// a scene's `backend` and `adapter` keys or the CLI's `--backend` and `--adapter` give
    /// them.
    pub fn new(kind: BackendKind, adapter: Option<String>) -> Self {
        match kind {
            BackendKind::Auto => Self::Auto { adapter },
            BackendKind::Cpu => Self::Cpu,
            BackendKind::Gpu => Self::Gpu { adapter },
        }
    }

    /// The kind, without the adapter.
    pub fn kind(&self) -> BackendKind {
        match self {
            Self::Auto { .. } => BackendKind::Auto,
            Self::Cpu => BackendKind::Cpu,
            Self::Gpu { .. } => BackendKind::Gpu,
        }
    }

    /// The adapter filter, if any.
    pub fn adapter(&self) -> Option<&str> {
        match self {
            Self::Auto { adapter } | Self::Gpu { adapter } => adapter.as_deref(),
            Self::Cpu => None,
        }
    }
}

impl From<BackendKind> for Backend {
    /// The kind on the best adapter.
    fn from(kind: BackendKind) -> Self {
        Self::new(kind, None)
    }
}

/// Environment variable that makes "no GPU adapter" an error for `auto` (used by CI so that
/// GPU tests run on lavapipe instead of skipping).
pub const REQUIRE_GPU_ENV: &str = "VESALIUS_REQUIRE_GPU";

/// The solver a [`Simulation`] steps.
enum Solver {
    Cpu(Box<CpuXpbd>),
    #[cfg(feature = "gpu")]
    Gpu(Box<crate::gpu::GpuXpbd>),
}

/// A frame with tools: its contact report, and the guard it broke if any.
type FrameOutcome = (ContactReport, Option<Box<crate::solver::Breach>>);

/// A running tissue simulation.
pub struct Simulation {
    model: Model,
    state: State,
    control: Control,
    solver: Solver,
    /// Whether `state` mirrors the device (GPU backend).
    synced: bool,
    notice: Option<String>,
    contacts: Option<Contacts>,
    /// Positions for the needle's state machine, kept between frames.
    positions: Vec<[f32; 3]>,
    /// The settings it was built with (a fork builds its solver from them).
    config: SolverConfig,
    /// The last frame's contact report.
    contact_report: Option<ContactReport>,
}

impl Simulation {
    /// Starts a simulation of `model` from rest on `backend`.
    pub fn new(model: Model, config: &SolverConfig, backend: Backend) -> Result<Self, SimError> {
        let state = model.state();
        Self::with_state(model, state, config, backend)
    }

    /// Starts a simulation of `model` from `state` on `backend`.
    pub fn with_state(
        model: Model,
        state: State,
        config: &SolverConfig,
        backend: Backend,
    ) -> Result<Self, SimError> {
        if state.tools != Default::default() {
            return Err(SimError::Config(
                "a state with tools: start without them, then set_tools and set_state".into(),
            ));
        }
        let mut notice = None;
        let adapter = backend.adapter();
        let solver = match backend.kind() {
            BackendKind::Cpu => Solver::Cpu(Box::new(CpuXpbd::new(&model, config)?)),
            BackendKind::Gpu => Self::gpu_solver(&model, &state, config, adapter)?,
            BackendKind::Auto => {
                let require = std::env::var(REQUIRE_GPU_ENV).is_ok_and(|v| v == "1");
                match Self::auto_gpu(&model, &state, config, adapter, require) {
                    Ok(Some(b)) => b,
                    Ok(None) => {
                        notice = Some(
                            "notice: no hardware GPU found, using the CPU backend (`--backend gpu` runs on a software adapter if one is installed)"
                                .to_string(),
                        );
                        Solver::Cpu(Box::new(CpuXpbd::new(&model, config)?))
                    }
                    Err(e) if !require => {
                        notice = Some(format!(
                            "notice: GPU unavailable ({e}); using the CPU backend"
                        ));
                        Solver::Cpu(Box::new(CpuXpbd::new(&model, config)?))
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(Self {
            model,
            state,
            control: Control::default(),
            solver,
            synced: true,
            notice,
            contacts: None,
            positions: Vec::new(),
            config: config.clone(),
            contact_report: None,
        })
    }

    /// A second simulation of the same model, tools and state on the same backend (on the
    /// GPU, the same device), to step apart from this one: a world for a candidate rollout.
    pub fn fork(&mut self) -> Result<Self, SimError> {
        self.sync_state()?;
        let solver = match &self.solver {
            Solver::Cpu(c) => Solver::Cpu(c.clone()),
            #[cfg(feature = "gpu")]
            Solver::Gpu(g) => {
                let mut fork =
                    crate::gpu::GpuXpbd::new(g.context(), &self.model, &self.state, &self.config)?;
                if let Some(c) = &self.contacts {
                    fork.set_contacts(c)?;
                }
                Solver::Gpu(Box::new(fork))
            }
        };
        let mut state = self.state.clone();
        if let Some(n) = &mut state.tools.needle {
            n.upload_from = 0;
        }
        Ok(Self {
            model: self.model.clone(),
            state,
            control: self.control.clone(),
            solver,
            synced: true,
            notice: self.notice.clone(),
            contacts: self.contacts.clone(),
            positions: Vec::new(),
            config: self.config.clone(),
            contact_report: self.contact_report.clone(),
        })
    }

    #[cfg(feature = "gpu")]
    fn gpu_solver(
        model: &Model,
        state: &State,
        config: &SolverConfig,
        adapter: Option<&str>,
    ) -> Result<Solver, SimError> {
        let ctx = crate::gpu::GpuContext::new(adapter)?;
        Ok(Solver::Gpu(Box::new(crate::gpu::GpuXpbd::new(
            &ctx, model, state, config,
        )?)))
    }

    #[cfg(not(feature = "gpu"))]
    fn gpu_solver(
        _: &Model,
        _: &State,
        _: &SolverConfig,
        _: Option<&str>,
    ) -> Result<Solver, SimError> {
        Err(SimError::NoGpuBackend)
    }

    /// `Ok(None)`: only software adapters (or none) and the GPU is not required.
    fn auto_gpu(
        model: &Model,
        state: &State,
        config: &SolverConfig,
        adapter: Option<&str>,
        require: bool,
    ) -> Result<Option<Solver>, SimError> {
        #[cfg(feature = "gpu")]
        {
            let explicit = adapter.is_some() || std::env::var(crate::gpu::ADAPTER_ENV).is_ok();
            let hardware = crate::gpu::list_adapters()
                .iter()
                .any(|a| a.device_type != "Cpu");
            if explicit || hardware || require {
                return Self::gpu_solver(model, state, config, adapter).map(Some);
            }
            Ok(None)
        }
        #[cfg(not(feature = "gpu"))]
        {
            let _ = (model, state, config, adapter);
            if require {
                return Err(SimError::NoGpuBackend);
            }
            Ok(None)
        }
    }

    /// A one-line notice about the backend choice (e.g. falling back to the CPU), if any.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The backend in use: `Cpu` or `Gpu` (never `Auto`).
    pub fn backend_kind(&self) -> BackendKind {
        match &self.solver {
            Solver::Cpu(_) => BackendKind::Cpu,
            #[cfg(feature = "gpu")]
            Solver::Gpu(_) => BackendKind::Gpu,
        }
    }

    /// Human-readable backend and device: "cpu (1 thread, 8 lanes)", "cpu (4 threads)",
    /// "gpu: NAME (BACKEND, TYPE)". The CPU's thread count is the team the next frame would
    /// run on (see [`crate::solver::Threads`]).
    pub fn backend_name(&self) -> String {
        match &self.solver {
            Solver::Cpu(c) => {
                let threads = c.threads(&self.model);
                format!(
                    "cpu ({threads} thread{}{})",
                    if threads == 1 { "" } else { "s" },
                    if c.simd() { ", 8 lanes" } else { "" }
                )
            }
            #[cfg(feature = "gpu")]
            Solver::Gpu(g) => format!("gpu: {}", g.context().adapter),
        }
    }

    /// The substep plan.
    pub fn plan(&self) -> &StepPlan {
        match &self.solver {
            Solver::Cpu(c) => c.plan(),
            #[cfg(feature = "gpu")]
            Solver::Gpu(g) => g.plan(),
        }
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Sets the inputs used by the next steps.
    pub fn set_control(&mut self, control: Control) {
        self.control = control;
    }

    /// Advances `frames` frames with the supports moving as `supports` says (a scene's
    /// `[[motion]]`): each frame's control is the supports' targets at its end. Without
    /// motions, one [`Simulation::step`] of all the frames with the control as it is.
    pub fn step_with_supports(
        &mut self,
        supports: &crate::model::SupportDrive,
        frames: u32,
    ) -> Result<(), SimError> {
        if supports.is_empty() {
            return self.step(frames);
        }
        let dt = self.plan().frame_dt;
        for _ in 0..frames {
            let t0 = self.time();
            self.set_control(supports.control(t0, t0 + dt));
            self.step(1)?;
        }
        Ok(())
    }

    /// Advances `frames` frames with the control of [`Simulation::set_control`]. Both
    /// backends judge the guards of [`SolverConfig::guards`] after every frame: a breach
    /// ends the call with [`SimError::Guard`] (on the CPU the state is then the breaking
    /// frame's; the GPU runs the call's frames through). On the GPU this records and
    /// submits the frames, then reads back only the 592-byte status (NaN, blow-up and the
    /// guards, with their frame). With tools, each frame also moves them
    /// (`Control::tool_poses`, reached by the end of the first frame) and reads back the
    /// tissue's force sums (and, with a needle, the positions for its state machine);
    /// [`Simulation::contact_report`] has the last frame's.
    pub fn step(&mut self, frames: u32) -> Result<(), SimError> {
        if self.contacts.is_some() {
            for f in 0..frames {
                let poses = if f == 0 && !self.control.tool_poses.is_empty() {
                    self.control.tool_poses.clone()
                } else {
                    let n = self.setup_bodies();
                    self.state.tools.poses[..n].to_vec()
                };
                let (report, breach) = self.step_tools_frame(&poses)?;
                self.contact_report = Some(report);
                // The frame is complete (tools and report too) when a guard stops the run.
                if let Some(b) = breach {
                    return Err(SimError::Guard(b));
                }
            }
            return Ok(());
        }
        if !self.control.tool_poses.is_empty() {
            return Err(SimError::Control(
                "the control has tool poses and the simulation no tools (set_tools first)".into(),
            ));
        }
        match &mut self.solver {
            Solver::Cpu(c) => c.step(&self.model, &mut self.state, &self.control, frames),
            #[cfg(feature = "gpu")]
            Solver::Gpu(g) => {
                self.synced = false;
                g.step(&self.control, frames)?;
                g.check(&self.model)
            }
        }
    }

    /// The current state, read back from the GPU first if it has stepped since the last read
    /// (one copy of the whole state; the CPU backend has it at hand).
    pub fn sync_state(&mut self) -> Result<&State, SimError> {
        #[cfg(feature = "gpu")]
        if let Solver::Gpu(g) = &self.solver {
            if !self.synced {
                g.read_state(&mut self.state)?;
                self.synced = true;
            }
        }
        Ok(&self.state)
    }

    /// The model and the current state together, syncing as [`Simulation::sync_state`].
    pub fn sync_model_and_state(&mut self) -> Result<(&Model, &State), SimError> {
        self.sync_state()?;
        Ok((&self.model, &self.state))
    }

    /// The current vertex positions (m), syncing as [`Simulation::sync_state`], without
    /// allocating: rest positions plus displacements, one vertex at a time.
    pub fn positions(&mut self) -> Result<impl ExactSizeIterator<Item = [f32; 3]> + '_, SimError> {
        self.sync_state()?;
        Ok(self.state.positions_iter(&self.model))
    }

    /// Replaces the state: the tissue and, with tools, their poses and the needle's state
    /// ([`State::tools`]), as [`Simulation::sync_state`] gave it. The run continues from it
    /// as if it had never left it (the same bits on the CPU backend).
    pub fn set_state(&mut self, mut state: State) -> Result<(), SimError> {
        let (nv, nt) = (self.model.num_vertices(), self.model.num_tets());
        if state.displacements.len() != nv
            || state.velocities.len() != nv
            || state.lambdas.len() != nt
        {
            return Err(SimError::Config(format!(
                "the state ({} vertices, {} tets) is not of this model ({nv} vertices, {nt} tets)",
                state.displacements.len(),
                state.lambdas.len()
            )));
        }
        match &self.contacts {
            Some(c) => c.check_state(&state.tools)?,
            None if state.tools != Default::default() => {
                return Err(SimError::Config(
                    "the state has tools but this simulation has none (set_tools first)".into(),
                ))
            }
            None => {}
        }
        #[cfg(feature = "gpu")]
        if let Solver::Gpu(g) = &mut self.solver {
            g.write_state(&self.model, &state)?;
        }
        // The device's shaft points are another timeline's: all go up again.
        if let Some(n) = &mut state.tools.needle {
            n.upload_from = 0;
        }
        self.state = state;
        self.synced = true;
        Ok(())
    }

    /// Couples tools (rigid shapes, attachments, a needle) to the tissue; the bodies are at
    /// `poses` now, and attachments hold the vertices where they are now.
    pub fn set_tools(&mut self, setup: &ToolSetup, poses: &[Pose]) -> Result<(), SimError> {
        self.sync_state()?;
        let (contacts, tools) = Contacts::new(&self.model, &self.state, setup, poses)?;
        #[cfg(feature = "gpu")]
        if let Solver::Gpu(g) = &mut self.solver {
            g.set_contacts(&contacts)?;
        }
        self.state.tools = tools;
        self.contacts = Some(contacts);
        Ok(())
    }

    /// The tools, if [`Simulation::set_tools`] was called.
    pub fn contacts(&self) -> Option<&Contacts> {
        self.contacts.as_ref()
    }

    /// The last frame's contact report (the tissue's wrench on every tool body, the
    /// needle's frame); `None` before the first frame with tools.
    pub fn contact_report(&self) -> Option<&ContactReport> {
        self.contact_report.as_ref()
    }

    /// One frame while the tool bodies move from their last poses to `poses`: shorthand for
    /// setting `Control::tool_poses` to `poses` (the rest of the control kept) and
    /// [`Simulation::step`]ping one frame; returns its [`Simulation::contact_report`]. The
    /// GPU gets the frame's tool poses in one upload and returns the force sums in one
    /// read-back (plus, with a needle, the positions for its state machine).
    pub fn step_tools(&mut self, poses: &[Pose]) -> Result<ContactReport, SimError> {
        if self.contacts.is_none() {
            return Err(SimError::Config("step_tools before set_tools".into()));
        }
        self.control.tool_poses = poses.to_vec();
        self.step(1)?;
        Ok(self
            .contact_report
            .clone()
            .expect("a frame with tools leaves its report"))
    }

    /// Tool bodies of the setup (the world body of attachments excluded).
    fn setup_bodies(&self) -> usize {
        self.contacts.as_ref().map_or(0, Contacts::num_setup_bodies)
    }

    /// One frame with tools: its report, and the guard it broke if any.
    fn step_tools_frame(&mut self, poses: &[Pose]) -> Result<FrameOutcome, SimError> {
        let Some(mut contacts) = self.contacts.take() else {
            return Err(SimError::Config("step_tools before set_tools".into()));
        };
        // The tools' state steps beside the tissue's (the GPU's read-backs of the tissue
        // state leave it alone).
        let mut tools = std::mem::take(&mut self.state.tools);
        let out = self.step_tools_inner(&mut contacts, &mut tools, poses);
        self.state.tools = tools;
        self.contacts = Some(contacts);
        out
    }

    fn step_tools_inner(
        &mut self,
        contacts: &mut Contacts,
        tools: &mut ToolState,
        poses: &[Pose],
    ) -> Result<FrameOutcome, SimError> {
        let needle = contacts.has_needle();
        let (substeps, dt) = (self.plan().substeps, self.plan().dt);
        // Only the needle's state machine needs the positions: without one the GPU keeps the
        // state and nothing but the force sums comes back.
        if needle {
            self.refresh_positions()?;
        }
        let time = self.time();
        let positions = needle.then_some(self.positions.as_slice());
        contacts.plan_frame(tools, &self.model, positions, poses, substeps, time)?;
        let (raw, dev, breach) = match &mut self.solver {
            Solver::Cpu(c) => {
                let needle = tools.needle.as_ref().map(|n| &n.dev);
                c.step_contacts(
                    &self.model,
                    &mut self.state,
                    &self.control,
                    contacts,
                    needle,
                )?
            }
            #[cfg(feature = "gpu")]
            Solver::Gpu(g) => {
                self.synced = false;
                let (raw, dev) = g.step_contacts(&self.control, contacts, tools)?;
                match g.check(&self.model) {
                    Ok(()) => (raw, dev, None),
                    Err(SimError::Guard(b)) => (raw, dev, Some(*b)),
                    Err(e) => return Err(e),
                }
            }
        };
        if needle {
            self.refresh_positions()?;
        }
        let positions = needle.then_some(self.positions.as_slice());
        let report = contacts.finish_frame(tools, &self.model, &raw, dev, positions, dt);
        Ok((report, breach.map(Box::new)))
    }

    /// Syncs the state and refills `self.positions` from it.
    fn refresh_positions(&mut self) -> Result<(), SimError> {
        self.sync_state()?;
        self.positions.clear();
        self.positions
            .extend(self.state.positions_iter(&self.model));
        Ok(())
    }

    /// Simulated time (s), without reading the state back from the GPU.
    pub fn time(&self) -> f64 {
        match &self.solver {
            Solver::Cpu(_) => self.state.time,
            #[cfg(feature = "gpu")]
            Solver::Gpu(g) => g.time(),
        }
    }

    /// Diagnostics of the current state.
    pub fn diagnostics(&mut self) -> Result<Diagnostics, SimError> {
        self.sync_state()?;
        Ok(diagnostics(&self.model, &self.state))
    }
}
