//! Element quality, per-region statistics, bounding box and a units guess.

use crate::mesh::RegionId;
use std::collections::BTreeMap;

use super::TetMesh;

/// a - b.
pub(crate) fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
/// a . b.
pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
/// a x b.
pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// Signed volume of the tet `(a, b, c, d)`: `det(b - a, c - a, d - a) / 6`, positive when
/// `d` lies on the side of triangle `abc` its right-handed normal points to.
pub fn signed_volume(a: [f64; 3], b: [f64; 3], c: [f64; 3], d: [f64; 3]) -> f64 {
    dot(sub(b, a), cross(sub(c, a), sub(d, a))) / 6.0
}

/// Mean of the six edge lengths of a tet.
pub(crate) fn mean_edge(p: [[f64; 3]; 4]) -> f64 {
    let mut s = 0.0;
    for (i, j) in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)] {
        s += norm(sub(p[i], p[j]));
    }
    s / 6.0
}

/// Quality measures of one tetrahedron.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct TetQuality {
    /// Signed volume (negative: inverted).
    pub volume: f64,
    /// Smallest of the six dihedral angles, degrees (regular tet: 70.53).
    pub min_dihedral_deg: f64,
    /// Largest of the six dihedral angles, degrees.
    pub max_dihedral_deg: f64,
    /// Aspect ratio `R / (3 r)` (circumradius over three times the inradius): 1 for the
    /// regular tet, larger for worse shapes, infinite for degenerate ones.
    pub aspect_ratio: f64,
}

/// Quality of the tet with corners `p` (any orientation; angles use |volume|).
pub fn tet_quality(p: [[f64; 3]; 4]) -> TetQuality {
    let volume = signed_volume(p[0], p[1], p[2], p[3]);
    // Face k is opposite vertex k; outward normals for a positive tet.
    let faces = [(1, 2, 3), (0, 3, 2), (0, 1, 3), (0, 2, 1)];
    let mut n = [[0.0; 3]; 4];
    let mut area = 0.0;
    for (k, &(a, b, c)) in faces.iter().enumerate() {
        n[k] = cross(sub(p[b], p[a]), sub(p[c], p[a]));
        area += 0.5 * norm(n[k]);
    }
    let mut min_d = f64::INFINITY;
    let mut max_d = f64::NEG_INFINITY;
    for i in 0..4 {
        for j in i + 1..4 {
            let den = norm(n[i]) * norm(n[j]);
            let ang = if den > 0.0 {
                let c = (dot(n[i], n[j]) / den).clamp(-1.0, 1.0);
                180.0 - c.acos().to_degrees()
            } else {
                0.0
            };
            min_d = min_d.min(ang);
            max_d = max_d.max(ang);
        }
    }
    // Circumradius from the circumcentre offset, inradius from 3V / A.
    let (u, v, w) = (sub(p[1], p[0]), sub(p[2], p[0]), sub(p[3], p[0]));
    let det = dot(u, cross(v, w));
    let aspect_ratio = if det != 0.0 && area > 0.0 {
        let t1 = cross(v, w);
        let t2 = cross(w, u);
        let t3 = cross(u, v);
        let (a, b, c) = (dot(u, u), dot(v, v), dot(w, w));
        let o = [
            (a * t1[0] + b * t2[0] + c * t3[0]) / (2.0 * det),
            (a * t1[1] + b * t2[1] + c * t3[1]) / (2.0 * det),
            (a * t1[2] + b * t2[2] + c * t3[2]) / (2.0 * det),
        ];
        let r_circ = norm(o);
        let r_in = 3.0 * volume.abs() / area;
        r_circ / (3.0 * r_in)
    } else {
        f64::INFINITY
    };
    TetQuality {
        volume,
        min_dihedral_deg: min_d,
        max_dihedral_deg: max_d,
        aspect_ratio,
    }
}

/// Summary of element quality over a mesh (tets with out-of-range indices are ignored).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct QualitySummary {
    /// Number of tets measured.
    pub tets: usize,
    /// Smallest dihedral angle over all tets, degrees.
    pub min_dihedral_deg: f64,
    /// Largest dihedral angle over all tets, degrees.
    pub max_dihedral_deg: f64,
    /// Largest aspect ratio (see [`TetQuality::aspect_ratio`]).
    pub max_aspect_ratio: f64,
    /// Mean aspect ratio.
    pub mean_aspect_ratio: f64,
    /// Smallest signed volume.
    pub min_volume: f64,
    /// Largest signed volume.
    pub max_volume: f64,
    /// Index of the tet with the largest aspect ratio.
    pub worst_tet: Option<usize>,
}

fn corners(mesh: &TetMesh, t: &[u32; 4]) -> Option<[[f64; 3]; 4]> {
    Some([
        *mesh.positions.get(t[0] as usize)?,
        *mesh.positions.get(t[1] as usize)?,
        *mesh.positions.get(t[2] as usize)?,
        *mesh.positions.get(t[3] as usize)?,
    ])
}

