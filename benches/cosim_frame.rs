//! Criterion benches of the coupled frame: each shipped co-simulation scene (robot step, tool
//! poses to the tissue, substeps with contact and needle, wrench back, recording), on the CPU
//! and GPU backends, next to the same tissue stepped without tools. The difference is the
//! cost of coupling. Throughput is in tet-substeps/s.
//!
//! `cargo bench --bench cosim_frame`. `VESALIUS_BENCH_SCENES=phlebotomy,retraction` picks
//! scenes; `VESALIUS_BENCH_BACKENDS=cpu` picks backends (GPU cases are skipped when no adapter
//! is found). Each scene is first run to `VESALIUS_BENCH_WARM` of its duration (default 0.6,
//! when the tools are in the tissue: the needle past the skin, the probe sliding, the flap
//! lifted) and then timed frame by frame from there. A scene whose tools take face contact
//! (`tool_contact`, issue 16) is also timed with vertex contact only (`coupled_vertices`):
//! the difference is the cost of face contact.

mod common;

use common::{backends, list};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use vesalius::cosim::{CoSim, CoSimScene, PredictOptions};
use vesalius::engine::contact::SurfaceContact;
use vesalius::engine::sim::Simulation;

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("cosim_frame");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    let warm: f64 = std::env::var("VESALIUS_BENCH_WARM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.6);
    for name in list(
        "VESALIUS_BENCH_SCENES",
        &["phlebotomy", "palpation", "retraction"],
    ) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenes")
            .join(format!("{name}.toml"));
        let scene = match CoSimScene::load(&path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                continue;
            }
        };
        for backend in backends() {
            let opts = PredictOptions {
                backend: Some(backend),
                ..Default::default()
            };
            let mut sim = match CoSim::new(&scene, &opts) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("skipping {name} on {backend}: {e}");
                    continue;
                }
            };
            let (tets, substeps) = {
                let t = sim.tissue();
                (t.model().num_tets() as u64, t.plan().substeps as u64)
            };
            let warm_frames = (warm * scene.file.simulation.duration * 60.0) as u64;
            let faces = sim
                .tissue()
                .contacts()
                .is_some_and(|c| c.surface_contact().faces);
            group.throughput(Throughput::Elements(tets * substeps));
            let label = format!("{tets}tets_{substeps}substeps");
            if faces {
                let mut vertices_only = scene.clone();
                vertices_only.file.tool_contact = SurfaceContact::Vertices;
                let mut v = CoSim::new(&vertices_only, &opts).expect("the scene with vertices");
                for _ in 0..warm_frames {
                    v.step_frame().expect("scene runs");
                }
                group.bench_function(
                    BenchmarkId::new(format!("{name}/{backend}/coupled_vertices"), &label),
                    |bch| bch.iter(|| v.step_frame().expect("scene runs").time),
                );
            }
            for _ in 0..warm_frames {
                sim.step_frame().expect("scene runs");
            }
            group.bench_function(
                BenchmarkId::new(format!("{name}/{backend}/coupled"), &label),
                |bch| bch.iter(|| sim.step_frame().expect("scene runs").time),
            );
            // The same tissue (model, state, backend) stepped without tools.
            let (model, state) = {
                let t = sim.tissue();
                let (m, s) = t.sync_model_and_state().expect("state");
                // The tissue's part: this simulation has no tools.
                let mut s = s.clone();
                s.tools = Default::default();
                (m.clone(), s)
            };
            let solver = scene.tissue().build().expect("scene builds").solver;
            let mut plain = Simulation::with_state(model, state, &solver, backend.into())
                .expect("tissue alone");
            group.bench_function(
                BenchmarkId::new(format!("{name}/{backend}/tissue_only"), &label),
                |bch| bch.iter(|| plain.step(1).expect("stable")),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
