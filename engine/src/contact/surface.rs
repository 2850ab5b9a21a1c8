//! Tool shapes against the tissue's surface triangles: face contact.
//! GPU twin: `faces` and `gather` in `shaders/xpbd/contact.wgsl` (same operations in the
//! same order).
//!
//! Per-vertex contact (`shapes.rs`) pushes every vertex inside a tool to its surface; a
//! tool thinner than the vertex spacing then settles between vertices, and the force it
//! feels depends on where it lands. Face contact also keeps the tool out of the surface
//! triangles between the vertices:
//!
//! 1. **faces** (one work item per surface triangle): for each tool shape near the triangle
//!    (the broad phase: the triangle's bounding sphere against the shape's distance from
//!    its core), the triangle's deepest point in the shape
//!    is found (the point of the triangle closest to the shape's core: the centre of a
//!    sphere, the axis segment of a capsule or cylinder, the long axis of a box; see
//!    `deepest_point`), and the correction that moves
//!    it to the shape's surface (with Coulomb friction on its motion relative to the tool,
//!    as for vertices) is shared by the triangle's three vertices by barycentric weight and
//!    inverse mass (`dx_i = w_i b_i dx / sum_j w_j b_j^2`, so that the point moves by `dx`).
//!    Each triangle writes its three corrections to its own slots: no two work items write
//!    the same memory.
//! 2. **gather** (one work item per vertex): a surface vertex adds the mean of the
//!    corrections its triangles proposed (Jacobi with averaging, as in Macklin et al.'s
//!    unified particle solver), in a fixed order (the vertex's triangle list), and the
//!    tool's body gets the matching impulse. Fixed order and disjoint writes: the same bits
//!    on any CPU team.
//!
//! Both passes run after the vertex contact of the collide phases (vertices inside a tool are
//! already on its surface; what is left is the triangles between them). Attached and pinned
//! vertices are not moved by face contact. Convex hulls keep vertex contact only (their
//! deepest point would need a small linear program per triangle).
//!
//! Written by hand: the closest-point routines are Ericson's ("Real-Time Collision
//! Detection", 5.1.5 and 5.1.9) in f32, mirrored line by line in WGSL, which no crate gives
//! (parry's are f64/f32 over its own types and cannot be shared with a shader).

// Index loops over xyz and corners mirror the WGSL.
#![allow(clippy::needless_range_loop)]

use super::shapes::{apply_rows, contact_target, sdf, unrotate};
use super::{ShapeParams, ToolShape, ToolSubstep};
use crate::mesh::boundary_triangles;
use crate::model::Model;
use crate::solver::constraints::{cross, dot, sub};

/// Which contact the tool shapes make with the tissue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SurfaceContact {
    /// Faces when a tool is thin against the surface's vertex spacing (its smallest radius
    /// under [`AUTO_RADIUS_PER_EDGE`] mean surface edges), else vertices.
    #[default]
    Auto,
    /// Vertices only.
    Vertices,
    /// Vertices and surface triangles.
    Faces,
}

/// [`SurfaceContact::Auto`] chooses faces when a tool's smallest radius is under this many
/// mean surface edge lengths: where the tool can settle between vertices (it sinks by about
/// the sagitta `h^2 / (8 R)`, an eighth of the spacing `h` at `R = h`). Not wider: on a
/// 20 mm sphere pressed 5 mm into 12.5 mm cells, face contact's averaged corrections let the
/// surface lag into the tool while it moves, so the tissue stored 12 % more energy than the
/// probe's measured work (`cosim/tests/energy.rs` with faces forced; vertex contact: 0.2 %).
pub const AUTO_RADIUS_PER_EDGE: f64 = 1.0;

/// What [`SurfaceContact`] resolved to for a tool setup, as reported to the user.
#[derive(Clone, Debug, PartialEq)]
pub struct SurfaceContactChoice {
    /// What the setup asked for.
    pub requested: SurfaceContact,
    /// Whether face contact runs.
    pub faces: bool,
    /// Surface triangles.
    pub triangles: usize,
    /// Mean surface edge length (m).
    pub mean_edge: f64,
    /// Smallest radius over the tool shapes that take face contact (m; infinite when none).
    pub smallest_radius: f64,
}

