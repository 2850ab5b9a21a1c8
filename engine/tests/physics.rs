//! Physics of the CPU backend against conservation laws and closed-form answers.
//! (The GPU backend is checked against this one in gpu_backend.rs.)
#![allow(clippy::needless_range_loop)]

mod common;

use vesalius_engine::mesh::generate::box_grid;
use vesalius_engine::model::{Material, ModelBuilder};
use vesalius_engine::solver::{diagnostics, CpuXpbd, Guards, SolverConfig, SubstepPolicy};

#[test]
fn free_fall_matches_g_t2_over_2() {
    let mesh = box_grid([3, 3, 3], [0.03, 0.03, 0.03], [0.0, 0.0, 0.0]);
    let model = ModelBuilder::new(mesh)
        .default_material(common::tissue(1e4, 0.45))
        .build()
        .unwrap();
    let config = SolverConfig::default();
    let mut solver = CpuXpbd::new(&model, &config).unwrap();
    let mut state = model.state();
    solver
        .step(&model, &mut state, &model.control(), 30)
        .unwrap();
    let t = 30.0 / 60.0;
    let expected = 0.5 * 9.81 * t * t;
    // Symplectic Euler over n substeps falls g t^2 / 2 (1 + 1/n): within 1 % here.
    let n = (30 * solver.plan().substeps) as f64;
    for d in &state.displacements {
        assert!(
            d[0].abs() < 1e-5 && d[1].abs() < 1e-5,
            "sideways drift {d:?}"
        );
        let fall = -d[2] as f64;
        assert!(
            (fall / expected - 1.0).abs() < 1.0 / n + 1e-4,
            "fell {fall} m, expected {expected} m"
        );
    }
    let v = state.velocities[0][2] as f64;
    assert!((v + 9.81 * t).abs() < 1e-3, "velocity {v}");
}

#[test]
fn momentum_is_conserved_and_energy_does_not_grow_without_input() {
    // A free block, no gravity, no damping, released from a sheared and stretched shape
    // while spinning: internal forces must conserve linear and angular momentum, and the
    // implicit solver may only lose energy.
    let mesh = box_grid([4, 4, 4], [0.04, 0.04, 0.04], [-0.02, -0.02, -0.02]);
    let model = ModelBuilder::new(mesh)
        .default_material(common::tissue(1e4, 0.45))
        .gravity([0.0; 3])
        .build()
        .unwrap();
    let mut state = model.state();
    for (i, p) in model.rest_positions.iter().enumerate() {
        state.displacements[i] = [0.3 * p[2], 0.0, 0.2 * p[2]];
        state.velocities[i] = [-2.0 * p[1], 2.0 * p[0], 0.1];
    }
    let momentum = |s: &vesalius_engine::model::State| {
        let (mut lin, mut ang) = ([0.0f64; 3], [0.0f64; 3]);
        let x = s.positions(&model);
        for i in 0..model.num_vertices() {
            let (m, v, r) = (
                model.mass[i] as f64,
                s.velocities[i].map(|c| c as f64),
                x[i].map(|c| c as f64),
            );
            for k in 0..3 {
                lin[k] += m * v[k];
            }
            ang[0] += m * (r[1] * v[2] - r[2] * v[1]);
            ang[1] += m * (r[2] * v[0] - r[0] * v[2]);
            ang[2] += m * (r[0] * v[1] - r[1] * v[0]);
        }
        (lin, ang)
    };
    let e0 = diagnostics(&model, &state).total_energy();
    let (lin0, ang0) = momentum(&state);
    // Angular momentum drifts at first order in dt (1.6 % at 20 substeps, 0.17 % at 80).
    let config = SolverConfig {
        substeps: SubstepPolicy::Fixed(80),
        ..Default::default()
    };
    let mut solver = CpuXpbd::new(&model, &config).unwrap();
    let mut e_prev = e0;
    for _ in 0..60 {
        solver
            .step(&model, &mut state, &model.control(), 1)
            .unwrap();
        let e = diagnostics(&model, &state).total_energy();
        // Implicit Euler only dissipates; the partial Gauss-Seidel solve (and the lagged
        // velocity estimate) may wobble by under a percent between frames, never above the start.
        assert!(
            e <= e_prev * 1.01 && e <= e0,
            "energy grew from {e_prev} to {e} (start {e0})"
        );
        e_prev = e;
    }
    let (lin, ang) = momentum(&state);
    for k in 0..3 {
        // Exact in exact arithmetic; f32 rounding of the displacement increments biases it
        // by about 1e-3 at 80 substeps.
        assert!(
            (lin[k] - lin0[k]).abs() < 3e-3 * lin0[2].abs(),
            "linear momentum {lin:?} vs {lin0:?}"
        );
        assert!(
            (ang[k] - ang0[k]).abs() < 1e-2 * ang0[2].abs(),
            "angular momentum {ang:?} vs {ang0:?}"
        );
    }
    assert!(e_prev > 0.1 * e0, "lost too much energy: {e_prev} of {e0}");
}

