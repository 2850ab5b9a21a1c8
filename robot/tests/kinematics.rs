//! Forward kinematics against hand-derived transforms, Jacobians against finite
//! differences, and IK round trips on every arm.
// The URDFs write π and π/2 with a few digits; the hand-derived chains copy them verbatim.
#![allow(clippy::approx_constant)]
mod common;

use std::f64::consts::FRAC_PI_2;

use common::*;
use vesalius_robot::prelude::*;

const P2: f64 = 1.57079632679;
const PI: f64 = 3.14159265359;

/// iiwa: origins and axes copied by hand from `kuka_iiwa/model.urdf`.
fn iiwa_chain() -> Vec<HJ> {
    let z = [0.0, 0.0, 1.0];
    vec![
        hj([0.0, 0.0, 0.1575], [0.0, 0.0, 0.0], z, 'r', Some((0, 1.0))),
        hj([0.0, 0.0, 0.2025], [P2, 0.0, PI], z, 'r', Some((1, 1.0))),
        hj([0.0, 0.2045, 0.0], [P2, 0.0, PI], z, 'r', Some((2, 1.0))),
        hj([0.0, 0.0, 0.2155], [P2, 0.0, 0.0], z, 'r', Some((3, 1.0))),
        hj([0.0, 0.1845, 0.0], [-P2, PI, 0.0], z, 'r', Some((4, 1.0))),
        hj([0.0, 0.0, 0.2155], [P2, 0.0, 0.0], z, 'r', Some((5, 1.0))),
        hj([0.0, 0.081, 0.0], [-P2, PI, 0.0], z, 'r', Some((6, 1.0))),
    ]
}

/// LBR Med 7: from `lbr_med7/med7.urdf` (floating joint fixed at identity, then A1..A7, ee).
fn med7_chain() -> Vec<HJ> {
    let (z, y, my) = ([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]);
    let o = [0.0; 3];
    vec![
        hj([0.0, 0.0, 0.1475], o, z, 'r', Some((0, 1.0))),
        hj([0.0, -0.0105, 0.1925], o, y, 'r', Some((1, 1.0))),
        hj([0.0, 0.0105, 0.2075], o, z, 'r', Some((2, 1.0))),
        hj([0.0, 0.0105, 0.1925], o, my, 'r', Some((3, 1.0))),
        hj([0.0, -0.0105, 0.2075], o, z, 'r', Some((4, 1.0))),
        hj([0.0, -0.0707, 0.1925], o, y, 'r', Some((5, 1.0))),
        hj([0.0, 0.0707, 0.091], o, z, 'r', Some((6, 1.0))),
        hj([0.0, 0.0, 0.035], o, z, 'f', None),
    ]
}

/// PSM1 world -> tool tip, from `dvrk_psm1/PSM1.urdf`. q = [yaw, pitch, insertion, roll,
/// wrist_pitch, wrist_yaw, jaw].
fn psm1_tip_chain() -> Vec<HJ> {
    let z = [0.0, 0.0, 1.0];
    let p = 1.5708;
    vec![
        hj([-0.25, 0.0, 0.5], [0.0, 0.0, 3.1415926], z, 'f', None),
        hj([0.0; 3], [0.0, -p, p], z, 'r', Some((0, 1.0))),
        hj([0.0; 3], [-p, -p, 0.0], z, 'r', Some((1, 1.0))),
        hj([0.0, 0.4318, 0.0], [p, 0.0, 0.0], z, 'p', Some((2, 1.0))),
        hj([0.0, 0.0, 0.4162], [0.0; 3], z, 'r', Some((3, 1.0))),
        hj([0.0; 3], [0.0; 3], z, 'f', None),
        hj([0.0; 3], [-p, -p, 0.0], z, 'r', Some((4, 1.0))),
        hj([0.0091, 0.0, 0.0], [-p, -p, 0.0], z, 'r', Some((5, 1.0))),
        hj(
            [0.0, 0.0102, 0.0],
            [0.0, FRAC_PI_2, FRAC_PI_2],
            z,
            'f',
            None,
        ),
    ]
}

