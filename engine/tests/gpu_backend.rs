//! The GPU backend against the CPU backend (same algorithm, same colouring order), and its
//! failure reporting. Runs on whatever adapter is present (lavapipe in CI).
#![cfg(feature = "gpu")]

mod common;

use vesalius_engine::gpu::GpuXpbd;
use vesalius_engine::model::State;
use vesalius_engine::solver::{CpuXpbd, SimError, SolverConfig, SubstepPolicy};

fn max_diff(a: &State, b: &State) -> f32 {
    a.displacements
        .iter()
        .zip(&b.displacements)
        .map(|(p, q)| (0..3).map(|k| (p[k] - q[k]).abs()).fold(0.0, f32::max))
        .fold(0.0, f32::max)
}

#[test]
fn gpu_matches_cpu_after_many_steps() {
    let Some(ctx) = common::gpu() else { return };
    let mut m = common::tissue(2e4, 0.45);
    m.damping = 2e-3;
    let mut model = common::pinned_block([8, 8, 4], [0.08, 0.08, 0.04], m);
    // Sideways gravity: shear, compression and a static plane with friction all take part.
    model.gravity = [3.0, 0.0, -9.81];
    model.planes.push(vesalius_engine::model::Plane {
        normal: [1.0, 0.0, 0.0],
        offset: 0.0405,
        static_friction: 0.5,
        kinetic_friction: 0.3,
    });
    model.planes[0].normal = [-1.0, 0.0, 0.0];
    model.planes[0].offset = -0.0405;
    // 13 substeps: the fewest within the stable bound (10 are 1.04x past it).
    let config = SolverConfig {
        substeps: SubstepPolicy::Fixed(13),
        ..Default::default()
    };
    let mut cpu = CpuXpbd::new(&model, &config).unwrap();
    let mut cpu_state = model.state();
    let mut gpu = GpuXpbd::new(&ctx, &model, &model.state(), &config).unwrap();
    let mut gpu_state = model.state();
    let control = model.control();
    for _ in 0..4 {
        cpu.step(&model, &mut cpu_state, &control, 30).unwrap();
        gpu.step(&control, 30).unwrap();
        gpu.check(&model).unwrap();
    }
    gpu.read_state(&mut gpu_state).unwrap();
    let moved = cpu_state
        .displacements
        .iter()
        .map(|d| d[2].abs())
        .fold(0.0, f32::max);
    assert!(moved > 1e-4, "the block should sag, moved {moved}");
    let diff = max_diff(&cpu_state, &gpu_state);
    eprintln!("max abs CPU/GPU difference {diff:e} m, max sag {moved:e} m");
    // 120 frames x 13 substeps: f32 rounding differences (FMA contraction on the GPU) stay
    // well below a thousandth of the block size.
    assert!(
        diff < 1e-3 * 0.04 && diff < 0.02 * moved,
        "max |u_cpu - u_gpu| = {diff} (sag {moved})"
    );
    assert_eq!(gpu_state.step, 120);
    for (a, b) in cpu_state.lambdas.iter().zip(&gpu_state.lambdas).take(50) {
        assert!(
            (a[1] - b[1]).abs() <= 1e-2 * a[1].abs().max(1e-12),
            "{a:?} vs {b:?}"
        );
    }
}

#[test]
fn gpu_reports_nan_with_its_step() {
    let Some(ctx) = common::gpu() else { return };
    let model = common::pinned_block([3, 3, 3], [0.03, 0.03, 0.03], common::tissue(1e4, 0.4));
    // Past the stable bound (1.9x): this checks the detection, not the physics.
    let config = SolverConfig {
        substeps: SubstepPolicy::Fixed(4),
        allow_unstable: true,
        ..Default::default()
    };
    let mut state = model.state();
    state.step = 7;
    let free = (0..model.num_vertices())
        .find(|&i| model.inv_mass[i] > 0.0)
        .unwrap();
    state.velocities[free] = [f32::NAN, 0.0, 0.0];
    let mut gpu = GpuXpbd::new(&ctx, &model, &state, &config).unwrap();
    gpu.step(&model.control(), 3).unwrap();
    match gpu.check(&model) {
        Err(SimError::NonFinite { step, .. }) => assert_eq!(step, 7),
        other => panic!("expected NonFinite at step 7, got {other:?}"),
    }
}

#[test]
fn gpu_reports_blow_up_speed() {
    let Some(ctx) = common::gpu() else { return };
    let model = common::pinned_block([3, 3, 3], [0.03, 0.03, 0.03], common::tissue(1e4, 0.4));
    let config = SolverConfig {
        substeps: SubstepPolicy::Fixed(4),
        max_speed: 5.0,
        allow_unstable: true,
        ..Default::default()
    };
    let mut state = model.state();
    for (i, v) in state.velocities.iter_mut().enumerate() {
        if model.inv_mass[i] > 0.0 {
            *v = [0.0, 0.0, 50.0];
        }
    }
    let mut gpu = GpuXpbd::new(&ctx, &model, &state, &config).unwrap();
    gpu.step(&model.control(), 2).unwrap();
    match gpu.check(&model) {
        Err(SimError::BlowUp { step: 0, speed, .. }) => assert!(speed > 5.0),
        other => panic!("expected BlowUp at step 0, got {other:?}"),
    }
}
