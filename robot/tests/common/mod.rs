//! Test helpers: paths to the robots and an independent forward-kinematics calculator written
//! with plain 4x4 arrays (it does not use the crate under test).
#![allow(dead_code)]

use std::path::PathBuf;

use vesalius_robot::prelude::*;

/// `../shared/data/robots` beside the checkout.
pub fn shared_robots() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/robots"
    ))
}

/// `robots/` at the top of the repository.
pub fn own_robots() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../robots"))
}

pub fn psm1_path() -> PathBuf {
    shared_robots().join("dvrk_psm1/PSM1.urdf")
}
pub fn iiwa_path() -> PathBuf {
    shared_robots().join("kuka_iiwa/model.urdf")
}
pub fn med7_path() -> PathBuf {
    shared_robots().join("lbr_med7/med7.urdf")
}
pub fn veni_path() -> PathBuf {
    own_robots().join("venipuncture/venipuncture.urdf")
}
pub fn lap_path() -> PathBuf {
    own_robots().join("laparoscopic_arm/laparoscopic_arm.urdf")
}

pub fn med7_options() -> LoadOptions {
    LoadOptions {
        allow_missing_visual_meshes: true,
        ..LoadOptions::default()
    }
}

/// Kinematics-only options (no mesh loading): fast.
pub fn kin_options() -> LoadOptions {
    LoadOptions {
        allow_missing_visual_meshes: true,
        load_collision_meshes: false,
        ..LoadOptions::default()
    }
}

pub fn load(path: PathBuf) -> RobotModel {
    load_file(&path, &kin_options()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every robot with its tool link.
pub fn all_arms() -> Vec<(RobotModel, &'static str)> {
    vec![
        (load(psm1_path()), "PSM1_tool_tip_link"),
        (load(iiwa_path()), "lbr_iiwa_link_7"),
        (load(med7_path()), "lbr_link_ee"),
        (load(veni_path()), "needle_tip"),
        (load(lap_path()), "tool_tip"),
    ]
}

pub type M4 = [[f64; 4]; 4];

pub fn ident() -> M4 {
    let mut m = [[0.0; 4]; 4];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    m
}

pub fn mul(a: &M4, b: &M4) -> M4 {
    let mut m = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            m[i][j] = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// URDF origin: translation, then R = Rz(yaw) Ry(pitch) Rx(roll), written out by hand.
pub fn origin(xyz: [f64; 3], rpy: [f64; 3]) -> M4 {
    let (sr, cr) = rpy[0].sin_cos();
    let (sp, cp) = rpy[1].sin_cos();
    let (sy, cy) = rpy[2].sin_cos();
    [
        [
            cy * cp,
            cy * sp * sr - sy * cr,
            cy * sp * cr + sy * sr,
            xyz[0],
        ],
        [
            sy * cp,
            sy * sp * sr + cy * cr,
            sy * sp * cr - cy * sr,
            xyz[1],
        ],
        [-sp, cp * sr, cp * cr, xyz[2]],
        [0.0, 0.0, 0.0, 1.0],
    ]
}

/// Rotation by `angle` about unit `axis` (Rodrigues).
pub fn rot(axis: [f64; 3], angle: f64) -> M4 {
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    let (x, y, z) = (axis[0] / n, axis[1] / n, axis[2] / n);
    let (s, c) = angle.sin_cos();
    let t = 1.0 - c;
    [
        [t * x * x + c, t * x * y - s * z, t * x * z + s * y, 0.0],
        [t * x * y + s * z, t * y * y + c, t * y * z - s * x, 0.0],
        [t * x * z - s * y, t * y * z + s * x, t * z * z + c, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
}

pub fn trans(v: [f64; 3]) -> M4 {
    let mut m = ident();
    m[0][3] = v[0];
    m[1][3] = v[1];
    m[2][3] = v[2];
    m
}

/// One joint of a hand-written chain: origin, axis and kind ('r' revolute, 'p' prismatic,
/// 'f' fixed), with the index of its value in the configuration (or a mimic of it).
#[derive(Clone, Copy)]
pub struct HJ {
    pub xyz: [f64; 3],
    pub rpy: [f64; 3],
    pub axis: [f64; 3],
    pub kind: char,
    /// (index into q, multiplier)
    pub q: Option<(usize, f64)>,
}

pub fn hj(xyz: [f64; 3], rpy: [f64; 3], axis: [f64; 3], kind: char, q: Option<(usize, f64)>) -> HJ {
    HJ {
        xyz,
        rpy,
        axis,
        kind,
        q,
    }
}

pub fn chain(joints: &[HJ], q: &[f64]) -> M4 {
    let mut m = ident();
    for j in joints {
        m = mul(&m, &origin(j.xyz, j.rpy));
        let v = j.q.map_or(0.0, |(i, k)| k * q[i]);
        match j.kind {
            'r' => m = mul(&m, &rot(j.axis, v)),
            'p' => m = mul(&m, &trans([j.axis[0] * v, j.axis[1] * v, j.axis[2] * v])),
            _ => {}
        }
    }
    m
}

/// Largest difference between the crate's pose and a hand-computed matrix.
pub fn pose_diff(pose: &Isometry3<f64>, m: &M4) -> f64 {
    let h = pose.to_homogeneous();
    let mut d: f64 = 0.0;
    for i in 0..3 {
        for j in 0..4 {
            d = d.max((h[(i, j)] - m[i][j]).abs());
        }
    }
    d
}

/// A deterministic pseudo-random generator for test configurations.
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in the limits shrunk by `margin` of the range (±π when unlimited).
    pub fn config(&mut self, model: &RobotModel, margin: f64) -> Vec<f64> {
        model
            .dof_limits()
            .iter()
            .map(|&(lo, hi)| {
                let (lo, hi) = if lo.is_finite() && hi.is_finite() {
                    (lo, hi)
                } else {
                    (-3.0, 3.0)
                };
                let m = (hi - lo) * margin;
                lo + m + (hi - lo - 2.0 * m) * self.next()
            })
            .collect()
    }
}
