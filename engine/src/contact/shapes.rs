//! Tool shapes as signed distances, and the per-vertex contact kernel.
//! GPU twin: `shaders/xpbd/contact.wgsl` (same operations in the same order).

// Index loops over xyz mirror the WGSL.
#![allow(clippy::needless_range_loop)]

use super::{ShapeParams, ToolSubstep};
use crate::solver::constraints::dot;

/// A rigid tool shape, in its own frame. Capsules and cylinders lie along the local z axis
/// (the URDF convention).
#[derive(Clone, Debug, PartialEq)]
pub enum ToolShape {
    /// A ball.
    Sphere {
        /// Radius (m).
        radius: f64,
    },
    /// A capsule: the segment z in [-half_length, half_length], swept by `radius`.
    Capsule {
        /// Radius (m).
        radius: f64,
        /// Half length of the segment (m).
        half_length: f64,
    },
    /// A solid cylinder with flat ends at z = +-half_length.
    Cylinder {
        /// Radius (m).
        radius: f64,
        /// Half length (m).
        half_length: f64,
    },
    /// A box centred on the origin.
    Box {
        /// Half extents (m).
        half_extents: [f64; 3],
    },
    /// A convex polytope: the points with `n . p <= d` for every plane `[n, d]` (n a unit
    /// outward normal). Convex hulls of tool meshes become this.
    Convex {
        /// The planes `[nx, ny, nz, d]`.
        planes: Vec<[f64; 4]>,
    },
}

/// Kernel codes of the shapes (`ShapeParams::kind.x`).
pub mod kind {
    /// Sphere.
    pub const SPHERE: u32 = 0;
    /// Capsule.
    pub const CAPSULE: u32 = 1;
    /// Cylinder.
    pub const CYLINDER: u32 = 2;
    /// Box.
    pub const BOX: u32 = 3;
    /// Convex polytope.
    pub const CONVEX: u32 = 4;
}

/// Most planes of one convex shape.
pub const MAX_HULL_PLANES: usize = 256;

