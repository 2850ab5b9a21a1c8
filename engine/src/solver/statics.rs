//! Static equilibrium by Newton's method: an implicit FEM solve of the same stable
//! neo-Hookean energy, in f64, used as the converged reference that XPBD is checked against.
//!
//! Total potential E(u) = sum_t V_t psi(F_t) - sum_i m_i g . u_i with pinned vertices held;
//! psi = mu/2 (|F|^2 - 3) + (lambda+mu)/2 (det F - gamma)^2 - const. Each Newton step solves
//! H du = -grad E with preconditioned conjugate gradients using exact Hessian-vector products
//! (no matrix is assembled), then backtracks on E. Hand-written: no Rust FEM crate offers
//! this energy, and the point is an implementation independent of the XPBD kernels.

// Index loops over vertices, lanes and matrix entries mirror the WGSL kernels and the math.
#![allow(clippy::needless_range_loop)]

use crate::model::{cross, dot, sub, Model};
use rayon::prelude::*;

type V3 = [f64; 3];
type M3 = [V3; 3]; // columns

fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn mul(s: f64, a: V3) -> V3 {
    [s * a[0], s * a[1], s * a[2]]
}

/// Options of [`static_equilibrium`].
#[derive(Clone, Debug)]
pub struct StaticOptions {
    /// Stop when |grad E| <= tolerance * |external force| (free vertices).
    pub tolerance: f64,
    /// Newton iteration limit.
    pub max_newton: usize,
    /// CG iteration limit per Newton step.
    pub max_cg: usize,
}

impl Default for StaticOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-7,
            max_newton: 40,
            max_cg: 5000,
        }
    }
}

/// Result of [`static_equilibrium`].
#[derive(Clone, Debug)]
pub struct StaticSolution {
    /// Displacement per vertex (m).
    pub displacements: Vec<[f64; 3]>,
    /// Newton iterations used.
    pub newton_iterations: usize,
    /// Total CG iterations.
    pub cg_iterations: usize,
    /// Final relative residual |grad E| / |f_ext|.
    pub residual: f64,
}

struct Tet {
    v: [u32; 4],
    binv: M3, // columns of Dm^-1
    vol: f64,
    mu: f64,
    kappa: f64,
    gamma: f64,
}

fn deformation(t: &Tet, u: &[V3]) -> M3 {
    let d = [
        sub(u[t.v[1] as usize], u[t.v[0] as usize]),
        sub(u[t.v[2] as usize], u[t.v[0] as usize]),
        sub(u[t.v[3] as usize], u[t.v[0] as usize]),
    ];
    let mut f = [[0.0; 3]; 3];
    for (j, col) in f.iter_mut().enumerate() {
        let b = t.binv[j];
        *col = add(add(mul(b[0], d[0]), mul(b[1], d[1])), mul(b[2], d[2]));
    }
    f
}

fn scatter(t: &Tet, p: &M3, out: &mut [V3; 4]) {
    for i in 0..3 {
        out[i + 1] = mul(
            t.vol,
            add(
                add(mul(t.binv[0][i], p[0]), mul(t.binv[1][i], p[1])),
                mul(t.binv[2][i], p[2]),
            ),
        );
    }
    out[0] = mul(-1.0, add(add(out[1], out[2]), out[3]));
}

fn cof(f: &M3) -> M3 {
    [cross(f[1], f[2]), cross(f[2], f[0]), cross(f[0], f[1])]
}

struct Problem {
    tets: Vec<Tet>,
    free: Vec<bool>,
    fext: Vec<V3>,
    nv: usize,
}

impl Problem {
    fn energy(&self, u: &[V3]) -> f64 {
        let e: f64 = self
            .tets
            .par_iter()
            .map(|t| {
                let mut f = deformation(t, u);
                for (j, col) in f.iter_mut().enumerate() {
                    col[j] += 1.0;
                }
                let ic = dot(f[0], f[0]) + dot(f[1], f[1]) + dot(f[2], f[2]);
                let j = dot(f[0], cross(f[1], f[2]));
                t.vol
                    * (0.5 * t.mu * (ic - 3.0)
                        + 0.5 * t.kappa * ((j - t.gamma).powi(2) - (1.0 - t.gamma).powi(2)))
            })
            .sum();
        e - u
            .iter()
            .zip(&self.fext)
            .map(|(a, b)| dot(*a, *b))
            .sum::<f64>()
    }

