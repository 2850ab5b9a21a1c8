//! TetGen `.node` / `.ele` reader and writer.
//!
//! Hand-written: the format is a few lines of whitespace-separated numbers with `#`
//! comments, and no maintained crate reads it. Never panics; errors name the line.

use crate::mesh::RegionId;
use std::collections::HashMap;
use std::io::Write;

use super::cursor::Cursor;
use super::error::MeshError;
use super::msh::fmt_f64;
use super::{decode_names, encode_names, FileFormat, LoadedMesh, TetMesh};

/// Reads the `.node` part: positions and the map from point number to index.
/// Positions and the map from TetGen point number to index.
type Nodes = (Vec<[f64; 3]>, HashMap<i64, u32>);

fn read_node(data: &[u8]) -> Result<Nodes, MeshError> {
    let mut c = Cursor::new(data);
    c.comments = true;
    let n = c.count("the number of points", 8)?;
    let dim: usize = c.parse("the dimension")?;
    if dim != 3 {
        return Err(c.err(format!("expected dimension 3, found {dim}")));
    }
    let nattr = c.count("the number of point attributes", 0)?;
    let nmark = c.count("the boundary-marker flag (0 or 1)", 0)?;
    if nmark > 1 {
        return Err(c.err(format!(
            "expected a boundary-marker flag 0 or 1, found {nmark}"
        )));
    }
    if n == 0 {
        return Err(c.err("the .node file has 0 points (points in a .poly are not supported)"));
    }
    let mut pos = Vec::with_capacity(n);
    let mut map = HashMap::with_capacity(n);
    for i in 0..n {
        let id: i64 = c.parse("a point number")?;
        let mut p = [0.0f64; 3];
        for v in &mut p {
            *v = c.parse("a point coordinate")?;
        }
        for _ in 0..nattr + nmark {
            c.parse::<f64>("a point attribute or boundary marker")?;
        }
        if !p.iter().all(|v| v.is_finite()) {
            return Err(c.err(format!("point {id} has a non-finite coordinate {p:?}")));
        }
        if map.insert(id, i as u32).is_some() {
            return Err(c.err(format!("point number {id} appears twice")));
        }
        pos.push(p);
    }
    Ok((pos, map))
}

fn read_ele(
    data: &[u8],
    map: &HashMap<i64, u32>,
) -> Result<(Vec<[u32; 4]>, Vec<RegionId>), MeshError> {
    let mut c = Cursor::new(data);
    c.comments = true;
    let n = c.count("the number of tetrahedra", 8)?;
    let k: usize = c.parse("the number of nodes per tetrahedron (4 or 10)")?;
    if k != 4 && k != 10 {
        return Err(c.err(format!("expected 4 or 10 nodes per tetrahedron, found {k}")));
    }
    let nattr = c.count("the number of region attributes", 0)?;
    let mut tets = Vec::with_capacity(n);
    let mut regions = Vec::with_capacity(n);
    for _ in 0..n {
        let id: i64 = c.parse("a tetrahedron number")?;
        let mut q = [0u32; 4];
        for j in 0..k {
            let v: i64 = c.parse("a node number")?;
            let idx = *map.get(&v).ok_or_else(|| {
                c.err(format!(
                    "tetrahedron {id} references point {v}, which is not in the .node file"
                ))
            })?;
            if let Some(s) = q.get_mut(j) {
                *s = idx;
            }
        }
        let mut region = RegionId(0);
        for j in 0..nattr {
            let a: f64 = c.parse("a region attribute")?;
            if j == 0 {
                if a.fract() != 0.0 || a.abs() > f64::from(i32::MAX) {
                    return Err(c.err(format!("region attribute {a} is not an integer")));
                }
                region = RegionId(a as i32);
            }
        }
        tets.push(q);
        regions.push(region);
    }
    Ok((tets, regions))
}

fn names_comment(data: &[u8]) -> std::collections::BTreeMap<RegionId, String> {
    for line in data.split(|&b| b == b'\n') {
        let l = String::from_utf8_lossy(line);
        if let Some(rest) = l.trim().strip_prefix('#') {
            let m = decode_names(rest.trim());
            if !m.is_empty() {
                return m;
            }
        }
    }
    Default::default()
}

/// Parses a TetGen mesh from the contents of its `.node` and `.ele` files.
///
/// Point numbers may start at 0 or 1 (they are mapped as listed). The first tet attribute,
/// if any, is the region. Quadratic (10-node) tets keep their 4 corner nodes. Errors name
/// `<node input>` or `<ele input>`; [`load`](super::load) replaces those with the paths.
pub fn parse_tetgen(node: &[u8], ele: &[u8]) -> Result<LoadedMesh, MeshError> {
    let (positions, map) = read_node(node).map_err(|e| e.with_file("<node input>"))?;
    let (tets, regions) = read_ele(ele, &map).map_err(|e| e.with_file("<ele input>"))?;
    Ok(LoadedMesh {
        mesh: TetMesh {
            positions,
            tets,
            regions,
            region_names: names_comment(ele),
        },
        format: FileFormat::TetGen,
        skipped: Default::default(),
    })
}

/// Writes TetGen `.node` (0-based, no attributes) and `.ele` (region as attribute; region
/// names in a comment line).
pub fn write_tetgen(
    node: &mut dyn Write,
    ele: &mut dyn Write,
    mesh: &TetMesh,
) -> std::io::Result<()> {
    writeln!(node, "{} 3 0 0", mesh.positions.len())?;
    for (i, p) in mesh.positions.iter().enumerate() {
        writeln!(
            node,
            "{i} {} {} {}",
            fmt_f64(p[0]),
            fmt_f64(p[1]),
            fmt_f64(p[2])
        )?;
    }
    writeln!(node, "# written by vesalius")?;
    writeln!(ele, "{} 4 1", mesh.tets.len())?;
    for (i, t) in mesh.tets.iter().enumerate() {
        let r = mesh.regions.get(i).copied().unwrap_or(RegionId(0));
        writeln!(ele, "{i} {} {} {} {} {r}", t[0], t[1], t[2], t[3])?;
    }
    if !mesh.region_names.is_empty() {
        writeln!(ele, "# {}", encode_names(&mesh.region_names))?;
    }
    Ok(())
}
