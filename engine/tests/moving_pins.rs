//! Kinematic supports (`Control::pin_targets`): pinned vertices moved frame by frame carry
//! the tissue with them. Without gravity a block whose base is turned and shifted rigidly
//! settles into the same rigid motion of its rest shape (the neo-Hookean energy is
//! invariant under it), which is the analytic check; the GPU backend follows the CPU's.

mod common;

use vesalius_engine::glam::{DMat3, DVec3};
use vesalius_engine::model::{Control, Model, State};
use vesalius_engine::solver::{CpuXpbd, SimError, SolverConfig};

/// The block of the tests: 40 x 40 x 20 mm, its base pinned, no gravity, damped to settle.
fn block() -> Model {
    let mut m = common::tissue(2.0e4, 0.45);
    m.damping = 2e-3;
    let mut model = common::pinned_block([8, 8, 4], [0.04, 0.04, 0.02], m);
    model.gravity = [0.0; 3];
    model.velocity_damping = 10.0;
    model
}

/// The rigid motion at fraction `s` of the way: a turn of 10 degrees about z through the
/// origin and a shift of (2, 0, 1) mm.
fn motion(s: f64) -> (DMat3, DVec3) {
    (
        DMat3::from_rotation_z((10.0f64 * s).to_radians()),
        DVec3::new(0.002, 0.0, 0.001) * s,
    )
}

/// The pins' displacements at fraction `s` of the motion.
fn targets(model: &Model, s: f64) -> Vec<[f32; 3]> {
    let (r, t) = motion(s);
    model
        .pinned
        .iter()
        .map(|&i| {
            let x = DVec3::from_array(model.rest_positions[i as usize].map(f64::from));
            (r * x + t - x).as_vec3().to_array()
        })
        .collect()
}

/// Frames of the motion (0.3 s at 60 Hz) and of the hold after it (1.2 s).
const MOVE: u32 = 18;
const HOLD: u32 = 72;

/// Runs the motion (a smooth ramp, one target per frame) then the hold with `step`.
fn run(model: &Model, mut step: impl FnMut(&Control, u32)) {
    for f in 1..=MOVE {
        let u = f as f64 / MOVE as f64;
        let s = 0.5 - 0.5 * (std::f64::consts::PI * u).cos();
        let control = Control {
            pin_targets: targets(model, s),
            ..Default::default()
        };
        step(&control, 1);
    }
    step(&Control::default(), HOLD);
}

/// Worst distance of a vertex from the rigid motion of its rest position, and the largest
/// rigid displacement (m).
fn rigid_error(model: &Model, state: &State) -> (f64, f64) {
    let (r, t) = motion(1.0);
    let (mut worst, mut scale) = (0.0f64, 0.0f64);
    for (x, u) in model.rest_positions.iter().zip(&state.displacements) {
        let x = DVec3::from_array(x.map(f64::from));
        let want = r * x + t - x;
        let got = DVec3::from_array(u.map(f64::from));
        worst = worst.max((got - want).length());
        scale = scale.max(want.length());
    }
    (worst, scale)
}

#[test]
fn moved_supports_carry_the_block_rigidly() {
    let model = block();
    let config = SolverConfig::default();
    let mut cpu = CpuXpbd::new(&model, &config).unwrap();
    let mut state = model.state();
    run(&model, |c, n| cpu.step(&model, &mut state, c, n).unwrap());
    let (worst, scale) = rigid_error(&model, &state);
    eprintln!("rigid motion up to {scale:e} m, worst vertex off it by {worst:e} m");
    assert!(scale > 3.0e-3, "the motion should be millimetres: {scale}");
    // Settled (1.2 s of hold at 10/s velocity damping): within 0.1 % of the motion
    // (measured: 7e-9 m of 6.7 mm).
    assert!(worst < 1e-3 * scale, "off the rigid motion by {worst} m");
    // The pins themselves are exactly where they were sent (to f32 rounding over the
    // substeps of one frame).
    let want = targets(&model, 1.0);
    for (k, &i) in model.pinned.iter().enumerate() {
        let d = state.displacements[i as usize];
        for c in 0..3 {
            assert!(
                (d[c] - want[k][c]).abs() < 1e-7,
                "pin {i}: {d:?} vs {:?}",
                want[k]
            );
        }
    }
    // Held: the pinned vertices are at rest after the motion.
    for &i in &model.pinned {
        assert_eq!(state.velocities[i as usize], [0.0; 3]);
    }
}

#[test]
fn pin_targets_are_checked() {
    let model = block();
    let mut cpu = CpuXpbd::new(&model, &SolverConfig::default()).unwrap();
    let mut state = model.state();
    let short = Control {
        pin_targets: vec![[0.0; 3]; model.pinned.len() - 1],
        ..Default::default()
    };
    let err = cpu.step(&model, &mut state, &short, 1).unwrap_err();
    assert!(matches!(err, SimError::Control(_)), "{err}");
    assert!(err.to_string().contains("pin targets for"), "{err}");
    let mut bad = targets(&model, 0.5);
    bad[3][1] = f32::NAN;
    let nan = Control {
        pin_targets: bad,
        ..Default::default()
    };
    let err = cpu.step(&model, &mut state, &nan, 1).unwrap_err();
    assert!(err.to_string().contains("not finite"), "{err}");
    // Nothing moved.
    assert_eq!(state, model.state());
}

#[cfg(feature = "gpu")]
#[test]
fn gpu_moves_supports_as_the_cpu_does() {
    use vesalius_engine::gpu::GpuXpbd;
    let Some(ctx) = common::gpu() else { return };
    let model = block();
    let config = SolverConfig::default();
    let mut cpu = CpuXpbd::new(&model, &config).unwrap();
    let mut cpu_state = model.state();
    run(&model, |c, n| {
        cpu.step(&model, &mut cpu_state, c, n).unwrap()
    });
    let mut gpu = GpuXpbd::new(&ctx, &model, &model.state(), &config).unwrap();
    run(&model, |c, n| {
        gpu.step(c, n).unwrap();
        gpu.check(&model).unwrap();
    });
    let mut gpu_state = model.state();
    gpu.read_state(&mut gpu_state).unwrap();
    let (worst, scale) = rigid_error(&model, &gpu_state);
    let diff = cpu_state
        .displacements
        .iter()
        .zip(&gpu_state.displacements)
        .map(|(a, b)| (0..3).map(|k| (a[k] - b[k]).abs()).fold(0.0, f32::max))
        .fold(0.0, f32::max);
    eprintln!("GPU: off the rigid motion by {worst:e} m of {scale:e}; CPU/GPU {diff:e} m");
    assert!(
        worst < 1e-3 * scale,
        "GPU off the rigid motion by {worst} m"
    );
    assert!(diff < 1e-6, "CPU and GPU differ by {diff} m");
    for &i in &model.pinned {
        assert_eq!(gpu_state.velocities[i as usize], [0.0; 3]);
    }
}
