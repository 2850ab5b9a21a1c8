//! Procedural tet meshes: a box grid and a layered limb segment.

use std::collections::BTreeMap;
use std::f64::consts::PI;

use super::quality::signed_volume;
use super::TetMesh;

/// The six Kuhn (Freudenthal) tets of the unit cube, as corner bit masks (x=1, y=2, z=4):
/// each walks from corner 0 to corner 7 along one permutation of the axes. Because every
/// cube is split along the same main diagonal, neighbouring cubes share face diagonals
/// and the mesh is conforming.
const KUHN: [[usize; 4]; 6] = [
    [0, 1, 3, 7],
    [0, 1, 5, 7],
    [0, 2, 3, 7],
    [0, 2, 6, 7],
    [0, 4, 5, 7],
    [0, 4, 6, 7],
];

fn push_positive(mesh: &mut TetMesh, mut t: [u32; 4], region: i32) {
    let p = |i: u32| mesh.positions[i as usize];
    if signed_volume(p(t[0]), p(t[1]), p(t[2]), p(t[3])) < 0.0 {
        t.swap(2, 3);
    }
    mesh.tets.push(t);
    mesh.regions.push(region);
}

/// A box of `n[0] x n[1] x n[2]` cubes (cells), each split into 6 Kuhn tets, all
/// positively oriented, region 1 (named `box`). `size` is the box extent, `origin` its
/// minimum corner. Vertex `(i, j, k)` has index `i + (n0+1) * (j + (n1+1) * k)`.
/// A zero in `n` gives an empty mesh.
pub fn box_grid(n: [usize; 3], size: [f64; 3], origin: [f64; 3]) -> TetMesh {
    let mut mesh = TetMesh::default();
    if n.contains(&0) {
        return mesh;
    }
    let (nx, ny, nz) = (n[0] + 1, n[1] + 1, n[2] + 1);
    let idx = |i: usize, j: usize, k: usize| (i + nx * (j + ny * k)) as u32;
    mesh.positions.reserve(nx * ny * nz);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                mesh.positions.push([
                    origin[0] + size[0] * i as f64 / n[0] as f64,
                    origin[1] + size[1] * j as f64 / n[1] as f64,
                    origin[2] + size[2] * k as f64 / n[2] as f64,
                ]);
            }
        }
    }
    mesh.tets.reserve(6 * n[0] * n[1] * n[2]);
    for k in 0..n[2] {
        for j in 0..n[1] {
            for i in 0..n[0] {
                let c = |m: usize| idx(i + (m & 1), j + ((m >> 1) & 1), k + ((m >> 2) & 1));
                for t in KUHN {
                    push_positive(&mut mesh, [c(t[0]), c(t[1]), c(t[2]), c(t[3])], 1);
                }
            }
        }
    }
    mesh.region_names.insert(1, "box".into());
    mesh
}

/// Parameters of [`layered_limb`]. Lengths in metres.
#[derive(Clone, Debug, PartialEq)]
pub struct LimbParams {
    /// Outer (skin) radius. Default 0.035.
    pub radius: f64,
    /// Length along +z, from z = 0. Default 0.1.
    pub length: f64,
    /// Skin shell thickness. Default 0.002.
    pub skin_thickness: f64,
    /// Radius of the muscle core. Default 0.024.
    pub muscle_radius: f64,
    /// Vein radius. Default 0.0025.
    pub vein_radius: f64,
    /// Vein axis position in the xy plane (parallel to z, inside the fat).
    /// Default `[0.0, 0.0285]`.
    pub vein_center: [f64; 2],
    /// Number of angular divisions (at least 6). Default 48.
    pub n_theta: usize,
    /// Target radial cell size. Default 0.003.
    pub radial_size: f64,
    /// Number of axial divisions (at least 1). Default 25.
    pub n_z: usize,
}

impl Default for LimbParams {
    fn default() -> Self {
        LimbParams {
            radius: 0.035,
            length: 0.1,
            skin_thickness: 0.002,
            muscle_radius: 0.024,
            vein_radius: 0.0025,
            vein_center: [0.0, 0.0285],
            n_theta: 48,
            radial_size: 0.003,
            n_z: 25,
        }
    }
}

