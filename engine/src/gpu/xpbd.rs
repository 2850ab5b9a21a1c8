//! The XPBD substep on the GPU: compiled kernels, device buffers and the frame recorder.
//!
//! A frame is recorded as one compute pass: per substep `predict`, `warm_start` (one dispatch
//! per colour), `solve` (one dispatch per colour and iteration), `finalize`; then `end_frame`.
//! Nothing comes back to the host during a frame: the state is read only by
//! [`GpuXpbd::read_state`] and the failure flag only by [`GpuXpbd::check`].

use super::GpuContext;
use crate::contact::needle::{NeedleDevice, NeedleHeader, NeedleTrack, MAX_TRACKS};
use crate::contact::{Contacts, RawWrench, ShapeParams, ToolState, ToolSubstep, MAX_SHAPES};
use crate::mesh::RegionId;
use crate::model::{Control, MaterialParams, Model, State, MAX_MATERIALS, MAX_PLANES};
use crate::solver::guards::energy_noise_floor;
use crate::solver::{
    plan_substeps, Guards, HealthLimits, RegionHealth, SimError, SolverConfig, StepPlan,
    VOLUME_FIXED_ONE,
};
use wgpu::util::DeviceExt;

const WORKGROUP: u32 = 64;
/// Byte offset of `Params::counts.z` (the external-force flag).
const HAS_FORCES_OFFSET: u64 = 40;
/// Largest number of workgroups in one dispatch dimension (WebGPU's guaranteed limit).
const MAX_GROUPS: u32 = 65535;
/// Workgroups of the contact reduction (each sums a strided share of the vertices).
const REDUCE_GROUPS: u32 = 64;
/// Byte offset of `Params::guards.w` (the frame's energy input, [`EnergyMode`]).
const ENERGY_MODE_OFFSET: u64 = 60;
/// Words of the `status` buffer before the energy partials (what [`GpuXpbd::check`] reads),
/// and the offsets of the per-frame guards in it (the `STATUS_*` constants of
/// `shaders/xpbd/common.wgsl`).
const STATUS_HEADER: usize = 148;
const STATUS_BREACH_FRAME: usize = 8;
const STATUS_BREACH_SPEED2: usize = 9;
const STATUS_BREACH_GROWTH: usize = 11;
const STATUS_BREACH_SCALE: usize = 12;
const STATUS_BREACH_ENERGY: usize = 13;
const STATUS_BREACH_INVERTED: usize = 80;
const STATUS_BREACH_VOLUME: usize = 112;

/// What did work on the tissue in a frame, for the device's energy watch (`Params::guards.w`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
enum EnergyMode {
    /// Nothing: the energy guard judges the frame.
    NoInput = 0,
    /// Applied forces or moving supports: the watch starts again.
    Unknown = 1,
    /// Tools: not judged on the device (the co-simulation judges it with the tools' work).
    Tools = 2,
}

/// The device side of the tools (bind group 2): one frame's substep records, the static
/// shape data, attachments, per-vertex impulse sums and the needle.
struct GpuTools {
    substeps: wgpu::Buffer,
    acc: wgpu::Buffer,
    needle: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    bodies: u32,
    has_needle: bool,
    /// Surface triangles of face contact (0: off).
    faces: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuPlane {
    normal_offset: [f32; 4],
    friction: [f32; 4],
}

/// Uniform parameters, laid out as `Params` in `shaders/xpbd/common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    gravity_dt: [f32; 4],
    misc: [f32; 4],
    counts: [u32; 4],
    guards: [u32; 4],
    energy: [f32; 4],
    materials: [MaterialParams; MAX_MATERIALS],
    health: [HealthLimits; MAX_MATERIALS],
    planes: [GpuPlane; MAX_PLANES],
}
const _: () = assert!(std::mem::size_of::<Params>() == 80 + 32 * MAX_MATERIALS + 32 * MAX_PLANES);

