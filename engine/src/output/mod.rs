//! Results out: ParaView time series (`.vtu` frames + `.pvd` index) with displacement,
//! velocity, per-tet strain and region, and the per-tet strain measures themselves.

// Index loops over vertices, lanes and matrix entries mirror the WGSL kernels and the math.
#![allow(clippy::needless_range_loop)]

use crate::mesh::vtu::{self, Field};
use crate::model::{Model, State};
use crate::solver::deformation;
use rayon::prelude::*;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Errors writing results (one message each: see
/// [`SceneError`](crate::scene::SceneError) for the rule).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output directory already holds results and overwriting was not allowed.
    #[error(
        "{0} already contains results ({1}); choose another --out or pass --force to overwrite"
    )]
    Exists(String, String),
    /// I/O failure.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error (in the message, so not a `source`).
        error: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |error| OutputError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// Per-tet strain measures of a state.
#[derive(Clone, Debug, Default)]
pub struct TetStrain {
    /// Frobenius norm of the Green-Lagrange strain E = (F^T F - I) / 2.
    pub green_strain: Vec<f32>,
    /// Largest principal stretch sqrt(max eig(F^T F)).
    pub max_stretch: Vec<f32>,
    /// det F (current / rest volume).
    pub volume_ratio: Vec<f32>,
}

/// Largest eigenvalue of a symmetric 3x3 matrix (trigonometric closed form).
fn max_eigenvalue(a: [[f64; 3]; 3]) -> f64 {
    let p1 = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
    let q = (a[0][0] + a[1][1] + a[2][2]) / 3.0;
    if p1 <= 1e-30 * (q * q).max(1e-300) {
        return a[0][0].max(a[1][1]).max(a[2][2]);
    }
    let p2 = (a[0][0] - q).powi(2) + (a[1][1] - q).powi(2) + (a[2][2] - q).powi(2) + 2.0 * p1;
    let p = (p2 / 6.0).sqrt();
    let b = |i: usize, j: usize| (a[i][j] - if i == j { q } else { 0.0 }) / p;
    let det_b = b(0, 0) * (b(1, 1) * b(2, 2) - b(1, 2) * b(2, 1))
        - b(0, 1) * (b(1, 0) * b(2, 2) - b(1, 2) * b(2, 0))
        + b(0, 2) * (b(1, 0) * b(2, 1) - b(1, 1) * b(2, 0));
    let r = (det_b / 2.0).clamp(-1.0, 1.0);
    q + 2.0 * p * (r.acos() / 3.0).cos()
}

/// Strain measures of every tet (model order).
pub fn tet_strain(model: &Model, state: &State) -> TetStrain {
    let per: Vec<(f32, f32, f32)> = (0..model.num_tets())
        .into_par_iter()
        .with_min_len(1024)
        .map(|t| {
            let u = model.tets[t].map(|v| state.displacements[v as usize]);
            let f = deformation(&u, &model.rest[t]).map(|c| c.map(|x| x as f64));
            // C = F^T F from columns: C_ij = f_i . f_j
            let mut c = [[0.0f64; 3]; 3];
            for i in 0..3 {
                for j in 0..3 {
                    c[i][j] = f[i][0] * f[j][0] + f[i][1] * f[j][1] + f[i][2] * f[j][2];
                }
            }
            let mut e2 = 0.0;
            for i in 0..3 {
                for j in 0..3 {
                    let e = 0.5 * (c[i][j] - if i == j { 1.0 } else { 0.0 });
                    e2 += e * e;
                }
            }
            let j = f[0][0] * (f[1][1] * f[2][2] - f[1][2] * f[2][1])
                - f[1][0] * (f[0][1] * f[2][2] - f[0][2] * f[2][1])
                + f[2][0] * (f[0][1] * f[1][2] - f[0][2] * f[1][1]);
            (
                e2.sqrt() as f32,
                max_eigenvalue(c).max(0.0).sqrt() as f32,
                j as f32,
            )
        })
        .collect();
    TetStrain {
        green_strain: per.iter().map(|p| p.0).collect(),
        max_stretch: per.iter().map(|p| p.1).collect(),
        volume_ratio: per.iter().map(|p| p.2).collect(),
    }
}

/// Writes a ParaView time series into a directory: `frame_00000.vtu`, ... and `tissue.pvd`.
pub struct FrameWriter {
    dir: PathBuf,
    frames: Vec<(f64, String)>,
    /// Cell arrays of the mesh, encoded once for the whole series (on the first frame).
    encoder: Option<vtu::FrameWriter>,
    /// Vertices held by a tool or the world ([`FrameWriter::set_attached`]).
    attached: Vec<u32>,
}

/// Values of the point array `fixed` of every frame: what holds each vertex.
pub mod fixed {
    /// Free.
    pub const FREE: i32 = 0;
    /// Pinned in place (the model's pins).
    pub const PINNED: i32 = 1;
    /// Attached to a tool body or the world (a co-simulation's attachments).
    pub const ATTACHED: i32 = 2;
}

