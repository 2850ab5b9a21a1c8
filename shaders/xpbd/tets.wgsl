// Per-tet kernels, one dispatch per colour: tets of a colour share no vertex, so each
// invocation owns its four vertices (race-free Gauss-Seidel). Mirrors
// engine/src/solver/constraints.rs operation for operation.

struct Verts {
    x: array<vec3<f32>, 4>,
    p: array<vec3<f32>, 4>,
    w: vec4<f32>,
}

// F = I + Du Dm^-1 from displacements (the solver state is u = x - X, for f32 precision).
fn deformation(u: array<vec3<f32>, 4>, r: TetRest) -> mat3x3<f32> {
    let d1 = u[1] - u[0];
    let d2 = u[2] - u[0];
    let d3 = u[3] - u[0];
    return mat3x3<f32>(
        r.c0.z * d3 + (r.c0.y * d2 + r.c0.x * d1) + vec3<f32>(1.0, 0.0, 0.0),
        r.c1.z * d3 + (r.c1.y * d2 + r.c1.x * d1) + vec3<f32>(0.0, 1.0, 0.0),
        r.c2.z * d3 + (r.c2.y * d2 + r.c2.x * d1) + vec3<f32>(0.0, 0.0, 1.0),
    );
}

fn gradients(p: mat3x3<f32>, r: TetRest) -> array<vec3<f32>, 4> {
    let g1 = r.c2.x * p[2] + (r.c1.x * p[1] + r.c0.x * p[0]);
    let g2 = r.c2.y * p[2] + (r.c1.y * p[1] + r.c0.y * p[0]);
    let g3 = r.c2.z * p[2] + (r.c1.z * p[1] + r.c0.z * p[0]);
    return array<vec3<f32>, 4>(-(g1 + g2 + g3), g1, g2, g3);
}

fn cofactor(f: mat3x3<f32>) -> mat3x3<f32> {
    return mat3x3<f32>(cross(f[1], f[2]), cross(f[2], f[0]), cross(f[0], f[1]));
}

fn frob(f: mat3x3<f32>) -> f32 {
    return sqrt(dot(f[0], f[0]) + dot(f[1], f[1]) + dot(f[2], f[2]));
}

fn load(t: vec4<u32>) -> Verts {
    var v: Verts;
    for (var k = 0u; k < 4u; k++) {
        let q = disp[t[k]];
        v.x[k] = q.xyz;
        v.w[k] = q.w;
        v.p[k] = prev[t[k]].xyz;
    }
    return v;
}

fn store(t: vec4<u32>, v: Verts) {
    for (var k = 0u; k < 4u; k++) {
        disp[t[k]] = vec4<f32>(v.x[k], v.w[k]);
    }
}

// Trust region and warm-start range: MAX_STEP and WARM_START_J in constraints.rs.
const MAX_STEP: f32 = 0.25;
const WARM_START_J_MIN: f32 = 0.5;
const WARM_START_J_MAX: f32 = 2.0;

fn tet_size2(r: TetRest) -> f32 {
    return 3.0 / (dot(r.c0.xyz, r.c0.xyz) + dot(r.c1.xyz, r.c1.xyz) + dot(r.c2.xyz, r.c2.xyz));
}

fn rest_lambda(r: TetRest, gamma: f32) -> vec2<f32> {
    let dt = params.gravity_dt.w;
    let dt2 = dt * dt;
    return vec2<f32>(-sqrt(3.0) * dt2 / r.c0.w, (gamma - 1.0) * dt2 / r.c1.w);
}

// One XPBD constraint update; returns the multiplier increment.
fn project(v: ptr<function, Verts>, g: array<vec3<f32>, 4>, c: f32, alpha_t: f32, lambda: f32, h2: f32) -> f32 {
    var wsum = 0.0;
    var wmax = 0.0;
    for (var i = 0u; i < 4u; i++) {
        let gg = dot(g[i], g[i]);
        wsum += (*v).w[i] * gg;
        wmax = max(wmax, (*v).w[i] * (*v).w[i] * gg);
    }
    if (wsum == 0.0) {
        return 0.0;
    }
    var dl = -(c + alpha_t * lambda) / (wsum + alpha_t);
    let limit2 = MAX_STEP * MAX_STEP * h2;
    if (dl * dl * wmax > limit2) {
        dl *= sqrt(limit2 / (dl * dl * wmax));
    }
    for (var i = 0u; i < 4u; i++) {
        (*v).x[i] = ((*v).w[i] * dl) * g[i] + (*v).x[i];
    }
    return dl;
}

