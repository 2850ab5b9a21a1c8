//! Gmsh `.msh` reader (v1, v2.2 and v4.1, ASCII and binary) and writer (v2.2 and v4.1).
//!
//! Hand-written rather than using `mshio` (0.4): `mshio` reads only MSH 4.1 (we also need
//! v1 for SOFA's liver and v2.2, which most tools still write), pulls `nom` 5 and `num` 0.3,
//! and its errors carry neither a line number nor a byte offset. This reader never panics,
//! never trusts a count to preallocate more than the file could hold, and names the line
//! (ASCII) or byte offset (binary) of every error.

use crate::mesh::RegionId;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use super::cursor::{bounded_capacity, show, Cursor, Endian};
use super::error::{Location, MeshError};
use super::{FileFormat, LoadedMesh, TetMesh};

/// Gmsh MSH file-format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum MshVersion {
    /// MSH 1 (`$NOD`/`$ELM`), read only.
    V1,
    /// MSH 2.2.
    V22,
    /// MSH 4.1 (the default for writing).
    V41,
}

/// Number of nodes of a Gmsh element type, `None` if unknown.
fn nodes_per_element(t: i64) -> Option<usize> {
    Some(match t {
        1 => 2,
        2 => 3,
        3 => 4,
        4 => 4,
        5 => 8,
        6 => 6,
        7 => 5,
        8 => 3,
        9 => 6,
        10 => 9,
        11 => 10,
        12 => 27,
        13 => 18,
        14 => 14,
        15 => 1,
        16 => 8,
        17 => 20,
        18 => 15,
        19 => 13,
        20 => 9,
        21 => 10,
        22 => 12,
        23 => 15,
        24 => 15,
        25 => 21,
        26 => 4,
        27 => 5,
        28 => 6,
        29 => 20,
        30 => 35,
        31 => 56,
        92 => 64,
        93 => 125,
        _ => return None,
    })
}

fn element_name(t: i64) -> String {
    let n = match t {
        1 => "line",
        2 => "triangle",
        3 => "quadrangle",
        4 => "tetrahedron",
        5 => "hexahedron",
        6 => "prism",
        7 => "pyramid",
        8 => "line3",
        9 => "triangle6",
        10 => "quadrangle9",
        11 => "tetrahedron10",
        15 => "point",
        _ => "element",
    };
    format!("{n} (Gmsh type {t})")
}

const TET: i64 = 4;

struct RawTet {
    nodes: [u64; 4],
    region: RegionId,
    loc: Location,
    id: u64,
}

#[derive(Default)]
struct State {
    version: Option<MshVersion>,
    binary: bool,
    endian: Option<Endian>,
    dsize: usize,
    nodes: Vec<[f64; 3]>,
    node_map: HashMap<u64, u32>,
    tets: Vec<RawTet>,
    /// (dim, entity tag) -> first physical tag (v4.1).
    entity_phys: HashMap<(i32, i32), RegionId>,
    names: BTreeMap<RegionId, String>,
    skipped: BTreeMap<String, usize>,
    seen_nodes: bool,
    seen_elements: bool,
}

impl State {
    fn add_node(&mut self, c: &Cursor, tag: u64, p: [f64; 3]) -> Result<(), MeshError> {
        if !p.iter().all(|v| v.is_finite()) {
            return Err(c.err(format!("node {tag} has a non-finite coordinate {p:?}")));
        }
        let idx = u32::try_from(self.nodes.len())
            .map_err(|_| c.err("more than 2^32 nodes are not supported"))?;
        if self.node_map.insert(tag, idx).is_some() {
            return Err(c.err(format!("node tag {tag} appears twice")));
        }
        self.nodes.push(p);
        Ok(())
    }

    fn skip(&mut self, t: i64, n: usize) {
        if n > 0 {
            *self.skipped.entry(element_name(t)).or_insert(0) += n;
        }
    }
}

