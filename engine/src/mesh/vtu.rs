//! VTK XML unstructured grid (`.vtu`): a reader for meshes and a fast writer for simulation
//! output frames (base64 binary inline, `UInt64` header), plus the `.pvd` time-series index.
//!
//! The reader is hand-written on a tiny XML scanner rather than `quick-xml`: a `.vtu` needs
//! only elements, attributes and text, and this keeps errors uniform (file and line) and the
//! dependency list short. It never panics on any input.

use crate::mesh::RegionId;
use std::collections::BTreeMap;
use std::io::Write;

use super::base64;
use super::cursor::show;
use super::error::{Location, MeshError};
use super::vtk::{assemble, REGION_FIELDS, VTK_TETRA};
use super::{decode_names, encode_names, FileFormat, LoadedMesh, TetMesh};

/// A data array attached to points or cells of a written frame.
#[derive(Clone, Copy, Debug)]
pub enum Field<'a> {
    /// One `f32` per item.
    F32(&'a [f32]),
    /// One 3-vector of `f32` per item (displacement, velocity, ...).
    Vec3(&'a [[f32; 3]]),
    /// One `f64` per item.
    F64(&'a [f64]),
    /// One `i32` per item (region tags, flags).
    I32(&'a [i32]),
}

impl Field<'_> {
    fn len(&self) -> usize {
        match self {
            Field::F32(v) => v.len(),
            Field::Vec3(v) => v.len(),
            Field::F64(v) => v.len(),
            Field::I32(v) => v.len(),
        }
    }
    fn vtk_type(&self) -> &'static str {
        match self {
            Field::F32(_) | Field::Vec3(_) => "Float32",
            Field::F64(_) => "Float64",
            Field::I32(_) => "Int32",
        }
    }
    fn components(&self) -> usize {
        match self {
            Field::Vec3(_) => 3,
            _ => 1,
        }
    }
    fn bytes(&self, out: &mut Vec<u8>) {
        match self {
            Field::F32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Field::Vec3(v) => v
                .iter()
                .flatten()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Field::F64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Field::I32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        }
    }
}

enum Points<'a> {
    F32(&'a [[f32; 3]]),
    F64(&'a [[f64; 3]]),
}

/// Escapes a string for an XML attribute value.
fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Writes one `DataArray` in base64 binary (UInt64 byte-count header), reusing buffers.
fn data_array(
    w: &mut dyn Write,
    ty: &str,
    name: &str,
    ncomp: usize,
    raw: &[u8],
    enc: &mut Vec<u8>,
) -> std::io::Result<()> {
    let comps = if ncomp > 1 {
        format!(" NumberOfComponents=\"{ncomp}\"")
    } else {
        String::new()
    };
    writeln!(
        w,
        "<DataArray type=\"{ty}\" Name=\"{}\"{comps} format=\"binary\">",
        xml_escape(name)
    )?;
    enc.clear();
    let mut with_header = Vec::with_capacity(raw.len() + 8);
    with_header.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    with_header.extend_from_slice(raw);
    base64::encode_into(&with_header, enc);
    w.write_all(enc)?;
    w.write_all(b"\n</DataArray>\n")
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)
}

/// The `<Cells>` block (connectivity, offsets, types) of a tet mesh, base64-encoded.
fn cells_block(tets: &[[u32; 4]], np: usize) -> std::io::Result<Vec<u8>> {
    if let Some(i) = tets.iter().flatten().find(|&&i| i as usize >= np) {
        return Err(invalid(format!(
            "a tet references point {i}, but there are only {np} points"
        )));
    }
    let nc = tets.len();
    let mut out = Vec::with_capacity(nc * 32 + 256);
    let mut raw = Vec::with_capacity(nc * 16);
    let mut enc = Vec::new();
    out.extend_from_slice(b"<Cells>\n");
    let big = np > i32::MAX as usize || nc.saturating_mul(4) > i32::MAX as usize;
    if big {
        tets.iter()
            .flatten()
            .for_each(|&x| raw.extend_from_slice(&i64::from(x).to_le_bytes()));
        data_array(&mut out, "Int64", "connectivity", 1, &raw, &mut enc)?;
        raw.clear();
        (1..=nc).for_each(|i| raw.extend_from_slice(&(4 * i as i64).to_le_bytes()));
        data_array(&mut out, "Int64", "offsets", 1, &raw, &mut enc)?;
    } else {
        tets.iter()
            .flatten()
            .for_each(|&x| raw.extend_from_slice(&(x as i32).to_le_bytes()));
        data_array(&mut out, "Int32", "connectivity", 1, &raw, &mut enc)?;
        raw.clear();
        (1..=nc).for_each(|i| raw.extend_from_slice(&(4 * i as i32).to_le_bytes()));
        data_array(&mut out, "Int32", "offsets", 1, &raw, &mut enc)?;
    }
    raw.clear();
    raw.resize(nc, VTK_TETRA);
    data_array(&mut out, "UInt8", "types", 1, &raw, &mut enc)?;
    out.extend_from_slice(b"</Cells>\n");
    Ok(out)
}

fn write_impl(
    w: &mut dyn Write,
    points: Points,
    cells: &[u8],
    nc: usize,
    point_data: &[(&str, Field)],
    cell_data: &[(&str, Field)],
    comment: Option<&str>,
) -> std::io::Result<()> {
    let np = match points {
        Points::F32(p) => p.len(),
        Points::F64(p) => p.len(),
    };
    for (name, f) in point_data {
        if f.len() != np {
            return Err(invalid(format!(
                "point field `{name}` has {} values for {np} points",
                f.len()
            )));
        }
    }
    for (name, f) in cell_data {
        if f.len() != nc {
            return Err(invalid(format!(
                "cell field `{name}` has {} values for {nc} cells",
                f.len()
            )));
        }
    }
    let mut out = Vec::with_capacity(256);
    writeln!(out, "<?xml version=\"1.0\"?>")?;
    writeln!(
        out,
        "<VTKFile type=\"UnstructuredGrid\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">"
    )?;
    if let Some(c) = comment {
        writeln!(out, "<!--{}-->", c.replace("--", "__"))?;
    }
    writeln!(out, "<UnstructuredGrid>")?;
    writeln!(
        out,
        "<Piece NumberOfPoints=\"{np}\" NumberOfCells=\"{nc}\">"
    )?;
    w.write_all(&out)?;
    let mut raw = Vec::with_capacity(np * 24);
    let mut enc = Vec::new();
    w.write_all(b"<Points>\n")?;
    match points {
        Points::F32(p) => {
            p.iter()
                .flatten()
                .for_each(|x| raw.extend_from_slice(&x.to_le_bytes()));
            data_array(w, "Float32", "Points", 3, &raw, &mut enc)?;
        }
        Points::F64(p) => {
            p.iter()
                .flatten()
                .for_each(|x| raw.extend_from_slice(&x.to_le_bytes()));
            data_array(w, "Float64", "Points", 3, &raw, &mut enc)?;
        }
    }
    w.write_all(b"</Points>\n")?;
    w.write_all(cells)?;
    for (tag, fields) in [("PointData", point_data), ("CellData", cell_data)] {
        if fields.is_empty() {
            continue;
        }
        writeln!(w, "<{tag}>")?;
        for (name, f) in fields {
            raw.clear();
            f.bytes(&mut raw);
            data_array(w, f.vtk_type(), name, f.components(), &raw, &mut enc)?;
        }
        writeln!(w, "</{tag}>")?;
    }
    w.write_all(b"</Piece>\n</UnstructuredGrid>\n</VTKFile>\n")
}

/// Writes many frames of one tet mesh: the cell arrays (connectivity, offsets, types) are
/// encoded once in [`FrameWriter::new`] and reused by every [`FrameWriter::write`].
#[derive(Clone, Debug)]
pub struct FrameWriter {
    n_points: usize,
    n_cells: usize,
    cells: Vec<u8>,
}

impl FrameWriter {
    /// Prepares frames of `n_points` points and these tets; fails (`InvalidInput`) if a
    /// tet index is `>= n_points`.
    pub fn new(n_points: usize, tets: &[[u32; 4]]) -> std::io::Result<Self> {
        Ok(FrameWriter {
            n_points,
            n_cells: tets.len(),
            cells: cells_block(tets, n_points)?,
        })
    }

    /// Writes one frame; like [`write()`], but `positions.len()` must equal the point count
    /// given to [`FrameWriter::new`].
    pub fn write(
        &self,
        mut w: impl Write,
        positions: &[[f32; 3]],
        point_data: &[(&str, Field)],
        cell_data: &[(&str, Field)],
    ) -> std::io::Result<()> {
        if positions.len() != self.n_points {
            return Err(invalid(format!(
                "{} positions for a frame writer of {} points",
                positions.len(),
                self.n_points
            )));
        }
        write_impl(
            &mut w,
            Points::F32(positions),
            &self.cells,
            self.n_cells,
            point_data,
            cell_data,
            None,
        )
    }
}

/// Writes one simulation frame as a `.vtu` (VTK XML unstructured grid of linear tets).
///
/// Arrays are base64 binary inline (`format="binary"`, `header_type="UInt64"`, little
/// endian), which ParaView and VTK read directly (use [`FrameWriter`] for many frames of one
/// mesh); connectivity and offsets are `Int32` when
/// they fit. Every field must have one value per point (`point_data`) or per tet
/// (`cell_data`), and every tet index must be below `positions.len()`; otherwise an
/// `InvalidInput` error is returned before anything is written. Wrap `w` in a
/// `BufWriter` when writing to a file.
pub fn write(
    mut w: impl Write,
    positions: &[[f32; 3]],
    tets: &[[u32; 4]],
    point_data: &[(&str, Field)],
    cell_data: &[(&str, Field)],
) -> std::io::Result<()> {
    let cells = cells_block(tets, positions.len())?;
    write_impl(
        &mut w,
        Points::F32(positions),
        &cells,
        tets.len(),
        point_data,
        cell_data,
        None,
    )
}

/// Writes a [`TetMesh`] as `.vtu` (Float64 points, Int32 cell data `region`; region names
/// in a comment that [`parse_vtu`] reads back).
pub fn write_mesh(mut w: impl Write, mesh: &TetMesh) -> std::io::Result<()> {
    let regions: Vec<RegionId> = (0..mesh.tets.len())
        .map(|i| mesh.regions.get(i).copied().unwrap_or(RegionId(0)))
        .collect();
    let names = encode_names(&mesh.region_names);
    let cells = cells_block(&mesh.tets, mesh.positions.len())?;
    write_impl(
        &mut w,
        Points::F64(&mesh.positions),
        &cells,
        mesh.tets.len(),
        &[],
        &[("region", Field::I32(bytemuck::cast_slice(&regions)))],
        Some(&names),
    )
}

/// Reads a `.pvd` time-series index: `(timestep, file)` of each `<DataSet>`, in file order.
/// Errors name the line; a `<DataSet>` without a finite `timestep` or a `file` is one.
pub fn parse_pvd(data: &[u8]) -> Result<Vec<(f64, String)>, MeshError> {
    let mut out = Vec::new();
    let mut i = 0usize;
    let mut collection = false;
    while let Some(lt) = data
        .get(i..)
        .and_then(|d| d.iter().position(|&b| b == b'<'))
        .map(|p| p + i)
    {
        let rest = data.get(lt..).unwrap_or(&[]);
        if rest.starts_with(b"<?") || rest.starts_with(b"<!--") {
            let close: &[u8] = if rest.starts_with(b"<?") {
                b"?>"
            } else {
                b"-->"
            };
            i = find(data, lt, close).ok_or_else(|| err_at(data, lt, "unterminated tag"))?
                + close.len();
            continue;
        }
        let tag = parse_tag(data, lt)?;
        i = tag.end;
        if tag.closing {
            continue;
        }
        match tag.name.as_str() {
            "VTKFile" => {
                if tag.attr("type").is_some_and(|t| t != "Collection") {
                    return Err(err_at(
                        data,
                        lt,
                        "not a .pvd: VTKFile type is not Collection",
                    ));
                }
                collection = true;
            }
            "DataSet" => {
                let t = tag
                    .attr("timestep")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|t| t.is_finite())
                    .ok_or_else(|| err_at(data, lt, "<DataSet> without a finite timestep"))?;
                let file = tag
                    .attr("file")
                    .filter(|f| !f.is_empty())
                    .ok_or_else(|| err_at(data, lt, "<DataSet> without a file"))?;
                out.push((t, unescape(file)));
            }
            _ => {}
        }
    }
    if !collection {
        return Err(MeshError::format(
            "not a .pvd: no <VTKFile type=\"Collection\">",
        ));
    }
    Ok(out)
}