@compute @workgroup_size(WORKGROUP)
fn solve(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= colour.count) {
        return;
    }
    let t = colour.offset + gid.x;
    let tet = tets[t];
    let r = rest[t];
    let gamma = params.materials[bitcast<u32>(r.c2.w)].gamma;
    let inv_dt = params.misc.x;
    let inv_dt2 = inv_dt * inv_dt;
    var v = load(tet);
    var lambda = lambdas[t];
    let h2 = tet_size2(r);

    // Deviatoric: C = |F|.
    let f = deformation(v.x, r);
    let c = frob(f);
    if (c > 1e-6) {
        let g = gradients(f * (1.0 / c), r);
        let alpha = r.c0.w;
        lambda.x += project(&v, g, c, alpha * inv_dt2, lambda.x, h2);
    }
    // Hydrostatic: C = det F - gamma.
    let f2 = deformation(v.x, r);
    let p = cofactor(f2);
    let ch = dot(f2[0], p[0]) - gamma;
    let gh = gradients(p, r);
    let alpha_h = r.c1.w;
    lambda.y += project(&v, gh, ch, alpha_h * inv_dt2, lambda.y, h2);

    store(tet, v);
    lambdas[t] = lambda;
}

@compute @workgroup_size(WORKGROUP)
fn warm_start(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= colour.count) {
        return;
    }
    let t = colour.offset + gid.x;
    let tet = tets[t];
    let r = rest[t];
    var v = load(tet);
    let lambda = lambdas[t];
    let f = deformation(v.p, r);
    let cof = cofactor(f);
    let j = dot(f[0], cof[0]);
    if (!(j > WARM_START_J_MIN && j < WARM_START_J_MAX)) {
        lambdas[t] = rest_lambda(r, params.materials[bitcast<u32>(r.c2.w)].gamma);
        return;
    }
    let c = frob(f);
    var ld = 0.0;
    if (c > 1e-6) {
        ld = lambda.x / c;
    }
    let p = mat3x3<f32>(ld * f[0] + lambda.y * cof[0], ld * f[1] + lambda.y * cof[1], ld * f[2] + lambda.y * cof[2]);
    let g = gradients(p, r);
    for (var i = 0u; i < 4u; i++) {
        v.x[i] = v.w[i] * g[i] + v.x[i];
    }
    store(tet, v);
}

// Without warm starting: multipliers that hold the rest shape in equilibrium
// (C + alpha~ lambda = 0 at F = I), like rest_lambda in engine/src/solver/cpu.rs.
@compute @workgroup_size(WORKGROUP)
fn reset_lambdas(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= params.counts.w) {
        return;
    }
    let r = rest[t];
    lambdas[t] = rest_lambda(r, params.materials[bitcast<u32>(r.c2.w)].gamma);
}

// Implicit Rayleigh damping of the velocities after finalize (damp_tet in constraints.rs).
@compute @workgroup_size(WORKGROUP)
fn damp(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= colour.count) {
        return;
    }
    let t = colour.offset + gid.x;
    let r = rest[t];
    let beta = params.materials[bitcast<u32>(r.c2.w)].beta;
    if (beta <= 0.0) {
        return;
    }
    let tet = tets[t];
    var u: array<vec3<f32>, 4>;
    var vv: array<vec3<f32>, 4>;
    var w: vec4<f32>;
    for (var k = 0u; k < 4u; k++) {
        let q = disp[tet[k]];
        u[k] = q.xyz;
        w[k] = q.w;
        vv[k] = vel[tet[k]].xyz;
    }
    let dt = params.gravity_dt.w;
    let f = deformation(u, r);
    let c = frob(f);
    var inv_c = 0.0;
    if (c > 1e-6) {
        inv_c = 1.0 / c;
    }
    let gd = gradients(f * inv_c, r);
    let gh = gradients(cofactor(f), r);
    for (var j = 0u; j < 2u; j++) {
        var g = gd;
        var alpha = r.c0.w;
        if (j == 1u) {
            g = gh;
            alpha = r.c1.w;
        }
        let k = dt * beta / alpha;
        var wsum = 0.0;
        var rate = 0.0;
        for (var i = 0u; i < 4u; i++) {
            wsum += w[i] * dot(g[i], g[i]);
            rate += dot(g[i], vv[i]);
        }
        let s = -k * rate / (1.0 + k * wsum);
        for (var i = 0u; i < 4u; i++) {
            vv[i] = (w[i] * s) * g[i] + vv[i];
        }
    }
    for (var k = 0u; k < 4u; k++) {
        vel[tet[k]] = vec4<f32>(vv[k], 0.0);
    }
}

