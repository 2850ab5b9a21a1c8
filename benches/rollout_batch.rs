//! Criterion bench of batched rollouts (`CoSim::rollout_batch`): K candidate strokes of the
//! venipuncture rolled out together from one snapshot (taken once the needle is through the
//! skin) for `VESALIUS_BENCH_HORIZON` frames (default 6, 0.1 s), K = 1, 4, 16, 64, 256 on
//! each backend. Throughput is in rollouts per second.
//!
//! The scene is `scenes/phlebotomy.toml` at a planning resolution
//! (`VESALIUS_BENCH_RESOLUTION=coarse`, the default: 1.25 mm cells at the vein, 2 mm along the
//! path, 8 mm far off) or as shipped (`shipped`, about 8x the cost per rollout).
//! `VESALIUS_BENCH_BACKENDS=cpu` picks backends (GPU cases are skipped without an adapter);
//! `VESALIUS_BENCH_K=1,4,16` picks batch sizes.
//!
//! `cargo bench --bench rollout_batch`.

mod common;

use common::{backends, list, vein_scene};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::ops::ControlFlow;
use std::time::Duration;
use vesalius::cosim::{CoSim, PredictOptions, SceneRobot};

fn rollouts(c: &mut Criterion) {
    let mut group = c.benchmark_group("rollout_batch");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(1));
    let horizon: u64 = std::env::var("VESALIUS_BENCH_HORIZON")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let sc = vein_scene("phlebotomy.toml");
    let robot = SceneRobot::load(&sc).expect("robot");
    let insertion = robot.joint("insertion").expect("joint");
    let tip = robot.link("needle_tip").expect("link");
    // Strokes from 12 to 26 mm from the scene's approach pose.
    let candidates = |k: usize| -> Vec<_> {
        (0..k)
            .map(|i| {
                let depth = 0.012 + 0.014 * i as f64 / k.max(2).saturating_sub(1) as f64;
                robot
                    .trajectory()
                    .pose(0.0, tip, [0.01016, 0.0, 0.00078], Some([0.0, 0.4014, 0.0]))
                    .hold(0.3)
                    .move_by(2.9, &[(insertion, depth)])
                    .build()
                    .expect("stroke")
            })
            .collect()
    };
    for backend in backends() {
        let opts = PredictOptions {
            backend: Some(backend),
            ..Default::default()
        };
        let mut sim = match CoSim::new(&sc, &opts) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping {backend}: {e}");
                continue;
            }
        };
        let stop = |r: &vesalius::cosim::FrameRecord| {
            let through = r
                .needle
                .as_ref()
                .is_some_and(|n| n.events.iter().any(|e| e.description == "punctured skin"));
            if through {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        sim.run_frames(200, stop).expect("scene runs");
        let snapshot = sim.snapshot().expect("snapshot");
        let (tets, substeps) = {
            let t = sim.tissue();
            (t.model().num_tets(), t.plan().substeps)
        };
        eprintln!(
            "{backend}: snapshot at {:.3} s, {tets} tets, {substeps} substeps, horizon {horizon} frames",
            snapshot.time()
        );
        for k in list("VESALIUS_BENCH_K", &["1", "4", "16", "64", "256"]) {
            let k: usize = k.parse().expect("K is a number");
            let cands = candidates(k);
            group.throughput(Throughput::Elements(k as u64));
            group.bench_function(
                BenchmarkId::new(
                    format!("{backend}/{tets}tets_{substeps}substeps_{horizon}frames"),
                    k,
                ),
                |bch| {
                    bch.iter(|| {
                        sim.rollout_batch(&snapshot, &cands, horizon)
                            .expect("rollouts")
                            .len()
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, rollouts);
criterion_main!(benches);