impl std::fmt::Display for SurfaceContactChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.faces { "faces" } else { "vertices" };
        write!(
            f,
            "tool contact: {how} ({:?} asked; {} surface triangles, mean edge {:.2} mm",
            self.requested,
            self.triangles,
            self.mean_edge * 1e3
        )?;
        if self.smallest_radius.is_finite() {
            write!(
                f,
                ", thinnest tool radius {:.2} mm)",
                self.smallest_radius * 1e3
            )
        } else {
            write!(f, ", no tool shape takes face contact)")
        }
    }
}

/// The smallest radius of curvature of a shape's surface and how far its points lie from its
/// core (`ShapeParams::core`), for the shapes that take face contact (`None`: convex hulls).
pub(crate) fn face_radii(shape: &ToolShape) -> Option<(f64, f64)> {
    match shape {
        ToolShape::Sphere { radius }
        | ToolShape::Capsule { radius, .. }
        | ToolShape::Cylinder { radius, .. } => Some((*radius, *radius)),
        ToolShape::Box { half_extents: h } => {
            // The core is the longest axis: the reach is the other two's diagonal.
            let a = (0..3).fold(0, |a, j| if h[j] > h[a] { j } else { a });
            let (b, c) = ((a + 1) % 3, (a + 2) % 3);
            Some((
                h.iter().copied().fold(f64::INFINITY, f64::min),
                h[b].hypot(h[c]),
            ))
        }
        ToolShape::Convex { .. } => None,
    }
}

/// The tissue's surface as the face kernels read it.
#[derive(Clone, Debug, Default)]
pub(crate) struct SurfaceMesh {
    /// Surface triangles (outward), w unused.
    pub faces: Vec<[u32; 4]>,
    /// Per vertex, its slots (`3 * face + corner`): `slots[offsets[i]..offsets[i + 1]]`.
    pub offsets: Vec<u32>,
    /// Slot lists.
    pub slots: Vec<u32>,
    /// Mean surface edge length at rest (m).
    pub mean_edge: f64,
}

impl SurfaceMesh {
    /// The boundary triangles of `model` and each vertex's corner slots.
    pub fn new(model: &Model) -> Self {
        let tris = boundary_triangles(&model.tets);
        let nv = model.num_vertices();
        let mut count = vec![0u32; nv + 1];
        let mut edge = 0.0;
        for t in &tris {
            for c in 0..3 {
                count[t[c] as usize + 1] += 1;
                let (a, b) = (
                    model.rest_positions[t[c] as usize],
                    model.rest_positions[t[(c + 1) % 3] as usize],
                );
                let d = [
                    (a[0] - b[0]) as f64,
                    (a[1] - b[1]) as f64,
                    (a[2] - b[2]) as f64,
                ];
                edge += (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
            }
        }
        for i in 0..nv {
            count[i + 1] += count[i];
        }
        let offsets = count.clone();
        let mut fill = count;
        let mut slots = vec![0u32; 3 * tris.len()];
        for (f, t) in tris.iter().enumerate() {
            for c in 0..3 {
                let v = t[c] as usize;
                slots[fill[v] as usize] = (3 * f + c) as u32;
                fill[v] += 1;
            }
        }
        Self {
            faces: tris.iter().map(|t| [t[0], t[1], t[2], 0]).collect(),
            offsets,
            slots,
            mean_edge: edge / (3 * tris.len()).max(1) as f64,
        }
    }

    /// The kernels' read-only surface buffer: a header (faces, start of the vertex offsets,
    /// start of the slot lists, 0), the faces, the vertex offsets, the slot lists.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub fn packed(&self) -> Vec<u32> {
        let f = self.faces.len() as u32;
        let offsets_at = 4 + 4 * f;
        let slots_at = offsets_at + self.offsets.len() as u32;
        let mut out = vec![f, offsets_at, slots_at, 0];
        out.extend_from_slice(bytemuck::cast_slice(&self.faces));
        out.extend_from_slice(&self.offsets);
        out.extend_from_slice(&self.slots);
        out
    }
}

