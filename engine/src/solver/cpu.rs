//! CPU backend: the same substep as the GPU kernels, in plain Rust.
//!
//! A frame runs on a small team of threads (one per rayon thread, fewer for small models)
//! that stays together for all its substeps: every phase splits its vertices or the tets of
//! one colour statically between the threads, and the threads meet at a spinning barrier
//! where the next phase (or colour) needs the previous one finished. Colours run one after
//! another; the tets of one colour run in parallel, eight at a time on SIMD lanes
//! (`lanes.rs`). Per-vertex phases give every thread the same vertices, so two per-vertex
//! phases in a row need no barrier between them.
//!
//! During a step the solver works on its own copy of the displacements, padded to four
//! floats with the inverse mass in `w` (as the GPU's `disp` buffer), so a tet kernel loads
//! and stores each vertex with one 16-byte access. `state.displacements` is written back
//! after every frame.

// Index loops over vertices, lanes and matrix entries mirror the WGSL kernels and the math.
#![allow(clippy::needless_range_loop)]

use super::constraints::{damp_tet, project_tet, rest_lambda, warm_start_tet, TetVerts};
use super::lanes::{self, Kernel, LANES};
use super::{plan_substeps, SimError, SolverConfig, StepPlan};
use crate::model::{Control, Model, State};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Tets per thread below which an extra thread costs more (barriers) than it saves.
const MIN_TETS_PER_THREAD: usize = 8192;

/// Per-vertex phases split the vertices at multiples of this (a 64-byte line of `xw`).
const VERTEX_ALIGN: usize = 4;

/// The CPU XPBD solver. Owns only scratch memory; the model and state are borrowed per step.
pub struct CpuXpbd {
    plan: StepPlan,
    max_speed: f32,
    /// Displacements (xyz) and inverse masses (w) during a step.
    xw: Vec<[f32; 4]>,
    /// Displacements at the start of the substep (xyz; w unused).
    prev: Vec<[f32; 4]>,
    /// Whether the eight-lane kernels can run (AVX2 on x86-64; always elsewhere).
    simd: bool,
}