/// Parses a Gmsh `.msh` file (v1, v2.2 or v4.1; ASCII or binary) from memory.
///
/// Tetrahedra (element type 4) become the mesh; every other element type is skipped and
/// counted in [`LoadedMesh::skipped`]. The region of a tet is its physical tag (v1:
/// reg-phys; v2.2: first tag; v4.1: first physical group of its volume entity, 0 if none).
/// Only `$PhysicalNames` of dimension 3 become region names. Unknown sections are skipped.
pub fn parse_msh(data: &[u8]) -> Result<LoadedMesh, MeshError> {
    let mut c = Cursor::new(data);
    let mut st = State {
        dsize: 8,
        ..State::default()
    };
    while let Some(tok) = c.token() {
        let name = tok.to_ascii_lowercase();
        match name.as_slice() {
            b"$meshformat" => read_format(&mut c, &mut st)?,
            b"$physicalnames" => read_names(&mut c, &mut st)?,
            b"$entities" => {
                require_version(&c, &st, "$Entities")?;
                if st.version == Some(MshVersion::V41) {
                    read_entities(&mut c, &mut st)?;
                } else {
                    skip_section(&mut c, "$Entities")?;
                }
            }
            b"$nodes" => {
                require_version(&c, &st, "$Nodes")?;
                if st.seen_nodes {
                    return Err(c.err("second `$Nodes` section"));
                }
                st.seen_nodes = true;
                match st.version {
                    Some(MshVersion::V41) => read_nodes_41(&mut c, &mut st)?,
                    _ => read_nodes_2(&mut c, &mut st)?,
                }
                end(&mut c, "$EndNodes")?;
            }
            b"$elements" => {
                require_version(&c, &st, "$Elements")?;
                if st.seen_elements {
                    return Err(c.err("second `$Elements` section"));
                }
                st.seen_elements = true;
                match st.version {
                    Some(MshVersion::V41) => read_elements_41(&mut c, &mut st)?,
                    _ => read_elements_2(&mut c, &mut st)?,
                }
                end(&mut c, "$EndElements")?;
            }
            b"$nod" => {
                if st.version.is_some() && st.version != Some(MshVersion::V1) {
                    return Err(c.err("`$NOD` (MSH 1) section in an MSH 2/4 file"));
                }
                st.version = Some(MshVersion::V1);
                if st.seen_nodes {
                    return Err(c.err("second `$NOD` section"));
                }
                st.seen_nodes = true;
                read_nodes_2(&mut c, &mut st)?;
                end(&mut c, "$ENDNOD")?;
            }
            b"$elm" => {
                if st.version != Some(MshVersion::V1) {
                    return Err(c.err("`$ELM` (MSH 1) section without a preceding `$NOD`"));
                }
                if st.seen_elements {
                    return Err(c.err("second `$ELM` section"));
                }
                st.seen_elements = true;
                read_elements_1(&mut c, &mut st)?;
                end(&mut c, "$ENDELM")?;
            }
            _ if tok.first() == Some(&b'$') => {
                if name.starts_with(b"$end") {
                    return Err(c.err(format!(
                        "unexpected `{}` without a matching opening section",
                        show(tok)
                    )));
                }
                if st.version.is_none() {
                    return Err(c.err(format!(
                        "expected `$MeshFormat` (MSH 2/4) or `$NOD` (MSH 1) first, found `{}`",
                        show(tok)
                    )));
                }
                let s = String::from_utf8_lossy(tok).into_owned();
                skip_section(&mut c, &s)?;
            }
            _ => {
                return Err(c.err(format!(
                    "expected a section header such as `$Nodes`, found `{}`",
                    show(tok)
                )))
            }
        }
    }
    let Some(version) = st.version else {
        return Err(MeshError::format(
            "not a Gmsh mesh: no `$MeshFormat` or `$NOD` section",
        ));
    };
    if !st.seen_nodes {
        return Err(c.err_here("no `$Nodes` section"));
    }
    if !st.seen_elements {
        return Err(c.err_here("no `$Elements` section"));
    }
    let mut mesh = TetMesh {
        positions: st.nodes,
        tets: Vec::with_capacity(st.tets.len()),
        regions: Vec::with_capacity(st.tets.len()),
        region_names: st.names,
    };
    for t in &st.tets {
        let mut q = [0u32; 4];
        for (k, tag) in t.nodes.iter().enumerate() {
            q[k] = *st.node_map.get(tag).ok_or_else(|| {
                MeshError::parse(
                    t.loc,
                    format!(
                        "element {} references node {tag}, which is not in the node section",
                        t.id
                    ),
                )
            })?;
        }
        mesh.tets.push(q);
        mesh.regions.push(t.region);
    }
    Ok(LoadedMesh {
        mesh,
        format: FileFormat::Msh {
            version,
            binary: st.binary,
        },
        skipped: st.skipped,
    })
}

