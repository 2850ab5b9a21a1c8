//! Scene builders shared by tests, benches, examples and the CLI (`vesalius bench`).

use crate::mesh::generate::box_grid;
use crate::model::{Material, Model, ModelBuilder, PinSet};

/// The accuracy reference block: 0.1 m x 0.1 m footprint, 0.05 m tall, E = 10 kPa,
/// nu = 0.45, rho = 1000 kg/m^3, bottom face pinned, gravity -z, `n x n x n/2` cubes of 6 tets.
/// n = 12, 24, 38 give about 5k, 40k and 160k tets.
pub fn reference_block(n: usize, velocity_damping: f64) -> Model {
    let material = Material {
        youngs_modulus: 1.0e4,
        poisson_ratio: 0.45,
        density: 1000.0,
        damping: 0.0,
    };
    scaled_block(n, 1.0, material, velocity_damping)
}

/// [`reference_block`] with every length multiplied by `scale` and another material.
pub fn scaled_block(n: usize, scale: f64, material: Material, velocity_damping: f64) -> Model {
    let n = n.max(2);
    let s = scale;
    let mesh = box_grid(
        [n, n, (n / 2).max(1)],
        [0.1 * s, 0.1 * s, 0.05 * s],
        [-0.05 * s, -0.05 * s, 0.0],
    );
    ModelBuilder::new(mesh)
        .default_material(material)
        .pin(PinSet::Plane {
            normal: [0.0, 0.0, 1.0],
            offset: 0.0,
        })
        .velocity_damping(velocity_damping)
        .build()
        .expect("the reference block is valid")
}

/// Cube count per side of [`reference_block`] for a target tet count (5k, 40k, 160k...).
pub fn reference_block_cells(target_tets: usize) -> usize {
    // tets = 6 n^2 (n/2) = 3 n^3
    ((target_tets as f64 / 3.0).cbrt().round() as usize).max(2)
}

/// Index of the vertex nearest the top centre of [`reference_block`].
pub fn top_centre_vertex(model: &Model) -> usize {
    let (lo, hi) = model.rest_bounds();
    let c = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0, hi[2]];
    (0..model.num_vertices())
        .min_by(|&a, &b| {
            let d = |i: usize| {
                let p = model.rest_positions[i];
                (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)
            };
            d(a).total_cmp(&d(b))
        })
        .unwrap_or(0)
}

/// A slender bar hanging from its pinned top face: square section `side`, length `length`
/// along -z from z = 0, `cells` cubes along the length and 2 across.
pub fn hanging_bar(length: f64, side: f64, cells: usize, material: Material) -> Model {
    let mesh = box_grid(
        [2, 2, cells.max(1)],
        [side, side, length],
        [-side / 2.0, -side / 2.0, -length],
    );
    ModelBuilder::new(mesh)
        .default_material(material)
        .pin(PinSet::Plane {
            normal: [0.0, 0.0, -1.0],
            offset: 0.0,
        })
        .velocity_damping(20.0)
        .build()
        .expect("the hanging bar is valid")
}
