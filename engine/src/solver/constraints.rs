//! Stable neo-Hookean tet constraints (Macklin & Muller 2021), f32, shared by the CPU
//! backend and mirrored operation for operation by `shaders/xpbd/tets.wgsl`.
//!
//! Energy density psi = mu/2 |F|^2 + (lambda+mu)/2 (det F - gamma)^2, gamma = 1 + mu/(lambda+mu),
//! written as two XPBD constraints per tet:
//! deviatoric C_D = |F|_F with compliance 1/(mu V), hydrostatic C_H = det F - gamma with
//! compliance 1/((lambda+mu) V). Using lambda+mu (not lambda) makes the small-strain limit
//! exactly linear elasticity with the given E and nu; gamma makes the rest shape stress free.

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

#[inline(always)]
fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
#[inline(always)]
fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
#[inline(always)]
fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
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
pub(crate) fn deformation(u: &[[f32; 3]; 4], r: &TetRest) -> [[f32; 3]; 3] {
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
    let g = |i: usize| axpy(r.col[2][i], p[2], axpy(r.col[1][i], p[1], scale(r.col[0][i], p[0])));
    let (g1, g2, g3) = (g(0), g(1), g(2));
    let g0 = scale(-1.0, [g1[0] + g2[0] + g3[0], g1[1] + g2[1] + g3[1], g1[2] + g2[2] + g3[2]]);
    [g0, g1, g2, g3]
}

/// Cofactor of F (= d det F / dF), as columns.
#[inline(always)]
fn cofactor(f: &[[f32; 3]; 3]) -> [[f32; 3]; 3] {
    [cross(f[1], f[2]), cross(f[2], f[0]), cross(f[0], f[1])]
}

/// One XPBD update of one constraint; returns the multiplier increment.
#[inline(always)]
fn project(v: &mut TetVerts, g: &[[f32; 3]; 4], c: f32, alpha_t: f32, gamma_d: f32, lambda: f32) -> f32 {
    let mut wsum = 0.0;
    let mut dv = 0.0;
    for i in 0..4 {
        wsum += v.w[i] * dot(g[i], g[i]);
        dv += dot(g[i], sub(v.x[i], v.prev[i]));
    }
    if wsum == 0.0 {
        return 0.0;
    }
    let dl = -(c + alpha_t * lambda + gamma_d * dv) / ((1.0 + gamma_d) * wsum + alpha_t);
    for i in 0..4 {
        v.x[i] = axpy(v.w[i] * dl, g[i], v.x[i]);
    }
    dl
}

/// Projects both constraints of one tet (deviatoric, then hydrostatic), updating `v.x` and
/// the multipliers. `inv_dt` is 1/substep; `gamma`/`beta` come from the tet's material.
#[inline(always)]
pub fn project_tet(v: &mut TetVerts, r: &TetRest, gamma: f32, beta: f32, inv_dt: f32, lambda: &mut [f32; 2]) {
    let inv_dt2 = inv_dt * inv_dt;
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
        lambda[0] += project(v, &g, c, alpha * inv_dt2, alpha * beta * inv_dt, lambda[0]);
    }
    // Hydrostatic: C = det F - gamma, dC/dF = cof F.
    let f = deformation(&v.x, r);
    let p = cofactor(&f);
    let c = dot(f[0], p[0]) - gamma;
    let g = gradients(&p, r);
    let alpha = r.col[1][3];
    lambda[1] += project(v, &g, c, alpha * inv_dt2, alpha * beta * inv_dt, lambda[1]);
}

/// Applies last substep's multipliers again, with gradients at `v.prev`:
/// x_i += w_i (lambda_D dC_D/dx_i + lambda_H dC_H/dx_i).
#[inline(always)]
pub fn warm_start_tet(v: &mut TetVerts, r: &TetRest, lambda: [f32; 2]) {
    let f = deformation(&v.prev, r);
    let c = (dot(f[0], f[0]) + dot(f[1], f[1]) + dot(f[2], f[2])).sqrt();
    let cof = cofactor(&f);
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

/// Elastic energy of one tet (J) and det F.
#[inline]
pub(crate) fn tet_energy(u: &[[f32; 3]; 4], r: &TetRest, volume: f32, mu: f32, lambda_mu: f32, gamma: f32) -> (f64, f32) {
    let f = deformation(u, r);
    let i_c = dot(f[0], f[0]) + dot(f[1], f[1]) + dot(f[2], f[2]);
    let j = dot(f[0], cross(f[1], f[2]));
    // Shifted so that the rest state has zero energy.
    let psi = 0.5 * mu as f64 * (i_c as f64 - 3.0) + 0.5 * lambda_mu as f64 * ((j - gamma) as f64).powi(2)
        - 0.5 * lambda_mu as f64 * ((1.0 - gamma) as f64).powi(2);
    (psi * volume as f64, j)
}