/// Region ids of [`layered_limb`].
pub mod limb_region {
    /// Skin shell.
    pub const SKIN: i32 = 1;
    /// Subcutaneous fat.
    pub const FAT: i32 = 2;
    /// Muscle core.
    pub const MUSCLE: i32 = 3;
    /// Vein (solid cylinder in the fat).
    pub const VEIN: i32 = 4;
}

/// Splits `[a, b]` into about `(b - a) / h` equal steps (at least one), appending the
/// interior points and `b`.
fn subdivide(out: &mut Vec<f64>, a: f64, b: f64, h: f64) {
    if b <= a {
        return;
    }
    let n = ((b - a) / h).round().max(1.0) as usize;
    for i in 1..=n {
        out.push(a + (b - a) * i as f64 / n as f64);
    }
}

/// A layered limb segment: a cylinder along +z (z from 0 to `length`) with a muscle core
/// (region 3), subcutaneous fat (2), a skin shell (1) and a vein (4) in the fat.
///
/// The grid is structured in (radius, angle, z). Radial grid lines lie exactly on the
/// muscle/fat and fat/skin interfaces (the skin shell is at least one cell thick) and, if
/// the vein lies in the fat, on the vein's inner and outer radii; two angular lines bound
/// an annular sector around the vein, which gets cells of about `radial_size`. The
/// innermost ring is made of wedges around the axis (3 tets each); all other cells are
/// hexahedra split into the 6 Kuhn tets in index space, so the mesh is conforming, also
/// across the angular seam. All tets are positively oriented. Vertex positions are exact
/// on the interface radii.
///
/// The vein is chosen by centroid: the fat cells of that sector whose centroid lies within
/// `vein_radius` of the vein axis, so its boundary follows cell faces. With fewer than 3
/// cells across the vein (coarse grids) every sector cell is vein and the sector's angular
/// width is chosen so that its cross-section area equals the vein's (π r²); with 3 or
/// more, the sector bounds the round vein and the centroid test shapes it.
///
/// # Panics
/// If `radius <= muscle_radius + skin_thickness`, any length is not positive, or
/// `n_theta < 6` or `n_z < 1`.
pub fn layered_limb(p: &LimbParams) -> TetMesh {
    let r_skin_in = p.radius - p.skin_thickness;
    assert!(
        p.muscle_radius > 0.0
            && r_skin_in > p.muscle_radius
            && p.skin_thickness > 0.0
            && p.length > 0.0
            && p.radial_size > 0.0,
        "layered_limb: need 0 < muscle_radius < radius - skin_thickness, positive sizes"
    );
    assert!(
        p.n_theta >= 6 && p.n_z >= 1,
        "layered_limb: n_theta >= 6, n_z >= 1"
    );
    // Radial lines (excluding the axis).
    let mut radii = Vec::new();
    subdivide(&mut radii, 0.0, p.muscle_radius, p.radial_size);
    let vr = (p.vein_center[0].powi(2) + p.vein_center[1].powi(2)).sqrt();
    let (v_in, v_out) = (vr - p.vein_radius, vr + p.vein_radius);
    let mut fat_stops = vec![p.muscle_radius];
    if v_in > p.muscle_radius && v_out < r_skin_in && p.vein_radius > 0.0 {
        fat_stops.push(v_in);
        fat_stops.push(v_out);
    }
    fat_stops.push(r_skin_in);
    for w in fat_stops.windows(2) {
        subdivide(&mut radii, w[0], w[1], p.radial_size);
    }
    subdivide(&mut radii, r_skin_in, p.radius, p.radial_size);
    let nr = radii.len();
    let nz = p.n_z;
    // Angular lines: the vein's angular extent [θv - α, θv + α] gets `m` cells (about the
    // radial size each), the rest of the circle is split evenly.
    let vein_angle = p.vein_center[1].atan2(p.vein_center[0]);
    let vein_in_fat = fat_stops.len() == 4;
    let (alpha, m) = if vein_in_fat {
        let m = ((2.0 * p.vein_radius / p.radial_size).round() as usize).max(1);
        let m = m.min(p.n_theta - 3);
        // With fewer than 3 cells across, every cell of the sector is vein: give the
        // sector the vein's cross-section area, 4 vr rv α = π rv². Otherwise bound the
        // vein and let the centroid test shape it.
        let a = if m < 3 {
            PI * p.vein_radius / (4.0 * vr)
        } else {
            (p.vein_radius / vr).min(0.9).asin()
        };
        (a, m)
    } else {
        (0.0, 0)
    };
    let nt = p.n_theta;
    let mut thetas = Vec::with_capacity(nt + 1);
    let start = vein_angle - alpha;
    for j in 0..m {
        thetas.push(start + 2.0 * alpha * j as f64 / m as f64);
    }
    let rest = nt - m;
    for j in 0..=rest {
        thetas.push(start + 2.0 * alpha + (2.0 * PI - 2.0 * alpha) * j as f64 / rest as f64);
    }
    // Node layout per z level: axis node, then ring i (0-based, radius radii[i]) angle j.
    let per_level = 1 + nr * nt;
    let node = |k: usize, i: Option<usize>, j: usize| -> u32 {
        (k * per_level
            + match i {
                None => 0,
                Some(i) => 1 + i * nt + (j % nt),
            }) as u32
    };
    let mut mesh = TetMesh::default();
    mesh.positions.reserve(per_level * (nz + 1));
    for k in 0..=nz {
        let z = p.length * k as f64 / nz as f64;
        mesh.positions.push([0.0, 0.0, z]);
        for &r in &radii {
            for &th in &thetas[..nt] {
                mesh.positions.push([r * th.cos(), r * th.sin(), z]);
            }
        }
    }
    let region_of = |r_lo: f64, r_hi: f64, j: usize| -> i32 {
        let rm = 0.5 * (r_lo + r_hi);
        if rm >= r_skin_in {
            limb_region::SKIN
        } else if rm <= p.muscle_radius {
            limb_region::MUSCLE
        } else {
            let th = 0.5 * (thetas[j] + thetas[j + 1]);
            // Centroid of the annular sector (radial midpoint is close enough and exact on axis).
            let c = [rm * th.cos(), rm * th.sin()];
            let d = ((c[0] - p.vein_center[0]).powi(2) + (c[1] - p.vein_center[1]).powi(2)).sqrt();
            if d < p.vein_radius {
                limb_region::VEIN
            } else {
                limb_region::FAT
            }
        }
    };
    mesh.tets.reserve(nz * nt * (3 + 6 * nr.saturating_sub(1)));
    for k in 0..nz {
        for j in 0..nt {
            // Wedge around the axis: C (axis), A (ring 0, angle j), B (ring 0, angle j+1).
            let (c0, c1) = (node(k, None, 0), node(k + 1, None, 0));
            let (a0, a1) = (node(k, Some(0), j), node(k + 1, Some(0), j));
            let (b0, b1) = (node(k, Some(0), j + 1), node(k + 1, Some(0), j + 1));
            let reg = region_of(0.0, radii[0], j);
            // Diagonals C0-A1, C0-B1 (side faces), A0-B1 (outer face, matches Kuhn).
            push_positive(&mut mesh, [c0, a1, b1, c1], reg);
            push_positive(&mut mesh, [c0, a0, b0, b1], reg);
            push_positive(&mut mesh, [c0, a0, b1, a1], reg);
            for i in 0..nr - 1 {
                let reg = region_of(radii[i], radii[i + 1], j);
                let c = |m: usize| node(k + ((m >> 2) & 1), Some(i + (m & 1)), j + ((m >> 1) & 1));
                for t in KUHN {
                    push_positive(&mut mesh, [c(t[0]), c(t[1]), c(t[2]), c(t[3])], reg);
                }
            }
        }
    }
    let mut names = BTreeMap::new();
    names.insert(limb_region::SKIN, "skin".to_string());
    names.insert(limb_region::FAT, "fat".to_string());
    names.insert(limb_region::MUSCLE, "muscle".to_string());
    names.insert(limb_region::VEIN, "vein".to_string());
    mesh.region_names = names;
    mesh
}