/// Quality of every tet (`None` where an index is out of range) and the summary.
pub fn quality(mesh: &TetMesh) -> (Vec<Option<TetQuality>>, QualitySummary) {
    let per: Vec<Option<TetQuality>> = mesh
        .tets
        .iter()
        .map(|t| corners(mesh, t).map(tet_quality))
        .collect();
    let mut s = QualitySummary {
        tets: 0,
        min_dihedral_deg: f64::NAN,
        max_dihedral_deg: f64::NAN,
        max_aspect_ratio: f64::NAN,
        mean_aspect_ratio: f64::NAN,
        min_volume: f64::NAN,
        max_volume: f64::NAN,
        worst_tet: None,
    };
    let mut sum_ar = 0.0;
    for (i, q) in per.iter().enumerate() {
        let Some(q) = q else { continue };
        if s.tets == 0 {
            s.min_dihedral_deg = q.min_dihedral_deg;
            s.max_dihedral_deg = q.max_dihedral_deg;
            s.max_aspect_ratio = q.aspect_ratio;
            s.min_volume = q.volume;
            s.max_volume = q.volume;
            s.worst_tet = Some(i);
        } else {
            s.min_dihedral_deg = s.min_dihedral_deg.min(q.min_dihedral_deg);
            s.max_dihedral_deg = s.max_dihedral_deg.max(q.max_dihedral_deg);
            if q.aspect_ratio > s.max_aspect_ratio {
                s.max_aspect_ratio = q.aspect_ratio;
                s.worst_tet = Some(i);
            }
            s.min_volume = s.min_volume.min(q.volume);
            s.max_volume = s.max_volume.max(q.volume);
        }
        sum_ar += q.aspect_ratio;
        s.tets += 1;
    }
    if s.tets > 0 {
        s.mean_aspect_ratio = sum_ar / s.tets as f64;
    }
    (per, s)
}

/// Tet count and volume of one region.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RegionStats {
    /// Number of tets.
    pub tets: usize,
    /// Sum of signed volumes.
    pub volume: f64,
}

/// Tet count and total volume per region id.
pub fn region_stats(mesh: &TetMesh) -> BTreeMap<RegionId, RegionStats> {
    let mut m: BTreeMap<RegionId, RegionStats> = BTreeMap::new();
    for i in 0..mesh.tets.len() {
        let r = mesh.regions.get(i).copied().unwrap_or(RegionId(0));
        let e = m.entry(r).or_insert(RegionStats {
            tets: 0,
            volume: 0.0,
        });
        e.tets += 1;
        e.volume += mesh.tet_volume(i).unwrap_or(0.0);
    }
    m
}

/// Axis-aligned bounding box `(min, max)` of finite positions; `None` if there are none.
pub fn bounding_box(positions: &[[f64; 3]]) -> Option<([f64; 3], [f64; 3])> {
    let mut it = positions.iter().filter(|p| p.iter().all(|v| v.is_finite()));
    let first = *it.next()?;
    let (mut lo, mut hi) = (first, first);
    for p in it {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    Some((lo, hi))
}

/// A guess of the length unit of a tissue mesh from its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LikelyUnits {
    /// Bounding-box diagonal up to 3: plausible for tissue in metres.
    Metres,
    /// Diagonal in (3, 50]: an organ measured in centimetres (SOFA's liver is ~9).
    Centimetres,
    /// Diagonal above 50: an organ measured in millimetres.
    Millimetres,
    /// No finite positions.
    Unknown,
}

impl LikelyUnits {
    /// The `--scale` factor that converts to metres.
    pub fn scale_to_metres(self) -> f64 {
        match self {
            LikelyUnits::Centimetres => 0.01,
            LikelyUnits::Millimetres => 0.001,
            _ => 1.0,
        }
    }
}

impl std::fmt::Display for LikelyUnits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LikelyUnits::Metres => "metres",
            LikelyUnits::Centimetres => "centimetres",
            LikelyUnits::Millimetres => "millimetres",
            LikelyUnits::Unknown => "unknown",
        })
    }
}

/// Guesses the unit from the bounding-box diagonal (tissue meshes are under ~3 m).
pub fn likely_units(positions: &[[f64; 3]]) -> LikelyUnits {
    match bounding_box(positions) {
        None => LikelyUnits::Unknown,
        Some((lo, hi)) => {
            let d = norm(sub(hi, lo));
            if d <= 3.0 {
                LikelyUnits::Metres
            } else if d <= 50.0 {
                LikelyUnits::Centimetres
            } else {
                LikelyUnits::Millimetres
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_tet_measures() {
        let s = 1.0 / 2f64.sqrt();
        let p = [
            [1.0, 0.0, -s],
            [-1.0, 0.0, -s],
            [0.0, 1.0, s],
            [0.0, -1.0, s],
        ];
        let q = tet_quality(p);
        assert!((q.aspect_ratio - 1.0).abs() < 1e-12);
        let reg = (1.0f64 / 3.0).acos().to_degrees();
        assert!((q.min_dihedral_deg - reg).abs() < 1e-9);
        assert!((q.max_dihedral_deg - reg).abs() < 1e-9);
        // edge 2: V = a^3 / (6 sqrt 2)
        assert!((q.volume.abs() - 8.0 / (6.0 * 2f64.sqrt())).abs() < 1e-12);
        // Corner tet of the unit cube: right angles.
        let q = tet_quality([[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        assert!((q.volume - 1.0 / 6.0).abs() < 1e-15);
        assert!((q.max_dihedral_deg - 90.0).abs() < 1e-9);
        assert!((q.min_dihedral_deg - 54.735610317).abs() < 1e-6);
        assert!(q.aspect_ratio > 1.0);
    }
}
