//! CPU backend: the same substep as the GPU kernels, in plain Rust, parallel with rayon.
//! Colours run one after another; the tets of one colour run in parallel.

// Index loops over vertices, lanes and matrix entries mirror the WGSL kernels and the math.
#![allow(clippy::needless_range_loop)]

use super::constraints::{damp_tet, project_tet, rest_lambda, warm_start_tet, TetVerts};
use super::lanes::{self, Kernel, LANES};
use super::{plan_substeps, SimError, SolverConfig, StepPlan};
use crate::contact::needle::{needle_pass, NeedleDevice};
use crate::contact::shapes::{contact_vertex, ContactInputs};
use crate::contact::{Contacts, RawWrench};
use crate::model::{Control, Model, State};
use rayon::prelude::*;

/// One frame's tools as the CPU substeps use them.
pub(crate) struct ToolFrame<'a> {
    contacts: &'a Contacts,
    step: usize,
    raw: Vec<RawWrench>,
    needle: Option<NeedleDevice>,
}

impl ToolFrame<'_> {
    fn needle_pass(&mut self, model: &Model, state: &mut State, dt: f32, pass: u32) {
        if let Some(dev) = &mut self.needle {
            needle_pass(
                dev,
                &self.contacts.substeps[self.step],
                &mut state.displacements,
                &model.rest_positions,
                &model.inv_mass,
                dt,
                pass,
            );
        }
    }
}

/// Minimum tets per rayon task: below this, splitting costs more than it saves.
const MIN_TETS_PER_TASK: usize = 512;

/// Shared mutable access to vertex arrays during a colour pass.
///
/// Hand-written because rayon cannot express "disjoint by graph colouring": within one colour
/// no two tets share a vertex, so the writes of different tets never alias.
#[derive(Clone, Copy)]
struct SharedVerts {
    x: *mut [f32; 3],
    prev: *const [f32; 3],
    w: *const f32,
}
// SAFETY: used only inside one colour pass, where each vertex is touched by one tet.
unsafe impl Send for SharedVerts {}
unsafe impl Sync for SharedVerts {}

impl SharedVerts {
    /// # Safety
    /// Indices must be in range and not accessed concurrently by another task.
    #[inline(always)]
    unsafe fn load(&self, t: [u32; 4]) -> TetVerts {
        let mut v = TetVerts::default();
        for k in 0..4 {
            let i = t[k] as usize;
            v.x[k] = *self.x.add(i);
            v.prev[k] = *self.prev.add(i);
            v.w[k] = *self.w.add(i);
        }
        v
    }
    /// # Safety
    /// As for `load`.
    #[inline(always)]
    unsafe fn store(&self, t: [u32; 4], v: &TetVerts) {
        for k in 0..4 {
            *self.x.add(t[k] as usize) = v.x[k];
        }
    }
}

/// The CPU XPBD solver. Owns only scratch memory; the model and state are borrowed per step.
pub struct CpuXpbd {
    plan: StepPlan,
    max_speed: f32,
    prev: Vec<[f32; 3]>,
}

impl CpuXpbd {
    /// Plans the substeps for `model` and allocates scratch.
    pub fn new(model: &Model, config: &SolverConfig) -> Result<Self, SimError> {
        let plan = plan_substeps(model, config)?;
        Ok(Self {
            plan,
            max_speed: config.max_speed as f32,
            prev: vec![[0.0; 3]; model.num_vertices()],
        })
    }

    /// The substep plan in use.
    pub fn plan(&self) -> &StepPlan {
        &self.plan
    }

    /// Advances `state` by `frames` frames.
    pub fn step(
        &mut self,
        model: &Model,
        state: &mut State,
        control: &Control,
        frames: u32,
    ) -> Result<(), SimError> {
        self.check_inputs(model, state, control)?;
        let dt = self.plan.dt as f32;
        prepare_lambdas(model, state, dt, self.plan.warm_start);
        for _ in 0..frames {
            for _ in 0..self.plan.substeps {
                self.substep(model, state, control, dt, None);
            }
            state.step += 1;
            state.time += self.plan.frame_dt;
            self.check(state)?;
        }
        Ok(())
    }

