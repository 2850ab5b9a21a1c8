//! The needle: a straight shaft ending in a sharp tip, carried by a tool body.
//!
//! # Model
//! * **Before a puncture** the tip pushes on the face of the surface (or of a region
//!   interface) that lies ahead of it on its axis: the face point hit by the axis is held at
//!   the tip (a point-on-triangle constraint with an infinitely heavy tip), so the surface
//!   tents. When the force of one substep on the face exceeds the puncture force of the
//!   region behind it, the face lets go: the tip is in.
//! * **The shaft, until the tip touches a surface**, is a capsule of the needle's radius from
//!   [`NeedleSpec::bevel_length`] behind the tip back to its length: the surface faces near
//!   it (picked on the host each frame, [`MAX_SHAFT_FACES`] at most) are kept out of it, their
//!   closest point to the axis moved onto the capsule by barycentric weights (frictionless),
//!   so a needle laid or swept sideways onto the skin pushes it. The bevel's own span is the
//!   barrier's: a capsule to the very tip would carry the load the puncture test needs.
//!   From the tip's first touch of a surface until it is in, the tent is the tip's alone
//!   (the puncture forces are whole needles'); once the tip is in, the shaft points take
//!   over. In both cases the faces are dropped.
//! * **Inside** the tissue, material points along the needle's path (spawned every
//!   `track_spacing` behind the tip, embedded in their tets by barycentric coordinates) are
//!   held on the shaft line laterally, and axially by stick-slip Coulomb friction: a point
//!   sticks to the shaft while the force holding it stays under the static limit of its
//!   region (friction per metre x spacing), and slides with the kinetic limit otherwise. A
//!   point the tip withdraws past is released.
//! * While the tip advances inside a region, the region's cutting force pushes the tissue at
//!   the tip forward (and the needle back).
//!
//! The per-substep work (`needle_pass` here, `needle` in `shaders/xpbd/needle.wgsl`) is
//! one sequential loop: a needle touches a few dozen points. The host-side state machine
//! ([`NeedleTracker`]) runs once per frame: it finds the face ahead of the tip, locates the
//! tip, records events and spawns shaft points.
//!
//! # Events
//! [`NeedleEventKind`] with the descriptions scene criteria match (`required_events`,
//! `forbidden_events`); `<region>` is the region's name with `_` as spaces:
//! * `Contact` "tip touched `<region>`": the tip first pushes a surface it must puncture.
//! * `Puncture` "punctured `<region>`" (region: the one punctured into), or "exited
//!   `<structure>` (back wall)" when the tip punctures out of a lumen (a region whose part is
//!   `lumen`, below) into its wall.
//! * `Enter` "entered `<region>`", or "tip in `<structure>` lumen": the tip moved into a
//!   region without puncturing it.
//! * `Leave` "left `<region>`": the tip left a region (before the entry into the next one,
//!   or the exit from the tissue).
//! * `Transfix` "transfixed `<structure>`": the tip left a structure further along the
//!   needle's axis than it entered it (see below).
//! * `Exit` "tip left the tissue"; `Withdraw` "needle withdrawn": pulled back out through its
//!   entry point (everything released).
//!
//! Enter, Leave, Exit and Transfix are recorded only while the tip is inside (from its first
//! puncture, or its first entry into a region from outside, until it is withdrawn); each
//! Leave of a region follows an entry into it. A tip that gets into the tissue without a
//! puncture (through a surface that takes no puncture force) is inside from that `Enter`.
//!
//! **Hysteresis.** The tip's region is found by point location at the end of each frame.
//! A tip sitting at an interface (pushing it, or riding it while the tissue jiggles) would be
//! located on alternating sides from frame to frame, and every flip would be an event. A
//! located change therefore counts only once it holds: when the tip is located outside its
//! current region at the end of [`REGION_HOLD_FRAMES`] consecutive frames in the same new
//! region (the regions passed through on the way, each seen at the end of one frame or
//! more, count too; a return to the current region first cancels them all as flicker). The
//! events get the time and tip position of the frame where each change was first seen. A
//! puncture needs no hysteresis: the face has let go (and does not act as a barrier again),
//! so it counts at once, at the substep it happened.
//!
//! **Structures.** Regions form anatomical structures by name: a region named
//! `<structure>_<part>` (split at its last `_`) belongs to `<structure>` (`vein_wall` and
//! `vein_lumen` form `vein`); a region without `_` is a structure of its own (`skin`). The
//! tip transfixes a structure when, after entering it, it leaves it (into a region of
//! another structure, or out of the tissue) at a point further along the needle's current
//! axis than where it entered it: in through the wall, across the lumen and out through the
//! back wall, or in and out through the wall only (grazing). A needle pulled back out the way
//! it came leaves behind its entry point: no transfixion. Only compound structures with a
//! membrane can be transfixed (two or more regions, e.g. a vessel's wall and lumen, one of
//! them with a puncture force): a structure the tip enters freely (fat) is a bed that other
//! structures lie in, and the tip leaving fat into a vein is still within the fat layer; a
//! single layer (skin) is what every insertion passes through on its way in.

// Index loops over xyz and the tet's vertices mirror the WGSL.
#![allow(clippy::needless_range_loop)]

use super::faces::{locate, FaceSet};
use super::surface::{shaft_contact, ShaftPush};
use super::{ContactError, Pose, ToolSubstep};
use crate::mesh::RegionId;
use crate::model::Model;
use glam::DVec3;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Most shaft points at a time.
pub const MAX_TRACKS: usize = 512;

/// Most surface faces the shaft is tested against in a frame (the nearest are kept).
pub const MAX_SHAFT_FACES: usize = 128;

/// The default [`NeedleSpec::bevel_length`] (m): a hypodermic needle's bevel is 1.5-2 mm long.
pub const DEFAULT_BEVEL_LENGTH: f64 = 0.002;

/// Consecutive frames at whose end the tip must be located in a new region before the
/// change counts (see the module docs, Hysteresis).
pub const REGION_HOLD_FRAMES: u32 = 2;

/// The anatomical structure a region named `name` belongs to: the part before the last `_`
/// (`"vein_wall"` and `"vein_lumen"` give `"vein"`), or the whole name if it has no `_`
/// (or nothing on one side of it).
pub fn structure_of(name: &str) -> &str {
    match name.rsplit_once('_') {
        Some((s, p)) if !s.is_empty() && !p.is_empty() => s,
        _ => name,
    }
}

/// The part of its structure a region named `name` is (`"lumen"` for `"vein_lumen"`), if
/// its name has one (see [`structure_of`]).
fn part_of(name: &str) -> Option<&str> {
    match name.rsplit_once('_') {
        Some((s, p)) if !s.is_empty() && !p.is_empty() => Some(p),
        _ => None,
    }
}

