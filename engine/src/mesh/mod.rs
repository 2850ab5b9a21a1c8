//! Tetrahedral meshes: the in-memory [`TetMesh`], file formats (Gmsh, VTK, VTU, TetGen),
//! validation, element quality, surface extraction and procedural generators.

use std::collections::BTreeMap;

/// A tetrahedral mesh with one region tag per tet.
///
/// Positions are in metres (loaders apply the user's scale). Tets are positively oriented
/// once [`validate`](crate::mesh) has run with orientation fixing enabled.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TetMesh {
    /// Vertex positions.
    pub positions: Vec<[f64; 3]>,
    /// Tetrahedra as four vertex indices into `positions`.
    pub tets: Vec<[u32; 4]>,
    /// Region id per tet (Gmsh physical tag, VTK `region` cell data, TetGen attribute).
    pub regions: Vec<i32>,
    /// Optional names of regions (Gmsh `$PhysicalNames`).
    pub region_names: BTreeMap<i32, String>,
}