/// Writes a ParaView `.pvd` collection indexing a time series of `.vtu` frames.
/// Each entry is `(time, file name relative to the .pvd)`.
pub fn write_pvd(mut w: impl Write, frames: &[(f64, &str)]) -> std::io::Result<()> {
    writeln!(w, "<?xml version=\"1.0\"?>")?;
    writeln!(
        w,
        "<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">"
    )?;
    writeln!(w, "<Collection>")?;
    for (t, f) in frames {
        writeln!(
            w,
            "<DataSet timestep=\"{t:e}\" group=\"\" part=\"0\" file=\"{}\"/>",
            xml_escape(f)
        )?;
    }
    writeln!(w, "</Collection>\n</VTKFile>")
}

// ---------------------------------------------------------------------------------------
// Reader

fn line_of(data: &[u8], pos: usize) -> usize {
    data.get(..pos.min(data.len()))
        .map_or(1, |d| d.iter().filter(|&&b| b == b'\n').count() + 1)
}

fn err_at(data: &[u8], pos: usize, msg: impl Into<String>) -> MeshError {
    MeshError::parse(Location::Line(line_of(data, pos)), msg)
}

fn find(data: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    let hay = data.get(from..)?;
    hay.windows(pat.len())
        .position(|w| w == pat)
        .map(|p| p + from)
}

struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
    /// Byte offset of `<`.
    start: usize,
    /// Byte offset just after `>`.
    end: usize,
    closing: bool,
    self_closing: bool,
}

impl Tag {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Parses the tag starting at `data[start] == b'<'` (not a comment/PI).
fn parse_tag(data: &[u8], start: usize) -> Result<Tag, MeshError> {
    let mut i = start + 1;
    let closing = data.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let ns = i;
    while data
        .get(i)
        .is_some_and(|b| !b.is_ascii_whitespace() && *b != b'>' && *b != b'/')
    {
        i += 1;
    }
    let name = String::from_utf8_lossy(data.get(ns..i).unwrap_or(&[])).into_owned();
    if name.is_empty() {
        return Err(err_at(data, start, "expected an element name after `<`"));
    }
    let mut attrs = Vec::new();
    loop {
        while data.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        match data.get(i) {
            None => return Err(err_at(data, start, format!("unterminated tag `<{name}`"))),
            Some(b'>') => {
                return Ok(Tag {
                    name,
                    attrs,
                    start,
                    end: i + 1,
                    closing,
                    self_closing: false,
                })
            }
            Some(b'/') if data.get(i + 1) == Some(&b'>') => {
                return Ok(Tag {
                    name,
                    attrs,
                    start,
                    end: i + 2,
                    closing,
                    self_closing: true,
                })
            }
            Some(_) => {
                let ks = i;
                while data
                    .get(i)
                    .is_some_and(|b| *b != b'=' && !b.is_ascii_whitespace() && *b != b'>')
                {
                    i += 1;
                }
                let key = String::from_utf8_lossy(data.get(ks..i).unwrap_or(&[])).into_owned();
                while data.get(i).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                if data.get(i) != Some(&b'=') {
                    return Err(err_at(
                        data,
                        i,
                        format!("expected `=` after attribute `{key}` in `<{name}>`"),
                    ));
                }
                i += 1;
                while data.get(i).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                let q = match data.get(i) {
                    Some(&q @ (b'"' | b'\'')) => q,
                    _ => {
                        return Err(err_at(
                            data,
                            i,
                            format!("expected a quoted value for attribute `{key}`"),
                        ))
                    }
                };
                let vs = i + 1;
                let ve = data
                    .get(vs..)
                    .and_then(|d| d.iter().position(|&b| b == q))
                    .map(|p| p + vs)
                    .ok_or_else(|| err_at(data, i, format!("unterminated value of `{key}`")))?;
                let val = unescape(&String::from_utf8_lossy(data.get(vs..ve).unwrap_or(&[])));
                attrs.push((key, val));
                i = ve + 1;
            }
        }
    }
}

struct Array {
    parent: String,
    name: String,
    ty: String,
    ncomp: usize,
    format: String,
    offset: usize,
    /// Inline text (ascii/binary).
    text: (usize, usize),
    /// Byte offset of the `<DataArray` tag.
    pos: usize,
}

fn type_size(ty: &str) -> Option<(usize, char)> {
    Some(match ty {
        "Int8" => (1, 'i'),
        "UInt8" => (1, 'u'),
        "Int16" => (2, 'i'),
        "UInt16" => (2, 'u'),
        "Int32" => (4, 'i'),
        "UInt32" => (4, 'u'),
        "Int64" => (8, 'i'),
        "UInt64" => (8, 'u'),
        "Float32" => (4, 'f'),
        "Float64" => (8, 'f'),
        _ => return None,
    })
}

fn decode_raw(bytes: &[u8], ty: &str, big_endian: bool) -> Option<Vec<f64>> {
    let (size, kind) = type_size(ty)?;
    let mut out = Vec::with_capacity(bytes.len() / size);
    for ch in bytes.chunks_exact(size) {
        let mut a = [0u8; 8];
        if big_endian {
            a[8 - size..].copy_from_slice(ch);
        } else {
            a[..size].copy_from_slice(ch);
        }
        let u = if big_endian {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        };
        out.push(match (kind, size) {
            ('f', 4) => f64::from(f32::from_bits(u as u32)),
            ('f', _) => f64::from_bits(u),
            ('u', _) => u as f64,
            (_, 1) => f64::from(u as u8 as i8),
            (_, 2) => f64::from(u as u16 as i16),
            (_, 4) => f64::from(u as u32 as i32),
            _ => u as i64 as f64,
        });
    }
    Some(out)
}

struct Ctx<'a> {
    data: &'a [u8],
    big_endian: bool,
    header64: bool,
    appended: Option<(usize, bool)>, // (start of data after '_', base64?)
}

