//! Criterion benches of one full frame (all substeps) of the tissue solver on the accuracy
//! reference block (about 5k, 40k and 160k tets), CPU and GPU backends, at the automatic
//! substep count the accuracy tests validate. Throughput is reported in tet-substeps/s.
//!
//! `cargo bench --bench tissue_step` (GPU cases are skipped when no adapter is found;
//! VESALIUS_ADAPTER picks one). `vesalius bench` prints the same table without criterion.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use vesalius::engine::scenes::{reference_block, reference_block_cells};
use vesalius::engine::sim::{BackendKind, Simulation};
use vesalius::engine::solver::{Guards, SolverConfig};

fn sizes() -> Vec<usize> {
    std::env::var("VESALIUS_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![5_000, 40_000, 160_000])
}

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("tissue_frame");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(2));
    for size in sizes() {
        let model = reference_block(reference_block_cells(size), 0.0);
        for backend in [BackendKind::Cpu, BackendKind::Gpu] {
            let mut sim =
                match Simulation::new(model.clone(), &SolverConfig::default(), backend.into()) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("skipping {backend} at {size} tets: {e}");
                        continue;
                    }
                };
            let substeps = sim.plan().substeps as u64;
            group.throughput(Throughput::Elements(model.num_tets() as u64 * substeps));
            let id = BenchmarkId::new(
                format!("{backend}"),
                format!("{}tets_{}substeps", model.num_tets(), substeps),
            );
            // One frame per iteration; on the GPU `step` waits for the frame (status readback),
            // so the time is the frame's latency including submission.
            group.bench_function(id, |b| b.iter(|| sim.step(1).expect("stable")));
        }
    }
    group.finish();
}

/// The cost of the per-frame guards (each region's inverted tets and volume, the fastest
/// vertex; on the GPU the `guard_tets` reduction and `end_frame`'s verdict): one frame of the
/// 40k block with the guards on and off, on each backend.
fn guards(c: &mut Criterion) {
    let mut group = c.benchmark_group("guards");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(2));
    let model = reference_block(reference_block_cells(40_000), 0.0);
    for backend in [BackendKind::Cpu, BackendKind::Gpu] {
        for on in [true, false] {
            let config = SolverConfig {
                guards: Guards {
                    enabled: on,
                    ..Guards::default()
                },
                ..SolverConfig::default()
            };
            let mut sim = match Simulation::new(model.clone(), &config, backend.into()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("skipping {backend}: {e}");
                    continue;
                }
            };
            let id = BenchmarkId::new(format!("{backend}"), if on { "on" } else { "off" });
            group.bench_function(id, |b| b.iter(|| sim.step(1).expect("stable")));
        }
    }
    group.finish();
}

criterion_group!(benches, frame, guards);
criterion_main!(benches);
