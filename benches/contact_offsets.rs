//! How much the force a tool feels depends on where it lands relative to the vertex grid
//! (issue 16): a 5 mm cylinder (the palpation instrument's shaft, 60 mm long) laid along y
//! across a 40 x 40 x 20 mm block (10 kPa, bottom pinned, no gravity) and pressed 1.5 mm,
//! at ten lateral offsets across one cell, on 4 mm and on 2 mm cells, with vertex contact
//! and with face contact. Reports the settled normal force at each offset and its spread;
//! asserts nothing (`engine/tests/surface_contact.rs` does).
//!
//! `cargo bench --bench contact_offsets`

use std::f64::consts::FRAC_PI_2;
use vesalius::engine::contact::{Pose, SurfaceContact, ToolSetup, ToolShape, ToolShapeDesc};
use vesalius::engine::glam::{DQuat, DVec3};
use vesalius::engine::mesh::generate::box_grid;
use vesalius::engine::model::{Material, ModelBuilder, PinSet};
use vesalius::engine::sim::{BackendKind, Simulation};
use vesalius::engine::solver::SolverConfig;

const RADIUS: f64 = 0.0025;
const DEPTH: f64 = 0.0015;
const TOP: f64 = 0.02;

/// The settled vertical force (N) on the cylinder pressed at lateral offset `x` (m) into
/// the block of `cell` (m) cells.
fn force(mode: SurfaceContact, cell: f64, x: f64) -> f64 {
    let n = (0.04 / cell).round() as usize;
    let mesh = box_grid([n, n, n / 2], [0.04, 0.04, TOP], [-0.02, -0.02, 0.0]);
    let mut model = ModelBuilder::new(mesh)
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
        .expect("the block");
    model.gravity = [0.0; 3];
    let setup = ToolSetup {
        bodies: vec!["instrument".into()],
        shapes: vec![ToolShapeDesc {
            body: 0,
            shape: ToolShape::Cylinder {
                radius: RADIUS,
                half_length: 0.03,
            },
            // The cylinder's axis (local z) along y.
            origin: Pose::new(DVec3::ZERO, DQuat::from_rotation_x(FRAC_PI_2)),
            static_friction: 0.0,
            kinetic_friction: 0.0,
        }],
        surface_contact: mode,
        ..Default::default()
    };
    let at = |d: f64| Pose::from_translation(DVec3::new(x, 0.0, TOP + RADIUS - d));
    let mut sim = Simulation::new(model, &SolverConfig::default(), BackendKind::Cpu.into())
        .expect("a stable plan");
    sim.set_tools(&setup, &[at(0.0)]).expect("tools");
    let (ramp, hold) = (30, 40);
    let mut f = 0.0;
    for k in 1..=ramp + hold {
        let d = DEPTH * (k.min(ramp) as f64 / ramp as f64);
        f = sim.step_tools(&[at(d)]).expect("a frame").wrenches[0]
            .force
            .z;
    }
    f
}

fn main() {
    println!(
        "cylinder r = {} mm pressed {} mm; settled force (N) at lateral offsets across one cell",
        RADIUS * 1e3,
        DEPTH * 1e3
    );
    for (mode, cell) in [
        (SurfaceContact::Vertices, 0.004),
        (SurfaceContact::Faces, 0.004),
        (SurfaceContact::Vertices, 0.002),
        (SurfaceContact::Faces, 0.002),
    ] {
        let forces: Vec<f64> = (0..10)
            .map(|k| force(mode, cell, cell * k as f64 / 10.0))
            .collect();
        let (lo, hi) = forces
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &f| (a.min(f), b.max(f)));
        let text: Vec<String> = forces.iter().map(|f| format!("{f:.4}")).collect();
        println!(
            "{:?}, {} mm cells: {}  (min {lo:.4}, max {hi:.4}, max/min {:.2})",
            mode,
            cell * 1e3,
            text.join(" "),
            hi / lo
        );
    }
}
