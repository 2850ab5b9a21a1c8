//! Stable neo-Hookean tet constraints (Macklin & Muller 2021), f32, shared by the CPU
//! backend and mirrored operation for operation by `shaders/xpbd/tets.wgsl`.
//!
//! Energy density psi = mu/2 |F|^2 + (lambda+mu)/2 (det F - gamma)^2, gamma = 1 + mu/(lambda+mu),
//! written as two XPBD constraints per tet:
//! deviatoric C_D = |F|_F with compliance 1/(mu V), hydrostatic C_H = det F - gamma with
//! compliance 1/((lambda+mu) V). Using lambda+mu (not lambda) makes the small-strain limit
//! exactly linear elasticity with the given E and nu; gamma makes the rest shape stress free.

// Index loops over vertices, lanes and matrix entries mirror the WGSL kernels and the math.
#![allow(clippy::needless_range_loop)]

use crate::model::TetRest;

/// The four vertices of a tet: displacements from rest, displacements at the start of the
/// substep, inverse masses.
///
/// The solver works on displacements u = x - X, not positions: f32 then resolves motion
/// relative to the (small) displacement instead of to the distance from the world origin.
/// With positions, a block 1 m from the origin jitters visibly at 30 substeps per frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct TetVerts {
    /// Current displacements.
    pub x: [[f32; 3]; 4],
    /// Displacements at the start of the substep.
    pub prev: [[f32; 3]; 4],
    /// Inverse masses.
    pub w: [f32; 4],
}

// f32 vector helpers of the kernels (tets here, tool contact in `contact`).
#[inline(always)]
pub(crate) fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
#[inline(always)]
pub(crate) fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
#[inline(always)]
pub(crate) fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
#[inline(always)]
fn axpy(a: f32, x: [f32; 3], y: [f32; 3]) -> [f32; 3] {
    [a * x[0] + y[0], a * x[1] + y[1], a * x[2] + y[2]]
}
#[inline(always)]
fn scale(a: f32, x: [f32; 3]) -> [f32; 3] {
    [a * x[0], a * x[1], a * x[2]]
}

/// Columns of the deformation gradient F = Ds Dm^-1 = I + Du Dm^-1 from displacements `u`.
#[inline(always)]
pub fn deformation(u: &[[f32; 3]; 4], r: &TetRest) -> [[f32; 3]; 3] {
    let d1 = sub(u[1], u[0]);
    let d2 = sub(u[2], u[0]);
    let d3 = sub(u[3], u[0]);
    let col = |j: usize| {
        let b = r.col[j];
        let mut c = axpy(b[2], d3, axpy(b[1], d2, scale(b[0], d1)));
        c[j] += 1.0;
        c
    };
    [col(0), col(1), col(2)]
}

/// Gradients w.r.t. the four vertices of a constraint whose derivative w.r.t. F is `p` (columns).
#[inline(always)]
fn gradients(p: &[[f32; 3]; 3], r: &TetRest) -> [[f32; 3]; 4] {
    let g = |i: usize| {
        axpy(
            r.col[2][i],
            p[2],
            axpy(r.col[1][i], p[1], scale(r.col[0][i], p[0])),
        )
    };
    let (g1, g2, g3) = (g(0), g(1), g(2));
    let g0 = scale(
        -1.0,
        [
            g1[0] + g2[0] + g3[0],
            g1[1] + g2[1] + g3[1],
            g1[2] + g2[2] + g3[2],
        ],
    );
    [g0, g1, g2, g3]
}

/// Squared size of a tet from its inverse rest shape: 3 / |Dm^-1|_F^2.
#[inline(always)]
pub(crate) fn tet_size2(r: &TetRest) -> f32 {
    let b = |j: usize| {
        r.col[j][0] * r.col[j][0] + r.col[j][1] * r.col[j][1] + r.col[j][2] * r.col[j][2]
    };
    3.0 / (b(0) + b(1) + b(2))
}

/// Cofactor of F (= d det F / dF), as columns.
#[inline(always)]
fn cofactor(f: &[[f32; 3]; 3]) -> [[f32; 3]; 3] {
    [cross(f[1], f[2]), cross(f[2], f[0]), cross(f[0], f[1])]
}