fn require_version(c: &Cursor, st: &State, sec: &str) -> Result<(), MeshError> {
    match st.version {
        Some(MshVersion::V1) => Err(c.err(format!("`{sec}` section in an MSH 1 file"))),
        Some(_) => Ok(()),
        None => Err(c.err(format!("`{sec}` before `$MeshFormat`"))),
    }
}

fn end(c: &mut Cursor, word: &str) -> Result<(), MeshError> {
    let t = c.expect(&format!("`{word}`"))?;
    if t.eq_ignore_ascii_case(word.as_bytes()) {
        Ok(())
    } else {
        Err(c.err(format!(
            "expected `{word}`, found `{}` (wrong count or truncated section?)",
            show(t)
        )))
    }
}

/// Skips an unknown section up to its `$End...` line.
fn skip_section(c: &mut Cursor, name: &str) -> Result<(), MeshError> {
    let start_line = c.tok_line;
    let start_pos = c.tok_pos;
    let end = format!("$End{}", name.get(1..).unwrap_or(""));
    let end_l = end.to_ascii_lowercase().into_bytes();
    while let Some(t) = c.token() {
        if t.to_ascii_lowercase() == end_l {
            return Ok(());
        }
    }
    let loc = if c.binary {
        Location::Byte(start_pos)
    } else {
        Location::Line(start_line)
    };
    Err(MeshError::parse(
        loc,
        format!("section `{name}` has no `{end}`"),
    ))
}

fn read_format(c: &mut Cursor, st: &mut State) -> Result<(), MeshError> {
    if st.version.is_some() {
        return Err(c.err("second `$MeshFormat` section"));
    }
    let v = c.expect("the format version (e.g. 4.1)")?;
    let version = match v {
        b"4.1" => MshVersion::V41,
        b"2.2" | b"2.1" | b"2.0" | b"2" => MshVersion::V22,
        _ => {
            return Err(c.err(format!(
                "unsupported Gmsh format version `{}` (supported: 1, 2.2, 4.1; re-save with Gmsh)",
                show(v)
            )))
        }
    };
    let ft: i64 = c.parse("the file type (0 = ASCII, 1 = binary)")?;
    let binary = match ft {
        0 => false,
        1 => true,
        _ => return Err(c.err(format!("expected file type 0 or 1, found {ft}"))),
    };
    let ds: usize = c.parse("the data size")?;
    if binary && ds != 4 && ds != 8 {
        return Err(c.err(format!("unsupported data size {ds} (expected 4 or 8)")));
    }
    st.dsize = ds;
    st.version = Some(version);
    st.binary = binary;
    if binary {
        c.skip_to_next_line();
        c.binary = true;
        let b = c.bytes(4, "the binary endianness check (int 1)")?;
        let a = [b[0], b[1], b[2], b[3]];
        st.endian = if i32::from_le_bytes(a) == 1 {
            Some(Endian::Little)
        } else if i32::from_be_bytes(a) == 1 {
            Some(Endian::Big)
        } else {
            return Err(c.err(format!(
                "endianness check: expected the integer 1, found bytes {a:?}"
            )));
        };
    }
    end(c, "$EndMeshFormat")
}

fn read_names(c: &mut Cursor, st: &mut State) -> Result<(), MeshError> {
    let n = c.count("the number of physical names", 6)?;
    for _ in 0..n {
        let dim: i32 = c.parse("a physical dimension")?;
        let tag: i32 = c.parse("a physical tag")?;
        let rest = c.rest_of_line();
        let s = String::from_utf8_lossy(rest);
        let s = s.trim();
        let name = s
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .ok_or_else(|| c.err(format!("expected a quoted name, found `{}`", show(rest))))?;
        if dim == 3 {
            st.names.insert(RegionId(tag), name.to_string());
        }
    }
    end(c, "$EndPhysicalNames")
}

/// Reads an unsigned size (ASCII token or binary size_t).
fn size(c: &mut Cursor, st: &State, what: &str) -> Result<u64, MeshError> {
    match (st.binary, st.endian) {
        (true, Some(e)) => c.bin_uint(st.dsize, e, what),
        _ => c.parse(what),
    }
}

