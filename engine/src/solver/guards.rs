//! Physical sanity guards: a state that is numerically finite but physically broken
//! (inverted or crushed regions, vertices flying at many times the scene's size per frame)
//! stops a run with a failure that names the guard, the frame, the region and the likely
//! cause, instead of ending "ok".
//!
//! Every guard is judged after every frame inside the solver, on both backends, so no frame
//! goes unchecked whatever the caller reads back or writes:
//! - each region's inverted tets and volume, and the fastest vertex against the scene's size
//!   ([`Guards::judge`]);
//! - energy growth without input ([`Guards::energy_breach`], [`EnergyWatch`]) on frames
//!   without tools (applied forces and moving supports are unknown input: the watch starts
//!   again). With tools the co-simulation judges it, with the work they did.
//!
//! The CPU measures a frame with [`diagnostics`](super::diagnostics) (with tools, only
//! [`region_health`](super::region_health)). The GPU reduces the same figures on the device
//! (`guard_sums` in `shaders/xpbd/tets.wgsl`: integer atomics for counts and volumes, a
//! fixed tree for energies) and judges them in `end_frame` (`vertices.wgsl`) with the limits
//! of `HealthLimits` and its own copy of the energy watch; the host reads the verdict with
//! the NaN flag after the step call and describes it with the same functions. A breach ends
//! the step with [`SimError::Guard`](super::SimError).

use super::{Diagnostics, RegionHealth, StepPlan, STABLE_COURANT};
use crate::mesh::RegionId;
use crate::model::Model;
use serde::{Deserialize, Serialize};

/// Thresholds of the guards (`[guards]` in a scene file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Guards {
    /// Whether the guards stop a run at all.
    pub enabled: bool,
    /// Largest fraction of a region's tets that may be inverted (det F <= 0).
    pub max_inverted_fraction: f64,
    /// Range of a region's current / rest volume.
    pub volume_ratio: [f64; 2],
    /// Largest vertex speed in scene sizes per frame: a vertex faster than
    /// `max_speed_ratio x` the larger of (the mesh's bounding-box diagonal) / frame_dt and
    /// the fastest pressure wave of its materials is flying apart. (The wave speed because
    /// elastic recoil is fast in small scenes: skin snapping back after a puncture in a
    /// 45 mm patch moved a vertex at 3.6 m/s, 1.3 patch sizes per frame, well under its
    /// 6.2 m/s pressure wave.)
    pub max_speed_ratio: f64,
    /// Energy growth without input ([`EnergyWatch`]): while nothing does work on the tissue
    /// (no vertex forces, tools or moving supports), its total mechanical energy may rise at
    /// most this fraction of the largest energy seen above its lowest value since the last
    /// input (the solver is dissipative: energy that appears from nowhere is an instability).
    pub max_energy_growth: f64,
    /// How far the energy balance of a co-simulation may be off per joule of work the tools
    /// did (the sum of its magnitudes since the balance's lowest), on top of
    /// `max_energy_growth`: the tools' work is measured from their mean wrench over a frame,
    /// and XPBD's positional contact is not exactly energy-consistent (a probe bouncing on a
    /// coarse block gave the tissue 7 % of the contact work more than the work measured).
    pub work_tolerance: f64,
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            enabled: true,
            max_inverted_fraction: 0.05,
            volume_ratio: [0.5, 2.0],
            max_speed_ratio: 1.0,
            max_energy_growth: 0.1,
            work_tolerance: 0.25,
        }
    }
}

impl Guards {
    /// Checks the thresholds themselves.
    pub fn check(&self) -> Result<(), String> {
        if !(self.max_inverted_fraction.is_finite()
            && (0.0..=1.0).contains(&self.max_inverted_fraction))
        {
            return Err(format!(
                "simulation.guards.max_inverted_fraction must be in 0..=1, got {}",
                self.max_inverted_fraction
            ));
        }
        let [lo, hi] = self.volume_ratio;
        if !(lo.is_finite() && hi.is_finite() && (0.0..1.0).contains(&lo) && hi > 1.0) {
            return Err(format!(
                "simulation.guards.volume_ratio must be [low, high] with 0 <= low < 1 < high, got [{lo}, {hi}]"
            ));
        }
        if !(self.max_energy_growth.is_finite() && self.max_energy_growth > 0.0) {
            return Err(format!(
                "simulation.guards.max_energy_growth must be > 0, got {}",
                self.max_energy_growth
            ));
        }
        if !(self.work_tolerance.is_finite() && self.work_tolerance >= 0.0) {
            return Err(format!(
                "simulation.guards.work_tolerance must be >= 0, got {}",
                self.work_tolerance
            ));
        }
        if !(self.max_speed_ratio.is_finite() && self.max_speed_ratio > 0.0) {
            return Err(format!(
                "simulation.guards.max_speed_ratio must be > 0, got {}",
                self.max_speed_ratio
            ));
        }
        Ok(())
    }

