//! Trajectories from scene waypoints, checked by forward kinematics against the waypoints'
//! own Cartesian targets: the robot starts at the first waypoint, holds stay put, and the
//! 7-DOF arm's 40 mm slide in `palpation.toml` stays on the straight line between its
//! Cartesian waypoints (a joint spline through the two ends alone sagged 9 mm off it).

use vesalius_cosim::{CoSim, CoSimScene, PredictOptions, SceneRobot, TrajectoryError};
use vesalius_engine::sim::BackendKind;

#[test]
fn palpation_starts_at_its_first_waypoint_and_slides_on_a_line() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/palpation.toml");
    let scene = CoSimScene::load(&p).unwrap();
    let opts = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    let sim = CoSim::new(&scene, &opts).unwrap();
    let model = sim.robot_model();
    let waypoints = &scene.file.trajectory;
    let link = waypoints[0].link.as_deref().unwrap();
    let id = model.link_id(link).unwrap();
    let at = |q: &[f64]| model.link_pose(q, id).unwrap().translation.vector;
    let target = |k: usize| {
        let x = waypoints[k].xyz.unwrap();
        vesalius_robot::math::urdf_pose(x, [0.0; 3])
            .translation
            .vector
    };
    // Starts where the first waypoint puts the link (not at the neutral configuration).
    let state = sim.world().state(sim.robot()).unwrap();
    let start = state.link_poses[id].translation.vector;
    assert!((start - target(0)).norm() < 1e-4, "start {start:?}");
    let tr = sim.trajectory().unwrap();
    // The hold between waypoints 0 and 1 does not move.
    for k in 0..=10 {
        let t = waypoints[1].t * k as f64 / 10.0;
        let d = (at(&tr.sample(t).q) - target(0)).norm();
        assert!(d < 1e-4, "hold moved {d} m at t = {t}");
    }
    // Every sample between two consecutive Cartesian waypoints lies on the line joining them.
    for k in 1..waypoints.len() - 1 {
        let (a, b) = (target(k), target(k + 1));
        let (t0, t1) = (waypoints[k].t, waypoints[k + 1].t);
        for j in 1..20 {
            let t = t0 + (t1 - t0) * j as f64 / 20.0;
            let x = at(&tr.sample(t).q);
            let dir = (b - a).normalize();
            let off = (x - a) - dir * (x - a).dot(&dir);
            assert!(
                off.norm() < 0.5e-3,
                "{:.2} mm off the line at t = {t}",
                off.norm() * 1e3
            );
        }
    }
}

fn phlebotomy() -> CoSimScene {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/phlebotomy.toml");
    CoSimScene::load(&p).unwrap()
}

/// The typed builder and the scene file's waypoints give the same spline.
#[test]
fn the_builder_gives_the_scene_files_spline() {
    let scene = phlebotomy();
    let robot = SceneRobot::load(&scene).unwrap();
    let from_file = robot
        .trajectory_from_specs(&scene.file.trajectory)
        .unwrap()
        .unwrap();
    let tip = robot.link("needle_tip").unwrap();
    let insertion = robot.joint("insertion").unwrap();
    let pose = [0.01016, 0.0, 0.00078];
    let rpy = Some([0.0, 0.4014, 0.0]);
    let built = robot
        .trajectory()
        .pose(0.0, tip, pose, rpy)
        .pose(0.3, tip, pose, rpy)
        .move_by(2.9, &[(insertion, 0.0194)])
        .build()
        .unwrap();
    assert_eq!(built.spline(), from_file.spline());
    assert_eq!(built.waypoints(), &scene.file.trajectory[..]);
    // And the same spline as the co-simulation built from the file follows.
    let opts = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    let sim = CoSim::new(&scene, &opts).unwrap();
    assert_eq!(sim.trajectory(), Some(from_file.spline()));
}

/// Bad waypoints are refused when the trajectory is built, naming the waypoint.
#[test]
fn bad_waypoints_are_named_at_build_time() {
    let scene = phlebotomy();
    let robot = SceneRobot::load(&scene).unwrap();
    let tip = robot.link("needle_tip").unwrap();
    let insertion = robot.joint("insertion").unwrap();
    let pose = [0.01016, 0.0, 0.00078];
    let rpy = Some([0.0, 0.4014, 0.0]);
    match robot.joint("plunger") {
        Err(TrajectoryError::UnknownName { name, known, .. }) => {
            assert_eq!(name, "plunger");
            assert!(known.contains("insertion"), "{known}");
        }
        other => panic!("{other:?}"),
    }
    // Times that go back.
    let e = robot
        .trajectory()
        .pose(0.5, tip, pose, rpy)
        .hold(0.3)
        .build()
        .unwrap_err();
    assert!(
        matches!(e, TrajectoryError::Waypoint { index: 1, .. }),
        "{e}"
    );
    // A stroke far faster than the insertion joint's velocity limit: the interval between
    // waypoints 1 and 2 is named.
    let e = robot
        .trajectory()
        .pose(0.0, tip, pose, rpy)
        .hold(0.3)
        .move_by(0.31, &[(insertion, 0.0194)])
        .build()
        .unwrap_err();
    match &e {
        TrajectoryError::Limit { from, to, message } => {
            assert_eq!((*from, *to), (1, 2), "{e}");
            assert!(
                message.contains("velocity") && message.contains("insertion"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Out of reach.
    let e = robot
        .trajectory()
        .pose(0.0, tip, [5.0, 0.0, 0.0], rpy)
        .build()
        .unwrap_err();
    assert!(
        matches!(e, TrajectoryError::Waypoint { index: 0, .. })
            && e.to_string().contains("reachable"),
        "{e}"
    );
    // Not finite.
    let e = robot
        .trajectory()
        .joints(0.0, &[(insertion, f64::NAN)])
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("not finite"), "{e}");
}