fn int(c: &mut Cursor, st: &State, what: &str) -> Result<i64, MeshError> {
    match (st.binary, st.endian) {
        (true, Some(e)) => c.bin_i32(e, what).map(i64::from),
        _ => c.parse(what),
    }
}

fn real(c: &mut Cursor, st: &State, what: &str) -> Result<f64, MeshError> {
    match (st.binary, st.endian) {
        (true, Some(e)) => c.bin_f64(e, what),
        _ => c.parse(what),
    }
}

fn to_usize(c: &Cursor, n: u64, what: &str, min_bytes: usize) -> Result<usize, MeshError> {
    let n = usize::try_from(n).map_err(|_| c.err(format!("{what} {n} is too large")))?;
    c.check_count(n, what, min_bytes)?;
    Ok(n)
}

fn to_i32(c: &Cursor, v: i64, what: &str) -> Result<i32, MeshError> {
    i32::try_from(v).map_err(|_| c.err(format!("{what} {v} is out of range")))
}

fn read_entities(c: &mut Cursor, st: &mut State) -> Result<(), MeshError> {
    if st.binary {
        c.skip_to_next_line();
    }
    let mut counts = [0usize; 4];
    for (d, n) in counts.iter_mut().enumerate() {
        let v = size(c, st, &format!("the number of {d}-dimensional entities"))?;
        *n = to_usize(c, v, "entity count", 8)?;
    }
    for (dim, &n) in counts.iter().enumerate() {
        for _ in 0..n {
            let tag = int(c, st, "an entity tag")?;
            let tag = to_i32(c, tag, "entity tag")?;
            let nbox = if dim == 0 { 3 } else { 6 };
            for _ in 0..nbox {
                real(c, st, "an entity bounding-box coordinate")?;
            }
            let np = size(c, st, "the number of physical tags")?;
            let np = to_usize(c, np, "number of physical tags", 1)?;
            let mut first = None;
            for _ in 0..np {
                let p = int(c, st, "a physical tag")?;
                if first.is_none() {
                    first = Some(to_i32(c, p, "physical tag")?);
                }
            }
            if let Some(p) = first {
                st.entity_phys.insert((dim as i32, tag), RegionId(p));
            }
            if dim > 0 {
                let nb = size(c, st, "the number of bounding entities")?;
                let nb = to_usize(c, nb, "number of bounding entities", 1)?;
                for _ in 0..nb {
                    int(c, st, "a bounding entity tag")?;
                }
            }
        }
    }
    end(c, "$EndEntities")
}

fn read_nodes_41(c: &mut Cursor, st: &mut State) -> Result<(), MeshError> {
    if st.binary {
        c.skip_to_next_line();
    }
    let nb = size(c, st, "the number of node blocks")?;
    let nb = to_usize(c, nb, "number of node blocks", 4)?;
    let nn = size(c, st, "the number of nodes")?;
    let nn = to_usize(c, nn, "number of nodes", 4)?;
    size(c, st, "the minimum node tag")?;
    size(c, st, "the maximum node tag")?;
    st.nodes.reserve(bounded_capacity(nn, c.remaining(), 8));
    let mut total = 0usize;
    for _ in 0..nb {
        let dim = int(c, st, "the entity dimension of a node block")?;
        int(c, st, "the entity tag of a node block")?;
        let par = int(c, st, "the parametric flag of a node block")?;
        let n = size(c, st, "the number of nodes in a block")?;
        let n = to_usize(c, n, "number of nodes in a block", 4)?;
        let nparam = match (par, dim) {
            (0, _) => 0,
            (1, d @ 0..=3) => d as usize,
            _ => {
                return Err(c.err(format!(
                    "invalid node block: dimension {dim}, parametric flag {par}"
                )))
            }
        };
        let mut tags = Vec::with_capacity(bounded_capacity(n, c.remaining(), 2));
        for _ in 0..n {
            tags.push(size(c, st, "a node tag")?);
        }
        for tag in tags {
            let mut p = [0.0; 3];
            for v in &mut p {
                *v = real(c, st, "a node coordinate")?;
            }
            for _ in 0..nparam {
                real(c, st, "a parametric node coordinate")?;
            }
            st.add_node(c, tag, p)?;
        }
        total += n;
    }
    if total != nn {
        return Err(c.err(format!(
            "the header announces {nn} nodes but the blocks hold {total}"
        )));
    }
    Ok(())
}