    /// The energy guard on `diag`, the state after a stretch of frames with `input` (what
    /// did work on the tissue over them); `watch` carries the run's history.
    pub fn energy_breach(
        &self,
        model: &Model,
        plan: &StepPlan,
        diag: &Diagnostics,
        watch: &mut EnergyWatch,
        input: EnergyInput,
    ) -> Option<Breach> {
        let (growth, scale) = watch.observe(diag, input)?;
        let floor = *watch.floor.get_or_insert_with(|| energy_noise_floor(model));
        self.energy_verdict(
            model,
            plan,
            (diag.step, diag.time),
            growth,
            scale.max(floor),
            (watch.work, watch.abs_work),
        )
    }

    /// The energy guard's verdict on a state at `(frame, time)` whose energy balance rose
    /// `growth` (J) above its lowest, `scale` being the largest energy seen (at least the
    /// noise floor) and `(work, abs_work)` the tools' work since that lowest and the sum of
    /// its magnitudes (J).
    pub(crate) fn energy_verdict(
        &self,
        model: &Model,
        plan: &StepPlan,
        (frame, time): (u64, f64),
        growth: f64,
        scale: f64,
        (work, abs_work): (f64, f64),
    ) -> Option<Breach> {
        let limit = self.max_energy_growth * scale + self.work_tolerance * abs_work;
        (self.enabled && growth > limit).then(|| Breach {
            guard: GuardKind::EnergyGrowth,
            frame,
            time,
            region: None,
            value: growth,
            limit,
            detail: if work == 0.0 {
                format!(
                    "the total energy rose {growth:.3e} J above its lowest since the last input, with nothing doing work (largest energy seen {scale:.3e} J)"
                )
            } else {
                format!(
                    "the total energy rose {growth:.3e} J more than the {work:.3e} J of work the tools did on the tissue since its lowest (largest energy seen {scale:.3e} J)"
                )
            },
            cause: if plan.courant <= 1.0 && confining_planes(model) {
                "static planes on several sides of the tissue: their projection pumps energy into a confined tissue at the automatic substeps (a column between walls needed 1.8x); raise substeps".into()
            } else {
                likely_cause(model, plan, None)
            },
        })
    }

    /// The first per-frame guard `diag` breaks, if any (`None` too when the guards are off):
    /// [`Guards::judge`] on the diagnostics' regions and fastest vertex.
    pub fn breach(&self, model: &Model, plan: &StepPlan, diag: &Diagnostics) -> Option<Breach> {
        self.judge(
            model,
            plan,
            (diag.step, diag.time),
            &diag.regions,
            diag.max_speed,
        )
    }

    /// The fastest a vertex may move (m/s): `max_speed_ratio` times the larger of a scene
    /// size (the rest mesh's bounding-box diagonal) per frame and the fastest pressure wave.
    pub fn speed_limit(&self, model: &Model, plan: &StepPlan) -> f64 {
        let wave = model
            .materials
            .iter()
            .map(|(_, m)| m.pressure_wave_speed())
            .fold(0.0, f64::max);
        self.max_speed_ratio * (model_diagonal(model) / plan.frame_dt).max(wave)
    }

