//! The per-frame guards run inside the solver on both backends: every frame of a step call
//! is judged (not only the frames a caller reads back), the GPU reduces the figures on the
//! device, and both name the same guard, region and frame, with values that agree with the
//! volumes measured again from the positions.

mod common;

use vesalius_engine::mesh::generate::box_grid;
use vesalius_engine::mesh::RegionId;
use vesalius_engine::model::{Model, ModelBuilder, PinSet, State};
use vesalius_engine::sim::{Backend, BackendKind, Simulation};
use vesalius_engine::solver::{Breach, GuardKind, Guards, SimError, SolverConfig, SubstepPolicy};

/// Whether the GPU halves run: an adapter is there (or required: `common::gpu` panics
/// without one) in a build with the GPU backend.
fn gpu() -> bool {
    #[cfg(feature = "gpu")]
    return common::gpu().is_some();
    #[cfg(not(feature = "gpu"))]
    false
}

/// A 30 x 30 x 20 mm block, skin (region 1, top 5 mm) over fat (2), whose skin is pinned
/// while crushed to 0.4 of its thickness toward its mid-plane: its volume stays far below
/// the guard's range while the fat under it moves.
fn crushed() -> (Model, State) {
    let mut mesh = box_grid([6, 6, 8], [0.03, 0.03, 0.02], [-0.015, -0.015, -0.02]);
    for t in 0..mesh.tets.len() {
        mesh.regions[t] = if mesh.tet_centroid(t).unwrap()[2] > -0.005 {
            RegionId(1)
        } else {
            RegionId(2)
        };
    }
    mesh.region_names = [
        (RegionId(1), "skin".to_string()),
        (RegionId(2), "fat".to_string()),
    ]
    .into();
    let model = ModelBuilder::new(mesh)
        .material(RegionId(1), common::tissue(5e4, 0.45))
        .material(RegionId(2), common::tissue(5e3, 0.45))
        .pin(PinSet::Region {
            region: RegionId(1),
        })
        .build()
        .unwrap();
    let mut state = model.state();
    for (i, p) in model.rest_positions.iter().enumerate() {
        if p[2] > -0.005 - 1e-6 {
            state.displacements[i][2] = -0.6 * (p[2] + 0.0025);
        }
    }
    (model, state)
}

/// Runs `frames` frames in one step call; returns the breach and the state after the call.
fn run(
    model: &Model,
    state: &State,
    config: &SolverConfig,
    kind: BackendKind,
    frames: u32,
) -> (Option<Breach>, State) {
    let mut sim = Simulation::with_state(
        model.clone(),
        state.clone(),
        config,
        Backend::new(kind, None),
    )
    .unwrap();
    let breach = match sim.step(frames) {
        Ok(()) => None,
        Err(SimError::Guard(b)) => Some(*b),
        Err(e) => panic!("{kind:?}: {e}"),
    };
    (breach, sim.sync_state().unwrap().clone())
}

/// A region's current volume over its rest volume, from the positions in f64.
fn measured_volume_ratio(model: &Model, state: &State, region: i32) -> f64 {
    let volume = |p: &dyn Fn(usize) -> [f64; 3]| -> f64 {
        model
            .tets
            .iter()
            .zip(&model.tet_region)
            .filter(|(_, &r)| r == region)
            .map(|(t, _)| {
                let [a, b, c, d] = t.map(|v| p(v as usize));
                let e = |x: [f64; 3]| [x[0] - a[0], x[1] - a[1], x[2] - a[2]];
                let (u, w, z) = (e(b), e(c), e(d));
                (u[0] * (w[1] * z[2] - w[2] * z[1]) - u[1] * (w[0] * z[2] - w[2] * z[0])
                    + u[2] * (w[0] * z[1] - w[1] * z[0]))
                    / 6.0
            })
            .sum()
    };
    let rest = |i: usize| model.rest_positions[i].map(|c| c as f64);
    let now = |i: usize| {
        let (x, u) = (model.rest_positions[i], state.displacements[i]);
        [0, 1, 2].map(|k| x[k] as f64 + u[k] as f64)
    };
    volume(&now) / volume(&rest)
}

