//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use vesalius_engine::mesh::generate::box_grid;
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