/// `$Nodes` of MSH 2.2 (ASCII/binary) and `$NOD` of MSH 1.
fn read_nodes_2(c: &mut Cursor, st: &mut State) -> Result<(), MeshError> {
    let n = c.count("the number of nodes", if st.binary { 28 } else { 8 })?;
    if st.binary {
        c.skip_to_next_line();
    }
    st.nodes.reserve(n);
    for _ in 0..n {
        let tag = int(c, st, "a node number")?;
        let tag = u64::try_from(tag).map_err(|_| c.err(format!("negative node number {tag}")))?;
        let mut p = [0.0; 3];
        for v in &mut p {
            *v = real(c, st, "a node coordinate")?;
        }
        st.add_node(c, tag, p)?;
    }
    Ok(())
}

fn elem_nodes(c: &Cursor, t: i64) -> Result<usize, MeshError> {
    nodes_per_element(t).ok_or_else(|| {
        c.err(format!(
            "unknown Gmsh element type {t}; cannot read its nodes"
        ))
    })
}

fn read_elements_41(c: &mut Cursor, st: &mut State) -> Result<(), MeshError> {
    if st.binary {
        c.skip_to_next_line();
    }
    let nb = size(c, st, "the number of element blocks")?;
    let nb = to_usize(c, nb, "number of element blocks", 4)?;
    let ne = size(c, st, "the number of elements")?;
    let ne = to_usize(c, ne, "number of elements", 4)?;
    size(c, st, "the minimum element tag")?;
    size(c, st, "the maximum element tag")?;
    let mut total = 0usize;
    for _ in 0..nb {
        let dim = int(c, st, "the entity dimension of an element block")?;
        let etag = int(c, st, "the entity tag of an element block")?;
        let ty = int(c, st, "the element type of a block")?;
        let n = size(c, st, "the number of elements in a block")?;
        let k = elem_nodes(c, ty)?;
        let n = to_usize(c, n, "number of elements in a block", 2 * (k + 1))?;
        let region = if ty == TET {
            let dim = to_i32(c, dim, "entity dimension")?;
            let etag = to_i32(c, etag, "entity tag")?;
            st.entity_phys
                .get(&(dim, etag))
                .copied()
                .unwrap_or(RegionId(0))
        } else {
            RegionId(0)
        };
        if ty == TET {
            st.tets.reserve(n);
        }
        for _ in 0..n {
            let id = size(c, st, "an element tag")?;
            let loc = c.loc();
            let mut q = [0u64; 4];
            for i in 0..k {
                let v = size(c, st, "an element node tag")?;
                if let Some(s) = q.get_mut(i) {
                    *s = v;
                }
            }
            if ty == TET {
                st.tets.push(RawTet {
                    nodes: q,
                    region,
                    loc,
                    id,
                });
            }
        }
        if ty != TET {
            st.skip(ty, n);
        }
        total += n;
    }
    if total != ne {
        return Err(c.err(format!(
            "the header announces {ne} elements but the blocks hold {total}"
        )));
    }
    Ok(())
}