#[test]
fn a_crushed_region_breaks_the_volume_guard_at_the_first_frame_on_both_backends() {
    let (model, state) = crushed();
    let config = SolverConfig::default();
    let (cpu, cpu_state) = run(&model, &state, &config, BackendKind::Cpu, 20);
    let cpu = cpu.expect("the CPU judges the first frame");
    eprintln!("cpu: {cpu}");
    assert_eq!(cpu.guard, GuardKind::VolumeRatio);
    assert_eq!(cpu.region.as_deref(), Some("skin"));
    // Judged after the first frame, and the run stopped there (of the 20 asked for).
    assert_eq!((cpu.frame, cpu_state.step), (1, 1));
    let measured = measured_volume_ratio(&model, &cpu_state, 1);
    assert!(
        (cpu.value - measured).abs() < 1e-4 && cpu.value < 0.5,
        "cpu {} measured {measured}",
        cpu.value
    );

    if !gpu() {
        return;
    }
    // One frame on the GPU: its state is the breaking frame's, to compare.
    let (gpu, gpu_state) = run(&model, &state, &config, BackendKind::Gpu, 1);
    let gpu = gpu.expect("the GPU judges the first frame");
    eprintln!("gpu: {gpu}");
    assert_eq!(
        (gpu.guard, gpu.region.as_deref(), gpu.frame),
        (GuardKind::VolumeRatio, Some("skin"), 1)
    );
    assert!((gpu.time - cpu.time).abs() < 1e-12);
    let measured = measured_volume_ratio(&model, &gpu_state, 1);
    // The device sums in fixed point (6e-8 of the volume per tet).
    assert!(
        (gpu.value - measured).abs() < 1e-4 && (gpu.value - cpu.value).abs() < 1e-3,
        "gpu {} measured {measured} cpu {}",
        gpu.value,
        cpu.value
    );
    // Twenty frames in one call: the GPU runs them all and still names the first.
    let (gpu20, gpu20_state) = run(&model, &state, &config, BackendKind::Gpu, 20);
    let gpu20 = gpu20.expect("still found");
    assert_eq!((gpu20.frame, gpu20_state.step), (1, 20));
    assert_eq!(gpu20.guard, GuardKind::VolumeRatio);
}

#[test]
fn an_unstable_run_is_stopped_within_the_step_call_and_guards_off_let_it_run() {
    // 4x4x2 block, 17 substeps of 1/30 s frames: 1.5x past the stable bound.
    let model = common::pinned_block([4, 4, 2], [0.04, 0.04, 0.02], common::tissue(3e4, 0.45));
    let config = SolverConfig {
        frame_dt: 1.0 / 30.0,
        substeps: SubstepPolicy::Fixed(17),
        allow_unstable: true,
        ..Default::default()
    };
    let state = model.state();
    let frames = 60;
    let (cpu, cpu_state) = run(&model, &state, &config, BackendKind::Cpu, frames);
    let cpu = cpu.expect("the unstable block breaks a guard");
    eprintln!("cpu: {cpu}");
    assert!(cpu.frame < frames as u64 && cpu_state.step == cpu.frame);
    assert!(cpu.cause.contains("substeps 17"), "{}", cpu.cause);

    let off = SolverConfig {
        guards: Guards {
            enabled: false,
            ..Guards::default()
        },
        ..config.clone()
    };
    let mut sim = Simulation::with_state(
        model.clone(),
        state.clone(),
        &off,
        Backend::new(BackendKind::Cpu, None),
    )
    .unwrap();
    // Off: the run goes on past the frame the guards stop (unless it blows up outright).
    match sim.step(cpu.frame as u32 + 1) {
        Ok(()) | Err(SimError::NonFinite { .. }) | Err(SimError::BlowUp { .. }) => {}
        Err(e) => panic!("guards off: {e}"),
    }

    if !gpu() {
        return;
    }
    let (gpu, _) = run(&model, &state, &config, BackendKind::Gpu, frames);
    let gpu = gpu.expect("the GPU stops it too");
    eprintln!("gpu: {gpu}");
    // The growth is exponential: f32 rounding between backends shifts it by a frame or so.
    assert!(
        gpu.frame.abs_diff(cpu.frame) <= 2,
        "gpu frame {} cpu frame {}",
        gpu.frame,
        cpu.frame
    );
    let mut sim =
        Simulation::with_state(model, state, &off, Backend::new(BackendKind::Gpu, None)).unwrap();
    match sim.step(cpu.frame as u32 + 3) {
        Ok(()) | Err(SimError::NonFinite { .. }) | Err(SimError::BlowUp { .. }) => {}
        Err(e) => panic!("guards off on the GPU: {e}"),
    }
}