impl ToolShape {
    /// Checks dimensions: positive and finite; convex planes with unit normals, bounded.
    pub fn check(&self) -> Result<(), String> {
        let pos = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be positive and finite (got {v})"))
            }
        };
        match self {
            ToolShape::Sphere { radius } => pos("radius", *radius),
            ToolShape::Capsule {
                radius,
                half_length,
            }
            | ToolShape::Cylinder {
                radius,
                half_length,
            } => {
                pos("radius", *radius)?;
                if half_length.is_finite() && *half_length >= 0.0 {
                    Ok(())
                } else {
                    Err(format!("half length must be >= 0 (got {half_length})"))
                }
            }
            ToolShape::Box { half_extents } => {
                half_extents.iter().try_for_each(|&h| pos("half extent", h))
            }
            ToolShape::Convex { planes } => {
                if planes.len() < 4 || planes.len() > MAX_HULL_PLANES {
                    return Err(format!(
                        "a convex shape needs 4 to {MAX_HULL_PLANES} planes (got {})",
                        planes.len()
                    ));
                }
                for (k, p) in planes.iter().enumerate() {
                    let l = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
                    if !p.iter().all(|v| v.is_finite()) || (l - 1.0).abs() > 1e-6 {
                        return Err(format!("plane {k} has no unit normal: {p:?}"));
                    }
                }
                // Bounded and non-empty: the origin of the shape frame must be inside.
                if planes.iter().any(|p| p[3] <= 0.0) {
                    return Err(
                        "the shape's origin must lie strictly inside the convex shape".into(),
                    );
                }
                Ok(())
            }
        }
    }

    /// Half extents of the shape's box about its frame's origin (`None` for a convex hull,
    /// whose planes do not give its corners).
    pub(crate) fn half_extents(&self) -> Option<[f64; 3]> {
        match self {
            ToolShape::Sphere { radius } => Some([*radius; 3]),
            ToolShape::Capsule {
                radius,
                half_length,
            } => Some([*radius, *radius, half_length + radius]),
            ToolShape::Cylinder {
                radius,
                half_length,
            } => Some([*radius, *radius, *half_length]),
            ToolShape::Box { half_extents } => Some(*half_extents),
            ToolShape::Convex { .. } => None,
        }
    }

    /// The kernel code, dimensions and hull planes.
    pub(crate) fn kernel_params(&self) -> (u32, [f32; 4], Vec<[f32; 4]>) {
        match self {
            ToolShape::Sphere { radius } => (kind::SPHERE, [*radius as f32, 0.0, 0.0, 0.0], vec![]),
            ToolShape::Capsule {
                radius,
                half_length,
            } => (
                kind::CAPSULE,
                [*radius as f32, *half_length as f32, 0.0, 0.0],
                vec![],
            ),
            ToolShape::Cylinder {
                radius,
                half_length,
            } => (
                kind::CYLINDER,
                [*radius as f32, *half_length as f32, 0.0, 0.0],
                vec![],
            ),
            ToolShape::Box { half_extents: h } => (
                kind::BOX,
                [h[0] as f32, h[1] as f32, h[2] as f32, 0.0],
                vec![],
            ),
            ToolShape::Convex { planes } => (
                kind::CONVEX,
                [0.0; 4],
                planes
                    .iter()
                    .map(|p| [p[0] as f32, p[1] as f32, p[2] as f32, p[3] as f32])
                    .collect(),
            ),
        }
    }

    /// The kernels' record of this shape on body `body`, its hull planes from `first_plane`,
    /// with friction `[static, kinetic]` and face contact on or off.
    pub(crate) fn shape_params(
        &self,
        body: u32,
        first_plane: u32,
        friction: [f32; 2],
        faces: bool,
    ) -> ShapeParams {
        let (k, dims, planes) = self.kernel_params();
        let bound = super::surface::face_radii(self).map_or(0.0, |(_, b)| b) as f32;
        // The core segment's half vector and the share of it left when shortened by the
        // smallest radius (see `surface::deepest_point`).
        let (core, ratio) = match self {
            ToolShape::Capsule { half_length, .. } => ([0.0, 0.0, *half_length], 1.0),
            ToolShape::Cylinder {
                radius,
                half_length,
            } => (
                [0.0, 0.0, *half_length],
                if *half_length > 0.0 {
                    (half_length - radius.min(*half_length)) / half_length
                } else {
                    1.0
                },
            ),
            ToolShape::Box { half_extents: h } => {
                let a = (0..3).fold(0, |a, j| if h[j] > h[a] { j } else { a });
                let lo = h.iter().copied().fold(f64::INFINITY, f64::min);
                let mut c = [0.0; 3];
                c[a] = h[a];
                (c, (h[a] - lo) / h[a])
            }
            _ => ([0.0; 3], 1.0),
        };
        let core = [core[0] as f32, core[1] as f32, core[2] as f32, bound];
        ShapeParams {
            kind: [k, body, first_plane, planes.len() as u32],
            dims,
            friction: [
                friction[0],
                friction[1],
                f32::from(u8::from(faces)),
                ratio as f32,
            ],
            core,
        }
    }

    /// Signed distance of a point in the shape frame (negative inside), in f64 (for tests and
    /// host-side queries; the kernels use `sdf`).
    pub fn distance(&self, p: [f64; 3]) -> f64 {
        let (k, dims, planes) = self.kernel_params();
        let q = [p[0] as f32, p[1] as f32, p[2] as f32];
        let s = ShapeParams {
            kind: [k, 0, 0, planes.len() as u32],
            dims,
            ..Default::default()
        };
        sdf(&s, &planes, q).0 as f64
    }
}

#[inline(always)]
pub(crate) fn apply_rows(m: &[[f32; 4]; 3], x: [f32; 3]) -> [f32; 3] {
    [
        dot([m[0][0], m[0][1], m[0][2]], x) + m[0][3],
        dot([m[1][0], m[1][1], m[1][2]], x) + m[1][3],
        dot([m[2][0], m[2][1], m[2][2]], x) + m[2][3],
    ]
}

/// Rotates a local vector back to the world with the transpose of the rows' rotation.
#[inline(always)]
pub(crate) fn unrotate(m: &[[f32; 4]; 3], d: [f32; 3]) -> [f32; 3] {
    let mut out = [0.0f32; 3];
    for k in 0..3 {
        out[k] = d[0] * m[0][k] + d[1] * m[1][k] + d[2] * m[2][k];
    }
    out
}

#[inline(always)]
fn sign1(v: f32) -> f32 {
    if v < 0.0 {
        -1.0
    } else {
        1.0
    }
}

