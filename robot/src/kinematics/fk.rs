//! Forward kinematics.

use rapier3d::na::{Isometry3, Translation3, UnitQuaternion, Vector3};

use crate::error::Result;
use crate::model::{Joint, JointId, JointKind, LinkId, RobotModel};

/// The transform a joint adds at coordinates `c` (child frame in the joint frame).
pub(crate) fn joint_motion(joint: &Joint, c: &[f64]) -> Isometry3<f64> {
    match joint.kind {
        JointKind::Revolute | JointKind::Continuous => Isometry3::from_parts(
            Translation3::identity(),
            UnitQuaternion::from_axis_angle(&joint.axis, c[0]),
        ),
        JointKind::Prismatic => Isometry3::from_parts(
            Translation3::from(joint.axis.into_inner() * c[0]),
            UnitQuaternion::identity(),
        ),
        JointKind::Fixed => Isometry3::identity(),
        JointKind::Floating => Isometry3::from_parts(
            Translation3::new(c[0], c[1], c[2]),
            UnitQuaternion::from_scaled_axis(Vector3::new(c[3], c[4], c[5])),
        ),
    }
}

/// The rotation taking the X axis onto the joint axis: rapier's one-axis joints move along or
/// about their frame's X axis, so the joint frames are the URDF joint frame times this.
pub(crate) fn motion_align(joint: &Joint) -> Isometry3<f64> {
    let x = Vector3::x();
    let rot = UnitQuaternion::rotation_between(&x, &joint.axis.into_inner()).unwrap_or_else(|| {
        // Axis is -X.
        UnitQuaternion::from_axis_angle(&Vector3::z_axis(), std::f64::consts::PI)
    });
    match joint.kind {
        JointKind::Revolute | JointKind::Continuous | JointKind::Prismatic => {
            Isometry3::from_parts(Translation3::identity(), rot)
        }
        _ => Isometry3::identity(),
    }
}

impl RobotModel {
    /// World poses of all links for full joint coordinates (see
    /// [`RobotModel::full_coordinates`]).
    pub(crate) fn poses_from_full(&self, full: &[f64]) -> Vec<Isometry3<f64>> {
        let mut poses = vec![Isometry3::identity(); self.links.len()];
        poses[self.root] = self.base_pose;
        for &j in &self.joint_order {
            let joint = &self.joints[j];
            let c = &full[joint.coord_offset..joint.coord_offset + joint.kind.ncoords()];
            poses[joint.child] = poses[joint.parent] * joint.origin * joint_motion(joint, c);
        }
        poses
    }

    /// World poses of every link (indexed by [`LinkId`]) at configuration `q`.
    pub fn link_poses(&self, q: &[f64]) -> Result<Vec<Isometry3<f64>>> {
        let full = self.full_coordinates(q)?;
        Ok(self.poses_from_full(&full))
    }

    /// World pose of one link at configuration `q`.
    pub fn link_pose(&self, q: &[f64], link: LinkId) -> Result<Isometry3<f64>> {
        let full = self.full_coordinates(q)?;
        Ok(self.pose_from_full(&full, link))
    }

    /// World pose of the link called `name` at configuration `q`.
    pub fn link_pose_by_name(&self, q: &[f64], name: &str) -> Result<Isometry3<f64>> {
        let link = self.link_id(name)?;
        self.link_pose(q, link)
    }

    /// The joints from the root down to `link`, root first.
    pub fn chain_to(&self, link: LinkId) -> Vec<JointId> {
        let mut chain = Vec::new();
        let mut l = link;
        while let Some(j) = self.links[l].parent_joint {
            chain.push(j);
            l = self.joints[j].parent;
        }
        chain.reverse();
        chain
    }

    pub(crate) fn pose_from_full(&self, full: &[f64], link: LinkId) -> Isometry3<f64> {
        let mut pose = self.base_pose;
        for j in self.chain_to(link) {
            let joint = &self.joints[j];
            let c = &full[joint.coord_offset..joint.coord_offset + joint.kind.ncoords()];
            pose = pose * joint.origin * joint_motion(joint, c);
        }
        pose
    }
}