#[inline(always)]
pub(crate) fn at_bary(t: &[[f32; 3]; 3], b: [f32; 3]) -> [f32; 3] {
    let mut out = [0.0f32; 3];
    for j in 0..3 {
        out[j] = b[0] * t[0][j] + b[1] * t[1][j] + b[2] * t[2][j];
    }
    out
}
#[inline(always)]
fn dist2(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = sub(a, b);
    dot(d, d)
}

/// Barycentric coordinates of the point of triangle `t` closest to `p` (Ericson 5.1.5).
#[inline(always)]
pub(crate) fn closest_on_triangle(p: [f32; 3], t: &[[f32; 3]; 3]) -> [f32; 3] {
    let (a, b, c) = (t[0], t[1], t[2]);
    let ab = sub(b, a);
    let ac = sub(c, a);
    let ap = sub(p, a);
    let d1 = dot(ab, ap);
    let d2 = dot(ac, ap);
    if d1 <= 0.0 && d2 <= 0.0 {
        return [1.0, 0.0, 0.0];
    }
    let bp = sub(p, b);
    let d3 = dot(ab, bp);
    let d4 = dot(ac, bp);
    if d3 >= 0.0 && d4 <= d3 {
        return [0.0, 1.0, 0.0];
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        let v = d1 / (d1 - d3);
        return [1.0 - v, v, 0.0];
    }
    let cp = sub(p, c);
    let d5 = dot(ab, cp);
    let d6 = dot(ac, cp);
    if d6 >= 0.0 && d5 <= d6 {
        return [0.0, 0.0, 1.0];
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        let w = d2 / (d2 - d6);
        return [1.0 - w, 0.0, w];
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && d4 - d3 >= 0.0 && d5 - d6 >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return [0.0, 1.0 - w, w];
    }
    let denom = 1.0 / (va + vb + vc);
    let v = vb * denom;
    let w = vc * denom;
    [1.0 - v - w, v, w]
}

/// Parameters `(s, t)` of the closest points of segments `p1 + s (q1 - p1)` and
/// `p2 + t (q2 - p2)` (Ericson 5.1.9); parallel segments take the middle of their overlap.
#[inline(always)]
fn closest_segments(p1: [f32; 3], q1: [f32; 3], p2: [f32; 3], q2: [f32; 3]) -> (f32, f32) {
    let d1 = sub(q1, p1);
    let d2 = sub(q2, p2);
    let r = sub(p1, p2);
    let a = dot(d1, d1);
    let e = dot(d2, d2);
    let f = dot(d2, r);
    if a <= 1e-20 && e <= 1e-20 {
        return (0.0, 0.0);
    }
    if a <= 1e-20 {
        return (0.0, (f / e).clamp(0.0, 1.0));
    }
    let c = dot(d1, r);
    if e <= 1e-20 {
        return ((-c / a).clamp(0.0, 1.0), 0.0);
    }
    let b = dot(d1, d2);
    let denom = a * e - b * b;
    let mut s;
    if denom > 1e-6 * a * e {
        s = ((b * f - c * e) / denom).clamp(0.0, 1.0);
    } else {
        // Parallel: the middle of the part of segment 1 that faces segment 2.
        let s0 = (-c / a).clamp(0.0, 1.0);
        let s1 = ((b - c) / a).clamp(0.0, 1.0);
        s = 0.5 * (s0 + s1);
    }
    let mut t = (b * s + f) / e;
    if t < 0.0 {
        t = 0.0;
        s = (-c / a).clamp(0.0, 1.0);
    } else if t > 1.0 {
        t = 1.0;
        s = ((b - c) / a).clamp(0.0, 1.0);
    }
    (s, t)
}

