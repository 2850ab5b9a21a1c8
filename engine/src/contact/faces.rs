//! Mesh faces that separate regions (or the tissue from the outside), ray casts against them
//! and point location in the deformed mesh. Host-side, once per frame: the needle's state
//! machine uses them to find the surface ahead of the tip and the tet the tip is in.

use crate::mesh::quality::{cross, dot, sub};
use crate::mesh::RegionId;
use crate::model::Model;
use std::collections::HashMap;

/// A triangle between two regions, or between a region and the outside.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Face {
    /// Vertices, ordered so that the normal points out of `inner`'s tet.
    pub verts: [u32; 3],
    /// The tet on the inner side and its region.
    pub inner: (u32, RegionId),
    /// The tet on the outer side and its region (`None`: the outside).
    pub outer: Option<(u32, RegionId)>,
}

/// All boundary faces and region interfaces of a model.
#[derive(Clone, Debug, Default)]
pub struct FaceSet {
    /// The faces.
    pub faces: Vec<Face>,
    /// Mean edge length over the mesh's tets (m): the scale of search margins.
    pub mean_edge: f64,
}

fn p3(pos: &[[f32; 3]], i: u32) -> [f64; 3] {
    let p = pos[i as usize];
    [p[0] as f64, p[1] as f64, p[2] as f64]
}
/// A ray hit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Index into [`FaceSet::faces`].
    pub face: usize,
    /// Distance along the ray (m).
    pub t: f64,
    /// Barycentric coordinates on the face.
    pub bary: [f64; 3],
    /// Whether the ray crosses from `inner` to `outer` (else from `outer` into `inner`).
    pub leaving_inner: bool,
}

impl FaceSet {
    /// Extracts the faces of `model` in its rest configuration.
    pub fn new(model: &Model) -> Self {
        // Sorted face key -> (tet, face as written, opposite vertex).
        type FaceUses = Vec<(u32, [u32; 3], u32)>;
        let mut map: HashMap<[u32; 3], FaceUses> = HashMap::new();
        const LOCAL: [[usize; 4]; 4] = [[1, 2, 3, 0], [0, 3, 2, 1], [0, 1, 3, 2], [0, 2, 1, 3]];
        let mut edge_sum = 0.0;
        for (t, tet) in model.tets.iter().enumerate() {
            for l in LOCAL {
                let f = [tet[l[0]], tet[l[1]], tet[l[2]]];
                let mut key = f;
                key.sort_unstable();
                map.entry(key).or_default().push((t as u32, f, tet[l[3]]));
            }
            for (a, b) in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)] {
                let d = sub(
                    p3(&model.rest_positions, tet[a]),
                    p3(&model.rest_positions, tet[b]),
                );
                edge_sum += dot(d, d).sqrt();
            }
        }
        let region = |t: u32| model.tet_region[t as usize];
        let mut faces = Vec::new();
        for list in map.values() {
            let (t0, f0, opp) = list[0];
            // Orient the face so that its normal points away from the opposite vertex.
            let pos = &model.rest_positions;
            let n = cross(
                sub(p3(pos, f0[1]), p3(pos, f0[0])),
                sub(p3(pos, f0[2]), p3(pos, f0[0])),
            );
            let verts = if dot(n, sub(p3(pos, opp), p3(pos, f0[0]))) > 0.0 {
                [f0[0], f0[2], f0[1]]
            } else {
                f0
            };
            match list.get(1) {
                None => faces.push(Face {
                    verts,
                    inner: (t0, region(t0)),
                    outer: None,
                }),
                Some(&(t1, _, _)) if region(t1) != region(t0) => faces.push(Face {
                    verts,
                    inner: (t0, region(t0)),
                    outer: Some((t1, region(t1))),
                }),
                Some(_) => {}
            }
        }
        // Deterministic order (the map's is not).
        faces.sort_by_key(|f| {
            let mut k = f.verts;
            k.sort_unstable();
            k
        });
        FaceSet {
            faces,
            mean_edge: edge_sum / (6 * model.tets.len().max(1)) as f64,
        }
    }

    /// Every face hit by the ray `origin + t dir` with `t` in `[t_min, t_max]`, in the
    /// deformed configuration `pos` (world positions), nearest first.
    pub fn ray_hits(
        &self,
        pos: &[[f32; 3]],
        origin: [f64; 3],
        dir: [f64; 3],
        t_min: f64,
        t_max: f64,
    ) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (k, f) in self.faces.iter().enumerate() {
            let (a, b, c) = (
                p3(pos, f.verts[0]),
                p3(pos, f.verts[1]),
                p3(pos, f.verts[2]),
            );
            // Moller-Trumbore.
            let e1 = sub(b, a);
            let e2 = sub(c, a);
            let pv = cross(dir, e2);
            let det = dot(e1, pv);
            if det.abs() < 1e-30 {
                continue;
            }
            let inv = 1.0 / det;
            let tv = sub(origin, a);
            let u = dot(tv, pv) * inv;
            if !(0.0..=1.0).contains(&u) {
                continue;
            }
            let qv = cross(tv, e1);
            let v = dot(dir, qv) * inv;
            if v < 0.0 || u + v > 1.0 {
                continue;
            }
            let t = dot(e2, qv) * inv;
            if t < t_min || t > t_max {
                continue;
            }
            let n = cross(e1, e2);
            hits.push(Hit {
                face: k,
                t,
                bary: [1.0 - u - v, u, v],
                leaving_inner: dot(n, dir) > 0.0,
            });
        }
        hits.sort_by(|a, b| a.t.total_cmp(&b.t));
        hits
    }
}

