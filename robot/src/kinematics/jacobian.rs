//! Jacobians and gravity torques.

use rapier3d::na::{DVector, Matrix6xX, Vector3};

use super::fk::joint_motion;
use crate::error::Result;
use crate::model::{JointKind, LinkId, RobotModel};

impl RobotModel {
    /// Jacobian with respect to the full joint coordinates (mimic joints as separate columns)
    /// of the point `point` (in the link frame) on `link`: rows 0-2 map coordinate rates to the
    /// point's world linear velocity, rows 3-5 to the link's world angular velocity.
    pub(crate) fn jacobian_full(
        &self,
        full: &[f64],
        link: LinkId,
        point: &Vector3<f64>,
    ) -> Matrix6xX<f64> {
        let mut jac = Matrix6xX::zeros(self.ncoords);
        let chain = self.chain_to(link);
        // Poses along the chain.
        let mut parent_pose = self.base_pose;
        let mut frames = Vec::with_capacity(chain.len());
        for &j in &chain {
            let joint = &self.joints[j];
            let c = &full[joint.coord_offset..joint.coord_offset + joint.kind.ncoords()];
            let joint_frame = parent_pose * joint.origin;
            frames.push(joint_frame);
            parent_pose = joint_frame * joint_motion(joint, c);
        }
        let p = parent_pose * rapier3d::na::Point3::from(*point);
        for (k, &j) in chain.iter().enumerate() {
            let joint = &self.joints[j];
            let frame = &frames[k];
            let col = joint.coord_offset;
            match joint.kind {
                JointKind::Revolute | JointKind::Continuous => {
                    let a = frame.rotation * joint.axis.into_inner();
                    let o = frame.translation.vector;
                    let lin = a.cross(&(p.coords - o));
                    jac.fixed_view_mut::<3, 1>(0, col).copy_from(&lin);
                    jac.fixed_view_mut::<3, 1>(3, col).copy_from(&a);
                }
                JointKind::Prismatic => {
                    let a = frame.rotation * joint.axis.into_inner();
                    jac.fixed_view_mut::<3, 1>(0, col).copy_from(&a);
                }
                JointKind::Fixed => {}
                JointKind::Floating => {
                    // Central differences on the six coordinates.
                    let h = 1e-7;
                    for c in 0..6 {
                        let mut plus = full.to_vec();
                        let mut minus = full.to_vec();
                        plus[col + c] += h;
                        minus[col + c] -= h;
                        let tp = self.pose_from_full(&plus, link);
                        let tm = self.pose_from_full(&minus, link);
                        let pp = tp * rapier3d::na::Point3::from(*point);
                        let pm = tm * rapier3d::na::Point3::from(*point);
                        let lin = (pp - pm) / (2.0 * h);
                        let ang = (tp.rotation * tm.rotation.inverse()).scaled_axis() / (2.0 * h);
                        jac.fixed_view_mut::<3, 1>(0, col + c).copy_from(&lin);
                        jac.fixed_view_mut::<3, 1>(3, col + c).copy_from(&ang);
                    }
                }
            }
        }
        jac
    }

    /// Folds a full-coordinate Jacobian into the independent coordinates `q`.
    pub(crate) fn fold_mimic(&self, full_jac: &Matrix6xX<f64>) -> Matrix6xX<f64> {
        let mut jac = Matrix6xX::zeros(self.ndof());
        for (i, &(j, c)) in self.dofs.iter().enumerate() {
            let col = self.joints[j].coord_offset + c;
            jac.set_column(i, &full_jac.column(col));
        }
        for joint in &self.joints {
            let Some(m) = &joint.mimic else { continue };
            let Some(d) = self.joints[m.root_leader].dof else {
                continue;
            };
            let src = full_jac.column(joint.coord_offset) * m.root_multiplier;
            let mut dst = jac.column_mut(d);
            dst += src;
        }
        jac
    }

    /// The 6×ndof Jacobian of the point `point` (link frame) on `link` at configuration `q`:
    /// rows 0-2 give the point's world linear velocity, rows 3-5 the link's world angular
    /// velocity, for unit rates of each entry of `q`. Mimic joints are folded into their
    /// leader's column.
    pub fn jacobian(
        &self,
        q: &[f64],
        link: LinkId,
        point: &Vector3<f64>,
    ) -> Result<Matrix6xX<f64>> {
        let full = self.full_coordinates(q)?;
        Ok(self.fold_mimic(&self.jacobian_full(&full, link, point)))
    }

    /// Generalized gravity compensation for full coordinates: the coordinate forces that hold
    /// every link against `gravity`, `-Σ Jcomᵢᵀ mᵢ g`.
    pub(crate) fn gravity_compensation_full(
        &self,
        full: &[f64],
        gravity: &Vector3<f64>,
    ) -> DVector<f64> {
        let mut tau = DVector::zeros(self.ncoords);
        for (l, link) in self.link_ids().zip(&self.links) {
            if link.inertial.mass <= 0.0 || link.parent_joint.is_none() {
                continue;
            }
            let jac = self.jacobian_full(full, l, &link.inertial.com);
            let f = gravity * link.inertial.mass;
            tau -= jac.fixed_rows::<3>(0).transpose() * f;
        }
        tau
    }

    /// Joint torques/forces (one per entry of `q`) that hold the robot still against
    /// `gravity` at configuration `q` (mimic joints' contributions folded into their leader).
    pub fn gravity_torques(&self, q: &[f64], gravity: &Vector3<f64>) -> Result<DVector<f64>> {
        let full = self.full_coordinates(q)?;
        let tau_full = self.gravity_compensation_full(&full, gravity);
        let mut tau = DVector::zeros(self.ndof());
        for (i, &(j, c)) in self.dofs.iter().enumerate() {
            tau[i] = tau_full[self.joints[j].coord_offset + c];
        }
        for joint in &self.joints {
            if let Some(m) = &joint.mimic {
                if let Some(d) = self.joints[m.root_leader].dof {
                    tau[d] += m.root_multiplier * tau_full[joint.coord_offset];
                }
            }
        }
        Ok(tau)
    }
}