#[test]
fn restoring_a_state_clears_a_breach_on_the_gpu() {
    if !gpu() {
        return;
    }
    let (model, crushed) = crushed();
    let mut sim = Simulation::with_state(
        model.clone(),
        crushed,
        &SolverConfig::default(),
        Backend::new(BackendKind::Gpu, None),
    )
    .unwrap();
    assert!(matches!(sim.step(2), Err(SimError::Guard(_))));
    sim.set_state(model.state()).unwrap();
    sim.step(5).unwrap();
}

/// Energy from nowhere, judged per frame inside the solver on both backends: the 10 cm
/// block at 5 fixed substeps of 1/30 s frames (effective Courant 1.47, the bound 1.25)
/// inverts nothing and flies nowhere but rings up; 90 frames in one step call stop at the
/// frame its energy rose past the guard, on the CPU and (energies reduced on the device) on
/// the GPU within a few frames of it; 6 substeps settle through the same 90 frames.
#[test]
fn energy_from_nowhere_is_judged_every_frame_on_both_backends() {
    let model = common::pinned_block([4, 4, 4], [0.1, 0.1, 0.1], common::tissue(1e4, 0.45));
    let config = |substeps| SolverConfig {
        frame_dt: 1.0 / 30.0,
        substeps: SubstepPolicy::Fixed(substeps),
        allow_unstable: true,
        ..Default::default()
    };
    let state = model.state();
    let (cpu, cpu_state) = run(&model, &state, &config(5), BackendKind::Cpu, 90);
    let cpu = cpu.expect("the ringing block breaks the energy guard");
    eprintln!("cpu: {cpu}");
    assert_eq!(cpu.guard, GuardKind::EnergyGrowth);
    assert!(cpu.detail.contains("nothing doing work"), "{cpu}");
    assert!(cpu.frame > 10 && cpu.frame < 90 && cpu_state.step == cpu.frame);
    let (settled, _) = run(&model, &state, &config(6), BackendKind::Cpu, 90);
    assert!(settled.is_none(), "{settled:?}");

    if !gpu() {
        return;
    }
    let (gpu, _) = run(&model, &state, &config(5), BackendKind::Gpu, 90);
    let gpu = gpu.expect("the GPU's energy guard breaks too");
    eprintln!("gpu: {gpu}");
    assert_eq!(gpu.guard, GuardKind::EnergyGrowth);
    assert!(
        gpu.frame.abs_diff(cpu.frame) <= 3,
        "gpu frame {} cpu frame {}",
        gpu.frame,
        cpu.frame
    );
    assert!(
        (gpu.limit / cpu.limit - 1.0).abs() < 0.05,
        "{} {}",
        gpu.limit,
        cpu.limit
    );
    let (settled, _) = run(&model, &state, &config(6), BackendKind::Gpu, 90);
    assert!(settled.is_none(), "{settled:?}");
}