/// PSM1 world -> outer insertion link through the parallelogram (mimic joints).
fn psm1_parallelogram_chain() -> Vec<HJ> {
    let z = [0.0, 0.0, 1.0];
    let p = 1.5708;
    vec![
        hj([-0.25, 0.0, 0.5], [0.0, 0.0, 3.1415926], z, 'f', None),
        hj([0.0; 3], [0.0, -p, p], z, 'r', Some((0, 1.0))),
        hj([0.0, 0.0295, 0.5185], [-p, -p, 0.0], z, 'r', Some((1, 1.0))),
        hj(
            [0.04178, 0.15007, -0.0137],
            [0.0; 3],
            z,
            'r',
            Some((1, -1.0)),
        ),
        hj([-0.520, 0.0, -0.0155], [0.0; 3], z, 'r', Some((1, 1.0))),
    ]
}

/// Venipuncture robot, from `robots/venipuncture/venipuncture.urdf`.
fn veni_chain() -> Vec<HJ> {
    let o = [0.0; 3];
    vec![
        hj([0.0, 0.0, 0.02], o, [1.0, 0.0, 0.0], 'p', Some((0, 1.0))),
        hj([0.0, 0.0, 0.025], o, [0.0, 1.0, 0.0], 'p', Some((1, 1.0))),
        hj([0.0, 0.0, 0.025], o, [0.0, 0.0, 1.0], 'p', Some((2, 1.0))),
        hj([0.0, 0.0, 0.12], o, [0.0, 0.0, 1.0], 'r', Some((3, 1.0))),
        hj([0.05, 0.0, 0.01], o, [0.0, 1.0, 0.0], 'r', Some((4, 1.0))),
        hj([0.0, 0.0, 0.0], o, [1.0, 0.0, 0.0], 'p', Some((5, 1.0))),
        hj([0.035, 0.0, 0.0], o, o, 'f', None),
        hj([0.01, 0.0, 0.0], o, o, 'f', None),
        hj([0.03, 0.0, 0.0], o, o, 'f', None),
    ]
}

fn check_fk(model: &RobotModel, link: &str, chain: &[HJ], qs: &[Vec<f64>]) {
    let id = model.link_id(link).unwrap();
    for q in qs {
        let pose = model.link_pose(q, id).unwrap();
        let hand = chain_fn(chain, q);
        let d = pose_diff(&pose, &hand);
        assert!(d < 1e-9, "{}: {link} at {q:?}: diff {d:e}", model.name);
    }
}

fn chain_fn(c: &[HJ], q: &[f64]) -> M4 {
    chain(c, q)
}

#[test]
fn fk_iiwa_matches_hand_derived() {
    let m = load(iiwa_path());
    let qs = vec![
        vec![0.0; 7],
        vec![0.3, -0.5, 0.7, 1.2, -0.4, 0.9, -1.3],
        vec![-2.0, 1.0, -2.5, -1.5, 2.0, -1.0, 3.0],
    ];
    check_fk(&m, "lbr_iiwa_link_7", &iiwa_chain(), &qs);
    // Straight up at zero: the flange is at the sum of the offsets.
    let p = m.link_pose_by_name(&[0.0; 7], "lbr_iiwa_link_7").unwrap();
    assert!((p.translation.vector.z - 1.261).abs() < 1e-9);
}

#[test]
fn fk_med7_matches_hand_derived() {
    let m = load(med7_path());
    let qs = vec![vec![0.0; 7], vec![0.1, 0.2, -0.3, 0.4, -0.5, 0.6, -0.7]];
    check_fk(&m, "lbr_link_ee", &med7_chain(), &qs);
}

