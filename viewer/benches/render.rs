//! The renderer's cost per image: the forearm segment (17k tets, its boundary surface)
//! coloured by region and by Green strain (the surface and its field from the state, the
//! draw, the readback), at 800x600, on the first adapter (lavapipe on a machine without a
//! GPU).
//!
//! `cargo bench -p vesalius-viewer --bench render`

use criterion::{criterion_group, criterion_main, Criterion};
use vesalius_engine::gpu::GpuContext;
use vesalius_engine::scene::Scene;
use vesalius_viewer::{Camera, Field, Renderer, Surface};

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenes/forearm.toml");
    let scene = Scene::load(std::path::Path::new(path)).expect("forearm scene");
    let model = scene.build().expect("forearm model").model;
    let state = model.state();
    let ctx = match GpuContext::new(None) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("no GPU adapter, nothing to bench: {e}");
            return;
        }
    };
    eprintln!("rendering on {}", ctx.adapter);
    let renderer = Renderer::new(ctx).expect("pipeline");
    let mut g = c.benchmark_group("render");
    g.sample_size(20);
    for field in [Field::Region, Field::GreenStrain] {
        g.bench_function(format!("surface {}", field.name()), |b| {
            b.iter(|| Surface::new(&model, &state, field).unwrap())
        });
        let surface = Surface::new(&model, &state, field).unwrap();
        let camera = Camera::fit(surface.bounds(), 30.0, 25.0);
        g.bench_function(format!("draw 800x600 {}", field.name()), |b| {
            b.iter(|| renderer.render(&surface, &camera, [800, 600]).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
