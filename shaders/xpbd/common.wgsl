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
    materials: array<Material, 32>,
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
// [3]: kind of failure (1 non-finite, 2 too fast), [4]: its speed^2 (f32 bits)
@group(0) @binding(8) var<storage, read_write> status: array<atomic<u32>, 8>;
@group(0) @binding(9) var<storage, read> rest_pos: array<vec4<f32>>;
// Per pinned vertex: the displacement it reaches at the end of the frame (xyz) and its
// index (w, bits; u32 max: none).
@group(0) @binding(10) var<storage, read> pin_drive: array<vec4<f32>>;
@group(1) @binding(0) var<uniform> colour: Colour;

const WORKGROUP: u32 = 64u;
