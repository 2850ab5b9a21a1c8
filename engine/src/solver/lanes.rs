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

use super::constraints::{rest_lambda, tet_size2, MAX_STEP, WARM_START_J};
/// Lanes per block.
pub(crate) const LANES: usize = 8;

pub(crate) use simd::{load_rows, store_rows, F, M};

/// Eight f32 lanes as one AVX register. Every operation is one IEEE-exact instruction (no FMA),
/// the same as the scalar `f32` operation per lane.
///
/// The intrinsics need AVX: these types may only be used on a CPU that has AVX2 (checked by
/// the caller of [`run_block`]), from code inlined into an `avx2` target-feature function.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::LANES;
    use std::arch::x86_64::*;
    use std::ops::{Add, Mul, Neg, Sub};

    #[derive(Clone, Copy)]
    pub(crate) struct F(__m256);

    /// Lane mask (all bits set where true).
    #[derive(Clone, Copy)]
    pub(crate) struct M(__m256);

    // SAFETY (all `unsafe` blocks below): AVX is available, see the type's documentation.
    macro_rules! binop {
        ($tr:ident, $f:ident, $op:ident) => {
            impl $tr for F {
                type Output = F;
                #[inline(always)]
                fn $f(self, o: F) -> F {
                    F(unsafe { $op(self.0, o.0) })
                }
            }
        };
    }
    binop!(Add, add, _mm256_add_ps);
    binop!(Sub, sub, _mm256_sub_ps);
    binop!(Mul, mul, _mm256_mul_ps);

    impl Neg for F {
        type Output = F;
        #[inline(always)]
        fn neg(self) -> F {
            // Flips the sign bit, like scalar negation.
            F(unsafe { _mm256_xor_ps(self.0, _mm256_set1_ps(-0.0)) })
        }
    }

    impl F {
        #[inline(always)]
        pub fn splat(x: f32) -> F {
            F(unsafe { _mm256_set1_ps(x) })
        }
        #[inline(always)]
        pub fn load(a: &[f32; LANES]) -> F {
            F(unsafe { _mm256_loadu_ps(a.as_ptr()) })
        }
        #[inline(always)]
        pub fn store(self, a: &mut [f32; LANES]) {
            unsafe { _mm256_storeu_ps(a.as_mut_ptr(), self.0) };
        }
        #[inline(always)]
        pub fn sqrt(self) -> F {
            F(unsafe { _mm256_sqrt_ps(self.0) })
        }
        #[inline(always)]
        pub fn div(self, o: F) -> F {
            F(unsafe { _mm256_div_ps(self.0, o.0) })
        }
        /// `f32::max`: where one side is NaN, the other.
        #[inline(always)]
        pub fn max(self, o: F) -> F {
            // maxps returns its second operand when either is NaN; the result is NaN only
            // where both are, as with f32::max.
            let m = unsafe { _mm256_max_ps(o.0, self.0) };
            let o_nan = unsafe { _mm256_cmp_ps::<_CMP_UNORD_Q>(self.0, self.0) };
            F(unsafe { _mm256_blendv_ps(m, o.0, o_nan) })
        }
        /// `if m { a } else { b }` per lane.
        #[inline(always)]
        pub fn select(m: M, a: F, b: F) -> F {
            F(unsafe { _mm256_blendv_ps(b.0, a.0, m.0) })
        }
        #[inline(always)]
        pub fn gt(self, o: F) -> M {
            M(unsafe { _mm256_cmp_ps::<_CMP_GT_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        pub fn lt(self, o: F) -> M {
            M(unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(self.0, o.0) })
        }
        /// `!=` (true where either side is NaN).
        #[inline(always)]
        pub fn ne(self, o: F) -> M {
            M(unsafe { _mm256_cmp_ps::<_CMP_NEQ_UQ>(self.0, o.0) })
        }
    }

    impl M {
        #[inline(always)]
        pub fn all() -> M {
            M(unsafe { _mm256_castsi256_ps(_mm256_set1_epi32(-1)) })
        }
        #[inline(always)]
        pub fn and(self, o: M) -> M {
            M(unsafe { _mm256_and_ps(self.0, o.0) })
        }
        /// Whether any lane is set.
        #[inline(always)]
        pub fn any(self) -> bool {
            unsafe { _mm256_movemask_ps(self.0) != 0 }
        }
    }

    /// Two rows of four floats as the low and high halves of one register.
    #[inline(always)]
    unsafe fn half(a: *const f32, b: *const f32) -> __m256 {
        _mm256_insertf128_ps::<1>(_mm256_castps128_ps256(_mm_loadu_ps(a)), _mm_loadu_ps(b))
    }

    /// Loads four floats from each of eight addresses and transposes: result `[c]` holds
    /// component `c` of every lane.
    ///
    /// # Safety
    /// Each pointer must be valid for reading four floats.
    #[inline(always)]
    pub unsafe fn load_rows(p: [*const f32; LANES]) -> [F; 4] {
        let (t0, t1, t2, t3) = (
            half(p[0], p[4]),
            half(p[1], p[5]),
            half(p[2], p[6]),
            half(p[3], p[7]),
        );
        let (u0, u1) = (_mm256_unpacklo_ps(t0, t1), _mm256_unpackhi_ps(t0, t1));
        let (u2, u3) = (_mm256_unpacklo_ps(t2, t3), _mm256_unpackhi_ps(t2, t3));
        [
            F(_mm256_shuffle_ps::<0x44>(u0, u2)),
            F(_mm256_shuffle_ps::<0xEE>(u0, u2)),
            F(_mm256_shuffle_ps::<0x44>(u1, u3)),
            F(_mm256_shuffle_ps::<0xEE>(u1, u3)),
        ]
    }

    /// The inverse of [`load_rows`]: writes component `c` of lane `l` to `p[l][c]`.
    ///
    /// # Safety
    /// Each pointer must be valid for writing four floats.
    #[inline(always)]
    pub unsafe fn store_rows(p: [*mut f32; LANES], v: [F; 4]) {
        let (u0, u1) = (
            _mm256_unpacklo_ps(v[0].0, v[1].0),
            _mm256_unpackhi_ps(v[0].0, v[1].0),
        );
        let (u2, u3) = (
            _mm256_unpacklo_ps(v[2].0, v[3].0),
            _mm256_unpackhi_ps(v[2].0, v[3].0),
        );
        let r = [
            _mm256_shuffle_ps::<0x44>(u0, u2),
            _mm256_shuffle_ps::<0xEE>(u0, u2),
            _mm256_shuffle_ps::<0x44>(u1, u3),
            _mm256_shuffle_ps::<0xEE>(u1, u3),
        ];
        for l in 0..4 {
            _mm_storeu_ps(p[l], _mm256_castps256_ps128(r[l]));
            _mm_storeu_ps(p[l + 4], _mm256_extractf128_ps::<1>(r[l]));
        }
    }
}

/// Portable fallback: plain arrays, one loop per operation.
#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::LANES;
    use std::ops::{Add, Mul, Neg, Sub};

    #[derive(Clone, Copy, Default)]
    pub(crate) struct F([f32; LANES]);

    #[derive(Clone, Copy)]
    pub(crate) struct M([bool; LANES]);

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
            F(self.0.map(|x| -x))
        }
    }

    macro_rules! lanewise {
        ($a:expr, $b:expr, $init:expr, |$x:ident, $y:ident| $e:expr) => {{
            let mut r = [$init; LANES];
            for l in 0..LANES {
                let ($x, $y) = ($a[l], $b[l]);
                r[l] = $e;
            }
            r
        }};
    }

    impl F {
        #[inline(always)]
        pub fn splat(x: f32) -> F {
            F([x; LANES])
        }
        #[inline(always)]
        pub fn load(a: &[f32; LANES]) -> F {
            F(*a)
        }
        #[inline(always)]
        pub fn store(self, a: &mut [f32; LANES]) {
            *a = self.0;
        }
        #[inline(always)]
        pub fn sqrt(self) -> F {
            F(self.0.map(f32::sqrt))
        }
        #[inline(always)]
        pub fn div(self, o: F) -> F {
            F(lanewise!(self.0, o.0, 0.0, |a, b| a / b))
        }
        #[inline(always)]
        pub fn max(self, o: F) -> F {
            F(lanewise!(self.0, o.0, 0.0, |a, b| a.max(b)))
        }
        #[inline(always)]
        pub fn select(m: M, a: F, b: F) -> F {
            let mut r = [0.0; LANES];
            for l in 0..LANES {
                r[l] = if m.0[l] { a.0[l] } else { b.0[l] };
            }
            F(r)
        }
        #[inline(always)]
        pub fn gt(self, o: F) -> M {
            M(lanewise!(self.0, o.0, false, |a, b| a > b))
        }
        #[inline(always)]
        pub fn lt(self, o: F) -> M {
            M(lanewise!(self.0, o.0, false, |a, b| a < b))
        }
        #[inline(always)]
        pub fn ne(self, o: F) -> M {
            M(lanewise!(self.0, o.0, false, |a, b| a != b))
        }
    }

    impl M {
        #[inline(always)]
        pub fn all() -> M {
            M([true; LANES])
        }
        #[inline(always)]
        pub fn and(self, o: M) -> M {
            M(lanewise!(self.0, o.0, false, |a, b| a && b))
        }
        #[inline(always)]
        pub fn any(self) -> bool {
            self.0.iter().any(|&m| m)
        }
    }

    /// Loads four floats from each of eight addresses and transposes: result `[c]` holds
    /// component `c` of every lane.
    ///
    /// # Safety
    /// Each pointer must be valid for reading four floats.
    #[inline(always)]
    pub unsafe fn load_rows(p: [*const f32; LANES]) -> [F; 4] {
        let mut r = [F::default(); 4];
        for l in 0..LANES {
            for c in 0..4 {
                r[c].0[l] = *p[l].add(c);
            }
        }
        r
    }

    /// The inverse of [`load_rows`]: writes component `c` of lane `l` to `p[l][c]`.
    ///
    /// # Safety
    /// Each pointer must be valid for writing four floats.
    #[inline(always)]
    pub unsafe fn store_rows(p: [*mut f32; LANES], v: [F; 4]) {
        for l in 0..LANES {
            for c in 0..4 {
                *p[l].add(c) = v[c].0[l];
            }
        }
    }
}

