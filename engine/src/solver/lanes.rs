//! The tet kernels of `constraints.rs`, eight tets at a time (one per SIMD lane).
//!
//! Tets of one colour share no vertex, so eight of them can be gathered, projected together
//! and scattered back. Hand-written on plain `[f32; 8]` arrays (no portable-SIMD crate on
//! stable does gathers and masks better): every operation is a loop over the lanes that LLVM
//! turns into one AVX2 instruction when the caller is compiled with `avx2` (see `cpu.rs`).
//! The arithmetic is `constraints.rs`'s, in the same order, so results are bit-identical to
//! the scalar path and to the GPU kernels (IEEE f32, no fused multiply-add).

// Index loops over vertices, lanes and matrix entries mirror the WGSL kernels and the math.
#![allow(clippy::needless_range_loop)]

use super::constraints::{MAX_STEP, WARM_START_J};
use crate::model::TetRest;
use std::ops::{Add, Mul, Neg, Sub};

/// Lanes per block.
pub(crate) const LANES: usize = 8;

#[derive(Clone, Copy, Default)]
pub(crate) struct F(pub [f32; LANES]);

macro_rules! binop {
    ($tr:ident, $f:ident, $op:tt) => {
        impl $tr for F {
            type Output = F;
            #[inline(always)]
            fn $f(self, o: F) -> F {
                let mut r = [0.0; LANES];
                for l in 0..LANES {
                    r[l] = self.0[l] $op o.0[l];
                }
                F(r)
            }
        }
    };
}
binop!(Add, add, +);
binop!(Sub, sub, -);
binop!(Mul, mul, *);

impl Neg for F {
    type Output = F;
    #[inline(always)]
    fn neg(self) -> F {
        let mut r = [0.0; LANES];
        for l in 0..LANES {
            r[l] = -self.0[l];
        }
        F(r)
    }
}

impl F {
    #[inline(always)]
    fn splat(x: f32) -> F {
        F([x; LANES])
    }
    #[inline(always)]
    fn sqrt(self) -> F {
        let mut r = [0.0; LANES];
        for l in 0..LANES {
            r[l] = self.0[l].sqrt();
        }
        F(r)
    }
    #[inline(always)]
    fn div(self, o: F) -> F {
        let mut r = [0.0; LANES];
        for l in 0..LANES {
            r[l] = self.0[l] / o.0[l];
        }
        F(r)
    }
    #[inline(always)]
    fn max(self, o: F) -> F {
        let mut r = [0.0; LANES];
        for l in 0..LANES {
            r[l] = self.0[l].max(o.0[l]);
        }
        F(r)
    }
    /// `if m { a } else { b }` per lane.
    #[inline(always)]
    fn select(m: [bool; LANES], a: F, b: F) -> F {
        let mut r = [0.0; LANES];
        for l in 0..LANES {
            r[l] = if m[l] { a.0[l] } else { b.0[l] };
        }
        F(r)
    }
    #[inline(always)]
    fn gt(self, o: F) -> [bool; LANES] {
        let mut r = [false; LANES];
        for l in 0..LANES {
            r[l] = self.0[l] > o.0[l];
        }
        r
    }
}

#[derive(Clone, Copy, Default)]
pub(crate) struct V([F; 3]);

#[inline(always)]
fn vsub(a: V, b: V) -> V {
    V([a.0[0] - b.0[0], a.0[1] - b.0[1], a.0[2] - b.0[2]])
}
#[inline(always)]
fn vdot(a: V, b: V) -> F {
    a.0[0] * b.0[0] + a.0[1] * b.0[1] + a.0[2] * b.0[2]
}
#[inline(always)]
fn vcross(a: V, b: V) -> V {
    V([
        a.0[1] * b.0[2] - a.0[2] * b.0[1],
        a.0[2] * b.0[0] - a.0[0] * b.0[2],
        a.0[0] * b.0[1] - a.0[1] * b.0[0],
    ])
}
#[inline(always)]
fn axpy(a: F, x: V, y: V) -> V {
    V([
        a * x.0[0] + y.0[0],
        a * x.0[1] + y.0[1],
        a * x.0[2] + y.0[2],
    ])
}
#[inline(always)]
fn scale(a: F, x: V) -> V {
    V([a * x.0[0], a * x.0[1], a * x.0[2]])
}

/// Eight tets' vertices (x, prev, w) and rest data, lane-major.
#[derive(Default)]
pub(crate) struct Block {
    pub x: [V; 4],
    pub prev: [V; 4],
    pub w: [F; 4],
    /// Dm^-1 entries: b[j][i] = col[j][i].
    pub b: [[F; 3]; 3],
    pub alpha_d: F,
    pub alpha_h: F,
    pub gamma: F,
    pub lambda: [F; 2],
}

