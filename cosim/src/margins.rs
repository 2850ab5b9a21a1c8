//! Geometric margins of the needle tip, measured every frame in the deformed tissue: how far
//! the tip is inside (or outside) the region it must end in, how far ahead the far side of
//! that region is along the needle's axis (the back wall of a vein's lumen), and how far the
//! tip is from each target (e.g. a vein's centreline).
//!
//! These are what an optimizer needs besides pass or fail: a candidate that ends 0.1 mm
//! inside the lumen and one that ends on its centreline both pass, but only one of them is
//! a good plan.

use glam::DVec3;
use serde::Serialize;
use vesalius_engine::contact::faces::{tet_barycentric, Face, FaceSet};
use vesalius_engine::mesh::RegionId;
use vesalius_engine::model::Model;

/// Half-length of the line through the tip along which the region's boundary is looked for
/// (m): longer than any needle's path through a patch of anatomy.
const LINE_HALF_LENGTH_M: f64 = 1.0;

/// The tip's margins in one frame (`None` where there is no needle or no such region).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FrameMargins {
    /// Signed distance of the tip to the boundary of the goal region (m): positive inside.
    pub region_distance: Option<f64>,
    /// Distance along the needle's axis from the tip to where its line leaves the goal
    /// region ahead (m): the back wall. Positive while it is ahead; negative once the tip
    /// is past it (through the back wall). Of the region's stretch that holds the tip or,
    /// if none does, the next one ahead or else the last one behind.
    pub back_wall: Option<f64>,
    /// Length of that stretch of the needle's line inside the goal region (m): the chord
    /// the tip has to land in.
    pub chord: Option<f64>,
    /// Per target: distance of the tip to the polyline through the target's points (m,
    /// deformed).
    pub target_distance: Vec<Option<f64>>,
}

/// Measures [`FrameMargins`] for one goal region of a model.
#[derive(Clone, Debug)]
pub(crate) struct MarginProbe {
    /// The goal region's id.
    region: Option<RegionId>,
    /// The goal region's boundary faces.
    faces: FaceSet,
    /// Its tets.
    tets: Vec<u32>,
}

impl MarginProbe {
    /// A probe of `region` (a region id of `model`; `None`: targets only).
    pub fn new(model: &Model, region: Option<RegionId>) -> Self {
        let (faces, tets) = match region {
            Some(r) => {
                let all = FaceSet::new(model);
                let faces: Vec<Face> = all
                    .faces
                    .into_iter()
                    .filter(|f| f.inner.1 == r || f.outer.is_some_and(|o| o.1 == r))
                    .collect();
                let tets = (0..model.num_tets() as u32)
                    .filter(|&t| model.tet_region[t as usize] == r)
                    .collect();
                (
                    FaceSet {
                        faces,
                        mean_edge: all.mean_edge,
                    },
                    tets,
                )
            }
            None => (FaceSet::default(), Vec::new()),
        };
        Self {
            region,
            faces,
            tets,
        }
    }

    /// The margins of a tip at `tip` with unit axis `axis`, in world positions `pos`;
    /// `targets` are the targets' deformed points.
    pub fn measure(
        &self,
        model: &Model,
        pos: &[[f32; 3]],
        tip: Option<(DVec3, DVec3)>,
        targets: &[Vec<DVec3>],
    ) -> FrameMargins {
        let Some((tip, axis)) = tip else {
            return FrameMargins {
                target_distance: vec![None; targets.len()],
                ..Default::default()
            };
        };
        let target_distance = targets
            .iter()
            .map(|pts| polyline_distance(tip, pts))
            .collect();
        if self.region.is_none() || self.faces.faces.is_empty() {
            return FrameMargins {
                target_distance,
                ..Default::default()
            };
        }
        let p = |i: u32| {
            let q = pos[i as usize];
            DVec3::new(q[0] as f64, q[1] as f64, q[2] as f64)
        };
        let distance = self
            .faces
            .faces
            .iter()
            .map(|f| point_triangle_distance(tip, p(f.verts[0]), p(f.verts[1]), p(f.verts[2])))
            .fold(f64::INFINITY, f64::min);
        let inside = self.contains(model, pos, tip);
        let (back_wall, chord) = match self.stretch(model, pos, tip, axis) {
            Some((s_in, s_out)) => (Some(s_out), Some(s_out - s_in)),
            None => (None, None),
        };
        FrameMargins {
            region_distance: Some(if inside { distance } else { -distance }),
            back_wall,
            chord,
            target_distance,
        }
    }