#[derive(Clone, Copy)]
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

/// Eight tets' vertices (x, w) and rest data, lane-major.
pub(crate) struct Block {
    pub x: [V; 4],
    pub w: [F; 4],
    /// Dm^-1 entries: b[j][i] = col[j][i].
    pub b: [[F; 3]; 3],
    pub alpha_d: F,
    pub alpha_h: F,
    pub gamma: F,
    /// `tet_size2`.
    pub h2: F,
    /// `rest_lambda`.
    pub rest_lambda: [F; 2],
    pub lambda: [F; 2],
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

/// `project` of constraints.rs on eight lanes; `active` masks lanes whose constraint is skipped.
#[inline(always)]
fn project(k: &mut Block, g: &[V; 4], c: F, alpha_t: F, lambda: F, h2: F, active: M) -> F {
    let mut wsum = F::splat(0.0);
    let mut wmax = F::splat(0.0);
    for i in 0..4 {
        let gg = vdot(g[i], g[i]);
        wsum = wsum + k.w[i] * gg;
        wmax = wmax.max(k.w[i] * k.w[i] * gg);
    }
    let ok = active.and(wsum.ne(F::splat(0.0)));
    let dl0 = -(c + alpha_t * lambda).div(wsum + alpha_t);
    let limit2 = F::splat(MAX_STEP * MAX_STEP) * h2;
    let big = (dl0 * dl0 * wmax).gt(limit2);
    // Clamping is rare: its division and root only where some lane needs them.
    let clamped = if big.any() {
        F::select(big, dl0 * limit2.div(dl0 * dl0 * wmax).sqrt(), dl0)
    } else {
        dl0
    };
    let dl = F::select(ok, clamped, F::splat(0.0));
    for i in 0..4 {
        k.x[i] = axpy(k.w[i] * dl, g[i], k.x[i]);
    }
    dl
}

/// `project_tet` of constraints.rs on eight tets.
#[inline(always)]
pub(crate) fn project_tets(k: &mut Block, inv_dt: f32) {
    let inv_dt2 = F::splat(inv_dt * inv_dt);
    let h2 = k.h2;
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
    let dl = project(k, &g, ch, k.alpha_h * inv_dt2, k.lambda[1], h2, M::all());
    k.lambda[1] = k.lambda[1] + dl;
}

/// `warm_start_tet` of constraints.rs on eight tets.
#[inline(always)]
pub(crate) fn warm_start_tets(k: &mut Block, prev: &[V; 4]) {
    let b = k.b;
    let f = deformation(prev, &b);
    let cof = cofactor(&f);
    let j = vdot(f[0], cof[0]);
    let sane = j
        .gt(F::splat(WARM_START_J.0))
        .and(j.lt(F::splat(WARM_START_J.1)));
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
    k.lambda[0] = F::select(sane, k.lambda[0], k.rest_lambda[0]);
    k.lambda[1] = F::select(sane, k.lambda[1], k.rest_lambda[1]);
}

/// One constraint's implicit viscous impulse (the loop body of `damp_tet`).
#[inline(always)]
fn damp_constraint(v: &mut [V; 4], w: &[F; 4], g: &[V; 4], k: F) {
    let mut wsum = F::splat(0.0);
    let mut rate = F::splat(0.0);
    for i in 0..4 {
        wsum = wsum + w[i] * vdot(g[i], g[i]);
        rate = rate + vdot(g[i], v[i]);
    }
    let s = (-k * rate).div(F::splat(1.0) + k * wsum);
    for i in 0..4 {
        v[i] = axpy(w[i] * s, g[i], v[i]);
    }
}

/// `damp_tet` of constraints.rs on eight tets: velocities `v`, displacements `u`, inverse
/// masses `w`, Dm^-1 `b`, compliances `alpha` (deviatoric, hydrostatic), damping `beta`.
/// Lanes where `on` is false keep their velocities bit for bit (`damp_tet` is not called
/// for a tet whose material has no damping).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn damp_tets(
    v: &mut [V; 4],
    u: &[V; 4],
    w: &[F; 4],
    b: &[[F; 3]; 3],
    alpha: [F; 2],
    beta: F,
    dt: F,
    on: M,
) {
    let f = deformation(u, b);
    let c = frob(&f);
    let inv_c = F::select(c.gt(F::splat(1e-6)), F::splat(1.0).div(c), F::splat(0.0));
    let gd = gradients(
        &[scale(inv_c, f[0]), scale(inv_c, f[1]), scale(inv_c, f[2])],
        b,
    );
    let gh = gradients(&cofactor(&f), b);
    let mut x = *v;
    damp_constraint(&mut x, w, &gd, (dt * beta).div(alpha[0]));
    damp_constraint(&mut x, w, &gh, (dt * beta).div(alpha[1]));
    for i in 0..4 {
        for a in 0..3 {
            v[i].0[a] = F::select(on, x[i].0[a], v[i].0[a]);
        }
    }
}

