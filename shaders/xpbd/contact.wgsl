// Tools in the tissue (bind group 2): tool shapes as signed distances, attachments, the
// per-vertex impulse sums and the needle's record. Prepended (after common.wgsl) to the
// vertex and needle kernels by engine/src/shaders.rs. Mirrors engine/src/contact/shapes.rs.

struct Rows {
    r0: vec4<f32>,   // [R | t] row 0
    r1: vec4<f32>,
    r2: vec4<f32>,
}

// One substep's tool poses (ToolSubstep in engine/src/contact/mod.rs), bound with a dynamic
// offset per substep: the whole frame is uploaded once.
struct ToolSubstep {
    counts: vec4<u32>,               // x bodies, y shapes, z attachments, w substep index
    needle: array<vec4<f32>, 3>,     // tip (w 1 if any), axis, tip at the previous substep
    bodies: array<Rows, 8>,          // body to world
    shapes: array<Rows, 16>,         // world to shape, this substep
    shapes_prev: array<Rows, 16>,    // world to shape, previous substep
}

struct NeedleTrack {
    verts: vec4<u32>,
    bary: vec4<f32>,
    state: vec4<f32>,   // x stick coordinate, y static limit (N), z kinetic limit (N), w active
}

// NeedleHeader + tracks (engine/src/contact/needle.rs).
struct NeedleData {
    counts: vec4<u32>,        // x tracks, y barrier active, z cutting active, w puncture substep + 1
    barrier_verts: vec4<u32>,
    barrier: vec4<f32>,       // bary xyz, w puncture force
    tip_verts: vec4<u32>,
    tip_bary: vec4<f32>,
    cut: vec4<f32>,           // x cutting force, y pass-0 barrier impulse (scratch)
    acc_force: vec4<f32>,
    acc_torque: vec4<f32>,
    acc_parts: vec4<f32>,
    puncture: vec4<f32>,
    tracks: array<NeedleTrack>,
}

@group(2) @binding(0) var<uniform> tool: ToolSubstep;
// Per shape 3 vec4 (kind bits / body bits / first plane bits / plane count bits, dims,
// friction), then the convex shapes' planes from index 3 * 16.
@group(2) @binding(1) var<storage, read> tool_static: array<vec4<f32>>;
@group(2) @binding(2) var<storage, read> attach: array<vec4<f32>>;     // local xyz, w body + 1
// Per vertex and body: impulse x dt on the body, its moment; then the reduction's partials.
@group(2) @binding(3) var<storage, read_write> contact_acc: array<vec4<f32>>;
@group(2) @binding(4) var<storage, read_write> needle: NeedleData;

const SHAPE_PLANES: u32 = 48u;

fn apply_rows(m: Rows, x: vec3<f32>) -> vec3<f32> {
    return vec3<f32>(
        dot(m.r0.xyz, x) + m.r0.w,
        dot(m.r1.xyz, x) + m.r1.w,
        dot(m.r2.xyz, x) + m.r2.w,
    );
}

fn unrotate(m: Rows, d: vec3<f32>) -> vec3<f32> {
    return vec3<f32>(
        d.x * m.r0.x + d.y * m.r1.x + d.z * m.r2.x,
        d.x * m.r0.y + d.y * m.r1.y + d.z * m.r2.y,
        d.x * m.r0.z + d.y * m.r1.z + d.z * m.r2.z,
    );
}

fn sign1(v: f32) -> f32 {
    if (v < 0.0) {
        return -1.0;
    }
    return 1.0;
}

