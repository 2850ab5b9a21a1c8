//! Health and energy figures of a state, computed on the host (the GPU backend reads the
//! state back first, only when asked).

use super::constraints::{tet_energy, tet_volume_ratio};
use crate::mesh::RegionId;
use crate::model::{Model, State};
use rayon::prelude::*;
use serde::Serialize;

/// Diagnostics of a state.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Diagnostics {
    /// Frame index.
    pub step: u64,
    /// Simulated time (s).
    pub time: f64,
    /// Elastic (stable neo-Hookean) energy (J), zero at rest.
    pub elastic_energy: f64,
    /// Kinetic energy (J).
    pub kinetic_energy: f64,
    /// Gravitational potential energy relative to the rest shape (J).
    pub gravity_energy: f64,
    /// Smallest det F (current / rest volume) over tets.
    pub min_volume_ratio: f64,
    /// Largest det F over tets.
    pub max_volume_ratio: f64,
    /// Number of tets with det F <= 0.
    pub inverted_tets: usize,
    /// Total current volume / total rest volume.
    pub total_volume_ratio: f64,
    /// Largest vertex speed (m/s).
    pub max_speed: f64,
    /// Largest displacement from the rest position (m).
    pub max_displacement: f64,
    /// Whether every position and velocity is finite.
    pub finite: bool,
    /// Per region (ascending id): its inverted tets and volume.
    pub regions: Vec<RegionHealth>,
}

/// Health of one region of a state.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RegionHealth {
    /// Region id.
    pub region: RegionId,
    /// Its tets.
    pub tets: usize,
    /// Its tets with det F <= 0.
    pub inverted: usize,
    /// Its current volume / its rest volume.
    pub volume_ratio: f64,
}

impl Diagnostics {
    /// Total mechanical energy (elastic + kinetic + gravitational), J.
    pub fn total_energy(&self) -> f64 {
        self.elastic_energy + self.kinetic_energy + self.gravity_energy
    }
}

/// Tets or vertices per chunk of the diagnostics' parallel sums: chunks are summed in
/// order, so the figures are the same bits for any thread count.
const CHUNK: usize = 2048;

/// The sums of one chunk of tets.
struct TetSums {
    elastic: f64,
    min_j: f64,
    max_j: f64,
    inverted: usize,
    volume: f64,
    /// Per material (the model's order): tets, inverted, volume, rest volume.
    materials: Vec<(usize, usize, f64, f64)>,
}

impl TetSums {
    fn new(materials: usize) -> Self {
        Self {
            elastic: 0.0,
            min_j: f64::INFINITY,
            max_j: f64::NEG_INFINITY,
            inverted: 0,
            volume: 0.0,
            materials: vec![(0, 0, 0.0, 0.0); materials],
        }
    }

    /// Adds tet `t` with det F `j` (and elastic energy `e`).
    fn add(&mut self, model: &Model, t: usize, j: f64, e: f64) {
        let v0 = model.rest_volume[t] as f64;
        self.elastic += e;
        self.min_j = self.min_j.min(j);
        self.max_j = self.max_j.max(j);
        self.inverted += (j <= 0.0) as usize;
        self.volume += j * v0;
        let m = &mut self.materials[model.tet_material[t] as usize];
        m.0 += 1;
        m.1 += (j <= 0.0) as usize;
        m.2 += j * v0;
        m.3 += v0;
    }

    fn merge(mut self, o: Self) -> Self {
        self.elastic += o.elastic;
        self.min_j = self.min_j.min(o.min_j);
        self.max_j = self.max_j.max(o.max_j);
        self.inverted += o.inverted;
        self.volume += o.volume;
        for (a, b) in self.materials.iter_mut().zip(o.materials) {
            *a = (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3);
        }
        self
    }