/// Where the needle is on its body.
#[derive(Clone, Debug, PartialEq)]
pub struct NeedleSpec {
    /// Index of the body in [`super::ToolSetup::bodies`].
    pub body: usize,
    /// Tip position in the body frame (m).
    pub tip: DVec3,
    /// Insertion direction (unit) in the body frame: from the hub to the tip.
    pub axis: DVec3,
    /// Shaft length from the tip back to the hub (m).
    pub length: f64,
    /// Shaft radius (m).
    pub radius: f64,
    /// Spacing of the shaft points that hold the tissue (m); `None`: half the mesh's mean
    /// edge length.
    pub track_spacing: Option<f64>,
    /// The tip's share of the shaft (m; `None`: [`DEFAULT_BEVEL_LENGTH`]): until the tip
    /// first touches a surface (and again if it lifts off before a puncture), the shaft from
    /// this far behind the tip back to `length` pushes the tissue's surface as a capsule of
    /// `radius`; in front of it only the tip's barrier pushes (see the module docs).
    /// `length` or more: the shaft never touches the surface.
    pub bevel_length: Option<f64>,
}

impl NeedleSpec {
    /// The tip and unit axis in the world for a body pose.
    pub fn world_tip_axis(&self, body: &Pose) -> (DVec3, DVec3) {
        (
            body.transform_point(self.tip),
            body.transform_vector(self.axis).normalize(),
        )
    }
}

/// How a tissue region resists a needle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedleTissue {
    /// Force (N) at which the tip punctures the region's boundary (0: no membrane, the tip
    /// enters freely).
    #[serde(default)]
    pub puncture_force: f64,
    /// Force (N) resisting the tip while it cuts through the region.
    #[serde(default)]
    pub cutting_force: f64,
    /// Static axial friction of the shaft, per metre of shaft inside the region (N/m).
    #[serde(default)]
    pub friction_static: f64,
    /// Kinetic axial friction, per metre (N/m).
    #[serde(default)]
    pub friction_kinetic: f64,
}

impl NeedleTissue {
    /// Checks the values (finite, >= 0, kinetic <= static).
    pub fn check(&self) -> Result<(), String> {
        for (n, v) in [
            ("puncture_force", self.puncture_force),
            ("cutting_force", self.cutting_force),
            ("friction_static", self.friction_static),
            ("friction_kinetic", self.friction_kinetic),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{n} must be finite and >= 0 (got {v})"));
            }
        }
        if self.friction_kinetic > self.friction_static {
            return Err(format!(
                "friction_kinetic ({}) exceeds friction_static ({})",
                self.friction_kinetic, self.friction_static
            ));
        }
        Ok(())
    }
}

/// One shaft point as the kernels see it (`NeedleTrack` in `needle.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct NeedleTrack {
    /// The tet's vertices.
    pub verts: [u32; 4],
    /// Barycentric coordinates in the tet.
    pub bary: [f32; 4],
    /// x: stick coordinate along the axis from the tip (m, negative behind the tip),
    /// y: static limit (N), z: kinetic limit (N), w: 1 active, 0 released.
    pub state: [f32; 4],
}

/// The needle's kernel record (`NeedleHeader` in `needle.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct NeedleHeader {
    /// x shaft points, y barrier active, z cutting active, w puncture substep + 1 (0: none).
    pub counts: [u32; 4],
    /// Barrier face vertices (xyz).
    pub barrier_verts: [u32; 4],
    /// Barrier: barycentric (xyz), puncture force (w, N).
    pub barrier: [f32; 4],
    /// The tet the tip is in (for the cutting force).
    pub tip_verts: [u32; 4],
    /// Barycentric coordinates of the tip in it.
    pub tip_bary: [f32; 4],
    /// x cutting force (N), y scratch (barrier axial impulse of pass 0).
    pub cut: [f32; 4],
    /// Impulse x dt on the needle over the frame (kg m, world).
    pub acc_force: [f32; 4],
    /// Its moment about the tip.
    pub acc_torque: [f32; 4],
    /// Axial parts (resisting insertion, kg m): x barrier, y shaft friction, z cutting;
    /// w the largest barrier force of a substep (N).
    pub acc_parts: [f32; 4],
    /// Tip position at the puncture (xyz) and the force that punctured (w, N).
    pub puncture: [f32; 4],
    /// The shaft's surface contact: x faces in `shaft_faces`, yzw unused.
    pub shaft_counts: [u32; 4],
    /// x shaft radius, y and z the shaft's span behind the tip (from the bevel to the hub,
    /// m along the axis), w unused.
    pub shaft: [f32; 4],
    /// Surface faces near the shaft this frame (vertices xyz, outward).
    pub shaft_faces: [[u32; 4]; MAX_SHAFT_FACES],
}

impl Default for NeedleHeader {
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

/// The needle's kernel data: header and shaft points.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct NeedleDevice {
    /// Header.
    pub header: NeedleHeader,
    /// Shaft points (`header.counts[0]` of them).
    pub tracks: Vec<NeedleTrack>,
}

/// The direction in which to look for the face ahead of a tip outside the tissue going
/// from `tip0` to `tip1` over a frame, its axis `a`: the tip's own path while it advances
/// (within 60 degrees of its axis), else the axis.
///
/// Why the path: the barrier (`needle_pass`) holds the face point the search found at the
/// tip once the tip's axial distance to it reaches zero, which is where the tip meets it if
/// the tip is on its way there. A needle carried by a compliant arm does not move exactly
/// along its axis, and a tip coming down onto flat skin more steeply than its axis passes
/// under the point its axis would meet before its axial distance to it is zero: it crossed
/// the skin and the fat unseen and silent (4 of the 12 forearms of trials/smoke.toml, the
/// first event the vein wall's contact). Inside, the search stays on the axis: the tissue
/// holds the shaft, so the tip moves along its axis relative to the tissue around it, and
/// a crossing missed there would still be seen (an `Enter` where a `Puncture` was due).
/// (Aimed along the path inside too, the re-aimed insertion of `cosim/tests/online.rs`
/// ended 0.04 mm short of the lumen instead of just inside it.)
pub(crate) fn barrier_aim(tip0: DVec3, tip1: DVec3, a: DVec3) -> DVec3 {
    let travel = tip1 - tip0;
    let len = travel.length();
    if len > 1e-12 && travel.dot(a) > 0.5 * len {
        travel / len
    } else {
        a
    }
}