/// A writer that only counts the bytes (for [`FrameWriter::frame_bytes`]).
struct ByteCount(u64);

impl Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Name of the `.pvd` index the writer produces.
pub const PVD_NAME: &str = "tissue.pvd";

impl FrameWriter {
    /// Creates (or reuses) `dir`. Refuses a directory that already holds Vesalius results
    /// (a `.pvd`, frames or `summary.json`) unless `overwrite`, so nothing is lost silently.
    pub fn create(dir: &Path, overwrite: bool) -> Result<Self, OutputError> {
        if dir.exists() {
            let existing: Vec<String> = std::fs::read_dir(dir)
                .map_err(io(dir))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".pvd") || n.ends_with(".vtu") || n == "summary.json")
                .collect();
            if !existing.is_empty() && !overwrite {
                let mut shown = existing.clone();
                shown.sort();
                shown.truncate(3);
                return Err(OutputError::Exists(
                    dir.display().to_string(),
                    shown.join(", "),
                ));
            }
            if overwrite {
                for n in existing {
                    let p = dir.join(n);
                    std::fs::remove_file(&p).map_err(io(&p))?;
                }
            }
        } else {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            frames: Vec::new(),
            encoder: None,
            attached: Vec::new(),
        })
    }

    /// Marks `vertices` as attached to tools in the `fixed` array of the frames written from
    /// now on (a co-simulation's attachments, [`crate::contact::Contacts::attached_vertices`]).
    pub fn set_attached(&mut self, vertices: Vec<u32>) {
        self.attached = vertices;
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one frame: points at the current positions with `displacement`, `velocity` and
    /// `fixed` (what holds each vertex: [`fixed::FREE`], [`fixed::PINNED`],
    /// [`fixed::ATTACHED`]); cells with `region`, `green_strain`, `max_stretch` and
    /// `volume_ratio`.
    pub fn write_frame(&mut self, model: &Model, state: &State) -> Result<PathBuf, OutputError> {
        let name = format!("frame_{:05}.vtu", self.frames.len());
        let path = self.dir.join(&name);
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        self.encode(model, state, BufWriter::new(file))
            .map_err(io(&path))?;
        self.frames.push((state.time, name));
        self.write_pvd()?;
        Ok(path)
    }

    /// The size in bytes of a frame of `state` as [`FrameWriter::write_frame`] would write
    /// it (encoded, nothing written), to check a run's output against the free disk space
    /// before it starts.
    pub fn frame_bytes(&mut self, model: &Model, state: &State) -> Result<u64, OutputError> {
        let mut count = ByteCount(0);
        self.encode(model, state, &mut count)
            .map_err(io(&self.dir))?;
        Ok(count.0)
    }

    fn encode(&mut self, model: &Model, state: &State, w: impl Write) -> std::io::Result<()> {
        let strain = tet_strain(model, state);
        let positions = state.positions(model);
        if self.encoder.is_none() {
            self.encoder = Some(vtu::FrameWriter::new(model.num_vertices(), &model.tets)?);
        }
        let encoder = self.encoder.as_ref().expect("set above");
        let mut held = vec![fixed::FREE; model.num_vertices()];
        for (list, value) in [
            (&model.pinned, fixed::PINNED),
            (&self.attached, fixed::ATTACHED),
        ] {
            for &v in list.iter() {
                if let Some(h) = held.get_mut(v as usize) {
                    *h = value;
                }
            }
        }
        encoder.write(
            w,
            &positions,
            &[
                ("displacement", Field::Vec3(&state.displacements)),
                ("velocity", Field::Vec3(&state.velocities)),
                ("fixed", Field::I32(&held)),
            ],
            &[
                (
                    "region",
                    Field::I32(bytemuck::cast_slice(&model.tet_region)),
                ),
                ("green_strain", Field::F32(&strain.green_strain)),
                ("max_stretch", Field::F32(&strain.max_stretch)),
                ("volume_ratio", Field::F32(&strain.volume_ratio)),
            ],
        )
    }

    /// Number of frames written.
    pub fn frames_written(&self) -> usize {
        self.frames.len()
    }

    /// (Re)writes the `.pvd` index; called after every frame so a run stopped early still
    /// leaves a readable series.
    fn write_pvd(&self) -> Result<(), OutputError> {
        let path = self.dir.join(PVD_NAME);
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let frames: Vec<(f64, &str)> = self.frames.iter().map(|(t, n)| (*t, n.as_str())).collect();
        vtu::write_pvd(BufWriter::new(file), &frames).map_err(io(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::max_eigenvalue;

    #[test]
    fn eigenvalue_of_known_matrices() {
        assert!(
            (max_eigenvalue([[2.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 1.0]]) - 5.0).abs()
                < 1e-12
        );
        // [[2,1,0],[1,2,0],[0,0,1]] has eigenvalues 3, 1, 1.
        assert!(
            (max_eigenvalue([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 1.0]]) - 3.0).abs()
                < 1e-12
        );
    }
}