impl Block {
    /// Gathers the rest data of eight tets.
    #[inline(always)]
    pub fn rest(&mut self, r: &[TetRest; LANES], gamma: [f32; LANES]) {
        for l in 0..LANES {
            for j in 0..3 {
                for i in 0..3 {
                    self.b[j][i].0[l] = r[l].col[j][i];
                }
            }
            self.alpha_d.0[l] = r[l].col[0][3];
            self.alpha_h.0[l] = r[l].col[1][3];
        }
        self.gamma = F(gamma);
    }
}

// No closures in here: they would not be inlined into the AVX2-compiled caller.
#[inline(always)]
fn deformation_col(j: usize, d: &[V; 3], b: &[[F; 3]; 3]) -> V {
    let mut c = axpy(b[j][2], d[2], axpy(b[j][1], d[1], scale(b[j][0], d[0])));
    c.0[j] = c.0[j] + F::splat(1.0);
    c
}

#[inline(always)]
fn deformation(u: &[V; 4], b: &[[F; 3]; 3]) -> [V; 3] {
    let d = [vsub(u[1], u[0]), vsub(u[2], u[0]), vsub(u[3], u[0])];
    [
        deformation_col(0, &d, b),
        deformation_col(1, &d, b),
        deformation_col(2, &d, b),
    ]
}

#[inline(always)]
fn gradient(i: usize, p: &[V; 3], b: &[[F; 3]; 3]) -> V {
    axpy(b[2][i], p[2], axpy(b[1][i], p[1], scale(b[0][i], p[0])))
}

#[inline(always)]
fn gradients(p: &[V; 3], b: &[[F; 3]; 3]) -> [V; 4] {
    let (g1, g2, g3) = (gradient(0, p, b), gradient(1, p, b), gradient(2, p, b));
    let s = V([
        g1.0[0] + g2.0[0] + g3.0[0],
        g1.0[1] + g2.0[1] + g3.0[1],
        g1.0[2] + g2.0[2] + g3.0[2],
    ]);
    let g0 = scale(F::splat(-1.0), s);
    [g0, g1, g2, g3]
}

#[inline(always)]
fn cofactor(f: &[V; 3]) -> [V; 3] {
    [vcross(f[1], f[2]), vcross(f[2], f[0]), vcross(f[0], f[1])]
}

#[inline(always)]
fn frob(f: &[V; 3]) -> F {
    (vdot(f[0], f[0]) + vdot(f[1], f[1]) + vdot(f[2], f[2])).sqrt()
}

#[inline(always)]
fn size2(b: &[[F; 3]; 3]) -> F {
    let n0 = b[0][0] * b[0][0] + b[0][1] * b[0][1] + b[0][2] * b[0][2];
    let n1 = b[1][0] * b[1][0] + b[1][1] * b[1][1] + b[1][2] * b[1][2];
    let n2 = b[2][0] * b[2][0] + b[2][1] * b[2][1] + b[2][2] * b[2][2];
    F::splat(3.0).div(n0 + n1 + n2)
}

/// `project` of constraints.rs on eight lanes; `active` masks lanes whose constraint is skipped.
#[inline(always)]
fn project(
    k: &mut Block,
    g: &[V; 4],
    c: F,
    alpha_t: F,
    lambda: F,
    h2: F,
    active: [bool; LANES],
) -> F {
    let mut wsum = F::splat(0.0);
    let mut wmax = F::splat(0.0);
    for i in 0..4 {
        let gg = vdot(g[i], g[i]);
        wsum = wsum + k.w[i] * gg;
        wmax = wmax.max(k.w[i] * k.w[i] * gg);
    }
    let mut ok = active;
    for l in 0..LANES {
        ok[l] &= wsum.0[l] != 0.0;
    }
    let dl0 = -(c + alpha_t * lambda).div(wsum + alpha_t);
    let limit2 = F::splat(MAX_STEP * MAX_STEP) * h2;
    let big = (dl0 * dl0 * wmax).gt(limit2);
    let clamped = dl0 * limit2.div(dl0 * dl0 * wmax).sqrt();
    let dl = F::select(ok, F::select(big, clamped, dl0), F::splat(0.0));
    for i in 0..4 {
        k.x[i] = axpy(k.w[i] * dl, g[i], k.x[i]);
    }
    dl
}

