//! Procedural tet meshes: box grids (uniform or graded), a layered limb segment and a
//! venipuncture slab.

use std::collections::BTreeMap;
use std::f64::consts::PI;

use super::quality::signed_volume;
use super::{RegionId, TetMesh};

mod graded;

pub use graded::{box_grid_graded, graded_coords, slab_region, vein_slab, VeinSlabParams};

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

fn push_positive(mesh: &mut TetMesh, mut t: [u32; 4], region: RegionId) {
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
    if n.contains(&0) {
        return TetMesh::default();
    }
    let axis = |a: usize| -> Vec<f64> {
        (0..=n[a])
            .map(|i| origin[a] + size[a] * i as f64 / n[a] as f64)
            .collect()
    };
    let nodes = (n[0] + 1) * (n[1] + 1) * (n[2] + 1);
    graded::grid_mesh(&axis(0), &axis(1), &axis(2), nodes)
}

/// Parameters of [`layered_limb`]. Lengths in metres. In a scene file they are the keys of
/// `generator = { kind = "limb", ... }`, each optional with its default.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Number of angular divisions (at least 6; even for the O-grid muscle core, see
    /// [`layered_limb`]). Default 48.
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

impl LimbParams {
    /// An upper estimate of the tets [`layered_limb`] makes (within a few times the real
    /// count), computed without building anything: callers check it against their limit
    /// before generating. Saturates instead of overflowing; non-finite or non-positive
    /// sizes give `usize::MAX`.
    pub fn estimated_tets(&self) -> usize {
        let rings = self.radius / self.radial_size;
        if !(rings.is_finite() && rings > 0.0) {
            return usize::MAX;
        }
        // Per z layer and angle: one cell per radial line (muscle core and the layers
        // outside it, a few more where the vein splits the fat), 6 tets per cell.
        let cells_per_wedge = rings.ceil() + 4.0;
        let tets = 6.0 * self.n_z as f64 * self.n_theta as f64 * cells_per_wedge;
        if tets >= usize::MAX as f64 {
            usize::MAX
        } else {
            tets as usize
        }
    }
}

/// Region ids of [`layered_limb`].
pub mod limb_region {
    use crate::mesh::RegionId;
    /// Skin shell.
    pub const SKIN: RegionId = RegionId(1);
    /// Subcutaneous fat.
    pub const FAT: RegionId = RegionId(2);
    /// Muscle core.
    pub const MUSCLE: RegionId = RegionId(3);
    /// Vein (solid cylinder in the fat).
    pub const VEIN: RegionId = RegionId(4);
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

/// Size of the O-grid block relative to the muscle radius (half-width of its square).
const BLOCK_FRACTION: f64 = 0.55;
/// How round the O-grid block's boundary is: 0 a square, 1 a circle.
const BLOCK_ROUNDNESS: f64 = 0.3;

/// The muscle of [`layered_limb`] in one z level: the core's own nodes, the muscle rings
/// around it (one node per angular line each, the last one on the muscle radius) and the
/// core's cells. Ring 0 of the ring grid is the core's boundary.
struct Core {
    /// Positions of the core's own nodes.
    nodes: Vec<[f64; 2]>,
    /// Core node on angular line j (ring 0).
    boundary: Vec<usize>,
    /// Whether angular column j (between lines j and j + 1) runs against the core's axes:
    /// its hexes then take their Kuhn diagonals with the angular axis reversed, so that
    /// they match the block's on the shared faces.
    reversed: Vec<bool>,
    /// Muscle rings 1, 2, ...: position on each angular line.
    rings: Vec<Vec<[f64; 2]>>,
    /// Quads of the core, corner nodes in Kuhn bit order (x = 1, y = 2).
    quads: Vec<[usize; 4]>,
    /// Ring 0 is the axis (a single node) and the cells out to ring 1 are wedges.
    wedges: bool,
}

/// `(b - a) x (c - a)`: twice the signed area of triangle abc.
fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

impl Core {
    /// Position of ring `i`'s node on angular line `j`.
    fn ring(&self, i: usize, j: usize) -> [f64; 2] {
        let j = j % self.boundary.len();
        if i == 0 {
            self.nodes[self.boundary[j]]
        } else {
            self.rings[i - 1][j]
        }
    }