impl CpuXpbd {
    /// Plans the substeps for `model` and allocates scratch.
    pub fn new(model: &Model, config: &SolverConfig) -> Result<Self, SimError> {
        let plan = plan_substeps(model, config)?;
        #[cfg(target_arch = "x86_64")]
        let simd = std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let simd = true;
        Ok(Self {
            plan,
            max_speed: config.max_speed as f32,
            xw: vec![[0.0; 4]; model.num_vertices()],
            prev: vec![[0.0; 4]; model.num_vertices()],
            simd,
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
        let nv = model.num_vertices();
        if state.displacements.len() != nv
            || state.velocities.len() != nv
            || state.lambdas.len() != model.num_tets()
            || self.xw.len() != nv
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
        let dt = self.plan.dt as f32;
        prepare_lambdas(model, state, dt, self.plan.warm_start);
        for (i, (xw, d)) in self.xw.iter_mut().zip(&state.displacements).enumerate() {
            *xw = [d[0], d[1], d[2], model.inv_mass[i]];
        }
        let threads = rayon::current_num_threads()
            .min(model.num_tets() / MIN_TETS_PER_THREAD)
            .max(1);
        for _ in 0..frames {
            let frame = Frame {
                model,
                control,
                xw: self.xw.as_mut_ptr(),
                prev: self.prev.as_mut_ptr(),
                vel: state.velocities.as_mut_ptr(),
                lambdas: state.lambdas.as_mut_ptr(),
                dt,
                damp: (1.0 - model.velocity_damping * dt).max(0.0),
                simd: self.simd,
                warm_start: self.plan.warm_start,
                iterations: self.plan.iterations,
                rayleigh: model.material_params.iter().any(|m| m.beta > 0.0),
                barrier: Barrier::new(threads),
            };
            let substeps = self.plan.substeps;
            let run = |team: Team| {
                let _guard = PoisonOnPanic(&frame.barrier);
                for _ in 0..substeps {
                    frame.substep(&team);
                }
            };
            if threads == 1 {
                run(Team { id: 0, size: 1 });
            } else {
                std::thread::scope(|s| {
                    for id in 1..threads {
                        s.spawn(move || run(Team { id, size: threads }));
                    }
                    run(Team {
                        id: 0,
                        size: threads,
                    });
                });
            }
            for (d, xw) in state.displacements.iter_mut().zip(&self.xw) {
                *d = [xw[0], xw[1], xw[2]];
            }
            state.step += 1;
            state.time += self.plan.frame_dt;
            self.check(state)?;
        }
        Ok(())
    }

    /// NaN and speed check after a frame.
    fn check(&self, state: &State) -> Result<(), SimError> {
        let limit2 = self.max_speed * self.max_speed;
        let bad = state
            .displacements
            .iter()
            .zip(&state.velocities)
            .enumerate()
            .map(|(i, (x, v))| {
                let s2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
                let finite = x.iter().all(|c| c.is_finite()) && s2.is_finite();
                (!finite || s2 > limit2).then_some((i as u32, finite, s2))
            })
            .find(|b| b.is_some())
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

/// One member of the team running a frame.
#[derive(Clone, Copy)]
struct Team {
    /// This thread's index, `0..size`.
    id: usize,
    size: usize,
}

impl Team {
    /// This thread's share of `0..n`, cut at multiples of `align`.
    #[inline]
    fn share(&self, n: usize, align: usize) -> std::ops::Range<usize> {
        let units = n.div_ceil(align);
        let cut = |k: usize| (units * k / self.size * align).min(n);
        cut(self.id)..cut(self.id + 1)
    }
}

/// Everything the phases of a frame touch, shared by the team.
///
/// Raw pointers because the threads write disjoint parts of the same arrays: per-vertex
/// phases split the vertices, tet phases the tets of one colour, which share no vertex (the
/// graph colouring), with a barrier wherever the split changes.
struct Frame<'a> {
    model: &'a Model,
    control: &'a Control,
    xw: *mut [f32; 4],
    prev: *mut [f32; 4],
    vel: *mut [f32; 3],
    lambdas: *mut [f32; 2],
    dt: f32,
    /// Velocity damping factor per substep.
    damp: f32,
    simd: bool,
    warm_start: bool,
    iterations: u32,
    /// Whether any material has Rayleigh damping.
    rayleigh: bool,
    barrier: Barrier,
}

// SAFETY: see the type's documentation; every access goes through the phase methods below.
unsafe impl Sync for Frame<'_> {}

impl Frame<'_> {
    /// One substep: the phases of the module documentation, in order.
    fn substep(&self, team: &Team) {
        // 1. predict
        self.predict(team);
        self.barrier.wait();
        // 2. warm start (or reset)
        if self.warm_start {
            self.sweep(team, Kernel::WarmStart);
        } else {
            self.reset_lambdas(team);
            self.barrier.wait();
        }
        // 2b. contacts with static planes, so that the solve sees the contact (the warm start
        // re-applies last substep's elastic push into a plane; resolving it only after the
        // solve would let the solve see the tissue too far out of the plane).
        if !self.model.planes.is_empty() {
            self.collide_planes(team);
            self.barrier.wait();
        }
        // 3. solve
        for _ in 0..self.iterations {
            self.sweep(team, Kernel::Solve);
        }
        // 4. finalize: planes, velocities (per vertex, same vertices per thread: no barrier)
        if !self.model.planes.is_empty() {
            self.collide_planes(team);
        }
        self.finalize(team);
        self.barrier.wait();
        // 5. Rayleigh damping of the velocities.
        if self.rayleigh {
            self.damp(team);
        }
    }

    /// This thread's vertices.
    fn vertices(&self, team: &Team) -> std::ops::Range<usize> {
        team.share(self.model.num_vertices(), VERTEX_ALIGN)
    }

    /// v += dt (g + w f), velocity damping, prev = x, x += dt v.
    fn predict(&self, team: &Team) {
        let (dt, g) = (self.dt, self.model.gravity);
        for i in self.vertices(team) {
            // SAFETY: vertex i belongs to this thread in per-vertex phases.
            let (xw, prev, v) = unsafe {
                (
                    &mut *self.xw.add(i),
                    &mut *self.prev.add(i),
                    &mut *self.vel.add(i),
                )
            };
            *prev = *xw;
            let w = xw[3];
            if w > 0.0 {
                let f = self
                    .control
                    .vertex_forces
                    .get(i)
                    .copied()
                    .unwrap_or([0.0; 3]);
                for k in 0..3 {
                    v[k] = (v[k] + dt * (g[k] + w * f[k])) * self.damp;
                    xw[k] += dt * v[k];
                }
            }
        }
    }

    /// Pushes this thread's vertices out of the static planes.
    fn collide_planes(&self, team: &Team) {
        let model = self.model;
        for i in self.vertices(team) {
            // SAFETY: as in `predict`.
            let (xw, prev) = unsafe { (&mut *self.xw.add(i), &*self.prev.add(i)) };
            if xw[3] > 0.0 {
                let mut x = [xw[0], xw[1], xw[2]];
                let p = [prev[0], prev[1], prev[2]];
                for plane in &model.planes {
                    collide_plane(&mut x, &p, &model.rest_positions[i], plane);
                }
                xw[..3].copy_from_slice(&x);
            }
        }
    }

    /// v = (x - prev) / dt.
    fn finalize(&self, team: &Team) {
        let inv_dt = 1.0 / self.dt;
        for i in self.vertices(team) {
            // SAFETY: as in `predict`.
            let (xw, prev, v) =
                unsafe { (&*self.xw.add(i), &*self.prev.add(i), &mut *self.vel.add(i)) };
            if xw[3] == 0.0 {
                continue;
            }
            for k in 0..3 {
                v[k] = (xw[k] - prev[k]) * inv_dt;
            }
        }
    }

    /// Rest multipliers for every tet (warm starting off).
    fn reset_lambdas(&self, team: &Team) {
        let model = self.model;
        for t in team.share(model.num_tets(), 16) {
            let gamma = model.material_params[model.tet_material[t] as usize].gamma;
            // SAFETY: tet t belongs to this thread here.
            unsafe { *self.lambdas.add(t) = rest_lambda(&model.rest[t], gamma, self.dt) };
        }
    }

    /// Runs a tet kernel over every colour in order, with a barrier after each colour.
    fn sweep(&self, team: &Team, kernel: Kernel) {
        let model = self.model;
        for c in 0..model.num_colours() {
            let (a, b) = (
                model.colour_offsets[c] as usize,
                model.colour_offsets[c + 1] as usize,
            );
            // Blocks of eight through the SIMD path, split between the threads; the
            // remainder one by one on the last thread.
            let (blocks, rest) = if self.simd {
                let nb = (b - a) / LANES;
                let mine = team.share(nb, 1);
                (mine, a + nb * LANES..b)
            } else {
                (0..0, a..b)
            };
            // SAFETY: tets of one colour share no vertex, indices were checked when the model
            // was built, and each thread owns its tets (and their multipliers) in this colour.
            unsafe {
                if !blocks.is_empty() {
                    self.blocks(kernel, a + blocks.start * LANES, a + blocks.end * LANES);
                }
                if team.id + 1 == team.size {
                    for t in rest {
                        self.single_tet(kernel, t);
                    }
                }
            }
            self.barrier.wait();
        }
    }

    /// Implicit Rayleigh damping of the velocities, colour by colour.
    fn damp(&self, team: &Team) {
        let model = self.model;
        for c in 0..model.num_colours() {
            let (a, b) = (
                model.colour_offsets[c] as usize,
                model.colour_offsets[c + 1] as usize,
            );
            let mine = team.share(b - a, 16);
            for t in a + mine.start..a + mine.end {
                let beta = model.material_params[model.tet_material[t] as usize].beta;
                if beta > 0.0 {
                    let tet = model.tets[t];
                    // SAFETY: as in `sweep`. x holds velocities here, prev displacements.
                    unsafe {
                        let mut v = TetVerts::default();
                        for k in 0..4 {
                            let i = tet[k] as usize;
                            let xw = *self.xw.add(i);
                            v.x[k] = *self.vel.add(i);
                            v.prev[k] = [xw[0], xw[1], xw[2]];
                            v.w[k] = xw[3];
                        }
                        damp_tet(&mut v, &model.rest[t], beta, self.dt);
                        for k in 0..4 {
                            *self.vel.add(tet[k] as usize) = v.x[k];
                        }
                    }
                }
            }
            self.barrier.wait();
        }
    }

    /// The scalar kernels (`constraints.rs`) on one tet.
    ///
    /// # Safety
    /// As `lanes::run_block`, for one tet.
    unsafe fn single_tet(&self, kernel: Kernel, t: usize) {
        let model = self.model;
        let tet = model.tets[t];
        let gamma = model.material_params[model.tet_material[t] as usize].gamma;
        let mut v = TetVerts::default();
        for k in 0..4 {
            let i = tet[k] as usize;
            let (xw, p) = (*self.xw.add(i), *self.prev.add(i));
            v.x[k] = [xw[0], xw[1], xw[2]];
            v.prev[k] = [p[0], p[1], p[2]];
            v.w[k] = xw[3];
        }
        let lambda = &mut *self.lambdas.add(t);
        match kernel {
            Kernel::WarmStart => warm_start_tet(&mut v, &model.rest[t], lambda, gamma, self.dt),
            Kernel::Solve => project_tet(&mut v, &model.rest[t], gamma, 1.0 / self.dt, lambda),
        }
        for k in 0..4 {
            let xw = &mut *self.xw.add(tet[k] as usize);
            xw[..3].copy_from_slice(&v.x[k]);
        }
    }

    /// The eight-lane kernels on tets `a..b` (a multiple of eight, all of one colour).
    ///
    /// # Safety
    /// As `lanes::run_block`; `self.simd` must be set.
    unsafe fn blocks(&self, kernel: Kernel, a: usize, b: usize) {
        #[cfg(target_arch = "x86_64")]
        return blocks_avx2(self, kernel, a, b);
        #[cfg(not(target_arch = "x86_64"))]
        blocks_generic(self, kernel, a, b)
    }
}

/// # Safety
/// As `lanes::run_block`.
#[inline(always)]
unsafe fn blocks_generic(f: &Frame, kernel: Kernel, a: usize, b: usize) {
    let lambdas = std::slice::from_raw_parts_mut(f.lambdas.add(a), b - a);
    for (k, lam) in lambdas.chunks_exact_mut(LANES).enumerate() {
        lanes::run_block(f.model, a + k * LANES, lam, f.xw, f.prev, kernel, f.dt);
    }
}

/// The same, compiled for AVX2 (8 f32 lanes per instruction).
///
/// # Safety
/// As `lanes::run_block`, and the CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn blocks_avx2(f: &Frame, kernel: Kernel, a: usize, b: usize) {
    blocks_generic(f, kernel, a, b)
}

/// A spinning barrier for the team: the threads of a frame meet here between phases
/// (~60 times a substep), far more often than a sleeping barrier or a fork-join can afford.
/// After a short spin it yields, so a descheduled team mate gets the core back.
struct Barrier {
    size: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// Set when a team member panicked: the others panic too instead of waiting forever.
    poisoned: AtomicBool,
}

impl Barrier {
    fn new(size: usize) -> Self {
        Self {
            size,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Waits until all `size` threads have called `wait`; everything written before the call
    /// by any of them is visible to all after it.
    #[inline]
    fn wait(&self) {
        if self.size == 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.size {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation
                .store(generation.wrapping_add(1), Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if spins < 1 << 12 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                if self.poisoned.load(Ordering::Relaxed) {
                    panic!("a CPU solver thread panicked");
                }
                std::thread::yield_now();
            }
        }
    }
}

/// Poisons the barrier if its thread unwinds.
struct PoisonOnPanic<'a>(&'a Barrier);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, Ordering::Relaxed);
        }
    }
}

/// Rescales warm-start multipliers for substep `dt` (they scale with dt^2), or sets the rest
/// multipliers when there are none yet or warm starting is off.
pub(crate) fn prepare_lambdas(model: &Model, state: &mut State, dt: f32, warm_start: bool) {
    if !warm_start || state.lambda_dt <= 0.0 {
        for (t, l) in state.lambdas.iter_mut().enumerate() {
            *l = rest_lambda(
                &model.rest[t],
                model.material_params[model.tet_material[t] as usize].gamma,
                dt,
            );
        }
    } else if state.lambda_dt != dt {
        let s = (dt / state.lambda_dt).powi(2);
        state
            .lambdas
            .iter_mut()
            .for_each(|l| *l = [l[0] * s, l[1] * s]);
    }
    state.lambda_dt = dt;
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
