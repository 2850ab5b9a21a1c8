//! VTK legacy `.vtk` reader (ASCII and binary, classic and 5.1 `OFFSETS`/`CONNECTIVITY`
//! cell layout) and writer (4.2 layout, ASCII or binary).
//!
//! Hand-written rather than using `vtkio`: `vtkio` 0.7.0-rc2 is a release candidate that
//! pulls `nom` 8, `quick-xml`, `byteorder` and more, and its parse errors carry no line
//! numbers. This reader handles the subset a tet mesh needs (`UNSTRUCTURED_GRID`), skips
//! every other attribute correctly, never panics and names the line of each error.

use crate::mesh::RegionId;
use std::collections::BTreeMap;
use std::io::Write;

use super::cursor::{show, Cursor};
use super::error::MeshError;
use super::msh::fmt_f64;
use super::{decode_names, encode_names, FileFormat, LoadedMesh, TetMesh};

/// VTK cell type of a linear tetrahedron.
pub const VTK_TETRA: u8 = 10;

/// Names of cell-data fields taken as the region, in order of preference.
pub const REGION_FIELDS: [&str; 4] = ["region", "gmsh:physical", "CellEntityIds", "material"];

pub(crate) fn vtk_cell_name(t: i64) -> String {
    let n = match t {
        1 => "vertex",
        3 => "line",
        5 => "triangle",
        7 => "polygon",
        8 => "pixel",
        9 => "quad",
        10 => "tetra",
        11 => "voxel",
        12 => "hexahedron",
        13 => "wedge",
        14 => "pyramid",
        24 => "quadratic tetra",
        _ => "cell",
    };
    format!("{n} (VTK type {t})")
}

/// Byte size and kind of a VTK legacy data type.
fn type_info(t: &[u8]) -> Option<(usize, char)> {
    let t = t.to_ascii_lowercase();
    Some(match t.as_slice() {
        b"unsigned_char" | b"vtktypeuint8" => (1, 'u'),
        b"char" | b"vtktypeint8" => (1, 'i'),
        b"short" | b"vtktypeint16" => (2, 'i'),
        b"unsigned_short" | b"vtktypeuint16" => (2, 'u'),
        b"int" | b"vtktypeint32" => (4, 'i'),
        b"unsigned_int" | b"vtktypeuint32" => (4, 'u'),
        b"long" | b"vtktypeint64" | b"vtkidtype" => (8, 'i'),
        b"unsigned_long" | b"vtktypeuint64" => (8, 'u'),
        b"float" => (4, 'f'),
        b"double" => (8, 'f'),
        _ => return None,
    })
}

/// Reads `n` values of data type `ty` (ASCII tokens or big-endian binary).
fn read_values(
    c: &mut Cursor,
    n: usize,
    ty: &[u8],
    binary: bool,
    what: &str,
) -> Result<Vec<f64>, MeshError> {
    let (size, kind) = type_info(ty).ok_or_else(|| {
        c.err(format!(
            "unsupported VTK data type `{}` for {what}",
            show(ty)
        ))
    })?;
    if binary {
        c.skip_to_next_line();
        let bytes = n
            .checked_mul(size)
            .ok_or_else(|| c.err(format!("{what}: count {n} overflows")))?;
        let b = c.bytes(bytes, what)?;
        let mut out = Vec::with_capacity(n);
        for ch in b.chunks_exact(size) {
            let mut a = [0u8; 8];
            a[8 - size..].copy_from_slice(ch);
            let u = u64::from_be_bytes(a);
            let v = match (kind, size) {
                ('f', 4) => f64::from(f32::from_bits(u as u32)),
                ('f', _) => f64::from_bits(u),
                ('u', _) => u as f64,
                (_, 1) => f64::from(u as u8 as i8),
                (_, 2) => f64::from(u as u16 as i16),
                (_, 4) => f64::from(u as u32 as i32),
                _ => u as i64 as f64,
            };
            out.push(v);
        }
        Ok(out)
    } else {
        c.check_count(n, what, 2)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(c.parse::<f64>(what)?);
        }
        Ok(out)
    }
}

