//! The online supervisor's re-plan latency: `scenes/phlebotomy_moving_arm.toml` run on the
//! CPU to 1.8 s (the arm has moved, the needle is in the fat), then re-plans of the rest of
//! the stroke from that live world for budgets of 20 ms, 50 ms and 200 ms, and what one
//! candidate rolled out from the live world costs.
//!
//! `cargo bench --bench replan_latency`. Criterion times the re-plans; the bench also prints
//! p50 / p99 / max latency over its own repetitions (from the end of the frame, reading the
//! live world included; the contract is p99 at most budget + 1 ms) and the candidates.
//! `VESALIUS_BENCH_RESOLUTION=shipped` runs the scene's own mesh (default: a planning
//! resolution, 11k tets, so that the setup takes seconds).

mod common;

use common::{print_latency, vein_scene};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::Duration;
use vesalius::cosim::plan::{Supervisor, Trigger};
use vesalius::cosim::{BackendKind, CoSim, PredictOptions};

fn replans(c: &mut Criterion) {
    let scene = vein_scene("phlebotomy_moving_arm.toml");
    let options = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    let mut sim = CoSim::new(&scene, &options).expect("co-simulation");
    let mut sup = Supervisor::new(&scene, sim.end_time()).expect("supervisor");
    let mut rec = sim.step_frame().expect("frame").clone();
    while rec.time < 1.8 {
        rec = sim.step_frame().expect("frame").clone();
    }
    let force = rec.needle.as_ref().map_or(0.0, |n| n.axial_force);
    let live = sup
        .live(&mut sim, force)
        .expect("live world")
        .expect("the needle is in at 1.8 s");
    let mut g = c.benchmark_group("replan_rollout");
    g.sample_size(50);
    g.bench_function("needle_path_live", |b| {
        b.iter(|| sup.what_if(&live, 0.005, 0.0075, 0.1).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("replan_latency");
    g.sample_size(10).warm_up_time(Duration::from_millis(100));
    for (ms, reps) in [(20u64, 100usize), (50, 60), (200, 20)] {
        let budget = Duration::from_millis(ms);
        sup.set_budget(budget).unwrap();
        let (mut lat, mut cands) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let r = sup
                .replan_now(&mut sim, &rec, Trigger::Periodic)
                .unwrap()
                .expect("inside");
            lat.push(r.latency_ms);
            cands.push(r.candidates as f64);
        }
        print_latency(
            &format!("replan_latency {ms} ms"),
            &mut lat,
            &mut cands,
            "re-plans",
        );
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{ms}ms")),
            &budget,
            |b, _| {
                b.iter(|| {
                    sup.replan_now(&mut sim, &rec, Trigger::Periodic)
                        .unwrap()
                        .is_some()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, replans);
criterion_main!(benches);