    /// The first per-frame guard broken by a state at `(frame, time)` whose regions
    /// (ascending id) are `regions` and whose fastest vertex moves at `max_speed` (m/s), if
    /// any (`None` too when the guards are off). Both backends judge every frame with this
    /// (the GPU with its device-side figures).
    pub fn judge(
        &self,
        model: &Model,
        plan: &StepPlan,
        (frame, time): (u64, f64),
        regions: &[RegionHealth],
        max_speed: f64,
    ) -> Option<Breach> {
        if !self.enabled {
            return None;
        }
        let at = |guard, region: Option<RegionId>, value, limit, detail: String| Breach {
            guard,
            frame,
            time,
            region: region.map(|r| model.region_label(r)),
            value,
            limit,
            detail,
            cause: likely_cause(model, plan, region),
        };
        for r in regions {
            let frac = r.inverted as f64 / r.tets.max(1) as f64;
            if frac > self.max_inverted_fraction {
                return Some(at(
                    GuardKind::InvertedTets,
                    Some(r.region),
                    frac,
                    self.max_inverted_fraction,
                    format!("{} of its {} tets inverted", r.inverted, r.tets),
                ));
            }
        }
        let [lo, hi] = self.volume_ratio;
        for r in regions {
            if r.volume_ratio < lo || r.volume_ratio > hi {
                let limit = if r.volume_ratio < lo { lo } else { hi };
                return Some(at(
                    GuardKind::VolumeRatio,
                    Some(r.region),
                    r.volume_ratio,
                    limit,
                    format!("its volume is {:.3} of its rest volume", r.volume_ratio),
                ));
            }
        }
        let limit = self.speed_limit(model, plan);
        if max_speed > limit {
            return Some(at(
                GuardKind::Speed,
                None,
                max_speed,
                limit,
                format!(
                    "a vertex moves at {max_speed:.3e} m/s, {:.1} scene sizes per frame",
                    max_speed * plan.frame_dt / model_diagonal(model)
                ),
            ));
        }
        None
    }

    /// The per-material limits the GPU judges a frame by (`Params::health` in
    /// `shaders/xpbd/common.wgsl`), in the model's material order.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))] // the GPU backend's input
    pub(crate) fn health_limits(&self, model: &Model) -> Vec<HealthLimits> {
        let mut tets = vec![0usize; model.materials.len()];
        let mut volume = vec![0.0f64; model.materials.len()];
        for (t, &m) in model.tet_material.iter().enumerate() {
            tets[m as usize] += 1;
            volume[m as usize] += model.rest_volume[t] as f64;
        }
        tets.iter()
            .zip(&volume)
            .map(|(&n, &v)| HealthLimits {
                // inverted / tets > max  <=>  inverted > floor(max tets), for whole counts.
                allowed_inverted: (self.max_inverted_fraction * n as f64).floor() as f32,
                volume_ratio: [self.volume_ratio[0] as f32, self.volume_ratio[1] as f32],
                volume_scale: (VOLUME_FIXED_ONE / v.max(f64::MIN_POSITIVE)) as f32,
            })
            .collect()
    }
}

/// One of the GPU's per-material frame limits ([`Guards::health_limits`]), laid out as a
/// `vec4<f32>` of `Params::health`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct HealthLimits {
    /// Most inverted tets the region may have (a whole number).
    pub allowed_inverted: f32,
    /// Range of the region's volume ratio.
    pub volume_ratio: [f32; 2],
    /// [`VOLUME_FIXED_ONE`] over the region's rest volume: a tet's share of the region's
    /// volume change in fixed point is `(det F - 1) V0 volume_scale`.
    pub volume_scale: f32,
}

/// The GPU sums each region's volume change in 32-bit fixed point (integer atomics), with
/// this many units for a change of the whole rest volume: 2^24, so that a region's volume
/// ratio can reach about 128 before the sum wraps (`guard_tets` clamps each tet's det F to
/// the same range) and each tet rounds its share to 6e-8 of the region's volume.
pub const VOLUME_FIXED_ONE: f64 = 16_777_216.0;

/// Which guard broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardKind {
    /// Too many inverted tets in a region.
    InvertedTets,
    /// A region's volume outside its range.
    VolumeRatio,
    /// A vertex faster than the scene's size per frame.
    Speed,
    /// Energy that appeared with nothing doing work on the tissue.
    EnergyGrowth,
}

impl std::fmt::Display for GuardKind {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            GuardKind::InvertedTets => "inverted tets",
            GuardKind::VolumeRatio => "volume ratio",
            GuardKind::Speed => "speed",
            GuardKind::EnergyGrowth => "energy growth",
        })
    }
}