/// Signed distance (negative inside) and outward unit normal of a point `p` in the shape
/// frame. Exact inside every shape (where contacts are resolved); outside only the sign
/// matters.
#[inline(always)]
pub(crate) fn sdf(s: &ShapeParams, planes: &[[f32; 4]], p: [f32; 3]) -> (f32, [f32; 3]) {
    let r = s.dims[0];
    match s.kind[0] {
        kind::SPHERE => {
            let l = dot(p, p).sqrt();
            if l > 0.0 {
                (l - r, [p[0] / l, p[1] / l, p[2] / l])
            } else {
                (-r, [0.0, 0.0, 1.0])
            }
        }
        kind::CAPSULE => {
            let hl = s.dims[1];
            let q = [p[0], p[1], p[2] - p[2].clamp(-hl, hl)];
            let l = dot(q, q).sqrt();
            if l > 0.0 {
                (l - r, [q[0] / l, q[1] / l, q[2] / l])
            } else {
                (-r, [1.0, 0.0, 0.0])
            }
        }
        kind::CYLINDER => {
            let hl = s.dims[1];
            let rho = (p[0] * p[0] + p[1] * p[1]).sqrt();
            let dr = rho - r;
            let dz = p[2].abs() - hl;
            if dr > dz {
                if rho > 0.0 {
                    (dr, [p[0] / rho, p[1] / rho, 0.0])
                } else {
                    (dr, [1.0, 0.0, 0.0])
                }
            } else {
                (dz, [0.0, 0.0, sign1(p[2])])
            }
        }
        kind::BOX => {
            let q = [
                p[0].abs() - s.dims[0],
                p[1].abs() - s.dims[1],
                p[2].abs() - s.dims[2],
            ];
            let mut k = 0;
            if q[1] > q[k] {
                k = 1;
            }
            if q[2] > q[k] {
                k = 2;
            }
            let mut n = [0.0f32; 3];
            n[k] = sign1(p[k]);
            (q[k], n)
        }
        _ => {
            let (first, count) = (s.kind[2] as usize, s.kind[3] as usize);
            let mut d = f32::NEG_INFINITY;
            let mut n = [0.0f32, 0.0, 1.0];
            for pl in &planes[first..first + count] {
                let e = dot([pl[0], pl[1], pl[2]], p) - pl[3];
                if e > d {
                    d = e;
                    n = [pl[0], pl[1], pl[2]];
                }
            }
            (d, n)
        }
    }
}

/// Where a contact point `p` (shape frame) inside shape `sp` by `depth` along its outward
/// normal `n` goes: to the surface, less the tangential motion relative to the tool since
/// `pp` (the point at the start of the substep, in the tool's frame then) that Coulomb
/// friction holds back. Shared by vertex and face contact; mirrors `contact_target` in
/// `shaders/xpbd/contact.wgsl`.
#[inline(always)]
pub(crate) fn contact_target(
    sp: &ShapeParams,
    p: [f32; 3],
    n: [f32; 3],
    depth: f32,
    pp: [f32; 3],
) -> [f32; 3] {
    let mut q = [
        p[0] + depth * n[0],
        p[1] + depth * n[1],
        p[2] + depth * n[2],
    ];
    let dl = [q[0] - pp[0], q[1] - pp[1], q[2] - pp[2]];
    let dn = dot(dl, n);
    let t = [dl[0] - dn * n[0], dl[1] - dn * n[1], dl[2] - dn * n[2]];
    let tl = dot(t, t).sqrt();
    if tl > 0.0 {
        let f = if tl <= sp.friction[0] * depth {
            1.0
        } else {
            (sp.friction[1] * depth / tl).min(1.0)
        };
        for j in 0..3 {
            q[j] -= f * t[j];
        }
    }
    q
}

/// Per-vertex data the contact kernel needs.
pub(crate) struct ContactInputs<'a> {
    pub step: &'a ToolSubstep,
    pub shapes: &'a [ShapeParams],
    pub planes: &'a [[f32; 4]],
    pub attach: &'a [[f32; 4]],
}