impl Ctx<'_> {
    fn header_size(&self) -> usize {
        if self.header64 {
            8
        } else {
            4
        }
    }

    fn read_header(&self, b: &[u8]) -> Option<usize> {
        let h = self.header_size();
        let mut a = [0u8; 8];
        let src = b.get(..h)?;
        if self.big_endian {
            a[8 - h..].copy_from_slice(src);
            usize::try_from(u64::from_be_bytes(a)).ok()
        } else {
            a[..h].copy_from_slice(src);
            usize::try_from(u64::from_le_bytes(a)).ok()
        }
    }

    fn values(&self, a: &Array) -> Result<Vec<f64>, MeshError> {
        let data = self.data;
        let what = format!("DataArray `{}`", a.name);
        let (size, _) = type_size(&a.ty)
            .ok_or_else(|| err_at(data, a.pos, format!("{what}: unsupported type `{}`", a.ty)))?;
        let text = data.get(a.text.0..a.text.1).unwrap_or(&[]);
        match a.format.as_str() {
            "ascii" => {
                let mut out = Vec::with_capacity(text.len() / 2 + 1);
                for tok in text.split(u8::is_ascii_whitespace) {
                    if tok.is_empty() {
                        continue;
                    }
                    let v = std::str::from_utf8(tok)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok());
                    match v {
                        Some(v) => out.push(v),
                        None => {
                            let off =
                                (tok.as_ptr() as usize).saturating_sub(data.as_ptr() as usize);
                            return Err(err_at(
                                data,
                                off,
                                format!("{what}: expected a number, found `{}`", show(tok)),
                            ));
                        }
                    }
                }
                Ok(out)
            }
            "binary" => {
                let bytes = base64::decode(text).map_err(|off| {
                    err_at(data, a.text.0 + off, format!("{what}: invalid base64 data"))
                })?;
                let n = self.read_header(&bytes).ok_or_else(|| {
                    err_at(
                        data,
                        a.text.0,
                        format!("{what}: binary data shorter than its header"),
                    )
                })?;
                let body = bytes
                    .get(self.header_size()..)
                    .and_then(|b| b.get(..n))
                    .ok_or_else(|| {
                        err_at(
                            data,
                            a.text.0,
                            format!(
                                "{what}: header announces {n} bytes but only {} are present",
                                bytes.len().saturating_sub(self.header_size())
                            ),
                        )
                    })?;
                if n % size != 0 {
                    return Err(err_at(
                        data,
                        a.text.0,
                        format!("{what}: {n} bytes is not a multiple of the {size}-byte type"),
                    ));
                }
                decode_raw(body, &a.ty, self.big_endian)
                    .ok_or_else(|| err_at(data, a.pos, format!("{what}: bad type")))
            }
            "appended" => {
                let Some((start, b64)) = self.appended else {
                    return Err(err_at(
                        data,
                        a.pos,
                        format!("{what}: format=\"appended\" but no <AppendedData>"),
                    ));
                };
                let at = start.checked_add(a.offset).filter(|&p| p <= data.len());
                let at = at.ok_or_else(|| {
                    err_at(
                        data,
                        a.pos,
                        format!("{what}: offset {} beyond the file", a.offset),
                    )
                })?;
                let rest = data.get(at..).unwrap_or(&[]);
                let (n, body): (usize, Vec<u8>) = if b64 {
                    // Header then data, each encoded on its own (VTK) or together.
                    let hchars = self.header_size().div_ceil(3) * 4;
                    let hb = base64::decode(rest.get(..hchars).unwrap_or(rest)).map_err(|_| {
                        err_at(data, a.pos, format!("{what}: invalid base64 header"))
                    })?;
                    let n = self
                        .read_header(&hb)
                        .ok_or_else(|| err_at(data, a.pos, format!("{what}: truncated header")))?;
                    if n > rest.len() {
                        return Err(err_at(
                            data,
                            a.pos,
                            format!("{what}: header announces {n} bytes, more than the file holds"),
                        ));
                    }
                    let total = (self.header_size() + n).div_ceil(3) * 4;
                    let dchars = n.div_ceil(3) * 4;
                    let joint = rest.get(..total).and_then(|t| base64::decode(t).ok());
                    let body = match joint {
                        Some(b) if b.len() >= self.header_size() + n => b
                            .get(self.header_size()..self.header_size() + n)
                            .unwrap_or(&[])
                            .to_vec(),
                        _ => rest
                            .get(hchars..hchars + dchars)
                            .and_then(|t| base64::decode(t).ok())
                            .ok_or_else(|| {
                                err_at(data, a.pos, format!("{what}: truncated appended data"))
                            })?,
                    };
                    (n, body)
                } else {
                    let n = self.read_header(rest).ok_or_else(|| {
                        err_at(data, a.pos, format!("{what}: truncated appended header"))
                    })?;
                    let h = self.header_size();
                    let body = rest.get(h..).and_then(|r| r.get(..n)).ok_or_else(|| {
                        err_at(data, a.pos, format!("{what}: appended data truncated"))
                    })?;
                    (n, body.to_vec())
                };
                if n % size != 0 || body.len() < n {
                    return Err(err_at(
                        data,
                        a.pos,
                        format!("{what}: bad appended size {n}"),
                    ));
                }
                decode_raw(&body, &a.ty, self.big_endian)
                    .ok_or_else(|| err_at(data, a.pos, format!("{what}: bad type")))
            }
            f => Err(err_at(
                data,
                a.pos,
                format!("{what}: unsupported format `{f}`"),
            )),
        }
    }
}

