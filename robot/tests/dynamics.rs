//! Robots in the physics world: PD hold under gravity, trajectory tracking, limits, mimic
//! joints, effort limits, external wrenches, namespacing, floating bases.
mod common;

use common::*;
use vesalius_robot::prelude::*;

fn world_with(model: &RobotModel, q: &[f64]) -> (RobotWorld, RobotId) {
    let mut world = RobotWorld::new();
    let id = world
        .add_robot(
            model,
            BasePlacement::Fixed(Isometry3::identity()),
            &SimOptions::default(),
        )
        .unwrap();
    world.set_configuration(id, q).unwrap();
    (world, id)
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn full_load(path: std::path::PathBuf) -> RobotModel {
    load_file(&path, &med7_options()).unwrap()
}

#[test]
fn set_configuration_matches_kinematics() {
    let mut rng = Lcg(11);
    for (m, _) in all_arms() {
        let m = if m.name == "dvrk_psm" || m.name == "lbr_iiwa" {
            load_file(m.source.as_ref().unwrap(), &LoadOptions::default()).unwrap()
        } else {
            full_load(m.source.clone().unwrap())
        };
        let q = rng.config(&m, 0.1);
        let (world, id) = world_with(&m, &q);
        let s = world.state(id).unwrap();
        assert!(max_abs_diff(&s.q, &q) < 1e-5, "{}: {:?}", m.name, s.q);
        let poses = m.link_poses(&q).unwrap();
        for (l, (a, b)) in s.link_poses.iter().zip(&poses).enumerate() {
            let dp = (a.translation.vector - b.translation.vector).norm();
            let da = a.rotation.angle_to(&b.rotation);
            assert!(
                dp < 1e-5 && da < 1e-5,
                "{} link {}: {dp} m {da} rad",
                m.name,
                m.links()[l].name
            );
        }
    }
}

#[test]
fn pd_holds_pose_under_gravity_and_reports_torques() {
    let m = full_load(iiwa_path());
    let q0 = vec![0.3, 0.6, -0.2, -1.0, 0.3, 0.8, 0.1];
    let gains = Gains::new(2000.0, 80.0);
    // Without gravity compensation the PD sags by about tau_g / kp; with it, it holds.
    let mut sag = 0.0;
    for gc in [false, true] {
        let (mut world, id) = world_with(&m, &q0);
        let c = world.control_mut(id).unwrap();
        c.set_position_targets(&q0, None, gains).unwrap();
        c.gravity_compensation = gc;
        for _ in 0..1000 {
            world.step();
        }
        let s = world.state(id).unwrap();
        let err = max_abs_diff(&s.q, &q0);
        let vel = s.qd.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(vel < 1e-3, "gc {gc}: still moving ({vel})");
        let tau_g = m.gravity_torques(&s.q, &world.gravity()).unwrap();
        if gc {
            assert!(err < 1e-3, "gravity-compensated PD drifted by {err} rad");
            assert!(err < sag / 10.0, "{err} vs {sag}");
        } else {
            sag = err;
            let expected = tau_g.amax() / gains.stiffness;
            assert!(
                err > 0.2 * expected && err < 3.0 * expected,
                "sag {err}, expected ~{expected}"
            );
        }
        // The actuators hold the arm: applied torques equal the gravity torques.
        for i in 0..7 {
            let tol = 0.02 * tau_g.amax() + 0.05;
            assert!(
                (s.applied_torques[i] - tau_g[i]).abs() < tol,
                "gc {gc} joint {i}: applied {} vs gravity {}",
                s.applied_torques[i],
                tau_g[i]
            );
        }
    }
}

#[test]
fn follows_a_trajectory_with_bounded_error() {
    let m = full_load(lap_path());
    let n = m.ndof();
    let q0 = vec![0.0; n];
    let mut q1 = vec![0.5, 0.6, -0.4, -0.9, 0.3, 0.7, -0.5, 0.4, -0.3, 0.3];
    q1.truncate(n);
    let mut qm: Vec<f64> = q0
        .iter()
        .zip(&q1)
        .map(|(a, b)| 0.5 * (a + b) + 0.1)
        .collect();
    qm[n - 1] = 0.2; // jaw within [0, 0.6]
    let traj = JointTrajectory::new(vec![0.0, 1.0, 2.0], vec![q0.clone(), qm, q1.clone()]).unwrap();
    traj.check_limits(&m, 200).unwrap();
    let (mut world, id) = world_with(&m, &q0);
    world.control_mut(id).unwrap().gravity_compensation = true;
    // Stiff on the arm, soft on the tiny instrument joints.
    let gains: Vec<Gains> = (0..n)
        .map(|i| {
            if i < 7 {
                Gains::new(3000.0, 150.0)
            } else {
                Gains::new(2.0, 0.05)
            }
        })
        .collect();
    let dt = world.timestep();
    let mut max_err: f64 = 0.0;
    let jaw_1 = m.joint_id("jaw_1").unwrap();
    let jaw_2 = m.joint_id("jaw_2").unwrap();
    let steps = (2.5 / dt) as usize;
    for k in 0..steps {
        let t = k as f64 * dt;
        let s = traj.sample(t + dt);
        world
            .control_mut(id)
            .unwrap()
            .set_position_targets_with_gains(&s.q, Some(&s.qd), &gains)
            .unwrap();
        world.step();
        let st = world.state(id).unwrap();
        let reference = traj.sample(t + dt);
        max_err = max_err.max(max_abs_diff(&st.q[..7], &reference.q[..7]));
        // Mimic jaw stays opposite to its leader.
        let (a, b) = (st.joint_positions[jaw_1], st.joint_positions[jaw_2]);
        assert!((a + b).abs() < 2e-3, "jaws {a} {b} at t = {t}");
    }
    assert!(max_err < 0.02, "tracking error {max_err} rad");
    let end = world.state(id).unwrap();
    assert!(max_abs_diff(&end.q[..7], &q1[..7]) < 2e-3, "{:?}", end.q);
    // Link velocity read-back vs the displacement of the link over one step (rapier poses).
    // Checked on the arm (the last arm joint and the gram-scale instrument joints, driven here
    // by a very stiff velocity motor, move slightly less than their reported velocity: rapier's
    // final velocities come from a solve after position integration).
    let tip = m.link_id("arm_link_6").unwrap();
    let s = traj.sample(1.0);
    world.set_configuration(id, &s.q).unwrap();
    world
        .control_mut(id)
        .unwrap()
        .set_velocity_targets(&s.qd, 1e4)
        .unwrap();
    for _ in 0..20 {
        world.step();
    }
    let a = world.state(id).unwrap();
    world.step();
    let b = world.state(id).unwrap();
    let dt = world.timestep();
    let fd = (b.link_poses[tip].translation.vector - a.link_poses[tip].translation.vector) / dt;
    let mean = (a.link_velocities[tip].0 + b.link_velocities[tip].0) / 2.0;
    assert!(mean.norm() > 0.05, "the tool should be moving: {mean}");
    assert!(
        (fd - mean).norm() < 0.02 * mean.norm() + 1e-4,
        "{fd} vs {mean}"
    );
    let rot =
        (b.link_poses[tip].rotation * a.link_poses[tip].rotation.inverse()).scaled_axis() / dt;
    let wmean = (a.link_velocities[tip].1 + b.link_velocities[tip].1) / 2.0;
    assert!(
        (rot - wmean).norm() < 0.02 * wmean.norm() + 1e-3,
        "{rot} vs {wmean}"
    );
}

#[test]
fn joint_limits_hold_and_efforts_are_clamped() {
    let m = full_load(veni_path());
    let q0 = vec![0.0, 0.0, 0.04, 0.0, 0.3, 0.0];
    let (mut world, id) = world_with(&m, &q0);
    let mut target = q0.clone();
    target[5] = 0.2; // insertion limit is 0.04 m
    target[4] = 2.0; // pitch limit is 0.8 rad
    world.control_mut(id).unwrap().gravity_compensation = true;
    world
        .control_mut(id)
        .unwrap()
        .set_position_targets(&target, None, Gains::new(5000.0, 50.0))
        .unwrap();
    let efforts: Vec<f64> = m
        .dofs()
        .iter()
        .map(|&(j, _)| m.joints()[j].limits.effort)
        .collect();
    for _ in 0..1500 {
        world.step();
        let s = world.state(id).unwrap();
        assert!(s.q[5] <= 0.04 + 1e-3, "insertion {}", s.q[5]);
        assert!(s.q[4] <= 0.8 + 1e-2, "pitch {}", s.q[4]);
        for (i, (tau, effort)) in s.applied_torques.iter().zip(&efforts).enumerate() {
            assert!(tau.abs() <= effort * (1.0 + 1e-6), "joint {i}: {tau}");
        }
    }
    let s = world.state(id).unwrap();
    assert!(
        s.q[5] > 0.035,
        "insertion should be pushed to its limit: {}",
        s.q[5]
    );
    // The insertion motor saturates at its 10 N effort limit.
    assert!(
        (s.applied_torques[5].abs() - 10.0).abs() < 0.5,
        "{}",
        s.applied_torques[5]
    );
}

#[test]
fn velocity_motor_moves_at_the_commanded_speed() {
    let m = full_load(veni_path());
    let q0 = vec![0.0; 6];
    let (mut world, id) = world_with(&m, &q0);
    let c = world.control_mut(id).unwrap();
    c.gravity_compensation = true;
    c.set_position_targets(&q0, None, Gains::new(3000.0, 100.0))
        .unwrap();
    c.motors[5] = MotorCommand::Velocity {
        target: 0.01,
        damping: 200.0,
    };
    for _ in 0..1000 {
        world.step();
    }
    let s = world.state(id).unwrap();
    // Steady state of kd (v_t - v) = damping v + friction (URDF <dynamics> of `insertion`).
    let joint = &m.joints()[m.joint_id("insertion").unwrap()];
    let (c, f) = (joint.dynamics.damping, joint.dynamics.friction);
    let v = (200.0 * 0.01 - f) / (200.0 + c);
    assert!((s.qd[5] - v).abs() < 1e-4, "{} vs {v}", s.qd[5]);
    assert!((s.q[5] - 2.0 * v).abs() < 1e-3, "{} vs {}", s.q[5], 2.0 * v);
    assert!((s.applied_torques[5] - 200.0 * (0.01 - s.qd[5])).abs() < 1e-2);
}

#[test]
fn psm_parallelogram_mimics_keep_their_ratio_while_moving() {
    let m = load_file(psm1_path(), &LoadOptions::default()).unwrap();
    let n = m.ndof();
    let q0 = vec![0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.2];
    let q1 = vec![0.5, 0.6, 0.15, 1.0, 0.5, -0.4, 0.9];
    let traj = JointTrajectory::new(vec![0.0, 1.5], vec![q0.clone(), q1.clone()]).unwrap();
    let (mut world, id) = world_with(&m, &q0);
    world.control_mut(id).unwrap().gravity_compensation = true;
    let mimics = m.mimic_relations();
    let dt = world.timestep();
    let mut worst: f64 = 0.0;
    for k in 0..(2.0 / dt) as usize {
        let s = traj.sample((k + 1) as f64 * dt);
        world
            .control_mut(id)
            .unwrap()
            .set_position_targets(&s.q, Some(&s.qd), Gains::new(500.0, 20.0))
            .unwrap();
        world.step();
        let st = world.state(id).unwrap();
        for &(j, l, mul, off) in &mimics {
            let e = st.joint_positions[j] - (mul * st.joint_positions[l] + off);
            worst = worst.max(e.abs());
        }
    }
    assert!(worst < 1e-3, "mimic error {worst} rad");
    let st = world.state(id).unwrap();
    assert!(max_abs_diff(&st.q, &q1) < 0.02, "{:?} vs {q1:?}", st.q);
    let _ = n;
}

#[test]
fn external_wrench_is_resisted_by_the_actuators() {
    let m = full_load(iiwa_path());
    let q0 = vec![0.0, 0.5, 0.0, -1.0, 0.0, 0.6, 0.0];
    let (mut world, id) = world_with(&m, &q0);
    let c = world.control_mut(id).unwrap();
    c.gravity_compensation = true;
    c.set_position_targets(&q0, None, Gains::new(4000.0, 150.0))
        .unwrap();
    let link = m.link_id("lbr_iiwa_link_7").unwrap();
    let force = Vector3::new(10.0, 0.0, -5.0);
    for _ in 0..1000 {
        world
            .apply_wrench(id, link, force, Vector3::zeros())
            .unwrap();
        world.step();
    }
    let s = world.state(id).unwrap();
    let moved = max_abs_diff(&s.q, &q0);
    assert!(moved > 1e-4 && moved < 0.05, "deflection {moved}");
    // Static balance: applied = gravity torques - Jᵀ F (F applied at the centre of mass).
    let com = m.links()[link].inertial.com;
    let jac = m.jacobian(&s.q, link, &com).unwrap();
    let tau_f = jac.fixed_rows::<3>(0).transpose() * force;
    let tau_g = m.gravity_torques(&s.q, &world.gravity()).unwrap();
    for i in 0..7 {
        let expected = tau_g[i] - tau_f[i];
        assert!(
            (s.applied_torques[i] - expected).abs() < 0.03 * tau_g.amax() + 0.1,
            "joint {i}: {} vs {expected}",
            s.applied_torques[i]
        );
    }
    // The wrench is for one step only: without it the arm returns.
    for _ in 0..1000 {
        world.step();
    }
    let s = world.state(id).unwrap();
    assert!(max_abs_diff(&s.q, &q0) < 1e-3);
}

#[test]
fn two_robots_with_clashing_joint_names_are_namespaced() {
    let m = load(psm1_path());
    let mut world = RobotWorld::new();
    let a = world
        .add_robot(
            &m,
            BasePlacement::Fixed(Isometry3::identity()),
            &SimOptions::default(),
        )
        .unwrap();
    let b = world
        .add_robot(
            &m,
            BasePlacement::Fixed(Isometry3::translation(0.6, 0.0, 0.0)),
            &SimOptions::default(),
        )
        .unwrap();
    assert_eq!(world.namespace(a).unwrap(), "dvrk_psm");
    assert_eq!(world.namespace(b).unwrap(), "dvrk_psm_2");
    let yaw = m.joint_id("outer_yaw").unwrap();
    assert_eq!(world.find_joint("dvrk_psm/outer_yaw"), Some((a, yaw)));
    assert_eq!(world.find_joint("dvrk_psm_2/outer_yaw"), Some((b, yaw)));
    let names_a = world.scoped_joint_names(a).unwrap();
    let names_b = world.scoped_joint_names(b).unwrap();
    assert!(names_a.iter().all(|n| !names_b.contains(n)));
    // Placement is applied.
    let pa = world.state(a).unwrap().link_poses[0];
    let pb = world.state(b).unwrap().link_poses[0];
    assert!(((pb.translation.vector - pa.translation.vector).x - 0.6).abs() < 1e-6);
    assert!(world.state(RobotId(7)).is_err());
}

#[test]
fn floating_base_falls_freely() {
    let m = full_load(veni_path());
    let mut world = RobotWorld::new();
    let id = world
        .add_robot(
            &m,
            BasePlacement::Floating(Isometry3::translation(0.0, 0.0, 1.0)),
            &SimOptions::default(),
        )
        .unwrap();
    let c = world.control_mut(id).unwrap();
    c.set_position_targets(&[0.0; 6], None, Gains::new(2000.0, 50.0))
        .unwrap();
    let steps = 100;
    for _ in 0..steps {
        world.step();
    }
    let t = steps as f64 * world.timestep();
    let z = world.state(id).unwrap().link_poses[m.root()]
        .translation
        .vector
        .z;
    let expected = 1.0 - 0.5 * 9.81 * t * t;
    assert!((z - expected).abs() < 2e-3, "z {z} vs {expected}");
    let vz = world.state(id).unwrap().link_velocities[m.root()].0.z;
    assert!((vz + 9.81 * t).abs() < 2e-2, "vz {vz} vs {}", -9.81 * t);
}

#[test]
fn cartesian_needle_insertion_path() {
    let m = full_load(veni_path());
    let tip = m.link_id("needle_tip").unwrap();
    let q0 = vec![0.0, 0.0, 0.03, 0.2, 0.35, 0.0];
    let start = m.link_pose(&q0, tip).unwrap();
    let dir = start.rotation * Vector3::x();
    let mut end = start;
    end.translation.vector += dir * 0.02; // 20 mm along the needle
    let path = CartesianPath::new(
        tip,
        vec![
            CartesianWaypoint {
                time: 0.0,
                target: IkTarget::Pose(start),
            },
            CartesianWaypoint {
                time: 2.0,
                target: IkTarget::Pose(end),
            },
        ],
        IkOptions::default(),
    )
    .unwrap();
    let traj = path.to_joint_trajectory(&m, &q0, 0.05, 0.2).unwrap();
    let last = traj.sample(traj.end_time());
    let p = m.link_pose(&last.q, tip).unwrap();
    assert!((p.translation.vector - end.translation.vector).norm() < 1e-5);
    // Intermediate samples stay on the straight line (within the IK tolerance).
    for k in 0..=40 {
        let t = 2.0 * k as f64 / 40.0;
        let q = traj.sample(t).q;
        let p = m.link_pose(&q, tip).unwrap().translation.vector - start.translation.vector;
        let off_axis = (p - dir * p.dot(&dir)).norm();
        assert!(off_axis < 2e-4, "t {t}: {off_axis}");
    }
    // Track it in the simulator.
    let (mut world, id) = world_with(&m, &q0);
    world.control_mut(id).unwrap().gravity_compensation = true;
    let dt = world.timestep();
    for k in 0..(2.5 / dt) as usize {
        let s = traj.sample((k + 1) as f64 * dt);
        world
            .control_mut(id)
            .unwrap()
            .set_position_targets(&s.q, Some(&s.qd), Gains::new(3000.0, 100.0))
            .unwrap();
        world.step();
    }
    let st = world.state(id).unwrap();
    let p = st.link_poses[tip].translation.vector;
    assert!(
        (p - end.translation.vector).norm() < 1e-3,
        "{}",
        (p - end.translation.vector).norm()
    );
}

#[test]
fn trajectory_is_c2_and_validates_input() {
    let traj = JointTrajectory::new(
        vec![0.0, 0.5, 1.5, 2.0],
        vec![
            vec![0.0, 1.0],
            vec![0.4, 0.5],
            vec![-0.2, 0.8],
            vec![0.1, 1.0],
        ],
    )
    .unwrap();
    // Passes through the waypoints, at rest at both ends.
    for (t, p) in traj.times().iter().zip(traj.waypoints()) {
        let s = traj.sample(*t);
        assert!(max_abs_diff(&s.q, p) < 1e-12);
    }
    assert!(traj.sample(0.0).qd.iter().all(|v| v.abs() < 1e-12));
    assert!(traj.sample(2.0 - 1e-9).qd.iter().all(|v| v.abs() < 1e-6));
    // Velocity and acceleration continuous across interior knots.
    for t in [0.5, 1.5] {
        let (a, b) = (traj.sample(t - 1e-7), traj.sample(t + 1e-7));
        assert!(max_abs_diff(&a.qd, &b.qd) < 1e-5);
        assert!(max_abs_diff(&a.qdd, &b.qdd) < 1e-4);
    }
    // Derivatives are consistent.
    let h = 1e-6;
    let (a, b, c) = (traj.sample(0.9 - h), traj.sample(0.9), traj.sample(0.9 + h));
    for d in 0..2 {
        assert!(((c.q[d] - a.q[d]) / (2.0 * h) - b.qd[d]).abs() < 1e-5);
        assert!(((c.qd[d] - a.qd[d]) / (2.0 * h) - b.qdd[d]).abs() < 1e-4);
    }
    assert!(JointTrajectory::new(vec![0.0, 0.0], vec![vec![0.0], vec![1.0]]).is_err());
    assert!(JointTrajectory::new(vec![0.0, 1.0], vec![vec![0.0], vec![1.0, 2.0]]).is_err());
    assert!(JointTrajectory::new(vec![0.0, 1.0], vec![vec![f64::NAN], vec![1.0]]).is_err());
    assert!(JointTrajectory::new(vec![0.0], vec![vec![0.0]]).is_err());
    // Limit checking names the joint.
    let m = load(veni_path());
    let t = JointTrajectory::new(
        vec![0.0, 1.0],
        vec![vec![0.0; 6], vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.5]],
    )
    .unwrap();
    let err = t.check_limits(&m, 50).unwrap_err().to_string();
    assert!(err.contains("insertion"), "{err}");
}

