//! Tetrahedral meshes: the in-memory [`TetMesh`], file formats (Gmsh, VTK, VTU, TetGen),
//! validation, element quality, surface extraction and procedural generators.
//!
//! | format | read | write |
//! |---|---|---|
//! | Gmsh `.msh` | v1, v2.2, v4.1; ASCII and binary (either endianness) | v2.2, v4.1; ASCII, binary |
//! | VTK legacy `.vtk` | `UNSTRUCTURED_GRID`, ASCII and binary, classic or 5.1 cells | 4.2 ASCII, binary |
//! | VTK XML `.vtu` | ascii, base64 inline, appended raw/base64; UInt32/UInt64 headers; no compression | base64 inline, UInt64 header |
//! | TetGen `.node`/`.ele` | 0- or 1-based, `#` comments, region attribute | 0-based, region attribute |
//!
//! Only linear tetrahedra are kept; other elements are skipped and counted
//! ([`LoadedMesh::skipped`]). All readers are hand-written (each module says why), never
//! panic on any input, never preallocate from an unchecked count, and return a
//! [`MeshError`] naming the file and the 1-based line (or the byte offset in binary data).
//! Formats without a place for region names (VTK, VTU, TetGen) keep them in a comment or
//! title line (`vesalius region_names: 1=skin;2=fat`) that the readers understand.
//!
//! ```
//! use vesalius_engine::mesh::{self, generate, ValidateOptions};
//! let mut m = generate::box_grid([2, 2, 2], [0.1, 0.1, 0.1], [0.0; 3]);
//! let report = mesh::validate(&mut m, &ValidateOptions::default()).unwrap();
//! assert!(report.errors.is_empty());
//! assert!((m.total_volume() - 1e-3).abs() < 1e-15);
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

mod base64;
mod cursor;
mod error;
pub mod generate;
mod info;
mod msh;
pub(crate) mod quality;
mod refine;
mod surface;
mod tetgen;
mod validate;
mod vtk;
pub mod vtu;

pub use error::{Location, MeshError};
pub use info::{BBoxInfo, MeshInfo, RegionInfo};
pub use msh::{parse_msh, write_msh, MshVersion};
pub use quality::{
    bounding_box, likely_units, quality, region_stats, signed_volume, tet_quality, LikelyUnits,
    QualitySummary, RegionStats, TetQuality,
};
pub use refine::refine;
pub use surface::boundary_triangles;
pub use tetgen::{parse_tetgen, write_tetgen};
pub use validate::{validate, Issue, IssueKind, ValidateOptions, ValidationReport};
pub use vtk::{parse_vtk, write_vtk};
pub use vtu::parse_vtu;

/// A region of a mesh: the tag its tets carry (a Gmsh physical tag, VTK `region` cell data,
/// a TetGen attribute), which materials, needle properties and reports are keyed by. The
/// tag is the region's identity in the file, so the number is public; the type keeps it
/// from being mixed up with counts and indices. `repr(transparent)`: a `&[RegionId]` is
/// a `&[i32]` for the GPU and numpy (`bytemuck::cast_slice`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    bytemuck::Pod,
    bytemuck::Zeroable,
    serde::Serialize,
    serde::Deserialize,
)]
#[repr(transparent)]
#[serde(transparent)]
pub struct RegionId(pub i32);

impl std::fmt::Display for RegionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A region compares equal to its tag, so that `mesh.regions == [1, 1, 2]` reads as written.
impl PartialEq<i32> for RegionId {
    fn eq(&self, tag: &i32) -> bool {
        self.0 == *tag
    }
}

impl std::str::FromStr for RegionId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(RegionId)
    }
}

impl From<i32> for RegionId {
    fn from(tag: i32) -> Self {
        RegionId(tag)
    }
}

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
    pub regions: Vec<RegionId>,
    /// Optional names of regions (Gmsh `$PhysicalNames`).
    pub region_names: BTreeMap<RegionId, String>,
}

impl TetMesh {
    /// Signed volume of tet `i` (positive when positively oriented); `None` if `i` or one
    /// of its indices is out of range.
    pub fn tet_volume(&self, i: usize) -> Option<f64> {
        let t = self.tets.get(i)?;
        let p = |k: usize| self.positions.get(t[k] as usize).copied();
        Some(signed_volume(p(0)?, p(1)?, p(2)?, p(3)?))
    }

    /// Centroid of tet `i`; `None` if `i` or one of its indices is out of range.
    pub fn tet_centroid(&self, i: usize) -> Option<[f64; 3]> {
        let t = self.tets.get(i)?;
        let mut c = [0.0; 3];
        for &v in t {
            for (ck, pk) in c.iter_mut().zip(self.positions.get(v as usize)?) {
                *ck += 0.25 * pk;
            }
        }
        Some(c)
    }

    /// Sum of the signed volumes of all tets (tets with bad indices count 0).
    pub fn total_volume(&self) -> f64 {
        (0..self.tets.len())
            .filter_map(|i| self.tet_volume(i))
            .sum()
    }