/// Parses a VTK XML `.vtu` unstructured grid from memory.
///
/// Supports `format="ascii"`, `"binary"` (base64 inline, `UInt32` or `UInt64` header) and
/// `"appended"` (raw or base64), little or big endian, one `<Piece>`; compressed files
/// (`compressor=...`) are rejected with an error. Tets (cell type 10) become the mesh,
/// other cells are skipped and counted; the region comes from the CellData array `region`
/// (else `gmsh:physical`, `CellEntityIds`, `material`).
pub fn parse_vtu(data: &[u8]) -> Result<LoadedMesh, MeshError> {
    parse(data, false).map(|(mesh, _)| mesh)
}

/// A data array of a `.vtu` frame: its components per point or cell and the values
/// (as `f64`, point or cell after point or cell).
#[derive(Clone, Debug, PartialEq)]
pub struct DataArray {
    /// Components per point or cell (1 for scalars, 3 for vectors).
    pub components: usize,
    /// The values, `components` per point or cell.
    pub values: Vec<f64>,
}

/// A simulation output frame read back: the mesh (points at the frame's positions) and its
/// `PointData` and `CellData` arrays by name.
#[derive(Clone, Debug)]
pub struct VtuFrame {
    /// The mesh.
    pub mesh: TetMesh,
    /// Point arrays (`displacement`, `velocity` in Vesalius frames), one tuple per point.
    pub point_data: BTreeMap<String, DataArray>,
    /// Cell arrays (`region`, `green_strain`, `max_stretch`, `volume_ratio`), one tuple
    /// per tet.
    pub cell_data: BTreeMap<String, DataArray>,
}