// Signed distance (w) and outward normal (xyz) of p in the frame of shape k.
fn sdf(k: u32, p: vec3<f32>) -> vec4<f32> {
    let head = bitcast<vec4<u32>>(tool_static[3u * k]);
    let dims = tool_static[3u * k + 1u];
    let r = dims.x;
    switch head.x {
        case 0u: {
            let l = sqrt(dot(p, p));
            if (l > 0.0) {
                return vec4<f32>(p / l, l - r);
            }
            return vec4<f32>(0.0, 0.0, 1.0, -r);
        }
        case 1u: {
            let hl = dims.y;
            let q = vec3<f32>(p.x, p.y, p.z - clamp(p.z, -hl, hl));
            let l = sqrt(dot(q, q));
            if (l > 0.0) {
                return vec4<f32>(q / l, l - r);
            }
            return vec4<f32>(1.0, 0.0, 0.0, -r);
        }
        case 2u: {
            let hl = dims.y;
            let rho = sqrt(p.x * p.x + p.y * p.y);
            let dr = rho - r;
            let dz = abs(p.z) - hl;
            if (dr > dz) {
                if (rho > 0.0) {
                    return vec4<f32>(p.x / rho, p.y / rho, 0.0, dr);
                }
                return vec4<f32>(1.0, 0.0, 0.0, dr);
            }
            return vec4<f32>(0.0, 0.0, sign1(p.z), dz);
        }
        case 3u: {
            let q = abs(p) - dims.xyz;
            var k2 = 0u;
            var best = q.x;
            if (q.y > best) {
                k2 = 1u;
                best = q.y;
            }
            if (q.z > best) {
                k2 = 2u;
                best = q.z;
            }
            var n = vec3<f32>(0.0);
            n[k2] = sign1(p[k2]);
            return vec4<f32>(n, best);
        }
        default: {
            var d = -3.4028235e38;
            var n = vec3<f32>(0.0, 0.0, 1.0);
            for (var j = 0u; j < head.w; j++) {
                let pl = tool_static[SHAPE_PLANES + head.z + j];
                let e = dot(pl.xyz, p) - pl.w;
                if (e > d) {
                    d = e;
                    n = pl.xyz;
                }
            }
            return vec4<f32>(n, d);
        }
    }
    return vec4<f32>(0.0, 0.0, 1.0, 1.0);
}

fn push_impulse(i: u32, b: u32, xw: vec3<f32>, dw: vec3<f32>, w: f32) {
    let o = vec3<f32>(tool.bodies[b].r0.w, tool.bodies[b].r1.w, tool.bodies[b].r2.w);
    let r = xw - o;
    let f = -dw / w;
    let idx = (i * tool.counts.x + b) * 2u;
    contact_acc[idx] = contact_acc[idx] + vec4<f32>(f, 0.0);
    contact_acc[idx + 1u] = contact_acc[idx + 1u] + vec4<f32>(cross(r, f), 0.0);
}

// Pushes vertex i (displacement x, displacement at the substep start xp, rest position x0,
// inverse mass w > 0) out of every tool shape with friction, then to its attachment.
fn contact_vertex(i: u32, x_in: vec3<f32>, xp_in: vec3<f32>, x0: vec3<f32>, w: f32) -> vec3<f32> {
    var x = x_in;
    for (var k = 0u; k < tool.counts.y; k++) {
        let m = tool.shapes[k];
        let p = apply_rows(m, x0 + x);
        let s = sdf(k, p);
        if (s.w >= 0.0) {
            continue;
        }
        let n = s.xyz;
        let depth = -s.w;
        var q = p + depth * n;
        let pp = apply_rows(tool.shapes_prev[k], x0 + xp_in);
        let dl = q - pp;
        let dn = dot(dl, n);
        let t = dl - dn * n;
        let tl = sqrt(dot(t, t));
        if (tl > 0.0) {
            let fr = tool_static[3u * k + 2u];
            var f = 1.0;
            if (tl > fr.x * depth) {
                f = min(fr.y * depth / tl, 1.0);
            }
            q = q - f * t;
        }
        let dw = unrotate(m, q - p);
        x = x + dw;
        let body = bitcast<u32>(tool_static[3u * k].y);
        push_impulse(i, body, x0 + x, dw, w);
    }
    if (tool.counts.z != 0u) {
        let a = attach[i];
        if (a.w > 0.0) {
            let b = u32(a.w) - 1u;
            let target_pos = apply_rows(tool.bodies[b], a.xyz);
            let dw = target_pos - (x0 + x);
            x = x + dw;
            push_impulse(i, b, x0 + x, dw, w);
        }
    }
    return x;
}
