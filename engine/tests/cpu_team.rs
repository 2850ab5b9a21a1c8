//! The CPU backend's thread team: however many threads share a frame (and however the work
//! falls between them), the result is the same, bit for bit, as on one thread.

mod common;

use vesalius_engine::contact::{Attachment, Pose, ToolSetup, ToolShape, ToolShapeDesc};
use vesalius_engine::glam::DVec3;
use vesalius_engine::mesh::RegionId;
use vesalius_engine::model::{Material, Model, Plane, State};
use vesalius_engine::sim::{Backend, Simulation};
use vesalius_engine::solver::{CpuXpbd, SolverConfig, Threads};

/// A CPU simulation of `model` on `threads`, checking that it says so.
fn simulation(model: &Model, threads: Threads) -> Simulation {
    let config = SolverConfig {
        threads,
        ..Default::default()
    };
    let sim = Simulation::new(model.clone(), &config, Backend::Cpu).unwrap();
    if let Threads::Fixed(n) = threads {
        let name = sim.backend_name();
        let says = format!("cpu ({n} thread{}", if n == 1 { "" } else { "s" });
        assert!(name.starts_with(&says), "{name}: not {says}");
    }
    sim
}

/// Runs `frames` frames of `model` on a team of `threads`.
fn run(model: &Model, threads: Threads, frames: u32) -> State {
    let mut sim = simulation(model, threads);
    sim.step(frames).unwrap();
    sim.sync_state().unwrap().clone()
}

fn bits(s: &State) -> Vec<u32> {
    let vectors = s.displacements.iter().chain(&s.velocities).flatten();
    vectors
        .chain(s.lambdas.iter().flatten())
        .map(|x| x.to_bits())
        .collect()
}