/// Parses a `.vtu` with its data arrays, as [`parse_vtu`] does the mesh. Refused when it
/// has cells other than tets: the cell arrays would not line up with the tets.
pub fn parse_vtu_frame(data: &[u8]) -> Result<VtuFrame, MeshError> {
    let (loaded, arrays) = parse(data, true)?;
    if let Some((kind, n)) = loaded.skipped.iter().next() {
        return Err(MeshError::format(format!(
            "the frame has {n} {kind} cells besides its tets; its cell data cannot be matched to the tets"
        )));
    }
    let (point_data, cell_data) = arrays.expect("asked for");
    Ok(VtuFrame {
        mesh: loaded.mesh,
        point_data,
        cell_data,
    })
}

type FrameArrays = (BTreeMap<String, DataArray>, BTreeMap<String, DataArray>);

fn parse(data: &[u8], with_data: bool) -> Result<(LoadedMesh, Option<FrameArrays>), MeshError> {
    let mut ctx = Ctx {
        data,
        big_endian: false,
        header64: false,
        appended: None,
    };
    let mut arrays: Vec<Array> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut pieces = 0usize;
    let mut n_points: Option<usize> = None;
    let mut n_cells: Option<usize> = None;
    let mut names = BTreeMap::new();
    let mut seen_root = false;
    let mut i = 0usize;
    while let Some(lt) = data
        .get(i..)
        .and_then(|d| d.iter().position(|&b| b == b'<'))
        .map(|p| p + i)
    {
        let rest = data.get(lt..).unwrap_or(&[]);
        if rest.starts_with(b"<?") {
            i = find(data, lt, b"?>").ok_or_else(|| err_at(data, lt, "unterminated `<?`"))? + 2;
            continue;
        }
        if rest.starts_with(b"<!--") {
            let e = find(data, lt + 4, b"-->")
                .ok_or_else(|| err_at(data, lt, "unterminated comment"))?;
            let text = String::from_utf8_lossy(data.get(lt + 4..e).unwrap_or(&[])).into_owned();
            if names.is_empty() {
                names = decode_names(text.trim());
            }
            i = e + 3;
            continue;
        }
        if rest.starts_with(b"<!") {
            i = find(data, lt, b">").ok_or_else(|| err_at(data, lt, "unterminated `<!`"))? + 1;
            continue;
        }
        let tag = parse_tag(data, lt)?;
        i = tag.end;
        if tag.closing {
            match stack.pop() {
                Some(open) if open == tag.name => {}
                Some(open) => {
                    return Err(err_at(
                        data,
                        lt,
                        format!("expected `</{open}>`, found `</{}>`", tag.name),
                    ))
                }
                None => return Err(err_at(data, lt, format!("unexpected `</{}>`", tag.name))),
            }
            continue;
        }
        match tag.name.as_str() {
            "VTKFile" => {
                seen_root = true;
                if tag.attr("type") != Some("UnstructuredGrid") {
                    return Err(err_at(
                        data,
                        lt,
                        format!(
                            "expected type=\"UnstructuredGrid\", found {:?}",
                            tag.attr("type").unwrap_or("none")
                        ),
                    ));
                }
                ctx.big_endian = tag.attr("byte_order") == Some("BigEndian");
                ctx.header64 = match tag.attr("header_type") {
                    None | Some("UInt32") => false,
                    Some("UInt64") => true,
                    Some(h) => {
                        return Err(err_at(data, lt, format!("unsupported header_type `{h}`")))
                    }
                };
                if let Some(c) = tag.attr("compressor").filter(|c| !c.is_empty()) {
                    return Err(err_at(
                        data,
                        lt,
                        format!("compressed VTU ({c}) is not supported; save uncompressed"),
                    ));
                }
            }
            "Piece" => {
                pieces += 1;
                if pieces > 1 {
                    return Err(err_at(data, lt, "more than one <Piece> is not supported"));
                }
                let num = |k: &str| -> Result<usize, MeshError> {
                    tag.attr(k)
                        .and_then(|v| v.trim().parse().ok())
                        .ok_or_else(|| err_at(data, lt, format!("<Piece> needs an integer {k}")))
                };
                n_points = Some(num("NumberOfPoints")?);
                n_cells = Some(num("NumberOfCells")?);
            }
            "DataArray" => {
                let parent = stack.last().cloned().unwrap_or_default();
                let text_end = if tag.self_closing {
                    tag.end
                } else {
                    data.get(tag.end..)
                        .and_then(|d| d.iter().position(|&b| b == b'<'))
                        .map(|p| p + tag.end)
                        .ok_or_else(|| err_at(data, lt, "unterminated <DataArray>"))?
                };
                arrays.push(Array {
                    parent,
                    name: tag.attr("Name").unwrap_or("").to_string(),
                    ty: tag.attr("type").unwrap_or("").to_string(),
                    ncomp: tag
                        .attr("NumberOfComponents")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(1),
                    format: tag.attr("format").unwrap_or("ascii").to_string(),
                    offset: tag
                        .attr("offset")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0),
                    text: (tag.end, text_end),
                    pos: tag.start,
                });
                i = text_end;
            }
            "AppendedData" => {
                let b64 = tag.attr("encoding") != Some("raw");
                let us = data
                    .get(tag.end..)
                    .and_then(|d| d.iter().position(|&b| b == b'_'))
                    .map(|p| p + tag.end + 1)
                    .ok_or_else(|| err_at(data, lt, "<AppendedData> without `_` marker"))?;
                ctx.appended = Some((us, b64));
                // The rest may be raw bytes: stop scanning here.
                break;
            }
            _ => {}
        }
        if !tag.self_closing {
            stack.push(tag.name);
        }
    }
    if !seen_root {
        return Err(MeshError::format(
            "not a VTK XML file: no <VTKFile> element",
        ));
    }
    if ctx.appended.is_none() {
        if let Some(open) = stack.last() {
            return Err(err_at(
                data,
                data.len(),
                format!("file ends inside <{open}> (truncated?)"),
            ));
        }
    }
    let (Some(np), Some(nc)) = (n_points, n_cells) else {
        return Err(MeshError::format("no <Piece> element"));
    };
    let get = |parent: &str, name: Option<&str>| {
        arrays
            .iter()
            .find(|a| a.parent == parent && name.is_none_or(|n| a.name.eq_ignore_ascii_case(n)))
    };
    let pts = get("Points", None).ok_or_else(|| MeshError::format("no <Points> DataArray"))?;
    let points = ctx.values(pts)?;
    if points.len() != np * 3 || pts.ncomp != 3 {
        return Err(err_at(
            data,
            pts.pos,
            format!(
                "<Points> holds {} values ({} components); expected {} (3 x NumberOfPoints)",
                points.len(),
                pts.ncomp,
                np * 3
            ),
        ));
    }
    if let Some(i) = points.iter().position(|v| !v.is_finite()) {
        return Err(err_at(
            data,
            pts.pos,
            format!("<Points>: point {} has a non-finite coordinate", i / 3),
        ));
    }
    let cell_array = |n: &str| {
        get("Cells", Some(n)).ok_or_else(|| MeshError::format(format!("no Cells DataArray `{n}`")))
    };
    let conn_a = cell_array("connectivity")?;
    let off_a = cell_array("offsets")?;
    let types_a = cell_array("types")?;
    let int = |a: &Array, v: f64| -> Result<usize, MeshError> {
        if v >= 0.0 && v.fract() == 0.0 && v < 4.3e9 {
            Ok(v as usize)
        } else {
            Err(err_at(
                data,
                a.pos,
                format!(
                    "DataArray `{}`: expected a non-negative integer, found {v}",
                    a.name
                ),
            ))
        }
    };
    let conn = ctx
        .values(conn_a)?
        .into_iter()
        .map(|v| int(conn_a, v))
        .collect::<Result<Vec<_>, _>>()?;
    let mut offs = vec![0usize];
    for v in ctx.values(off_a)? {
        let o = int(off_a, v)?;
        if o > conn.len() || offs.last().is_some_and(|&p| o < p) {
            return Err(err_at(
                data,
                off_a.pos,
                format!(
                    "offset {o} is decreasing or beyond the connectivity ({})",
                    conn.len()
                ),
            ));
        }
        offs.push(o);
    }
    let types = ctx.values(types_a)?;
    if types.len() != nc || offs.len() != nc + 1 {
        return Err(err_at(
            data,
            types_a.pos,
            format!(
                "NumberOfCells is {nc} but there are {} types and {} offsets",
                types.len(),
                offs.len() - 1
            ),
        ));
    }
    let mut region = None;
    for want in REGION_FIELDS {
        if let Some(a) = get("CellData", Some(want)) {
            if a.ncomp == 1 {
                let v = ctx.values(a)?;
                if v.len() != nc {
                    return Err(err_at(
                        data,
                        a.pos,
                        format!(
                            "CellData `{}` has {} values for {nc} cells",
                            a.name,
                            v.len()
                        ),
                    ));
                }
                region = Some(v);
                break;
            }
        }
    }
    let (mut mesh, skipped) = assemble(&points, &offs, &conn, &types, region.as_deref())
        .map_err(|m| err_at(data, conn_a.pos, m))?;
    mesh.region_names = names;
    let frame = if with_data {
        let mut point_data = BTreeMap::new();
        let mut cell_data = BTreeMap::new();
        for a in &arrays {
            let (count, out) = match a.parent.as_str() {
                "PointData" => (np, &mut point_data),
                "CellData" => (nc, &mut cell_data),
                _ => continue,
            };
            let values = ctx.values(a)?;
            if values.len() != count * a.ncomp.max(1) {
                return Err(err_at(
                    data,
                    a.pos,
                    format!(
                        "{} `{}` has {} values for {count} tuples of {}",
                        a.parent,
                        a.name,
                        values.len(),
                        a.ncomp.max(1)
                    ),
                ));
            }
            out.insert(
                a.name.clone(),
                DataArray {
                    components: a.ncomp.max(1),
                    values,
                },
            );
        }
        Some((point_data, cell_data))
    } else {
        None
    };
    Ok((
        LoadedMesh {
            mesh,
            format: FileFormat::Vtu,
            skipped,
        },
        frame,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pvd_round_trips_and_every_prefix_is_an_error_or_a_prefix_of_the_frames() {
        let frames = [
            (0.0, "frame_00000.vtu"),
            (1.0 / 60.0, "a&b <c>.vtu"),
            (0.5, "f2.vtu"),
        ];
        let mut text = Vec::new();
        write_pvd(&mut text, &frames).unwrap();
        let back = parse_pvd(&text).unwrap();
        assert_eq!(back.len(), 3);
        for ((t, f), (bt, bf)) in frames.iter().zip(&back) {
            assert_eq!(t, bt);
            assert_eq!(*f, bf.as_str());
        }
        // Truncated files never panic; what they return is an error or the frames so far.
        for n in 0..text.len() {
            if let Ok(got) = parse_pvd(&text[..n]) {
                assert!(got.len() <= 3 && got.iter().zip(&back).all(|(a, b)| a == b));
            }
        }
        assert!(parse_pvd(b"<VTKFile type=\"UnstructuredGrid\"/>").is_err());
        assert!(parse_pvd(b"<VTKFile type=\"Collection\"><DataSet file=\"x\"/>").is_err());
        assert!(
            parse_pvd(b"<VTKFile type=\"Collection\"><DataSet timestep=\"nan\" file=\"x\"/>")
                .is_err()
        );
        assert!(parse_pvd(b"no xml at all").is_err());
    }
}
