// Shared declarations of the XPBD tissue kernels. Prepended to every xpbd/*.wgsl file by
// engine/src/gpu/shaders.rs. Mirrors engine/src/model (TetRest, MaterialParams) and
// engine/src/gpu/xpbd.rs (Params, Colour).

struct Material {
    gamma: f32,      // rest det F of the hydrostatic constraint, 1 + mu / (lambda + mu)
    beta: f32,       // Rayleigh damping (s)
    mu: f32,
    lambda_mu: f32,
}

struct Plane {
    normal_offset: vec4<f32>,  // xyz outward normal, w offset
    friction: vec4<f32>,       // x static, y kinetic
}

struct Params {
    gravity_dt: vec4<f32>,     // xyz gravity, w substep dt
    misc: vec4<f32>,           // x 1/dt, y velocity damping factor, z max speed^2, w 1/frame dt
    counts: vec4<u32>,         // x vertices, y planes, z has external forces, w tets
    // x guards on, y materials, z the guards' speed limit^2 (f32 bits), w this frame's energy
    // input (0 none: judge the energy; 1 unknown: restart the watch; 2 not judged here)
    guards: vec4<u32>,
    energy: vec4<f32>,         // x max_energy_growth, y the energy noise floor (J)
    materials: array<Material, 32>,
    // Per material (HealthLimits in engine/src/solver/guards.rs): x most inverted tets,
    // yz volume ratio range, w fixed-point units per m^3 of the region's volume change.
    health: array<vec4<f32>, 32>,
    planes: array<Plane, 8>,
}

struct TetRest {
    c0: vec4<f32>,   // column 0 of Dm^-1, w: deviatoric compliance 1/(mu V)
    c1: vec4<f32>,   // column 1, w: hydrostatic compliance 1/((lambda+mu) V)
    c2: vec4<f32>,   // column 2, w: material index (bits)
}

struct Colour {
    offset: u32,
    count: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// The state is kept as displacements u = x - X (f32 precision far from the origin).
@group(0) @binding(1) var<storage, read_write> disp: array<vec4<f32>>;  // w: inverse mass
@group(0) @binding(2) var<storage, read_write> prev: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> vel: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> tets: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> rest: array<TetRest>;
@group(0) @binding(6) var<storage, read_write> lambdas: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read> forces: array<vec4<f32>>;
// status[0]: first bad step (0xffffffff = none), [1]: a bad vertex, [2]: frame counter,
// [3]: kind of failure (1 non-finite, 2 too fast), [4]: its speed^2 (f32 bits); then the
// per-frame guards (the STATUS_* offsets below, mirrored in engine/src/gpu/xpbd.rs).
@group(0) @binding(8) var<storage, read_write> status: array<atomic<u32>>;
@group(0) @binding(9) var<storage, read> rest_pos: array<vec4<f32>>;  // w: mass
// Per pinned vertex: the displacement it reaches at the end of the frame (xyz) and its
// index (w, bits; u32 max: none).
@group(0) @binding(10) var<storage, read> pin_drive: array<vec4<f32>>;
@group(1) @binding(0) var<uniform> colour: Colour;

const WORKGROUP: u32 = 64u;
const MAX_MATERIALS: u32 = 32u;

// The per-frame guards in `status` (mirrored in engine/src/gpu/xpbd.rs):
// - the first frame that broke one (0xffffffff = none) with that frame's largest speed^2,
//   energy growth and scale (f32 bits) and whether the energy broke;
// - this frame's largest speed^2, and per material its inverted tets and volume change (i32
//   fixed point, VOLUME_FIXED_ONE per rest volume), summed by guard_sums, cleared by end_frame;
// - the breaking frame's per-material sums, kept for the host to describe the breach;
// - the energy watch: the lowest total energy since the last input and the largest energy;
// - from STATUS_PARTIALS, three f32 per guard_sums workgroup: elastic, kinetic, potential.
const STATUS_BREACH_FRAME: u32 = 8u;
const STATUS_BREACH_SPEED2: u32 = 9u;
const STATUS_SPEED2: u32 = 10u;
const STATUS_BREACH_GROWTH: u32 = 11u;
const STATUS_BREACH_SCALE: u32 = 12u;
const STATUS_BREACH_ENERGY: u32 = 13u;
const STATUS_LOWEST: u32 = 14u;
const STATUS_HAS_LOWEST: u32 = 15u;
const STATUS_INVERTED: u32 = 16u;
const STATUS_VOLUME: u32 = 48u;
const STATUS_BREACH_INVERTED: u32 = 80u;
const STATUS_BREACH_VOLUME: u32 = 112u;
const STATUS_SCALE: u32 = 144u;
const STATUS_PARTIALS: u32 = 148u;
const VOLUME_FIXED_ONE: f32 = 16777216.0;

// A workgroup's sum of one vec3 per invocation in a fixed tree (the same bits every run).
// Call from uniform control flow; every invocation gets the sum.
var<workgroup> wg_sum3: array<vec3<f32>, WORKGROUP>;

fn workgroup_sum3(lid: u32, x: vec3<f32>) -> vec3<f32> {
    wg_sum3[lid] = x;
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lid < stride) {
            wg_sum3[lid] += wg_sum3[lid + stride];
        }
    }
    workgroupBarrier();
    return wg_sum3[0];
}