/// Barycentric coordinates of the point of triangle `t` closest to the segment `s0`-`s1`.
#[inline(always)]
pub(crate) fn closest_to_segment(s0: [f32; 3], s1: [f32; 3], t: &[[f32; 3]; 3]) -> [f32; 3] {
    // The segment through the triangle: the crossing point.
    let n = cross(sub(t[1], t[0]), sub(t[2], t[0]));
    let e0 = dot(sub(s0, t[0]), n);
    let e1 = dot(sub(s1, t[0]), n);
    if e0 * e1 <= 0.0 && e0 != e1 {
        let u = e0 / (e0 - e1);
        let x = [
            s0[0] + u * (s1[0] - s0[0]),
            s0[1] + u * (s1[1] - s0[1]),
            s0[2] + u * (s1[2] - s0[2]),
        ];
        let b = closest_on_triangle(x, t);
        if dist2(at_bary(t, b), x) <= 1e-12 * dot(n, n).sqrt() {
            return b;
        }
    }
    let de = e1 - e0;
    if de.abs() <= 1e-4 * (e0.abs() + e1.abs()) {
        // Parallel to the triangle's plane: the closest points are the part of the segment
        // over the triangle, if any; take its middle (a shaft lying on a triangle presses
        // where it lies, not at one end).
        let (mut lo, mut hi) = (0.0f32, 1.0f32);
        for c in 0..3 {
            let m = cross(n, sub(t[(c + 1) % 3], t[c]));
            let g0 = dot(sub(s0, t[c]), m);
            let g1 = dot(sub(s1, t[c]), m);
            if g0 < 0.0 && g1 < 0.0 {
                hi = -1.0;
            } else if g0 < 0.0 {
                lo = lo.max(g0 / (g0 - g1));
            } else if g1 < 0.0 {
                hi = hi.min(g0 / (g0 - g1));
            }
        }
        if lo <= hi {
            let u = 0.5 * (lo + hi);
            let x = [
                s0[0] + u * (s1[0] - s0[0]),
                s0[1] + u * (s1[1] - s0[1]),
                s0[2] + u * (s1[2] - s0[2]),
            ];
            return closest_on_triangle(x, t);
        }
    }
    let mut best = closest_on_triangle(s0, t);
    let mut best_d = dist2(at_bary(t, best), s0);
    let b1 = closest_on_triangle(s1, t);
    let d1 = dist2(at_bary(t, b1), s1);
    if d1 < best_d {
        best = b1;
        best_d = d1;
    }
    for c in 0..3 {
        let c1 = (c + 1) % 3;
        let (sa, ta) = closest_segments(t[c], t[c1], s0, s1);
        let pe = [
            t[c][0] + sa * (t[c1][0] - t[c][0]),
            t[c][1] + sa * (t[c1][1] - t[c][1]),
            t[c][2] + sa * (t[c1][2] - t[c][2]),
        ];
        let ps = [
            s0[0] + ta * (s1[0] - s0[0]),
            s0[1] + ta * (s1[1] - s0[1]),
            s0[2] + ta * (s1[2] - s0[2]),
        ];
        let d = dist2(pe, ps);
        if d < best_d {
            best_d = d;
            let mut b = [0.0f32; 3];
            b[c] = 1.0 - sa;
            b[c1] = sa;
            best = b;
        }
    }
    best
}