/// A coordinate with the same value at two consecutive waypoints holds exactly still between
/// them (no dip before the next move), and the move after the hold starts from rest without
/// overshoot; a coordinate that keeps moving is unaffected by another one's hold.
#[test]
fn trajectory_holds_are_exact() {
    let traj = JointTrajectory::new(
        vec![0.0, 0.5, 1.5, 2.5],
        vec![
            vec![0.2, 0.0],
            vec![0.2, 1.0],
            vec![1.0, 2.0],
            vec![1.0, 3.0],
        ],
    )
    .unwrap();
    for k in 0..50 {
        let t = 0.5 * k as f64 / 50.0;
        let s = traj.sample(t);
        assert_eq!(s.q[0], 0.2, "t {t}");
        assert_eq!(s.qd[0], 0.0);
        let t = 0.5 + k as f64 / 50.0;
        let q = traj.sample(t).q[0];
        assert!(
            (0.2 - 1e-12..=1.0 + 1e-12).contains(&q),
            "overshoot {q} at {t}"
        );
        assert_eq!(traj.sample(1.52 + k as f64 / 50.0).q[0], 1.0);
    }
    // Joint 1 moves through 1.0 and 2.0 without stopping there.
    let (v1, v2) = (traj.sample(0.5).qd[1], traj.sample(1.5).qd[1]);
    assert!(v1 > 0.0 && v2 > 0.0, "{v1} {v2}");
}

