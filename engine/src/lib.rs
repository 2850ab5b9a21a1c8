//! # vesalius-engine
//!
//! Headless core of Vesalius: tetrahedral tissue meshes, XPBD with stable neo-Hookean
//! constraints on the CPU (a thread team, AVX2) and on the GPU (wgpu compute, WGSL in
//! `shaders/`).
//!
//! # Quick start: a tissue block without a scene file
//!
//! A mesh ([`mesh::generate`] or [`mesh::load`]) becomes a [`model::Model`] through
//! [`model::ModelBuilder`] (materials per region, pins, gravity); a [`sim::Simulation`]
//! steps it on a [`sim::Backend`] with [`solver::SolverConfig`]'s settings (frame length,
//! substeps, threads):
//!
//! ```
//! use vesalius_engine::mesh::generate::box_grid;
//! use vesalius_engine::model::{Material, ModelBuilder, PinSet};
//! use vesalius_engine::scenes::top_centre_vertex;
//! use vesalius_engine::sim::{Backend, Simulation};
//! use vesalius_engine::solver::{SolverConfig, Threads};
//!
//! // A 4 x 4 x 2 cm block (8 x 8 x 4 cubes of 6 tets), soft tissue, bottom face pinned.
//! let mesh = box_grid([8, 8, 4], [0.04, 0.04, 0.02], [-0.02, -0.02, 0.0]);
//! let model = ModelBuilder::new(mesh)
//!     .default_material(Material {
//!         youngs_modulus: 1.0e4, // Pa
//!         poisson_ratio: 0.45,
//!         density: 1000.0, // kg/m^3
//!         damping: 0.0,    // s (Rayleigh)
//!     })
//!     .pin(PinSet::Plane { normal: [0.0, 0.0, 1.0], offset: 0.0 })
//!     .gravity([0.0, 0.0, -9.81]) // m/s^2 (the default)
//!     .velocity_damping(20.0)     // 1/s, so that it comes to rest quickly
//!     .build()?;
//! let top = top_centre_vertex(&model);
//!
//! // Frames of 1/60 s, automatic substeps; two threads (the default, `Threads::Auto`,
//! // takes this run's share of the cores).
//! let config = SolverConfig { threads: Threads::Fixed(2), ..Default::default() };
//! let mut sim = Simulation::new(model, &config, Backend::Cpu)?;
//! println!("{} on {}", sim.plan().policy, sim.backend_name());
//!
//! sim.step(60)?; // one second
//! let sag = -sim.sync_state()?.displacements[top][2];
//! assert!(sag > 1e-5 && sag < 1e-3, "sag {sag} m");
//!
//! // Positions without a copy of the state: the lowest point of the block.
//! let lowest = sim.positions()?.map(|p| p[2]).fold(f32::INFINITY, f32::min);
//! assert!(lowest >= -1e-6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `Backend::Gpu { adapter: None }` runs the same on the GPU (feature `gpu`), and
//! `Backend::Auto { adapter: None }` on a hardware GPU when there is one, else on the CPU.
//! On the GPU the state stays on the device: [`sim::Simulation::sync_state`] and
//! [`sim::Simulation::positions`] read it back (only when it changed), [`sim::Simulation::step`]
//! does not. Tools (rigid shapes, attachments, a needle) are [`sim::Simulation::set_tools`];
//! their poses are part of the control (`Control::tool_poses`) like the vertex forces and the
//! supports' motion, and [`sim::Simulation::step_tools`] is the shorthand for one frame. `examples/embed_block.rs` (in the `vesalius` package)
//! builds the accuracy reference block this way and compares its sag with a Newton FEM solve.
//!
//! # Where the settings live
//!
//! A scene file's `[simulation]` table ([`scene::SimulationSpec`]) holds every run setting;
//! in code they are split by what they belong to: the model (what the tissue is and feels)
//! and the solver (how it is stepped).
//!
//! | `[simulation]` key | in code |
//! |---|---|
//! | `gravity` (m/s^2) | [`model::ModelBuilder::gravity`] ([`model::Model::gravity`]) |
//! | `velocity_damping` (1/s) | [`model::ModelBuilder::velocity_damping`] |
//! | `frame_dt` (s) | [`solver::SolverConfig::frame_dt`]: one [`sim::Simulation::step`] frame |
//! | `substeps` (`"auto"` or N), `courant` | [`solver::SolverConfig::substeps`] ([`solver::SubstepPolicy`]) |
//! | `iterations`, `warm_start`, `max_speed` | the [`solver::SolverConfig`] fields of those names |
//! | `threads` (`"auto"` or N) | [`solver::SolverConfig::threads`] ([`solver::Threads`]) |
//! | `allow_unstable`, `guards = { ... }` | [`solver::SolverConfig::allow_unstable`], [`solver::SolverConfig::guards`] ([`solver::Guards`]: judged after every frame, a breach is [`solver::SimError::Guard`]) |
//! | `backend`, `adapter` | [`sim::Backend`] ([`scene::SimulationSpec::backend`]) |
//! | `duration` (s) | the caller's loop: `duration / frame_dt` frames ([`scene::BuiltScene::frames`]) |
//!
//! [`scene::Scene::build`] makes the model and the solver settings from a scene file; the
//! CLI's `--backend`, `--adapter`, `--threads` and `--duration` override the table's keys.
#![warn(missing_docs)]

pub mod contact;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod mesh;
pub mod model;
pub mod output;
pub mod scene;
pub mod scenes;
// The WGSL sources as wgpu gets them: public only for the naga validation test
// (`tests/shaders_validate.rs`); kernels and their buffer layouts are not API.
#[doc(hidden)]
pub mod shaders;
pub mod sim;
pub mod solver;

pub use glam;

/// The types most programs need, in one `use vesalius_engine::prelude::*;`: meshes, the
/// model and its builder, state and control, the simulation and its backend, the solver's
/// settings and errors, scenes, tools and the guards.
pub mod prelude {
    pub use crate::contact::{
        Attachment, BodyWrench, ContactReport, NeedleEvent, NeedleEventKind, NeedleReport,
        NeedleSpec, Pose, ToolSetup, ToolShape, ToolShapeDesc,
    };
    pub use crate::mesh::generate::box_grid;
    pub use crate::mesh::{load as load_mesh, LoadOptions, MeshError, TetMesh};
    pub use crate::model::{
        Control, Material, Model, ModelBuilder, ModelError, PinSet, Plane, State,
    };
    pub use crate::output::{FrameWriter, OutputError};
    pub use crate::scene::{BuiltScene, Scene, SceneError};
    pub use crate::sim::{Backend, BackendKind, Simulation};
    pub use crate::solver::{
        Breach, Diagnostics, Guards, SimError, SolverConfig, StepPlan, SubstepPolicy, Threads,
    };
}
