//! Mesh validation: can this mesh be simulated as is?

use super::error::MeshError;
use super::quality::{bounding_box, likely_units, mean_edge, signed_volume, LikelyUnits};
use super::TetMesh;

/// Options for [`validate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValidateOptions {
    /// Make inverted tets positive by swapping their last two vertices (default true).
    /// When false, inverted tets are errors.
    pub fix_orientation: bool,
    /// A tet is degenerate when `|6 V| <= degenerate_rel_tol * (mean edge length)^3`
    /// (relative to the tet's own size, no absolute epsilon). Default 1e-9.
    pub degenerate_rel_tol: f64,
    /// Warn about units when the bounding-box diagonal exceeds this many units. Default 3.
    pub max_metres_diagonal: f64,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            fix_orientation: true,
            degenerate_rel_tol: 1e-9,
            max_metres_diagonal: 3.0,
        }
    }
}

/// Machine-readable kind of a validation problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// The mesh has no tets (error).
    NoTets,
    /// `regions.len() != tets.len()` (error).
    RegionCountMismatch,
    /// A tet index is `>= positions.len()` (error).
    IndexOutOfRange,
    /// A tet uses the same vertex twice (error).
    RepeatedVertex,
    /// A vertex has a NaN or infinite coordinate (error).
    NonFiniteCoordinate,
    /// A tet has (near) zero volume relative to its size (error).
    DegenerateTet,
    /// Tets with negative volume: fixed (warning) or not (error).
    InvertedTets,
    /// Vertices no tet uses (warning; see [`TetMesh::remove_unreferenced`]).
    UnreferencedVertices,
    /// The mesh is too large to be in metres (warning; suggests `--scale`).
    Units,
}

/// One problem found by [`validate`], aggregated over all its occurrences.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Issue {
    /// What kind of problem.
    pub kind: IssueKind,
    /// Human-readable description naming the first offending tet or vertex.
    pub message: String,
    /// Number of occurrences (tets or vertices).
    pub count: usize,
    /// Index of the first offending tet or vertex, if any.
    pub first: Option<usize>,
}

/// Result of [`validate`]: errors (cannot simulate) and warnings, separately.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ValidationReport {
    /// Problems that prevent simulation.
    pub errors: Vec<Issue>,
    /// Problems that were fixed or that the user should know about.
    pub warnings: Vec<Issue>,
    /// Number of inverted tets whose orientation was fixed.
    pub flipped: usize,
    /// Number of unreferenced vertices.
    pub unreferenced: usize,
    /// Guessed length unit.
    pub likely_units: LikelyUnits,
}