    /// Multiplies every coordinate by `s` (e.g. 0.001 for millimetres to metres).
    pub fn scale(&mut self, s: f64) {
        for p in &mut self.positions {
            for v in p {
                *v *= s;
            }
        }
    }

    /// Removes vertices no tet references and renumbers the tets. Returns the map from old
    /// vertex index to new index (`None` for removed vertices). Out-of-range tet indices
    /// are left untouched (validate first).
    pub fn remove_unreferenced(&mut self) -> Vec<Option<u32>> {
        let n = self.positions.len();
        let mut used = vec![false; n];
        for &i in self.tets.iter().flatten() {
            if let Some(u) = used.get_mut(i as usize) {
                *u = true;
            }
        }
        let mut map = vec![None; n];
        let mut next = 0u32;
        let mut kept = Vec::with_capacity(n);
        for (i, p) in self.positions.iter().enumerate() {
            if used[i] {
                map[i] = Some(next);
                kept.push(*p);
                next += 1;
            }
        }
        for t in &mut self.tets {
            for v in t.iter_mut() {
                if let Some(Some(new)) = map.get(*v as usize) {
                    *v = *new;
                }
            }
        }
        self.positions = kept;
        map
    }

    /// Name of region `r`, if known.
    pub fn region_name(&self, r: RegionId) -> Option<&str> {
        self.region_names.get(&r).map(String::as_str)
    }
}

/// The file format a mesh was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum FileFormat {
    /// Gmsh `.msh`.
    Msh {
        /// Format version.
        version: MshVersion,
        /// Binary (`file-type` 1).
        binary: bool,
    },
    /// VTK legacy `.vtk`.
    Vtk {
        /// `BINARY` rather than `ASCII`.
        binary: bool,
    },
    /// VTK XML `.vtu`.
    Vtu,
    /// TetGen `.node` + `.ele`.
    TetGen,
}

impl std::fmt::Display for FileFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = |b: bool| if b { "binary" } else { "ASCII" };
        match self {
            FileFormat::Msh { version, binary } => {
                let v = match version {
                    MshVersion::V1 => "1",
                    MshVersion::V22 => "2.2",
                    MshVersion::V41 => "4.1",
                };
                write!(f, "Gmsh MSH {v} {}", b(*binary))
            }
            FileFormat::Vtk { binary } => write!(f, "VTK legacy {}", b(*binary)),
            FileFormat::Vtu => write!(f, "VTK XML (vtu)"),
            FileFormat::TetGen => write!(f, "TetGen node/ele"),
        }
    }
}

/// A mesh as read from a file, with what the reader skipped.
#[derive(Clone, Debug)]
pub struct LoadedMesh {
    /// The tetrahedral mesh.
    pub mesh: TetMesh,
    /// The format it was read from.
    pub format: FileFormat,
    /// Elements that are not linear tets, skipped: element kind -> count.
    pub skipped: BTreeMap<String, usize>,
}

/// Options for [`load`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadOptions {
    /// Factor applied to all coordinates (0.001 for a mesh in millimetres). Default 1.
    pub scale: f64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { scale: 1.0 }
    }
}

/// Options for [`save_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaveOptions {
    /// Gmsh version for `.msh`; `None`: 2.2 if the name ends in `_v22.msh`, else 4.1.
    pub msh_version: Option<MshVersion>,
    /// Binary output for `.msh` and `.vtk` (`.vtu` is always base64 binary).
    pub binary: bool,
}

/// Mesh file kinds recognised by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ext {
    Msh,
    Vtk,
    Vtu,
    TetGen,
}