use crate::model::Model;

/// Which tet kernel a block runs.
#[derive(Clone, Copy)]
pub(crate) enum Kernel {
    /// `warm_start_tets`.
    WarmStart,
    /// `project_tets`.
    Solve,
    /// `damp_tets` ([`damp_block`]).
    Damp,
}

/// Eight tets of one colour and their rest data, lane-major, prepared once per solver
/// ([`rest_blocks`]) so that a block loads them without transposing.
///
/// Per-tet constants that the scalar and WGSL kernels compute in the kernel (`tet_size2`,
/// `rest_lambda`) are computed here, once, with the same operations (the same bits).
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct RestBlock {
    /// Vertex `i` of the tet in lane `l`: `verts[i][l]`.
    pub verts: [[u32; LANES]; 4],
    /// Model index of the tet in each lane. A colour's last block repeats its last tet in
    /// the lanes it has no tet for: a repeated lane computes exactly what the original does
    /// and stores the same values to the same places.
    pub tet: [u32; LANES],
    /// Lanes holding distinct tets (the others repeat the last).
    pub len: u32,
    /// Dm^-1 entries: b[j][i][l] = col[j][i] of lane l's tet.
    pub b: [[[f32; LANES]; 3]; 3],
    pub alpha_d: [f32; LANES],
    pub alpha_h: [f32; LANES],
    pub gamma: [f32; LANES],
    pub h2: [f32; LANES],
    pub rest_lambda: [[f32; LANES]; 2],
    /// Rayleigh damping of the tet's material (`MaterialParams::beta`).
    pub beta: [f32; LANES],
}