#[test]
fn two_and_three_threads_give_the_bits_of_one() {
    // Big enough for a team (16k tets and up), with everything the frame has: sideways
    // gravity, a plane with friction the block presses into, Rayleigh damping.
    let mut m = common::tissue(2e4, 0.45);
    m.damping = 2e-3;
    let mut model = common::pinned_block([24, 24, 12], [0.08, 0.08, 0.04], m);
    assert!(model.num_tets() > 40_000);
    model.gravity = [3.0, 0.0, -9.81];
    model.planes.push(Plane {
        normal: [-1.0, 0.0, 0.0],
        offset: -0.0402,
        static_friction: 0.5,
        kinetic_friction: 0.3,
    });
    let one = run(&model, Threads::Fixed(1), 6);
    let moved = one
        .displacements
        .iter()
        .map(|d| d[0].abs())
        .fold(0.0, f32::max);
    assert!(
        moved > 1e-4,
        "the block should lean into the plane, moved {moved}"
    );
    for threads in [Threads::Fixed(2), Threads::Fixed(3), Threads::Auto] {
        assert!(
            bits(&run(&model, threads, 6)) == bits(&one),
            "{threads} threads differ from one"
        );
    }
    // Side by side in one process (each Auto run takes its share of the cores): the bits
    // each gives alone.
    let model = &model;
    let side_by_side: Vec<State> = std::thread::scope(|s| {
        let runs: Vec<_> = [Threads::Auto, Threads::Auto, Threads::Fixed(2)]
            .map(|t| s.spawn(move || run(model, t, 6)))
            .into_iter()
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (k, state) in side_by_side.iter().enumerate() {
        assert!(bits(state) == bits(&one), "run {k} side by side differs");
    }
}

/// Runs `poses` (one list per frame) with tools `setup` on a team of `threads`: the state's
/// bits; per frame the bits of every body's force and torque and of the needle's axial
/// force; the needle's events.
fn run_tools(
    model: &Model,
    threads: usize,
    setup: &ToolSetup,
    poses: &[Vec<Pose>],
) -> (Vec<u32>, Vec<u64>, Vec<String>) {
    let mut sim = simulation(model, Threads::Fixed(threads));
    sim.set_tools(setup, &poses[0]).unwrap();
    let (mut forces, mut events) = (Vec::new(), Vec::new());
    for p in &poses[1..] {
        let r = sim.step_tools(p).unwrap();
        for w in &r.wrenches {
            forces.extend(w.force.to_array().map(f64::to_bits));
            forces.extend(w.torque.to_array().map(f64::to_bits));
        }
        if let Some(n) = r.needle {
            forces.push(n.axial_force.to_bits());
            events.extend(n.events.into_iter().map(|e| e.description));
        }
    }
    (bits(sim.sync_state().unwrap()), forces, events)
}

#[test]
fn tool_forces_on_two_threads_are_the_bits_of_one() {
    // A sphere with friction pressed into the top of the block and dragged sideways, with
    // a row of top vertices held by the world: two bodies, shapes and attachments.
    let mut model =
        common::pinned_block([24, 24, 12], [0.08, 0.08, 0.04], common::tissue(2e4, 0.45));
    model.gravity = [0.0; 3];
    assert!(model.num_tets() > 40_000);
    let held: Vec<u32> = (0..model.num_vertices() as u32)
        .filter(|&i| {
            let p = model.rest_positions[i as usize];
            p[2] > 0.0399 && p[0] < -0.0399
        })
        .collect();
    assert!(!held.is_empty());
    let r = 0.015;
    let setup = ToolSetup {
        bodies: vec!["indenter".into()],
        shapes: vec![ToolShapeDesc {
            body: 0,
            shape: ToolShape::Sphere { radius: r },
            origin: Pose::IDENTITY,
            static_friction: 0.6,
            kinetic_friction: 0.4,
        }],
        attachments: vec![Attachment {
            body: None,
            vertices: held,
        }],
        ..Default::default()
    };
    let at = |f: u32| {
        let d = 0.004 * (f.min(4) as f64 / 4.0);
        let x = 0.002 * f.saturating_sub(4) as f64;
        vec![Pose::from_translation(DVec3::new(x, 0.0, 0.04 + r - d))]
    };
    let poses: Vec<_> = (0..=8).map(at).collect();
    let (state, forces, _) = run_tools(&model, 1, &setup, &poses);
    let fz: Vec<f64> = forces.chunks(12).map(|w| f64::from_bits(w[2])).collect();
    assert!(fz[7] > 0.0, "the tissue should push the sphere up: {fz:?}");
    let (state2, forces2, _) = run_tools(&model, 2, &setup, &poses);
    assert!(forces2 == forces, "2 threads: other forces than one");
    assert!(state2 == state, "2 threads: another state than one");
}

#[test]
fn a_needle_on_two_threads_gives_the_bits_of_one() {
    // Skin (region 1, top 2 mm) over fat (2), 30 x 30 x 20 mm, bottom pinned.
    let model = common::layered_block([18, 18, 10], 0.002);
    assert!(model.num_tets() > 16_384, "too small for a team of two");
    let setup = common::needle_setup(0.1);
    // Slightly off the grid lines, so the tip meets a face; in by 8 mm at 3 cm/s.
    let poses: Vec<_> = (0..=16)
        .map(|f| {
            let z = 0.0005 - 0.0005 * f as f64;
            vec![Pose::from_translation(DVec3::new(0.0003, 0.0002, z))]
        })
        .collect();
    let (state, forces, events) = run_tools(&model, 1, &setup, &poses);
    eprintln!("{events:?}");
    assert!(
        events.contains(&"punctured skin".to_string()),
        "the needle should puncture: {events:?}"
    );
    let (state2, forces2, events2) = run_tools(&model, 2, &setup, &poses);
    assert_eq!(events2, events);
    assert!(forces2 == forces, "2 threads: other needle forces than one");
    assert!(state2 == state, "2 threads: another state than one");
}

#[test]
fn the_lanes_give_the_bits_of_the_scalar_kernels() {
    use vesalius_engine::mesh::generate::box_grid;
    use vesalius_engine::model::{ModelBuilder, PinSet};
    // Warm start, solve and Rayleigh damping on eight SIMD lanes against the scalar kernels
    // one tet at a time, with colours that mix a damped material, a more damped one and
    // one without damping (whose tets the damping must leave alone).
    let mut mesh = box_grid([8, 8, 4], [0.08, 0.08, 0.04], [-0.04, -0.04, 0.0]);
    for (t, region) in mesh.regions.iter_mut().enumerate() {
        *region = RegionId([1, 2, 1, 3, 2][t % 5]);
    }
    let damped = |damping| Material {
        damping,
        ..common::tissue(2e4, 0.45)
    };
    let model = |betas: [f64; 3]| {
        let mut model = ModelBuilder::new(mesh.clone())
            .material(RegionId(1), damped(betas[0]))
            .material(RegionId(2), damped(betas[1]))
            .material(RegionId(3), damped(betas[2]))
            .pin(PinSet::Plane {
                normal: [0.0, 0.0, 1.0],
                offset: 0.0,
            })
            .build()
            .unwrap();
        model.gravity = [3.0, 0.0, -9.81];
        model.planes.push(Plane {
            normal: [-1.0, 0.0, 0.0],
            offset: -0.0402,
            static_friction: 0.5,
            kinetic_friction: 0.3,
        });
        model
    };
    let run = |model: &Model, simd: bool| {
        let mut cpu = CpuXpbd::new(model, &SolverConfig::default()).unwrap();
        if cpu.set_simd(simd) != simd {
            return None;
        }
        let mut state = model.state();
        cpu.step(model, &mut state, &model.control(), 20).unwrap();
        Some(bits(&state))
    };
    let mixed = model([2e-3, 0.0, 5e-3]);
    let Some(lanes) = run(&mixed, true) else {
        eprintln!("SKIPPING: no SIMD lanes on this CPU");
        return;
    };
    assert!(
        run(&mixed, false) == Some(lanes.clone()),
        "lanes differ from scalar"
    );
    // The damping took part.
    assert!(
        run(&model([0.0; 3]), true) != Some(lanes),
        "damping had no effect"
    );
}
