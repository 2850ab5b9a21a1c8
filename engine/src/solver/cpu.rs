//! CPU backend: the same substep as the GPU kernels, in plain Rust.
//!
//! A frame runs on a small team of threads (its size set by [`Threads`], by default this
//! run's share of the machine's cores, fewer for small models) that stays together for all its substeps, instead of a fork-join per colour: the phases
//! of every substep (predict, warm start, collide, solve, finalize, damp; tet phases once per
//! colour) are cut into small units of work that the threads claim in order, a phase
//! starting once the one before it is done (`Schedule`). Colours run one after another; the
//! tets of one colour run in parallel, eight at a time on SIMD lanes (`lanes.rs`).
//!
//! During a step the solver works on its own copy of the displacements, padded to four
//! floats with the inverse mass in `w` (as the GPU's `disp` buffer), so a tet kernel loads
//! and stores each vertex with one 16-byte access; likewise the velocities (for the damping
//! kernel). `state.displacements` and `state.velocities` are written back after every frame.
//!
//! A frame with tools (`CpuXpbd::step_contacts`) adds the tool contacts to the collide
//! phases (after the static planes, per vertex) and, with a needle, a one-unit needle phase
//! before and after the solve. The tissue's push on each body is summed per unit of
//! vertices over the frame, then over the units in order: the same bits on any team.

// Index loops over vertices, lanes and matrix entries mirror the WGSL kernels and the math.
#![allow(clippy::needless_range_loop)]

use super::constraints::{damp_tet, project_tet, rest_lambda, warm_start_tet, TetVerts};
use super::lanes::{self, Kernel, RestBlock, LANES};
use super::{
    diagnostics, plan_substeps, region_health, Breach, EnergyInput, EnergyWatch, Guards, SimError,
    SolverConfig, StepPlan, Threads,
};
use crate::contact::needle::{needle_pass, NeedleDevice};
use crate::contact::shapes::{contact_vertex, push_impulse, ContactInputs};
use crate::contact::surface::{face_contact, gather_vertex, SurfaceMesh};
use crate::contact::{Contacts, RawWrench};
use crate::model::{Control, Model, State};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Tets per thread below which [`Threads::Auto`] does not try an extra thread. Whether a
/// team pays at or above this size is measured (`TeamChooser`): the 11k-tet kidney ran
/// 1.2x faster on two threads than on one on an idle machine (4.9 against 6.0 s per
/// simulated second) and 2.4x slower beside another busy process.
pub const MIN_TETS_PER_THREAD: usize = 2048;

/// CPU solvers of this process inside [`CpuXpbd::step`] (or a frame with tools) right now:
/// [`Threads::Auto`] divides the cores between them.
static STEPPING: AtomicUsize = AtomicUsize::new(0);

/// Counts its solver in [`STEPPING`] while it lives (for the length of one step call).
struct Stepping;

impl Stepping {
    fn start() -> Self {
        STEPPING.fetch_add(1, Ordering::Relaxed);
        Self
    }
}