#[test]
fn urdf_floating_joint_with_capsule_falls() {
    let text = r#"<robot name="f">
  <link name="table"><inertial><mass value="1"/>
    <inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial></link>
  <link name="puck"><collision><geometry><capsule radius="0.02" length="0.05"/></geometry></collision></link>
  <joint name="free" type="floating"><parent link="table"/><child link="puck"/>
    <origin xyz="0 0 1"/></joint>
</robot>"#;
    let m = load_str(text, None, &LoadOptions::default()).unwrap();
    assert_eq!(m.ndof(), 6);
    let p = m
        .link_pose(&[0.1, 0.2, 0.3, 0.0, 0.0, 0.5], m.link_id("puck").unwrap())
        .unwrap();
    assert!((p.translation.vector - Vector3::new(0.1, 0.2, 1.3)).norm() < 1e-12);
    assert!((p.rotation.angle() - 0.5).abs() < 1e-12);
    let r: f64 = 0.02;
    let mass = 1000.0 * std::f64::consts::PI * (r * r * 0.05 + 4.0 / 3.0 * r * r * r);
    assert!((m.links()[1].inertial.mass - mass).abs() / mass < 1e-3);
    let (mut world, id) = world_with(&m, &[0.0; 6]);
    for _ in 0..100 {
        world.step();
    }
    let t = 100.0 * world.timestep();
    let s = world.state(id).unwrap();
    let drop = 0.5 * 9.81 * t * t;
    assert!((s.link_poses[1].translation.vector.z - (1.0 - drop)).abs() < 2e-3);
    assert!((s.q[2] + drop).abs() < 2e-3, "{:?}", s.q);
}