/// The tets of every colour in blocks of eight, and where each colour's blocks start
/// (`num_colours + 1` offsets). `dt` is the substep (for the rest multipliers).
pub(crate) fn rest_blocks(model: &Model, dt: f32) -> (Vec<RestBlock>, Vec<usize>) {
    let mut blocks = Vec::new();
    let mut offsets = vec![0];
    for c in 0..model.num_colours() {
        let (a, b) = (
            model.colour_offsets[c] as usize,
            model.colour_offsets[c + 1] as usize,
        );
        for t0 in (a..b).step_by(LANES) {
            let len = (b - t0).min(LANES);
            let mut k = RestBlock {
                verts: [[0; LANES]; 4],
                tet: [0; LANES],
                len: len as u32,
                b: [[[0.0; LANES]; 3]; 3],
                alpha_d: [0.0; LANES],
                alpha_h: [0.0; LANES],
                gamma: [0.0; LANES],
                h2: [0.0; LANES],
                rest_lambda: [[0.0; LANES]; 2],
                beta: [0.0; LANES],
            };
            for l in 0..LANES {
                let t = t0 + l.min(len - 1);
                let r = &model.rest[t];
                let material = &model.material_params[model.tet_material[t] as usize];
                let gamma = material.gamma;
                k.beta[l] = material.beta;
                for i in 0..4 {
                    k.verts[i][l] = model.tets[t][i];
                }
                k.tet[l] = t as u32;
                for j in 0..3 {
                    for i in 0..3 {
                        k.b[j][i][l] = r.col[j][i];
                    }
                }
                k.alpha_d[l] = r.col[0][3];
                k.alpha_h[l] = r.col[1][3];
                k.gamma[l] = gamma;
                k.h2[l] = tet_size2(r);
                let rest = rest_lambda(r, gamma, dt);
                k.rest_lambda[0][l] = rest[0];
                k.rest_lambda[1][l] = rest[1];
            }
            blocks.push(k);
        }
        offsets.push(blocks.len());
    }
    (blocks, offsets)
}

