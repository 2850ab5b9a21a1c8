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
    bounds: array<vec4<f32>, 32>,    // per shape: world box min, max (grown; see mod.rs)
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
    shaft_counts: vec4<u32>,  // x faces in shaft_faces
    shaft: vec4<f32>,         // x radius, y z the shaft's span behind the tip (m)
    shaft_faces: array<vec4<u32>, SHAFT_FACES>,
    tracks: array<NeedleTrack>,
}

// MAX_SHAFT_FACES in engine/src/contact/needle.rs.
const SHAFT_FACES: u32 = 128u;

@group(2) @binding(0) var<uniform> tool: ToolSubstep;
// Per shape 4 vec4 (kind bits / body bits / first plane bits / plane count bits, dims,
// friction, core), then the convex shapes' planes from index 4 * 16.
@group(2) @binding(1) var<storage, read> tool_static: array<vec4<f32>>;
@group(2) @binding(2) var<storage, read> attach: array<vec4<f32>>;     // local xyz, w body + 1
// Per vertex and body: impulse x dt on the body, its moment; then the reduction's partials.
@group(2) @binding(3) var<storage, read_write> contact_acc: array<vec4<f32>>;
@group(2) @binding(4) var<storage, read_write> needle: NeedleData;

const SHAPE_PLANES: u32 = 64u;

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
    let head = bitcast<vec4<u32>>(tool_static[4u * k]);
    let dims = tool_static[4u * k + 1u];
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

// Where contact point p inside shape k by depth along n goes, less the tangential motion
// since pp that friction holds back (shapes.rs: contact_target). Vertex and face contact.
fn contact_target(k: u32, p: vec3<f32>, n: vec3<f32>, depth: f32, pp: vec3<f32>) -> vec3<f32> {
    var q = p + depth * n;
    let dl = q - pp;
    let dn = dot(dl, n);
    let t = dl - dn * n;
    let tl = sqrt(dot(t, t));
    if (tl > 0.0) {
        let fr = tool_static[4u * k + 2u];
        var f = 1.0;
        if (tl > fr.x * depth) {
            f = min(fr.y * depth / tl, 1.0);
        }
        q = q - f * t;
    }
    return q;
}

