//! The XPBD tissue solver: configuration, substep planning, diagnostics and the CPU backend.
//!
//! One frame (`frame_dt`) is split into substeps (Macklin et al. 2019, "Small Steps"). Each
//! substep runs, on both backends and in this order:
//! 1. `predict` (per vertex): v += dt (g + f/m), velocity damping, x_prev = x, x += dt v;
//! 2. `warm_start` (per colour, per tet): x += M^-1 grad C(x_prev)^T lambda_prev, i.e. the
//!    previous substep's constraint impulses are applied again, evaluated at x_prev;
//!    then `collide` (per vertex, if there are planes) so the solve sees the contacts;
//! 3. `solve` (per colour, per tet, `iterations` times): project the deviatoric then the
//!    hydrostatic stable neo-Hookean constraint (Macklin & Muller 2021) with XPBD compliance,
//!    accumulating lambda;
//! 4. `finalize` (per vertex): static planes with Coulomb friction, v = (x - x_prev) / dt,
//!    NaN / blow-up detection;
//! 5. `damp` (per colour, per tet, only if a material has Rayleigh damping): implicit
//!    stiffness-proportional damping of the velocities.
//!
//! Why warm starting: with one Gauss-Seidel sweep per substep and lambda reset to zero,
//! the steady state of XPBD is off by a factor of about 1 + (c dt / h)^2 (c shear wave speed,
//! h element size), which is why XPBD tissue sags too deep at practical substep counts.
//! Carrying lambda over makes the exact static equilibrium (grad U = f_ext) a fixed point
//! of the substep, whatever dt: at rest, the warm start cancels gravity's prediction and
//! every constraint sees C + alpha~ lambda = 0. The substep count then only governs the
//! dynamics and stability, and is chosen from the mesh and materials ([`plan_substeps`]).
//!
//! Stability: re-applying last substep's impulses is an explicit step of the elastic force,
//! so it carries a CFL-like bound. Measured on 8x8x4-cube blocks (60 frames, gravity):
//! nu = 0.45 is stable up to shear Courant c_s dt / h = 0.41 (P-wave 1.37) and blows up at
//! 0.55; nu = 0.3, E = 100 kPa blows up at shear Courant 0.53; nu = 0.49 is right at P-wave
//! Courant c_p dt / h = 1.0 and wrong (tets at 70 % volume) at 1.5; nu = 0.499 needs 0.7.
//! With lambda reset the same substeps settle 20-30 % too deep or lock into a period-2
//! oscillation instead. Auto substeps keep c_s dt / h <= 0.3 and c_p dt / h <= 1 (h the
//! equivalent regular-tet edge; in the code h = sqrt(3) / |Dm^-1|_F, see [`SHEAR_COURANT`]) in
//! the worst tet of the mesh (a 10th-percentile size let a layered limb with thin wedges
//! at its axis invert within 6 frames), both scaled by `courant` (default 1; use 0.7 for
//! nu >= 0.495).

pub(crate) mod constraints;
pub mod cpu;
mod diagnostics;
pub mod guards;
mod lanes;
pub mod statics;

/// F = I + Du Dm^-1 of one tet from its vertex displacements (columns).
// The CPU mirrors of the WGSL tet kernels (`constraints`) are the backends' internals, not
// API; only the deformation gradient is used beside them.
pub(crate) use constraints::deformation;
pub use cpu::CpuXpbd;
pub use diagnostics::{diagnostics, region_health, Diagnostics, RegionHealth};
#[cfg(feature = "gpu")]
pub(crate) use guards::HealthLimits;
pub use guards::{Breach, EnergyInput, EnergyWatch, GuardKind, Guards, VOLUME_FIXED_ONE};

use crate::mesh::RegionId;
use crate::model::Model;
use serde::{Deserialize, Serialize};

/// How many substeps a frame is split into.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SubstepPolicy {
    /// Chosen from the mesh and materials so that `c_p dt / h <= courant` for the stiffest,
    /// finest region (c_p pressure wave speed sqrt((lambda + 2 mu) / rho), h element size).
    Auto {
        /// Target shear-wave Courant number per substep.
        courant: f64,
    },
    /// A fixed count.
    Fixed(u32),
}

impl Default for SubstepPolicy {
    fn default() -> Self {
        SubstepPolicy::Auto {
            courant: DEFAULT_COURANT,
        }
    }
}

/// Default scale of [`SubstepPolicy::Auto`]'s stability bounds.
pub const DEFAULT_COURANT: f64 = 1.0;

