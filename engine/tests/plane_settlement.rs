//! Load-bearing contact with static planes: a column confined between frictionless walls
//! settles under its weight onto a frictionless floor. In uniaxial strain the exact
//! settlement of the top is rho g H^2 / (2 (lambda + 2 mu)).

use vesalius_engine::mesh::generate::box_grid;
use vesalius_engine::model::{Material, Model, ModelBuilder, Plane};
use vesalius_engine::sim::{BackendKind, Simulation};
use vesalius_engine::solver::{SolverConfig, SubstepPolicy};

const W: f64 = 0.01;
const H: f64 = 0.05;

fn wall(normal: [f64; 3], offset: f64) -> Plane {
    Plane {
        normal,
        offset,
        static_friction: 0.0,
        kinetic_friction: 0.0,
    }
}

fn column(m: Material) -> Model {
    let mesh = box_grid([2, 2, 10], [W, W, H], [0.0; 3]);
    ModelBuilder::new(mesh)
        .default_material(m)
        .plane(wall([0.0, 0.0, 1.0], 0.0))
        .plane(wall([1.0, 0.0, 0.0], 0.0))
        .plane(wall([-1.0, 0.0, 0.0], -W))
        .plane(wall([0.0, 1.0, 0.0], 0.0))
        .plane(wall([0.0, -1.0, 0.0], -W))
        .velocity_damping(20.0)
        .build()
        .unwrap()
}

/// The exact settlement of the top in uniaxial strain, rho g H^2 / (2 (lambda + 2 mu)).
fn exact_settlement(m: &Material) -> f64 {
    let (e, nu) = (m.youngs_modulus, m.poisson_ratio);
    let p_modulus = e * (1.0 - nu) / ((1.0 + nu) * (1.0 - 2.0 * nu));
    m.density * 9.81 * H * H / (2.0 * p_modulus)
}

/// Mean downward displacement of the top face after `seconds`.
fn settlement(model: &Model, substeps: SubstepPolicy, seconds: f64) -> (f64, u32) {
    let config = SolverConfig {
        substeps,
        ..SolverConfig::default()
    };
    let mut sim = Simulation::new(model.clone(), &config, BackendKind::Cpu.into()).unwrap();
    let n = sim.plan().substeps;
    sim.step((seconds * 60.0) as u32).unwrap();
    let state = sim.sync_state().unwrap();
    let top: Vec<f64> = model
        .rest_positions
        .iter()
        .zip(&state.displacements)
        .filter(|(p, _)| (p[2] as f64 - H).abs() < 1e-9)
        .map(|(_, u)| -u[2] as f64)
        .collect();
    (top.iter().sum::<f64>() / top.len() as f64, n)
}

#[test]
fn a_confined_column_settles_as_uniaxial_strain() {
    let m = Material {
        youngs_modulus: 1e5,
        poisson_ratio: 0.3,
        density: 1000.0,
        damping: 0.0,
    };
    let exact = exact_settlement(&m);
    let model = column(m);
    let (auto, n) = settlement(&model, SubstepPolicy::default(), 2.0);
    let (fine, n4) = settlement(&model, SubstepPolicy::Fixed(4 * n), 2.0);
    eprintln!(
        "exact {exact:.4e} m; auto ({n} substeps) {auto:.4e} ({:+.2} %); {n4} substeps {fine:.4e} ({:+.2} %)",
        100.0 * (auto / exact - 1.0),
        100.0 * (fine / exact - 1.0)
    );
    assert!(
        (auto / exact - 1.0).abs() < 0.02,
        "auto {auto} exact {exact}"
    );
    assert!(
        (fine / exact - 1.0).abs() < 0.02,
        "fine {fine} exact {exact}"
    );
}

/// A softer, nearly incompressible column (E = 10 kPa, nu = 0.45) confined by the walls is
/// unstable at the automatic substeps (19): the plane projection before the solve, against
/// walls on several sides, pumps energy into it (its total energy grows frame after frame;
/// a column on the floor alone settles at the same substeps). The energy guard stops it;
/// at 34 substeps (1.8x) it settles within 2 % of the exact settlement.
#[test]
fn a_soft_confined_column_is_stopped_by_the_energy_guard_at_the_automatic_substeps() {
    use vesalius_engine::solver::{GuardKind, SimError};
    let m = Material {
        youngs_modulus: 1e4,
        poisson_ratio: 0.45,
        density: 1000.0,
        damping: 0.0,
    };
    let exact = exact_settlement(&m);
    let model = column(m);
    let mut sim = Simulation::new(
        model.clone(),
        &SolverConfig::default(),
        BackendKind::Cpu.into(),
    )
    .unwrap();
    assert_eq!(sim.plan().substeps, 19);
    match sim.step(120) {
        Err(SimError::Guard(b)) => {
            eprintln!("{b}");
            assert_eq!(b.guard, GuardKind::EnergyGrowth);
            assert!(
                b.cause.contains("static planes on several sides"),
                "{}",
                b.cause
            );
        }
        other => panic!("expected the energy guard, got {other:?}"),
    }
    let (settled, n) = settlement(&model, SubstepPolicy::Fixed(34), 3.0);
    eprintln!(
        "exact {exact:.4e} m; {n} substeps {settled:.4e} ({:+.2} %)",
        100.0 * (settled / exact - 1.0)
    );
    assert!((settled / exact - 1.0).abs() < 0.02, "{settled} {exact}");
}