/// A broken guard: what, where, when and why.
#[derive(Clone, Debug, PartialEq, Serialize, thiserror::Error)]
#[error("guard {guard} broken at frame {frame} (t = {time:.4} s){}: {detail} (value {}, limit {}); likely cause: {cause}", region.as_ref().map(|r| format!(" in region {r}")).unwrap_or_default(), figure(*value, 4), figure(*limit, 6))]
pub struct Breach {
    /// The guard.
    pub guard: GuardKind,
    /// Frame index of the state.
    pub frame: u64,
    /// Simulated time (s).
    pub time: f64,
    /// The region (name, else id), where the guard is per region.
    pub region: Option<String>,
    /// The measured value.
    pub value: f64,
    /// The threshold it crossed.
    pub limit: f64,
    /// What was seen.
    pub detail: String,
    /// The most likely cause, from the plan and the materials.
    pub cause: String,
}

/// `x` with `digits` decimals, or in scientific notation where that would hide it (joules
/// of a small block's energy).
fn figure(x: f64, digits: usize) -> String {
    if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:.3e}")
    } else {
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// What did work on the tissue over a stretch of frames, for [`Guards::energy_breach`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EnergyInput {
    /// Nothing: no vertex forces, no moving tools or supports (gravity is in the energy).
    None,
    /// Work the tools did on the tissue (J), measured: the energy may rise by this much.
    Work(f64),
    /// Work of unknown size (moving supports, applied forces): the watch starts again.
    Unknown,
}

/// A run's energy history for [`Guards::energy_breach`]. The solver is dissipative, so the
/// tissue's total energy less the work done on it since the last unknown input never rises:
/// the watch keeps that balance's lowest value, the work counted since that lowest, and the
/// largest energy magnitude (elastic, kinetic or gravitational) seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnergyWatch {
    lowest: Option<f64>,
    /// Work done since the start of the balance (J).
    balance_work: f64,
    /// Work done since the balance's lowest value (J), for the message.
    work: f64,
    /// The sum of the work's magnitudes frame by frame since the balance's lowest (J).
    abs_work: f64,
    scale: f64,
    /// The model's [`energy_noise_floor`], computed on first use.
    floor: Option<f64>,
}

impl EnergyWatch {
    /// Takes in a state: returns how far the total energy less the work done rose above the
    /// lowest of that balance since the last unknown input, and the energy scale (`None`
    /// after an unknown input, or before a scale exists).
    pub fn observe(&mut self, diag: &Diagnostics, input: EnergyInput) -> Option<(f64, f64)> {
        let total = diag.total_energy();
        self.scale = self
            .scale
            .max(diag.elastic_energy.abs())
            .max(diag.kinetic_energy.abs())
            .max(diag.gravity_energy.abs());
        let work = match input {
            EnergyInput::None => Some(0.0),
            EnergyInput::Work(w) if w.is_finite() => Some(w),
            _ => None,
        };
        let Some(work) = work.filter(|_| total.is_finite()) else {
            // Unknown work, or a non-finite state: the balance starts again here.
            *self = Self {
                lowest: Some(total),
                scale: self.scale,
                floor: self.floor,
                ..Self::default()
            };
            return None;
        };
        self.balance_work += work;
        self.work += work;
        self.abs_work += work.abs();
        let balance = total - self.balance_work;
        let lowest = match self.lowest {
            Some(l) if l <= balance => l,
            _ => {
                self.work = 0.0;
                self.abs_work = 0.0;
                balance
            }
        };
        self.lowest = Some(lowest);
        (self.scale > 0.0).then_some((balance - lowest, self.scale))
    }
}

/// Strain of [`energy_noise_floor`].
const NOISE_STRAIN: f64 = 1e-3;

/// The elastic energy of the whole tissue at a strain of 0.1 % (`E V eps^2 / 2` summed over
/// the tets): the energy guard's scale is at least this, so that the rounding of a tissue
/// barely touched (a few nanojoules on a block at rest without gravity) is not taken for
/// growth; an instability grows past it within frames.
pub(crate) fn energy_noise_floor(model: &Model) -> f64 {
    model
        .tet_material
        .iter()
        .zip(&model.rest_volume)
        .map(|(&m, &v)| 0.5 * model.materials[m as usize].1.youngs_modulus * v as f64)
        .sum::<f64>()
        * NOISE_STRAIN
        * NOISE_STRAIN
}

