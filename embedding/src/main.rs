//! What an outside program needs from `vesalius-engine`, and nothing else: a block of tissue
//! under gravity built without a scene file, stepped on the CPU (and, with `--features gpu`,
//! on the GPU too), its sag checked against the block's static solution, and bad input
//! answered with typed errors. Exits non-zero when a check fails.
//!
//! ```sh
//! cargo run --manifest-path embedding/Cargo.toml                   # CPU only
//! cargo run --manifest-path embedding/Cargo.toml --features gpu    # and the GPU backend
//! ```

use std::process::ExitCode;
use vesalius_engine::prelude::*;
use vesalius_engine::scenes::top_centre_vertex;
use vesalius_engine::solver::statics::{static_equilibrium, StaticOptions};

/// The accuracy reference block (`scenes/block_sag.toml`, coarser): 10 x 10 x 5 cm,
/// E = 10 kPa, nu = 0.45, bottom pinned, 12 x 12 x 6 cubes of 6 tets.
fn block() -> Result<Model, ModelError> {
    let mesh = box_grid([12, 12, 6], [0.1, 0.1, 0.05], [-0.05, -0.05, 0.0]);
    ModelBuilder::new(mesh)
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
        .velocity_damping(20.0)
        .build()
}

/// Sag (m) of the top face's centre after `seconds` of gravity on `backend`.
fn sag(backend: Backend, seconds: u32) -> Result<f64, Box<dyn std::error::Error>> {
    let model = block()?;
    let top = top_centre_vertex(&model);
    let config = SolverConfig {
        threads: Threads::Fixed(2),
        ..Default::default()
    };
    let mut sim = Simulation::new(model, &config, backend)?;
    sim.step(60 * seconds)?;
    let (name, substeps) = (sim.backend_name().to_string(), sim.plan().substeps);
    let state = sim.sync_state()?;
    if let Some(bad) = state
        .displacements
        .iter()
        .flatten()
        .find(|v| !v.is_finite())
    {
        return Err(format!("a displacement is {bad}").into());
    }
    println!(
        "  {}: sag {:.4} mm after {seconds} s ({} substeps per frame)",
        name,
        -state.displacements[top][2] * 1e3,
        substeps
    );
    Ok(-f64::from(state.displacements[top][2]))
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    println!("vesalius-engine as an outside crate:");
    // The reference: the engine's Newton solve of the static equilibrium of the same mesh
    // and material (a different method: no time stepping, no XPBD); the dynamic run,
    // damped to rest, lands within 5 % of it (-2.7 % in the README's accuracy table).
    let model = block()?;
    let statics = static_equilibrium(&model, &StaticOptions::default());
    let reference = -statics.displacements[top_centre_vertex(&model)][2];
    println!("  Newton statics: sag {:.4} mm", reference * 1e3);
    let cpu = sag(Backend::Cpu, 4)?;
    let err = cpu / reference - 1.0;
    if err.abs() > 0.05 {
        return Err(format!(
            "CPU sag {cpu:e} m is {:+.1} % off the static solution",
            err * 100.0
        )
        .into());
    }
    #[cfg(feature = "gpu")]
    {
        let gpu = sag(Backend::Gpu { adapter: None }, 4)?;
        let d = gpu / cpu - 1.0;
        if d.abs() > 1e-3 {
            return Err(format!(
                "GPU sag {gpu:e} m differs from the CPU's by {:+.3} %",
                d * 100.0
            )
            .into());
        }
    }
    // Bad input: typed errors an embedder can match on, not panics.
    let soft = ModelBuilder::new(box_grid([1, 1, 1], [0.01; 3], [0.0; 3]))
        .default_material(Material {
            youngs_modulus: 1.0e4,
            poisson_ratio: 0.5, // incompressible: the Lame parameter is infinite
            density: 1000.0,
            damping: 0.0,
        })
        .build();
    match soft {
        Err(e @ ModelError::Material { .. }) => println!("  refused as expected: {e}"),
        other => return Err(format!("poisson_ratio 0.5 was not refused: {other:?}").into()),
    }
    let missing = load_mesh(
        std::path::Path::new("no/such/mesh.msh"),
        &LoadOptions::default(),
    );
    match missing {
        Err(e @ MeshError::Io { .. }) => println!("  refused as expected: {e}"),
        other => {
            return Err(format!("a missing mesh file was not refused: {:?}", other.err()).into())
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("embedding check failed: {e}");
            ExitCode::FAILURE
        }
    }
}
