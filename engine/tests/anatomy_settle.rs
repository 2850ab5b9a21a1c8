//! Real anatomy meshes nobody on the team wrote load, build and settle under gravity with
//! pinned regions, without NaN, on the CPU and (same scene) on the GPU backend.

mod common;

use std::path::Path;
use vesalius_engine::scene::Scene;
use vesalius_engine::sim::{Backend, BackendKind, Simulation};

fn settle(scene: &str, frames: u32, backend: BackendKind) -> vesalius_engine::solver::Diagnostics {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(scene);
    let built = Scene::load(&path).unwrap().build().unwrap();
    let mut sim = Simulation::new(built.model, &built.solver, backend.into()).unwrap();
    sim.step(frames).unwrap();
    sim.diagnostics().unwrap()
}

#[test]
fn sofa_liver_hangs_from_its_ligament_without_nan() {
    let d = settle("scenes/liver.toml", 60, BackendKind::Cpu);
    eprintln!("liver after 1 s: {d:?}");
    assert!(d.finite && d.inverted_tets == 0);
    // It sags visibly (millimetres to centimetres for a 16 cm, 4 kPa organ) and comes to rest.
    assert!(
        d.max_displacement > 1e-3 && d.max_displacement < 0.05,
        "{d:?}"
    );
    assert!(d.max_speed < 0.05, "still moving: {d:?}");
    assert!((d.total_volume_ratio - 1.0).abs() < 0.02, "{d:?}");
}

#[test]
fn forearm_rests_on_the_table_without_nan() {
    // Our layered limb, held at both cut ends, sagging onto a frictional table.
    let d = settle("scenes/forearm.toml", 10, BackendKind::Cpu);
    eprintln!("forearm after 10 frames: {d:?}");
    assert!(d.finite && d.inverted_tets == 0, "{d:?}");
    assert!(
        d.max_displacement > 1e-4 && d.max_displacement < 0.01,
        "{d:?}"
    );
}

#[test]
fn shared_forearm_mesh_from_gmsh_settles_without_nan() {
    // The forearm of ../shared/data (made with gmsh, unstructured Delaunay tets), not ours.
    let text = r#"
        [mesh]
        file = "../../shared/data/anatomy/generated/forearm_segment.msh"
        [materials]
        default = { youngs_modulus = 1.0e4, poisson_ratio = 0.45, density = 1000.0 }
        skin = { youngs_modulus = 5.0e4, poisson_ratio = 0.45, density = 1100.0 }
        [[pin]]
        kind = "region"
        region = 3
        [simulation]
        gravity = [0.0, -9.81, 0.0]
        velocity_damping = 5.0
    "#;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/inline.toml");
    let built = Scene::parse(text, &path).unwrap().build().unwrap();
    assert_eq!(built.model.num_tets(), 17097);
    let mut sim = Simulation::new(built.model, &built.solver, Backend::Cpu).unwrap();
    eprintln!("gmsh forearm: {} substeps/frame", sim.plan().substeps);
    sim.step(4).unwrap();
    let d = sim.diagnostics().unwrap();
    eprintln!("gmsh forearm, muscle pinned, 4 frames: {d:?}");
    assert!(d.finite && d.inverted_tets == 0, "{d:?}");
    assert!(d.max_displacement > 1e-5, "{d:?}");
}

#[cfg(feature = "gpu")]
#[test]
fn liver_on_the_gpu_matches_the_cpu() {
    if common::gpu().is_none() {
        return;
    }
    let cpu = settle("scenes/liver.toml", 10, BackendKind::Cpu);
    let gpu = settle("scenes/liver.toml", 10, BackendKind::Gpu);
    eprintln!("cpu {cpu:?}\ngpu {gpu:?}");
    assert!(gpu.finite);
    let rel = (gpu.max_displacement - cpu.max_displacement).abs() / cpu.max_displacement;
    assert!(rel < 1e-3, "max displacement differs by {rel}");
    let rel = (gpu.elastic_energy - cpu.elastic_energy).abs() / cpu.elastic_energy.abs().max(1e-12);
    assert!(rel < 1e-2, "elastic energy differs by {rel}");
}