/// One needle pass of a substep (pass 0 before the solve, 1 after it). `x` displacements
/// (xyz) and inverse masses (w), as the GPU's `disp`; `x0` rest positions. Mirrors `needle`
/// in `shaders/xpbd/needle.wgsl`.
pub(crate) fn needle_pass(
    dev: &mut NeedleDevice,
    step: &ToolSubstep,
    x: &mut [[f32; 4]],
    x0: &[[f32; 3]],
    dt: f32,
    pass: u32,
) {
    let h = &mut dev.header;
    let tip = [step.needle[0][0], step.needle[0][1], step.needle[0][2]];
    let a = [step.needle[1][0], step.needle[1][1], step.needle[1][2]];
    let world = |x: &[[f32; 4]], i: u32| {
        let i = i as usize;
        [x0[i][0] + x[i][0], x0[i][1] + x[i][1], x0[i][2] + x[i][2]]
    };
    let dot = |p: [f32; 3], q: [f32; 3]| p[0] * q[0] + p[1] * q[1] + p[2] * q[2];
    // Barrier face.
    if h.counts[1] != 0 {
        let v = h.barrier_verts;
        let b = h.barrier;
        let mut p = [0.0f32; 3];
        let mut wsum = 0.0f32;
        for j in 0..3 {
            let q = world(x, v[j]);
            for k in 0..3 {
                p[k] += b[j] * q[k];
            }
            wsum += x[v[j] as usize][3] * b[j] * b[j];
        }
        let c = dot([p[0] - tip[0], p[1] - tip[1], p[2] - tip[2]], a);
        let mut axial = 0.0f32;
        if c < 0.0 && wsum > 0.0 {
            let dp = [tip[0] - p[0], tip[1] - p[1], tip[2] - p[2]];
            let imp = move_face_point(x, &v[..3], &b[..3], wsum, dp);
            accumulate(h, imp, [p[0] - tip[0], p[1] - tip[1], p[2] - tip[2]]);
            axial = -dot(imp, a);
            h.acc_parts[0] += axial;
        }
        if pass == 0 {
            h.cut[1] = axial;
        } else {
            let force = (h.cut[1] + axial) / (dt * dt);
            h.acc_parts[3] = h.acc_parts[3].max(force);
            if force >= b[3] {
                h.counts[1] = 0;
                h.counts[3] = step.counts[3] + 1;
                h.puncture = [tip[0], tip[1], tip[2], force];
            }
        }
    }
    // The shaft against the surface faces near it (set only while the tip touches nothing).
    let (sr, from, to) = (h.shaft[0], h.shaft[1], h.shaft[2]);
    let s0 = [tip[0] - to * a[0], tip[1] - to * a[1], tip[2] - to * a[2]];
    let s1 = [
        tip[0] - from * a[0],
        tip[1] - from * a[1],
        tip[2] - from * a[2],
    ];
    for k in 0..h.shaft_counts[0] as usize {
        let f = h.shaft_faces[k];
        let t = [world(x, f[0]), world(x, f[1]), world(x, f[2])];
        let w = [
            x[f[0] as usize][3],
            x[f[1] as usize][3],
            x[f[2] as usize][3],
        ];
        if let Some(ShaftPush {
            dp,
            bary: b,
            point: p,
            denom,
        }) = shaft_contact(s0, s1, sr, &t, w)
        {
            let imp = move_face_point(x, &f[..3], &b, denom, dp);
            accumulate(h, imp, [p[0] - tip[0], p[1] - tip[1], p[2] - tip[2]]);
        }
    }
    // Shaft points.
    for t in dev.tracks.iter_mut().take(h.counts[0] as usize) {
        if t.state[3] == 0.0 {
            continue;
        }
        let mut p = [0.0f32; 3];
        let mut wsum = 0.0f32;
        for j in 0..4 {
            let q = world(x, t.verts[j]);
            for k in 0..3 {
                p[k] += t.bary[j] * q[k];
            }
            wsum += x[t.verts[j] as usize][3] * t.bary[j] * t.bary[j];
        }
        let r = [p[0] - tip[0], p[1] - tip[1], p[2] - tip[2]];
        let s = dot(r, a);
        if s > 0.0 || wsum == 0.0 {
            t.state[3] = 0.0;
            continue;
        }
        let lat = [r[0] - s * a[0], r[1] - s * a[1], r[2] - s * a[2]];
        let e = s - t.state[0];
        let need = e.abs() / (wsum * dt * dt);
        let mut ax = -e;
        if need > t.state[1] {
            let lim = t.state[2] * wsum * dt * dt;
            ax = if e > 0.0 { -lim } else { lim };
            t.state[0] = s + ax;
        }
        let dp = [
            -lat[0] + ax * a[0],
            -lat[1] + ax * a[1],
            -lat[2] + ax * a[2],
        ];
        for j in 0..4 {
            let i = t.verts[j] as usize;
            let sc = x[i][3] * t.bary[j] / wsum;
            for k in 0..3 {
                x[i][k] += sc * dp[k];
            }
        }
        let imp = [-dp[0] / wsum, -dp[1] / wsum, -dp[2] / wsum];
        accumulate(h, imp, r);
        h.acc_parts[1] += -dot(imp, a);
    }
    // Cutting force at the tip, once per substep, while the tip advances.
    if pass == 0 && h.counts[2] != 0 {
        let prev = [step.needle[2][0], step.needle[2][1], step.needle[2][2]];
        let adv = dot([tip[0] - prev[0], tip[1] - prev[1], tip[2] - prev[2]], a);
        if adv > 0.0 {
            let f = h.cut[0] * dt * dt;
            let mut p = [0.0f32; 3];
            for j in 0..4 {
                let i = h.tip_verts[j] as usize;
                let sc = x[i][3] * h.tip_bary[j] * f;
                for k in 0..3 {
                    x[i][k] += sc * a[k];
                }
                let q = world(x, h.tip_verts[j]);
                for k in 0..3 {
                    p[k] += h.tip_bary[j] * q[k];
                }
            }
            let imp = [-f * a[0], -f * a[1], -f * a[2]];
            accumulate(h, imp, [p[0] - tip[0], p[1] - tip[1], p[2] - tip[2]]);
            h.acc_parts[2] += f;
        }
    }
}

/// Moves the point at barycentric `b` of the face with vertices `v` by `dp`, shared out
/// among them by inverse mass (`denom` = sum w b^2), and returns the impulse x dt it puts
/// on the needle. Mirrors `move_face_point` in `shaders/xpbd/needle.wgsl`.
fn move_face_point(x: &mut [[f32; 4]], v: &[u32], b: &[f32], denom: f32, dp: [f32; 3]) -> [f32; 3] {
    for j in 0..3 {
        let i = v[j] as usize;
        let s = x[i][3] * b[j] / denom;
        for k in 0..3 {
            x[i][k] += s * dp[k];
        }
    }
    [-dp[0] / denom, -dp[1] / denom, -dp[2] / denom]
}

fn accumulate(h: &mut NeedleHeader, imp: [f32; 3], r: [f32; 3]) {
    for k in 0..3 {
        h.acc_force[k] += imp[k];
    }
    h.acc_torque[0] += r[1] * imp[2] - r[2] * imp[1];
    h.acc_torque[1] += r[2] * imp[0] - r[0] * imp[2];
    h.acc_torque[2] += r[0] * imp[1] - r[1] * imp[0];
}