fn ext_of(path: &Path) -> Result<Ext, MeshError> {
    let e = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match e.as_deref() {
        Some("msh") => Ok(Ext::Msh),
        Some("vtk") => Ok(Ext::Vtk),
        Some("vtu") => Ok(Ext::Vtu),
        Some("node") | Some("ele") => Ok(Ext::TetGen),
        _ => Err(MeshError::Format {
            file: path.display().to_string(),
            msg: "unknown mesh format: expected extension .msh, .vtk, .vtu, .node or .ele".into(),
        }),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, MeshError> {
    std::fs::read(path).map_err(|e| MeshError::io(path, e))
}

/// Loads a mesh, choosing the format by extension (`.msh` version sniffed; for TetGen
/// either `.node` or `.ele` may be given, the sibling is found), and applies the scale.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<TetMesh, MeshError> {
    load_detailed(path, opts).map(|l| l.mesh)
}

/// Like [`load`], also returning the format and the skipped (non-tet) elements.
pub fn load_detailed(path: &Path, opts: &LoadOptions) -> Result<LoadedMesh, MeshError> {
    if !(opts.scale.is_finite() && opts.scale > 0.0) {
        return Err(MeshError::Format {
            file: path.display().to_string(),
            msg: format!("scale must be a positive finite number, got {}", opts.scale),
        });
    }
    let name = path.display().to_string();
    let mut loaded = match ext_of(path)? {
        Ext::Msh => parse_msh(&read(path)?).map_err(|e| e.with_file(&name))?,
        Ext::Vtk => parse_vtk(&read(path)?).map_err(|e| e.with_file(&name))?,
        Ext::Vtu => parse_vtu(&read(path)?).map_err(|e| e.with_file(&name))?,
        Ext::TetGen => {
            let node = path.with_extension("node");
            let ele = path.with_extension("ele");
            let nd = read(&node)?;
            let el = read(&ele)?;
            parse_tetgen(&nd, &el).map_err(|e| match &e {
                MeshError::Parse { file, .. } | MeshError::Format { file, .. }
                    if file == "<node input>" =>
                {
                    e.with_file(&node.display().to_string())
                }
                _ => e.with_file(&ele.display().to_string()),
            })?
        }
    };
    if opts.scale != 1.0 {
        loaded.mesh.scale(opts.scale);
    }
    Ok(loaded)
}

/// Saves a mesh, choosing the format by extension: `.msh` (Gmsh 4.1 ASCII, or 2.2 when
/// the name ends in `_v22.msh`), `.vtk` (legacy ASCII), `.vtu` (XML, base64 binary),
/// `.node`/`.ele` (TetGen, both files written). Region tags and names are kept.
pub fn save(path: &Path, mesh: &TetMesh) -> Result<(), MeshError> {
    save_with(path, mesh, &SaveOptions::default())
}

fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, MeshError> {
    std::fs::File::create(path)
        .map(std::io::BufWriter::new)
        .map_err(|e| MeshError::io(path, e))
}

fn finish(path: &Path, r: std::io::Result<()>, mut w: impl Write) -> Result<(), MeshError> {
    r.and_then(|()| w.flush())
        .map_err(|e| MeshError::io(path, e))
}

/// [`save`] with explicit options (Gmsh version, binary).
pub fn save_with(path: &Path, mesh: &TetMesh, opts: &SaveOptions) -> Result<(), MeshError> {
    match ext_of(path)? {
        Ext::Msh => {
            let v22 = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.to_ascii_lowercase().ends_with("_v22.msh"));
            let version = opts.msh_version.unwrap_or(if v22 {
                MshVersion::V22
            } else {
                MshVersion::V41
            });
            let mut w = create(path)?;
            let r = write_msh(&mut w, mesh, version, opts.binary);
            finish(path, r, w)
        }
        Ext::Vtk => {
            let mut w = create(path)?;
            let r = write_vtk(&mut w, mesh, opts.binary);
            finish(path, r, w)
        }
        Ext::Vtu => {
            let mut w = create(path)?;
            let r = vtu::write_mesh(&mut w, mesh);
            finish(path, r, w)
        }
        Ext::TetGen => {
            let node: PathBuf = path.with_extension("node");
            let ele: PathBuf = path.with_extension("ele");
            let mut wn = create(&node)?;
            let mut we = create(&ele)?;
            let r = write_tetgen(&mut wn, &mut we, mesh);
            finish(&node, r, wn)?;
            finish(&ele, Ok(()), we)
        }
    }
}

/// The files [`save`] writes for `path` (two for TetGen).
pub fn output_files(path: &Path) -> Vec<PathBuf> {
    match ext_of(path) {
        Ok(Ext::TetGen) => vec![path.with_extension("node"), path.with_extension("ele")],
        _ => vec![path.to_path_buf()],
    }
}

const NAMES_PREFIX: &str = "vesalius region_names:";

/// `vesalius region_names: 1=skin;2=fat` (used where a format has no place for names).
/// Names are kept exactly: `%`, `;`, `=`, `-` (an XML comment may not hold `--`), control
/// characters and spaces at either end are written as `%XX` (UTF-8 bytes in hex).
pub(crate) fn encode_names(names: &BTreeMap<RegionId, String>) -> String {
    let list: Vec<String> = names
        .iter()
        .map(|(k, v)| {
            let last = v.chars().count().saturating_sub(1);
            let mut clean = String::with_capacity(v.len());
            for (i, c) in v.chars().enumerate() {
                let end_space = c.is_whitespace() && (i == 0 || i == last);
                if matches!(c, '%' | ';' | '=' | '-') || c.is_control() || end_space {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        clean.push_str(&format!("%{b:02X}"));
                    }
                } else {
                    clean.push(c);
                }
            }
            format!("{k}={clean}")
        })
        .collect();
    format!("{NAMES_PREFIX} {}", list.join(";"))
}

/// The names [`encode_names`] wrote (a `%` not followed by two hex digits is kept as it is).
pub(crate) fn decode_names(s: &str) -> BTreeMap<RegionId, String> {
    let mut m = BTreeMap::new();
    if let Some(rest) = s.trim().strip_prefix(NAMES_PREFIX) {
        for item in rest.split(';') {
            if let Some((k, v)) = item.split_once('=') {
                if let Ok(k) = k.trim().parse() {
                    m.insert(k, unescape(v.trim()));
                }
            }
        }
    }
    m
}

fn unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(x)) => {
                out.push(x);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
