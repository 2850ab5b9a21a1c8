//! The tissue's boundary surface in a state, with the values of one field on it.

use std::collections::HashMap;

use vesalius_engine::mesh::vtu::VtuFrame;
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

    /// What a colour bar calls it: its name in words and its units (`(-)`: a ratio).
    pub fn title(self) -> &'static str {
        match self {
            Field::Region => "region",
            Field::Displacement => "displacement (m)",
            Field::GreenStrain => "green strain (-)",
            Field::MaxStretch => "max stretch (-)",
            Field::VolumeRatio => "volume ratio (-)",
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

/// The tissue as a surface needs it: deformed positions, tets, their regions, the
/// boundary triangles, and the field's values per vertex or per tet.
struct Parts<'a> {
    positions: Vec<[f32; 3]>,
    tets: &'a [[u32; 4]],
    regions: &'a [RegionId],
    triangles: Vec<[u32; 3]>,
    per_vertex: Option<Vec<f32>>,
    per_tet: Option<Vec<f32>>,
}

impl Surface {
    /// The surface of `model` in `state`, coloured by `field`.
    pub fn new(model: &Model, state: &State, field: Field) -> Result<Self, ViewerError> {
        Self::build(Self::model_parts(model, state, field)?, field, None)
    }

    /// The surface cut by `plane`: the boundary beyond it is clipped when drawn, and the
    /// plane's section through every tet it crosses is added, coloured by the same field.
    pub fn cut(
        model: &Model,
        state: &State,
        field: Field,
        plane: CutPlane,
    ) -> Result<Self, ViewerError> {
        Self::build(Self::model_parts(model, state, field)?, field, Some(plane))
    }

    /// The surface of an output frame read back (`vesalius run`'s `.vtu`: positions,
    /// `displacement` per point, `region` and the strain measures per tet), optionally cut.
    pub fn from_frame(
        frame: &VtuFrame,
        field: Field,
        cut: Option<CutPlane>,
    ) -> Result<Self, ViewerError> {
        let mesh = &frame.mesh;
        if mesh.tets.is_empty() {
            return Err(ViewerError::EmptySurface);
        }
        let missing = |what: &'static str| ViewerError::MissingArray(what);
        let (per_vertex, per_tet) = match field {
            Field::Region => (None, None),
            Field::Displacement => {
                let a = frame
                    .point_data
                    .get("displacement")
                    .filter(|a| a.components == 3)
                    .ok_or(missing("PointData displacement (3 components)"))?;
                let v = a
                    .values
                    .chunks_exact(3)
                    .map(|d| (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt() as f32)
                    .collect();
                (Some(v), None)
            }
            _ => {
                let name = field.name();
                let a = frame
                    .cell_data
                    .get(name)
                    .filter(|a| a.components == 1)
                    .ok_or(missing(match field {
                        Field::GreenStrain => "CellData green_strain",
                        Field::MaxStretch => "CellData max_stretch",
                        _ => "CellData volume_ratio",
                    }))?;
                (None, Some(a.values.iter().map(|&x| x as f32).collect()))
            }
        };
        let parts = Parts {
            positions: mesh.positions.iter().map(|p| p.map(|c| c as f32)).collect(),
            tets: &mesh.tets,
            regions: &mesh.regions,
            triangles: vesalius_engine::mesh::boundary_triangles(&mesh.tets),
            per_vertex,
            per_tet,
        };
        Self::build(parts, field, cut)
    }

    fn model_parts<'a>(
        model: &'a Model,
        state: &State,
        field: Field,
    ) -> Result<Parts<'a>, ViewerError> {
        if state.displacements.len() != model.num_vertices() {
            return Err(ViewerError::StateMismatch {
                state: state.displacements.len(),
                model: model.num_vertices(),
            });
        }
        let per_vertex = (field == Field::Displacement).then(|| {
            state
                .displacements
                .iter()
                .map(|d| (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt())
                .collect()
        });
        let per_tet = match field {
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
        Ok(Parts {
            positions: state.positions(model),
            tets: &model.tets,
            regions: &model.tet_region,
            triangles: model.surface.clone(),
            per_vertex,
            per_tet,
        })
    }

    fn build(parts: Parts<'_>, field: Field, cut: Option<CutPlane>) -> Result<Self, ViewerError> {
        let Parts {
            positions,
            tets,
            regions,
            triangles,
            per_vertex,
            per_tet,
        } = parts;
        if triangles.is_empty() {
            return Err(ViewerError::EmptySurface);
        }
        if let Some(v) = positions
            .iter()
            .position(|p| p.iter().any(|c| !c.is_finite()))
        {
            return Err(ViewerError::NonFinite {
                vertex: v,
                field: "position",
            });
        }
        let bad = per_vertex
            .iter()
            .chain(per_tet.iter())
            .find_map(|v| v.iter().position(|x| !x.is_finite()));
        if let Some(i) = bad {
            return Err(ViewerError::NonFinite {
                vertex: i,
                field: field.name(),
            });
        }
        let values = match (&per_vertex, &per_tet) {
            (Some(v), _) => Values::PerVertex(v.clone()),
            (None, Some(v)) => {
                let owner = face_owners(tets, &triangles);
                Values::PerFace(triangles.iter().map(|t| v[owner[&key(*t)]]).collect())
            }
            (None, None) => {
                let owner = face_owners(tets, &triangles);
                Values::Regions(triangles.iter().map(|t| regions[owner[&key(*t)]]).collect())
            }
        };
        let mut surface = Self {
            positions,
            triangles,
            field,
            values,
            cut,
            section: Vec::new(),
        };
        if let Some(plane) = cut {
            surface.section = section(
                &surface.positions,
                tets,
                regions,
                plane,
                per_vertex.as_deref(),
                per_tet.as_deref(),
            );
        }
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

/// The plane's section through every tet it crosses: a triangle or a quadrilateral (two
/// triangles) per tet, with the field interpolated along the tet's edges.
fn section(
    positions: &[[f32; 3]],
    tets: &[[u32; 4]],
    regions: &[RegionId],
    plane: CutPlane,
    per_vertex: Option<&[f32]>,
    per_tet: Option<&[f32]>,
) -> Vec<SectionTriangle> {
    const EDGES: [(usize, usize); 6] = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];
    let mut out = Vec::new();
    for (ti, t) in tets.iter().enumerate() {
        let p = t.map(|v| positions[v as usize]);
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
            let value = match (per_vertex, per_tet) {
                (Some(v), _) => {
                    let (a, b) = (v[t[i] as usize], v[t[j] as usize]);
                    a + (b - a) * s
                }
                (_, Some(v)) => v[ti],
                _ => 0.0,
            };
            corners.push((x.to_array(), value));
        }
        // Four corners: order them around their centroid in the plane, then fan.
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
            out.push(SectionTriangle {
                corners: tri.map(|c| c.0),
                values: tri.map(|c| c.1),
                region: regions[ti],
            });
        }
    }
    out
}

/// The tet under each boundary face, by the face's sorted vertices.
fn face_owners(tets: &[[u32; 4]], surface: &[[u32; 3]]) -> HashMap<[u32; 3], usize> {
    let wanted: std::collections::HashSet<[u32; 3]> = surface.iter().map(|t| key(*t)).collect();
    let mut owner = HashMap::with_capacity(surface.len());
    for (ti, t) in tets.iter().enumerate() {
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