/// What happened to the needle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedleEventKind {
    /// The tip touched a surface it will have to puncture.
    Contact,
    /// The tip punctured into a region.
    Puncture,
    /// The tip moved into another region without a puncture.
    Enter,
    /// The tip left a region (`region` and `from`: the region left).
    Leave,
    /// The tip left a structure further along its axis than it entered it (`region` and
    /// `from`: the structure's region it left; see the module docs).
    Transfix,
    /// The tip left the tissue.
    Exit,
    /// The needle was pulled back out through its entry point.
    Withdraw,
}

/// The description of an event of `kind` concerning `region` and coming `from` (region
/// names as the tracker gives them: the mesh's name, or `region <id>`), as in the module
/// docs.
fn describe(kind: NeedleEventKind, region: Option<&str>, from: Option<&str>) -> String {
    let pretty = |s: Option<&str>| s.unwrap_or_default().replace('_', " ");
    let lumen_of = |s: Option<&str>| {
        s.filter(|n| part_of(n) == Some("lumen"))
            .map(|n| structure_of(n).replace('_', " "))
    };
    match kind {
        NeedleEventKind::Contact => format!("tip touched {}", pretty(region)),
        NeedleEventKind::Puncture => match lumen_of(from) {
            Some(v) => format!("exited {v} (back wall)"),
            None => format!("punctured {}", pretty(region)),
        },
        NeedleEventKind::Enter => match lumen_of(region) {
            Some(v) => format!("tip in {v} lumen"),
            None => format!("entered {}", pretty(region)),
        },
        NeedleEventKind::Leave => format!("left {}", pretty(region)),
        NeedleEventKind::Transfix => format!(
            "transfixed {}",
            structure_of(region.unwrap_or_default()).replace('_', " ")
        ),
        NeedleEventKind::Exit => "tip left the tissue".into(),
        NeedleEventKind::Withdraw => "needle withdrawn".into(),
    }
}

/// Every event description a needle can give in a tissue with these regions (names as in
/// [`NeedleReport::tip_region`]: the mesh's name, or `region <id>` for an unnamed one), from
/// the same code that describes the events: scene criteria that name any other can never
/// be met. (Whether a structure can be transfixed depends on its needle properties too; its
/// name is what this checks.)
pub fn event_descriptions<S: AsRef<str>>(regions: &[S]) -> BTreeSet<String> {
    use NeedleEventKind as K;
    let mut out = BTreeSet::new();
    let names: Vec<Option<&str>> = regions
        .iter()
        .map(|r| Some(r.as_ref()))
        .chain([None])
        .collect();
    // Every kind is listed below; this match stops compiling when one is added.
    let _listed = |k: K| match k {
        K::Contact | K::Puncture | K::Enter | K::Leave | K::Transfix | K::Exit | K::Withdraw => {}
    };
    for kind in [
        K::Contact,
        K::Puncture,
        K::Enter,
        K::Leave,
        K::Transfix,
        K::Exit,
        K::Withdraw,
    ] {
        for &region in &names {
            for &from in &names {
                if region.is_some() || matches!(kind, K::Exit | K::Withdraw) {
                    out.insert(describe(kind, region, from));
                }
            }
        }
    }
    out
}

/// An event with when, where and how hard.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NeedleEvent {
    /// Simulated time (s).
    pub time: f64,
    /// What.
    pub kind: NeedleEventKind,
    /// Human-readable, e.g. "punctured skin", "tip in vein lumen".
    pub description: String,
    /// The region it concerns: the one touched, punctured or entered; for Leave and
    /// Transfix the one left.
    pub region: Option<String>,
    /// The region the tip came from.
    pub from: Option<String>,
    /// Tip position (m, world).
    pub tip: [f64; 3],
    /// Axial force on the needle at that moment (N; for punctures the substep force that
    /// punctured).
    pub force: f64,
}

/// The needle over one frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NeedleReport {
    /// Force of the tissue on the needle (N, world, mean over the frame).
    #[serde(skip)]
    pub force: DVec3,
    /// Its moment about the tip (N m).
    #[serde(skip)]
    pub torque_about_tip: DVec3,
    /// Tip position at the end of the frame.
    #[serde(skip)]
    pub tip: DVec3,
    /// Axial force resisting insertion (N, positive when the tissue pushes the needle back).
    pub axial_force: f64,
    /// Its parts: the surface being pushed, shaft friction, cutting.
    pub barrier_force: f64,
    /// Shaft friction (N).
    pub friction_force: f64,
    /// Cutting force (N).
    pub cutting_force: f64,
    /// Region the tip is in (`None`: outside the tissue), as the events have it: a change
    /// counts once it has held [`REGION_HOLD_FRAMES`] frames.
    pub tip_region: Option<String>,
    /// Tip depth along the axis from where it first touched the surface (m).
    pub depth: f64,
    /// Active shaft points.
    pub shaft_points: usize,
    /// Events of this frame.
    pub events: Vec<NeedleEvent>,
}

/// A region change the tip was located in at the end of a frame, not yet held long enough
/// to count (see the module docs, Hysteresis).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Crossing {
    /// The region (`None`: outside the tissue).
    region: Option<RegionId>,
    /// End of the frame where it was first seen (s).
    time: f64,
    /// The tip then.
    tip: DVec3,
}

/// How the tip got into a region.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// Point location, held for [`REGION_HOLD_FRAMES`] frames.
    Located,
    /// A puncture of the face from region `from`, with the substep force that did it (N).
    Puncture { from: Option<RegionId>, force: f64 },
}

/// The needle's host-side state machine: what a needle is in a tissue (its spec, the
/// regions' needle properties and names, the mesh's faces), fixed for a run. What changes
/// from frame to frame is a [`NeedleState`], part of the world's
/// [`State`](crate::model::State) (its `tools`), so that restoring a state restores the
/// needle too.
#[derive(Clone)]
pub struct NeedleTracker {
    pub(crate) spec: NeedleSpec,
    tissue: BTreeMap<RegionId, NeedleTissue>,
    region_names: BTreeMap<RegionId, String>,
    faces: Arc<FaceSet>,
    /// The faces between the tissue and the outside (indices into `faces`): what the shaft
    /// pushes before the tip is in.
    outer_faces: Vec<usize>,
    spacing: f64,
    bevel: f64,
}