fn read_elements_2(c: &mut Cursor, st: &mut State) -> Result<(), MeshError> {
    let ne = c.count("the number of elements", if st.binary { 12 } else { 8 })?;
    if st.binary {
        c.skip_to_next_line();
        let Some(e) = st.endian else {
            return Err(c.err("binary elements without endianness"));
        };
        let mut read = 0usize;
        while read < ne {
            let ty = i64::from(c.bin_i32(e, "an element-block type")?);
            let follow = c.bin_i32(e, "the number of elements in a block")?;
            let ntags = c.bin_i32(e, "the number of tags")?;
            let k = elem_nodes(c, ty)?;
            let follow = usize::try_from(follow)
                .map_err(|_| c.err(format!("negative element count {follow}")))?;
            let ntags =
                usize::try_from(ntags).map_err(|_| c.err(format!("negative tag count {ntags}")))?;
            if follow == 0 || follow > ne - read {
                return Err(c.err(format!(
                    "element block of {follow} elements exceeds the announced {ne} elements"
                )));
            }
            c.check_count(follow, "number of elements in a block", 4 * (1 + ntags + k))?;
            for _ in 0..follow {
                let id = c.bin_i32(e, "an element number")?;
                let loc = c.loc();
                let mut region = 0;
                for j in 0..ntags {
                    let t = c.bin_i32(e, "an element tag")?;
                    if j == 0 {
                        region = t;
                    }
                }
                let mut q = [0u64; 4];
                for i in 0..k {
                    let v = c.bin_i32(e, "an element node")?;
                    let v = u64::try_from(v).map_err(|_| c.err(format!("negative node {v}")))?;
                    if let Some(s) = q.get_mut(i) {
                        *s = v;
                    }
                }
                if ty == TET {
                    st.tets.push(RawTet {
                        nodes: q,
                        region: RegionId(region),
                        loc,
                        id: u64::try_from(id).unwrap_or(0),
                    });
                }
            }
            if ty != TET {
                st.skip(ty, follow);
            }
            read += follow;
        }
        return Ok(());
    }
    for _ in 0..ne {
        let id: u64 = c.parse("an element number")?;
        let loc = c.loc();
        let ty: i64 = c.parse("an element type")?;
        let ntags = c.count("the number of tags", 2)?;
        let mut region = 0;
        for j in 0..ntags {
            let t: i64 = c.parse("an element tag")?;
            if j == 0 {
                region = to_i32(c, t, "physical tag")?;
            }
        }
        let k = elem_nodes(c, ty)?;
        let mut q = [0u64; 4];
        for i in 0..k {
            let v: u64 = c.parse("an element node number")?;
            if let Some(s) = q.get_mut(i) {
                *s = v;
            }
        }
        if ty == TET {
            st.tets.push(RawTet {
                nodes: q,
                region: RegionId(region),
                loc,
                id,
            });
        } else {
            st.skip(ty, 1);
        }
    }
    Ok(())
}