/// How many threads the CPU backend runs a frame on (the GPU backend ignores it).
///
/// In a scene file, `threads = "auto"` or `threads = 2` in `[simulation]`; on the command
/// line, `--threads auto` or `--threads 2`. Whatever the count, a frame gives the same bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Threads {
    /// This run's share of the machine, fewer for small models
    /// ([`cpu::auto_team_size`]): [`std::thread::available_parallelism`] (or
    /// [`cpu::THREADS_ENV`], `VESALIUS_THREADS`, if set lower) divided by the number of CPU
    /// solvers of this process that are stepping at that moment (each counted while inside
    /// a step call, so N candidates run side by side in one process do not oversubscribe
    /// the cores), rounded down; then at most one thread per [`cpu::MIN_TETS_PER_THREAD`]
    /// tets; at least one. Re-evaluated at the start of every frame. Then measured: the
    /// solver times its frames and runs one now and then on the other size (the team or
    /// one thread), keeping the faster, so a team whose cores other processes share is
    /// never kept when one thread is faster. Runs in other processes are not counted: give
    /// a batch's processes `VESALIUS_THREADS` or `Fixed` counts.
    #[default]
    Auto,
    /// Exactly this many (1..=[`MAX_THREADS`]), whatever the model size and whatever else
    /// is running.
    Fixed(usize),
}

/// Most threads [`Threads::Fixed`] accepts.
pub const MAX_THREADS: usize = 1024;

/// A thread setting that is neither `"auto"` nor a count in 1..=[`MAX_THREADS`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("threads must be \"auto\" or a count from 1 to {MAX_THREADS}, got {0}")]
pub struct ThreadsError(String);

impl Threads {
    /// `Fixed(n)`, if `n` is in 1..=[`MAX_THREADS`].
    pub fn fixed(n: u64) -> Result<Self, ThreadsError> {
        match usize::try_from(n) {
            Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(Self::Fixed(n)),
            _ => Err(ThreadsError(n.to_string())),
        }
    }

    /// The setting itself, if it is valid (a `Fixed` count built directly may not be).
    pub fn check(self) -> Result<Self, ThreadsError> {
        match self {
            Self::Auto => Ok(self),
            Self::Fixed(n) => Self::fixed(n as u64),
        }
    }
}

impl std::str::FromStr for Threads {
    type Err = ThreadsError;
    /// `"auto"` or a count.
    fn from_str(s: &str) -> Result<Self, ThreadsError> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            t => match t.parse::<u64>() {
                Ok(n) => Self::fixed(n),
                Err(_) => Err(ThreadsError(format!("{s:?}"))),
            },
        }
    }
}

impl std::fmt::Display for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// `"auto"` or a number, as in the scene file.
impl Serialize for Threads {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => s.serialize_str("auto"),
            Self::Fixed(n) => s.serialize_u64(*n as u64),
        }
    }
}