fn to_index(c: &Cursor, v: f64, what: &str) -> Result<usize, MeshError> {
    if v >= 0.0 && v.fract() == 0.0 && v < 4.3e9 {
        Ok(v as usize)
    } else {
        Err(c.err(format!(
            "{what}: expected a non-negative integer, found {v}"
        )))
    }
}

struct CellField {
    name: String,
    ncomp: usize,
    values: Vec<f64>,
}

/// Parses a VTK legacy `UNSTRUCTURED_GRID` file (ASCII or binary) from memory.
///
/// Points, cells and cell types are read; cells of type 10 (tetra) become the mesh, other
/// cells are skipped and counted. The region comes from the integer cell-data field named
/// `region` (else `gmsh:physical`, `CellEntityIds`, `material`), else 0.
pub fn parse_vtk(data: &[u8]) -> Result<LoadedMesh, MeshError> {
    let mut c = Cursor::new(data);
    let l1 = c.rest_of_line();
    if !String::from_utf8_lossy(l1)
        .to_ascii_lowercase()
        .starts_with("# vtk datafile version")
    {
        return Err(MeshError::parse(
            super::error::Location::Line(1),
            format!(
                "expected `# vtk DataFile Version x.y`, found `{}`",
                show(l1)
            ),
        ));
    }
    let title = String::from_utf8_lossy(c.rest_of_line()).into_owned();
    let fmt = c.expect("`ASCII` or `BINARY`")?;
    let binary = if fmt.eq_ignore_ascii_case(b"ascii") {
        false
    } else if fmt.eq_ignore_ascii_case(b"binary") {
        true
    } else {
        return Err(c.err(format!(
            "expected `ASCII` or `BINARY`, found `{}`",
            show(fmt)
        )));
    };
    c.keyword("DATASET")?;
    let ds = c.expect("the dataset type")?;
    if !ds.eq_ignore_ascii_case(b"unstructured_grid") {
        return Err(c.err(format!(
            "unsupported dataset `{}`: only UNSTRUCTURED_GRID holds tetrahedra",
            show(ds)
        )));
    }
    if binary {
        c.binary = true;
    }
    let mut points: Option<Vec<f64>> = None;
    let mut cells: Option<(Vec<usize>, Vec<usize>)> = None; // (offsets n+1, connectivity)
    let mut types: Option<Vec<f64>> = None;
    let mut cell_fields: Vec<CellField> = Vec::new();
    // Current attribute context: (is_cell, count).
    let mut attr: Option<(bool, usize)> = None;
    // Where the CELLS keyword was, for errors found when assembling.
    let mut cells_loc = super::error::Location::Line(1);
    while let Some(kw) = c.token() {
        let k = kw.to_ascii_uppercase();
        match k.as_slice() {
            b"POINTS" => {
                if points.is_some() {
                    return Err(c.err("second POINTS section"));
                }
                let n = c.count("the number of points", 2)?;
                let ty = c.expect("the point data type")?;
                let what = "point coordinates";
                let n3 = n.checked_mul(3).ok_or_else(|| c.err("point count overflows"))?;
                let pts = read_values(&mut c, n3, ty, binary, what)?;
                if let Some(i) = pts.iter().position(|v| !v.is_finite()) {
                    return Err(c.err(format!(
                        "point {} has a non-finite coordinate {}",
                        i / 3,
                        pts[i]
                    )));
                }
                points = Some(pts);
            }
            b"CELLS" => {
                if cells.is_some() {
                    return Err(c.err("second CELLS section"));
                }
                cells_loc = c.loc();
                let a = c.count("the number of cells", 2)?;
                let b = c.count("the cell list size", 2)?;
                let is_new = c
                    .peek()
                    .is_some_and(|t| t.eq_ignore_ascii_case(b"OFFSETS"));
                if is_new {
                    c.keyword("OFFSETS")?;
                    let ty = c.expect("the offsets data type")?;
                    let off = read_values(&mut c, a, ty, binary, "cell offsets")?;
                    c.keyword("CONNECTIVITY")?;
                    let ty = c.expect("the connectivity data type")?;
                    let conn = read_values(&mut c, b, ty, binary, "cell connectivity")?;
                    let mut offs = Vec::with_capacity(off.len());
                    for v in off {
                        let o = to_index(&c, v, "cell offset")?;
                        if o > conn.len() || offs.last().is_some_and(|&p| o < p) {
                            return Err(c.err(format!(
                                "cell offset {o} is decreasing or beyond the connectivity ({})",
                                conn.len()
                            )));
                        }
                        offs.push(o);
                    }
                    let conn = conn
                        .into_iter()
                        .map(|v| to_index(&c, v, "cell connectivity"))
                        .collect::<Result<Vec<_>, _>>()?;
                    cells = Some((offs, conn));
                } else {
                    let list = read_values(&mut c, b, b"int", binary, "the cell list")?;
                    let mut offs = Vec::with_capacity(a.min(list.len()) + 1);
                    let mut conn = Vec::with_capacity(list.len());
                    offs.push(0);
                    let mut i = 0;
                    for cell in 0..a {
                        let k = list
                            .get(i)
                            .ok_or_else(|| {
                                c.err(format!(
                                    "the cell list ends before cell {cell} of {a}"
                                ))
                            })
                            .and_then(|&v| to_index(&c, v, "cell size"))?;
                        let ids = list.get(i + 1..i + 1 + k).ok_or_else(|| {
                            c.err(format!("the cell list ends inside cell {cell}"))
                        })?;
                        for &v in ids {
                            conn.push(to_index(&c, v, "cell point index")?);
                        }
                        offs.push(conn.len());
                        i += 1 + k;
                    }
                    if i != list.len() {
                        return Err(c.err(format!(
                            "the CELLS size says {b} numbers but the {a} cells use {i}"
                        )));
                    }
                    cells = Some((offs, conn));
                }
            }
            b"CELL_TYPES" => {
                let n = c.count("the number of cell types", 2)?;
                types = Some(read_values(&mut c, n, b"int", binary, "cell types")?);
            }
            b"CELL_DATA" => attr = Some((true, c.count("the number of cells", 0)?)),
            b"POINT_DATA" => attr = Some((false, c.count("the number of points", 0)?)),
            b"SCALARS" | b"VECTORS" | b"NORMALS" | b"TENSORS" | b"TEXTURE_COORDINATES"
            | b"COLOR_SCALARS" | b"LOOKUP_TABLE" | b"FIELD" => {
                let Some((is_cell, n)) = attr else {
                    return Err(c.err(format!(
                        "`{}` outside CELL_DATA/POINT_DATA",
                        show(kw)
                    )));
                };
                let name = String::from_utf8_lossy(c.expect("a data name")?).into_owned();
                match k.as_slice() {
                    b"SCALARS" => {
                        let ty = c.expect("the data type")?;
                        let mut ncomp = 1;
                        if c.peek().is_some_and(|t| t.iter().all(u8::is_ascii_digit)) {
                            ncomp = c.parse::<usize>("the number of components")?;
                        }
                        if c
                            .peek()
                            .is_some_and(|t| t.eq_ignore_ascii_case(b"LOOKUP_TABLE"))
                        {
                            c.token();
                            c.expect("a lookup table name")?;
                        }
                        let total = n.checked_mul(ncomp).ok_or_else(|| c.err("overflow"))?;
                        let values = read_values(&mut c, total, ty, binary, "scalar data")?;
                        if is_cell {
                            cell_fields.push(CellField {
                                name,
                                ncomp,
                                values,
                            });
                        }
                    }
                    b"VECTORS" | b"NORMALS" | b"TENSORS" => {
                        let ty = c.expect("the data type")?;
                        let m = if k.as_slice() == b"TENSORS" { 9 } else { 3 };
                        let total = n.checked_mul(m).ok_or_else(|| c.err("overflow"))?;
                        read_values(&mut c, total, ty, binary, "vector data")?;
                    }
                    b"TEXTURE_COORDINATES" => {
                        let dim = c.count("the texture dimension", 1)?;
                        let ty = c.expect("the data type")?;
                        let total = n.checked_mul(dim).ok_or_else(|| c.err("overflow"))?;
                        read_values(&mut c, total, ty, binary, "texture coordinates")?;
                    }
                    b"COLOR_SCALARS" => {
                        let m = c.count("the number of color values", 1)?;
                        let total = n.checked_mul(m).ok_or_else(|| c.err("overflow"))?;
                        let ty: &[u8] = if binary { b"unsigned_char" } else { b"float" };
                        read_values(&mut c, total, ty, binary, "color scalars")?;
                    }
                    b"LOOKUP_TABLE" => {
                        let m = c.count("the lookup table size", 1)?;
                        let total = m.checked_mul(4).ok_or_else(|| c.err("overflow"))?;
                        let ty: &[u8] = if binary { b"unsigned_char" } else { b"float" };
                        read_values(&mut c, total, ty, binary, "lookup table")?;
                    }
                    _ => {
                        // FIELD name numArrays
                        let na = c.count("the number of field arrays", 4)?;
                        for _ in 0..na {
                            let an = String::from_utf8_lossy(c.expect("a field array name")?)
                                .into_owned();
                            let ncomp = c.count("the number of components", 1)?;
                            let nt = c.count("the number of tuples", 1)?;
                            let ty = c.expect("the data type")?;
                            let total =
                                ncomp.checked_mul(nt).ok_or_else(|| c.err("overflow"))?;
                            let values = read_values(&mut c, total, ty, binary, "field data")?;
                            if is_cell && nt == n {
                                cell_fields.push(CellField {
                                    name: an,
                                    ncomp,
                                    values,
                                });
                            }
                        }
                    }
                }
            }
            b"METADATA" => {
                // Runs to the next empty line.
                c.skip_to_next_line();
                loop {
                    if c.remaining() == 0 {
                        break;
                    }
                    let l = c.rest_of_line();
                    if l.iter().all(u8::is_ascii_whitespace) {
                        break;
                    }
                }
            }
            _ => {
                return Err(c.err(format!(
                    "unknown VTK keyword `{}` (expected POINTS, CELLS, CELL_TYPES, CELL_DATA, POINT_DATA, ...)",
                    show(kw)
                )))
            }
        }
    }
    let points = points.ok_or_else(|| c.err_here("no POINTS section"))?;
    let (offs, conn) = cells.ok_or_else(|| c.err_here("no CELLS section"))?;
    let types = types.ok_or_else(|| c.err_here("no CELL_TYPES section"))?;
    let ncells = offs.len().saturating_sub(1);
    if types.len() != ncells {
        return Err(c.err_here(format!(
            "CELL_TYPES has {} entries but CELLS has {ncells}",
            types.len()
        )));
    }
    let field = REGION_FIELDS.iter().find_map(|want| {
        cell_fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(want) && f.ncomp == 1 && f.values.len() == ncells)
    });
    let (mesh, skipped) = assemble(
        &points,
        &offs,
        &conn,
        &types,
        field.map(|f| f.values.as_slice()),
    )
    .map_err(|m| MeshError::parse(cells_loc, format!("CELLS section: {m}")))?;
    let mut mesh = mesh;
    mesh.region_names = decode_names(&title);
    Ok(LoadedMesh {
        mesh,
        format: FileFormat::Vtk { binary },
        skipped,
    })
}