fn read_elements_1(c: &mut Cursor, st: &mut State) -> Result<(), MeshError> {
    let ne = c.count("the number of elements", 10)?;
    for _ in 0..ne {
        let id: u64 = c.parse("an element number")?;
        let loc = c.loc();
        let ty: i64 = c.parse("an element type")?;
        let phys: i64 = c.parse("the physical region (reg-phys)")?;
        let _elem: i64 = c.parse("the elementary region (reg-elem)")?;
        let k = c.count("the number of nodes of the element", 2)?;
        if let Some(expected) = nodes_per_element(ty) {
            if expected != k {
                return Err(c.err(format!(
                    "element {id} of type {ty} must have {expected} nodes, found {k}"
                )));
            }
        }
        let mut q = [0u64; 4];
        for i in 0..k {
            let v: u64 = c.parse("an element node number")?;
            if let Some(s) = q.get_mut(i) {
                *s = v;
            }
        }
        if ty == TET {
            st.tets.push(RawTet {
                nodes: q,
                region: RegionId(to_i32(c, phys, "physical region")?),
                loc,
                id,
            });
        } else {
            st.skip(ty, 1);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Writers

/// Formats a float so that it reads back exactly and stays short.
pub(crate) fn fmt_f64(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-3..1e7).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Region tags in order of first appearance (at least one entry).
fn region_list(mesh: &TetMesh) -> Vec<RegionId> {
    let mut seen = Vec::new();
    let mut set = std::collections::HashSet::new();
    for &r in &mesh.regions {
        if set.insert(r) {
            seen.push(r);
        }
    }
    if seen.is_empty() {
        seen.push(
            mesh.region_names
                .keys()
                .next()
                .copied()
                .unwrap_or(RegionId(1)),
        );
    }
    seen
}

fn region_of(mesh: &TetMesh, i: usize) -> RegionId {
    mesh.regions.get(i).copied().unwrap_or(RegionId(0))
}

fn write_names(w: &mut dyn Write, mesh: &TetMesh) -> std::io::Result<()> {
    if mesh.region_names.is_empty() {
        return Ok(());
    }
    writeln!(w, "$PhysicalNames\n{}", mesh.region_names.len())?;
    for (tag, name) in &mesh.region_names {
        writeln!(w, "3 {tag} \"{}\"", name.replace('"', "'"))?;
    }
    writeln!(w, "$EndPhysicalNames")
}

/// Writes a mesh as Gmsh MSH (`version` 2.2 or 4.1, ASCII or binary little-endian).
///
/// Regions become physical groups (one volume entity per region in 4.1; region 0 becomes a
/// volume without physical group), names become `$PhysicalNames`; tet order is kept.
/// [`MshVersion::V1`] is not written (read-only); it is rejected with an I/O error.
pub fn write_msh(
    w: &mut dyn Write,
    mesh: &TetMesh,
    version: MshVersion,
    binary: bool,
) -> std::io::Result<()> {
    match version {
        MshVersion::V41 => write_41(w, mesh, binary),
        MshVersion::V22 => write_22(w, mesh, binary),
        MshVersion::V1 => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "writing Gmsh MSH 1 is not supported; use 2.2 or 4.1",
        )),
    }
}

fn write_22(w: &mut dyn Write, mesh: &TetMesh, binary: bool) -> std::io::Result<()> {
    let regions = region_list(mesh);
    let entity: HashMap<RegionId, i32> = regions
        .iter()
        .enumerate()
        .map(|(i, &r)| (r, i as i32 + 1))
        .collect();
    writeln!(w, "$MeshFormat\n2.2 {} 8", u8::from(binary))?;
    if binary {
        w.write_all(&1i32.to_le_bytes())?;
        writeln!(w)?;
    }
    writeln!(w, "$EndMeshFormat")?;
    write_names(w, mesh)?;
    writeln!(w, "$Nodes\n{}", mesh.positions.len())?;
    if binary {
        let mut buf = Vec::with_capacity(mesh.positions.len() * 28);
        for (i, p) in mesh.positions.iter().enumerate() {
            buf.extend_from_slice(&(i as i32 + 1).to_le_bytes());
            for v in p {
                buf.extend_from_slice(&v.to_le_bytes());
            }
        }
        w.write_all(&buf)?;
        writeln!(w)?;
    } else {
        for (i, p) in mesh.positions.iter().enumerate() {
            writeln!(
                w,
                "{} {} {} {}",
                i + 1,
                fmt_f64(p[0]),
                fmt_f64(p[1]),
                fmt_f64(p[2])
            )?;
        }
    }
    writeln!(w, "$EndNodes\n$Elements\n{}", mesh.tets.len())?;
    if binary {
        let mut buf = Vec::with_capacity(mesh.tets.len() * 40 + 12);
        if !mesh.tets.is_empty() {
            for v in [4i32, mesh.tets.len() as i32, 2] {
                buf.extend_from_slice(&v.to_le_bytes());
            }
        }
        for (i, t) in mesh.tets.iter().enumerate() {
            let r = region_of(mesh, i);
            let e = entity.get(&r).copied().unwrap_or(1);
            for v in [i as i32 + 1, r.0, e] {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            for &n in t {
                buf.extend_from_slice(&(n as i32 + 1).to_le_bytes());
            }
        }
        w.write_all(&buf)?;
        writeln!(w)?;
    } else {
        for (i, t) in mesh.tets.iter().enumerate() {
            let r = region_of(mesh, i);
            let e = entity.get(&r).copied().unwrap_or(1);
            writeln!(
                w,
                "{} 4 2 {r} {e} {} {} {} {}",
                i + 1,
                t[0] + 1,
                t[1] + 1,
                t[2] + 1,
                t[3] + 1
            )?;
        }
    }
    writeln!(w, "$EndElements")
}

fn write_41(w: &mut dyn Write, mesh: &TetMesh, binary: bool) -> std::io::Result<()> {
    let regions = region_list(mesh);
    let entity: HashMap<RegionId, i32> = regions
        .iter()
        .enumerate()
        .map(|(i, &r)| (r, i as i32 + 1))
        .collect();
    // Bounding box per entity.
    let mut boxes = vec![
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::INFINITY,
            -f64::INFINITY,
            -f64::INFINITY,
            -f64::INFINITY
        ];
        regions.len()
    ];
    for (i, t) in mesh.tets.iter().enumerate() {
        let e = entity.get(&region_of(mesh, i)).copied().unwrap_or(1) as usize - 1;
        for &n in t {
            if let (Some(p), Some(b)) = (mesh.positions.get(n as usize), boxes.get_mut(e)) {
                for k in 0..3 {
                    b[k] = b[k].min(p[k]);
                    b[k + 3] = b[k + 3].max(p[k]);
                }
            }
        }
    }
    for b in &mut boxes {
        if b[0] > b[3] {
            *b = [0.0; 6];
        }
    }
    // Consecutive runs of one region become element blocks, so tet order is kept.
    let mut runs: Vec<(i32, usize, usize)> = Vec::new();
    for i in 0..mesh.tets.len() {
        let e = entity.get(&region_of(mesh, i)).copied().unwrap_or(1);
        match runs.last_mut() {
            Some((re, _, end)) if *re == e => *end = i + 1,
            _ => runs.push((e, i, i + 1)),
        }
    }
    let nn = mesh.positions.len();
    let nt = mesh.tets.len();
    writeln!(w, "$MeshFormat\n4.1 {} 8", u8::from(binary))?;
    if binary {
        w.write_all(&1i32.to_le_bytes())?;
        writeln!(w)?;
    }
    writeln!(w, "$EndMeshFormat")?;
    write_names(w, mesh)?;
    writeln!(w, "$Entities")?;
    if binary {
        let mut b = Vec::new();
        for v in [0u64, 0, 0, regions.len() as u64] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for (i, &r) in regions.iter().enumerate() {
            b.extend_from_slice(&(i as i32 + 1).to_le_bytes());
            for v in boxes[i] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            if r == RegionId(0) {
                b.extend_from_slice(&0u64.to_le_bytes());
            } else {
                b.extend_from_slice(&1u64.to_le_bytes());
                b.extend_from_slice(&r.0.to_le_bytes());
            }
            b.extend_from_slice(&0u64.to_le_bytes());
        }
        w.write_all(&b)?;
        writeln!(w)?;
    } else {
        writeln!(w, "0 0 0 {}", regions.len())?;
        for (i, &r) in regions.iter().enumerate() {
            let bx = boxes[i];
            let phys = if r == RegionId(0) {
                "0".to_string()
            } else {
                format!("1 {r}")
            };
            writeln!(
                w,
                "{} {} {} {} {} {} {} {phys} 0",
                i + 1,
                fmt_f64(bx[0]),
                fmt_f64(bx[1]),
                fmt_f64(bx[2]),
                fmt_f64(bx[3]),
                fmt_f64(bx[4]),
                fmt_f64(bx[5])
            )?;
        }
    }
    writeln!(w, "$EndEntities\n$Nodes")?;
    let nblocks = u64::from(nn > 0);
    if binary {
        let mut b = Vec::with_capacity(nn * 32 + 64);
        for v in [nblocks, nn as u64, 1, nn as u64] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        if nn > 0 {
            for v in [3i32, 1, 0] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(&(nn as u64).to_le_bytes());
            for i in 0..nn {
                b.extend_from_slice(&(i as u64 + 1).to_le_bytes());
            }
            for p in &mesh.positions {
                for v in p {
                    b.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        w.write_all(&b)?;
        writeln!(w)?;
    } else {
        writeln!(w, "{nblocks} {nn} 1 {nn}")?;
        if nn > 0 {
            writeln!(w, "3 1 0 {nn}")?;
            for i in 0..nn {
                writeln!(w, "{}", i + 1)?;
            }
            for p in &mesh.positions {
                writeln!(w, "{} {} {}", fmt_f64(p[0]), fmt_f64(p[1]), fmt_f64(p[2]))?;
            }
        }
    }
    writeln!(w, "$EndNodes\n$Elements")?;
    if binary {
        let mut b = Vec::with_capacity(nt * 40 + 64 + runs.len() * 24);
        for v in [runs.len() as u64, nt as u64, 1, nt as u64] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for &(e, s, end) in &runs {
            for v in [3i32, e, 4] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(&((end - s) as u64).to_le_bytes());
            for (i, t) in mesh.tets[s..end].iter().enumerate() {
                b.extend_from_slice(&((s + i) as u64 + 1).to_le_bytes());
                for &n in t {
                    b.extend_from_slice(&(u64::from(n) + 1).to_le_bytes());
                }
            }
        }
        w.write_all(&b)?;
        writeln!(w)?;
    } else {
        writeln!(w, "{} {nt} 1 {nt}", runs.len())?;
        for &(e, s, end) in &runs {
            writeln!(w, "3 {e} 4 {}", end - s)?;
            for (i, t) in mesh.tets[s..end].iter().enumerate() {
                writeln!(
                    w,
                    "{} {} {} {} {}",
                    s + i + 1,
                    t[0] + 1,
                    t[1] + 1,
                    t[2] + 1,
                    t[3] + 1
                )?;
            }
        }
    }
    writeln!(w, "$EndElements")
}