#[test]
fn fk_psm1_matches_hand_derived_including_parallelogram() {
    let m = load(psm1_path());
    let qs = vec![
        vec![0.0; 7],
        vec![0.4, -0.3, 0.12, 1.0, 0.5, -0.6, 0.4],
        vec![-1.2, 0.7, 0.2, -2.0, -1.0, 1.2, 1.0],
    ];
    check_fk(&m, "PSM1_tool_tip_link", &psm1_tip_chain(), &qs);
    check_fk(
        &m,
        "PSM1_outer_insertion_link",
        &psm1_parallelogram_chain(),
        &qs,
    );
    // The parallelogram keeps the insertion link parallel to the pitch link: their relative
    // orientation does not depend on the pitch angle.
    let ins = m.link_id("PSM1_outer_insertion_link").unwrap();
    let pitch = m.link_id("PSM1_outer_pitch_link").unwrap();
    let rel = |q: &[f64]| {
        let p = m.link_poses(q).unwrap();
        p[pitch].rotation.inverse() * p[ins].rotation
    };
    let r0 = rel(&[0.0; 7]);
    for a in [-0.7, -0.2, 0.3, 0.75] {
        let r = rel(&[0.1, a, 0.1, 0.0, 0.0, 0.0, 0.0]);
        assert!(r.angle_to(&r0) < 1e-9, "pitch {a}: {}", r.angle_to(&r0));
    }
    // Jaw mimics: jaw links open symmetrically.
    let pos = m
        .joint_positions(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.8])
        .unwrap();
    assert!((pos[m.joint_id("jaw_mimic_1").unwrap()] - 0.4).abs() < 1e-12);
    assert!((pos[m.joint_id("jaw_mimic_2").unwrap()] + 0.4).abs() < 1e-12);
}

#[test]
fn fk_venipuncture_matches_hand_derived() {
    let m = load(veni_path());
    let qs = vec![vec![0.0; 6], vec![0.01, -0.02, 0.04, 0.5, 0.3, 0.02]];
    check_fk(&m, "needle_tip", &veni_chain(), &qs);
    let p = m.link_pose_by_name(&[0.0; 6], "needle_tip").unwrap();
    assert!((p.translation.vector - Vector3::new(0.125, 0.0, 0.2)).norm() < 1e-12);
    // Positive pitch tilts the needle down.
    let p = m
        .link_pose_by_name(&[0.0, 0.0, 0.0, 0.0, 0.3, 0.0], "needle_tip")
        .unwrap();
    let dir = p.rotation * Vector3::x();
    assert!((dir.z + 0.3f64.sin()).abs() < 1e-12);
}

#[test]
fn jacobian_matches_finite_differences() {
    let mut rng = Lcg(7);
    for (m, tool) in all_arms() {
        let link = m.link_id(tool).unwrap();
        let point = Vector3::new(0.01, -0.02, 0.03);
        for _ in 0..3 {
            let q = rng.config(&m, 0.05);
            let jac = m.jacobian(&q, link, &point).unwrap();
            let h = 1e-6;
            for i in 0..m.ndof() {
                let mut qp = q.clone();
                let mut qm = q.clone();
                qp[i] += h;
                qm[i] -= h;
                let tp = m.link_pose(&qp, link).unwrap();
                let tm = m.link_pose(&qm, link).unwrap();
                let pp = tp * Point3::from(point);
                let pm = tm * Point3::from(point);
                let lin = (pp - pm) / (2.0 * h);
                let ang = (tp.rotation * tm.rotation.inverse()).scaled_axis() / (2.0 * h);
                let err = (lin - jac.fixed_view::<3, 1>(0, i)).norm()
                    + (ang - jac.fixed_view::<3, 1>(3, i)).norm();
                assert!(err < 1e-6, "{} column {i}: {err:e}", m.name);
            }
        }
    }
}