/// Builds a mesh from VTK arrays (shared by the legacy and XML readers).
pub(crate) fn assemble(
    points: &[f64],
    offs: &[usize],
    conn: &[usize],
    types: &[f64],
    region: Option<&[f64]>,
) -> Result<(TetMesh, BTreeMap<String, usize>), String> {
    if !points.len().is_multiple_of(3) {
        return Err(format!(
            "{} point coordinates is not a multiple of 3",
            points.len()
        ));
    }
    let np = points.len() / 3;
    let mut mesh = TetMesh {
        positions: points.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
        ..TetMesh::default()
    };
    let mut skipped = BTreeMap::new();
    for (i, &t) in types.iter().enumerate() {
        let (Some(&s), Some(&e)) = (offs.get(i), offs.get(i + 1)) else {
            return Err(format!("cell {i} has no offsets"));
        };
        let ids = conn
            .get(s..e)
            .ok_or_else(|| format!("cell {i}: offsets {s}..{e} outside the connectivity"))?;
        let t = t as i64;
        if t == i64::from(VTK_TETRA) {
            let [a, b, c, d] = ids else {
                return Err(format!(
                    "tetra cell {i} has {} points, expected 4",
                    ids.len()
                ));
            };
            let mut q = [0u32; 4];
            for (k, &v) in [a, b, c, d].into_iter().enumerate() {
                if v >= np {
                    return Err(format!(
                        "cell {i} references point {v}, but there are only {np} points"
                    ));
                }
                q[k] = v as u32;
            }
            mesh.tets.push(q);
            let r = region.and_then(|r| r.get(i)).copied().unwrap_or(0.0);
            if r.fract() != 0.0 || r.abs() > f64::from(i32::MAX) {
                return Err(format!("cell {i}: region value {r} is not an integer"));
            }
            mesh.regions.push(RegionId(r as i32));
        } else {
            *skipped.entry(vtk_cell_name(t)).or_insert(0) += 1;
        }
    }
    Ok((mesh, skipped))
}