    /// Advances `state` by one frame with tools (the substep records of
    /// [`Contacts::plan_frame`](crate::contact::Contacts)). Returns the per-body sums and the
    /// needle's record after the frame.
    pub(crate) fn step_contacts(
        &mut self,
        model: &Model,
        state: &mut State,
        control: &Control,
        contacts: &Contacts,
    ) -> Result<(Vec<RawWrench>, Option<NeedleDevice>), SimError> {
        self.check_inputs(model, state, control)?;
        let dt = self.plan.dt as f32;
        prepare_lambdas(model, state, dt, self.plan.warm_start);
        let mut frame = ToolFrame {
            contacts,
            step: 0,
            raw: vec![[0.0; 6]; contacts.num_bodies()],
            needle: contacts.needle_device().cloned(),
        };
        for s in 0..self.plan.substeps as usize {
            frame.step = s;
            self.substep(model, state, control, dt, Some(&mut frame));
        }
        state.step += 1;
        state.time += self.plan.frame_dt;
        self.check(state)?;
        Ok((frame.raw, frame.needle))
    }

    fn check_inputs(
        &self,
        model: &Model,
        state: &State,
        control: &Control,
    ) -> Result<(), SimError> {
        let nv = model.num_vertices();
        if state.displacements.len() != nv
            || state.velocities.len() != nv
            || state.lambdas.len() != model.num_tets()
        {
            return Err(SimError::Config(
                "state does not belong to this model".into(),
            ));
        }
        if !control.vertex_forces.is_empty() && control.vertex_forces.len() != nv {
            return Err(SimError::Control(format!(
                "{} vertex forces for {nv} vertices",
                control.vertex_forces.len()
            )));
        }
        Ok(())
    }

    fn substep(
        &mut self,
        model: &Model,
        state: &mut State,
        control: &Control,
        dt: f32,
        mut tools: Option<&mut ToolFrame>,
    ) {
        let g = model.gravity;
        let damp = (1.0 - model.velocity_damping * dt).max(0.0);
        // 1. predict
        state
            .displacements
            .par_iter_mut()
            .zip(state.velocities.par_iter_mut())
            .zip(self.prev.par_iter_mut())
            .enumerate()
            .with_min_len(2048)
            .for_each(|(i, ((x, v), prev))| {
                *prev = *x;
                let w = model.inv_mass[i];
                if w > 0.0 {
                    let f = control.vertex_forces.get(i).copied().unwrap_or([0.0; 3]);
                    for k in 0..3 {
                        v[k] = (v[k] + dt * (g[k] + w * f[k])) * damp;
                        x[k] += dt * v[k];
                    }
                }
            });
        // 2. warm start (or reset)
        if self.plan.warm_start {
            sweep(
                Kernel::WarmStart,
                model,
                &self.shared(model, state),
                &mut state.lambdas,
                dt,
            );
        } else {
            reset_lambdas(model, &mut state.lambdas, dt);
        }
        // 2b. contacts with static planes, so that the solve sees the contact (the warm start
        // re-applies last substep's elastic push into a plane; resolving it only after the
        // solve would let the solve see the tissue too far out of the plane).
        self.collide(model, state, tools.as_deref_mut());
        // 2c. the needle, before the solve
        if let Some(t) = tools.as_deref_mut() {
            t.needle_pass(model, state, dt, 0);
        }
        // 3. solve
        for _ in 0..self.plan.iterations {
            sweep(
                Kernel::Solve,
                model,
                &self.shared(model, state),
                &mut state.lambdas,
                dt,
            );
        }
        // 3b. the needle after the solve (and its puncture test)
        if let Some(t) = tools.as_deref_mut() {
            t.needle_pass(model, state, dt, 1);
        }
        // 4. finalize: planes, tools, velocities
        let inv_dt = 1.0 / dt;
        self.collide(model, state, tools);
        state
            .displacements
            .par_iter_mut()
            .zip(state.velocities.par_iter_mut())
            .zip(self.prev.par_iter())
            .enumerate()
            .with_min_len(2048)
            .for_each(|(i, ((x, v), prev))| {
                if model.inv_mass[i] == 0.0 {
                    return;
                }
                for k in 0..3 {
                    v[k] = (x[k] - prev[k]) * inv_dt;
                }
            });
        // 5. Rayleigh damping of the velocities (x holds velocities, prev displacements).
        if model.material_params.iter().any(|m| m.beta > 0.0) {
            let vel = SharedVerts {
                x: state.velocities.as_mut_ptr(),
                prev: state.displacements.as_ptr(),
                w: model.inv_mass.as_ptr(),
            };
            for c in 0..model.num_colours() {
                let (a, b) = (
                    model.colour_offsets[c] as usize,
                    model.colour_offsets[c + 1] as usize,
                );
                (a..b)
                    .into_par_iter()
                    .with_min_len(MIN_TETS_PER_TASK)
                    .for_each(|t| {
                        let beta = model.material_params[model.tet_material[t] as usize].beta;
                        if beta > 0.0 {
                            let tet = model.tets[t];
                            // SAFETY: as above.
                            unsafe {
                                let mut v = vel.load(tet);
                                damp_tet(&mut v, &model.rest[t], beta, dt);
                                vel.store(tet, &v);
                            }
                        }
                    });
            }
        }
    }

