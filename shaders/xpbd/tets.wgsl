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