    /// The stretch `[s_in, s_out]` (m along the axis from the tip) of the needle's line
    /// inside the region: the one holding the tip, else the next ahead, else the last behind.
    ///
    /// The line's crossings of the region's boundary cut it into pieces, and each piece is
    /// inside or outside by point location of its middle in the region's tets, not by the
    /// crossings' directions: around a tented wall or along a needle's own track faces are
    /// dragged onto the line, tets invert, and a crossing can be missed (the tip resting
    /// exactly on a face) or counted twice (through an edge). A wrong direction there would
    /// close or open a stretch at the wrong place.
    fn stretch(
        &self,
        model: &Model,
        pos: &[[f32; 3]],
        tip: DVec3,
        axis: DVec3,
    ) -> Option<(f64, f64)> {
        let origin = tip - axis * LINE_HALF_LENGTH_M;
        let hits = self.faces.ray_hits(
            pos,
            origin.to_array(),
            axis.to_array(),
            0.0,
            2.0 * LINE_HALF_LENGTH_M,
        );
        let mut cuts: Vec<f64> = hits.iter().map(|h| h.t - LINE_HALF_LENGTH_M).collect();
        // The tip itself is a cut: a stretch is split there, so it is found whichever side
        // of a face the tip rests on.
        cuts.push(0.0);
        cuts.sort_by(f64::total_cmp);
        cuts.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
        let mut stretches: Vec<(f64, f64)> = Vec::new();
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if self.contains(model, pos, tip + axis * (0.5 * (a + b))) {
                match stretches.last_mut() {
                    Some(last) if last.1 == a => last.1 = b,
                    _ => stretches.push((a, b)),
                }
            }
        }
        stretches
            .iter()
            .find(|(a, b)| *a <= 0.0 && 0.0 <= *b)
            .or_else(|| stretches.iter().find(|(a, _)| *a > 0.0))
            .or_else(|| stretches.last())
            .copied()
    }

    /// Whether `p` lies in one of the region's tets (deformed).
    fn contains(&self, model: &Model, pos: &[[f32; 3]], p: DVec3) -> bool {
        self.tets.iter().any(|&t| {
            tet_barycentric(pos, model.tets[t as usize], p.to_array())
                .is_some_and(|b| b.iter().all(|&c| c >= -1e-9))
        })
    }
}

/// Distance from `p` to the polyline through `pts` (a point for one point; `None` for none).
pub fn polyline_distance(p: DVec3, pts: &[DVec3]) -> Option<f64> {
    match pts {
        [] => None,
        [a] => Some((p - *a).length()),
        _ => pts
            .windows(2)
            .map(|w| point_segment_distance(p, w[0], w[1]))
            .reduce(f64::min),
    }
}