#[test]
fn nearly_incompressible_tissue_keeps_its_volume_under_large_compression() {
    // A nu = 0.49 cube on a clamped base under a 30 g body load (a stack of tissue pressed
    // down): the top sinks by a sixth of the height, the sides bulge, and the volume stays
    // within 1 %. The same problem solved by Newton (statics.rs) is the reference shape.
    let side = 0.02;
    let mesh = box_grid(
        [5, 5, 5],
        [side, side, side],
        [-side / 2.0, -side / 2.0, 0.0],
    );
    let model = ModelBuilder::new(mesh)
        .default_material(Material {
            youngs_modulus: 1e4,
            poisson_ratio: 0.49,
            density: 1000.0,
            damping: 0.0,
        })
        .pin(vesalius_engine::model::PinSet::Plane {
            normal: [0.0, 0.0, 1.0],
            offset: 0.0,
        })
        .gravity([0.0, 0.0, -300.0])
        .velocity_damping(30.0)
        .build()
        .unwrap();
    let mut solver = CpuXpbd::new(&model, &SolverConfig::default()).unwrap();
    let mut state = model.state();
    solver
        .step(&model, &mut state, &model.control(), 180)
        .unwrap();
    let d = diagnostics(&model, &state);
    let top = vesalius_engine::scenes::top_centre_vertex(&model);
    let sink = -state.displacements[top][2] as f64;
    let newton = vesalius_engine::solver::statics::static_equilibrium(&model, &Default::default());
    let newton_sink = -newton.displacements[top][2];
    let mut newton_state = model.state();
    for (a, b) in newton_state
        .displacements
        .iter_mut()
        .zip(&newton.displacements)
    {
        *a = b.map(|c| c as f32);
    }
    let newton_volume = diagnostics(&model, &newton_state).total_volume_ratio;
    eprintln!(
        "30 g on nu = 0.49: top sinks {:.2} mm ({:.1} %), Newton {:.2} mm; volume ratio {:.5} (Newton {:.5}), det F in [{:.3}, {:.3}]",
        sink * 1e3,
        sink / side * 100.0,
        newton_sink * 1e3,
        d.total_volume_ratio,
        newton_volume,
        d.min_volume_ratio,
        d.max_volume_ratio
    );
    assert!(sink > 0.15 * side, "top sank only {sink} m");
    assert!(
        (d.total_volume_ratio - newton_volume).abs() < 2e-3,
        "volume {} vs Newton {newton_volume}",
        d.total_volume_ratio
    );
    assert!(
        (sink / newton_sink - 1.0).abs() < 0.05,
        "XPBD {sink} vs Newton {newton_sink}"
    );
    assert!(
        (d.total_volume_ratio - 1.0).abs() < 0.01,
        "volume ratio {}",
        d.total_volume_ratio
    );
    assert_eq!(d.inverted_tets, 0);
}