    /// Per-tet contributions, then a serial scatter (simple and deterministic).
    fn assemble(&self, per_tet: impl Fn(&Tet, &mut [V3; 4]) + Sync) -> Vec<V3> {
        let parts: Vec<[V3; 4]> = self
            .tets
            .par_iter()
            .map(|t| {
                let mut o = [[0.0; 3]; 4];
                per_tet(t, &mut o);
                o
            })
            .collect();
        let mut out = vec![[0.0; 3]; self.nv];
        for (t, o) in self.tets.iter().zip(&parts) {
            for k in 0..4 {
                let i = t.v[k] as usize;
                out[i] = add(out[i], o[k]);
            }
        }
        for (i, o) in out.iter_mut().enumerate() {
            if !self.free[i] {
                *o = [0.0; 3];
            }
        }
        out
    }

    fn gradient(&self, u: &[V3]) -> Vec<V3> {
        let mut g = self.assemble(|t, o| {
            let mut f = deformation(t, u);
            for (j, col) in f.iter_mut().enumerate() {
                col[j] += 1.0;
            }
            let c = cof(&f);
            let j = dot(f[0], c[0]);
            let s = t.kappa * (j - t.gamma);
            let p = [0, 1, 2].map(|k| add(mul(t.mu, f[k]), mul(s, c[k])));
            scatter(t, &p, o);
        });
        for (i, gi) in g.iter_mut().enumerate() {
            if self.free[i] {
                *gi = sub(*gi, self.fext[i]);
            }
        }
        g
    }

    fn hessian_times(&self, u: &[V3], v: &[V3]) -> Vec<V3> {
        self.assemble(|t, o| {
            let mut f = deformation(t, u);
            for (j, col) in f.iter_mut().enumerate() {
                col[j] += 1.0;
            }
            let df = deformation(t, v);
            let c = cof(&f);
            let j = dot(f[0], c[0]);
            let dj = dot(c[0], df[0]) + dot(c[1], df[1]) + dot(c[2], df[2]);
            let dc = [
                add(cross(df[1], f[2]), cross(f[1], df[2])),
                add(cross(df[2], f[0]), cross(f[2], df[0])),
                add(cross(df[0], f[1]), cross(f[0], df[1])),
            ];
            let s = t.kappa * (j - t.gamma);
            let p = [0, 1, 2].map(|k| {
                add(
                    add(mul(t.mu, df[k]), mul(t.kappa * dj, c[k])),
                    mul(s, dc[k]),
                )
            });
            scatter(t, &p, o);
        })
    }
}

fn vdot(a: &[V3], b: &[V3]) -> f64 {
    a.par_iter().zip(b).map(|(x, y)| dot(*x, *y)).sum()
}

/// Solves for the static equilibrium of `model` under gravity (pins held at rest).
pub fn static_equilibrium(model: &Model, opts: &StaticOptions) -> StaticSolution {
    static_equilibrium_from(model, &vec![[0.0; 3]; model.num_vertices()], opts)
}