    /// Whether every quad (core and muscle rings) is cut by its Kuhn diagonal (corner 0 to
    /// 3) into two triangles turning the expected way, each with an angle of at least
    /// about 3° at corner 0. The extruded hexes' Kuhn tets are then all valid and the
    /// core does not fold.
    fn unfolded(&self) -> bool {
        let ok = |q: [[f64; 2]; 4], sign: f64| {
            let len = |a: [f64; 2], b: [f64; 2]| (b[0] - a[0]).hypot(b[1] - a[1]);
            [(q[0], q[1], q[3]), (q[0], q[3], q[2])]
                .iter()
                .all(|&(a, b, c)| sign * orient(a, b, c) > 0.05 * len(a, b) * len(a, c))
        };
        let block = self.quads.iter().all(|q| ok(q.map(|v| self.nodes[v]), 1.0));
        let nt = self.boundary.len();
        block
            && (0..self.rings.len()).all(|i| {
                (0..nt).all(|j| {
                    let (j0, j1, sign) = if self.reversed[j] {
                        (j + 1, j, -1.0)
                    } else {
                        (j, j + 1, 1.0)
                    };
                    let q = [
                        self.ring(i, j0),
                        self.ring(i + 1, j0),
                        self.ring(i, j1),
                        self.ring(i + 1, j1),
                    ];
                    ok(q, sign)
                })
            })
    }

    /// Wedges around the axis: rings at multiples of about `radial_size`.
    fn wedges(radius: f64, radial_size: f64, thetas: &[f64]) -> Core {
        let mut radii = Vec::new();
        subdivide(&mut radii, 0.0, radius, radial_size);
        Core {
            nodes: vec![[0.0, 0.0]],
            boundary: vec![0; thetas.len()],
            reversed: vec![false; thetas.len()],
            rings: radii
                .iter()
                .map(|&r| thetas.iter().map(|&t| [r * t.cos(), r * t.sin()]).collect())
                .collect(),
            quads: Vec::new(),
            wedges: true,
        }
    }