/// Whether two of the model's static planes face different ways (the tissue is held on
/// more than one side).
fn confining_planes(model: &Model) -> bool {
    let n = |p: &crate::model::Plane| p.normal;
    model.planes.iter().enumerate().any(|(i, a)| {
        model.planes[i + 1..].iter().any(|b| {
            let (u, v) = (n(a), n(b));
            (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]).abs() < 0.9
        })
    })
}

/// Bounding-box diagonal of the rest mesh (m).
fn model_diagonal(model: &Model) -> f64 {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in &model.rest_positions {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k] as f64);
            hi[k] = hi[k].max(p[k] as f64);
        }
    }
    (0..3)
        .map(|k| (hi[k] - lo[k]).powi(2))
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE)
}

/// The likeliest cause of a breach: substeps past the bound first, then a large stiffness
/// contrast next to the region, else large loads.
fn likely_cause(model: &Model, plan: &StepPlan, region: Option<RegionId>) -> String {
    if plan.courant > 1.0 {
        let over = plan.courant / STABLE_COURANT;
        return format!(
            "substeps {} ({}) put the stiffest tets at effective Courant {:.2} ({over:.1}x the stable bound {STABLE_COURANT}): use substeps = \"auto\" or more",
            plan.substeps, plan.policy, plan.courant
        );
    }
    let moduli: Vec<f64> = model
        .materials
        .iter()
        .map(|(_, m)| m.youngs_modulus)
        .collect();
    let (min, max) = moduli
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &e| (a.min(e), b.max(e)));
    let soft = region
        .and_then(|r| model.materials.iter().find(|(id, _)| *id == r))
        .map(|(_, m)| m.youngs_modulus);
    if max / min >= 100.0 && soft.is_none_or(|e| e <= min * 10.0) {
        return format!(
            "a stiffness ratio of {:.0e} between regions: with one Gauss-Seidel sweep per substep the soft region cannot hold against its stiff neighbours; raise iterations or substeps, or lower the contrast",
            max / min
        );
    }
    "loads (tools, pins, gravity) larger than the tissue can take at this resolution: check the scene's forces and pins".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::generate::box_grid;
    use crate::model::{Material, ModelBuilder};
    use crate::solver::{diagnostics, plan_substeps, SolverConfig};

    /// A 10 cm block whose upper half is region 2 ("top").
    fn block() -> Model {
        let mut mesh = box_grid([4, 4, 4], [0.1, 0.1, 0.1], [0.0; 3]);
        for t in 0..mesh.tets.len() {
            mesh.regions[t] = if mesh.tet_centroid(t).unwrap()[2] > 0.05 {
                RegionId(2)
            } else {
                RegionId(1)
            };
        }
        mesh.region_names.insert(RegionId(2), "top".into());
        ModelBuilder::new(mesh)
            .default_material(Material::SOFT_TISSUE)
            .build()
            .unwrap()
    }

    #[test]
    fn rest_passes_a_crushed_region_and_a_flying_vertex_break_their_guards() {
        let model = block();
        let plan = plan_substeps(&model, &SolverConfig::default()).unwrap();
        let guards = Guards::default();
        let mut state = model.state();
        assert_eq!(
            guards.breach(&model, &plan, &diagnostics(&model, &state)),
            None
        );

        // The top half shrunk to 0.4 of its size about its centre: volume 0.4^3 = 0.064.
        for (i, p) in model.rest_positions.iter().enumerate() {
            if p[2] > 0.05 + 1e-6 {
                state.displacements[i] = [
                    -0.6 * (p[0] - 0.05),
                    -0.6 * (p[1] - 0.05),
                    -0.6 * (p[2] - 0.075),
                ];
            }
        }
        let crushed = guards
            .breach(&model, &plan, &diagnostics(&model, &state))
            .unwrap();
        assert_eq!(crushed.guard, GuardKind::VolumeRatio);
        assert_eq!(crushed.region.as_deref(), Some("top"));
        // Not exactly 0.064: the layer of tets between the halves is stretched across.
        assert!(crushed.value < 0.5, "{crushed}");
        let text = crushed.to_string();
        assert!(
            text.contains("in region top") && text.contains("likely cause"),
            "{text}"
        );

        // Flipped through itself (det F < 0 everywhere in the top half).
        for (i, p) in model.rest_positions.iter().enumerate() {
            state.displacements[i] = [0.0; 3];
            if p[2] > 0.05 + 1e-6 {
                state.displacements[i][2] = -2.0 * (p[2] - 0.05);
            }
        }
        let flipped = guards
            .breach(&model, &plan, &diagnostics(&model, &state))
            .unwrap();
        assert_eq!(flipped.guard, GuardKind::InvertedTets);
        assert_eq!(flipped.region.as_deref(), Some("top"));

        // At rest but one vertex at 100 m/s: 0.17 m diagonal / (1/60 s) = 10.4 m/s limit.
        let mut state = model.state();
        state.velocities[7] = [100.0, 0.0, 0.0];
        let fast = guards
            .breach(&model, &plan, &diagnostics(&model, &state))
            .unwrap();
        assert_eq!(fast.guard, GuardKind::Speed);
        assert!(
            (fast.limit - 3f64.sqrt() * 0.1 * 60.0).abs() < 1e-3,
            "{}",
            fast.limit
        );

        // Off: nothing breaks.
        let off = Guards {
            enabled: false,
            ..Guards::default()
        };
        assert_eq!(
            off.breach(&model, &plan, &diagnostics(&model, &state)),
            None
        );
        assert!(Guards {
            volume_ratio: [1.5, 2.0],
            ..Guards::default()
        }
        .check()
        .is_err());
    }

    #[test]
    fn energy_from_nowhere_breaks_its_guard_and_input_does_not() {
        let model = block();
        let plan = plan_substeps(&model, &SolverConfig::default()).unwrap();
        let guards = Guards::default();
        let diag = |elastic: f64, kinetic: f64| Diagnostics {
            elastic_energy: elastic,
            kinetic_energy: kinetic,
            ..diagnostics(&model, &model.state())
        };
        let mut watch = EnergyWatch::default();
        // Settling: energy falls, then rises 5 % of its scale (within 10 %).
        for (e, k) in [(1.0, 0.5), (1.0, 0.2), (0.9, 0.05), (0.9, 0.1)] {
            assert_eq!(
                guards.energy_breach(&model, &plan, &diag(e, k), &mut watch, EnergyInput::None),
                None
            );
        }
        // Pushed (input): no verdict, and the lowest starts again from there.
        assert_eq!(
            guards.energy_breach(
                &model,
                &plan,
                &diag(3.0, 1.0),
                &mut watch,
                EnergyInput::Unknown
            ),
            None
        );
        let b = guards
            .energy_breach(
                &model,
                &plan,
                &diag(3.0, 1.5),
                &mut watch,
                EnergyInput::None,
            )
            .unwrap();
        assert_eq!(b.guard, GuardKind::EnergyGrowth);
        assert!(
            (b.value - 0.5).abs() < 1e-12 && (b.limit - 0.3).abs() < 1e-12,
            "{b}"
        );
        assert!(b.to_string().contains("nothing doing work"), "{b}");

        // Measured work: a tool pushes 1 J in and the energy rises 0.9 J (friction took the
        // rest), then 0.5 J appear with the tool doing 0.1 J.
        let mut watch = EnergyWatch::default();
        let mut at =
            |e: f64, input| guards.energy_breach(&model, &plan, &diag(e, 0.0), &mut watch, input);
        assert_eq!(at(1.0, EnergyInput::None), None);
        assert_eq!(at(1.9, EnergyInput::Work(1.0)), None);
        assert_eq!(at(1.9, EnergyInput::None), None);
        let b = at(2.5, EnergyInput::Work(0.1)).unwrap();
        // Balance: 1.0, 0.9 (lowest), 0.9, 1.4: rose 0.5 J with 0.1 J of work since 0.9;
        // the scale is the largest elastic energy seen, 2.5 J: the limit is 10 % of it and
        // 25 % of the 0.1 J of work.
        assert!(
            (b.value - 0.5).abs() < 1e-12 && (b.limit - 0.275).abs() < 1e-12,
            "{b}"
        );
        assert!(b.to_string().contains("work the tools did"), "{b}");
    }
}