    /// Per region (one material each), ascending id.
    fn regions(&self, model: &Model) -> Vec<RegionHealth> {
        let mut r: Vec<RegionHealth> = self
            .materials
            .iter()
            .zip(&model.materials)
            .filter(|(m, _)| m.0 > 0)
            .map(|(&(tets, inverted, v, v0), &(region, _))| RegionHealth {
                region,
                tets,
                inverted,
                volume_ratio: v / v0,
            })
            .collect();
        r.sort_by_key(|r| r.region);
        r
    }
}

/// Sums over the tets, chunk by chunk in parallel, chunks merged in order; `energy` adds
/// each tet's elastic energy.
fn tet_sums(model: &Model, u: &[[f32; 3]], energy: bool) -> TetSums {
    let nm = model.materials.len();
    let parts: Vec<TetSums> = (0..model.num_tets().div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut s = TetSums::new(nm);
            for t in c * CHUNK..((c + 1) * CHUNK).min(model.num_tets()) {
                let p = model.tets[t].map(|v| u[v as usize]);
                let (e, j) = if energy {
                    let m = model.material_params[model.tet_material[t] as usize];
                    let (e, j) = tet_energy(
                        &p,
                        &model.rest[t],
                        model.rest_volume[t],
                        m.mu,
                        m.lambda_mu,
                        m.gamma,
                    );
                    (e, j as f64)
                } else {
                    (0.0, tet_volume_ratio(&p, &model.rest[t]) as f64)
                };
                s.add(model, t, j, e);
            }
            s
        })
        .collect();
    parts.into_iter().fold(TetSums::new(nm), TetSums::merge)
}

/// Computes the diagnostics of `state` (in parallel; the same bits for any thread count).
pub fn diagnostics(model: &Model, state: &State) -> Diagnostics {
    let u = &state.displacements;
    let tets = tet_sums(model, u, true);
    let g = model.gravity;
    let nv = model.num_vertices();
    let parts: Vec<(f64, f64, f64, f64, bool)> = (0..nv.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut s = (0.0, 0.0, 0.0f64, 0.0f64, true);
            let range = c * CHUNK..((c + 1) * CHUNK).min(nv);
            for (i, (d, v)) in u[range.clone()]
                .iter()
                .zip(&state.velocities[range])
                .enumerate()
            {
                let i = c * CHUNK + i;
                let (d, v, m) = (*d, *v, model.mass[i] as f64);
                let finite = d.iter().chain(v.iter()).all(|c| c.is_finite());
                let v2 = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) as f64;
                if model.inv_mass[i] > 0.0 {
                    s.0 += 0.5 * m * v2;
                }
                s.1 += -m * (g[0] * d[0] + g[1] * d[1] + g[2] * d[2]) as f64;
                s.2 = s.2.max(v2.sqrt());
                s.3 =
                    s.3.max(((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) as f64).sqrt());
                s.4 &= finite;
            }
            s
        })
        .collect();
    let (ke, pe, vmax, dmax, finite) = parts
        .into_iter()
        .fold((0.0, 0.0, 0.0f64, 0.0f64, true), |a, b| {
            (a.0 + b.0, a.1 + b.1, a.2.max(b.2), a.3.max(b.3), a.4 && b.4)
        });
    Diagnostics {
        step: state.step,
        time: state.time,
        elastic_energy: tets.elastic,
        kinetic_energy: ke,
        gravity_energy: pe,
        min_volume_ratio: tets.min_j,
        max_volume_ratio: tets.max_j,
        inverted_tets: tets.inverted,
        total_volume_ratio: tets.volume / model.total_rest_volume(),
        max_speed: vmax,
        max_displacement: dmax,
        finite: finite && tets.elastic.is_finite(),
        regions: tets.regions(model),
    }
}

/// Each region's inverted tets and volume in `displacements` (ascending region id), as the
/// CPU backend's per-frame guards measure them with tools: det F per tet.
pub fn region_health(model: &Model, displacements: &[[f32; 3]]) -> Vec<RegionHealth> {
    tet_sums(model, displacements, false).regions(model)
}
