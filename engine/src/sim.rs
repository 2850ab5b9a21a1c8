//! [`Simulation`]: a model, its state and a backend in one value, for callers that do not
//! want to drive the backends' borrow-everything `step` functions themselves.

use crate::contact::{ContactReport, Contacts, Pose, ToolSetup};
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
    /// The rayon CPU backend.
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

/// Environment variable that makes "no GPU adapter" an error for `auto` (used by CI so that
/// GPU tests run on lavapipe instead of skipping).
pub const REQUIRE_GPU_ENV: &str = "VESALIUS_REQUIRE_GPU";

enum Backend {
    Cpu(Box<CpuXpbd>),
    #[cfg(feature = "gpu")]
    Gpu(Box<crate::gpu::GpuXpbd>),
}

/// A running tissue simulation.
pub struct Simulation {
    model: Model,
    state: State,
    control: Control,
    backend: Backend,
    /// Whether `state` mirrors the device (GPU backend).
    synced: bool,
    notice: Option<String>,
    contacts: Option<Contacts>,
}

impl Simulation {
    /// Starts a simulation of `model` from rest.
    ///
    /// `adapter` filters GPU adapters by name or backend substring (see [`crate::gpu`]).
    pub fn new(
        model: Model,
        config: &SolverConfig,
        kind: BackendKind,
        adapter: Option<&str>,
    ) -> Result<Self, SimError> {
        let state = model.state();
        Self::with_state(model, state, config, kind, adapter)
    }