/// The deepest point of triangle `t` (shape frame) in shape `s`: its barycentric
/// coordinates, the signed distance there (negative inside) and the outward normal.
///
/// The point is the triangle's closest to the shape's core (`ShapeParams::core`: the centre
/// of a sphere, the axis of a capsule or cylinder, the longest axis of a box), or to that
/// core shortened by the smallest radius (cylinders and boxes), whichever is deeper: exact
/// for spheres, capsules, a cylinder's side and a triangle facing a box's side; near a
/// cylinder's or box's end a tilted triangle can go deeper than either point (by at most
/// the part of the smallest radius that overhangs), which later substeps take up.
#[inline(always)]
pub(crate) fn deepest_point(s: &ShapeParams, t: &[[f32; 3]; 3]) -> ([f32; 3], f32, [f32; 3]) {
    let h = [s.core[0], s.core[1], s.core[2]];
    let mut b = closest_to_core(h, t);
    let (mut d, mut n) = sdf(s, &[], at_bary(t, b));
    let r = s.friction[3];
    if r < 1.0 {
        // Flat ends: the core shortened in steps down to the smallest radius gives more
        // candidates (where a tilted triangle goes deepest next to an end's rim).
        for k in 1..=CORE_STEPS {
            let u = 1.0 - (1.0 - r) * k as f32 / CORE_STEPS as f32;
            let b2 = closest_to_core([u * h[0], u * h[1], u * h[2]], t);
            let (d2, n2) = sdf(s, &[], at_bary(t, b2));
            // Deeper by more than rounding (a tie keeps the full core's point).
            if d2 < d - TIE * s.dims[0] {
                (b, d, n) = (b2, d2, n2);
            }
        }
    }
    let c = at_bary(t, b);
    if dist2(c, core_point(h, c)) <= 1e-14 {
        // The core is in the triangle (the tool is through the surface), where the
        // distance's normal is arbitrary: push the triangle back along its inward normal.
        let fnrm = cross(sub(t[1], t[0]), sub(t[2], t[0]));
        let l = dot(fnrm, fnrm).sqrt();
        if l > 0.0 {
            n = [-fnrm[0] / l, -fnrm[1] / l, -fnrm[2] / l];
        }
    }
    (b, d, n)
}

/// Barycentric coordinates of the point of `t` closest to the core segment `-h..h`.
#[inline(always)]
fn closest_to_core(h: [f32; 3], t: &[[f32; 3]; 3]) -> [f32; 3] {
    if dot(h, h) > 0.0 {
        closest_to_segment([-h[0], -h[1], -h[2]], h, t)
    } else {
        closest_on_triangle([0.0; 3], t)
    }
}

/// Shortened cores tried for cylinders and boxes (`deepest_point`).
const CORE_STEPS: u32 = 4;
/// How much deeper (a share of the shape's first dimension) a shortened core's point must
/// be to replace the full core's.
const TIE: f32 = 1e-3;

/// The point of the core segment `-h..h` nearest `p`.
#[inline(always)]
fn core_point(h: [f32; 3], p: [f32; 3]) -> [f32; 3] {
    let hh = dot(h, h);
    if hh == 0.0 {
        return [0.0; 3];
    }
    let u = (dot(p, h) / hh).clamp(-1.0, 1.0);
    [u * h[0], u * h[1], u * h[2]]
}