/// Gathers the vertices of block `rb` from the vertex arrays, runs the kernel, scatters back.
/// `xw` holds each vertex's displacement and inverse mass, `prev` its displacement at the
/// start of the substep (xyz); `lambda` the block's multipliers (lane-major).
///
/// # Safety
/// The block's tets must belong to one colour (no shared vertex between distinct tets, no
/// concurrent access to their vertices) and index within the arrays behind `xw` and `prev`.
/// On x86-64 the CPU must have AVX2 and the caller should be compiled with it (see `cpu.rs`).
#[inline(always)]
pub(crate) unsafe fn run_block(
    rb: &RestBlock,
    lambda: &mut [[f32; LANES]; 2],
    xw: *mut [f32; 4],
    prev: *const [f32; 4],
    kernel: Kernel,
    dt: f32,
) {
    let x = [
        vertex(xw, rb, 0),
        vertex(xw, rb, 1),
        vertex(xw, rb, 2),
        vertex(xw, rb, 3),
    ];
    let mut k = Block {
        x: [xyz(x[0]), xyz(x[1]), xyz(x[2]), xyz(x[3])],
        w: [x[0][3], x[1][3], x[2][3], x[3][3]],
        b: [column(rb, 0), column(rb, 1), column(rb, 2)],
        alpha_d: F::load(&rb.alpha_d),
        alpha_h: F::load(&rb.alpha_h),
        gamma: F::load(&rb.gamma),
        h2: F::load(&rb.h2),
        rest_lambda: [F::load(&rb.rest_lambda[0]), F::load(&rb.rest_lambda[1])],
        lambda: [F::load(&lambda[0]), F::load(&lambda[1])],
    };
    match kernel {
        Kernel::WarmStart => {
            // Only the warm start reads the start-of-substep displacements.
            let prev = prev as *mut [f32; 4];
            let p = [
                xyz(vertex(prev, rb, 0)),
                xyz(vertex(prev, rb, 1)),
                xyz(vertex(prev, rb, 2)),
                xyz(vertex(prev, rb, 3)),
            ];
            warm_start_tets(&mut k, &p)
        }
        Kernel::Solve => project_tets(&mut k, 1.0 / dt),
        Kernel::Damp => unreachable!("the damping runs in damp_block"),
    }
    for i in 0..4 {
        let mut p = [std::ptr::null_mut(); LANES];
        for l in 0..LANES {
            p[l] = xw.add(rb.verts[i][l] as usize) as *mut f32;
        }
        store_rows(p, [k.x[i].0[0], k.x[i].0[1], k.x[i].0[2], k.w[i]]);
    }
    k.lambda[0].store(&mut lambda[0]);
    k.lambda[1].store(&mut lambda[1]);
}