/// The needle's state between frames: punctured faces, the barrier it pushes, shaft points
/// and their stick-slip state, the tip's region and its hysteresis, where it entered, and
/// the events so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NeedleState {
    punctured: BTreeSet<usize>,
    pub(crate) dev: NeedleDevice,
    /// First shaft point not uploaded to the GPU yet (0 after a restore: all of them).
    pub(crate) upload_from: usize,
    /// Whether the shaft-point limit was warned about (once a run, not every frame).
    warned_tracks: bool,
    /// Whether the shaft's face limit was warned about.
    warned_shaft: bool,
    barrier: Option<(usize, Option<RegionId>, RegionId)>,
    /// Where the ray from the tip met the barrier face (at the start of the frame that
    /// found it), and the tip at the start of the current frame: the contact event's time
    /// and position come from them, not from the end of the frame.
    barrier_point: Option<DVec3>,
    frame_tip0: DVec3,
    /// The region located at the tip at the end of the last frame (what the barrier search
    /// uses; may flicker at an interface).
    located: Option<RegionId>,
    /// The region the tip is in as the events have it (changes after the hysteresis).
    tip_region: Option<RegionId>,
    /// Located changes not held long enough yet, in order, and how many consecutive frames
    /// the last one has been seen.
    pending: Vec<Crossing>,
    held: u32,
    /// Where the tip entered the structure it is in.
    structure_entry: Option<DVec3>,
    inside: bool,
    entry: Option<DVec3>,
    contact_origin: Option<DVec3>,
    events: Vec<NeedleEvent>,
}

impl NeedleState {
    /// Every event so far.
    pub fn events(&self) -> &[NeedleEvent] {
        &self.events
    }

    /// The region the tip is in as the events have it: a located change counts once it has
    /// held [`REGION_HOLD_FRAMES`] frames (a puncture at once).
    pub fn tip_region(&self) -> Option<RegionId> {
        self.tip_region
    }

    /// Punctures so far per region name (the region punctured into; a back wall punctured
    /// from the lumen counts for the wall).
    pub fn punctures(&self) -> BTreeMap<String, usize> {
        let mut n = BTreeMap::new();
        for e in &self.events {
            if let (NeedleEventKind::Puncture, Some(r)) = (e.kind, &e.region) {
                *n.entry(r.clone()).or_insert(0) += 1;
            }
        }
        n
    }

    /// Active shaft points (holding the tissue).
    pub fn shaft_points(&self) -> usize {
        self.dev.tracks.iter().filter(|t| t.state[3] != 0.0).count()
    }
}

impl NeedleTracker {
    pub(crate) fn new(
        model: &Model,
        spec: &NeedleSpec,
        tissue: &BTreeMap<RegionId, NeedleTissue>,
    ) -> Result<Self, ContactError> {
        Self::with_faces(model, spec, tissue, Arc::new(FaceSet::new(model)))
    }

    /// [`NeedleTracker::new`] with the model's faces already extracted.
    fn with_faces(
        model: &Model,
        spec: &NeedleSpec,
        tissue: &BTreeMap<RegionId, NeedleTissue>,
        faces: Arc<FaceSet>,
    ) -> Result<Self, ContactError> {
        let bad = |m: String| Err(ContactError::Setup(format!("needle: {m}")));
        if !(spec.tip.is_finite() && spec.axis.is_finite() && spec.axis.length() > 0.0) {
            return bad("tip and axis must be finite, the axis non-zero".into());
        }
        if !(spec.length.is_finite()
            && spec.length > 0.0
            && spec.radius.is_finite()
            && spec.radius > 0.0)
        {
            return bad("length and radius must be positive".into());
        }
        for (r, t) in tissue {
            t.check().map_err(|e| {
                ContactError::Setup(format!("needle properties of region {r}: {e}"))
            })?;
        }
        let spacing = match spec.track_spacing {
            Some(s) if s.is_finite() && s > 0.0 => s,
            Some(s) => return bad(format!("track_spacing must be positive (got {s})")),
            None => 0.5 * faces.mean_edge,
        };
        let bevel = match spec.bevel_length {
            Some(b) if b.is_finite() && b > 0.0 => b,
            Some(b) => return bad(format!("bevel_length must be positive (got {b})")),
            None => DEFAULT_BEVEL_LENGTH,
        };
        let mut spec = spec.clone();
        spec.axis = spec.axis.normalize();
        let outer_faces = (0..faces.faces.len())
            .filter(|&f| faces.faces[f].outer.is_none())
            .collect();
        Ok(Self {
            spec,
            tissue: tissue.clone(),
            region_names: model.region_names.clone(),
            faces,
            outer_faces,
            spacing,
            bevel,
        })
    }

    /// The spacing of the shaft points (m).
    pub fn spacing(&self) -> f64 {
        self.spacing
    }

    fn name(&self, r: Option<RegionId>) -> Option<String> {
        r.map(|r| {
            self.region_names
                .get(&r)
                .cloned()
                .unwrap_or_else(|| format!("region {r}"))
        })
    }

    fn props(&self, r: RegionId) -> NeedleTissue {
        self.tissue.get(&r).copied().unwrap_or_default()
    }

    /// The structure of region `r` (`None` outside the tissue).
    fn structure(&self, r: Option<RegionId>) -> Option<String> {
        self.name(r).map(|n| structure_of(&n).to_string())
    }

    /// Whether a structure can be transfixed: it has two or more regions and a membrane
    /// (one of its regions has a puncture force).
    fn transfixable(&self, structure: &str) -> bool {
        let parts = self
            .region_names
            .keys()
            .filter(|&&r| self.structure(Some(r)).as_deref() == Some(structure))
            .count();
        parts >= 2
            && self.tissue.iter().any(|(&r, t)| {
                t.puncture_force > 0.0 && self.structure(Some(r)).as_deref() == Some(structure)
            })
    }

    /// The tip counts as having moved from its region into `to` at `time`, `at`: Leave of
    /// the old region, Transfix if that leaves a structure further along the axis `a` than
    /// the tip entered it, then the entry (Puncture, Enter or Exit).
    #[allow(clippy::too_many_arguments)]
    fn cross(
        &self,
        st: &mut NeedleState,
        to: Option<RegionId>,
        time: f64,
        at: DVec3,
        a: DVec3,
        via: Via,
        out: &mut Vec<NeedleEvent>,
    ) {
        let from = st.tip_region;
        let (s_from, s_to) = (self.structure(from), self.structure(to));
        if st.inside {
            if let Some(f) = from {
                out.push(self.event(time, NeedleEventKind::Leave, Some(f), Some(f), at, 0.0));
                if let (Some(s), Some(entry)) = (&s_from, st.structure_entry) {
                    if s_to.as_ref() != Some(s) && self.transfixable(s) && (at - entry).dot(a) > 0.0
                    {
                        out.push(self.event(
                            time,
                            NeedleEventKind::Transfix,
                            Some(f),
                            Some(f),
                            at,
                            0.0,
                        ));
                    }
                }
            }
        }
        match via {
            Via::Puncture {
                from: face_from,
                force,
            } => out.push(self.event(time, NeedleEventKind::Puncture, to, face_from, at, force)),
            Via::Located if st.inside => {
                let kind = if to.is_some() {
                    NeedleEventKind::Enter
                } else {
                    NeedleEventKind::Exit
                };
                out.push(self.event(time, kind, to, from, at, 0.0));
            }
            // Into the tissue from outside without a puncture: through a surface that takes
            // no puncture force, or one the barrier never held (it must not happen; if it
            // does, it is seen): the tip is inside from here on (cutting, shaft friction,
            // events), and its entry is an event.
            Via::Located => {
                if let Some(r) = to {
                    st.inside = true;
                    st.entry = Some(at);
                    out.push(self.event(time, NeedleEventKind::Enter, Some(r), None, at, 0.0));
                }
            }
        }
        if s_from != s_to {
            st.structure_entry = to.map(|_| at);
        }
        st.tip_region = to;
    }