/// One surface triangle's contact with every tool shape that takes face contact: the
/// corrections (xyz, world) its three vertices should get and w the body + 1 of the last
/// shape that touched it (0: no contact). `x[c]`, `prev[c]`: the corners' world positions
/// now and at the start of the substep; `w[c]`: inverse masses (the corners that are
/// attached are given 0: face contact does not move them). Mirrors `face_contact` in
/// `shaders/xpbd/contact.wgsl`.
#[inline(always)]
pub(crate) fn face_contact(
    step: &ToolSubstep,
    shapes: &[ShapeParams],
    x: [[f32; 3]; 3],
    prev: [[f32; 3]; 3],
    w: [f32; 3],
) -> [[f32; 4]; 3] {
    let mut out = [[0.0f32; 4]; 3];
    if w[0] + w[1] + w[2] == 0.0 {
        return out;
    }
    let mut y = x;
    let centre = [
        (x[0][0] + x[1][0] + x[2][0]) / 3.0,
        (x[0][1] + x[1][1] + x[2][1]) / 3.0,
        (x[0][2] + x[1][2] + x[2][2]) / 3.0,
    ];
    let reach = dist2(x[0], centre)
        .max(dist2(x[1], centre))
        .max(dist2(x[2], centre))
        .sqrt();
    for k in 0..step.counts[1] as usize {
        let sp = &shapes[k];
        if sp.friction[2] == 0.0 {
            continue;
        }
        let m = &step.shapes[k];
        // Broad phase: the triangle's bounding sphere against the shape's reach about its
        // core (a long shaft only tests the triangles near its axis).
        let cl = apply_rows(m, centre);
        let r = sp.core[3] + reach;
        if dist2(cl, core_point([sp.core[0], sp.core[1], sp.core[2]], cl)) > r * r {
            continue;
        }
        let t = [
            apply_rows(m, y[0]),
            apply_rows(m, y[1]),
            apply_rows(m, y[2]),
        ];
        let (b, d, n) = deepest_point(sp, &t);
        if d >= 0.0 {
            continue;
        }
        let denom = w[0] * b[0] * b[0] + w[1] * b[1] * b[1] + w[2] * b[2] * b[2];
        if denom <= 0.0 {
            continue;
        }
        let depth = -d;
        let p = at_bary(&t, b);
        let mp = &step.shapes_prev[k];
        let tp = [
            apply_rows(mp, prev[0]),
            apply_rows(mp, prev[1]),
            apply_rows(mp, prev[2]),
        ];
        let q = contact_target(sp, p, n, depth, at_bary(&tp, b));
        let dw = unrotate(m, sub(q, p));
        for c in 0..3 {
            let s = w[c] * b[c] / denom;
            for j in 0..3 {
                let dc = s * dw[j];
                y[c][j] += dc;
                out[c][j] += dc;
            }
            out[c][3] = (sp.kind[1] + 1) as f32;
        }
    }
    out
}

/// The least cosine between a triangle's inward normal and the direction in which a needle
/// shaft pushes it (see [`shaft_contact`]).
pub(crate) const SHAFT_FACING: f32 = 0.5;

/// What [`shaft_contact`] gives back.
pub(crate) struct ShaftPush {
    /// The move of the triangle's point onto the capsule (world).
    pub dp: [f32; 3],
    /// The point's barycentric coordinates.
    pub bary: [f32; 3],
    /// The point (world).
    pub point: [f32; 3],
    /// `sum w b^2` over the corners.
    pub denom: f32,
}