#[test]
fn inverted_mesh_recovers_without_nan() {
    // Every tet starts mirrored through z = 0 (det F = -1): stable neo-Hookean must push
    // it back through zero volume to the rest shape.
    let mesh = box_grid([4, 4, 4], [0.04, 0.04, 0.04], [-0.02, -0.02, 0.0]);
    let model = ModelBuilder::new(mesh)
        .default_material(common::tissue(1e4, 0.45))
        .gravity([0.0; 3])
        .velocity_damping(10.0)
        .build()
        .unwrap();
    let mut state = model.state();
    for (u, p) in state.displacements.iter_mut().zip(&model.rest_positions) {
        u[2] = -2.0 * p[2];
    }
    assert_eq!(diagnostics(&model, &state).inverted_tets, model.num_tets());
    // The guards would (rightly) stop a run that starts inverted: this one is meant to.
    let config = SolverConfig {
        guards: Guards {
            enabled: false,
            ..Guards::default()
        },
        ..SolverConfig::default()
    };
    let mut solver = CpuXpbd::new(&model, &config).unwrap();
    solver
        .step(&model, &mut state, &model.control(), 180)
        .unwrap();
    let d = diagnostics(&model, &state);
    assert!(d.finite);
    assert_eq!(d.inverted_tets, 0, "{d:?}");
    assert!(
        (d.min_volume_ratio - 1.0).abs() < 0.05 && (d.max_volume_ratio - 1.0).abs() < 0.05,
        "{d:?}"
    );
    assert!(d.elastic_energy < 1e-6, "{d:?}");
}

#[test]
fn rayleigh_damping_dissipates_vibration() {
    let run = |beta: f64| {
        let mut m = common::tissue(1e4, 0.45);
        m.damping = beta;
        let model = common::pinned_block([4, 4, 2], [0.04, 0.04, 0.02], m);
        let mut solver = CpuXpbd::new(&model, &SolverConfig::default()).unwrap();
        let mut state = model.state();
        solver
            .step(&model, &mut state, &model.control(), 6)
            .unwrap();
        // Peak kinetic energy of the sag oscillation after the first quarter period.
        let mut peak = 0.0f64;
        for _ in 0..30 {
            solver
                .step(&model, &mut state, &model.control(), 1)
                .unwrap();
            peak = peak.max(diagnostics(&model, &state).kinetic_energy);
        }
        peak
    };
    let (undamped, damped) = (run(0.0), run(0.01));
    assert!(
        damped < 0.5 * undamped,
        "peak kinetic energy with damping {damped}, without {undamped}"
    );
}

#[test]
fn static_planes_stop_a_falling_block_and_friction_holds_it_on_a_slope() {
    // A block dropped on a 20-degree slope: with mu_s = 0.8 > tan 20 it must stay put,
    // with mu = 0.05 it must slide down.
    let slide = |mu: f64| {
        let mesh = box_grid([3, 3, 2], [0.03, 0.03, 0.02], [-0.015, -0.015, 0.0]);
        let a = 20f64.to_radians();
        let model = ModelBuilder::new(mesh)
            .default_material(common::tissue(3e4, 0.4))
            .gravity([9.81 * a.sin(), 0.0, -9.81 * a.cos()])
            .plane(vesalius_engine::model::Plane {
                normal: [0.0, 0.0, 1.0],
                offset: 0.0,
                static_friction: mu,
                kinetic_friction: mu,
            })
            .build()
            .unwrap();
        let mut solver = CpuXpbd::new(&model, &SolverConfig::default()).unwrap();
        let mut state = model.state();
        solver
            .step(&model, &mut state, &model.control(), 60)
            .unwrap();
        let x = state.positions(&model);
        let zmin = x.iter().map(|p| p[2]).fold(f32::INFINITY, f32::min);
        assert!(zmin > -2e-4, "block sank into the plane: {zmin}");
        let mean_dx: f64 =
            state.displacements.iter().map(|u| u[0] as f64).sum::<f64>() / x.len() as f64;
        mean_dx
    };
    let (stuck, sliding) = (slide(0.8), slide(0.05));
    assert!(stuck.abs() < 1e-3, "held block moved {stuck} m");
    // Sliding for ~0.95 s at a = g (sin - mu cos) = 2.9 m/s^2 covers about 1.3 m.
    assert!(sliding > 0.5, "free block moved only {sliding} m");
}