/// Trust region: one projection moves a vertex by at most this fraction of the tet's size
/// (sqrt(3) / |Dm^-1|_F, the edge length for a regular tet). Ordinary motion needs far less
/// per substep; an inverted, flattened or crushed tet, whose linearised correction can be
/// many times its size, is walked back over several substeps instead of one jump that
/// throws its neighbours around. Relative to the element: no unit epsilon.
pub const MAX_STEP: f32 = 0.25;

/// One XPBD update of one constraint; returns the multiplier increment.
#[inline(always)]
fn project(v: &mut TetVerts, g: &[[f32; 3]; 4], c: f32, alpha_t: f32, lambda: f32, h2: f32) -> f32 {
    let mut wsum = 0.0;
    let mut wmax = 0.0f32;
    for i in 0..4 {
        let gg = dot(g[i], g[i]);
        wsum += v.w[i] * gg;
        wmax = wmax.max(v.w[i] * v.w[i] * gg);
    }
    if wsum == 0.0 {
        return 0.0;
    }
    let mut dl = -(c + alpha_t * lambda) / (wsum + alpha_t);
    // Largest vertex move is |dl| sqrt(wmax); keep it within MAX_STEP of the tet size.
    let limit2 = MAX_STEP * MAX_STEP * h2;
    if dl * dl * wmax > limit2 {
        dl *= (limit2 / (dl * dl * wmax)).sqrt();
    }
    for i in 0..4 {
        v.x[i] = axpy(v.w[i] * dl, g[i], v.x[i]);
    }
    dl
}

/// Projects both constraints of one tet (deviatoric, then hydrostatic), updating `v.x` and
/// the multipliers. `inv_dt` is 1/substep; `gamma` comes from the tet's material.
#[inline(always)]
pub fn project_tet(v: &mut TetVerts, r: &TetRest, gamma: f32, inv_dt: f32, lambda: &mut [f32; 2]) {
    let inv_dt2 = inv_dt * inv_dt;
    let h2 = tet_size2(r);
    // Deviatoric: C = |F|, dC/dF = F / |F|.
    let f = deformation(&v.x, r);
    let c = (dot(f[0], f[0]) + dot(f[1], f[1]) + dot(f[2], f[2])).sqrt();
    // |F| = sqrt(3) at rest; below 1e-6 the tet has collapsed to a point and the direction
    // is undefined (the hydrostatic constraint still acts). Dimensionless: no unit epsilon.
    if c > 1e-6 {
        let inv_c = 1.0 / c;
        let p = [scale(inv_c, f[0]), scale(inv_c, f[1]), scale(inv_c, f[2])];
        let g = gradients(&p, r);
        let alpha = r.col[0][3];
        lambda[0] += project(v, &g, c, alpha * inv_dt2, lambda[0], h2);
    }
    // Hydrostatic: C = det F - gamma, dC/dF = cof F.
    let f = deformation(&v.x, r);
    let p = cofactor(&f);
    let c = dot(f[0], p[0]) - gamma;
    let g = gradients(&p, r);
    let alpha = r.col[1][3];
    lambda[1] += project(v, &g, c, alpha * inv_dt2, lambda[1], h2);
}

/// Warm starting is skipped for tets outside this range of det F (at `v.prev`): re-applying a
/// large impulse explicitly to an inverted or crushed tet throws it further (an all-inverted
/// block explodes within 7 frames with it, and recovers without it).
pub const WARM_START_J: (f32, f32) = (0.5, 2.0);

/// Multipliers that hold the rest shape in equilibrium for substep `dt`.
///
/// The stable neo-Hookean constraints are not zero at rest (C_D = |I| = sqrt 3,
/// C_H = 1 - gamma); their forces cancel there only when each multiplier satisfies
/// C + alpha~ lambda = 0. Starting from lambda = 0 instead would make the rest shape lurch for
/// the first substeps (a free-falling block drifts sideways, a resting one jumps).
#[inline(always)]
pub fn rest_lambda(r: &TetRest, gamma: f32, dt: f32) -> [f32; 2] {
    let dt2 = dt * dt;
    [
        -(3.0f32).sqrt() * dt2 / r.col[0][3],
        (gamma - 1.0) * dt2 / r.col[1][3],
    ]
}

