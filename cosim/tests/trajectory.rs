//! Trajectories from scene waypoints, checked by forward kinematics against the waypoints'
//! own Cartesian targets: the robot starts at the first waypoint, holds stay put, and the
//! 7-DOF arm's 40 mm slide in `palpation.toml` stays on the straight line between its
//! Cartesian waypoints (a joint spline through the two ends alone sagged 9 mm off it).

use vesalius_cosim::{CoSim, CoSimScene, PredictOptions};
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
