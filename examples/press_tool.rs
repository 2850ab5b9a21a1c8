//! A tool pressing tissue, with the force read back every frame, against Hertz: a rigid
//! frictionless sphere (R = 20 mm) pressed 2 mm into a 120 x 120 x 60 mm block (E = 10 kPa,
//! nu = 0.45, bottom bonded, no gravity) feels F = 4/3 E / (1 - nu^2) sqrt(R) d^(3/2). The
//! block has 1 mm cells near the contact, growing outward (about 140k tets); the sphere
//! ramps down over 0.5 s and holds 0.25 s. The same case is a test
//! (`engine/tests/contact.rs`, within 15 %).
//!
//! `cargo run --release --example press_tool` (`--no-default-features` for a CPU-only build;
//! about 20 s on 2 cores).

use vesalius::engine::contact::{Pose, ToolSetup, ToolShape, ToolShapeDesc};
use vesalius::engine::glam::DVec3;
use vesalius::engine::mesh::generate::{box_grid_graded, graded_coords};
use vesalius::engine::model::{Material, ModelBuilder, PinSet};
use vesalius::engine::sim::{Backend, Simulation};
use vesalius::engine::solver::SolverConfig;

fn main() -> anyhow::Result<()> {
    let (half, depth, radius, dmax) = (0.06, 0.06, 0.02, 0.002);
    let (e, nu) = (1.0e4, 0.45);
    // 1 mm cells within 8 mm of the contact axis and of the top, growing by 1.3 outward.
    let xs = graded_coords(-half, half, 0.0, 0.001, 0.008, 1.3);
    let zs = graded_coords(0.0, depth, depth, 0.001, 0.008, 1.3);
    let mut model = ModelBuilder::new(box_grid_graded(&xs, &xs, &zs)?)
        .default_material(Material {
            youngs_modulus: e,
            poisson_ratio: nu,
            density: 1000.0,
            damping: 0.0,
        })
        .pin(PinSet::Plane {
            normal: [0.0, 0.0, 1.0],
            offset: 0.0,
        })
        .velocity_damping(30.0)
        .build()?;
    model.gravity = [0.0; 3];
    let tets = model.num_tets();
    let mut sim = Simulation::new(model, &SolverConfig::default(), Backend::Cpu)?;
    println!(
        "{tets} tets, {} substeps per frame on {}",
        sim.plan().substeps,
        sim.backend_name()
    );

    // One rigid body with one sphere; its pose each frame is the control.
    let setup = ToolSetup {
        bodies: vec!["indenter".into()],
        shapes: vec![ToolShapeDesc {
            body: 0,
            shape: ToolShape::Sphere { radius },
            origin: Pose::IDENTITY,
            static_friction: 0.0,
            kinetic_friction: 0.0,
        }],
        ..Default::default()
    };
    let centre = |d: f64| Pose::from_translation(DVec3::new(0.0, 0.0, depth + radius - d));
    sim.set_tools(&setup, &[centre(0.0)])?;
    let hertz = |d: f64| 4.0 / 3.0 * e / (1.0 - nu * nu) * radius.sqrt() * d.powf(1.5);
    let (ramp, hold) = (30, 15);
    let mut settled = 0.0;
    for f in 1..=ramp + hold {
        let d = dmax * (f.min(ramp) as f64 / ramp as f64);
        // The tissue's push on the body over the frame (N), read back with the frame.
        let report = sim.step_tools(&[centre(d)])?;
        settled = report.wrenches[0].force.z;
        if f % 5 == 0 {
            println!(
                "t {:.3} s  d {:.2} mm  F {settled:.4} N  Hertz {:.4} N",
                sim.time(),
                d * 1e3,
                hertz(d)
            );
        }
    }
    let expected = hertz(dmax);
    let error = settled / expected - 1.0;
    println!(
        "settled {settled:.4} N against Hertz {expected:.4} N: {:+.1} %",
        100.0 * error
    );
    anyhow::ensure!(error.abs() < 0.15, "more than 15 % from Hertz");
    Ok(())
}
