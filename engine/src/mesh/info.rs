//! A serialisable summary of a mesh (the `vesalius mesh info --json` output).

use crate::mesh::RegionId;
use std::collections::BTreeMap;

use super::quality::{
    bounding_box, likely_units, quality, region_stats, LikelyUnits, QualitySummary,
};
use super::validate::{Issue, ValidationReport};
use super::TetMesh;

/// One region of a [`MeshInfo`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RegionInfo {
    /// Region id.
    pub id: RegionId,
    /// Name, if known.
    pub name: Option<String>,
    /// Number of tets.
    pub tets: usize,
    /// Total volume (cubic units of the mesh).
    pub volume: f64,
}

/// Axis-aligned bounding box.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BBoxInfo {
    /// Minimum corner.
    pub min: [f64; 3],
    /// Maximum corner.
    pub max: [f64; 3],
}

/// Summary of a mesh and its validation, for humans (`Display`) and JSON (`Serialize`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MeshInfo {
    /// Number of vertices.
    pub nodes: usize,
    /// Number of tets.
    pub tets: usize,
    /// Per-region counts and volumes, by id.
    pub regions: Vec<RegionInfo>,
    /// Total volume.
    pub volume: f64,
    /// Bounding box (`None` without finite vertices).
    pub bbox: Option<BBoxInfo>,
    /// Guessed length unit.
    pub likely_units: LikelyUnits,
    /// Element quality summary.
    pub quality: QualitySummary,
    /// Skipped (non-tet) elements by kind, as reported by the reader.
    pub skipped_elements: BTreeMap<String, usize>,
    /// Warnings from validation.
    pub warnings: Vec<Issue>,
    /// Errors from validation (the mesh cannot be simulated when non-empty).
    pub errors: Vec<Issue>,
}

impl MeshInfo {
    /// Builds the summary of `mesh` (after validation, so volumes are of fixed tets).
    pub fn new(mesh: &TetMesh, report: &ValidationReport) -> Self {
        let regions = region_stats(mesh)
            .into_iter()
            .map(|(id, s)| RegionInfo {
                id,
                name: mesh.region_names.get(&id).cloned(),
                tets: s.tets,
                volume: s.volume,
            })
            .collect();
        MeshInfo {
            nodes: mesh.positions.len(),
            tets: mesh.tets.len(),
            regions,
            volume: mesh.total_volume(),
            bbox: bounding_box(&mesh.positions).map(|(min, max)| BBoxInfo { min, max }),
            likely_units: likely_units(&mesh.positions),
            quality: quality(mesh).1,
            skipped_elements: BTreeMap::new(),
            warnings: report.warnings.clone(),
            errors: report.errors.clone(),
        }
    }
}

impl std::fmt::Display for MeshInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "nodes: {}", self.nodes)?;
        writeln!(f, "tets:  {}", self.tets)?;
        for (k, n) in &self.skipped_elements {
            writeln!(f, "skipped: {n} x {k}")?;
        }
        writeln!(f, "regions:")?;
        for r in &self.regions {
            writeln!(
                f,
                "  {:>4} {:<16} {:>8} tets  volume {:.6e}",
                r.id,
                r.name.as_deref().unwrap_or("-"),
                r.tets,
                r.volume
            )?;
        }
        writeln!(f, "total volume: {:.6e}", self.volume)?;
        if let Some(b) = &self.bbox {
            writeln!(
                f,
                "bbox: min [{:.6}, {:.6}, {:.6}]  max [{:.6}, {:.6}, {:.6}]  size [{:.6}, {:.6}, {:.6}]",
                b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2],
                b.max[0] - b.min[0], b.max[1] - b.min[1], b.max[2] - b.min[2]
            )?;
        }
        writeln!(f, "likely units: {}", self.likely_units)?;
        let q = &self.quality;
        writeln!(
            f,
            "quality: dihedral {:.2}..{:.2} deg, aspect ratio (R/3r, regular = 1) max {:.3} mean {:.3}, volume {:.3e}..{:.3e}",
            q.min_dihedral_deg, q.max_dihedral_deg, q.max_aspect_ratio, q.mean_aspect_ratio, q.min_volume, q.max_volume
        )?;
        for w in &self.warnings {
            writeln!(f, "warning: {}", w.message)?;
        }
        for e in &self.errors {
            writeln!(f, "error: {}", e.message)?;
        }
        Ok(())
    }
}
