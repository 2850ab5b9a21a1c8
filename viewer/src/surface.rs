//! The tissue's boundary surface in a state, with the values of one field on it.

use std::collections::HashMap;

use vesalius_engine::mesh::RegionId;
use vesalius_engine::model::{Model, State};
use vesalius_engine::output::tet_strain;

use crate::ViewerError;

/// What the surface is coloured by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The region of the tet under each face (categorical colours).
    Region,
    /// Displacement magnitude per vertex (m).
    Displacement,
    /// Frobenius norm of the Green-Lagrange strain of the tet under each face.
    GreenStrain,
    /// Largest principal stretch of the tet under each face.
    MaxStretch,
    /// det F (current over rest volume) of the tet under each face.
    VolumeRatio,
}

impl Field {
    /// Every field, in the order the CLI lists them.
    pub const ALL: [Field; 5] = [
        Field::Region,
        Field::Displacement,
        Field::GreenStrain,
        Field::MaxStretch,
        Field::VolumeRatio,
    ];

    /// The name used by the CLI and in the output files.
    pub fn name(self) -> &'static str {
        match self {
            Field::Region => "region",
            Field::Displacement => "displacement",
            Field::GreenStrain => "green_strain",
            Field::MaxStretch => "max_stretch",
            Field::VolumeRatio => "volume_ratio",
        }
    }

    /// The field called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Where a field's values live.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// One value per vertex of the model.
    PerVertex(Vec<f32>),
    /// One value per surface triangle.
    PerFace(Vec<f32>),
    /// One region per surface triangle.
    Regions(Vec<RegionId>),
}

/// A cut through the tissue: what lies on the side the normal points to is taken away
/// (the surface there is not drawn) and the cut faces of the tets are drawn in its place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CutPlane {
    /// Unit normal (world), pointing to the side removed.
    pub normal: [f32; 3],
    /// The plane is `normal . x = offset` (m).
    pub offset: f32,
}

impl CutPlane {
    /// The plane through `point` with `normal` (normalized here); `None` for a zero or
    /// non-finite normal or point.
    pub fn new(normal: [f32; 3], point: [f32; 3]) -> Option<Self> {
        let n = glam::Vec3::from(normal);
        let p = glam::Vec3::from(point);
        let len = n.length();
        if !(len > 0.0 && len.is_finite() && p.is_finite()) {
            return None;
        }
        let n = n / len;
        Some(Self {
            normal: n.to_array(),
            offset: n.dot(p),
        })
    }

    fn distance(&self, p: [f32; 3]) -> f32 {
        glam::Vec3::from(self.normal).dot(glam::Vec3::from(p)) - self.offset
    }
}

/// One triangle of a cut face, inside one tet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SectionTriangle {
    /// Its corners (m), on the cut plane.
    pub corners: [[f32; 3]; 3],
    /// The field at its corners (per-vertex fields interpolated along the tet's edges;
    /// the tet's value for per-tet fields; 0 for regions).
    pub values: [f32; 3],
    /// The tet's region.
    pub region: RegionId,
}

/// The boundary surface of a model in a state, with one field's values, and optionally
/// a cut through it.
#[derive(Clone, Debug)]
pub struct Surface {
    /// Deformed positions of the model's vertices (m).
    pub positions: Vec<[f32; 3]>,
    /// Boundary triangles (vertex indices), outward.
    pub triangles: Vec<[u32; 3]>,
    /// The field.
    pub field: Field,
    /// Its values.
    pub values: Values,
    /// The cut, if any ([`Surface::cut`]).
    pub cut: Option<CutPlane>,
    /// The cut faces of the tets the plane crosses.
    pub section: Vec<SectionTriangle>,
}