/// Barycentric coordinates of `p` in the tet `t` (deformed positions), if it is not
/// degenerate.
pub fn tet_barycentric(pos: &[[f32; 3]], tet: [u32; 4], p: [f64; 3]) -> Option<[f64; 4]> {
    let x0 = p3(pos, tet[0]);
    let e = [
        sub(p3(pos, tet[1]), x0),
        sub(p3(pos, tet[2]), x0),
        sub(p3(pos, tet[3]), x0),
    ];
    let det = dot(e[0], cross(e[1], e[2]));
    if det.abs() < 1e-300 {
        return None;
    }
    let r = sub(p, x0);
    let b1 = dot(r, cross(e[1], e[2])) / det;
    let b2 = dot(e[0], cross(r, e[2])) / det;
    let b3 = dot(e[0], cross(e[1], r)) / det;
    Some([1.0 - b1 - b2 - b3, b1, b2, b3])
}

/// The tet of `model` containing each point in the deformed configuration `pos`, with its
/// barycentric coordinates; one pass over the tets for all points. A point on a shared face
/// goes to the tet with the largest smallest coordinate.
pub fn locate(
    model: &Model,
    pos: &[[f32; 3]],
    points: &[[f64; 3]],
) -> Vec<Option<(u32, [f64; 4])>> {
    let mut out: Vec<Option<(u32, [f64; 4])>> = vec![None; points.len()];
    if points.is_empty() {
        return out;
    }
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in points {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let mut best = vec![f64::NEG_INFINITY; points.len()];
    for (t, tet) in model.tets.iter().enumerate() {
        let mut tlo = [f64::INFINITY; 3];
        let mut thi = [f64::NEG_INFINITY; 3];
        for &v in tet {
            let q = p3(pos, v);
            for k in 0..3 {
                tlo[k] = tlo[k].min(q[k]);
                thi[k] = thi[k].max(q[k]);
            }
        }
        if (0..3).any(|k| thi[k] < lo[k] || tlo[k] > hi[k]) {
            continue;
        }
        for (j, p) in points.iter().enumerate() {
            if (0..3).any(|k| p[k] < tlo[k] || p[k] > thi[k]) {
                continue;
            }
            if let Some(b) = tet_barycentric(pos, *tet, *p) {
                let m = b.iter().copied().fold(f64::INFINITY, f64::min);
                if m >= -1e-9 && m > best[j] {
                    best[j] = m;
                    out[j] = Some((t as u32, b));
                }
            }
        }
    }
    out
}