/// Applies last substep's multipliers again, with gradients at `v.prev` (the state the
/// multipliers were converged for; at rest this makes the static equilibrium an exact fixed
/// point): x_i += w_i (lambda_D dC_D/dx_i + lambda_H dC_H/dx_i). Distorted tets (see
/// [`WARM_START_J`]) get their rest multipliers instead.
#[inline(always)]
pub fn warm_start_tet(v: &mut TetVerts, r: &TetRest, lambda: &mut [f32; 2], gamma: f32, dt: f32) {
    let f = deformation(&v.prev, r);
    let cof = cofactor(&f);
    let j = dot(f[0], cof[0]);
    if !(j > WARM_START_J.0 && j < WARM_START_J.1) {
        *lambda = rest_lambda(r, gamma, dt);
        return;
    }
    let c = (dot(f[0], f[0]) + dot(f[1], f[1]) + dot(f[2], f[2])).sqrt();
    let ld = if c > 1e-6 { lambda[0] / c } else { 0.0 };
    let lh = lambda[1];
    let p = [
        axpy(ld, f[0], scale(lh, cof[0])),
        axpy(ld, f[1], scale(lh, cof[1])),
        axpy(ld, f[2], scale(lh, cof[2])),
    ];
    let g = gradients(&p, r);
    for i in 0..4 {
        v.x[i] = axpy(v.w[i], g[i], v.x[i]);
    }
}

/// Rayleigh (stiffness-proportional) damping of one tet at the velocity level, implicit:
/// for each constraint the viscous force -(beta / alpha) grad C (grad C . v) is applied with
/// backward Euler, dv = -w grad C k (grad C . v) / (1 + k sum w |grad C|^2), k = dt beta / alpha.
/// Purely dissipative, and separate from the positional multipliers so warm starting never
/// re-applies a viscous impulse. `v.x` holds velocities here, `v.prev` the displacements.
#[inline(always)]
pub fn damp_tet(v: &mut TetVerts, r: &TetRest, beta: f32, dt: f32) {
    let f = deformation(&v.prev, r);
    let c = (dot(f[0], f[0]) + dot(f[1], f[1]) + dot(f[2], f[2])).sqrt();
    let inv_c = if c > 1e-6 { 1.0 / c } else { 0.0 };
    let gd = gradients(
        &[scale(inv_c, f[0]), scale(inv_c, f[1]), scale(inv_c, f[2])],
        r,
    );
    let gh = gradients(&cofactor(&f), r);
    for (g, alpha) in [(gd, r.col[0][3]), (gh, r.col[1][3])] {
        let k = dt * beta / alpha;
        let (mut wsum, mut rate) = (0.0, 0.0);
        for i in 0..4 {
            wsum += v.w[i] * dot(g[i], g[i]);
            rate += dot(g[i], v.x[i]);
        }
        let s = -k * rate / (1.0 + k * wsum);
        for i in 0..4 {
            v.x[i] = axpy(v.w[i] * s, g[i], v.x[i]);
        }
    }
}

/// det F of a tet (its current / rest volume) from its vertex displacements.
pub(crate) fn tet_volume_ratio(u: &[[f32; 3]; 4], r: &TetRest) -> f32 {
    det(&deformation(u, r))
}

fn det(f: &[[f32; 3]; 3]) -> f32 {
    dot(f[0], cross(f[1], f[2]))
}

/// Elastic energy of one tet (J) and det F.
#[inline]
pub(crate) fn tet_energy(
    u: &[[f32; 3]; 4],
    r: &TetRest,
    volume: f32,
    mu: f32,
    lambda_mu: f32,
    gamma: f32,
) -> (f64, f32) {
    let f = deformation(u, r);
    let i_c = dot(f[0], f[0]) + dot(f[1], f[1]) + dot(f[2], f[2]);
    let j = det(&f);
    // Shifted so that the rest state has zero energy.
    let psi = 0.5 * mu as f64 * (i_c as f64 - 3.0)
        + 0.5 * lambda_mu as f64 * ((j - gamma) as f64).powi(2)
        - 0.5 * lambda_mu as f64 * ((1.0 - gamma) as f64).powi(2);
    (psi * volume as f64, j)
}
