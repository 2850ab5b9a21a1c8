//! Health and energy figures of a state, computed on the host (the GPU backend reads the
//! state back first, only when asked).

use super::constraints::tet_energy;
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
    pub region: i32,
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

/// Computes the diagnostics of `state`.
pub fn diagnostics(model: &Model, state: &State) -> Diagnostics {
    let u = &state.displacements;
    let per_tet: Vec<(f64, f64)> = (0..model.num_tets())
        .into_par_iter()
        .with_min_len(1024)
        .map(|t| {
            let tet = model.tets[t];
            let p = tet.map(|v| u[v as usize]);
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
        })
        .collect();
    // Sums in tet order: the same figures for any thread count.
    let (mut elastic, mut minj, mut maxj, mut inverted, mut vol) =
        (0.0, f64::INFINITY, f64::NEG_INFINITY, 0, 0.0);
    // (region, tets, inverted, volume, rest volume), by region id.
    let mut regions: std::collections::BTreeMap<i32, (usize, usize, f64, f64)> = Default::default();
    for (t, &(e, j)) in per_tet.iter().enumerate() {
        let v0 = model.rest_volume[t] as f64;
        elastic += e;
        minj = minj.min(j);
        maxj = maxj.max(j);
        inverted += (j <= 0.0) as usize;
        vol += j * v0;
        let r = regions.entry(model.tet_region[t]).or_default();
        r.0 += 1;
        r.1 += (j <= 0.0) as usize;
        r.2 += j * v0;
        r.3 += v0;
    }
    let g = model.gravity;
    let (ke, pe, vmax, dmax, finite) = (0..model.num_vertices())
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| {
            let (d, v, m) = (u[i], state.velocities[i], model.mass[i] as f64);
            let finite = d.iter().chain(v.iter()).all(|c| c.is_finite());
            let v2 = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) as f64;
            let moving = model.inv_mass[i] > 0.0;
            let ke = if moving { 0.5 * m * v2 } else { 0.0 };
            let pe = -m * (g[0] * d[0] + g[1] * d[1] + g[2] * d[2]) as f64;
            let dn = ((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) as f64).sqrt();
            (ke, pe, v2.sqrt(), dn, finite)
        })
        .reduce(
            || (0.0, 0.0, 0.0, 0.0, true),
            |a, b| (a.0 + b.0, a.1 + b.1, a.2.max(b.2), a.3.max(b.3), a.4 && b.4),
        );
    Diagnostics {
        step: state.step,
        time: state.time,
        elastic_energy: elastic,
        kinetic_energy: ke,
        gravity_energy: pe,
        min_volume_ratio: minj,
        max_volume_ratio: maxj,
        inverted_tets: inverted,
        total_volume_ratio: vol / model.total_rest_volume(),
        max_speed: vmax,
        max_displacement: dmax,
        finite: finite && elastic.is_finite(),
        regions: regions
            .into_iter()
            .map(|(region, (tets, inverted, v, v0))| RegionHealth {
                region,
                tets,
                inverted,
                volume_ratio: v / v0,
            })
            .collect(),
    }
}
