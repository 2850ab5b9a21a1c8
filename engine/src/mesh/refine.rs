//! Uniform 1:8 refinement of a tet mesh (Bey's red refinement).
//!
//! Written by hand: the mesh crates we could use (meshio-like readers, tetgen bindings)
//! remesh rather than subdivide, which would lose the file's own region boundaries. Red
//! refinement keeps every region boundary and the boundary surface exactly, and splits each
//! tet into four corner tets (copies of the parent at half size) and four tets around the
//! shortest diagonal of the inner octahedron, the choice that keeps quality bounded over
//! repeated refinement.

use super::quality::{dot, signed_volume, sub};
use super::TetMesh;
use std::collections::HashMap;

/// Splits every tet of `mesh` into eight (edges halved, volume and regions kept exactly).
/// Tets must be positively oriented (as after validation); children keep the parent's
/// orientation. Shared edges get one midpoint, so the result is conforming.
///
/// ```
/// use vesalius_engine::mesh::{generate, refine};
/// let m = generate::box_grid([1, 1, 1], [0.1, 0.1, 0.1], [0.0; 3]);
/// let r = refine(&m);
/// assert_eq!(r.tets.len(), 8 * m.tets.len());
/// assert!((r.total_volume() - m.total_volume()).abs() < 1e-15);
/// ```
pub fn refine(mesh: &TetMesh) -> TetMesh {
    let mut positions = mesh.positions.clone();
    let mut mid: HashMap<(u32, u32), u32> = HashMap::with_capacity(mesh.tets.len() * 2);
    let mut midpoint = |a: u32, b: u32, positions: &mut Vec<[f64; 3]>| -> u32 {
        let key = (a.min(b), a.max(b));
        *mid.entry(key).or_insert_with(|| {
            let (pa, pb) = (positions[a as usize], positions[b as usize]);
            positions.push([
                0.5 * (pa[0] + pb[0]),
                0.5 * (pa[1] + pb[1]),
                0.5 * (pa[2] + pb[2]),
            ]);
            (positions.len() - 1) as u32
        })
    };
    let mut tets = Vec::with_capacity(mesh.tets.len() * 8);
    let mut regions = Vec::with_capacity(mesh.tets.len() * 8);
    for (t, &region) in mesh.tets.iter().zip(&mesh.regions) {
        let [a, b, c, d] = *t;
        let ab = midpoint(a, b, &mut positions);
        let ac = midpoint(a, c, &mut positions);
        let ad = midpoint(a, d, &mut positions);
        let bc = midpoint(b, c, &mut positions);
        let bd = midpoint(b, d, &mut positions);
        let cd = midpoint(c, d, &mut positions);
        // Corner tets: the parent scaled by 1/2 about each corner (same orientation).
        let mut children = vec![
            [a, ab, ac, ad],
            [ab, b, bc, bd],
            [ac, bc, c, cd],
            [ad, bd, cd, d],
        ];
        // Inner octahedron: split around its shortest diagonal. The ring around each
        // diagonal is listed in cyclic order; orientation is fixed below.
        let len2 = |p: u32, q: u32| {
            let e = sub(positions[p as usize], positions[q as usize]);
            dot(e, e)
        };
        let diagonals = [
            ((ab, cd), [ac, ad, bd, bc]),
            ((ac, bd), [ab, bc, cd, ad]),
            ((ad, bc), [ab, ac, cd, bd]),
        ];
        let ((p, q), ring) = diagonals
            .iter()
            .copied()
            .min_by(|x, y| len2(x.0 .0, x.0 .1).total_cmp(&len2(y.0 .0, y.0 .1)))
            .expect("three diagonals");
        for k in 0..4 {
            children.push([p, q, ring[k], ring[(k + 1) % 4]]);
        }
        for mut ch in children {
            let v = |i: usize| positions[ch[i] as usize];
            if signed_volume(v(0), v(1), v(2), v(3)) < 0.0 {
                ch.swap(2, 3);
            }
            tets.push(ch);
            regions.push(region);
        }
    }
    TetMesh {
        positions,
        tets,
        regions,
        region_names: mesh.region_names.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::generate::box_grid;

    #[test]
    fn refined_box_is_conforming_with_exact_volume() {
        let m = box_grid([2, 1, 1], [0.2, 0.1, 0.1], [0.0; 3]);
        let r = refine(&m);
        assert_eq!(r.tets.len(), 8 * m.tets.len());
        // A conforming refinement of a 2x1x1 cube grid is the 4x2x2 grid's vertex set.
        assert_eq!(r.positions.len(), 5 * 3 * 3);
        for i in 0..r.tets.len() {
            let v = r.tet_volume(i).unwrap();
            assert!(v > 0.0, "tet {i} volume {v}");
        }
        let rel = (r.total_volume() - m.total_volume()).abs() / m.total_volume();
        assert!(rel < 1e-12);
        // Every interior face is shared by exactly two tets: the boundary is the box's.
        let area: f64 = crate::mesh::boundary_triangles(&r.tets)
            .iter()
            .map(|t| {
                let p = |k: usize| r.positions[t[k] as usize];
                let n = crate::mesh::quality::cross(sub(p(1), p(0)), sub(p(2), p(0)));
                0.5 * dot(n, n).sqrt()
            })
            .sum();
        assert!((area - 2.0 * (0.02 + 0.02 + 0.01)).abs() < 1e-12, "{area}");
    }
}