// The per-frame guards' sums (Guards::judge and EnergyWatch in engine/src/solver/guards.rs;
// diagnostics.rs computes the same on the CPU): after the last substep of a frame, thread i
// takes tet i (inverted, volume change, elastic energy) and vertex i (speed, kinetic and
// gravitational energy). Counts and volumes are summed with integer atomics (the same totals
// in any order), the energies per workgroup in a fixed tree into STATUS_PARTIALS for
// end_frame.
var<workgroup> wg_inverted: array<atomic<u32>, MAX_MATERIALS>;
var<workgroup> wg_volume: array<atomic<i32>, MAX_MATERIALS>;
var<workgroup> wg_speed2: atomic<u32>;

fn finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(WORKGROUP)
fn guard_sums(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let i = gid.x;
    let energy = params.guards.w != 2u;
    var e = vec3<f32>(0.0);
    if (i < params.counts.w) {
        let tet = tets[i];
        let r = rest[i];
        let m = bitcast<u32>(r.c2.w);
        var u: array<vec3<f32>, 4>;
        for (var k = 0u; k < 4u; k++) {
            u[k] = disp[tet[k]].xyz;
        }
        let f = deformation(u, r);
        let j = dot(f[0], cross(f[1], f[2]));
        if (j <= 0.0) {
            atomicAdd(&wg_inverted[m], 1u);
        }
        // Rest volume 1 / (6 |det Dm^-1|); det F clamped so that no sum can wrap.
        let v0 = 1.0 / (6.0 * abs(dot(r.c0.xyz, cross(r.c1.xyz, r.c2.xyz))));
        let share = clamp(j - 1.0, -120.0, 120.0) * v0 * params.health[m].w;
        // Non-finite states are the NaN flag's (finalize); they add nothing here.
        if (finite(share)) {
            atomicAdd(&wg_volume[m], i32(round(share)));
        }
        if (energy) {
            // tet_energy in constraints.rs, shifted to zero at rest, with I_C - 3 from the
            // displacement gradient H = F - I and (j - g)^2 - (1 - g)^2 = (j - 1)(j + 1 - 2g).
            let mat = params.materials[m];
            let h = mat3x3<f32>(
                f[0] - vec3<f32>(1.0, 0.0, 0.0),
                f[1] - vec3<f32>(0.0, 1.0, 0.0),
                f[2] - vec3<f32>(0.0, 0.0, 1.0),
            );
            let ic3 = 2.0 * (h[0].x + h[1].y + h[2].z) + dot(h[0], h[0]) + dot(h[1], h[1]) + dot(h[2], h[2]);
            let psi = 0.5 * mat.mu * ic3 + 0.5 * mat.lambda_mu * (j - 1.0) * (j + 1.0 - 2.0 * mat.gamma);
            if (finite(psi)) {
                e.x = psi * v0;
            }
        }
    }
    if (i < params.counts.x) {
        let q = disp[i];
        let v = vel[i].xyz;
        let s2 = dot(v, v);
        if (finite(s2)) {
            atomicMax(&wg_speed2, bitcast<u32>(s2));
        }
        if (energy) {
            let mass = rest_pos[i].w;
            var ke = 0.0;
            if (q.w > 0.0) {
                ke = 0.5 * mass * s2;
            }
            let pe = -mass * dot(params.gravity_dt.xyz, q.xyz);
            if (finite(ke) && finite(pe)) {
                e.y = ke;
                e.z = pe;
            }
        }
    }
    // (Its last barrier also makes the counts above visible.)
    let total = workgroup_sum3(lid, e);
    if (lid < MAX_MATERIALS) {
        let n = atomicLoad(&wg_inverted[lid]);
        if (n != 0u) {
            atomicAdd(&status[STATUS_INVERTED + lid], n);
        }
        let dv = atomicLoad(&wg_volume[lid]);
        if (dv != 0) {
            atomicAdd(&status[STATUS_VOLUME + lid], bitcast<u32>(dv));
        }
    }
    if (lid == 0u) {
        atomicMax(&status[STATUS_SPEED2], atomicLoad(&wg_speed2));
        let at = STATUS_PARTIALS + 3u * wid.x;
        atomicStore(&status[at], bitcast<u32>(total.x));
        atomicStore(&status[at + 1u], bitcast<u32>(total.y));
        atomicStore(&status[at + 2u], bitcast<u32>(total.z));
    }
}