/// `project_tet` of constraints.rs on eight tets.
#[inline(always)]
pub(crate) fn project_tets(k: &mut Block, inv_dt: f32) {
    let inv_dt2 = F::splat(inv_dt * inv_dt);
    let h2 = size2(&k.b);
    let b = k.b;
    let f = deformation(&k.x, &b);
    let c = frob(&f);
    let dev = c.gt(F::splat(1e-6));
    let inv_c = F::select(dev, F::splat(1.0).div(c), F::splat(0.0));
    let p = [scale(inv_c, f[0]), scale(inv_c, f[1]), scale(inv_c, f[2])];
    let g = gradients(&p, &b);
    let dl = project(k, &g, c, k.alpha_d * inv_dt2, k.lambda[0], h2, dev);
    k.lambda[0] = F::select(dev, k.lambda[0] + dl, k.lambda[0]);
    let f = deformation(&k.x, &b);
    let p = cofactor(&f);
    let ch = vdot(f[0], p[0]) - k.gamma;
    let g = gradients(&p, &b);
    let dl = project(
        k,
        &g,
        ch,
        k.alpha_h * inv_dt2,
        k.lambda[1],
        h2,
        [true; LANES],
    );
    k.lambda[1] = k.lambda[1] + dl;
}

/// `warm_start_tet` of constraints.rs on eight tets.
#[inline(always)]
pub(crate) fn warm_start_tets(k: &mut Block, dt: f32) {
    let b = k.b;
    let f = deformation(&k.prev, &b);
    let cof = cofactor(&f);
    let j = vdot(f[0], cof[0]);
    let mut sane = [false; LANES];
    for l in 0..LANES {
        sane[l] = j.0[l] > WARM_START_J.0 && j.0[l] < WARM_START_J.1;
    }
    let c = frob(&f);
    let ld = F::select(c.gt(F::splat(1e-6)), k.lambda[0].div(c), F::splat(0.0));
    let lh = k.lambda[1];
    let p = [
        axpy(ld, f[0], scale(lh, cof[0])),
        axpy(ld, f[1], scale(lh, cof[1])),
        axpy(ld, f[2], scale(lh, cof[2])),
    ];
    let g = gradients(&p, &b);
    for i in 0..4 {
        let moved = axpy(k.w[i], g[i], k.x[i]);
        for a in 0..3 {
            k.x[i].0[a] = F::select(sane, moved.0[a], k.x[i].0[a]);
        }
    }
    // Distorted tets restart from their rest multipliers (rest_lambda in constraints.rs).
    let dt2 = F::splat(dt * dt);
    let rest_d = -(F::splat(3.0f32.sqrt()) * dt2).div(k.alpha_d);
    let rest_h = ((k.gamma - F::splat(1.0)) * dt2).div(k.alpha_h);
    k.lambda[0] = F::select(sane, k.lambda[0], rest_d);
    k.lambda[1] = F::select(sane, k.lambda[1], rest_h);
}

use crate::model::Model;

/// Which tet kernel a block runs.
#[derive(Clone, Copy)]
pub(crate) enum Kernel {
    /// `warm_start_tets`.
    WarmStart,
    /// `project_tets`.
    Solve,
}

/// Gathers eight tets starting at `t0` (all of one colour) from the vertex arrays, runs the
/// kernel, scatters back.
///
/// # Safety
/// The eight tets must belong to one colour (no shared vertex, no concurrent access to their
/// vertices) and index within the arrays behind `x`, `prev` and `w`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn run_block(
    model: &Model,
    t0: usize,
    lambdas: &mut [[f32; 2]],
    x: *mut [f32; 3],
    prev: *const [f32; 3],
    w: *const f32,
    kernel: Kernel,
    dt: f32,
) {
    let mut k = Block::default();
    let mut rest = [TetRest::default(); LANES];
    let mut gamma = [0.0; LANES];
    for l in 0..LANES {
        let t = t0 + l;
        let tet = model.tets[t];
        for i in 0..4 {
            let v = tet[i] as usize;
            let xv = *x.add(v);
            for a in 0..3 {
                k.x[i].0[a].0[l] = xv[a];
            }
            // Only the warm start reads the start-of-substep displacements.
            if let Kernel::WarmStart = kernel {
                let pv = *prev.add(v);
                for a in 0..3 {
                    k.prev[i].0[a].0[l] = pv[a];
                }
            }
            k.w[i].0[l] = *w.add(v);
        }
        rest[l] = model.rest[t];
        gamma[l] = model.material_params[model.tet_material[t] as usize].gamma;
        k.lambda[0].0[l] = lambdas[l][0];
        k.lambda[1].0[l] = lambdas[l][1];
    }
    k.rest(&rest, gamma);
    match kernel {
        Kernel::WarmStart => warm_start_tets(&mut k, dt),
        Kernel::Solve => project_tets(&mut k, 1.0 / dt),
    }
    for l in 0..LANES {
        let tet = model.tets[t0 + l];
        for i in 0..4 {
            *x.add(tet[i] as usize) = [k.x[i].0[0].0[l], k.x[i].0[1].0[l], k.x[i].0[2].0[l]];
        }
        lambdas[l] = [k.lambda[0].0[l], k.lambda[1].0[l]];
    }
}