    /// Every pending change counts now, in order.
    fn accept_pending(&self, st: &mut NeedleState, a: DVec3, out: &mut Vec<NeedleEvent>) {
        for c in std::mem::take(&mut st.pending) {
            self.cross(st, c.region, c.time, c.tip, a, Via::Located, out);
        }
        st.held = 0;
    }

    /// The tip was located in `here` at the end of a frame (ending at `time`, tip at `tip`):
    /// the hysteresis of the module docs.
    fn observe(
        &self,
        st: &mut NeedleState,
        here: Option<RegionId>,
        time: f64,
        tip: DVec3,
        a: DVec3,
        out: &mut Vec<NeedleEvent>,
    ) {
        if here == st.tip_region {
            st.pending.clear();
            st.held = 0;
            return;
        }
        match st.pending.iter().position(|c| c.region == here) {
            Some(i) if i + 1 == st.pending.len() => st.held += 1,
            Some(i) => {
                // Back in a region seen earlier on the way: the detour was flicker.
                st.pending.truncate(i + 1);
                st.held = 1;
            }
            None => {
                st.pending.push(Crossing {
                    region: here,
                    time,
                    tip,
                });
                st.held = 1;
            }
        }
        if st.held >= REGION_HOLD_FRAMES {
            self.accept_pending(st, a, out);
        }
    }

    /// Before a frame: the face ahead of the tip and the tet the tip cuts through.
    pub(crate) fn prepare_frame(
        &self,
        st: &mut NeedleState,
        model: &Model,
        pos: &[[f32; 3]],
        start: &Pose,
        end: &Pose,
    ) {
        let (tip0, a0) = self.spec.world_tip_axis(start);
        let (tip1, _) = self.spec.world_tip_axis(end);
        st.frame_tip0 = tip0;
        let h = &mut st.dev.header;
        let pushing = h.counts[1] != 0 && h.acc_parts[0] > 0.0;
        // A barrier that was not touched during the last frame is looked for again.
        if h.counts[1] != 0 && h.acc_parts[0] == 0.0 {
            h.counts[1] = 0;
            st.barrier = None;
        }
        for v in [
            &mut h.acc_force,
            &mut h.acc_torque,
            &mut h.acc_parts,
            &mut h.puncture,
        ] {
            *v = [0.0; 4];
        }
        h.counts[3] = 0;
        h.cut = [0.0; 4];
        if h.counts[1] == 0 {
            let margin = 2.0 * self.faces.mean_edge;
            let aim = if st.inside {
                a0
            } else {
                barrier_aim(tip0, tip1, a0)
            };
            let reach = (tip1 - tip0).length() + margin;
            let hits = self.faces.ray_hits(
                pos,
                tip0.to_array(),
                aim.to_array(),
                -1e-3 * self.faces.mean_edge,
                reach,
            );
            for hit in hits {
                let f = self.faces.faces[hit.face];
                let (into, from) = if hit.leaving_inner {
                    (f.outer.map(|o| o.1), Some(f.inner.1))
                } else {
                    (Some(f.inner.1), f.outer.map(|o| o.1))
                };
                let Some(r) = into else { continue };
                if st.punctured.contains(&hit.face)
                    || Some(r) == st.located
                    || self.props(r).puncture_force <= 0.0
                {
                    continue;
                }
                let threshold = self.props(r).puncture_force as f32;
                let h = &mut st.dev.header;
                h.counts[1] = 1;
                h.barrier_verts = [f.verts[0], f.verts[1], f.verts[2], 0];
                h.barrier = [
                    hit.bary[0] as f32,
                    hit.bary[1] as f32,
                    hit.bary[2] as f32,
                    threshold,
                ];
                st.barrier = Some((hit.face, from, r));
                st.barrier_point = Some(tip0 + aim * hit.t);
                break;
            }
        }
        self.shaft_faces(st, pos, start, end, pushing);
        // Cutting: the tet at the tip.
        let h = &mut st.dev.header;
        h.counts[2] = 0;
        if st.inside {
            if let Some(Some((t, b))) = locate(model, pos, &[tip0.to_array()]).first() {
                let cut = self.props(model.tet_region[*t as usize]).cutting_force;
                if cut > 0.0 {
                    let tet = model.tets[*t as usize];
                    let h = &mut st.dev.header;
                    h.counts[2] = 1;
                    h.tip_verts = tet;
                    h.tip_bary = [b[0] as f32, b[1] as f32, b[2] as f32, b[3] as f32];
                    h.cut[0] = cut as f32;
                }
            }
        }
    }

