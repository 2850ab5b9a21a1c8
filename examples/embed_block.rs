//! Embedding the engine without a scene file: the accuracy reference block (0.1 x 0.1 x
//! 0.05 m, E 10 kPa, nu 0.45, 5 184 tets) built with `ModelBuilder`, its bottom pinned,
//! stepped on the CPU until it is at rest, and its sag compared with an independent answer:
//! a converged Newton FEM solve of the same mesh and energy in f64 (`solver::statics`), and
//! the 0.8-0.9 mm that converged implicit FEM (rapier's FEM, MuJoCo's flex) gives for it.
//! The README's accuracy table lists the same case.
//!
//! `cargo run --release --example embed_block --no-default-features`

use vesalius::engine::mesh::generate::box_grid;
use vesalius::engine::model::{Material, ModelBuilder, PinSet};
use vesalius::engine::scenes::top_centre_vertex;
use vesalius::engine::sim::{Backend, Simulation};
use vesalius::engine::solver::statics::{static_equilibrium, StaticOptions};
use vesalius::engine::solver::SolverConfig;

/// Frames after which a block that has not come to rest is an error.
const MAX_FRAMES: u32 = 600;

fn main() -> anyhow::Result<()> {
    // 12 x 12 x 6 cubes of 6 tets, bottom face (z = 0) pinned.
    let mesh = box_grid([12, 12, 6], [0.1, 0.1, 0.05], [-0.05, -0.05, 0.0]);
    let model = ModelBuilder::new(mesh)
        .default_material(Material {
            youngs_modulus: 1.0e4,
            poisson_ratio: 0.45,
            density: 1000.0,
            damping: 0.0,
        })
        .pin(PinSet::Plane {
            normal: [0.0, 0.0, 1.0],
            offset: 0.0,
        })
        .gravity([0.0, 0.0, -9.81])
        // Only so that it settles in a few hundred frames; the rest shape does not depend
        // on it.
        .velocity_damping(20.0)
        .build()?;
    let top = top_centre_vertex(&model);
    let reference = static_equilibrium(&model, &StaticOptions::default());
    let fem_sag = -reference.displacements[top][2];

    // The defaults: frames of 1/60 s, automatic substeps, warm start, `Threads::Auto`.
    let mut sim = Simulation::new(model, &SolverConfig::default(), Backend::Cpu)?;
    let plan = sim.plan().clone();
    println!(
        "{} tets on {}: {} substeps per frame ({})",
        sim.model().num_tets(),
        sim.backend_name(),
        plan.substeps,
        plan.policy
    );

    // At rest: the sag changed by less than 1e-5 of itself over the last 10 frames.
    let (mut frames, mut last) = (0, f64::INFINITY);
    let sag = loop {
        sim.step(10)?;
        frames += 10;
        let sag = -sim.sync_state()?.displacements[top][2] as f64;
        if frames >= 30 && (sag - last).abs() < 1e-5 * sag {
            break sag;
        }
        anyhow::ensure!(
            frames < MAX_FRAMES,
            "not at rest after {frames} frames (sag {sag} m)"
        );
        last = sag;
    };
    let error = sag / fem_sag - 1.0;
    println!(
        "top centre sag after {frames} frames ({:.2} s): {:.3} mm",
        sim.time(),
        sag * 1e3
    );
    println!(
        "Newton FEM of the same mesh: {:.3} mm (XPBD {:+.1} %); converged implicit FEM: 0.8-0.9 mm",
        fem_sag * 1e3,
        error * 1e2
    );
    anyhow::ensure!(
        error.abs() < 0.10,
        "XPBD is {:+.1} % off the Newton solution",
        error * 1e2
    );
    Ok(())
}