#[test]
fn no_self_contacts_unless_enabled() {
    // The laparoscopic arm's link cylinders overlap at every joint: with self-collision off
    // (the default) they must not push each other.
    let m = full_load(lap_path());
    let (mut world, _) = world_with(&m, &vec![0.0; m.ndof()]);
    for _ in 0..5 {
        world.step();
    }
    let active = world
        .physics
        .narrow_phase
        .contact_pairs()
        .filter(|p| p.has_any_active_contact())
        .count();
    assert_eq!(active, 0);
}

/// Regression: `set_configuration` before the first step snapped a placed fixed base back to
/// the world origin (the multibody had not read its root pose from the rigid body yet).
#[test]
fn set_configuration_keeps_a_placed_base() {
    use vesalius_robot::prelude::*;
    let urdf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../robots/indenter/indenter.urdf"
    );
    let m = load_file(urdf, &LoadOptions::default()).unwrap();
    let mut w = RobotWorld::new();
    let base = vesalius_robot::math::urdf_pose([0.1, -0.2, 0.091], [0.0; 3]);
    let id = w
        .add_robot(&m, BasePlacement::Fixed(base), &SimOptions::default())
        .unwrap();
    w.set_configuration(id, &[0.01]).unwrap();
    let s = w.state(id).unwrap();
    let p = s.link_poses[1].translation.vector;
    assert!((p - Vector3::new(0.1, -0.2, 0.081)).norm() < 1e-6, "{p:?}");
}