/// The XPBD kernels and the device-side model and state of one tissue.
pub struct GpuXpbd {
    ctx: GpuContext,
    plan: StepPlan,
    max_speed: f64,
    /// The per-frame guards, judged on the device (`guard_sums`, `end_frame`).
    guards: Guards,
    /// The energy input the device was last told of.
    energy_mode: EnergyMode,
    /// Per material: its region and tets (to describe a breach the device found).
    material_tets: Vec<(RegionId, usize)>,
    num_vertices: u32,
    num_tets: u32,
    colours: Vec<(u32, u32)>,
    colour_stride: u32,
    // Compiled kernels, named after their WGSL entry points.
    predict: wgpu::ComputePipeline,
    warm_start: wgpu::ComputePipeline,
    solve: wgpu::ComputePipeline,
    finalize: wgpu::ComputePipeline,
    end_frame: wgpu::ComputePipeline,
    guard_sums: wgpu::ComputePipeline,
    reset_lambdas: wgpu::ComputePipeline,
    damp: wgpu::ComputePipeline,
    damped: bool,
    collide: wgpu::ComputePipeline,
    faces: wgpu::ComputePipeline,
    gather: wgpu::ComputePipeline,
    gather_finalize: wgpu::ComputePipeline,
    needle_before_solve: wgpu::ComputePipeline,
    needle_after_solve: wgpu::ComputePipeline,
    reduce_contacts: wgpu::ComputePipeline,
    drive_pins: wgpu::ComputePipeline,
    hold_pins: wgpu::ComputePipeline,
    /// The model's pinned vertices (the order of `Control::pin_targets`).
    pinned: Vec<u32>,
    pin_drive: wgpu::Buffer,
    /// Whether a pinned vertex may have a velocity (set by a drive, cleared by a hold).
    pins_moving: bool,
    num_planes: usize,
    tool_layout: wgpu::BindGroupLayout,
    tool_stride: u32,
    /// Group 2 with no tools (plain `step`).
    idle_tools: GpuTools,
    tools: Option<GpuTools>,
    // Device buffers.
    params: wgpu::Buffer,
    pos: wgpu::Buffer,
    vel: wgpu::Buffer,
    lambdas: wgpu::Buffer,
    forces: wgpu::Buffer,
    status: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    colour_bind_group: wgpu::BindGroup,
    has_forces: bool,
    frames: u64,
    time: f64,
    lambda_dt: f32,
}

/// What the pinned vertices do in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PinDrive {
    /// Move to the uploaded targets over the frame (`drive_pins` sets their velocity).
    Drive,
    /// Hold still (`hold_pins` zeroes their velocity if a drive may have left one).
    Hold,
}

fn storage(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn uniform(binding: u32, dynamic: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: None,
        },
        count: None,
    }
}

fn groups(n: u32) -> u32 {
    n.div_ceil(WORKGROUP)
}