/// Writes a VTK legacy (4.2 layout) `UNSTRUCTURED_GRID` with an int cell field `region`.
/// Region names are kept in the title line (`vesalius region_names: 1=skin;2=fat`).
pub fn write_vtk(w: &mut dyn Write, mesh: &TetMesh, binary: bool) -> std::io::Result<()> {
    let n = mesh.positions.len();
    let m = mesh.tets.len();
    writeln!(w, "# vtk DataFile Version 4.2")?;
    let mut title = encode_names(&mesh.region_names);
    if title.len() > 250 {
        title = "vesalius tetrahedral mesh".into();
    }
    writeln!(w, "{title}")?;
    writeln!(w, "{}", if binary { "BINARY" } else { "ASCII" })?;
    writeln!(w, "DATASET UNSTRUCTURED_GRID")?;
    writeln!(w, "POINTS {n} double")?;
    if binary {
        let mut b = Vec::with_capacity(n * 24);
        for p in &mesh.positions {
            for v in p {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
        w.write_all(&b)?;
        writeln!(w)?;
    } else {
        for p in &mesh.positions {
            writeln!(w, "{} {} {}", fmt_f64(p[0]), fmt_f64(p[1]), fmt_f64(p[2]))?;
        }
    }
    writeln!(w, "CELLS {m} {}", m * 5)?;
    if binary {
        let mut b = Vec::with_capacity(m * 20);
        for t in &mesh.tets {
            b.extend_from_slice(&4i32.to_be_bytes());
            for &v in t {
                b.extend_from_slice(&(v as i32).to_be_bytes());
            }
        }
        w.write_all(&b)?;
        writeln!(w)?;
    } else {
        for t in &mesh.tets {
            writeln!(w, "4 {} {} {} {}", t[0], t[1], t[2], t[3])?;
        }
    }
    writeln!(w, "CELL_TYPES {m}")?;
    if binary {
        let mut b = Vec::with_capacity(m * 4);
        for _ in 0..m {
            b.extend_from_slice(&i32::from(VTK_TETRA).to_be_bytes());
        }
        w.write_all(&b)?;
        writeln!(w)?;
    } else {
        for _ in 0..m {
            writeln!(w, "{VTK_TETRA}")?;
        }
    }
    writeln!(w, "CELL_DATA {m}")?;
    writeln!(w, "SCALARS region int 1")?;
    writeln!(w, "LOOKUP_TABLE default")?;
    if binary {
        let mut b = Vec::with_capacity(m * 4);
        for i in 0..m {
            b.extend_from_slice(
                &mesh
                    .regions
                    .get(i)
                    .copied()
                    .unwrap_or(RegionId(0))
                    .0
                    .to_be_bytes(),
            );
        }
        w.write_all(&b)?;
        writeln!(w)?;
    } else {
        for i in 0..m {
            writeln!(w, "{}", mesh.regions.get(i).copied().unwrap_or(RegionId(0)))?;
        }
    }
    Ok(())
}
