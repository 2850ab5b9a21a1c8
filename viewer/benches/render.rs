//! The renderer's cost per image: the forearm segment (17k tets, its boundary surface)
//! coloured by region and by Green strain (the surface and its field from the state, the
//! draw, the readback), at 800x600, on the first adapter (lavapipe on a machine without a
//! GPU); and a window's frame: the 160k-tet reference block's surface with the KUKA iiwa
//! from its URDF visual meshes (`../shared/data`; the laparoscopic arm of `robots/`
//! without it) at 1280x800, the surface built from the state, uploaded, drawn and waited
//! for (a window presents instead of reading back; the readback is timed apart).
//!
//! `cargo bench -p vesalius-viewer --bench render`

use criterion::{criterion_group, criterion_main, Criterion};
use vesalius_engine::gpu::GpuContext;
use vesalius_engine::scene::Scene;
use vesalius_engine::scenes::{reference_block, reference_block_cells};
use vesalius_robot::prelude::{load_file, LoadOptions};
use vesalius_viewer::render::{Style, Target};
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
    window_frame(c, &renderer);
}

/// A window's frame of the 160k-tet block with a robot beside it.
fn window_frame(c: &mut Criterion, renderer: &Renderer) {
    let model = reference_block(reference_block_cells(160_000), 0.0);
    let state = model.state();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let kuka = format!("{root}/../shared/data/robots/kuka_iiwa/model.urdf");
    let urdf = if std::path::Path::new(&kuka).exists() {
        kuka
    } else {
        format!("{root}/robots/laparoscopic_arm/laparoscopic_arm.urdf")
    };
    let robot = load_file(&urdf, &LoadOptions::default()).expect("robot");
    let poses = robot
        .link_poses(&robot.neutral_configuration())
        .expect("poses");
    let (solids, _) = vesalius_viewer::robot_solids(&robot, &poses, &[]);
    let surface = Surface::new(&model, &state, Field::Displacement).unwrap();
    let robot_triangles: usize = solids.iter().map(|s| s.triangles.len()).sum();
    eprintln!(
        "window frame: {} tets, {} surface triangles, {} robot triangles ({})",
        model.num_tets(),
        surface.triangles.len(),
        robot_triangles,
        robot.name
    );
    let size = [1280, 800];
    let camera = Camera::fit(surface.bounds(), 30.0, 25.0);
    let device = &renderer.context().device;
    let colour = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("bench colour"),
        size: wgpu::Extent3d {
            width: size[0],
            height: size[1],
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: renderer.format(),
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
        view_formats: &[],
    });
    let depth = renderer.depth_texture(size);
    let (colour_view, depth_view) = (
        colour.create_view(&Default::default()),
        depth.create_view(&Default::default()),
    );
    let target = Target {
        colour: &colour_view,
        depth: &depth_view,
        size,
        viewport: None,
    };
    let mut g = c.benchmark_group("window frame 160k block + robot");
    g.sample_size(10);
    g.bench_function("surface from the state", |b| {
        b.iter(|| Surface::new(&model, &state, Field::Displacement).unwrap())
    });
    let draw = |drawing: &vesalius_viewer::render::Drawing| {
        let mut enc = device.create_command_encoder(&Default::default());
        renderer
            .draw(&mut enc, &target, drawing, &camera, Style::default())
            .unwrap();
        renderer.context().queue.submit([enc.finish()]);
        device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    };
    g.bench_function("upload and draw 1280x800", |b| {
        b.iter(|| draw(&renderer.upload(&surface, &solids).unwrap()))
    });
    let drawing = renderer.upload(&surface, &solids).unwrap();
    g.bench_function("draw 1280x800 (uploaded)", |b| b.iter(|| draw(&drawing)));
    g.bench_function("whole frame: surface, upload, draw", |b| {
        b.iter(|| {
            let s = Surface::new(&model, &state, Field::Displacement).unwrap();
            draw(&renderer.upload(&s, &solids).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
