//! The planner's latency contract: the return time of one anytime re-plan of
//! `scenes/phlebotomy_plan.toml` (needle-path planning model, uncalibrated) for budgets of
//! 20 ms, 50 ms, 200 ms and 2 s, and the rollouts one reduced-model candidate costs.
//!
//! `cargo bench --bench plan_budget`. Criterion times the re-plans; the bench also prints the
//! p50 / p99 / max return time over its own repetitions (criterion reports means and
//! medians, the contract is on p99: at most budget + 1 ms) and the candidates each budget
//! evaluated.

mod common;

use common::print_latency;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::{Duration, Instant};
use vesalius::cosim::plan::{PlanOptions, Planner, PlanningModel};
use vesalius::cosim::CoSimScene;

fn scene() -> CoSimScene {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/phlebotomy_plan.toml");
    let mut s = CoSimScene::load(&path).expect("scene");
    if let Some(p) = s.file.plan.as_mut() {
        p.calibrate = false;
    }
    s
}

fn budgets(c: &mut Criterion) {
    let scene = scene();
    let mut planner = Planner::new(&scene, &PlanOptions::default()).expect("planner");
    // One candidate on the reduced model.
    let x = scene.file.plan.as_ref().unwrap().bounds().1;
    let mut g = c.benchmark_group("plan_rollout");
    g.sample_size(50);
    g.bench_function("needle_path", |b| {
        b.iter(|| planner.evaluate(&x, PlanningModel::NeedlePath).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("plan_budget");
    g.sample_size(10).warm_up_time(Duration::from_millis(100));
    for (ms, reps) in [(20u64, 200usize), (50, 100), (200, 40), (2000, 10)] {
        let budget = Duration::from_millis(ms);
        // The contract's figures, over `reps` re-plans (warm-started, as online re-plans).
        let mut lat = Vec::with_capacity(reps);
        let mut cands = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = Instant::now();
            let step = planner.plan(budget, None).unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            cands.push(step.candidates.len() as f64);
        }
        print_latency(
            &format!("plan_budget {ms} ms"),
            &mut lat,
            &mut cands,
            "re-plans",
        );
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{ms}ms")),
            &budget,
            |b, &bud| b.iter(|| planner.plan(bud, None).unwrap()),
        );
    }
    g.finish();
}

criterion_group!(benches, budgets);
criterion_main!(benches);