fn point_segment_distance(p: DVec3, a: DVec3, b: DVec3) -> f64 {
    let ab = b - a;
    let l2 = ab.length_squared();
    let s = if l2 > 0.0 {
        ((p - a).dot(ab) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p - (a + ab * s)).length()
}

/// Distance from `p` to the triangle `abc` (the closest-point regions of Ericson, "Real-Time
/// Collision Detection", 5.1.5).
pub fn point_triangle_distance(p: DVec3, a: DVec3, b: DVec3, c: DVec3) -> f64 {
    let ab = b - a;
    let ac = c - a;
    let ap = p - a;
    let d1 = ab.dot(ap);
    let d2 = ac.dot(ap);
    if d1 <= 0.0 && d2 <= 0.0 {
        return ap.length();
    }
    let bp = p - b;
    let d3 = ab.dot(bp);
    let d4 = ac.dot(bp);
    if d3 >= 0.0 && d4 <= d3 {
        return bp.length();
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        let v = d1 / (d1 - d3);
        return (p - (a + ab * v)).length();
    }
    let cp = p - c;
    let d5 = ab.dot(cp);
    let d6 = ac.dot(cp);
    if d6 >= 0.0 && d5 <= d6 {
        return cp.length();
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        let w = d2 / (d2 - d6);
        return (p - (a + ac * w)).length();
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return (p - (b + (c - b) * w)).length();
    }
    let denom = 1.0 / (va + vb + vc);
    let v = vb * denom;
    let w = vc * denom;
    (p - (a + ab * v + ac * w)).length()
}

#[cfg(test)]
mod test {
    use super::*;
    use vesalius_engine::mesh::generate::box_grid;
    use vesalius_engine::model::{Material, ModelBuilder};

    /// A 10 mm cube of 1 mm cells, top at z = 0, whose layer -6 mm < z < -4 mm is region 2
    /// (the goal), the rest region 1.
    fn layered() -> Model {
        let mut mesh = box_grid([10, 10, 10], [0.01, 0.01, 0.01], [-0.005, -0.005, -0.01]);
        for t in 0..mesh.tets.len() {
            let z = mesh.tet_centroid(t).unwrap()[2];
            mesh.regions[t] = if z > -0.006 && z < -0.004 {
                RegionId(2)
            } else {
                RegionId(1)
            };
        }
        ModelBuilder::new(mesh)
            .default_material(Material {
                youngs_modulus: 1e4,
                poisson_ratio: 0.45,
                density: 1000.0,
                damping: 0.0,
            })
            .build()
            .unwrap()
    }

    /// Against the layer's planes: the distance to the nearest one, the back wall and the
    /// chord along a tilted axis (thickness / sin of the tilt), inside, before and past it.
    #[test]
    fn margins_of_a_tilted_needle_in_a_layer() {
        let model = layered();
        let pos: Vec<[f32; 3]> = model.rest_positions.clone();
        let probe = MarginProbe::new(&model, Some(RegionId(2)));
        let at = |z_mm: f64, tilt_deg: f64| {
            let th = tilt_deg.to_radians();
            let tip = DVec3::new(0.0003, 0.0002, z_mm * 1e-3);
            let axis = DVec3::new(th.cos(), 0.0, -th.sin());
            let target = vec![
                DVec3::new(-0.004, -0.004, -0.005),
                DVec3::new(0.004, 0.004, -0.005),
            ];
            (
                probe.measure(&model, &pos, Some((tip, axis)), &[target]),
                th.sin(),
            )
        };
        let close = |a: Option<f64>, b: f64| {
            let a = a.expect("measured");
            assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        };
        // Inside, 0.5 mm below the layer's top, 25 degrees down.
        let (m, s) = at(-4.5, 25.0);
        close(m.region_distance, 0.5e-3);
        close(m.back_wall, 1.5e-3 / s);
        close(m.chord, 2e-3 / s);
        // Above it: outside by 2 mm, the back wall 4 mm down the line.
        let (m, s) = at(-2.0, 60.0);
        close(m.region_distance, -2e-3);
        close(m.back_wall, 4e-3 / s);
        close(m.chord, 2e-3 / s);
        // Resting exactly on the back wall (a face of the mesh).
        let (m, s) = at(-6.0, 60.0);
        close(m.back_wall, 0.0);
        close(m.chord, 2e-3 / s);
        // Through it: 1 mm past the back wall.
        let (m, s) = at(-7.0, 60.0);
        close(m.region_distance, -1e-3);
        close(m.back_wall, -1e-3 / s);
        close(m.chord, 2e-3 / s);
        // The target's diagonal y = x at z = -5 mm, from (0.3, 0.2, -7) mm: 0.1 / sqrt 2 mm
        // across and 2 mm down.
        let d = ((0.1e-3f64 / 2f64.sqrt()).powi(2) + 2e-3f64.powi(2)).sqrt();
        close(m.target_distance[0], d);
        // No needle: nothing measured.
        let none = probe.measure(&model, &pos, None, &[vec![]]);
        assert_eq!(none.region_distance, None);
        assert_eq!(none.target_distance, vec![None]);
    }

    #[test]
    fn triangle_distance_in_each_region() {
        let (a, b, c) = (DVec3::ZERO, DVec3::X, DVec3::Y);
        // Above the face, beyond a vertex, beyond an edge, and beyond the hypotenuse.
        let cases = [
            (DVec3::new(0.2, 0.2, 0.5), 0.5),
            (DVec3::new(-1.0, -1.0, 0.0), 2f64.sqrt()),
            (DVec3::new(0.5, -2.0, 0.0), 2.0),
            (DVec3::new(1.0, 1.0, 0.0), 0.5f64.sqrt()),
            (DVec3::new(2.0, 0.0, 1.0), 2f64.sqrt()),
        ];
        for (p, want) in cases {
            let got = point_triangle_distance(p, a, b, c);
            assert!((got - want).abs() < 1e-12, "{p}: {got} vs {want}");
        }
    }

    #[test]
    fn polyline_distance_takes_the_nearest_segment() {
        let pts = [DVec3::ZERO, DVec3::X, DVec3::new(1.0, 1.0, 0.0)];
        let d = polyline_distance(DVec3::new(2.0, 0.5, 0.0), &pts).unwrap();
        assert!((d - 1.0).abs() < 1e-12);
        assert_eq!(polyline_distance(DVec3::ZERO, &[]), None);
    }
}