impl GpuXpbd {
    /// Compiles the kernels and uploads `model` and `state`.
    pub fn new(
        ctx: &GpuContext,
        model: &Model,
        state: &State,
        config: &SolverConfig,
    ) -> Result<Self, SimError> {
        let plan = plan_substeps(model, config)?;
        let device = &ctx.device;
        let nv = model.num_vertices() as u32;
        let nt = model.num_tets() as u32;
        if groups(nv) > MAX_GROUPS {
            return Err(SimError::Gpu(format!(
                "{nv} vertices exceed one dispatch ({} max)",
                MAX_GROUPS * WORKGROUP
            )));
        }
        let colours: Vec<(u32, u32)> = model
            .colour_offsets
            .windows(2)
            .map(|w| (w[0], w[1] - w[0]))
            .collect();
        if let Some(&(_, n)) = colours.iter().find(|c| groups(c.1) > MAX_GROUPS) {
            return Err(SimError::Gpu(format!(
                "a colour of {n} tets exceeds one dispatch ({} max)",
                MAX_GROUPS * WORKGROUP
            )));
        }

        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("xpbd"),
            entries: &[
                uniform(0, false),
                storage(1, false),
                storage(2, false),
                storage(3, false),
                storage(4, true),
                storage(5, true),
                storage(6, false),
                storage(7, true),
                storage(8, false),
                storage(9, true),
                storage(10, true),
            ],
        });
        let colour_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("xpbd colour"),
            entries: &[uniform(0, true)],
        });
        let tool_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("xpbd tools"),
            entries: &[
                uniform(0, true),
                storage(1, true),
                storage(2, true),
                storage(3, false),
                storage(4, false),
                storage(5, true),
                storage(6, false),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("xpbd"),
            bind_group_layouts: &[Some(&layout), Some(&colour_layout), Some(&tool_layout)],
            immediate_size: 0,
        });
        let sources = crate::shaders::shader_sources();
        let module = |name: &str| {
            let s = sources
                .iter()
                .find(|s| s.name == name)
                .expect("shader is embedded");
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(s.name),
                source: wgpu::ShaderSource::Wgsl(s.source.as_str().into()),
            })
        };
        let tets_module = module("xpbd/tets.wgsl");
        let vertices_module = module("xpbd/vertices.wgsl");
        let needle_module = module("xpbd/needle.wgsl");
        let pipeline = |m: &wgpu::ShaderModule, entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pipeline_layout),
                module: m,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };

        // Buffers.
        let mut params = Params {
            gravity_dt: [
                model.gravity[0],
                model.gravity[1],
                model.gravity[2],
                plan.dt as f32,
            ],
            misc: [
                1.0 / plan.dt as f32, // as the CPU backend computes it
                (1.0 - model.velocity_damping * plan.dt as f32).max(0.0),
                (config.max_speed * config.max_speed) as f32,
                (1.0 / plan.frame_dt) as f32, // as the CPU backend computes it
            ],
            counts: [nv, model.planes.len() as u32, 0, nt],
            guards: [
                config.guards.enabled as u32,
                model.materials.len() as u32,
                ((config.guards.speed_limit(model, &plan)).powi(2) as f32).to_bits(),
                EnergyMode::NoInput as u32,
            ],
            energy: [
                config.guards.max_energy_growth as f32,
                energy_noise_floor(model) as f32,
                0.0,
                0.0,
            ],
            materials: [MaterialParams::default(); MAX_MATERIALS],
            health: [HealthLimits::default(); MAX_MATERIALS],
            planes: [GpuPlane {
                normal_offset: [0.0; 4],
                friction: [0.0; 4],
            }; MAX_PLANES],
        };
        params.materials[..model.material_params.len()].copy_from_slice(&model.material_params);
        let health = config.guards.health_limits(model);
        params.health[..health.len()].copy_from_slice(&health);
        for (dst, p) in params.planes.iter_mut().zip(&model.planes) {
            dst.normal_offset = [
                p.normal[0] as f32,
                p.normal[1] as f32,
                p.normal[2] as f32,
                p.offset as f32,
            ];
            dst.friction = [
                p.static_friction as f32,
                p.kinetic_friction as f32,
                0.0,
                0.0,
            ];
        }
        let init = |label: &str, contents: &[u8], usage: wgpu::BufferUsages| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage,
            })
        };
        use wgpu::BufferUsages as U;
        let rw = U::STORAGE | U::COPY_SRC | U::COPY_DST;
        let params_buf = init(
            "params",
            bytemuck::bytes_of(&params),
            U::UNIFORM | U::COPY_DST,
        );
        let vec4_zeros = vec![[0.0f32; 4]; nv as usize];
        let pos = init("pos", bytemuck::cast_slice(&vec4_zeros), rw);
        let prev = init("prev", bytemuck::cast_slice(&vec4_zeros), rw);
        let vel = init("vel", bytemuck::cast_slice(&vec4_zeros), rw);
        let tets = init("tets", bytemuck::cast_slice(&model.tets), U::STORAGE);
        let rest = init("rest", bytemuck::cast_slice(&model.rest), U::STORAGE);
        let lambdas = init(
            "lambdas",
            bytemuck::cast_slice(&vec![[0.0f32; 2]; nt as usize]),
            rw,
        );
        let forces = init(
            "forces",
            bytemuck::cast_slice(&vec4_zeros),
            U::STORAGE | U::COPY_DST,
        );
        let mut status_init = status_words(0);
        status_init.resize(STATUS_HEADER + 3 * groups(nv.max(nt)) as usize, 0);
        let status = init("status", bytemuck::cast_slice(&status_init), rw);
        let rest_pos: Vec<[f32; 4]> = model
            .rest_positions
            .iter()
            .zip(&model.mass)
            .map(|(p, &m)| [p[0], p[1], p[2], m])
            .collect();
        let rest_pos = init("rest_pos", bytemuck::cast_slice(&rest_pos), U::STORAGE);
        // Per pinned vertex: its target displacement (xyz) and its index (w, bits); one
        // entry that names no vertex when nothing is pinned (a binding cannot be empty).
        let pin_drive: Vec<[f32; 4]> = if model.pinned.is_empty() {
            vec![[0.0, 0.0, 0.0, f32::from_bits(u32::MAX)]]
        } else {
            model
                .pinned
                .iter()
                .map(|&i| [0.0, 0.0, 0.0, f32::from_bits(i)])
                .collect()
        };
        let pin_drive = init(
            "pin drive",
            bytemuck::cast_slice(&pin_drive),
            U::STORAGE | U::COPY_DST,
        );
        let align = device.limits().min_uniform_buffer_offset_alignment.max(16);
        let mut colour_data = vec![0u8; (align as usize) * colours.len()];
        for (k, &(offset, count)) in colours.iter().enumerate() {
            let at = k * align as usize;
            colour_data[at..at + 8].copy_from_slice(bytemuck::cast_slice(&[offset, count]));
        }
        let colour_buf = init("colours", &colour_data, U::UNIFORM);

        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("xpbd"),
            layout: &layout,
            entries: &[
                &params_buf,
                &pos,
                &prev,
                &vel,
                &tets,
                &rest,
                &lambdas,
                &forces,
                &status,
                &rest_pos,
                &pin_drive,
            ]
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect::<Vec<_>>(),
        });
        let colour_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("xpbd colour"),
            layout: &colour_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &colour_buf,
                    offset: 0,
                    size: wgpu::BufferSize::new(16),
                }),
            }],
        });

        let tool_stride = (std::mem::size_of::<ToolSubstep>() as u32).div_ceil(align) * align;
        let idle_tools = Self::tool_buffers(
            device,
            &tool_layout,
            &[ToolSubstep::default()],
            tool_stride,
            None,
            nv,
        );
        let mut me = Self {
            ctx: ctx.clone(),
            max_speed: config.max_speed,
            guards: config.guards.clone(),
            energy_mode: EnergyMode::NoInput,
            material_tets: model
                .materials
                .iter()
                .enumerate()
                .map(|(m, &(region, _))| {
                    let n = model
                        .tet_material
                        .iter()
                        .filter(|&&t| t as usize == m)
                        .count();
                    (region, n)
                })
                .collect(),
            num_vertices: nv,
            num_tets: nt,
            colours,
            colour_stride: align,
            predict: pipeline(&vertices_module, "predict"),
            warm_start: pipeline(&tets_module, "warm_start"),
            solve: pipeline(&tets_module, "solve"),
            finalize: pipeline(&vertices_module, "finalize"),
            end_frame: pipeline(&vertices_module, "end_frame"),
            guard_sums: pipeline(&tets_module, "guard_sums"),
            reset_lambdas: pipeline(&tets_module, "reset_lambdas"),
            damp: pipeline(&tets_module, "damp"),
            collide: pipeline(&vertices_module, "collide"),
            faces: pipeline(&vertices_module, "faces"),
            gather: pipeline(&vertices_module, "gather"),
            gather_finalize: pipeline(&vertices_module, "gather_finalize"),
            needle_before_solve: pipeline(&needle_module, "needle_before_solve"),
            needle_after_solve: pipeline(&needle_module, "needle_after_solve"),
            reduce_contacts: pipeline(&needle_module, "reduce_contacts"),
            drive_pins: pipeline(&vertices_module, "drive_pins"),
            hold_pins: pipeline(&vertices_module, "hold_pins"),
            pinned: model.pinned.clone(),
            pin_drive,
            pins_moving: false,
            num_planes: model.planes.len(),
            tool_layout,
            tool_stride,
            idle_tools,
            tools: None,
            damped: model.material_params.iter().any(|m| m.beta > 0.0),
            params: params_buf,
            pos,
            vel,
            lambdas,
            forces,
            status,
            bind_group,
            colour_bind_group,
            has_forces: false,
            frames: state.step,
            time: state.time,
            lambda_dt: 0.0,
            plan,
        };
        me.write_state(model, state)?;
        Ok(me)
    }

    /// The substep plan in use.
    pub fn plan(&self) -> &StepPlan {
        &self.plan
    }

    /// Simulated time of the frames recorded so far (s).
    pub fn time(&self) -> f64 {
        self.time
    }

    /// The adapter this runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Uploads a state (positions, velocities, warm-start multipliers).
    pub fn write_state(&mut self, model: &Model, state: &State) -> Result<(), SimError> {
        let nv = self.num_vertices as usize;
        if state.displacements.len() != nv
            || state.velocities.len() != nv
            || state.lambdas.len() != self.num_tets as usize
        {
            return Err(SimError::Config(
                "state does not belong to this model".into(),
            ));
        }
        let pos: Vec<[f32; 4]> = state
            .displacements
            .iter()
            .zip(&model.inv_mass)
            .map(|(p, &w)| [p[0], p[1], p[2], w])
            .collect();
        let vel: Vec<[f32; 4]> = state
            .velocities
            .iter()
            .map(|v| [v[0], v[1], v[2], 0.0])
            .collect();
        let mut s = State {
            lambdas: state.lambdas.clone(),
            lambda_dt: state.lambda_dt,
            ..Default::default()
        };
        crate::solver::cpu::prepare_lambdas(
            model,
            &mut s,
            self.plan.dt as f32,
            self.plan.warm_start,
        );
        let q = &self.ctx.queue;
        q.write_buffer(&self.pos, 0, bytemuck::cast_slice(&pos));
        q.write_buffer(&self.vel, 0, bytemuck::cast_slice(&vel));
        q.write_buffer(&self.lambdas, 0, bytemuck::cast_slice(&s.lambdas));
        q.write_buffer(
            &self.status,
            0,
            bytemuck::cast_slice(&status_words(state.step as u32)),
        );
        self.frames = state.step;
        self.time = state.time;
        self.lambda_dt = s.lambda_dt;
        // The state may hold a support's velocity: the next frame without a drive stops it.
        self.pins_moving = true;
        Ok(())
    }

    /// Records and submits `frames` frames. Returns without waiting for the GPU.
    pub fn step(&mut self, control: &Control, frames: u32) -> Result<(), SimError> {
        let pins = self.upload_control(control)?;
        self.step_frames(frames, pins);
        Ok(())
    }

    /// Uploads the external vertex forces (only when there are some) and the pins' targets;
    /// returns what the pins do in the next frame.
    fn upload_control(&mut self, control: &Control) -> Result<PinDrive, SimError> {
        let nv = self.num_vertices as usize;
        crate::solver::cpu::check_pin_targets(&self.pinned, control)?;
        let q = &self.ctx.queue;
        if !control.vertex_forces.is_empty() {
            if control.vertex_forces.len() != nv {
                return Err(SimError::Control(format!(
                    "{} vertex forces for {nv} vertices",
                    control.vertex_forces.len()
                )));
            }
            let f: Vec<[f32; 4]> = control
                .vertex_forces
                .iter()
                .map(|f| [f[0], f[1], f[2], 0.0])
                .collect();
            q.write_buffer(&self.forces, 0, bytemuck::cast_slice(&f));
        }
        let has_forces = !control.vertex_forces.is_empty();
        if has_forces != self.has_forces {
            q.write_buffer(
                &self.params,
                HAS_FORCES_OFFSET,
                bytemuck::bytes_of(&(has_forces as u32)),
            );
            self.has_forces = has_forces;
        }
        Ok(if !control.pin_targets.is_empty() {
            let drive: Vec<[f32; 4]> = control
                .pin_targets
                .iter()
                .zip(&self.pinned)
                .map(|(t, &i)| [t[0], t[1], t[2], f32::from_bits(i)])
                .collect();
            q.write_buffer(&self.pin_drive, 0, bytemuck::cast_slice(&drive));
            PinDrive::Drive
        } else {
            PinDrive::Hold
        })
    }

    /// Records the pins' velocity update at the start of a frame (none while they rest);
    /// returns whether they may move after it (the caller keeps it in `pins_moving`).
    fn encode_pins(&self, pass: &mut wgpu::ComputePass<'_>, pins: PinDrive) -> bool {
        let pipeline = match pins {
            PinDrive::Drive => &self.drive_pins,
            PinDrive::Hold if self.pins_moving => &self.hold_pins,
            PinDrive::Hold => return false,
        };
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.set_bind_group(1, &self.colour_bind_group, &[0]);
        pass.set_bind_group(2, &self.idle_tools.bind_group, &[0]);
        pass.set_pipeline(pipeline);
        pass.dispatch_workgroups(groups(self.pinned.len().max(1) as u32), 1, 1);
        pins == PinDrive::Drive
    }

    fn step_frames(&mut self, frames: u32, mut pins: PinDrive) {
        for _ in 0..frames {
            self.set_energy_mode(if self.has_forces || pins == PinDrive::Drive {
                EnergyMode::Unknown
            } else {
                EnergyMode::NoInput
            });
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("frame"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("xpbd frame"),
                    timestamp_writes: None,
                });
                self.pins_moving = self.encode_pins(&mut pass, pins);
                self.encode_substeps(&mut pass, None);
                self.encode_end_frame(&mut pass);
            }
            self.ctx.queue.submit([enc.finish()]);
            self.frames += 1;
            self.time += self.plan.frame_dt;
            // Reached: the next frames hold the pins there.
            pins = PinDrive::Hold;
        }
    }

    /// Creates the tool buffers and their bind group (`None`: the idle group of frames
    /// without tools).
    fn tool_buffers(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        substeps: &[ToolSubstep],
        stride: u32,
        contacts: Option<&Contacts>,
        nv: u32,
    ) -> GpuTools {
        let shapes = contacts.map_or(&[][..], |c| &c.shapes);
        let planes = contacts.map_or(&[][..], |c| &c.hull_planes);
        let attach = contacts.map_or(&[][..], |c| &c.attach);
        let bodies = contacts.map_or(0, |c| c.num_bodies() as u32);
        let has_needle = contacts.is_some_and(|c| c.has_needle());
        let surface = contacts.and_then(|c| c.surface.as_ref());
        use wgpu::BufferUsages as U;
        let init = |label: &str, contents: &[u8], usage: wgpu::BufferUsages| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage,
            })
        };
        let mut sub = vec![0u8; stride as usize * substeps.len().max(1)];
        for (k, r) in substeps.iter().enumerate() {
            let at = k * stride as usize;
            sub[at..at + std::mem::size_of::<ToolSubstep>()].copy_from_slice(bytemuck::bytes_of(r));
        }
        let substeps_buf = init("tool substeps", &sub, U::UNIFORM | U::COPY_DST);
        let mut stat = vec![ShapeParams::default(); MAX_SHAPES];
        stat[..shapes.len()].copy_from_slice(shapes);
        let mut stat: Vec<[f32; 4]> = bytemuck::cast_slice(&stat).to_vec();
        stat.extend_from_slice(planes);
        let static_buf = init("tool shapes", bytemuck::cast_slice(&stat), U::STORAGE);
        let attach_buf = if attach.is_empty() {
            init("attach", bytemuck::cast_slice(&[[0.0f32; 4]]), U::STORAGE)
        } else {
            init("attach", bytemuck::cast_slice(attach), U::STORAGE)
        };
        let acc_len = ((nv as u64 + REDUCE_GROUPS as u64) * bodies.max(1) as u64 * 2).max(2);
        let acc = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("contact sums"),
            size: acc_len * 16,
            usage: U::STORAGE | U::COPY_SRC | U::COPY_DST,
            mapped_at_creation: false,
        });
        let tracks = if has_needle { MAX_TRACKS } else { 1 };
        let needle = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("needle"),
            size: (std::mem::size_of::<NeedleHeader>()
                + tracks * std::mem::size_of::<NeedleTrack>()) as u64,
            usage: U::STORAGE | U::COPY_SRC | U::COPY_DST,
            mapped_at_creation: false,
        });
        let faces = surface.map_or(0, |m| m.faces.len() as u32);
        let surface_buf = match surface {
            Some(m) => init("surface", bytemuck::cast_slice(&m.packed()), U::STORAGE),
            None => init("surface", bytemuck::cast_slice(&[0u32; 4]), U::STORAGE),
        };
        let proposals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("face proposals"),
            size: (3 * faces as u64).max(1) * 16,
            usage: U::STORAGE,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("xpbd tools"),
            layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &substeps_buf,
                        offset: 0,
                        size: wgpu::BufferSize::new(std::mem::size_of::<ToolSubstep>() as u64),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: static_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: attach_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: acc.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: needle.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: surface_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 6,
                    resource: proposals.as_entire_binding(),
                },
            ],
        });
        GpuTools {
            substeps: substeps_buf,
            acc,
            needle,
            bind_group,
            bodies,
            has_needle,
            faces,
        }
    }

    /// Uploads the tools' static data (shapes, attachments) and sizes their buffers.
    pub fn set_contacts(&mut self, contacts: &Contacts) -> Result<(), SimError> {
        let faces = contacts.surface.as_ref().map_or(0, |s| s.faces.len());
        if faces > (MAX_GROUPS * WORKGROUP) as usize {
            return Err(SimError::Config(format!(
                "{faces} surface triangles of face contact exceed one dispatch ({} max)",
                MAX_GROUPS * WORKGROUP
            )));
        }
        let substeps = vec![ToolSubstep::default(); self.plan.substeps as usize];
        self.tools = Some(Self::tool_buffers(
            &self.ctx.device,
            &self.tool_layout,
            &substeps,
            self.tool_stride,
            Some(contacts),
            self.num_vertices,
        ));
        Ok(())
    }

    /// Records, submits and waits for one frame with tools: the frame's substep records go
    /// up in one write, the per-body sums (and the needle's record) come back in one
    /// read-back each.
    pub(crate) fn step_contacts(
        &mut self,
        control: &Control,
        contacts: &Contacts,
        state: &mut ToolState,
    ) -> Result<(Vec<RawWrench>, Option<NeedleDevice>), SimError> {
        let pins = self.upload_control(control)?;
        self.set_energy_mode(EnergyMode::Tools);
        let Some(tools) = &self.tools else {
            return Err(SimError::Config(
                "GPU: tools used before set_contacts".into(),
            ));
        };
        let q = &self.ctx.queue;
        let stride = self.tool_stride as usize;
        let mut sub = vec![0u8; stride * contacts.substeps.len()];
        for (k, r) in contacts.substeps.iter().enumerate() {
            sub[k * stride..k * stride + std::mem::size_of::<ToolSubstep>()]
                .copy_from_slice(bytemuck::bytes_of(r));
        }
        q.write_buffer(&tools.substeps, 0, &sub);
        if let Some(nd) = &mut state.needle {
            q.write_buffer(&tools.needle, 0, bytemuck::bytes_of(&nd.dev.header));
            let from = nd.upload_from.min(nd.dev.tracks.len());
            if from < nd.dev.tracks.len() {
                let at =
                    std::mem::size_of::<NeedleHeader>() + from * std::mem::size_of::<NeedleTrack>();
                q.write_buffer(
                    &tools.needle,
                    at as u64,
                    bytemuck::cast_slice(&nd.dev.tracks[from..]),
                );
            }
            nd.upload_from = nd.dev.tracks.len();
        }
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame with tools"),
            });
        enc.clear_buffer(&tools.acc, 0, None);
        let pins_moving;
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("xpbd frame with tools"),
                timestamp_writes: None,
            });
            pins_moving = self.encode_pins(&mut pass, pins);
            self.encode_substeps(&mut pass, Some(tools));
            pass.set_bind_group(2, &tools.bind_group, &[0]);
            pass.set_pipeline(&self.reduce_contacts);
            pass.dispatch_workgroups(REDUCE_GROUPS, 1, 1);
            self.encode_end_frame(&mut pass);
        }
        q.submit([enc.finish()]);
        self.frames += 1;
        self.time += self.plan.frame_dt;
        // Read back the partial sums and the needle.
        let nb = tools.bodies.max(1) as u64;
        let part_at = self.num_vertices as u64 * nb * 2 * 16;
        let part: Vec<[f32; 4]> = bytemuck::pod_collect_to_vec(&self.read_range(
            &tools.acc,
            part_at,
            REDUCE_GROUPS as u64 * nb * 2 * 16,
        )?);
        let mut raw = vec![[0.0f64; 6]; tools.bodies as usize];
        for g in 0..REDUCE_GROUPS as usize {
            for (b, r) in raw.iter_mut().enumerate() {
                let f = part[(g * nb as usize + b) * 2];
                let m = part[(g * nb as usize + b) * 2 + 1];
                for j in 0..3 {
                    r[j] += f[j] as f64;
                    r[3 + j] += m[j] as f64;
                }
            }
        }
        let needle = match &state.needle {
            Some(nd) => {
                let n = nd.dev.tracks.len();
                let size =
                    std::mem::size_of::<NeedleHeader>() + n * std::mem::size_of::<NeedleTrack>();
                let bytes = self.read_range(&tools.needle, 0, size as u64)?;
                let hs = std::mem::size_of::<NeedleHeader>();
                Some(NeedleDevice {
                    header: bytemuck::pod_read_unaligned(&bytes[..hs]),
                    tracks: bytemuck::pod_collect_to_vec(&bytes[hs..]),
                })
            }
            None => None,
        };
        self.pins_moving = pins_moving;
        Ok((raw, needle))
    }

    /// One frame's substeps, in the order the CPU backend runs them: predict, warm start,
    /// collide (planes, then tools), face contact (faces, gather), needle before the solve,
    /// solve, needle after it, finalize (with face contact: collide, faces, gather and
    /// finalize), damp. With `tools`, substep `s` reads its tool poses at dynamic offset
    /// `s * tool_stride`; without, the idle tool group is bound and collide runs only for
    /// planes.
    fn encode_substeps(&self, pass: &mut wgpu::ComputePass<'_>, tools: Option<&GpuTools>) {
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.set_bind_group(1, &self.colour_bind_group, &[0]);
        if tools.is_none() {
            pass.set_bind_group(2, &self.idle_tools.bind_group, &[0]);
        }
        let needle = tools.is_some_and(|t| t.has_needle);
        let collide = tools.is_some() || self.num_planes > 0;
        let faces = tools.map_or(0, |t| t.faces);
        let vg = groups(self.num_vertices);
        for s in 0..self.plan.substeps {
            if let Some(t) = tools {
                pass.set_bind_group(2, &t.bind_group, &[s * self.tool_stride]);
            }
            pass.set_pipeline(&self.predict);
            pass.dispatch_workgroups(vg, 1, 1);
            if self.plan.warm_start {
                self.dispatch_colours(pass, &self.warm_start);
            } else {
                pass.set_pipeline(&self.reset_lambdas);
                pass.dispatch_workgroups(groups(self.num_tets), 1, 1);
            }
            if collide {
                pass.set_pipeline(&self.collide);
                pass.dispatch_workgroups(vg, 1, 1);
            }
            if faces > 0 {
                pass.set_pipeline(&self.faces);
                pass.dispatch_workgroups(groups(faces), 1, 1);
                pass.set_pipeline(&self.gather);
                pass.dispatch_workgroups(vg, 1, 1);
            }
            if needle {
                pass.set_pipeline(&self.needle_before_solve);
                pass.dispatch_workgroups(1, 1, 1);
            }
            for _ in 0..self.plan.iterations {
                self.dispatch_colours(pass, &self.solve);
            }
            if needle {
                pass.set_pipeline(&self.needle_after_solve);
                pass.dispatch_workgroups(1, 1, 1);
            }
            if faces > 0 {
                pass.set_pipeline(&self.collide);
                pass.dispatch_workgroups(vg, 1, 1);
                pass.set_pipeline(&self.faces);
                pass.dispatch_workgroups(groups(faces), 1, 1);
                pass.set_pipeline(&self.gather_finalize);
            } else {
                pass.set_pipeline(&self.finalize);
            }
            pass.dispatch_workgroups(vg, 1, 1);
            if self.damped {
                self.dispatch_colours(pass, &self.damp);
            }
        }
    }

    /// The end of a frame: the guards' sums (when the guards are on), then `end_frame`.
    fn encode_end_frame(&self, pass: &mut wgpu::ComputePass<'_>) {
        if self.guards.enabled {
            pass.set_pipeline(&self.guard_sums);
            pass.dispatch_workgroups(groups(self.num_tets.max(self.num_vertices)), 1, 1);
        }
        pass.set_pipeline(&self.end_frame);
        pass.dispatch_workgroups(1, 1, 1);
    }

    /// Tells the device what does work on the tissue in the next frame (a 4-byte write,
    /// only when it changes; applied before the next submission).
    fn set_energy_mode(&mut self, mode: EnergyMode) {
        if mode != self.energy_mode {
            self.ctx.queue.write_buffer(
                &self.params,
                ENERGY_MODE_OFFSET,
                bytemuck::bytes_of(&(mode as u32)),
            );
            self.energy_mode = mode;
        }
    }

    fn dispatch_colours(&self, pass: &mut wgpu::ComputePass<'_>, pipeline: &wgpu::ComputePipeline) {
        pass.set_pipeline(pipeline);
        for (k, &(_, count)) in self.colours.iter().enumerate() {
            pass.set_bind_group(1, &self.colour_bind_group, &[k as u32 * self.colour_stride]);
            pass.dispatch_workgroups(groups(count), 1, 1);
        }
    }

    fn read_buffer(&self, src: &wgpu::Buffer) -> Result<Vec<u8>, SimError> {
        self.read_range(src, 0, src.size())
    }

    fn read_range(&self, src: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>, SimError> {
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        enc.copy_buffer_to_buffer(src, offset, &staging, 0, size);
        self.ctx.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| SimError::Gpu(format!("waiting for the GPU: {e}")))?;
        rx.recv()
            .map_err(|_| SimError::Gpu("readback callback dropped".into()))?
            .map_err(|e| SimError::Gpu(format!("mapping readback buffer: {e}")))?;
        let data = staging
            .get_mapped_range(..)
            .map_err(|e| SimError::Gpu(format!("mapped range: {e:?}")))?
            .to_vec();
        staging.unmap();
        Ok(data)
    }

    /// Waits for the GPU and reports the first NaN or blow-up since the state was written,
    /// else the first frame that broke a guard ([`SimError::Guard`], judged by
    /// [`Guards::judge`] on the sums the device kept of that frame).
    pub fn check(&self, model: &Model) -> Result<(), SimError> {
        let s: Vec<u32> = bytemuck::pod_collect_to_vec(&self.read_range(
            &self.status,
            0,
            (STATUS_HEADER * 4) as u64,
        )?);
        // A breach is numbered by the frame it ends (a failure by the frames before it, as
        // `status[2]` counts them): the earlier wins, the failure within the same frame.
        if s[0] == u32::MAX || s[STATUS_BREACH_FRAME] <= s[0] {
            return self.guard_breach(model, &s);
        }
        let step = s[0] as u64;
        let vertex = s[1];
        if s[3] == 1 {
            return Err(SimError::NonFinite { step, vertex });
        }
        Err(SimError::BlowUp {
            step,
            vertex,
            speed: (f32::from_bits(s[4]) as f64).sqrt(),
            limit: self.max_speed,
        })
    }

    /// The breach the device recorded in `status` words `s`, if any.
    fn guard_breach(&self, model: &Model, s: &[u32]) -> Result<(), SimError> {
        let frame = s[STATUS_BREACH_FRAME];
        if frame == u32::MAX {
            return Ok(());
        }
        let mut regions: Vec<RegionHealth> = self
            .material_tets
            .iter()
            .enumerate()
            .map(|(m, &(region, tets))| RegionHealth {
                region,
                tets,
                inverted: s[STATUS_BREACH_INVERTED + m] as usize,
                volume_ratio: 1.0 + s[STATUS_BREACH_VOLUME + m] as i32 as f64 / VOLUME_FIXED_ONE,
            })
            .collect();
        regions.sort_by_key(|r| r.region);
        let time = self.time - (self.frames as f64 - frame as f64) * self.plan.frame_dt;
        let speed = (f32::from_bits(s[STATUS_BREACH_SPEED2]) as f64).sqrt();
        let at = (frame as u64, time);
        let energy = || {
            (s[STATUS_BREACH_ENERGY] != 0).then(|| {
                self.guards.energy_verdict(
                    model,
                    &self.plan,
                    at,
                    f32::from_bits(s[STATUS_BREACH_GROWTH]) as f64,
                    f32::from_bits(s[STATUS_BREACH_SCALE]) as f64,
                    (0.0, 0.0),
                )
            })?
        };
        match self
            .guards
            .judge(model, &self.plan, at, &regions, speed)
            .or_else(energy)
        {
            Some(breach) => Err(SimError::Guard(Box::new(breach))),
            // The device compares in f32: a frame right at a limit may pass here. Forget
            // it, so that a later frame that does break a guard is recorded.
            None => {
                self.ctx.queue.write_buffer(
                    &self.status,
                    (STATUS_BREACH_FRAME * 4) as u64,
                    bytemuck::bytes_of(&u32::MAX),
                );
                Ok(())
            }
        }
    }

    /// Reads the state back (positions, velocities, multipliers).
    pub fn read_state(&self, state: &mut State) -> Result<(), SimError> {
        let pos: Vec<[f32; 4]> = bytemuck::pod_collect_to_vec(&self.read_buffer(&self.pos)?);
        let vel: Vec<[f32; 4]> = bytemuck::pod_collect_to_vec(&self.read_buffer(&self.vel)?);
        let lambdas: Vec<[f32; 2]> =
            bytemuck::pod_collect_to_vec(&self.read_buffer(&self.lambdas)?);
        state.displacements = pos.iter().map(|p| [p[0], p[1], p[2]]).collect();
        state.velocities = vel.iter().map(|p| [p[0], p[1], p[2]]).collect();
        state.lambdas = lambdas;
        state.lambda_dt = self.lambda_dt;
        state.step = self.frames;
        state.time = self.time;
        Ok(())
    }
}

/// The `status` header of a state at frame `frame`: no failure, no breach, sums cleared, the
/// energy watch empty.
fn status_words(frame: u32) -> Vec<u32> {
    let mut s = vec![0; STATUS_HEADER];
    s[0] = u32::MAX;
    s[2] = frame;
    s[STATUS_BREACH_FRAME] = u32::MAX;
    s
}