impl Surface {
    /// The surface of `model` in `state`, coloured by `field`.
    pub fn new(model: &Model, state: &State, field: Field) -> Result<Self, ViewerError> {
        if state.displacements.len() != model.num_vertices() {
            return Err(ViewerError::StateMismatch {
                state: state.displacements.len(),
                model: model.num_vertices(),
            });
        }
        if model.surface.is_empty() {
            return Err(ViewerError::EmptySurface);
        }
        let positions = state.positions(model);
        if let Some(v) = positions
            .iter()
            .position(|p| p.iter().any(|c| !c.is_finite()))
        {
            return Err(ViewerError::NonFinite {
                vertex: v,
                field: "position",
            });
        }
        let triangles = model.surface.clone();
        let values = match field {
            Field::Displacement => Values::PerVertex(
                state
                    .displacements
                    .iter()
                    .map(|d| (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt())
                    .collect(),
            ),
            Field::Region => {
                let owner = face_owners(model);
                Values::Regions(
                    triangles
                        .iter()
                        .map(|t| model.tet_region[owner[&key(*t)]])
                        .collect(),
                )
            }
            Field::GreenStrain | Field::MaxStretch | Field::VolumeRatio => {
                let owner = face_owners(model);
                let strain = tet_strain(model, state);
                let per_tet = match field {
                    Field::GreenStrain => &strain.green_strain,
                    Field::MaxStretch => &strain.max_stretch,
                    _ => &strain.volume_ratio,
                };
                Values::PerFace(triangles.iter().map(|t| per_tet[owner[&key(*t)]]).collect())
            }
        };
        let bad = match &values {
            Values::PerVertex(v) | Values::PerFace(v) => v.iter().position(|x| !x.is_finite()),
            Values::Regions(_) => None,
        };
        if let Some(i) = bad {
            return Err(ViewerError::NonFinite {
                vertex: i,
                field: field.name(),
            });
        }
        Ok(Self {
            positions,
            triangles,
            field,
            values,
            cut: None,
            section: Vec::new(),
        })
    }

    /// The surface cut by `plane`: the boundary beyond it is clipped when drawn, and the
    /// plane's section through every tet it crosses is added, coloured by the same field.
    pub fn cut(
        model: &Model,
        state: &State,
        field: Field,
        plane: CutPlane,
    ) -> Result<Self, ViewerError> {
        let mut surface = Self::new(model, state, field)?;
        let per_tet: Option<Vec<f32>> = match field {
            Field::GreenStrain | Field::MaxStretch | Field::VolumeRatio => {
                let strain = tet_strain(model, state);
                Some(match field {
                    Field::GreenStrain => strain.green_strain,
                    Field::MaxStretch => strain.max_stretch,
                    _ => strain.volume_ratio,
                })
            }
            _ => None,
        };
        let per_vertex = match &surface.values {
            Values::PerVertex(v) => Some(v.clone()),
            _ => None,
        };
        const EDGES: [(usize, usize); 6] = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];
        for (ti, t) in model.tets.iter().enumerate() {
            let p = t.map(|v| surface.positions[v as usize]);
            let d = p.map(|q| plane.distance(q));
            // A vertex on the plane counts as behind it, so no corner is counted twice.
            if d.iter().all(|&x| x > 0.0) || d.iter().all(|&x| x <= 0.0) {
                continue;
            }
            let mut corners: Vec<([f32; 3], f32)> = Vec::with_capacity(4);
            for (i, j) in EDGES {
                if (d[i] > 0.0) == (d[j] > 0.0) {
                    continue;
                }
                let s = d[i] / (d[i] - d[j]);
                let x = glam::Vec3::from(p[i]).lerp(glam::Vec3::from(p[j]), s);
                let value = match (&per_vertex, &per_tet) {
                    (Some(v), _) => {
                        let (a, b) = (v[t[i] as usize], v[t[j] as usize]);
                        a + (b - a) * s
                    }
                    (_, Some(v)) => v[ti],
                    _ => 0.0,
                };
                corners.push((x.to_array(), value));
            }
            // Three corners are a triangle; four a quadrilateral: order them around their
            // centroid in the plane, then fan.
            if corners.len() == 4 {
                let c = corners
                    .iter()
                    .fold(glam::Vec3::ZERO, |acc, (x, _)| acc + glam::Vec3::from(*x))
                    / 4.0;
                let n = glam::Vec3::from(plane.normal);
                let u = (glam::Vec3::from(corners[0].0) - c).normalize_or_zero();
                let w = n.cross(u);
                let angle = |x: [f32; 3]| {
                    let r = glam::Vec3::from(x) - c;
                    r.dot(w).atan2(r.dot(u))
                };
                corners.sort_by(|a, b| angle(a.0).total_cmp(&angle(b.0)));
            }
            for k in 1..corners.len() - 1 {
                let tri = [corners[0], corners[k], corners[k + 1]];
                surface.section.push(SectionTriangle {
                    corners: tri.map(|c| c.0),
                    values: tri.map(|c| c.1),
                    region: model.tet_region[ti],
                });
            }
        }
        surface.cut = Some(plane);
        Ok(surface)
    }

    /// The axis-aligned box of the vertices the triangles use: `(min, max)`.
    pub fn bounds(&self) -> ([f32; 3], [f32; 3]) {
        let mut lo = [f32::INFINITY; 3];
        let mut hi = [f32::NEG_INFINITY; 3];
        for t in &self.triangles {
            for &v in t {
                let p = self.positions[v as usize];
                for k in 0..3 {
                    lo[k] = lo[k].min(p[k]);
                    hi[k] = hi[k].max(p[k]);
                }
            }
        }
        (lo, hi)
    }

    /// The range of the field's values (for the colour bar): `None` for regions.
    pub fn range(&self) -> Option<(f32, f32)> {
        let section = self.section.iter().flat_map(|s| s.values);
        match &self.values {
            Values::PerVertex(v) | Values::PerFace(v) => Some(
                v.iter()
                    .copied()
                    .chain(section)
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), x| {
                        (lo.min(x), hi.max(x))
                    }),
            ),
            Values::Regions(_) => None,
        }
    }
}

/// A triangle's vertices sorted: the key shared by the two tets on either side of a face.
fn key(t: [u32; 3]) -> [u32; 3] {
    let mut k = t;
    k.sort_unstable();
    k
}

/// The tet under each boundary face, by the face's sorted vertices.
fn face_owners(model: &Model) -> HashMap<[u32; 3], usize> {
    let mut owner = HashMap::with_capacity(model.surface.len());
    let wanted: std::collections::HashSet<[u32; 3]> =
        model.surface.iter().map(|t| key(*t)).collect();
    for (ti, t) in model.tets.iter().enumerate() {
        for skip in 0..4 {
            let mut f = [0u32; 3];
            let mut n = 0;
            for (j, &v) in t.iter().enumerate() {
                if j != skip {
                    f[n] = v;
                    n += 1;
                }
            }
            let k = key(f);
            if wanted.contains(&k) {
                owner.insert(k, ti);
            }
        }
    }
    owner
}