/// Implicit Rayleigh damping of block `rb` (`damp_tets`): gathers the displacements and
/// inverse masses from `xw` and the velocities from `vel` (xyz, the fourth float kept as it
/// is), scatters the velocities back. A block with no damped tet is left alone.
///
/// # Safety
/// As [`run_block`], with `vel` in place of `prev`.
#[inline(always)]
pub(crate) unsafe fn damp_block(rb: &RestBlock, xw: *mut [f32; 4], vel: *mut [f32; 4], dt: f32) {
    let beta = F::load(&rb.beta);
    let on = beta.gt(F::splat(0.0));
    if !on.any() {
        return;
    }
    let x = [
        vertex(xw, rb, 0),
        vertex(xw, rb, 1),
        vertex(xw, rb, 2),
        vertex(xw, rb, 3),
    ];
    let v = [
        vertex(vel, rb, 0),
        vertex(vel, rb, 1),
        vertex(vel, rb, 2),
        vertex(vel, rb, 3),
    ];
    let mut vv = [xyz(v[0]), xyz(v[1]), xyz(v[2]), xyz(v[3])];
    damp_tets(
        &mut vv,
        &[xyz(x[0]), xyz(x[1]), xyz(x[2]), xyz(x[3])],
        &[x[0][3], x[1][3], x[2][3], x[3][3]],
        &[column(rb, 0), column(rb, 1), column(rb, 2)],
        [F::load(&rb.alpha_d), F::load(&rb.alpha_h)],
        beta,
        F::splat(dt),
        on,
    );
    for i in 0..4 {
        let mut p = [std::ptr::null_mut(); LANES];
        for l in 0..LANES {
            p[l] = vel.add(rb.verts[i][l] as usize) as *mut f32;
        }
        store_rows(p, [vv[i].0[0], vv[i].0[1], vv[i].0[2], v[i][3]]);
    }
}

/// Vertex `i` of the block's eight tets: xyz and w.
#[inline(always)]
unsafe fn vertex(xw: *mut [f32; 4], rb: &RestBlock, i: usize) -> [F; 4] {
    let mut p = [std::ptr::null(); LANES];
    for l in 0..LANES {
        p[l] = xw.add(rb.verts[i][l] as usize) as *const f32;
    }
    load_rows(p)
}

/// Column `j` of the block's Dm^-1.
#[inline(always)]
fn column(rb: &RestBlock, j: usize) -> [F; 3] {
    [
        F::load(&rb.b[j][0]),
        F::load(&rb.b[j][1]),
        F::load(&rb.b[j][2]),
    ]
}