impl Drop for Stepping {
    fn drop(&mut self) {
        STEPPING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Environment variable that caps the cores [`Threads::Auto`] shares out in this process
/// (e.g. `VESALIUS_THREADS=1` for each of several processes of a batch on one machine).
pub const THREADS_ENV: &str = "VESALIUS_THREADS";

/// The cores this process may use: [`THREADS_ENV`] if set to a count, else the machine's
/// (1 when the OS does not say).
fn available_cores() -> usize {
    let machine = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::env::var(THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .map_or(machine, |n| n.min(machine))
}

/// [`Threads::Auto`]'s choice between its team and one thread, by measurement. On a machine
/// whose cores other busy processes share, the OS deschedules team mates and a team of two
/// can take twice as long as one thread (measured: the 40k block at 4.5-6.0 s per
/// simulated second on two threads against 2.4-2.6 on one, beside one busy process). So
/// the chooser times the frames it runs and now and then runs one frame on the other
/// size: it keeps the faster, probing again after 16 frames, then twice as long each time
/// the probe confirms the choice (up to 256 frames; back to 16 when it does not). The
/// thread count never changes the bits of a frame.
#[derive(Clone, Debug, Default)]
struct TeamChooser {
    /// The team size the figures are for.
    team: usize,
    /// Seconds per frame on the team and on one thread, once measured (smoothed over the
    /// frames in use; the last probe's for the other).
    team_s: Option<f64>,
    one_s: Option<f64>,
    /// Frames until the next probe of the size not in use, and the current interval.
    until_probe: u32,
    interval: u32,
}

/// Frames between probes of [`TeamChooser`], at first and at most.
const PROBE_MIN: u32 = 16;
const PROBE_MAX: u32 = 256;

impl TeamChooser {
    /// The faster size as measured so far (the team until one thread is measured faster).
    fn best(&self, team: usize) -> usize {
        match (self.team_s, self.one_s) {
            (Some(t), Some(o)) if self.team == team && o < t => 1,
            _ => team,
        }
    }

    /// The size to run the next frame on, with a team of `team` available.
    fn choose(&mut self, team: usize) -> usize {
        if team <= 1 {
            return 1;
        }
        if self.team != team {
            *self = Self {
                team,
                interval: PROBE_MIN,
                until_probe: PROBE_MIN,
                ..Self::default()
            };
        }
        match (self.team_s, self.one_s) {
            (None, _) => team,
            (Some(_), None) => 1,
            _ if self.until_probe == 0 => {
                if self.best(team) == 1 {
                    team
                } else {
                    1
                }
            }
            _ => self.best(team),
        }
    }

    /// Takes in a frame of `seconds` on `threads` threads (with a team of `team` available).
    fn record(&mut self, team: usize, threads: usize, seconds: f64) {
        if team <= 1 || self.team != team {
            return;
        }
        let before = self.best(team);
        let probe = self.team_s.is_some() && self.one_s.is_some() && threads != before;
        // Smoothed while in use; a probe replaces the stale figure.
        let figure = if threads == 1 {
            &mut self.one_s
        } else {
            &mut self.team_s
        };
        *figure = Some(match *figure {
            Some(t) if !probe => 0.7 * t + 0.3 * seconds,
            _ => seconds,
        });
        if probe || self.until_probe == 0 {
            self.interval = if self.best(team) == before {
                (self.interval * 2).min(PROBE_MAX)
            } else {
                PROBE_MIN
            };
            self.until_probe = self.interval;
        } else {
            self.until_probe -= 1;
        }
    }
}

/// The team [`Threads::Auto`] gives a frame of `tets` tets on `cores` cores while `stepping`
/// CPU solvers of the process (this one included) step: an equal share of the cores
/// (`cores / stepping`, rounded down), at most one thread per [`MIN_TETS_PER_THREAD`] tets,
/// at least one.
pub fn auto_team_size(cores: usize, stepping: usize, tets: usize) -> usize {
    (cores / stepping.max(1))
        .min(tets / MIN_TETS_PER_THREAD)
        .max(1)
}

/// The CPU XPBD solver. Owns only scratch memory; the model and state are borrowed per step.
#[derive(Clone)]
pub struct CpuXpbd {
    plan: StepPlan,
    max_speed: f32,
    /// The per-frame guards (judged after every frame).
    guards: Guards,
    /// The energy guard's history over frames without tools.
    watch: FrameWatch,
    /// [`Threads::Auto`]'s measured choice of team size.
    chooser: TeamChooser,
    threads: Threads,
    /// Displacements (xyz) and inverse masses (w) during a step.
    xw: Vec<[f32; 4]>,
    /// Displacements at the start of the substep (xyz; w unused).
    prev: Vec<[f32; 4]>,
    /// Velocities during a step (xyz; w unused).
    vel: Vec<[f32; 4]>,
    /// Whether the eight-lane kernels can run (AVX2 on x86-64; always elsewhere).
    simd: bool,
    /// The tets of every colour in blocks of eight, with their rest data.
    blocks: Vec<RestBlock>,
    /// First block of each colour (`num_colours + 1` entries).
    colour_blocks: Vec<usize>,
    /// The model's colour offsets when the blocks were built (a check that `step` gets it).
    colour_offsets: Vec<u32>,
    /// Multipliers during a step, per block, lane-major (`state.lambdas` between frames).
    lambdas: Vec<[[f32; LANES]; 2]>,
}

impl CpuXpbd {
    /// Plans the substeps for `model` and allocates scratch.
    pub fn new(model: &Model, config: &SolverConfig) -> Result<Self, SimError> {
        let plan = plan_substeps(model, config)?;
        let simd = simd_available();
        let (blocks, colour_blocks) = lanes::rest_blocks(model, plan.dt as f32);
        Ok(Self {
            plan,
            max_speed: config.max_speed as f32,
            guards: config.guards.clone(),
            watch: FrameWatch::default(),
            chooser: TeamChooser::default(),
            threads: config.threads,
            xw: vec![[0.0; 4]; model.num_vertices()],
            prev: vec![[0.0; 4]; model.num_vertices()],
            vel: vec![[0.0; 4]; model.num_vertices()],
            simd,
            lambdas: vec![[[0.0; LANES]; 2]; blocks.len()],
            blocks,
            colour_blocks,
            colour_offsets: model.colour_offsets.clone(),
        })
    }

    /// The substep plan in use.
    pub fn plan(&self) -> &StepPlan {
        &self.plan
    }

    /// Threads a frame of `model` would run on if it started now, beside the CPU solvers that
    /// are stepping now (see [`Threads`]; for `Auto`, the size measured faster so far).
    pub fn threads(&self, model: &Model) -> usize {
        let team = self.team_size(model, STEPPING.load(Ordering::Relaxed) + 1);
        match self.threads {
            Threads::Fixed(_) => team,
            Threads::Auto => self.chooser.best(team),
        }
    }

    /// Team size for a frame of `model` while `stepping` solvers (this one included) step.
    fn team_size(&self, model: &Model, stepping: usize) -> usize {
        match self.threads {
            Threads::Fixed(n) => n,
            Threads::Auto => auto_team_size(available_cores(), stepping, model.num_tets()),
        }
    }

    /// Whether the tet kernels run on eight SIMD lanes (AVX2 on x86-64).
    pub fn simd(&self) -> bool {
        self.simd
    }

    /// Runs the tet kernels one tet at a time (the scalar kernels of `constraints.rs`) when
    /// `on` is false, on eight lanes again when it is true and the CPU can (see
    /// [`simd`](Self::simd)). The two give the same bits; this is for checking that they do.
    /// Returns whether the lanes are in use.
    pub fn set_simd(&mut self, on: bool) -> bool {
        self.simd = on && simd_available();
        self.simd
    }

    /// Advances `state` by `frames` frames. A guard broken after a frame
    /// ([`SolverConfig::guards`]) stops there with [`SimError::Guard`], `state` being that
    /// frame's.
    pub fn step(
        &mut self,
        model: &Model,
        state: &mut State,
        control: &Control,
        frames: u32,
    ) -> Result<(), SimError> {
        self.check_inputs(model, state, control)?;
        match self.run_frames(model, state, control, frames, None)? {
            None => Ok(()),
            Some(breach) => Err(SimError::Guard(Box::new(breach))),
        }
    }

    /// Advances `state` by one frame with tools (the substep records of
    /// [`Contacts::plan_frame`](crate::contact::Contacts)). Returns the per-body sums, the
    /// needle's record after the frame and the guard the frame broke, if any.
    pub(crate) fn step_contacts(
        &mut self,
        model: &Model,
        state: &mut State,
        control: &Control,
        contacts: &Contacts,
        needle: Option<&NeedleDevice>,
    ) -> Result<ContactFrame, SimError> {
        self.check_inputs(model, state, control)?;
        if contacts.substeps.len() != self.plan.substeps as usize {
            return Err(SimError::Config(format!(
                "tools planned for {} substeps, the solver takes {}",
                contacts.substeps.len(),
                self.plan.substeps
            )));
        }
        let bodies = contacts.num_bodies();
        let units = model.num_vertices().div_ceil(VERTEX_UNIT);
        let mut sums = vec![[0.0f64; 6]; units * bodies];
        let mut needle = needle.cloned();
        let mut proposals =
            vec![[0.0f32; 4]; 3 * contacts.surface.as_ref().map_or(0, |s| s.faces.len())];
        let tools = FrameTools {
            contacts,
            bodies,
            sums: sums.as_mut_ptr(),
            proposals: proposals.as_mut_ptr(),
            needle: needle
                .as_mut()
                .map_or(std::ptr::null_mut(), |n| n as *mut NeedleDevice),
        };
        let breach = self.run_frames(model, state, control, 1, Some(tools))?;
        // In unit order: the same sums however the units fell between the threads.
        let mut raw = vec![[0.0f64; 6]; bodies];
        if bodies > 0 {
            for unit in sums.chunks_exact(bodies) {
                for (r, u) in raw.iter_mut().zip(unit) {
                    for j in 0..6 {
                        r[j] += u[j];
                    }
                }
            }
        }
        Ok((raw, needle, breach))
    }

    /// Checks that `state`, `control` and this solver belong to `model`.
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
            || self.xw.len() != nv
            || self.colour_offsets != model.colour_offsets
        {
            return Err(SimError::Config(
                "state or solver does not belong to this model".into(),
            ));
        }
        if !control.vertex_forces.is_empty() && control.vertex_forces.len() != nv {
            return Err(SimError::Control(format!(
                "{} vertex forces for {nv} vertices",
                control.vertex_forces.len()
            )));
        }
        check_pin_targets(&model.pinned, control)
    }

    /// Runs `frames` frames on the team (inputs checked), with `tools` if any; stops after
    /// the first frame that breaks a guard and returns the breach.
    fn run_frames(
        &mut self,
        model: &Model,
        state: &mut State,
        control: &Control,
        frames: u32,
        tools: Option<FrameTools>,
    ) -> Result<Option<Breach>, SimError> {
        let nv = model.num_vertices();
        let dt = self.plan.dt as f32;
        let with_tools = tools.is_some();
        prepare_lambdas(model, state, dt, self.plan.warm_start);
        for (i, (xw, d)) in self.xw.iter_mut().zip(&state.displacements).enumerate() {
            *xw = [d[0], d[1], d[2], model.inv_mass[i]];
        }
        for (vel, v) in self.vel.iter_mut().zip(&state.velocities) {
            *vel = [v[0], v[1], v[2], 0.0];
        }
        for (lam, rb) in self.lambdas.iter_mut().zip(&self.blocks) {
            for l in 0..LANES {
                let [d, h] = state.lambdas[rb.tet[l] as usize];
                (lam[0][l], lam[1][l]) = (d, h);
            }
        }
        let _stepping = Stepping::start();
        let frame = Frame {
            model,
            control,
            xw: self.xw.as_mut_ptr(),
            prev: self.prev.as_mut_ptr(),
            vel: self.vel.as_mut_ptr(),
            blocks: &self.blocks,
            colour_blocks: &self.colour_blocks,
            lambdas: self.lambdas.as_mut_ptr(),
            dt,
            damp: (1.0 - model.velocity_damping * dt).max(0.0),
            simd: self.simd,
            tools,
        };
        let mut schedule = Schedule::new(
            substep_phases(
                model,
                &self.plan,
                &self.colour_blocks,
                frame.tools.as_ref().map(|t| t.contacts),
            ),
            self.plan.substeps as usize,
        );
        let inv_frame_dt = (1.0 / self.plan.frame_dt) as f32;
        for f in 0..frames {
            // Kinematic supports: the pins' velocity for this frame (predict moves them).
            let targets = if f == 0 {
                &control.pin_targets[..]
            } else {
                &[]
            };
            for (k, &i) in model.pinned.iter().enumerate() {
                // SAFETY: the team is not running; nothing else accesses `xw` and `vel`.
                let (x, v) =
                    unsafe { (*frame.xw.add(i as usize), &mut *frame.vel.add(i as usize)) };
                *v = match targets.get(k) {
                    Some(t) => [
                        (t[0] - x[0]) * inv_frame_dt,
                        (t[1] - x[1]) * inv_frame_dt,
                        (t[2] - x[2]) * inv_frame_dt,
                        0.0,
                    ],
                    None => [0.0; 4],
                };
            }
            let team = self.team_size(model, STEPPING.load(Ordering::Relaxed));
            let threads = match self.threads {
                Threads::Fixed(_) => team,
                Threads::Auto => self.chooser.choose(team),
            };
            schedule.reset(threads);
            let clock = std::time::Instant::now();
            let run = |id: usize| schedule.run(&frame, id);
            if schedule.threads == 1 {
                run(0);
            } else {
                std::thread::scope(|s| {
                    for id in 1..schedule.threads {
                        s.spawn(move || run(id));
                    }
                    run(0);
                });
            }
            if self.threads == Threads::Auto {
                self.chooser
                    .record(team, threads, clock.elapsed().as_secs_f64());
            }
            // SAFETY: the team has finished; nothing else accesses `xw`.
            let xw = unsafe { std::slice::from_raw_parts(frame.xw, nv) };
            for (d, xw) in state.displacements.iter_mut().zip(xw) {
                *d = [xw[0], xw[1], xw[2]];
            }
            // SAFETY: as for `xw`.
            let vel = unsafe { std::slice::from_raw_parts(frame.vel, nv) };
            for (v, vel) in state.velocities.iter_mut().zip(vel) {
                *v = [vel[0], vel[1], vel[2]];
            }
            // SAFETY: as for `xw`.
            let lambdas = unsafe { std::slice::from_raw_parts(frame.lambdas, self.blocks.len()) };
            for (lam, rb) in lambdas.iter().zip(&self.blocks) {
                for l in 0..rb.len as usize {
                    state.lambdas[rb.tet[l] as usize] = [lam[0][l], lam[1][l]];
                }
            }
            state.step += 1;
            state.time += self.plan.frame_dt;
            let max_speed2 = self.check(state)?;
            if self.guards.enabled {
                let breach = if with_tools {
                    // The co-simulation judges the energy, with the tools' work.
                    self.guards.judge(
                        model,
                        &self.plan,
                        (state.step, state.time),
                        &region_health(model, &state.displacements),
                        (max_speed2 as f64).sqrt(),
                    )
                } else {
                    let input = if !control.vertex_forces.is_empty() || !targets.is_empty() {
                        EnergyInput::Unknown
                    } else {
                        EnergyInput::None
                    };
                    self.watch
                        .judge(&self.guards, &self.plan, model, state, input)
                };
                if breach.is_some() {
                    return Ok(breach);
                }
            }
        }
        Ok(None)
    }

    /// NaN and speed check after a frame; returns the largest speed squared.
    fn check(&self, state: &State) -> Result<f32, SimError> {
        let limit2 = self.max_speed * self.max_speed;
        let mut max2 = 0.0f32;
        let bad = state
            .displacements
            .iter()
            .zip(&state.velocities)
            .enumerate()
            .map(|(i, (x, v))| {
                let s2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
                max2 = max2.max(s2);
                let finite = x.iter().all(|c| c.is_finite()) && s2.is_finite();
                (!finite || s2 > limit2).then_some((i as u32, finite, s2))
            })
            .find(|b| b.is_some())
            .flatten();
        match bad {
            None => Ok(max2),
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

/// A frame with tools on the CPU: the per-body sums, the needle's record after the frame and
/// the guard the frame broke, if any.
pub(crate) type ContactFrame = (Vec<RawWrench>, Option<NeedleDevice>, Option<Breach>);

/// The energy watch of the frames a CPU solver runs without tools, and the frame it last saw
/// (a state that does not follow it starts the history again).
#[derive(Clone, Debug, Default)]
struct FrameWatch {
    watch: EnergyWatch,
    step: Option<u64>,
}

impl FrameWatch {
    /// All the guards on a frame without tools, the energy's with `input`.
    fn judge(
        &mut self,
        guards: &Guards,
        plan: &StepPlan,
        model: &Model,
        state: &State,
        input: EnergyInput,
    ) -> Option<Breach> {
        if self.step != state.step.checked_sub(1) {
            self.watch = EnergyWatch::default();
        }
        self.step = Some(state.step);
        let d = diagnostics(model, state);
        guards
            .breach(model, plan, &d)
            .or_else(|| guards.energy_breach(model, plan, &d, &mut self.watch, input))
    }
}

/// A phase of the substep (see the module documentation of `solver`), with its unit of work.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Per vertex: `Frame::predict`.
    Predict,
    /// Per tet of a colour: `Frame::warm_start`.
    WarmStart(usize),
    /// Per tet: `Frame::reset_lambdas` (warm starting off).
    ResetLambdas,
    /// Per vertex: `Frame::collide_planes`, or with tools `Frame::collide_tools`.
    CollidePlanes,
    /// One unit: `Frame::needle`, pass 0 (before the solve) or 1 (after it).
    Needle(u32),
    /// Per tet of a colour: `Frame::solve`.
    Solve(usize),
    /// Per surface triangle: `Frame::faces` (face contact's proposals).
    Faces,
    /// Per vertex: `Frame::gather` (face contact's corrections).
    Gather,
    /// Per vertex: the collide phase again, then `Frame::finalize`.
    Finalize,
    /// Per vertex (face contact, after the collide phase and `Faces`): `Frame::gather`,
    /// then `Frame::finalize`.
    GatherFinalize,
    /// Per tet of a colour: `Frame::damp`.
    Damp(usize),
}

/// Vertices per unit of work of a per-vertex phase (a per-tet phase's unit is one block of
/// eight tets of a colour).
const VERTEX_UNIT: usize = 64;

/// Surface triangles per unit of work of the face-contact phase.
const FACE_UNIT: usize = 64;

/// Fewest units a thread claims at once (unless fewer are left in the phase).
const MIN_CLAIM: usize = 4;

/// The phases of one substep, in order, with how many units of work each has. Without
/// `tools` there are no tool phases at all.
fn substep_phases(
    model: &Model,
    plan: &StepPlan,
    colour_blocks: &[usize],
    tools: Option<&Contacts>,
) -> Vec<(Phase, usize)> {
    let vertex_units = model.num_vertices().div_ceil(VERTEX_UNIT);
    let colour_units = |c: usize| colour_blocks[c + 1] - colour_blocks[c];
    let colours = 0..model.num_colours();
    let mut phases = vec![(Phase::Predict, vertex_units)];
    if plan.warm_start {
        phases.extend(
            colours
                .clone()
                .map(|c| (Phase::WarmStart(c), colour_units(c))),
        );
    } else {
        phases.push((Phase::ResetLambdas, colour_blocks[model.num_colours()]));
    }
    if !model.planes.is_empty() || tools.is_some() {
        // So that the solve sees the contact (the warm start re-applies last substep's
        // elastic push into a plane; resolving it only after the solve would let the solve
        // see the tissue too far out of the plane).
        phases.push((Phase::CollidePlanes, vertex_units));
    }
    let faces = tools
        .and_then(|t| t.surface.as_ref())
        .map(|s| s.faces.len().div_ceil(FACE_UNIT));
    if let Some(face_units) = faces {
        phases.push((Phase::Faces, face_units));
        phases.push((Phase::Gather, vertex_units));
    }
    let needle = tools.is_some_and(|t| t.has_needle());
    if needle {
        phases.push((Phase::Needle(0), 1));
    }
    for _ in 0..plan.iterations {
        phases.extend(colours.clone().map(|c| (Phase::Solve(c), colour_units(c))));
    }
    if needle {
        // And its puncture test.
        phases.push((Phase::Needle(1), 1));
    }
    match faces {
        Some(face_units) => phases.extend([
            (Phase::CollidePlanes, vertex_units),
            (Phase::Faces, face_units),
            (Phase::GatherFinalize, vertex_units),
        ]),
        None => phases.push((Phase::Finalize, vertex_units)),
    }
    if model.material_params.iter().any(|m| m.beta > 0.0) {
        phases.extend(colours.map(|c| (Phase::Damp(c), colour_units(c))));
    }
    phases.retain(|&(_, units)| units > 0);
    phases
}

/// Checks `control.pin_targets` against the model's pinned vertices `pinned` (one finite
/// displacement each).
pub(crate) fn check_pin_targets(pinned: &[u32], control: &Control) -> Result<(), SimError> {
    let (n, np) = (control.pin_targets.len(), pinned.len());
    if n != 0 && n != np {
        return Err(SimError::Control(format!(
            "{n} pin targets for {np} pinned vertices"
        )));
    }
    if let Some(k) = control
        .pin_targets
        .iter()
        .position(|t| !t.iter().all(|c| c.is_finite()))
    {
        return Err(SimError::Control(format!(
            "pin target {k} (vertex {}) is not finite: {:?}",
            pinned[k], control.pin_targets[k]
        )));
    }
    Ok(())
}

/// Hands out the work of a frame to a team of threads, phase after phase, and keeps each
/// phase from starting before the previous one has finished.
///
/// Every phase (of every substep of the frame, in order) is cut into units. Thread 1 claims
/// a phase's units from the back, the others from the front, a quarter of what is left at a
/// time (fewer towards the middle), until the ends meet. So each thread works on about the
/// same part of the mesh in every colour and substep (its vertices and tets stay in its
/// cache), yet a team mate that the OS has descheduled on a loaded machine holds up only
/// the units it has claimed: the others take the rest of the phase, where a fixed split with
/// a barrier would wait for it at every phase.
///
/// A thread may claim units of the next phase while the current one is still running; it
/// waits to run them until all units before its phase are done. Units are done in any
/// order, but none of a phase can be before all earlier phases are, so `done >= start`
/// means exactly that.
struct Schedule {
    /// Phase, first unit (within the substep), units.
    phases: Vec<(Phase, usize, usize)>,
    units_per_substep: usize,
    /// Phases in the frame.
    total: usize,
    /// Whether every phase fits the claim word (else the frame runs on one thread).
    fits: bool,
    /// The team size of the current frame.
    threads: usize,
    /// The phase being claimed (its frame-wide number plus one, modulo 2^24, 0 before the
    /// first) and its unclaimed units front..back, packed (`pack`).
    claim: Padded<AtomicU64>,
    /// Units finished.
    done: Padded<AtomicUsize>,
    /// Set when a team member panicked: the others stop waiting for it.
    poisoned: AtomicBool,
}

/// Keeps the two counters on separate cache lines.
#[repr(align(128))]
struct Padded<T>(T);

const PHASE_BITS: u32 = 24;
const END_BITS: u32 = 20;
const END_MASK: u64 = (1 << END_BITS) - 1;
const PHASE_MASK: u64 = (1 << PHASE_BITS) - 1;
/// Most units in one phase (the claim word's range).
const MAX_PHASE_UNITS: usize = END_MASK as usize;

#[inline]
fn pack(phase: u64, front: usize, back: usize) -> u64 {
    (phase & PHASE_MASK) << (2 * END_BITS) | (front as u64) << END_BITS | back as u64
}

#[inline]
fn unpack(w: u64) -> (u64, usize, usize) {
    (
        w >> (2 * END_BITS),
        (w >> END_BITS & END_MASK) as usize,
        (w & END_MASK) as usize,
    )
}

impl Schedule {
    fn new(phases: Vec<(Phase, usize)>, substeps: usize) -> Self {
        let mut start = 0;
        let phases: Vec<_> = phases
            .into_iter()
            .map(|(p, n)| {
                start += n;
                (p, start - n, n)
            })
            .collect();
        Self {
            total: phases.len() * substeps,
            fits: phases.iter().all(|&(_, _, n)| n <= MAX_PHASE_UNITS),
            phases,
            units_per_substep: start,
            threads: 1,
            claim: Padded(AtomicU64::new(0)),
            done: Padded(AtomicUsize::new(0)),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Prepares a frame on a team of `threads` (one if a phase does not fit the claim word).
    fn reset(&mut self, threads: usize) {
        self.threads = if self.fits { threads.max(1) } else { 1 };
        self.claim.0.store(0, Ordering::Relaxed);
        self.done.0.store(0, Ordering::Relaxed);
    }

    /// Frame phase `k`: the phase, its first unit (frame-wide) and its unit count.
    #[inline]
    fn phase(&self, k: usize) -> (Phase, usize, usize) {
        let (substep, p) = (k / self.phases.len(), k % self.phases.len());
        let (phase, start, n) = self.phases[p];
        (phase, substep * self.units_per_substep + start, n)
    }

    /// Thread `id`'s share of the frame: claims and runs units until none are left.
    fn run(&self, frame: &Frame, id: usize) {
        let _guard = PoisonOnPanic(&self.poisoned);
        let from_back = id == 1;
        let mut k = 0;
        while k < self.total {
            let (phase, start, n) = self.phase(k);
            let tag = k as u64 + 1;
            let w = self.claim.0.load(Ordering::Relaxed);
            let (pk, front, back) = unpack(w);
            // Threads are at most one phase apart: compare modulo 2^PHASE_BITS.
            let ahead = pk.wrapping_sub(tag) & PHASE_MASK;
            if ahead == PHASE_MASK {
                // The previous phase is exhausted and nobody has opened this one yet.
                let _ = self.claim.0.compare_exchange_weak(
                    w,
                    pack(tag, 0, n),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                continue;
            }
            if ahead != 0 || front >= back {
                // This phase is all claimed (and another thread has opened the next one).
                k += 1;
                continue;
            }
            let left = back - front;
            let take = if self.threads == 1 {
                left
            } else {
                left.div_ceil(4).max(MIN_CLAIM).min(left)
            };
            let (units, next) = if from_back {
                (back - take..back, pack(tag, front, back - take))
            } else {
                (front..front + take, pack(tag, front + take, back))
            };
            if self
                .claim
                .0
                .compare_exchange_weak(w, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            self.wait_for(start);
            // The tools' poses are those of this substep.
            let substep = k / self.phases.len();
            match phase {
                Phase::Predict => frame.predict(vertex_range(frame.model, units)),
                Phase::WarmStart(c) => frame.warm_start(c, units),
                Phase::ResetLambdas => frame.reset_lambdas(units),
                Phase::CollidePlanes => frame.collide(substep, units),
                Phase::Needle(pass) => frame.needle(substep, pass),
                Phase::Solve(c) => frame.solve(c, units),
                Phase::Faces => frame.faces(substep, units),
                Phase::Gather => frame.gather(substep, units),
                Phase::Finalize => {
                    frame.collide(substep, units.clone());
                    frame.finalize(vertex_range(frame.model, units));
                }
                Phase::GatherFinalize => {
                    frame.gather(substep, units.clone());
                    frame.finalize(vertex_range(frame.model, units));
                }
                Phase::Damp(c) => frame.damp(c, units),
            }
            // Release: this thread's writes are visible to whoever sees the count.
            self.done.0.fetch_add(take, Ordering::Release);
        }
    }

    /// Waits until units `0..start` are done (acquiring their writes).
    #[inline]
    fn wait_for(&self, start: usize) {
        let mut spins = 0u32;
        while self.done.0.load(Ordering::Acquire) < start {
            if spins < 1 << 10 {
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

/// Poisons the schedule if its thread unwinds.
struct PoisonOnPanic<'a>(&'a AtomicBool);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// The vertices of per-vertex units `units`.
#[inline]
fn vertex_range(model: &Model, units: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let n = model.num_vertices();
    (units.start * VERTEX_UNIT).min(n)..(units.end * VERTEX_UNIT).min(n)
}

/// Everything the phases of a frame touch, shared by the team.
///
/// Raw pointers because the threads write disjoint parts of the same arrays at the same
/// time: per-vertex phases split the vertices, tet phases the tets of one colour, which share
/// no vertex (the graph colouring), and no phase starts before the previous one is done
/// (`Schedule`).
struct Frame<'a> {
    model: &'a Model,
    control: &'a Control,
    xw: *mut [f32; 4],
    prev: *mut [f32; 4],
    vel: *mut [f32; 4],
    blocks: &'a [RestBlock],
    colour_blocks: &'a [usize],
    /// Per block.
    lambdas: *mut [[f32; LANES]; 2],
    dt: f32,
    /// Velocity damping factor per substep.
    damp: f32,
    simd: bool,
    /// The frame's tools (`CpuXpbd::step_contacts`).
    tools: Option<FrameTools<'a>>,
}

/// One frame's tools as the team uses them.
struct FrameTools<'a> {
    contacts: &'a Contacts,
    /// Bodies, the world body included.
    bodies: usize,
    /// Per vertex unit, per body: the wrench sums of the unit's vertices over the frame's
    /// collide phases (each unit's sums are written by one thread at a time, in phase order).
    sums: *mut RawWrench,
    /// Face contact: per surface triangle corner, the correction it proposes (xyz) and the
    /// body + 1 (w; 0: none), written by `Frame::faces`, read by `Frame::gather`.
    proposals: *mut [f32; 4],
    /// The needle's record (null without a needle); only the one-unit needle phases use it.
    needle: *mut NeedleDevice,
}

// SAFETY: see the type's documentation; every access goes through the phase methods below.
unsafe impl Sync for Frame<'_> {}

impl Frame<'_> {
    /// 1. Predict: v += dt (g + w f), velocity damping, prev = x, x += dt v.
    fn predict(&self, vertices: std::ops::Range<usize>) {
        let (dt, g) = (self.dt, self.model.gravity);
        for i in vertices {
            // SAFETY: in a per-vertex phase, each vertex belongs to one thread.
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
            } else {
                // A pinned vertex moves with its support's velocity (zero unless
                // `Control::pin_targets` moves it; unreferenced vertices stay at rest).
                for k in 0..3 {
                    xw[k] += dt * v[k];
                }
            }
        }
    }

    /// 2. Warm start of the tets of colour `c` in `units` (blocks of eight).
    fn warm_start(&self, c: usize, units: std::ops::Range<usize>) {
        self.tet_kernel(Kernel::WarmStart, c, units);
    }

    /// 2 (warm starting off). Rest multipliers for the tets of blocks `units`.
    fn reset_lambdas(&self, units: std::ops::Range<usize>) {
        for k in units {
            // SAFETY: block k belongs to this thread here.
            unsafe { *self.lambdas.add(k) = self.blocks[k].rest_lambda };
        }
    }

    /// 2b and 4. The collide phase on vertex units `units`: static planes, and with tools the
    /// tool shapes and attachments.
    #[inline]
    fn collide(&self, substep: usize, units: std::ops::Range<usize>) {
        match &self.tools {
            Some(tools) => self.collide_tools(tools, substep, units),
            None if !self.model.planes.is_empty() => {
                self.collide_planes(vertex_range(self.model, units))
            }
            None => {}
        }
    }

    /// Pushes these vertices out of the static planes.
    fn collide_planes(&self, vertices: std::ops::Range<usize>) {
        let model = self.model;
        for i in vertices {
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

    /// Pushes the vertices of units `units` out of the static planes, then out of the tool
    /// shapes and onto their attachments (per vertex, in that order), adding the tissue's push
    /// on each body to the unit's sums.
    fn collide_tools(&self, tools: &FrameTools, substep: usize, units: std::ops::Range<usize>) {
        let model = self.model;
        let c = tools.contacts;
        let inputs = ContactInputs {
            step: &c.substeps[substep],
            shapes: &c.shapes,
            planes: &c.hull_planes,
            attach: &c.attach,
        };
        for u in units {
            // SAFETY: in a per-vertex phase, unit u (its vertices and sums) belongs to one
            // thread.
            let sums = unsafe {
                std::slice::from_raw_parts_mut(tools.sums.add(u * tools.bodies), tools.bodies)
            };
            for i in vertex_range(model, u..u + 1) {
                // SAFETY: as above.
                let (xw, prev) = unsafe { (&mut *self.xw.add(i), &*self.prev.add(i)) };
                let w = xw[3];
                if w == 0.0 {
                    continue;
                }
                let mut x = [xw[0], xw[1], xw[2]];
                let p = [prev[0], prev[1], prev[2]];
                let x0 = model.rest_positions[i];
                for plane in &model.planes {
                    collide_plane(&mut x, &p, &x0, plane);
                }
                contact_vertex(&inputs, i, &mut x, p, x0, w, |b, f, m| {
                    let r = &mut sums[b];
                    for j in 0..3 {
                        r[j] += f[j] as f64;
                        r[3 + j] += m[j] as f64;
                    }
                });
                xw[..3].copy_from_slice(&x);
            }
        }
    }

    /// The frame's tools and their surface mesh, when face contact is on.
    fn face_tools(&self) -> Option<(&FrameTools<'_>, &SurfaceMesh)> {
        let tools = self.tools.as_ref()?;
        Some((tools, tools.contacts.surface.as_ref()?))
    }

    /// 2b' and 4'. Face contact on the surface triangles of units `units`: each triangle's
    /// proposed corrections for its corners (`contact::surface`).
    fn faces(&self, substep: usize, units: std::ops::Range<usize>) {
        let Some((tools, surface)) = self.face_tools() else {
            return;
        };
        let c = tools.contacts;
        let model = self.model;
        let step = &c.substeps[substep];
        let n = surface.faces.len();
        for f in (units.start * FACE_UNIT).min(n)..(units.end * FACE_UNIT).min(n) {
            let t = surface.faces[f];
            let mut x = [[0.0f32; 3]; 3];
            let mut p = [[0.0f32; 3]; 3];
            let mut w = [0.0f32; 3];
            for k in 0..3 {
                let i = t[k] as usize;
                let x0 = model.rest_positions[i];
                // SAFETY: the per-vertex phase before this one is done; vertices are only
                // read here.
                let (xw, pv) = unsafe { (*self.xw.add(i), *self.prev.add(i)) };
                x[k] = [x0[0] + xw[0], x0[1] + xw[1], x0[2] + xw[2]];
                p[k] = [x0[0] + pv[0], x0[1] + pv[1], x0[2] + pv[2]];
                w[k] = if c.is_attached(i) { 0.0 } else { xw[3] };
            }
            let out = face_contact(step, &c.shapes, x, p, w);
            // SAFETY: triangle f's three slots belong to the thread that runs its unit.
            unsafe {
                for k in 0..3 {
                    *tools.proposals.add(3 * f + k) = out[k];
                }
            }
        }
    }

    /// Face contact's second half on the vertices of units `units`: each surface vertex adds
    /// the mean of its triangles' proposals, and the bodies the matching impulses.
    fn gather(&self, substep: usize, units: std::ops::Range<usize>) {
        let Some((tools, surface)) = self.face_tools() else {
            return;
        };
        let c = tools.contacts;
        let model = self.model;
        let step = &c.substeps[substep];
        // SAFETY: the faces phase before this one is done; proposals are only read here.
        let proposals =
            unsafe { std::slice::from_raw_parts(tools.proposals, 3 * surface.faces.len()) };
        for u in units {
            // SAFETY: as in `collide_tools`.
            let sums = unsafe {
                std::slice::from_raw_parts_mut(tools.sums.add(u * tools.bodies), tools.bodies)
            };
            for i in vertex_range(model, u..u + 1) {
                let (a, b) = (surface.offsets[i] as usize, surface.offsets[i + 1] as usize);
                if a == b {
                    continue;
                }
                // SAFETY: as in `predict`.
                let xw = unsafe { &mut *self.xw.add(i) };
                let w = xw[3];
                if w == 0.0 || c.is_attached(i) {
                    continue;
                }
                let x0 = model.rest_positions[i];
                let mut x = [xw[0], xw[1], xw[2]];
                gather_vertex(proposals, &surface.slots[a..b], &mut x, |body, dw, x| {
                    push_impulse(step, body, x0, x, dw, w, &mut |b, f, m| {
                        let r = &mut sums[b];
                        for j in 0..3 {
                            r[j] += f[j] as f64;
                            r[3 + j] += m[j] as f64;
                        }
                    });
                });
                xw[..3].copy_from_slice(&x);
            }
        }
    }

    /// 2c and 3b. Needle pass `pass` of substep `substep`.
    fn needle(&self, substep: usize, pass: u32) {
        let Some(tools) = &self.tools else {
            return;
        };
        let model = self.model;
        // SAFETY: a needle phase is one unit, so one thread runs it and no other touches the
        // frame's arrays meanwhile; `needle` is set whenever the phase is planned.
        let (dev, xw) = unsafe {
            (
                &mut *tools.needle,
                std::slice::from_raw_parts_mut(self.xw, model.num_vertices()),
            )
        };
        needle_pass(
            dev,
            &tools.contacts.substeps[substep],
            xw,
            &model.rest_positions,
            self.dt,
            pass,
        );
    }

    /// 3. Projects the tets of colour `c` in `units`.
    fn solve(&self, c: usize, units: std::ops::Range<usize>) {
        self.tet_kernel(Kernel::Solve, c, units);
    }

    /// 4. Velocities: v = (x - prev) / dt.
    fn finalize(&self, vertices: std::ops::Range<usize>) {
        let inv_dt = 1.0 / self.dt;
        for i in vertices {
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

    /// 5. Implicit Rayleigh damping of the velocities of the tets of colour `c` in `units`.
    fn damp(&self, c: usize, units: std::ops::Range<usize>) {
        self.tet_kernel(Kernel::Damp, c, units);
    }

    /// A tet kernel on blocks `units` of colour `c`: through the SIMD path, or one tet at a
    /// time where there is none.
    fn tet_kernel(&self, kernel: Kernel, c: usize, units: std::ops::Range<usize>) {
        let first = self.colour_blocks[c];
        let blocks = first + units.start..first + units.end;
        // SAFETY: tets of one colour share no vertex, indices were checked when the model was
        // built, and each thread owns its blocks (and their multipliers) in this colour.
        unsafe {
            if self.simd {
                self.blocks(kernel, blocks);
            } else {
                for k in blocks {
                    for l in 0..self.blocks[k].len as usize {
                        self.single_tet(kernel, k, l);
                    }
                }
            }
        }
    }

    /// The scalar kernels (`constraints.rs`) on lane `l` of block `k`.
    ///
    /// # Safety
    /// As `lanes::run_block`, for one tet.
    unsafe fn single_tet(&self, kernel: Kernel, k: usize, l: usize) {
        let model = self.model;
        let t = self.blocks[k].tet[l] as usize;
        let tet = model.tets[t];
        if let Kernel::Damp = kernel {
            return self.single_damp(t);
        }
        let gamma = model.material_params[model.tet_material[t] as usize].gamma;
        let mut v = TetVerts::default();
        for i in 0..4 {
            let (xw, p) = (
                *self.xw.add(tet[i] as usize),
                *self.prev.add(tet[i] as usize),
            );
            v.x[i] = [xw[0], xw[1], xw[2]];
            v.prev[i] = [p[0], p[1], p[2]];
            v.w[i] = xw[3];
        }
        let lam = &mut *self.lambdas.add(k);
        let mut lambda = [lam[0][l], lam[1][l]];
        match kernel {
            Kernel::WarmStart => {
                warm_start_tet(&mut v, &model.rest[t], &mut lambda, gamma, self.dt)
            }
            Kernel::Solve => project_tet(&mut v, &model.rest[t], gamma, 1.0 / self.dt, &mut lambda),
            Kernel::Damp => unreachable!("single_damp"),
        }
        (lam[0][l], lam[1][l]) = (lambda[0], lambda[1]);
        for i in 0..4 {
            let xw = &mut *self.xw.add(tet[i] as usize);
            xw[..3].copy_from_slice(&v.x[i]);
        }
    }

    /// `damp_tet` on tet `t`, if its material has damping.
    ///
    /// # Safety
    /// As `lanes::damp_block`, for one tet.
    unsafe fn single_damp(&self, t: usize) {
        let model = self.model;
        let beta = model.material_params[model.tet_material[t] as usize].beta;
        if beta > 0.0 {
            let tet = model.tets[t];
            // x holds velocities here, prev displacements.
            let mut v = TetVerts::default();
            for k in 0..4 {
                let i = tet[k] as usize;
                let (xw, vel) = (*self.xw.add(i), *self.vel.add(i));
                v.x[k] = [vel[0], vel[1], vel[2]];
                v.prev[k] = [xw[0], xw[1], xw[2]];
                v.w[k] = xw[3];
            }
            damp_tet(&mut v, &model.rest[t], beta, self.dt);
            for k in 0..4 {
                let vel = &mut *self.vel.add(tet[k] as usize);
                vel[..3].copy_from_slice(&v.x[k]);
            }
        }
    }

    /// The eight-lane kernels on blocks `blocks` (all of one colour).
    ///
    /// # Safety
    /// As `lanes::run_block`; `self.simd` must be set.
    unsafe fn blocks(&self, kernel: Kernel, blocks: std::ops::Range<usize>) {
        #[cfg(target_arch = "x86_64")]
        return blocks_avx2(self, kernel, blocks);
        #[cfg(not(target_arch = "x86_64"))]
        blocks_generic(self, kernel, blocks)
    }
}

/// # Safety
/// As `lanes::run_block`.
#[inline(always)]
unsafe fn blocks_generic(f: &Frame, kernel: Kernel, blocks: std::ops::Range<usize>) {
    for k in blocks {
        match kernel {
            Kernel::Damp => lanes::damp_block(&f.blocks[k], f.xw, f.vel, f.dt),
            _ => lanes::run_block(
                &f.blocks[k],
                &mut *f.lambdas.add(k),
                f.xw,
                f.prev,
                kernel,
                f.dt,
            ),
        }
    }
}

/// The same, compiled for AVX2 (8 f32 lanes per instruction).
///
/// # Safety
/// As `lanes::run_block`, and the CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn blocks_avx2(f: &Frame, kernel: Kernel, blocks: std::ops::Range<usize>) {
    blocks_generic(f, kernel, blocks)
}

/// Whether the eight-lane kernels can run here (AVX2 on x86-64; always elsewhere).
fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    true
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames run by a chooser whose team of 2 takes `team_s` and one thread `one_s`:
    /// returns the sizes chosen.
    fn choices(team_s: f64, one_s: f64, frames: usize) -> Vec<usize> {
        let mut c = TeamChooser::default();
        (0..frames)
            .map(|_| {
                let n = c.choose(2);
                c.record(2, n, if n == 1 { one_s } else { team_s });
                n
            })
            .collect()
    }

    #[test]
    fn the_team_chooser_keeps_the_faster_size_and_probes_ever_less_often() {
        // Unloaded: the team is faster; one thread is tried on frame 2, then at growing
        // intervals (16, 32, 64, 128, 256 frames): 7 frames of 1,000 on one thread.
        let free = choices(1.0, 1.7, 1000);
        let ones = free.iter().filter(|&&n| n == 1).count();
        assert_eq!((free[0], free[1], free[2]), (2, 1, 2));
        assert!(ones <= 8, "{ones} probes");
        // Loaded: one thread is faster; it is kept, the team probed as rarely.
        let loaded = choices(2.0, 1.0, 1000);
        let teams = loaded.iter().filter(|&&n| n == 2).count();
        assert!(loaded[500..].iter().filter(|&&n| n == 2).count() <= 2);
        assert!(teams <= 8, "{teams} team frames");
        // A team of one is one thread.
        assert_eq!(TeamChooser::default().choose(1), 1);
    }

    #[test]
    fn auto_shares_the_cores_and_keeps_small_models_on_few_threads() {
        let big = 100 * MIN_TETS_PER_THREAD;
        assert_eq!(auto_team_size(16, 1, big), 16);
        assert_eq!(auto_team_size(16, 4, big), 4);
        assert_eq!(auto_team_size(16, 3, big), 5);
        // More runs than cores: one thread each, never none.
        assert_eq!(auto_team_size(16, 40, big), 1);
        assert_eq!(auto_team_size(16, 0, big), 16);
        // The model-size cap.
        assert_eq!(auto_team_size(16, 1, 3 * MIN_TETS_PER_THREAD + 1), 3);
        assert_eq!(auto_team_size(16, 1, 100), 1);
    }
}