/// `"auto"` or a count in 1..=[`MAX_THREADS`]; anything else is an error that says so.
impl<'de> Deserialize<'de> for Threads {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Threads;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"auto\" or a thread count")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Threads, E> {
                Threads::fixed(n).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Threads, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(ThreadsError(n.to_string()))),
                }
            }
            fn visit_f64<E: serde::de::Error>(self, x: f64) -> Result<Threads, E> {
                Err(E::custom(ThreadsError(x.to_string())))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Threads, E> {
                if s == "auto" {
                    Ok(Threads::Auto)
                } else {
                    Err(E::custom(ThreadsError(format!("{s:?}"))))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Solver settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SolverConfig {
    /// Frame length (s); one `step` advances one frame.
    pub frame_dt: f64,
    /// Substeps per frame.
    pub substeps: SubstepPolicy,
    /// Gauss-Seidel sweeps per substep.
    pub iterations: u32,
    /// Carry constraint multipliers from one substep to the next (see module docs).
    pub warm_start: bool,
    /// A vertex faster than this (m/s) is reported as a blow-up.
    pub max_speed: f64,
    /// Threads of the CPU backend (see [`Threads`]; the GPU backend ignores it).
    pub threads: Threads,
    /// Run even where the substeps are past the stable bound ([`STABLE_COURANT`]: a fixed
    /// count too small, or the automatic count capped at [`MAX_AUTO_SUBSTEPS`]), which is
    /// otherwise refused before the first step ([`SimError::Unstable`]).
    pub allow_unstable: bool,
    /// The physical sanity guards both backends judge after every frame (a breach ends the
    /// step with [`SimError::Guard`]; see [`guards`]).
    pub guards: Guards,
}

impl Default for SolverConfig {
    fn default() -> Self {
        Self {
            frame_dt: 1.0 / 60.0,
            substeps: SubstepPolicy::default(),
            iterations: 1,
            warm_start: true,
            max_speed: 500.0,
            threads: Threads::Auto,
            allow_unstable: false,
            guards: Guards::default(),
        }
    }
}

/// The substep choice for a model, with the numbers behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepPlan {
    /// Substeps per frame.
    pub substeps: u32,
    /// Gauss-Seidel sweeps per substep.
    pub iterations: u32,
    /// Substep length (s).
    pub dt: f64,
    /// Frame length (s).
    pub frame_dt: f64,
    /// Largest effective Courant number max(c_s / SHEAR_COURANT, c_p / P_COURANT) dt / h over
    /// tets at this dt (<= the policy's `courant` when automatic).
    pub courant: f64,
    /// Region of the tet that sets the Courant number.
    pub critical_region: RegionId,
    /// Effective wave speed of that tet's material, max(c_s / SHEAR_COURANT, c_p / P_COURANT) (m/s).
    pub wave_speed: f64,
    /// Size of that tet, sqrt(3) / |Dm^-1|_F (m).
    pub element_size: f64,
    /// Whether warm starting is on.
    pub warm_start: bool,
    /// How the count was chosen.
    pub policy: String,
}

/// Shear-wave Courant bound c_s dt / h of automatic substeps (times `courant`), with h the
/// element size sqrt(3) / |Dm^-1|_F. Measured as 0.3 with h = cbrt(6 sqrt(2) V) on Kuhn-split
/// cubes, where sqrt(3) / |Dm^-1|_F is 0.69 of that: 0.3 / 0.69.
pub const SHEAR_COURANT: f64 = 0.435;
/// Pressure-wave Courant bound c_p dt / h of automatic substeps (times `courant`); 1.0 with
/// the equivalent-edge size, 1 / 0.69 with sqrt(3) / |Dm^-1|_F.
pub const P_COURANT: f64 = 1.45;

/// Upper bound on automatically chosen substeps per frame.
pub const MAX_AUTO_SUBSTEPS: u32 = 2000;

/// Largest effective Courant number (see [`StepPlan::courant`]; 1 is the automatic plan's
/// bound at `courant = 1`) a simulation starts with unless
/// [`SolverConfig::allow_unstable`]: blocks of nu = 0.45 blew up at 1.26 (shear Courant
/// 0.55, module docs), so past this a run is expected to invert tets or blow up.
pub const STABLE_COURANT: f64 = 1.25;

/// Most substeps per frame a fixed [`SubstepPolicy::Fixed`] count may ask for.
pub const MAX_SUBSTEPS: u32 = 100_000;

/// Most Gauss-Seidel sweeps per substep (`iterations`).
pub const MAX_ITERATIONS: u32 = 1000;

/// Errors of a running simulation (one message each: see
/// [`SceneError`](crate::scene::SceneError) for the rule).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Solver settings are invalid.
    #[error("solver configuration: {0}")]
    Config(String),
    /// The substeps are past the stable bound (refused unless
    /// [`SolverConfig::allow_unstable`]).
    #[error("{policy} substeps {substeps} are {ratio:.1}x past the stable bound for region {region} (effective Courant {courant:.2} > {STABLE_COURANT} at a {element_mm:.2} mm tet): {advice}, or set allow_unstable = true to run anyway")]
    Unstable {
        /// `"fixed"` or `"capped automatic"`.
        policy: &'static str,
        /// The substeps per frame.
        substeps: u32,
        /// Effective Courant number over [`STABLE_COURANT`].
        ratio: f64,
        /// The effective Courant number of the worst tet.
        courant: f64,
        /// The worst tet's region (its name where the model has one, else its id).
        region: String,
        /// Size of the worst tet (mm).
        element_mm: f64,
        /// What to change.
        advice: String,
    },
    /// The state became NaN/inf.
    #[error(
        "simulation blew up at step {step}: non-finite position or velocity (vertex {vertex})"
    )]
    NonFinite {
        /// Frame index where it was first seen.
        step: u64,
        /// A vertex where it was seen.
        vertex: u32,
    },
    /// A vertex exceeded the speed limit.
    #[error("simulation blew up at step {step}: vertex {vertex} moves at {speed:.3e} m/s (limit {limit} m/s, `max_speed`)")]
    BlowUp {
        /// Frame index where it was first seen.
        step: u64,
        /// The vertex.
        vertex: u32,
        /// Its speed.
        speed: f64,
        /// The limit.
        limit: f64,
    },
    /// A physical sanity guard broke after a frame (the state is that frame's on the CPU;
    /// on the GPU, the state after the frames of the step call, which ran on).
    #[error(transparent)]
    Guard(Box<Breach>),
    /// The control does not fit the model.
    #[error("control: {0}")]
    Control(String),
    /// No GPU could be acquired (no adapter, or no device on it).
    #[cfg(feature = "gpu")]
    #[error("gpu: {0}")]
    GpuInit(#[from] crate::gpu::GpuError),
    /// The GPU backend was asked for in a build without it (feature `gpu` off).
    #[error("gpu: this build has no GPU backend (feature `gpu` is off)")]
    NoGpuBackend,
    /// The GPU failed while running (buffer limits, readback, device loss).
    #[error("gpu: {0}")]
    Gpu(String),
    /// Tools: setup or per-frame poses.
    #[error(transparent)]
    Contact(#[from] crate::contact::ContactError),
}

/// Plans the substeps of a frame for `model` (see [`SubstepPolicy`]).
pub fn plan_substeps(model: &Model, config: &SolverConfig) -> Result<StepPlan, SimError> {
    if !(config.frame_dt.is_finite() && config.frame_dt > 0.0) {
        return Err(SimError::Config(format!(
            "frame_dt must be > 0 s, got {}",
            config.frame_dt
        )));
    }
    if config.iterations == 0 || config.iterations > MAX_ITERATIONS {
        return Err(SimError::Config(format!(
            "iterations must be in 1..={MAX_ITERATIONS}, got {}",
            config.iterations
        )));
    }
    if !(config.max_speed.is_finite() && config.max_speed > 0.0) {
        return Err(SimError::Config(format!(
            "max_speed must be > 0 m/s, got {}",
            config.max_speed
        )));
    }
    config
        .threads
        .check()
        .map_err(|e| SimError::Config(e.to_string()))?;
    config.guards.check().map_err(SimError::Config)?;
    // Worst tet: the largest wave speed / element size over all tets, the size being
    // h_t = sqrt(3) / |Dm^-1|_F (an altitude-like length: slivers count as small).
    let mut worst = (0.0f64, RegionId(0), 0.0f64, 0.0f64); // (c/h, region, c, h)
    let speeds: Vec<f64> = model
        .materials
        .iter()
        .map(|(_, m)| {
            (m.shear_wave_speed() / SHEAR_COURANT).max(m.pressure_wave_speed() / P_COURANT)
        })
        .collect();
    for (t, r) in model.rest.iter().enumerate() {
        let b2: f64 = r
            .col
            .iter()
            .map(|c| (c[0] as f64).powi(2) + (c[1] as f64).powi(2) + (c[2] as f64).powi(2))
            .sum();
        let h = (3.0 / b2).sqrt();
        let c = speeds[model.tet_material[t] as usize];
        if c / h > worst.0 {
            worst = (c / h, model.tet_region[t], c, h);
        }
    }
    let (substeps, policy) = match config.substeps {
        SubstepPolicy::Fixed(n) => {
            if n == 0 || n > MAX_SUBSTEPS {
                return Err(SimError::Config(format!(
                    "substeps must be in 1..={MAX_SUBSTEPS}, got {n}"
                )));
            }
            (n, format!("fixed {n}"))
        }
        SubstepPolicy::Auto { courant } => {
            if !(courant.is_finite() && courant > 0.0) {
                return Err(SimError::Config(format!(
                    "courant must be > 0, got {courant}"
                )));
            }
            let n = (config.frame_dt * worst.0 / courant).ceil().max(1.0);
            let n = if n > MAX_AUTO_SUBSTEPS as f64 {
                log::warn!(
                    "auto substeps capped at {MAX_AUTO_SUBSTEPS} (wanted {n}); the finest/stiffest region {} will be less accurate",
                    worst.1
                );
                MAX_AUTO_SUBSTEPS
            } else {
                n as u32
            };
            (
                n,
                format!(
                    "auto: worst tet at c_s dt / h <= {:.3}, c_p dt / h <= {:.2}",
                    SHEAR_COURANT * courant,
                    P_COURANT * courant
                ),
            )
        }
    };
    let dt = config.frame_dt / substeps as f64;
    let courant = worst.0 * dt;
    if courant > STABLE_COURANT && !config.allow_unstable {
        let fixed = matches!(config.substeps, SubstepPolicy::Fixed(_));
        // The fewest substeps at the automatic bound (effective Courant 1).
        let needed = (config.frame_dt * worst.0).ceil();
        let advice = if fixed && needed <= MAX_AUTO_SUBSTEPS as f64 {
            format!("use substeps = \"auto\" or at least {needed}")
        } else {
            format!(
                "it needs {needed} substeps per frame, more than {MAX_AUTO_SUBSTEPS}: use a shorter frame_dt, larger elements or a softer material in that region"
            )
        };
        return Err(SimError::Unstable {
            policy: if fixed { "fixed" } else { "capped automatic" },
            substeps,
            ratio: courant / STABLE_COURANT,
            courant,
            region: model.region_label(worst.1),
            element_mm: worst.3 * 1e3,
            advice,
        });
    }
    Ok(StepPlan {
        substeps,
        iterations: config.iterations,
        dt,
        frame_dt: config.frame_dt,
        courant,
        critical_region: worst.1,
        wave_speed: worst.2,
        element_size: worst.3,
        warm_start: config.warm_start,
        policy,
    })
}