/// As [`static_equilibrium`], starting from displacements `u0`; pinned vertices keep their
/// `u0` (prescribed displacement, e.g. a clamped face moved to compress the tissue).
pub fn static_equilibrium_from(
    model: &Model,
    u0: &[[f64; 3]],
    opts: &StaticOptions,
) -> StaticSolution {
    let nv = model.num_vertices();
    let x: Vec<V3> = model
        .rest_positions
        .iter()
        .map(|p| p.map(|c| c as f64))
        .collect();
    let tets: Vec<Tet> = model
        .tets
        .iter()
        .zip(&model.tet_material)
        .map(|(v, &m)| {
            let (_, mat) = model.materials[m as usize];
            let (mu, lambda) = mat.lame();
            let dm = [
                sub(x[v[1] as usize], x[v[0] as usize]),
                sub(x[v[2] as usize], x[v[0] as usize]),
                sub(x[v[3] as usize], x[v[0] as usize]),
            ];
            let det = dot(dm[0], cross(dm[1], dm[2]));
            let rows = [
                cross(dm[1], dm[2]),
                cross(dm[2], dm[0]),
                cross(dm[0], dm[1]),
            ]
            .map(|r| mul(1.0 / det, r));
            let binv = [0, 1, 2].map(|j| [rows[0][j], rows[1][j], rows[2][j]]);
            Tet {
                v: *v,
                binv,
                vol: det / 6.0,
                mu,
                kappa: lambda + mu,
                gamma: 1.0 + mu / (lambda + mu),
            }
        })
        .collect();
    let free: Vec<bool> = model.inv_mass.iter().map(|&w| w > 0.0).collect();
    let g = model.gravity.map(|c| c as f64);
    let fext: Vec<V3> = (0..nv)
        .map(|i| {
            if free[i] {
                mul(model.mass[i] as f64, g)
            } else {
                [0.0; 3]
            }
        })
        .collect();
    // Jacobi preconditioner: isotropic diagonal of the rest stiffness.
    let mut diag = vec![0.0f64; nv];
    for t in &tets {
        let rows: [V3; 3] = [0, 1, 2].map(|i| [t.binv[0][i], t.binv[1][i], t.binv[2][i]]);
        let r0 = mul(-1.0, add(add(rows[0], rows[1]), rows[2]));
        for (k, r) in [r0, rows[0], rows[1], rows[2]].iter().enumerate() {
            diag[t.v[k] as usize] += t.vol * (t.mu + t.kappa) * dot(*r, *r);
        }
    }
    let prob = Problem {
        tets,
        free,
        fext,
        nv,
    };
    let fnorm = vdot(&prob.fext, &prob.fext).sqrt().max(f64::MIN_POSITIVE);
    let mut u = u0.to_vec();
    let mut cg_total = 0;
    let mut newton = 0;
    let mut res = f64::INFINITY;
    while newton < opts.max_newton {
        let grad = prob.gradient(&u);
        res = vdot(&grad, &grad).sqrt() / fnorm;
        if res <= opts.tolerance {
            break;
        }
        newton += 1;
        // PCG on H d = -grad, truncated at negative curvature (Eisenstat-Walker forcing).
        let eta = res.sqrt().min(0.5) * res.min(1.0).max(opts.tolerance);
        let eta = eta.max(1e-12);
        let precond = |r: &[V3]| -> Vec<V3> {
            r.iter()
                .zip(&diag)
                .zip(&prob.free)
                .map(|((v, &d), &f)| {
                    if f && d > 0.0 {
                        mul(1.0 / d, *v)
                    } else {
                        [0.0; 3]
                    }
                })
                .collect()
        };
        let mut d = vec![[0.0; 3]; nv];
        let mut r: Vec<V3> = grad.iter().map(|v| mul(-1.0, *v)).collect();
        let mut z = precond(&r);
        let mut p = z.clone();
        let mut rz = vdot(&r, &z);
        let r0 = vdot(&r, &r).sqrt();
        for _ in 0..opts.max_cg {
            cg_total += 1;
            let hp = prob.hessian_times(&u, &p);
            let php = vdot(&p, &hp);
            if php <= 0.0 {
                if d.iter().all(|x| *x == [0.0; 3]) {
                    d = p.clone();
                }
                break;
            }
            let a = rz / php;
            for i in 0..nv {
                d[i] = add(d[i], mul(a, p[i]));
                r[i] = sub(r[i], mul(a, hp[i]));
            }
            if vdot(&r, &r).sqrt() <= eta * r0 {
                break;
            }
            z = precond(&r);
            let rz_new = vdot(&r, &z);
            let beta = rz_new / rz;
            rz = rz_new;
            for i in 0..nv {
                p[i] = add(z[i], mul(beta, p[i]));
            }
        }
        // Backtracking line search on the total potential.
        let e0 = prob.energy(&u);
        let slope = vdot(&grad, &d);
        let mut step = 1.0;
        loop {
            let trial: Vec<V3> = u
                .iter()
                .zip(&d)
                .map(|(a, b)| add(*a, mul(step, *b)))
                .collect();
            let e = prob.energy(&trial);
            if e <= e0 + 1e-4 * step * slope || step < 1e-6 {
                u = trial;
                break;
            }
            step *= 0.5;
        }
    }
    StaticSolution {
        displacements: u,
        newton_iterations: newton,
        cg_iterations: cg_total,
        residual: res,
    }
}
