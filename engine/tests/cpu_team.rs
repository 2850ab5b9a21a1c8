//! The CPU backend's thread team: however many threads share a frame (and however the work
//! falls between them), the result is the same, bit for bit, as on one thread.

mod common;

use vesalius_engine::model::{Model, Plane, State};
use vesalius_engine::solver::{CpuXpbd, SolverConfig};

/// Runs `frames` frames of `model` on a rayon pool of `threads` threads (the team size).
fn run(model: &Model, threads: usize, frames: u32) -> State {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut cpu = CpuXpbd::new(model, &SolverConfig::default()).unwrap();
        let mut state = model.state();
        cpu.step(model, &mut state, &model.control(), frames)
            .unwrap();
        state
    })
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
    let one = run(&model, 1, 6);
    let moved = one
        .displacements
        .iter()
        .map(|d| d[0].abs())
        .fold(0.0, f32::max);
    assert!(
        moved > 1e-4,
        "the block should lean into the plane, moved {moved}"
    );
    for threads in [2, 3] {
        assert!(
            bits(&run(&model, threads, 6)) == bits(&one),
            "{threads} threads differ from one"
        );
    }
}