#[test]
fn ik_round_trip_on_every_arm() {
    let mut rng = Lcg(42);
    for (m, tool) in all_arms() {
        let link = m.link_id(tool).unwrap();
        let opts = IkOptions::default();
        for trial in 0..8 {
            let q_true = rng.config(&m, 0.05);
            let target = m.link_pose(&q_true, link).unwrap();
            // Start far away: the neutral configuration.
            let q0 = m.neutral_configuration();
            let sol = solve_ik(&m, link, &IkTarget::Pose(target), &q0, &opts)
                .unwrap_or_else(|e| panic!("{} trial {trial}: {e}", m.name));
            let got = m.link_pose(&sol.q, link).unwrap();
            let dp = (got.translation.vector - target.translation.vector).norm();
            let da = got.rotation.angle_to(&target.rotation);
            assert!(dp < 1e-4, "{} trial {trial}: {dp} m", m.name);
            assert!(
                da < 0.1f64.to_radians(),
                "{} trial {trial}: {da} rad",
                m.name
            );
            // Limits respected.
            for (i, &(lo, hi)) in m.dof_limits().iter().enumerate() {
                assert!(
                    sol.q[i] >= lo - 1e-12 && sol.q[i] <= hi + 1e-12,
                    "{} q{i}",
                    m.name
                );
            }
            // Position-only targets too.
            let sol = solve_ik(
                &m,
                link,
                &IkTarget::Position(target.translation.vector),
                &q0,
                &opts,
            )
            .unwrap_or_else(|e| panic!("{} trial {trial} (position): {e}", m.name));
            let got = m.link_pose(&sol.q, link).unwrap();
            assert!((got.translation.vector - target.translation.vector).norm() < 1e-4);
        }
    }
}

#[test]
fn ik_reports_unreachable_targets() {
    for (m, tool) in all_arms() {
        let link = m.link_id(tool).unwrap();
        let q0 = m.neutral_configuration();
        let far = Vector3::new(5.0, 5.0, 5.0);
        let opts = IkOptions {
            restarts: 3,
            ..IkOptions::default()
        };
        let err = solve_ik(&m, link, &IkTarget::Position(far), &q0, &opts).unwrap_err();
        match err {
            RobotError::IkNotConverged { position_error, .. } => {
                assert!(position_error > 1.0, "{}", m.name)
            }
            e => panic!("{}: {e}", m.name),
        }
        let best = solve_ik_best_effort(&m, link, &IkTarget::Position(far), &q0, &opts).unwrap();
        assert!(!best.converged);
    }
    // A reachable position with an orientation the venipuncture robot cannot take (it has no
    // roll axis).
    let m = load(veni_path());
    let link = m.link_id("needle_tip").unwrap();
    let q = m.neutral_configuration();
    let mut target = m.link_pose(&q, link).unwrap();
    target.rotation = UnitQuaternion::from_euler_angles(0.8, 0.0, 0.0) * target.rotation;
    let opts = IkOptions {
        restarts: 3,
        ..IkOptions::default()
    };
    assert!(solve_ik(&m, link, &IkTarget::Pose(target), &q, &opts).is_err());
}

#[test]
fn ik_rejects_bad_input() {
    let m = load(iiwa_path());
    let link = m.link_id("lbr_iiwa_link_7").unwrap();
    let t = IkTarget::Position(Vector3::new(f64::NAN, 0.0, 0.5));
    assert!(solve_ik(&m, link, &t, &[0.0; 7], &IkOptions::default()).is_err());
    let t = IkTarget::Position(Vector3::new(0.0, 0.0, 0.5));
    let err = solve_ik(&m, link, &t, &[0.0; 6], &IkOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("expected 7 values, got 6"),
        "{err}"
    );
}

#[test]
fn gravity_torques_match_finite_difference_of_potential_energy() {
    for (m, _) in all_arms() {
        let g = Vector3::new(0.0, 0.0, -9.81);
        let q = Lcg(3).config(&m, 0.1);
        let tau = m.gravity_torques(&q, &g).unwrap();
        let potential = |q: &[f64]| {
            let poses = m.link_poses(q).unwrap();
            m.links()
                .iter()
                .zip(&poses)
                .map(|(l, p)| {
                    let c = p * Point3::from(l.inertial.com);
                    -l.inertial.mass * g.dot(&c.coords)
                })
                .sum::<f64>()
        };
        for i in 0..m.ndof() {
            let h = 1e-6;
            let mut qp = q.clone();
            let mut qm = q.clone();
            qp[i] += h;
            qm[i] -= h;
            let dv = (potential(&qp) - potential(&qm)) / (2.0 * h);
            assert!(
                (tau[i] - dv).abs() < 1e-5 * (1.0 + dv.abs()),
                "{} q{i}: {} vs {dv}",
                m.name,
                tau[i]
            );
        }
    }
}