impl ValidationReport {
    /// True when there is no error.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

struct Acc {
    kind: IssueKind,
    count: usize,
    first: Option<(usize, String)>,
}

impl Acc {
    fn new(kind: IssueKind) -> Self {
        Acc {
            kind,
            count: 0,
            first: None,
        }
    }
    fn add(&mut self, i: usize, msg: impl FnOnce() -> String) {
        if self.first.is_none() {
            self.first = Some((i, msg()));
        }
        self.count += 1;
    }
    fn issue(self) -> Option<Issue> {
        let (i, msg) = self.first?;
        let message = if self.count > 1 {
            format!("{msg} (and {} more)", self.count - 1)
        } else {
            msg
        };
        Some(Issue {
            kind: self.kind,
            message,
            count: self.count,
            first: Some(i),
        })
    }
}

/// Checks that a mesh can be simulated; fixes inverted tets if asked.
///
/// Errors (returned as [`MeshError::Invalid`] with the full report; the mesh is then left
/// unchanged): no tets, region count mismatch, out-of-range indices, a vertex repeated in
/// a tet, NaN/infinite coordinates, degenerate tets (relative test, see
/// [`ValidateOptions::degenerate_rel_tol`]), inverted tets when not fixing. Warnings:
/// inverted tets fixed, unreferenced vertices, a size that looks like cm/mm.
pub fn validate(mesh: &mut TetMesh, opts: &ValidateOptions) -> Result<ValidationReport, MeshError> {
    let n = mesh.positions.len();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    if mesh.tets.is_empty() {
        errors.push(Issue {
            kind: IssueKind::NoTets,
            message: "the mesh has no tetrahedra (were they skipped as another element type?)"
                .into(),
            count: 0,
            first: None,
        });
    }
    if mesh.regions.len() != mesh.tets.len() {
        errors.push(Issue {
            kind: IssueKind::RegionCountMismatch,
            message: format!(
                "{} region tags for {} tets",
                mesh.regions.len(),
                mesh.tets.len()
            ),
            count: 1,
            first: None,
        });
    }
    let mut nonfinite = Acc::new(IssueKind::NonFiniteCoordinate);
    for (i, p) in mesh.positions.iter().enumerate() {
        if !p.iter().all(|v| v.is_finite()) {
            nonfinite.add(i, || {
                format!("vertex {i} has a non-finite coordinate {p:?}")
            });
        }
    }
    let mut oob = Acc::new(IssueKind::IndexOutOfRange);
    let mut rep = Acc::new(IssueKind::RepeatedVertex);
    let mut degen = Acc::new(IssueKind::DegenerateTet);
    let mut inv = Acc::new(IssueKind::InvertedTets);
    let mut flips = Vec::new();
    let mut used = vec![false; n];
    for (ti, t) in mesh.tets.iter().enumerate() {
        if let Some(&bad) = t.iter().find(|&&v| v as usize >= n) {
            oob.add(ti, || {
                format!("tet {ti} references vertex {bad}, but there are only {n} vertices")
            });
            continue;
        }
        for &v in t {
            used[v as usize] = true;
        }
        if (0..4).any(|a| (a + 1..4).any(|b| t[a] == t[b])) {
            rep.add(ti, || format!("tet {ti} uses a vertex twice: {t:?}"));
            continue;
        }
        let p = [
            mesh.positions[t[0] as usize],
            mesh.positions[t[1] as usize],
            mesh.positions[t[2] as usize],
            mesh.positions[t[3] as usize],
        ];
        if !p.iter().flatten().all(|v| v.is_finite()) {
            continue; // reported as a vertex error
        }
        let v6 = 6.0 * signed_volume(p[0], p[1], p[2], p[3]);
        let h = mean_edge(p);
        let tol = opts.degenerate_rel_tol * h * h * h;
        if v6.abs() <= tol || !v6.is_finite() {
            degen.add(ti, || {
                format!(
                    "tet {ti} is degenerate: volume {:.3e} for a mean edge length of {h:.3e} (|6V| <= {:e} * edge^3)",
                    v6 / 6.0,
                    opts.degenerate_rel_tol
                )
            });
        } else if v6 < 0.0 {
            inv.add(ti, || {
                format!("tet {ti} is inverted (volume {:.3e})", v6 / 6.0)
            });
            flips.push(ti);
        }
    }
    for a in [nonfinite, oob, rep, degen] {
        errors.extend(a.issue());
    }
    let flipped = flips.len();
    if let Some(mut issue) = inv.issue() {
        if opts.fix_orientation {
            issue.message = format!(
                "fixed the orientation of {flipped} inverted tet(s) by swapping two vertices; first: {}",
                issue.message
            );
            warnings.push(issue);
        } else {
            errors.push(issue);
        }
    }
    let unreferenced = used.iter().filter(|u| !**u).count();
    if unreferenced > 0 {
        let first = used.iter().position(|u| !*u);
        warnings.push(Issue {
            kind: IssueKind::UnreferencedVertices,
            message: format!(
                "{unreferenced} vertices are used by no tet (first: vertex {}); TetMesh::remove_unreferenced drops them",
                first.unwrap_or(0)
            ),
            count: unreferenced,
            first,
        });
    }
    let units = likely_units(&mesh.positions);
    if let Some((lo, hi)) = bounding_box(&mesh.positions) {
        let d =
            ((hi[0] - lo[0]).powi(2) + (hi[1] - lo[1]).powi(2) + (hi[2] - lo[2]).powi(2)).sqrt();
        if d > opts.max_metres_diagonal {
            let s = match units {
                LikelyUnits::Millimetres => "millimetres (try --scale 0.001)",
                _ => "centimetres (try --scale 0.01) or millimetres (--scale 0.001)",
            };
            warnings.push(Issue {
                kind: IssueKind::Units,
                message: format!(
                    "the bounding-box diagonal is {d:.3} units, too large for tissue in metres; the mesh looks like it is in {s}"
                ),
                count: 1,
                first: None,
            });
        }
    }
    let report = ValidationReport {
        errors,
        warnings,
        flipped: if opts.fix_orientation { flipped } else { 0 },
        unreferenced,
        likely_units: units,
    };
    if !report.errors.is_empty() {
        return Err(MeshError::Invalid(Box::new(report)));
    }
    if opts.fix_orientation {
        for ti in flips {
            if let Some(t) = mesh.tets.get_mut(ti) {
                t.swap(2, 3);
            }
        }
    }
    Ok(report)
}