    /// Raw access to the displacements for the colour passes.
    fn shared(&self, model: &Model, state: &mut State) -> SharedVerts {
        SharedVerts {
            x: state.displacements.as_mut_ptr(),
            prev: self.prev.as_ptr(),
            w: model.inv_mass.as_ptr(),
        }
    }

    /// Static planes, then tool shapes and attachments (per vertex, in that order).
    fn collide(&self, model: &Model, state: &mut State, tools: Option<&mut ToolFrame>) {
        let Some(tools) = tools else {
            if !model.planes.is_empty() {
                state
                    .displacements
                    .par_iter_mut()
                    .zip(self.prev.par_iter())
                    .enumerate()
                    .with_min_len(2048)
                    .for_each(|(i, (x, prev))| {
                        if model.inv_mass[i] > 0.0 {
                            for p in &model.planes {
                                collide_plane(x, prev, &model.rest_positions[i], p);
                            }
                        }
                    });
            }
            return;
        };
        let c = tools.contacts;
        let inputs = ContactInputs {
            step: &c.substeps[tools.step],
            shapes: &c.shapes,
            planes: &c.hull_planes,
            attach: &c.attach,
        };
        let nb = c.num_bodies();
        // Fixed chunks, summed in order: the reported forces do not depend on scheduling.
        const CHUNK: usize = 2048;
        let sums: Vec<Vec<RawWrench>> = state
            .displacements
            .par_chunks_mut(CHUNK)
            .zip(self.prev.par_chunks(CHUNK))
            .enumerate()
            .map(|(ch, (xs, ps))| {
                let mut local = vec![[0.0f64; 6]; nb];
                for (k, (x, prev)) in xs.iter_mut().zip(ps).enumerate() {
                    let i = ch * CHUNK + k;
                    let w = model.inv_mass[i];
                    if w == 0.0 {
                        continue;
                    }
                    let x0 = model.rest_positions[i];
                    for p in &model.planes {
                        collide_plane(x, prev, &x0, p);
                    }
                    contact_vertex(&inputs, i, x, *prev, x0, w, |b, f, m| {
                        let r = &mut local[b];
                        for j in 0..3 {
                            r[j] += f[j] as f64;
                            r[3 + j] += m[j] as f64;
                        }
                    });
                }
                local
            })
            .collect();
        for local in sums {
            for (r, l) in tools.raw.iter_mut().zip(local) {
                for j in 0..6 {
                    r[j] += l[j];
                }
            }
        }
    }

    /// NaN and speed check after a frame.
    fn check(&self, state: &State) -> Result<(), SimError> {
        let limit2 = self.max_speed * self.max_speed;
        let bad = state
            .displacements
            .par_iter()
            .zip(state.velocities.par_iter())
            .enumerate()
            .with_min_len(4096)
            .map(|(i, (x, v))| {
                let s2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
                let finite = x.iter().all(|c| c.is_finite()) && s2.is_finite();
                (!finite || s2 > limit2).then_some((i as u32, finite, s2))
            })
            .find_first(|b| b.is_some())
            .flatten();
        match bad {
            None => Ok(()),
            Some((vertex, false, _)) => Err(SimError::NonFinite {
                step: state.step,
                vertex,
            }),
            Some((vertex, true, s2)) => Err(SimError::BlowUp {
                step: state.step,
                vertex,
                speed: (s2 as f64).sqrt(),
                limit: self.max_speed as f64,
            }),
        }
    }
}

/// Runs a tet kernel over every colour in order; within a colour, blocks of eight tets go
/// through the SIMD path and the remainder one by one, in parallel.
fn sweep(kernel: Kernel, model: &Model, verts: &SharedVerts, lambdas: &mut [[f32; 2]], dt: f32) {
    for c in 0..model.num_colours() {
        let (a, b) = (
            model.colour_offsets[c] as usize,
            model.colour_offsets[c + 1] as usize,
        );
        let colour = &mut lambdas[a..b];
        let full = colour.len() / LANES * LANES;
        let (blocks, rest) = colour.split_at_mut(full);
        // SAFETY (both loops): tets of one colour share no vertex, indices were checked when
        // the model was built, and each task owns its slice of multipliers.
        blocks
            .par_chunks_mut(LANES)
            .enumerate()
            .with_min_len(MIN_TETS_PER_TASK / LANES)
            .for_each(|(k, lam)| unsafe {
                kernel_block(kernel, model, verts, a + k * LANES, lam, dt)
            });
        for (k, lambda) in rest.iter_mut().enumerate() {
            unsafe { single_tet(kernel, model, verts, a + full + k, lambda, dt) };
        }
    }
}

