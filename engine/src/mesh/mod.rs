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

/// Boundary faces (used by exactly one tet), oriented outward. TEMPORARY until the mesh
/// branch lands.
pub fn boundary_triangles(tets: &[[u32; 4]]) -> Vec<[u32; 3]> {
    use std::collections::HashMap;
    let mut faces: HashMap<[u32; 3], ([u32; 3], u32)> = HashMap::new();
    for t in tets {
        for f in [[t[1], t[2], t[3]], [t[0], t[3], t[2]], [t[0], t[1], t[3]], [t[0], t[2], t[1]]] {
            let mut k = f;
            k.sort_unstable();
            faces.entry(k).or_insert((f, 0)).1 += 1;
        }
    }
    let mut out: Vec<[u32; 3]> = faces.into_values().filter(|(_, c)| *c == 1).map(|(f, _)| f).collect();
    out.sort_unstable();
    out
}
pub mod generate;