    /// Before a frame: the surface faces the shaft may touch during it. Only while the tip
    /// is outside the tissue and touches nothing (`pushing`: its barrier took load during
    /// the last frame); inside, or located inside at the end of the last frame, the shaft
    /// points hold the tissue on the shaft, and the surface around the entry point rides
    /// on the shaft. A face is kept when its bounding sphere comes within the shaft's
    /// radius, plus the shaft's travel over the frame and a mean edge of tissue motion, of
    /// the shaft at the frame's start or end; the nearest [`MAX_SHAFT_FACES`].
    fn shaft_faces(
        &self,
        st: &mut NeedleState,
        pos: &[[f32; 3]],
        start: &Pose,
        end: &Pose,
        pushing: bool,
    ) {
        let h = &mut st.dev.header;
        h.shaft_counts = [0; 4];
        let (from, to) = (self.bevel, self.spec.length);
        // Located in the tissue (even before that has held long enough to be an event):
        // the shaft follows the tip through its hole. While the tip pushes a surface (from
        // its first touch to the puncture) the tent around it is the tip's: the puncture
        // forces are those of whole needles, and a shaft held on the tent's rim at a shallow
        // angle would carry the load the puncture test needs (on trials/smoke.toml's coarse
        // patch, 15-18 degree insertions then never punctured, at up to 4.7 N).
        if st.inside || st.located.is_some() || pushing || from >= to {
            return;
        }
        h.shaft = [self.spec.radius as f32, from as f32, to as f32, 0.0];
        let segment = |pose: &Pose| {
            let (tip, a) = self.spec.world_tip_axis(pose);
            (tip - a * to, tip - a * from)
        };
        let (a0, a1) = segment(start);
        let (b0, b1) = segment(end);
        let travel = (b0 - a0).length().max((b1 - a1).length());
        let reach = self.spec.radius + travel + self.faces.mean_edge;
        let p = |i: u32| {
            let q = pos[i as usize];
            DVec3::new(q[0] as f64, q[1] as f64, q[2] as f64)
        };
        let to_segment = |x: DVec3, s0: DVec3, s1: DVec3| {
            let d = s1 - s0;
            let u = ((x - s0).dot(d) / d.length_squared()).clamp(0.0, 1.0);
            (x - (s0 + d * u)).length()
        };
        let mut near: Vec<(f64, usize)> = Vec::new();
        for &f in &self.outer_faces {
            let v = self.faces.faces[f].verts;
            let (q0, q1, q2) = (p(v[0]), p(v[1]), p(v[2]));
            let c = (q0 + q1 + q2) / 3.0;
            let size = (q0 - c)
                .length()
                .max((q1 - c).length())
                .max((q2 - c).length());
            let d = to_segment(c, a0, a1).min(to_segment(c, b0, b1)) - size;
            if d <= reach {
                near.push((d, f));
            }
        }
        if near.len() > MAX_SHAFT_FACES {
            near.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            near.truncate(MAX_SHAFT_FACES);
            if !std::mem::replace(&mut st.warned_shaft, true) {
                log::warn!(
                    "needle: the shaft lies along more than {MAX_SHAFT_FACES} surface faces; \
                     the nearest are pushed"
                );
            }
        }
        near.sort_by_key(|n| n.1);
        let h = &mut st.dev.header;
        for (k, (_, f)) in near.iter().enumerate() {
            let v = self.faces.faces[*f].verts;
            h.shaft_faces[k] = [v[0], v[1], v[2], 0];
        }
        h.shaft_counts[0] = near.len() as u32;
    }

    /// After a frame: events, tip region, new shaft points and the frame's forces.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_frame(
        &self,
        st: &mut NeedleState,
        model: &Model,
        pos: &[[f32; 3]],
        dev: NeedleDevice,
        end: &Pose,
        t_start: f64,
        dt: f64,
        substeps: u32,
    ) -> NeedleReport {
        st.dev = dev;
        let (tip, a) = self.spec.world_tip_axis(end);
        let h = st.dev.header;
        let scale = 1.0 / (dt * dt * substeps.max(1) as f64);
        let v3 = |v: [f32; 4]| DVec3::new(v[0] as f64, v[1] as f64, v[2] as f64);
        let mut new_events = Vec::new();
        let t_end = t_start + dt * substeps as f64;
        if h.acc_parts[0] > 0.0 && st.contact_origin.is_none() {
            if let Some((_, from, r)) = st.barrier {
                // The tip reached the face where the ray met it: the fraction of this
                // frame's travel at which it got there (the pose moves linearly).
                let travel = (tip - st.frame_tip0).dot(a);
                let reach = st
                    .barrier_point
                    .map_or(travel, |p| (p - st.frame_tip0).dot(a))
                    .clamp(0.0, travel.max(0.0));
                let frac = if travel > 0.0 { reach / travel } else { 1.0 };
                let touch = st.frame_tip0 + a * reach;
                st.contact_origin = Some(touch);
                new_events.push(self.event(
                    t_start + frac * (t_end - t_start),
                    NeedleEventKind::Contact,
                    Some(r),
                    from,
                    touch,
                    h.acc_parts[0] as f64 * scale,
                ));
            }
        }
        if h.counts[3] > 0 {
            let time = t_start + dt * h.counts[3] as f64;
            let at = v3(h.puncture);
            if let Some((face, from, r)) = st.barrier.take() {
                self.mark_punctured(st, face);
                // The tip was in `from` when it punctured: a pending change into it holds.
                if let Some(i) = st.pending.iter().position(|c| c.region == from) {
                    st.pending.truncate(i + 1);
                    self.accept_pending(st, a, &mut new_events);
                }
                st.pending.clear();
                st.held = 0;
                if !st.inside {
                    st.inside = true;
                    st.entry = Some(at);
                }
                let via = Via::Puncture {
                    from,
                    force: h.puncture[3] as f64,
                };
                self.cross(st, Some(r), time, at, a, via, &mut new_events);
            }
        }
        // Where the tip is now. While it pushes a face it has not punctured, it is on the
        // near side of that face (point location would flicker across the face it holds).
        let pushing = st
            .barrier
            .filter(|_| h.counts[1] != 0 && h.acc_parts[0] > 0.0);
        let here = match pushing {
            Some((_, from, _)) => from,
            None => {
                locate(model, pos, &[tip.to_array()])[0].map(|(t, _)| model.tet_region[t as usize])
            }
        };
        st.located = here;
        self.observe(st, here, t_end, tip, a, &mut new_events);
        // Pulled back out through the entry point: out of the tissue (the pending way out
        // counts at once), and everything released.
        if let Some(e) = st.entry {
            if st.inside && (tip - e).dot(a) < 0.0 {
                if st.pending.last().is_some_and(|c| c.region.is_none()) {
                    self.accept_pending(st, a, &mut new_events);
                }
                st.pending.clear();
                st.held = 0;
                if st.tip_region.is_some() {
                    self.cross(st, None, t_end, tip, a, Via::Located, &mut new_events);
                }
                st.inside = false;
                st.entry = None;
                st.contact_origin = None;
                for t in &mut st.dev.tracks {
                    t.state[3] = 0.0;
                }
                st.upload_from = 0;
                new_events.push(self.event(t_end, NeedleEventKind::Withdraw, None, None, tip, 0.0));
            }
        }
        if st.inside {
            self.spawn_tracks(st, model, pos, tip, a);
        }
        let shaft_points = st.dev.tracks.iter().filter(|t| t.state[3] != 0.0).count();
        let report = NeedleReport {
            force: v3(h.acc_force) * scale,
            torque_about_tip: v3(h.acc_torque) * scale,
            tip,
            axial_force: -v3(h.acc_force).dot(a) * scale,
            barrier_force: h.acc_parts[0] as f64 * scale,
            friction_force: h.acc_parts[1] as f64 * scale,
            cutting_force: h.acc_parts[2] as f64 * scale,
            tip_region: self.name(st.tip_region),
            depth: st.contact_origin.map_or(0.0, |o| (tip - o).dot(a)),
            shaft_points,
            events: new_events.clone(),
        };
        st.events.extend(new_events);
        report
    }

    fn event(
        &self,
        time: f64,
        kind: NeedleEventKind,
        region: Option<RegionId>,
        from: Option<RegionId>,
        tip: DVec3,
        force: f64,
    ) -> NeedleEvent {
        let region_name = self.name(region);
        let from_name = self.name(from);
        let description = describe(kind, region_name.as_deref(), from_name.as_deref());
        NeedleEvent {
            time,
            kind,
            description,
            region: region_name,
            from: from_name,
            tip: tip.to_array(),
            force,
        }
    }

    /// The punctured face and its neighbours on the same interface stop being barriers.
    fn mark_punctured(&self, st: &mut NeedleState, face: usize) {
        let f = self.faces.faces[face];
        let key = (f.inner.1, f.outer.map(|o| o.1));
        let verts: BTreeSet<u32> = f.verts.into_iter().collect();
        for (k, g) in self.faces.faces.iter().enumerate() {
            if (g.inner.1, g.outer.map(|o| o.1)) == key && g.verts.iter().any(|v| verts.contains(v))
            {
                st.punctured.insert(k);
            }
        }
    }

    /// New shaft points from the one nearest the tip (or the entry point) up to the tip.
    fn spawn_tracks(
        &self,
        st: &mut NeedleState,
        model: &Model,
        pos: &[[f32; 3]],
        tip: DVec3,
        a: DVec3,
    ) {
        let world = |t: &NeedleTrack| {
            let mut p = DVec3::ZERO;
            for j in 0..4 {
                let q = pos[t.verts[j] as usize];
                p += DVec3::new(q[0] as f64, q[1] as f64, q[2] as f64) * t.bary[j] as f64;
            }
            p
        };
        let nearest = st
            .dev
            .tracks
            .iter()
            .filter(|t| t.state[3] != 0.0)
            .map(|t| (world(t) - tip).dot(a))
            .fold(f64::NEG_INFINITY, f64::max);
        let mut s = if nearest.is_finite() {
            nearest + self.spacing
        } else {
            match st.entry {
                Some(e) => (e - tip).dot(a),
                None => return,
            }
        };
        s = s.max(-self.spec.length);
        let mut points = Vec::new();
        while s <= -0.25 * self.spacing {
            points.push(s);
            s += self.spacing;
        }
        if points.is_empty() {
            return;
        }
        let queries: Vec<[f64; 3]> = points.iter().map(|&s| (tip + a * s).to_array()).collect();
        let found = locate(model, pos, &queries);
        if st.dev.tracks.len() + points.len() > MAX_TRACKS {
            st.dev.tracks.retain(|t| t.state[3] != 0.0);
            st.upload_from = 0;
        }
        for (s, f) in points.iter().zip(found) {
            let Some((t, b)) = f else { continue };
            if st.dev.tracks.len() >= MAX_TRACKS {
                if !std::mem::replace(&mut st.warned_tracks, true) {
                    log::warn!(
                        "needle: more than {MAX_TRACKS} shaft points; the deepest are not held"
                    );
                }
                break;
            }
            let props = self.props(model.tet_region[t as usize]);
            st.dev.tracks.push(NeedleTrack {
                verts: model.tets[t as usize],
                bary: [b[0] as f32, b[1] as f32, b[2] as f32, b[3] as f32],
                state: [
                    *s as f32,
                    (props.friction_static * self.spacing) as f32,
                    (props.friction_kinetic * self.spacing) as f32,
                    1.0,
                ],
            });
        }
        st.dev.header.counts[0] = st.dev.tracks.len() as u32;
    }
}

