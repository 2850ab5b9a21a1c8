//! Small conversions between the `f64` nalgebra types of the kinematics and the `f32` glam
//! types of rapier.

use rapier3d::math::{Pose, Rotation, Vector};
use rapier3d::na::{Isometry3, Quaternion, Translation3, UnitQuaternion, Vector3};

/// `f64` isometry to a rapier pose.
pub fn to_pose(iso: &Isometry3<f64>) -> Pose {
    let q = iso.rotation.quaternion();
    Pose::from_parts(
        to_vec(&iso.translation.vector),
        Rotation::from_xyzw(q.i as f32, q.j as f32, q.k as f32, q.w as f32).normalize(),
    )
}

/// rapier pose to an `f64` isometry.
pub fn from_pose(pose: &Pose) -> Isometry3<f64> {
    let r = pose.rotation;
    Isometry3::from_parts(
        Translation3::from(from_vec(pose.translation)),
        UnitQuaternion::from_quaternion(Quaternion::new(
            r.w as f64, r.x as f64, r.y as f64, r.z as f64,
        )),
    )
}

/// `f64` vector to a rapier vector.
pub fn to_vec(v: &Vector3<f64>) -> Vector {
    Vector::new(v.x as f32, v.y as f32, v.z as f32)
}

/// rapier vector to an `f64` vector.
pub fn from_vec(v: Vector) -> Vector3<f64> {
    Vector3::new(v.x as f64, v.y as f64, v.z as f64)
}

/// URDF `rpy` (fixed-axis roll about X, then pitch about Y, then yaw about Z) and `xyz` to an
/// isometry.
pub fn urdf_pose(xyz: [f64; 3], rpy: [f64; 3]) -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::new(xyz[0], xyz[1], xyz[2]),
        UnitQuaternion::from_euler_angles(rpy[0], rpy[1], rpy[2]),
    )
}

/// Orientation error `log(target * current⁻¹)` as a rotation vector (world frame).
pub fn rotation_error(target: &UnitQuaternion<f64>, current: &UnitQuaternion<f64>) -> Vector3<f64> {
    (target * current.inverse()).scaled_axis()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn pose_round_trip() {
        let iso = urdf_pose([0.1, -0.2, 0.3], [0.4, -0.5, 0.6]);
        let back = from_pose(&to_pose(&iso));
        assert!((back.translation.vector - iso.translation.vector).norm() < 1e-6);
        assert!(back.rotation.angle_to(&iso.rotation) < 1e-6);
    }

    #[test]
    fn rpy_is_fixed_axis_xyz() {
        // yaw of 90° maps x to y.
        let iso = urdf_pose([0.0; 3], [0.0, 0.0, std::f64::consts::FRAC_PI_2]);
        let v = iso.rotation * Vector3::x();
        assert!((v - Vector3::y()).norm() < 1e-12);
        // R = Rz(y) Ry(p) Rx(r)
        let (r, p, y) = (0.3, -0.7, 1.1);
        let m = urdf_pose([0.0; 3], [r, p, y]).rotation.to_rotation_matrix();
        let rz = rapier3d::na::Rotation3::from_axis_angle(&Vector3::z_axis(), y);
        let ry = rapier3d::na::Rotation3::from_axis_angle(&Vector3::y_axis(), p);
        let rx = rapier3d::na::Rotation3::from_axis_angle(&Vector3::x_axis(), r);
        assert!((m.matrix() - (rz * ry * rx).matrix()).norm() < 1e-12);
    }
}