// Pushes vertex i (displacement x, displacement at the substep start xp, rest position x0,
// inverse mass w > 0) out of every tool shape with friction, then to its attachment.
fn contact_vertex(i: u32, x_in: vec3<f32>, xp_in: vec3<f32>, x0: vec3<f32>, w: f32) -> vec3<f32> {
    var x = x_in;
    for (var k = 0u; k < tool.counts.y; k++) {
        let m = tool.shapes[k];
        let xw = x0 + x;
        if (any(xw < tool.bounds[2u * k].xyz) || any(xw > tool.bounds[2u * k + 1u].xyz)) {
            continue;
        }
        let p = apply_rows(m, xw);
        let s = sdf(k, p);
        if (s.w >= 0.0) {
            continue;
        }
        let q = contact_target(k, p, s.xyz, -s.w, apply_rows(tool.shapes_prev[k], x0 + xp_in));
        let dw = unrotate(m, q - p);
        x = x + dw;
        let body = bitcast<u32>(tool_static[4u * k].y);
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

// ---- Face contact (engine/src/contact/surface.rs, same operations in the same order) ----

// Header (x faces, y start of the vertex offsets, z start of the slot lists), then per face
// its three vertices and a pad, the per-vertex offsets into the slot lists, the slot lists
// (3 * face + corner). A one-word placeholder when face contact is off.
@group(2) @binding(5) var<storage, read> surface: array<u32>;
// Per face corner: the correction it proposes (xyz), w body + 1 (0: none).
@group(2) @binding(6) var<storage, read_write> proposals: array<vec4<f32>>;

// Barycentric coordinates of the point of triangle (a, b, c) closest to p (Ericson 5.1.5).
fn closest_on_triangle(p: vec3<f32>, a: vec3<f32>, b: vec3<f32>, c: vec3<f32>) -> vec3<f32> {
    let ab = b - a;
    let ac = c - a;
    let ap = p - a;
    let d1 = dot(ab, ap);
    let d2 = dot(ac, ap);
    if (d1 <= 0.0 && d2 <= 0.0) {
        return vec3<f32>(1.0, 0.0, 0.0);
    }
    let bp = p - b;
    let d3 = dot(ab, bp);
    let d4 = dot(ac, bp);
    if (d3 >= 0.0 && d4 <= d3) {
        return vec3<f32>(0.0, 1.0, 0.0);
    }
    let vc = d1 * d4 - d3 * d2;
    if (vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0) {
        let v = d1 / (d1 - d3);
        return vec3<f32>(1.0 - v, v, 0.0);
    }
    let cp = p - c;
    let d5 = dot(ab, cp);
    let d6 = dot(ac, cp);
    if (d6 >= 0.0 && d5 <= d6) {
        return vec3<f32>(0.0, 0.0, 1.0);
    }
    let vb = d5 * d2 - d1 * d6;
    if (vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0) {
        let w = d2 / (d2 - d6);
        return vec3<f32>(1.0 - w, 0.0, w);
    }
    let va = d3 * d6 - d5 * d4;
    if (va <= 0.0 && d4 - d3 >= 0.0 && d5 - d6 >= 0.0) {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return vec3<f32>(0.0, 1.0 - w, w);
    }
    let denom = 1.0 / (va + vb + vc);
    let v = vb * denom;
    let w = vc * denom;
    return vec3<f32>(1.0 - v - w, v, w);
}

// Parameters (s, t) of the closest points of segments p1-q1 and p2-q2 (Ericson 5.1.9).
fn closest_segments(p1: vec3<f32>, q1: vec3<f32>, p2: vec3<f32>, q2: vec3<f32>) -> vec2<f32> {
    let d1 = q1 - p1;
    let d2 = q2 - p2;
    let r = p1 - p2;
    let a = dot(d1, d1);
    let e = dot(d2, d2);
    let f = dot(d2, r);
    if (a <= 1e-20 && e <= 1e-20) {
        return vec2<f32>(0.0, 0.0);
    }
    if (a <= 1e-20) {
        return vec2<f32>(0.0, clamp(f / e, 0.0, 1.0));
    }
    let c = dot(d1, r);
    if (e <= 1e-20) {
        return vec2<f32>(clamp(-c / a, 0.0, 1.0), 0.0);
    }
    let b = dot(d1, d2);
    let denom = a * e - b * b;
    var s: f32;
    if (denom > 1e-6 * a * e) {
        s = clamp((b * f - c * e) / denom, 0.0, 1.0);
    } else {
        let s0 = clamp(-c / a, 0.0, 1.0);
        let s1 = clamp((b - c) / a, 0.0, 1.0);
        s = 0.5 * (s0 + s1);
    }
    var t = (b * s + f) / e;
    if (t < 0.0) {
        t = 0.0;
        s = clamp(-c / a, 0.0, 1.0);
    } else if (t > 1.0) {
        t = 1.0;
        s = clamp((b - c) / a, 0.0, 1.0);
    }
    return vec2<f32>(s, t);
}

fn at_bary(t0: vec3<f32>, t1: vec3<f32>, t2: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
    return b.x * t0 + b.y * t1 + b.z * t2;
}

fn dist2(a: vec3<f32>, b: vec3<f32>) -> f32 {
    let d = a - b;
    return dot(d, d);
}

fn corner(k: u32) -> vec3<f32> {
    var b = vec3<f32>(0.0);
    b[k] = 1.0;
    return b;
}

// Barycentric coordinates of the point of the triangle closest to segment s0-s1.
fn closest_to_segment(s0: vec3<f32>, s1: vec3<f32>, t0: vec3<f32>, t1: vec3<f32>, t2: vec3<f32>) -> vec3<f32> {
    let n = cross(t1 - t0, t2 - t0);
    let e0 = dot(s0 - t0, n);
    let e1 = dot(s1 - t0, n);
    if (e0 * e1 <= 0.0 && e0 != e1) {
        let u = e0 / (e0 - e1);
        let x = s0 + u * (s1 - s0);
        let b = closest_on_triangle(x, t0, t1, t2);
        if (dist2(at_bary(t0, t1, t2, b), x) <= 1e-12 * sqrt(dot(n, n))) {
            return b;
        }
    }
    var t = array<vec3<f32>, 3>(t0, t1, t2);
    let de = e1 - e0;
    if (abs(de) <= 1e-4 * (abs(e0) + abs(e1))) {
        var lo = 0.0;
        var hi = 1.0;
        for (var c = 0u; c < 3u; c++) {
            let m = cross(n, t[(c + 1u) % 3u] - t[c]);
            let g0 = dot(s0 - t[c], m);
            let g1 = dot(s1 - t[c], m);
            if (g0 < 0.0 && g1 < 0.0) {
                hi = -1.0;
            } else if (g0 < 0.0) {
                lo = max(lo, g0 / (g0 - g1));
            } else if (g1 < 0.0) {
                hi = min(hi, g0 / (g0 - g1));
            }
        }
        if (lo <= hi) {
            let u = 0.5 * (lo + hi);
            return closest_on_triangle(s0 + u * (s1 - s0), t0, t1, t2);
        }
    }
    var best = closest_on_triangle(s0, t0, t1, t2);
    var best_d = dist2(at_bary(t0, t1, t2, best), s0);
    let b1 = closest_on_triangle(s1, t0, t1, t2);
    let d1 = dist2(at_bary(t0, t1, t2, b1), s1);
    if (d1 < best_d) {
        best = b1;
        best_d = d1;
    }
    for (var c = 0u; c < 3u; c++) {
        let c1 = (c + 1u) % 3u;
        let st = closest_segments(t[c], t[c1], s0, s1);
        let pe = t[c] + st.x * (t[c1] - t[c]);
        let ps = s0 + st.y * (s1 - s0);
        let d = dist2(pe, ps);
        if (d < best_d) {
            best_d = d;
            best = (1.0 - st.x) * corner(c) + st.x * corner(c1);
        }
    }
    return best;
}

fn closest_to_core(h: vec3<f32>, t0: vec3<f32>, t1: vec3<f32>, t2: vec3<f32>) -> vec3<f32> {
    if (dot(h, h) > 0.0) {
        return closest_to_segment(-h, h, t0, t1, t2);
    }
    return closest_on_triangle(vec3<f32>(0.0), t0, t1, t2);
}

fn core_point(h: vec3<f32>, p: vec3<f32>) -> vec3<f32> {
    let hh = dot(h, h);
    if (hh == 0.0) {
        return vec3<f32>(0.0);
    }
    return clamp(dot(p, h) / hh, -1.0, 1.0) * h;
}

const CORE_STEPS: u32 = 4u;
const TIE: f32 = 1e-3;

struct Deepest {
    bary: vec3<f32>,
    d: f32,
    n: vec3<f32>,
}

// The deepest point of the triangle (shape frame) in shape k (surface.rs: deepest_point).
fn deepest_point(k: u32, t0: vec3<f32>, t1: vec3<f32>, t2: vec3<f32>) -> Deepest {
    let core = tool_static[4u * k + 3u];
    let h = core.xyz;
    var b = closest_to_core(h, t0, t1, t2);
    var s = sdf(k, at_bary(t0, t1, t2, b));
    let r = tool_static[4u * k + 2u].w;
    if (r < 1.0) {
        for (var j = 1u; j <= CORE_STEPS; j++) {
            let u = 1.0 - (1.0 - r) * f32(j) / f32(CORE_STEPS);
            let b2 = closest_to_core(u * h, t0, t1, t2);
            let s2 = sdf(k, at_bary(t0, t1, t2, b2));
            if (s2.w < s.w - TIE * tool_static[4u * k + 1u].x) {
                b = b2;
                s = s2;
            }
        }
    }
    var n = s.xyz;
    let c = at_bary(t0, t1, t2, b);
    if (dist2(c, core_point(h, c)) <= 1e-14) {
        let fnrm = cross(t1 - t0, t2 - t0);
        let l = sqrt(dot(fnrm, fnrm));
        if (l > 0.0) {
            n = -fnrm / l;
        }
    }
    return Deepest(b, s.w, n);
}

// One surface triangle against every shape that takes face contact (surface.rs:
// face_contact): writes its corners' proposed corrections.
fn face_contact(f: u32) {
    let fv = vec3<u32>(surface[4u + 4u * f], surface[5u + 4u * f], surface[6u + 4u * f]);
    var x: array<vec3<f32>, 3>;
    var xp: array<vec3<f32>, 3>;
    var w: vec3<f32>;
    for (var c = 0u; c < 3u; c++) {
        let i = fv[c];
        let x0 = rest_pos[i].xyz;
        let q = disp[i];
        x[c] = x0 + q.xyz;
        xp[c] = x0 + prev[i].xyz;
        w[c] = q.w;
        if (tool.counts.z != 0u && attach[i].w > 0.0) {
            w[c] = 0.0;
        }
    }
    var out = array<vec4<f32>, 3>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    if (w.x + w.y + w.z != 0.0) {
        var y = x;
        let centre = (x[0] + x[1] + x[2]) / 3.0;
        let reach = sqrt(max(max(dist2(x[0], centre), dist2(x[1], centre)), dist2(x[2], centre)));
        for (var k = 0u; k < tool.counts.y; k++) {
            let fr = tool_static[4u * k + 2u];
            if (fr.z == 0.0) {
                continue;
            }
            let m = tool.shapes[k];
            let cl = apply_rows(m, centre);
            let core = tool_static[4u * k + 3u];
            let rr = core.w + reach;
            if (dist2(cl, core_point(core.xyz, cl)) > rr * rr) {
                continue;
            }
            let t0 = apply_rows(m, y[0]);
            let t1 = apply_rows(m, y[1]);
            let t2 = apply_rows(m, y[2]);
            let dp = deepest_point(k, t0, t1, t2);
            if (dp.d >= 0.0) {
                continue;
            }
            let b = dp.bary;
            let denom = w.x * b.x * b.x + w.y * b.y * b.y + w.z * b.z * b.z;
            if (denom <= 0.0) {
                continue;
            }
            let p = at_bary(t0, t1, t2, b);
            let mp = tool.shapes_prev[k];
            let pp = at_bary(apply_rows(mp, xp[0]), apply_rows(mp, xp[1]), apply_rows(mp, xp[2]), b);
            let q = contact_target(k, p, dp.n, -dp.d, pp);
            let dw = unrotate(m, q - p);
            let body = f32(bitcast<u32>(tool_static[4u * k].y) + 1u);
            for (var c = 0u; c < 3u; c++) {
                let dc = (w[c] * b[c] / denom) * dw;
                y[c] = y[c] + dc;
                out[c] = vec4<f32>(out[c].xyz + dc, body);
            }
        }
    }
    for (var c = 0u; c < 3u; c++) {
        proposals[3u * f + c] = out[c];
    }
}

// Vertex i's share of face contact (surface.rs: gather_vertex): adds the mean of its
// triangles' proposals to x and gives each proposing body its share of the impulse.
fn gather_vertex(i: u32, x_in: vec3<f32>, x0: vec3<f32>, w: f32) -> vec3<f32> {
    let a = surface[surface[1u] + i];
    let e = surface[surface[1u] + i + 1u];
    if (a == e || (tool.counts.z != 0u && attach[i].w > 0.0)) {
        return x_in;
    }
    let base = surface[2u];
    var n = 0u;
    var sum = vec3<f32>(0.0);
    for (var s = a; s < e; s++) {
        let p = proposals[surface[base + s]];
        if (p.w > 0.0) {
            n += 1u;
            sum = sum + p.xyz;
        }
    }
    if (n == 0u) {
        return x_in;
    }
    let inv = 1.0 / f32(n);
    let x = x_in + sum * inv;
    for (var s = a; s < e; s++) {
        let p = proposals[surface[base + s]];
        if (p.w > 0.0) {
            push_impulse(i, u32(p.w) - 1u, x0 + x, p.xyz * inv, w);
        }
    }
    return x;
}

// Where triangle t0 t1 t2 (outward) comes within r of the segment s0-s1 (a needle shaft):
// xyz the move that puts its closest point on the capsule, w sum w b^2 (0: no contact); the
// point's barycentric coordinates in `bary_out`. Mirrors shaft_contact in
// engine/src/contact/surface.rs.
fn shaft_contact(s0: vec3<f32>, s1: vec3<f32>, r: f32, t0: vec3<f32>, t1: vec3<f32>, t2: vec3<f32>, w: vec3<f32>, bary_out: ptr<function, vec3<f32>>) -> vec4<f32> {
    let b = closest_to_segment(s0, s1, t0, t1, t2);
    *bary_out = b;
    let p = at_bary(t0, t1, t2, b);
    let h = s1 - s0;
    let hh = dot(h, h);
    var u = 0.0;
    if (hh > 0.0) {
        u = clamp(dot(p - s0, h) / hh, 0.0, 1.0);
    }
    let c = s0 + u * h;
    let d = p - c;
    let dd = dot(d, d);
    if (dd >= r * r) {
        return vec4<f32>(0.0);
    }
    let denom = w.x * b.x * b.x + w.y * b.y * b.y + w.z * b.z * b.z;
    let n = cross(t1 - t0, t2 - t0);
    let nn = dot(n, n);
    if (denom <= 0.0 || nn <= 0.0) {
        return vec4<f32>(0.0);
    }
    let dist = sqrt(dd);
    var e = vec3<f32>(0.0);
    if (dot(d, n) < 0.0 && dist > 0.0) {
        e = d / dist;
    } else {
        var k = 0.0;
        if (hh > 0.0) {
            k = -dot(n, h) / hh;
        }
        let m = -n - k * h;
        let mm = dot(m, m);
        if (mm <= 0.01 * nn) {
            return vec4<f32>(0.0);
        }
        e = m / sqrt(mm);
    }
    // SHAFT_FACING in engine/src/contact/surface.rs: only a triangle facing the shaft.
    if (dot(e, n) > -0.5 * sqrt(nn)) {
        return vec4<f32>(0.0);
    }
    let q = c + r * e;
    return vec4<f32>(q - p, denom);
}