/// The needle's event log for a tip moved kinematically along its axis through a tissue
/// held still, as a planning model does: the same state machine and event descriptions as
/// a simulated needle ([`NeedleTracker`]), fed with the interface crossings of the path
/// instead of the frames' point location and punctures. A crossing into a region with a
/// puncture force is a puncture (the first one after a contact event), any other an entry
/// or an exit. There is no hysteresis: a path does not flicker.
///
/// Built once per tissue ([`PathTracker::new`]); clone it for each path.
#[derive(Clone)]
pub struct PathTracker {
    tracker: NeedleTracker,
    state: NeedleState,
}

impl PathTracker {
    /// A tracker for `spec` in `model` (rest configuration) with the regions' needle
    /// properties, sharing `faces` (the model's, [`FaceSet::new`]).
    pub fn new(
        model: &Model,
        spec: &NeedleSpec,
        tissue: &BTreeMap<RegionId, NeedleTissue>,
        faces: Arc<FaceSet>,
    ) -> Result<Self, ContactError> {
        Ok(Self {
            tracker: NeedleTracker::with_faces(model, spec, tissue, faces)?,
            state: NeedleState::default(),
        })
    }

    /// The tip, moving along the unit axis `axis`, crosses from region `from` into `to`
    /// (`None`: the outside) at `time` and `at`.
    pub fn cross(
        &mut self,
        from: Option<RegionId>,
        to: Option<RegionId>,
        time: f64,
        at: DVec3,
        axis: DVec3,
    ) {
        let (t, st) = (&self.tracker, &mut self.state);
        let mut out = Vec::new();
        match to {
            Some(r) if t.props(r).puncture_force > 0.0 => {
                let force = t.props(r).puncture_force;
                if !st.inside {
                    out.push(t.event(time, NeedleEventKind::Contact, Some(r), from, at, force));
                    st.inside = true;
                    st.entry = Some(at);
                }
                t.cross(
                    st,
                    Some(r),
                    time,
                    at,
                    axis,
                    Via::Puncture { from, force },
                    &mut out,
                );
            }
            _ => t.cross(st, to, time, at, axis, Via::Located, &mut out),
        }
        st.located = to;
        st.events.extend(out);
    }

    /// Continues from a simulated needle's state: its events so far, the region its tip is
    /// in, whether and where it entered (a path planned on from the live world).
    pub fn resume(&mut self, live: &NeedleState) {
        self.state = live.clone();
        self.state.located = live.tip_region;
        self.state.pending.clear();
        self.state.held = 0;
    }

    /// The region the tip is in as the events have it.
    pub fn tip_region(&self) -> Option<RegionId> {
        self.state.tip_region
    }

    /// Every event so far.
    pub fn events(&self) -> &[NeedleEvent] {
        &self.state.events
    }

    /// The name the events give region `r` (the mesh's, or `region <id>`).
    pub fn region_name(&self, r: RegionId) -> String {
        self.tracker.name(Some(r)).unwrap_or_default()
    }

    /// The needle properties of region `r` (all zero where the scene gives none).
    pub fn props(&self, r: RegionId) -> NeedleTissue {
        self.tracker.props(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_and_parts_come_from_the_last_underscore() {
        assert_eq!(structure_of("vein_wall"), "vein");
        assert_eq!(structure_of("vein_lumen"), "vein");
        assert_eq!(part_of("vein_lumen"), Some("lumen"));
        assert_eq!(structure_of("basilic_vein_wall"), "basilic_vein");
        assert_eq!(structure_of("skin"), "skin");
        assert_eq!(part_of("skin"), None);
        assert_eq!(structure_of("_x"), "_x");
        assert_eq!(structure_of("x_"), "x_");
    }
}