    /// Starts a simulation of `model` from `state`.
    pub fn with_state(
        model: Model,
        state: State,
        config: &SolverConfig,
        kind: BackendKind,
        adapter: Option<&str>,
    ) -> Result<Self, SimError> {
        let mut notice = None;
        let backend = match kind {
            BackendKind::Cpu => Backend::Cpu(Box::new(CpuXpbd::new(&model, config)?)),
            BackendKind::Gpu => Self::gpu_backend(&model, &state, config, adapter)?,
            BackendKind::Auto => {
                let require = std::env::var(REQUIRE_GPU_ENV).is_ok_and(|v| v == "1");
                match Self::auto_gpu(&model, &state, config, adapter, require) {
                    Ok(Some(b)) => b,
                    Ok(None) => {
                        notice = Some(
                            "notice: no hardware GPU found, using the CPU backend (`--backend gpu` runs on a software adapter if one is installed)"
                                .to_string(),
                        );
                        Backend::Cpu(Box::new(CpuXpbd::new(&model, config)?))
                    }
                    Err(e) if !require => {
                        notice = Some(format!(
                            "notice: GPU unavailable ({e}); using the CPU backend"
                        ));
                        Backend::Cpu(Box::new(CpuXpbd::new(&model, config)?))
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(Self {
            model,
            state,
            control: Control::default(),
            backend,
            synced: true,
            notice,
            contacts: None,
        })
    }

    #[cfg(feature = "gpu")]
    fn gpu_backend(
        model: &Model,
        state: &State,
        config: &SolverConfig,
        adapter: Option<&str>,
    ) -> Result<Backend, SimError> {
        let ctx = crate::gpu::GpuContext::new(adapter).map_err(|e| SimError::Gpu(e.to_string()))?;
        Ok(Backend::Gpu(Box::new(crate::gpu::GpuXpbd::new(
            &ctx, model, state, config,
        )?)))
    }

    #[cfg(not(feature = "gpu"))]
    fn gpu_backend(
        _: &Model,
        _: &State,
        _: &SolverConfig,
        _: Option<&str>,
    ) -> Result<Backend, SimError> {
        Err(SimError::Gpu(
            "this build has no GPU backend (feature `gpu` is off)".into(),
        ))
    }

    /// `Ok(None)`: only software adapters (or none) and the GPU is not required.
    fn auto_gpu(
        model: &Model,
        state: &State,
        config: &SolverConfig,
        adapter: Option<&str>,
        require: bool,
    ) -> Result<Option<Backend>, SimError> {
        #[cfg(feature = "gpu")]
        {
            let explicit = adapter.is_some() || std::env::var(crate::gpu::ADAPTER_ENV).is_ok();
            let hardware = crate::gpu::list_adapters()
                .iter()
                .any(|a| a.device_type != "Cpu");
            if explicit || hardware || require {
                return Self::gpu_backend(model, state, config, adapter).map(Some);
            }
            Ok(None)
        }
        #[cfg(not(feature = "gpu"))]
        {
            let _ = (model, state, config, adapter);
            if require {
                return Err(SimError::Gpu(
                    "this build has no GPU backend (feature `gpu` is off)".into(),
                ));
            }
            Ok(None)
        }
    }

    /// A one-line notice about the backend choice (e.g. falling back to the CPU), if any.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// "cpu" or "gpu".
    pub fn backend_kind(&self) -> BackendKind {
        match &self.backend {
            Backend::Cpu(_) => BackendKind::Cpu,
            #[cfg(feature = "gpu")]
            Backend::Gpu(_) => BackendKind::Gpu,
        }
    }

    /// Human-readable backend and device.
    pub fn backend_name(&self) -> String {
        match &self.backend {
            Backend::Cpu(c) => format!(
                "cpu ({} threads{})",
                c.threads(&self.model),
                if c.simd() { ", 8 lanes" } else { "" }
            ),
            #[cfg(feature = "gpu")]
            Backend::Gpu(g) => format!("gpu: {}", g.context().adapter),
        }
    }

    /// The substep plan.
    pub fn plan(&self) -> &StepPlan {
        match &self.backend {
            Backend::Cpu(c) => c.plan(),
            #[cfg(feature = "gpu")]
            Backend::Gpu(g) => g.plan(),
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

    /// Advances `frames` frames. On the GPU this records and submits the frames, then reads
    /// back only the 32-byte failure flag to report NaN or blow-up with its step.
    pub fn step(&mut self, frames: u32) -> Result<(), SimError> {
        match &mut self.backend {
            Backend::Cpu(c) => c.step(&self.model, &mut self.state, &self.control, frames),
            #[cfg(feature = "gpu")]
            Backend::Gpu(g) => {
                self.synced = false;
                g.step(&self.control, frames)?;
                g.check()
            }
        }
    }

    /// The current state (read back from the GPU if needed).
    pub fn state(&mut self) -> Result<&State, SimError> {
        #[cfg(feature = "gpu")]
        if let Backend::Gpu(g) = &self.backend {
            if !self.synced {
                g.read_state(&mut self.state)?;
                self.synced = true;
            }
        }
        Ok(&self.state)
    }

    /// The model and the current state together (read back from the GPU if needed).
    pub fn model_and_state(&mut self) -> Result<(&Model, &State), SimError> {
        self.state()?;
        Ok((&self.model, &self.state))
    }

    /// Replaces the state.
    pub fn set_state(&mut self, state: State) -> Result<(), SimError> {
        #[cfg(feature = "gpu")]
        if let Backend::Gpu(g) = &mut self.backend {
            g.write_state(&self.model, &state)?;
        }
        self.state = state;
        self.synced = true;
        Ok(())
    }

    /// Couples tools (rigid shapes, attachments, a needle) to the tissue; the bodies are at
    /// `poses` now, and attachments hold the vertices where they are now.
    pub fn set_tools(&mut self, setup: &ToolSetup, poses: &[Pose]) -> Result<(), SimError> {
        self.state()?;
        let contacts = Contacts::new(&self.model, &self.state, setup, poses)?;
        #[cfg(feature = "gpu")]
        if let Backend::Gpu(g) = &mut self.backend {
            g.set_contacts(&contacts)?;
        }
        self.contacts = Some(contacts);
        Ok(())
    }

    /// The tools, if [`Simulation::set_tools`] was called.
    pub fn contacts(&self) -> Option<&Contacts> {
        self.contacts.as_ref()
    }

    /// Advances one frame while the tool bodies move from their last poses to `poses`
    /// (interpolated per substep), and returns the tissue's wrench on every body and the
    /// needle's frame. The GPU gets the frame's tool poses in one upload and returns the
    /// force sums in one read-back (plus, with a needle, the positions for its state
    /// machine).
    pub fn step_tools(&mut self, poses: &[Pose]) -> Result<ContactReport, SimError> {
        let Some(mut contacts) = self.contacts.take() else {
            return Err(SimError::Config("step_tools before set_tools".into()));
        };
        let out = self.step_tools_inner(&mut contacts, poses);
        self.contacts = Some(contacts);
        out
    }

    fn step_tools_inner(
        &mut self,
        contacts: &mut Contacts,
        poses: &[Pose],
    ) -> Result<ContactReport, SimError> {
        let needle = contacts.has_needle();
        let (substeps, dt) = (self.plan().substeps, self.plan().dt);
        // Only the needle's state machine needs the positions: without one the GPU keeps the
        // state and nothing but the force sums comes back.
        let positions = if needle {
            self.state()?;
            Some(self.state.positions(&self.model))
        } else {
            None
        };
        let time = self.time();
        contacts.plan_frame(&self.model, positions.as_deref(), poses, substeps, time)?;
        let (raw, dev) = match &mut self.backend {
            Backend::Cpu(c) => {
                c.step_contacts(&self.model, &mut self.state, &self.control, contacts)?
            }
            #[cfg(feature = "gpu")]
            Backend::Gpu(g) => {
                self.synced = false;
                let out = g.step_contacts(&self.control, contacts)?;
                g.check()?;
                out
            }
        };
        let positions = if needle {
            self.state()?;
            Some(self.state.positions(&self.model))
        } else {
            None
        };
        Ok(contacts.finish_frame(&self.model, &raw, dev, positions.as_deref(), dt))
    }

    /// Simulated time (s), without reading the state back from the GPU.
    pub fn time(&self) -> f64 {
        match &self.backend {
            Backend::Cpu(_) => self.state.time,
            #[cfg(feature = "gpu")]
            Backend::Gpu(g) => g.time(),
        }
    }

    /// Diagnostics of the current state.
    pub fn diagnostics(&mut self) -> Result<Diagnostics, SimError> {
        self.state()?;
        Ok(diagnostics(&self.model, &self.state))
    }
}