/// The scalar kernels (`constraints.rs`) on one tet.
///
/// # Safety
/// As `lanes::run_block`, for one tet.
unsafe fn single_tet(
    kernel: Kernel,
    model: &Model,
    verts: &SharedVerts,
    t: usize,
    lambda: &mut [f32; 2],
    dt: f32,
) {
    let tet = model.tets[t];
    let gamma = model.material_params[model.tet_material[t] as usize].gamma;
    let mut v = verts.load(tet);
    match kernel {
        Kernel::WarmStart => warm_start_tet(&mut v, &model.rest[t], lambda, gamma, dt),
        Kernel::Solve => project_tet(&mut v, &model.rest[t], gamma, 1.0 / dt, lambda),
    }
    verts.store(tet, &v);
}

/// # Safety
/// As `lanes::run_block`.
#[inline(always)]
unsafe fn kernel_block_generic(
    kernel: Kernel,
    model: &Model,
    verts: &SharedVerts,
    t0: usize,
    lam: &mut [[f32; 2]],
    dt: f32,
) {
    lanes::run_block(model, t0, lam, verts.x, verts.prev, verts.w, kernel, dt)
}

/// The same, compiled for AVX2 (8 f32 lanes per instruction).
///
/// # Safety
/// As `lanes::run_block`, and the CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn kernel_block_avx2(
    kernel: Kernel,
    model: &Model,
    verts: &SharedVerts,
    t0: usize,
    lam: &mut [[f32; 2]],
    dt: f32,
) {
    kernel_block_generic(kernel, model, verts, t0, lam, dt)
}

/// # Safety
/// As `lanes::run_block`.
#[inline(always)]
unsafe fn kernel_block(
    kernel: Kernel,
    model: &Model,
    verts: &SharedVerts,
    t0: usize,
    lam: &mut [[f32; 2]],
    dt: f32,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return kernel_block_avx2(kernel, model, verts, t0, lam, dt);
    }
    kernel_block_generic(kernel, model, verts, t0, lam, dt)
}

/// Rescales warm-start multipliers for substep `dt` (they scale with dt^2), or sets the rest
/// multipliers when there are none yet or warm starting is off.
pub(crate) fn prepare_lambdas(model: &Model, state: &mut State, dt: f32, warm_start: bool) {
    if !warm_start || state.lambda_dt <= 0.0 {
        reset_lambdas(model, &mut state.lambdas, dt);
    } else if state.lambda_dt != dt {
        let s = (dt / state.lambda_dt).powi(2);
        state
            .lambdas
            .iter_mut()
            .for_each(|l| *l = [l[0] * s, l[1] * s]);
    }
    state.lambda_dt = dt;
}

fn reset_lambdas(model: &Model, lambdas: &mut [[f32; 2]], dt: f32) {
    lambdas
        .par_iter_mut()
        .enumerate()
        .with_min_len(4096)
        .for_each(|(t, l)| {
            *l = rest_lambda(
                &model.rest[t],
                model.material_params[model.tet_material[t] as usize].gamma,
                dt,
            );
        });
}

/// Pushes a vertex (displacement `x`, rest position `rest`) out of a static plane with
/// Coulomb friction on the tangential motion of this substep (position-level friction,
/// Macklin et al. 2014).
#[inline(always)]
pub(crate) fn collide_plane(
    x: &mut [f32; 3],
    prev: &[f32; 3],
    rest: &[f32; 3],
    p: &crate::model::Plane,
) {
    let n = [p.normal[0] as f32, p.normal[1] as f32, p.normal[2] as f32];
    let rest_distance = rest[0] * n[0] + rest[1] * n[1] + rest[2] * n[2] - p.offset as f32;
    let s = rest_distance + (x[0] * n[0] + x[1] * n[1] + x[2] * n[2]);
    if s >= 0.0 {
        return;
    }
    let depth = -s;
    for k in 0..3 {
        x[k] += depth * n[k];
    }
    let d = [x[0] - prev[0], x[1] - prev[1], x[2] - prev[2]];
    let dn = d[0] * n[0] + d[1] * n[1] + d[2] * n[2];
    let t = [d[0] - dn * n[0], d[1] - dn * n[1], d[2] - dn * n[2]];
    let tl = (t[0] * t[0] + t[1] * t[1] + t[2] * t[2]).sqrt();
    if tl == 0.0 {
        return;
    }
    let f = if tl <= p.static_friction as f32 * depth {
        1.0
    } else {
        (p.kinetic_friction as f32 * depth / tl).min(1.0)
    };
    for k in 0..3 {
        x[k] -= f * t[k];
    }
}
