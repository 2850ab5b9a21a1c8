//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use vesalius_engine::contact::{NeedleSpec, NeedleTissue, ToolSetup};
use vesalius_engine::glam::DVec3;
use vesalius_engine::mesh::generate::box_grid;
use vesalius_engine::mesh::RegionId;
use vesalius_engine::mesh::{boundary_triangles, TetMesh};
use vesalius_engine::model::{Material, Model, ModelBuilder, PinSet};

/// Opens a GPU, or returns None with a notice. With VESALIUS_REQUIRE_GPU=1 (CI) a missing
/// adapter fails the test instead of skipping it.
#[cfg(feature = "gpu")]
pub fn gpu() -> Option<vesalius_engine::gpu::GpuContext> {
    match vesalius_engine::gpu::GpuContext::new(None) {
        Ok(ctx) => {
            eprintln!("GPU tests on {}", ctx.adapter);
            Some(ctx)
        }
        Err(e) => {
            if std::env::var("VESALIUS_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("VESALIUS_REQUIRE_GPU=1 but no GPU: {e}");
            }
            eprintln!("SKIPPING GPU test: {e}");
            None
        }
    }
}

/// Soft tissue without damping (for energy tests).
pub fn tissue(e: f64, nu: f64) -> Material {
    Material {
        youngs_modulus: e,
        poisson_ratio: nu,
        density: 1000.0,
        damping: 0.0,
    }
}

/// A block on the z = 0 plane with its bottom face pinned.
pub fn pinned_block(cells: [usize; 3], size: [f64; 3], m: Material) -> Model {
    let mesh = box_grid(cells, size, [-size[0] / 2.0, -size[1] / 2.0, 0.0]);
    ModelBuilder::new(mesh)
        .default_material(m)
        .pin(PinSet::Plane {
            normal: [0.0, 0.0, 1.0],
            offset: 0.0,
        })
        .build()
        .unwrap()
}

/// Skin (region 1, top `skin` m) over fat (2): a 30 x 30 x 20 mm block, top at z = 0,
/// bottom pinned, 1 mm cells near the top.
pub fn layered_block(cells: [usize; 3], skin: f64) -> Model {
    let mut mesh = box_grid(cells, [0.03, 0.03, 0.02], [-0.015, -0.015, -0.02]);
    for t in 0..mesh.tets.len() {
        let z = mesh.tet_centroid(t).unwrap()[2];
        mesh.regions[t] = if z > -skin { RegionId(1) } else { RegionId(2) };
    }
    mesh.region_names = [
        (RegionId(1), "skin".to_string()),
        (RegionId(2), "fat".to_string()),
    ]
    .into();
    let mat = |e: f64| Material {
        youngs_modulus: e,
        poisson_ratio: 0.45,
        density: 1000.0,
        damping: 0.0,
    };
    let mut m = ModelBuilder::new(mesh)
        .material(RegionId(1), mat(5.0e4))
        .material(RegionId(2), mat(5.0e3))
        .pin(PinSet::Plane {
            normal: [0.0, 0.0, 1.0],
            offset: -0.02,
        })
        .velocity_damping(10.0)
        .build()
        .unwrap();
    m.gravity = [0.0; 3];
    m
}

pub fn needle_setup(puncture: f64) -> ToolSetup {
    ToolSetup {
        bodies: vec!["needle".into()],
        needle: Some(NeedleSpec {
            body: 0,
            tip: DVec3::ZERO,
            axis: DVec3::new(0.0, 0.0, -1.0),
            length: 0.03,
            radius: 0.0004,
            track_spacing: None,
            bevel_length: None,
        }),
        needle_tissue: [
            (
                RegionId(1),
                NeedleTissue {
                    puncture_force: puncture,
                    cutting_force: 0.05,
                    friction_static: 20.0,
                    friction_kinetic: 10.0,
                },
            ),
            (
                RegionId(2),
                NeedleTissue {
                    puncture_force: 0.0,
                    cutting_force: 0.02,
                    friction_static: 10.0,
                    friction_kinetic: 5.0,
                },
            ),
        ]
        .into(),
        ..Default::default()
    }
}

/// Total area of a mesh's boundary triangles (m^2).
pub fn boundary_area(m: &TetMesh) -> f64 {
    boundary_triangles(&m.tets)
        .iter()
        .map(|t| {
            let [a, b, c] = t.map(|i| m.positions[i as usize]);
            let (u, v) = (
                [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
                [c[0] - a[0], c[1] - a[1], c[2] - a[2]],
            );
            let n = [
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ];
            0.5 * (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt()
        })
        .sum()
}