    /// An O-grid ("butterfly"): a block of `n0 x n1` quads, `2 (n0 + n1)` = the number of
    /// angular lines (which must be even), mapped from a square of half-width about
    /// `BLOCK_FRACTION * radius` towards a disc (rounder towards its boundary), rotated to
    /// face the angular lines, surrounded by rings of about `radial_size` that blend the
    /// block boundary into the circle: radius and angle are interpolated linearly along
    /// each angular line, so at every ring the angles increase with the line. Line
    /// `centre` meets the middle of the block's first side (the narrow cells of the vein
    /// sector go there, away from the block's corners). `None` if the angular lines are
    /// too few or too uneven for the rings to bend without folding.
    fn o_grid(radius: f64, radial_size: f64, thetas: &[f64], centre: usize) -> Option<Core> {
        let nt = thetas.len();
        if !nt.is_multiple_of(2) || nt < 8 {
            return None;
        }
        let n0 = nt / 4;
        let n = [n0, nt / 2 - n0];
        let a = BLOCK_FRACTION * radius;
        let quarter = nt as f64 / 4.0;
        let half = [a * n[0] as f64 / quarter, a * n[1] as f64 / quarter];
        // The square blended towards the elliptical square-to-disc map by
        // BLOCK_ROUNDNESS * ρ², ρ the square's max-norm.
        let square = |i: usize, k: usize| {
            let u = 2.0 * i as f64 / n[0] as f64 - 1.0;
            let v = 2.0 * k as f64 / n[1] as f64 - 1.0;
            let w = BLOCK_ROUNDNESS * u.abs().max(v.abs()).powi(2);
            let du = u * (1.0 - 0.5 * v * v).sqrt();
            let dv = v * (1.0 - 0.5 * u * u).sqrt();
            [
                half[0] * ((1.0 - w) * u + w * du),
                half[1] * ((1.0 - w) * v + w * dv),
            ]
        };
        let idx = |i: usize, k: usize| i + (n[0] + 1) * k;
        // Walk the block boundary counterclockwise from corner (0, 0); the edges of the
        // third and fourth sides run against the block's axes.
        let mut walk = Vec::with_capacity(nt);
        walk.extend((0..n[0]).map(|i| ((i, 0), false)));
        walk.extend((0..n[1]).map(|k| ((n[0], k), false)));
        walk.extend((0..n[0]).map(|i| ((n[0] - i, n[1]), true)));
        walk.extend((0..n[1]).map(|k| ((0, n[1] - k), true)));
        let offset = nt + n[0] / 2 - centre % nt;
        let (corners, reversed): (Vec<(usize, usize)>, Vec<bool>) =
            (0..nt).map(|j| walk[(j + offset) % nt]).unzip();
        // Rotate by the mean angle from the boundary nodes to their lines.
        let (mut sin, mut cos) = (0.0, 0.0);
        for (&(i, k), &t) in corners.iter().zip(thetas) {
            let q = square(i, k);
            let d = t - q[1].atan2(q[0]);
            sin += d.sin();
            cos += d.cos();
        }
        let phi = f64::atan2(sin, cos);
        let (c, s) = (phi.cos(), phi.sin());
        let mut nodes = Vec::with_capacity(idx(n[0], n[1]) + 1);
        for k in 0..=n[1] {
            for i in 0..=n[0] {
                let q = square(i, k);
                nodes.push([c * q[0] - s * q[1], s * q[0] + c * q[1]]);
            }
        }
        let boundary: Vec<usize> = corners.iter().map(|&(i, k)| idx(i, k)).collect();
        // Angle of each boundary node minus its line's, unwrapped continuously in j (both
        // turn once around), so the interpolated angles increase with j.
        let mut twist = Vec::with_capacity(nt);
        let mut prev = 0.0;
        for (&b, &t) in boundary.iter().zip(thetas) {
            let q = nodes[b];
            let mut d = q[1].atan2(q[0]) - t;
            d -= 2.0 * PI * ((d - prev) / (2.0 * PI)).round();
            twist.push(d);
            prev = d;
        }
        // The block boundary lies between a (sides) and about 1.2 a (corners).
        let mean_boundary = a * (1.0 + 0.2 * (1.0 - BLOCK_ROUNDNESS));
        let layers = (((radius - mean_boundary) / radial_size).round() as usize).max(1);
        let rings = (1..=layers)
            .map(|l| {
                let f = l as f64 / layers as f64;
                (0..nt)
                    .map(|j| {
                        let (t, q) = (thetas[j], nodes[boundary[j]]);
                        if l == layers {
                            return [radius * t.cos(), radius * t.sin()];
                        }
                        let r = (1.0 - f) * q[0].hypot(q[1]) + f * radius;
                        let t = t + (1.0 - f) * twist[j];
                        [r * t.cos(), r * t.sin()]
                    })
                    .collect()
            })
            .collect();
        let mut quads = Vec::with_capacity(n[0] * n[1]);
        for k in 0..n[1] {
            for i in 0..n[0] {
                quads.push([idx(i, k), idx(i + 1, k), idx(i, k + 1), idx(i + 1, k + 1)]);
            }
        }
        let core = Core {
            nodes,
            boundary,
            reversed,
            rings,
            quads,
            wedges: false,
        };
        core.unfolded().then_some(core)
    }
}

/// A layered limb segment: a cylinder along +z (z from 0 to `length`) with a muscle core
/// (region 3), subcutaneous fat (2), a skin shell (1) and a vein (4) in the fat.
///
/// Outside the muscle the grid is structured in (radius, angle, z). Radial grid lines lie
/// exactly on the muscle/fat and fat/skin interfaces (the skin shell is at least one cell
/// thick) and, if the vein lies in the fat, on the vein's inner and outer radii; two
/// angular lines bound an annular sector around the vein, which gets cells of about
/// `radial_size`.
///
/// The muscle is an O-grid ("butterfly"), so that it has no small or thin elements (an
/// explicit solver's time step follows the smallest element): a block of
/// `n_theta / 4 x n_theta / 4` (about) cells, a square of half-width 0.55 `muscle_radius`
/// mapped part of the way to a disc, surrounded by rings of about `radial_size` that
/// blend its boundary (one node per angular line) into the circle of the muscle radius.
/// The vein sector's narrow cells meet the middle of a block side. This needs an even
/// `n_theta` (at least 8); with an odd one, or angular lines too few or too uneven for the
/// rings to bend without folding (cells many times wider than `radial_size`, not the case
/// for the defaults), the muscle is instead rings around the axis with wedges (3 tets
/// each) at the centre, whose thin tets are much smaller than the rest.
///
/// All cells are hexahedra (or wedges) split into the 6 Kuhn tets in index space, with the
/// angular axis reversed in the columns that meet the block's third and fourth sides, so
/// the face diagonals match and the mesh is conforming, also across the angular seam. All
/// tets are positively oriented. Vertex positions are exact on the interface radii.
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
    // Radial lines outside the muscle (the muscle is the core's).
    let mut radii = Vec::new();
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
    let nz = p.n_z;
    let nt = p.n_theta;
    // Angular lines: the vein's angular extent [θv - α, θv + α] gets `m` cells (about the
    // radial size each), the rest of the circle is split evenly.
    let vein_angle = p.vein_center[1].atan2(p.vein_center[0]);
    let vein_in_fat = fat_stops.len() == 4;
    let (alpha, m) = if vein_in_fat {
        let m = ((2.0 * p.vein_radius / p.radial_size).round() as usize).max(1);
        let m = m.min(nt - 3);
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
    let mut thetas = Vec::with_capacity(nt + 1);
    let start = vein_angle - alpha;
    for j in 0..m {
        thetas.push(start + 2.0 * alpha * j as f64 / m as f64);
    }
    let rest = nt - m;
    for j in 0..=rest {
        thetas.push(start + 2.0 * alpha + (2.0 * PI - 2.0 * alpha) * j as f64 / rest as f64);
    }
    let core = Core::o_grid(p.muscle_radius, p.radial_size, &thetas[..nt], m / 2)
        .unwrap_or_else(|| Core::wedges(p.muscle_radius, p.radial_size, &thetas[..nt]));
    // Node layout per z level: the core's nodes, then ring i = 1.. (the muscle rings, then
    // the radii outside the muscle) angle j. Ring 0 is the core's boundary.
    let n_muscle = core.rings.len();
    let n_ring = n_muscle + radii.len();
    let per_level = core.nodes.len() + n_ring * nt;
    let node = |k: usize, i: usize, j: usize| -> u32 {
        let j = j % nt;
        (k * per_level
            + if i == 0 {
                core.boundary[j]
            } else {
                core.nodes.len() + (i - 1) * nt + j
            }) as u32
    };
    let mut mesh = TetMesh::default();
    mesh.positions.reserve(per_level * (nz + 1));
    for k in 0..=nz {
        let z = p.length * k as f64 / nz as f64;
        for q in core.nodes.iter().chain(core.rings.iter().flatten()) {
            mesh.positions.push([q[0], q[1], z]);
        }
        for &r in &radii {
            for &th in &thetas[..nt] {
                mesh.positions.push([r * th.cos(), r * th.sin(), z]);
            }
        }
    }
    let region_of = |r_lo: f64, r_hi: f64, j: usize| -> RegionId {
        let rm = 0.5 * (r_lo + r_hi);
        if rm >= r_skin_in {
            limb_region::SKIN
        } else {
            let th = 0.5 * (thetas[j] + thetas[j + 1]);
            // Centroid of the annular sector (radial midpoint is close enough).
            let c = [rm * th.cos(), rm * th.sin()];
            let d = ((c[0] - p.vein_center[0]).powi(2) + (c[1] - p.vein_center[1]).powi(2)).sqrt();
            if d < p.vein_radius {
                limb_region::VEIN
            } else {
                limb_region::FAT
            }
        }
    };
    mesh.tets.reserve(6 * nz * (core.quads.len() + nt * n_ring));
    for k in 0..nz {
        let base = (k * per_level) as u32;
        let up = per_level as u32;
        for q in &core.quads {
            let c = |m: usize| base + q[m & 3] as u32 + if m & 4 != 0 { up } else { 0 };
            for t in KUHN {
                let tet = [c(t[0]), c(t[1]), c(t[2]), c(t[3])];
                push_positive(&mut mesh, tet, limb_region::MUSCLE);
            }
        }
        for j in 0..nt {
            let rev = usize::from(core.reversed[j]);
            for i in 0..n_ring {
                let reg = if i < n_muscle {
                    limb_region::MUSCLE
                } else if i == n_muscle {
                    region_of(p.muscle_radius, radii[0], j)
                } else {
                    region_of(radii[i - n_muscle - 1], radii[i - n_muscle], j)
                };
                if i == 0 && core.wedges {
                    // Wedge around the axis: C (axis), A (ring 1, angle j), B (ring 1,
                    // angle j+1). Diagonals C0-A1, C0-B1 (side faces), A0-B1 (outer face,
                    // matches Kuhn).
                    let (c0, c1) = (node(k, 0, j), node(k + 1, 0, j));
                    let (a0, a1) = (node(k, 1, j), node(k + 1, 1, j));
                    let (b0, b1) = (node(k, 1, j + 1), node(k + 1, 1, j + 1));
                    push_positive(&mut mesh, [c0, a1, b1, c1], reg);
                    push_positive(&mut mesh, [c0, a0, b0, b1], reg);
                    push_positive(&mut mesh, [c0, a0, b1, a1], reg);
                    continue;
                }
                let c = |m: usize| {
                    let dj = ((m >> 1) & 1) ^ rev;
                    node(k + ((m >> 2) & 1), i + (m & 1), j + dj)
                };
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
