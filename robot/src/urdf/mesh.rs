//! Mesh URIs (`package://`, `file://`, relative paths) and mesh files (STL, OBJ, COLLADA).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rapier3d::na::{Point3, Vector3};

use crate::error::{Result, RobotError};
use crate::model::MeshData;

/// Where `package://NAME/...` URIs are looked for, besides the explicit package roots.
///
/// Resolution order for `package://NAME/rest`:
/// 1. every explicit root registered for `NAME` (`ROOT/rest`);
/// 2. for the URDF's folder and each of its parents `D`: `D/NAME/rest`, and `D/rest` when
///    `D` itself is named `NAME`;
/// 3. for every extra search folder `S`: `S/NAME/rest` and `S/rest`.
///
/// `package:///rest` (empty package name) tries `D/rest` for the URDF's folder and its
/// parents, then the search folders. `file://` URIs are absolute paths (or relative to the
/// URDF's folder when relative); plain paths are relative to the URDF's folder.
/// `%20`-style escapes are decoded, and names containing spaces are used as they are.
#[derive(Clone, Debug, Default)]
pub struct PackageResolver {
    /// Explicit `(package name, root folder)` pairs.
    pub roots: Vec<(String, PathBuf)>,
    /// Extra folders searched for any package.
    pub search_dirs: Vec<PathBuf>,
    /// Whether to search the URDF's folder and its parents (default: true when built with
    /// [`PackageResolver::new`]).
    pub search_urdf_parents: bool,
}

impl PackageResolver {
    /// A resolver searching the URDF's folder and its parents only.
    pub fn new() -> Self {
        PackageResolver {
            roots: Vec::new(),
            search_dirs: Vec::new(),
            search_urdf_parents: true,
        }
    }

    /// Registers the root folder of a package.
    pub fn with_package(mut self, name: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        self.roots.push((name.into(), root.into()));
        self
    }

    /// Adds a folder searched for every package.
    pub fn with_search_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.search_dirs.push(dir.into());
        self
    }

    /// Lists the candidate paths of a mesh URI, in the order they are tried.
    pub fn candidates(&self, uri: &str, urdf_dir: Option<&Path>) -> Vec<PathBuf> {
        let parents: Vec<&Path> = match (urdf_dir, self.search_urdf_parents) {
            (Some(d), true) => d.ancestors().collect(),
            (Some(d), false) => vec![d],
            (None, _) => Vec::new(),
        };
        let mut out = Vec::new();
        if let Some(rest) = uri.strip_prefix("package://") {
            let rest = percent_decode(rest);
            let (pkg, path) = match rest.split_once('/') {
                Some((p, r)) => (p.to_string(), r.trim_start_matches('/').to_string()),
                None => (String::new(), rest.clone()),
            };
            if pkg.is_empty() {
                for d in &parents {
                    out.push(d.join(&path));
                }
                for s in &self.search_dirs {
                    out.push(s.join(&path));
                }
            } else {
                for (name, root) in &self.roots {
                    if *name == pkg {
                        out.push(root.join(&path));
                    }
                }
                for d in &parents {
                    out.push(d.join(&pkg).join(&path));
                    if d.file_name().is_some_and(|n| n.to_string_lossy() == pkg) {
                        out.push(d.join(&path));
                    }
                }
                for s in &self.search_dirs {
                    out.push(s.join(&pkg).join(&path));
                    out.push(s.join(&path));
                }
            }
        } else if let Some(rest) = uri.strip_prefix("file://") {
            let p = PathBuf::from(percent_decode(rest));
            if p.is_absolute() {
                out.push(p);
            } else if let Some(d) = urdf_dir {
                out.push(d.join(p));
            } else {
                out.push(p);
            }
        } else {
            let p = PathBuf::from(uri);
            if p.is_absolute() {
                out.push(p);
            } else {
                if let Some(d) = urdf_dir {
                    out.push(d.join(&p));
                    let decoded = PathBuf::from(percent_decode(uri));
                    if decoded != p {
                        out.push(d.join(decoded));
                    }
                }
                for s in &self.search_dirs {
                    out.push(s.join(&p));
                }
                if urdf_dir.is_none() {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Resolves a mesh URI to an existing file, or returns the candidates that were tried.
    pub fn resolve(
        &self,
        uri: &str,
        urdf_dir: Option<&Path>,
    ) -> std::result::Result<PathBuf, Vec<PathBuf>> {
        let candidates = self.candidates(uri, urdf_dir);
        match candidates.iter().find(|p| p.is_file()) {
            Some(p) => Ok(p.clone()),
            None => Err(candidates),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Loads a mesh file (STL, OBJ or COLLADA, chosen by extension), merges its sub-meshes and
/// applies `scale`. COLLADA `<unit>` is honoured; `<up_axis>` is not applied (URDF visual
/// origins already account for it, as rviz does).
pub fn load_mesh(link: &str, path: &Path, scale: &Vector3<f64>) -> Result<Arc<MeshData>> {
    let err = |message: String| RobotError::MeshLoad {
        link: link.to_string(),
        path: path.to_path_buf(),
        message,
    };
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let loader = mesh_loader::Loader::default();
    let scene = match ext.as_str() {
        "stl" => loader.load_stl(path),
        "obj" => loader.load_obj(path),
        "dae" => loader.load_collada(path),
        other => {
            return Err(err(format!(
                "unsupported mesh format '.{other}' (supported: .stl, .obj, .dae)"
            )))
        }
    }
    .map_err(|e| err(e.to_string()))?;
    let mut vertices = Vec::new();
    let mut triangles = Vec::new();
    for mesh in &scene.meshes {
        let base = vertices.len() as u32;
        for v in &mesh.vertices {
            let p = Point3::new(
                (v[0] as f64 * scale.x) as f32,
                (v[1] as f64 * scale.y) as f32,
                (v[2] as f64 * scale.z) as f32,
            );
            if !(p.x.is_finite() && p.y.is_finite() && p.z.is_finite()) {
                return Err(err("mesh has a non-finite vertex".into()));
            }
            vertices.push(p);
        }
        for f in &mesh.faces {
            if f.iter().any(|&i| i as usize >= mesh.vertices.len()) {
                return Err(err("face index out of range".into()));
            }
            triangles.push([f[0] + base, f[1] + base, f[2] + base]);
        }
    }
    if triangles.is_empty() {
        return Err(err("mesh holds no triangle".into()));
    }
    Ok(Arc::new(MeshData {
        vertices,
        triangles,
    }))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b.stl"), "a b.stl");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("x%2"), "x%2");
    }

    #[test]
    fn package_candidates() {
        let r = PackageResolver::new().with_package("pkg", "/opt/pkg");
        let c = r.candidates("package://pkg/meshes/a.stl", Some(Path::new("/r/u")));
        assert_eq!(c[0], PathBuf::from("/opt/pkg/meshes/a.stl"));
        assert!(c.contains(&PathBuf::from("/r/u/pkg/meshes/a.stl")));
        assert!(c.contains(&PathBuf::from("/r/pkg/meshes/a.stl")));
        let c = r.candidates("package:///meshes/a.stl", Some(Path::new("/r/u")));
        assert_eq!(c[0], PathBuf::from("/r/u/meshes/a.stl"));
        let c = r.candidates("file:///abs/my%20mesh.stl", Some(Path::new("/r/u")));
        assert_eq!(c, vec![PathBuf::from("/abs/my mesh.stl")]);
    }
}