/// Pushes one vertex out of every tool shape (with friction), then moves it to its
/// attachment. `x` is the displacement, `prev` the displacement at the start of the substep,
/// `x0` the rest position, `w` the inverse mass (> 0). `acc(body, impulse, moment)` receives
/// the impulse x dt given to each body (kg m) and its moment about the body origin.
/// Mirrors `contact_vertex` in `shaders/xpbd/contact.wgsl`.
#[inline(always)]
pub(crate) fn contact_vertex(
    c: &ContactInputs,
    i: usize,
    x: &mut [f32; 3],
    prev: [f32; 3],
    x0: [f32; 3],
    w: f32,
    mut acc: impl FnMut(usize, [f32; 3], [f32; 3]),
) {
    let step = c.step;
    for k in 0..step.counts[1] as usize {
        let sp = &c.shapes[k];
        let m = &step.shapes[k];
        let xw = [x0[0] + x[0], x0[1] + x[1], x0[2] + x[2]];
        let [lo, hi] = &step.bounds[k];
        if (0..3).any(|j| xw[j] < lo[j] || xw[j] > hi[j]) {
            continue;
        }
        let p = apply_rows(m, xw);
        let (d, n) = sdf(sp, c.planes, p);
        if d >= 0.0 {
            continue;
        }
        let depth = -d;
        let xp = [x0[0] + prev[0], x0[1] + prev[1], x0[2] + prev[2]];
        let q = contact_target(sp, p, n, depth, apply_rows(&step.shapes_prev[k], xp));
        let dw = unrotate(m, [q[0] - p[0], q[1] - p[1], q[2] - p[2]]);
        for j in 0..3 {
            x[j] += dw[j];
        }
        push_impulse(step, sp.kind[1] as usize, x0, x, dw, w, &mut acc);
    }
    if step.counts[2] != 0 {
        let a = c.attach[i];
        if a[3] > 0.0 {
            let b = a[3] as usize - 1;
            let target = apply_rows(&step.bodies[b], [a[0], a[1], a[2]]);
            let dw = [
                target[0] - (x0[0] + x[0]),
                target[1] - (x0[1] + x[1]),
                target[2] - (x0[2] + x[2]),
            ];
            for j in 0..3 {
                x[j] += dw[j];
            }
            push_impulse(step, b, x0, x, dw, w, &mut acc);
        }
    }
}

/// The body's share of a vertex correction `dw`: impulse x dt `-dw / w` and its moment
/// about the body origin at this substep.
#[inline(always)]
pub(crate) fn push_impulse(
    step: &ToolSubstep,
    b: usize,
    x0: [f32; 3],
    x: &[f32; 3],
    dw: [f32; 3],
    w: f32,
    acc: &mut impl FnMut(usize, [f32; 3], [f32; 3]),
) {
    let o = [
        step.bodies[b][0][3],
        step.bodies[b][1][3],
        step.bodies[b][2][3],
    ];
    let r = [
        x0[0] + x[0] - o[0],
        x0[1] + x[1] - o[1],
        x0[2] + x[2] - o[2],
    ];
    let f = [-dw[0] / w, -dw[1] / w, -dw[2] / w];
    let m = [
        r[1] * f[2] - r[2] * f[1],
        r[2] * f[0] - r[0] * f[2],
        r[0] * f[1] - r[1] * f[0],
    ];
    acc(b, f, m);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_of_primitives() {
        let s = ToolShape::Sphere { radius: 0.01 };
        assert!((s.distance([0.0, 0.0, 0.005]) + 0.005).abs() < 1e-7);
        let c = ToolShape::Capsule {
            radius: 0.002,
            half_length: 0.01,
        };
        assert!((c.distance([0.001, 0.0, 0.005]) + 0.001).abs() < 1e-7);
        assert!((c.distance([0.0, 0.0, 0.0115]) + 0.0005).abs() < 1e-7);
        let cy = ToolShape::Cylinder {
            radius: 0.002,
            half_length: 0.01,
        };
        assert!((cy.distance([0.0, 0.0, 0.0095]) + 0.0005).abs() < 1e-7);
        let b = ToolShape::Box {
            half_extents: [0.01, 0.02, 0.03],
        };
        assert!((b.distance([0.0, 0.019, 0.0]) + 0.001).abs() < 1e-7);
        // A cube as a convex polytope: the same distance inside.
        let h = 0.01;
        let planes = vec![
            [1.0, 0.0, 0.0, h],
            [-1.0, 0.0, 0.0, h],
            [0.0, 1.0, 0.0, h],
            [0.0, -1.0, 0.0, h],
            [0.0, 0.0, 1.0, h],
            [0.0, 0.0, -1.0, h],
        ];
        let cv = ToolShape::Convex { planes };
        let cube = ToolShape::Box {
            half_extents: [h; 3],
        };
        for p in [[0.0, 0.0, 0.009], [0.003, -0.008, 0.001], [0.0, 0.0, 0.0]] {
            assert!((cv.distance(p) - cube.distance(p)).abs() < 1e-7);
        }
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(ToolShape::Sphere { radius: 0.0 }.check().is_err());
        assert!(ToolShape::Sphere { radius: f64::NAN }.check().is_err());
        assert!(ToolShape::Box {
            half_extents: [1.0, -1.0, 1.0]
        }
        .check()
        .is_err());
        assert!(ToolShape::Convex {
            planes: vec![[1.0, 0.0, 0.0, 1.0]; 3]
        }
        .check()
        .is_err());
    }
}