/// A needle shaft's push on one surface triangle `t` (world corners, outward; `w` the
/// corners' inverse masses): the shaft is the capsule of radius `r` about the segment
/// `s0`-`s1`. Where the triangle's point closest to that segment lies within `r` of it, the
/// move that puts the point on the capsule (on the tissue's side of the segment: a point
/// on the outer side, the shaft having gone through, goes to the far side, across the
/// axis along the triangle's inward normal). Mirrors `shaft_contact` in
/// `shaders/xpbd/contact.wgsl`.
#[inline(always)]
pub(crate) fn shaft_contact(
    s0: [f32; 3],
    s1: [f32; 3],
    r: f32,
    t: &[[f32; 3]; 3],
    w: [f32; 3],
) -> Option<ShaftPush> {
    let b = closest_to_segment(s0, s1, t);
    let p = at_bary(t, b);
    let h = sub(s1, s0);
    let hh = dot(h, h);
    let u = if hh > 0.0 {
        (dot(sub(p, s0), h) / hh).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let c = [s0[0] + u * h[0], s0[1] + u * h[1], s0[2] + u * h[2]];
    let d = sub(p, c);
    let dd = dot(d, d);
    if dd >= r * r {
        return None;
    }
    let denom = w[0] * b[0] * b[0] + w[1] * b[1] * b[1] + w[2] * b[2] * b[2];
    let n = cross(sub(t[1], t[0]), sub(t[2], t[0]));
    let nn = dot(n, n);
    if denom <= 0.0 || nn <= 0.0 {
        return None;
    }
    let dist = dd.sqrt();
    let e = if dot(d, n) < 0.0 && dist > 0.0 {
        [d[0] / dist, d[1] / dist, d[2] / dist]
    } else {
        // Through the triangle: out across the shaft, towards the tissue (the inward
        // normal's part across the axis); a triangle across the shaft (the side of a block
        // the shaft runs over) is left to the triangles the shaft lies on.
        let k = if hh > 0.0 { -dot(n, h) / hh } else { 0.0 };
        let m = [-n[0] - k * h[0], -n[1] - k * h[1], -n[2] - k * h[2]];
        let mm = dot(m, m);
        if mm <= 0.01 * nn {
            return None;
        }
        let l = 1.0 / mm.sqrt();
        [m[0] * l, m[1] * l, m[2] * l]
    };
    // Only a triangle that faces the shaft is pushed: one nearly along the push (the side
    // of a block the shaft runs over the edge of) would be moved within its own plane, and
    // as it tilts back and forth it would pump energy into the tissue; its neighbours
    // carry the shaft.
    if dot(e, n) > -SHAFT_FACING * nn.sqrt() {
        return None;
    }
    let q = [c[0] + r * e[0], c[1] + r * e[1], c[2] + r * e[2]];
    Some(ShaftPush {
        dp: sub(q, p),
        bary: b,
        point: p,
        denom,
    })
}

/// Adds to `x` (a vertex's displacement) the mean of the corrections its triangles proposed
/// (their slots `slots`, in order), then calls `acc(body, share, x)` for each proposing slot
/// with its share of the correction and the new displacement. Mirrors `gather_vertex` in
/// `shaders/xpbd/contact.wgsl`.
#[inline(always)]
pub(crate) fn gather_vertex(
    proposals: &[[f32; 4]],
    slots: &[u32],
    x: &mut [f32; 3],
    mut acc: impl FnMut(usize, [f32; 3], &[f32; 3]),
) {
    let mut n = 0u32;
    let mut sum = [0.0f32; 3];
    for &s in slots {
        let p = proposals[s as usize];
        if p[3] > 0.0 {
            n += 1;
            for j in 0..3 {
                sum[j] += p[j];
            }
        }
    }
    if n == 0 {
        return;
    }
    let inv = 1.0 / n as f32;
    for j in 0..3 {
        x[j] += sum[j] * inv;
    }
    for &s in slots {
        let p = proposals[s as usize];
        if p[3] > 0.0 {
            acc(p[3] as usize - 1, [p[0] * inv, p[1] * inv, p[2] * inv], x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tri() -> [[f32; 3]; 3] {
        [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    }

    #[test]
    fn closest_points_on_a_triangle() {
        let t = tri();
        let b = closest_on_triangle([0.2, 0.2, 1.0], &t);
        assert!((b[1] - 0.2).abs() < 1e-6 && (b[2] - 0.2).abs() < 1e-6);
        assert_eq!(closest_on_triangle([-1.0, -1.0, 0.0], &t), [1.0, 0.0, 0.0]);
        let b = closest_on_triangle([1.0, 1.0, 0.0], &t);
        assert!((b[1] - 0.5).abs() < 1e-6 && (b[2] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn a_segment_above_a_triangle_is_closest_at_its_middle_when_parallel() {
        let t = tri();
        // Parallel to the x axis above the triangle, from x = -1 to 0.5 at y = 0.25.
        let b = closest_to_segment([-1.0, 0.25, 0.5], [0.5, 0.25, 0.5], &t);
        let p = at_bary(&t, b);
        // The part over the triangle is x in [0, 0.5]: its middle is at 0.25.
        assert!(
            (p[0] - 0.25).abs() < 1e-5 && (p[1] - 0.25).abs() < 1e-5,
            "{p:?}"
        );
        // A segment through the triangle: the crossing point.
        let b = closest_to_segment([0.3, 0.3, -1.0], [0.3, 0.3, 1.0], &t);
        let p = at_bary(&t, b);
        assert!((p[0] - 0.3).abs() < 1e-5 && (p[1] - 0.3).abs() < 1e-5);
    }

    fn params(shape: ToolShape) -> ShapeParams {
        shape.shape_params(0, 0, [0.0, 0.0], true)
    }

    #[test]
    fn a_sphere_presses_a_triangle_between_its_vertices() {
        // A big triangle, a small sphere 0.1 into its middle: vertex contact would not see it.
        let s = params(ToolShape::Sphere { radius: 0.5 });
        let tl = [[-3.0, -3.0, -0.4], [3.0, -3.0, -0.4], [0.0, 3.0, -0.4]];
        let (b, d, n) = deepest_point(&s, &tl);
        assert!((d + 0.1).abs() < 1e-5, "{d}");
        assert!((n[2] + 1.0).abs() < 1e-5, "{n:?}");
        let p = at_bary(&tl, b);
        assert!(p[0].abs() < 1e-5 && p[1].abs() < 1e-5);
    }

    #[test]
    fn a_shaft_lying_on_a_triangle_presses_its_middle() {
        // A cylinder of radius 0.5 along z, a triangle in the plane y = -0.4 under it.
        let s = params(ToolShape::Cylinder {
            radius: 0.5,
            half_length: 2.0,
        });
        let t = [[-3.0, -0.4, -1.0], [3.0, -0.4, -1.0], [0.0, -0.4, 3.0]];
        let (b, d, n) = deepest_point(&s, &t);
        assert!((d + 0.1).abs() < 1e-5, "{d}");
        assert!((n[1] + 1.0).abs() < 1e-5, "{n:?}");
        // The triangle spans z in [-1, 2] at x = 0 (clipped by the axis at 2): the middle.
        let p = at_bary(&t, b);
        assert!(p[0].abs() < 1e-4 && (p[2] - 0.5).abs() < 1e-4, "{p:?}");
    }

    #[test]
    fn a_plate_finds_its_depth_in_a_triangle() {
        let s = params(ToolShape::Box {
            half_extents: [1.0, 1.0, 0.1],
        });
        // Parallel to the broad side, 0.05 into it.
        let t = [[-5.0, -5.0, 0.05], [5.0, -5.0, 0.05], [0.0, 5.0, 0.05]];
        let (_, d, n) = deepest_point(&s, &t);
        assert!((d + 0.05).abs() < 1e-6, "{d}");
        assert!((n[2] - 1.0).abs() < 1e-6, "{n:?}");
        // Tilted through the plate's middle: the deepest point is on the mid-plane, 0.1 deep.
        let z = |x: f32| 0.05 + 0.5 * x;
        let t = [
            [-5.0, -5.0, z(-5.0)],
            [5.0, -5.0, z(5.0)],
            [0.0, 5.0, z(0.0)],
        ];
        let (_, d, _) = deepest_point(&s, &t);
        assert!((d + 0.1).abs() < 1e-5, "{d}");
    }

    #[test]
    fn a_triangle_moves_its_deepest_point_to_the_surface() {
        let shapes = [params(ToolShape::Sphere { radius: 0.5 })];
        let mut step = ToolSubstep {
            counts: [1, 1, 0, 0],
            ..Default::default()
        };
        // World to shape: the sphere at z = 0.4 above the origin.
        let rows = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, -0.4],
        ];
        step.shapes[0] = rows;
        step.shapes_prev[0] = rows;
        let x = [[-3.0, -3.0, 0.0], [3.0, -3.0, 0.0], [0.0, 3.0, 0.0]];
        let w = [1.0, 1.0, 1.0];
        let out = face_contact(&step, &shapes, x, x, w);
        // The contact point (under the centre) must go down by 0.1.
        let b = closest_on_triangle([0.0, 0.0, 0.0], &x);
        let moved = b[0] * out[0][2] + b[1] * out[1][2] + b[2] * out[2][2];
        assert!((moved + 0.1).abs() < 1e-5, "{out:?}");
        assert!(out.iter().all(|o| o[3] == 1.0));
        // A pinned triangle is left alone.
        assert_eq!(face_contact(&step, &shapes, x, x, [0.0; 3]), [[0.0; 4]; 3]);
    }
}