#[inline(always)]
fn xyz(v: [F; 4]) -> V {
    V([v[0], v[1], v[2]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TetRest;
    use crate::solver::constraints::{damp_tet, TetVerts};

    /// xorshift64*: uniform in [-1, 1).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
            r as f32 / (1u32 << 23) as f32 - 1.0
        }
    }

    /// A tet with its velocities (in `x`), displacements (in `prev`), rest data and beta.
    fn random_tet(rng: &mut Rng, n: usize) -> (TetVerts, TetRest, f32) {
        let mut v = TetVerts::default();
        let mut r = TetRest::default();
        for i in 0..4 {
            for a in 0..3 {
                // Some -0 (which adding +0 would turn into +0).
                let r = rng.next();
                v.x[i][a] = if r < -0.8 { -0.0 } else { 0.1 * r };
            }
            // Some pinned vertices.
            v.w[i] = if rng.next() < -0.6 {
                0.0
            } else {
                10f32.powf(3.0 * rng.next())
            };
        }
        for j in 0..2 {
            r.col[j][3] = 10f32.powf(3.0 * rng.next() - 4.0);
        }
        if n % 5 == 4 {
            // Collapsed to F = t I (Dm^-1 = 64 I, edges of 1/64 m): both sides of the
            // `c > 1e-6` branch, F = 0 exactly for t = 0.
            let t = [0.0, 1e-7, 5e-7, 1e-6, 2e-6, 1e-3][n / 5 % 6];
            for j in 0..3 {
                r.col[j][j] = 64.0;
                v.prev[j + 1][j] = (t - 1.0) / 64.0;
            }
        } else {
            // Random shapes about 1 cm across, displaced by up to a fifth of that (some
            // inverted).
            for j in 0..3 {
                for i in 0..3 {
                    r.col[j][i] = 100.0 * rng.next();
                }
            }
            for i in 0..4 {
                for a in 0..3 {
                    v.prev[i][a] = 2e-3 * rng.next();
                }
            }
        }
        // Some materials without damping.
        let beta = if rng.next() < -0.4 {
            0.0
        } else {
            2e-3 * (1.0 + rng.next())
        };
        (v, r, beta)
    }

    /// `damp_tets` on eight tets: their velocities.
    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2"))]
    unsafe fn damp_lanes(tets: &[(TetVerts, TetRest, f32)], dt: f32) -> Vec<[[f32; 3]; 4]> {
        let lanes = |f: &dyn Fn(usize) -> f32| {
            let mut a = [0.0; LANES];
            for l in 0..LANES {
                a[l] = f(l);
            }
            F::load(&a)
        };
        let vec3 = |f: &dyn Fn(usize, usize) -> f32| {
            V([
                lanes(&|l| f(l, 0)),
                lanes(&|l| f(l, 1)),
                lanes(&|l| f(l, 2)),
            ])
        };
        let mut v = [0, 1, 2, 3].map(|i| vec3(&|l, a| tets[l].0.x[i][a]));
        let u = [0, 1, 2, 3].map(|i| vec3(&|l, a| tets[l].0.prev[i][a]));
        let w = [0, 1, 2, 3].map(|i| lanes(&|l| tets[l].0.w[i]));
        let b = [0, 1, 2].map(|j| [0, 1, 2].map(|i| lanes(&|l| tets[l].1.col[j][i])));
        let alpha = [0, 1].map(|j| lanes(&|l| tets[l].1.col[j][3]));
        let beta = lanes(&|l| tets[l].2);
        let on = beta.gt(F::splat(0.0));
        damp_tets(&mut v, &u, &w, &b, alpha, beta, F::splat(dt), on);
        let mut out = vec![[[0.0; 3]; 4]; LANES];
        for i in 0..4 {
            for a in 0..3 {
                let mut x = [0.0; LANES];
                v[i].0[a].store(&mut x);
                for l in 0..LANES {
                    out[l][i][a] = x[l];
                }
            }
        }
        out
    }

    #[test]
    fn damp_tets_gives_the_bits_of_damp_tet() {
        #[cfg(target_arch = "x86_64")]
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("SKIPPING: no AVX2");
            return;
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let dt = 1.0 / 3000.0;
        let tets: Vec<_> = (0..8 * 60).map(|n| random_tet(&mut rng, n)).collect();
        let mut changed = 0;
        for block in tets.chunks_exact(LANES) {
            // SAFETY: AVX2 checked above.
            let lanes = unsafe { damp_lanes(block, dt) };
            for (l, (v, r, beta)) in block.iter().enumerate() {
                let mut scalar = *v;
                if *beta > 0.0 {
                    damp_tet(&mut scalar, r, *beta, dt);
                }
                let bits = |x: &[[f32; 3]; 4]| x.map(|p| p.map(f32::to_bits));
                assert_eq!(bits(&lanes[l]), bits(&scalar.x), "lane {l}: {v:?} {r:?}");
                changed += (bits(&scalar.x) != bits(&v.x)) as usize;
            }
        }
        // Most damped tets' velocities change (not a test of nothing).
        assert!(
            changed > tets.len() / 2,
            "{changed} of {} changed",
            tets.len()
        );
    }
}
