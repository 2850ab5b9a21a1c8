//! World snapshots and batched rollouts (issue 9, section 1) on the shipped venipuncture,
//! CPU backend:
//!
//! * a run restored from a snapshot taken with the needle in the tissue, in a world that
//!   went elsewhere meanwhile, continues with the same bits as the run that never stopped
//!   (every frame's forces, joints, link poses, needle state and events, margins; the
//!   report's verdict);
//! * `rollout_batch` gives each candidate the report of that candidate run alone from the
//!   snapshot, and for the scene's own trajectory the uninterrupted run's;
//! * a snapshot of another scene is refused.

use serde_json::Value;
use vesalius_cosim::{CoSim, CoSimError, CoSimScene, PredictOptions, Report, SceneRobot};
use vesalius_engine::sim::BackendKind;

fn scene(name: &str) -> CoSimScene {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenes")
        .join(name);
    CoSimScene::load(&p).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Everything a report says about the physics, without wall times.
fn physics(r: &Report) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in ["timing", "wall_time", "wall_per_simulated_second"] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::json!({
        "report": serde_json::to_value(r).unwrap(),
        "records": serde_json::to_value(&r.records).unwrap(),
    });
    strip(&mut v);
    v
}

/// The first place where two values differ (`None`: equal).
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .find_map(|(k, v)| match y.get(k) {
                Some(w) => first_difference(v, w, &format!("{at}.{k}")),
                None => Some(format!("{at}.{k}: missing")),
            })
            .or_else(|| (x.len() != y.len()).then(|| format!("{at}: keys differ"))),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, &format!("{at}[{i}]"))),
        _ => (a != b).then(|| format!("{at}: {a} != {b}")),
    }
}

/// Asserts that two reports say the same about the physics, naming the first difference.
fn assert_same(a: &Report, b: &Report) {
    if let Some(d) = first_difference(&physics(a), &physics(b), "") {
        panic!("the reports differ at {d}");
    }
}

/// Frames of the continuation after the snapshot.
const HORIZON: u64 = 12;

#[test]
fn restored_runs_and_batched_rollouts_continue_with_the_same_bits() {
    let sc = scene("phlebotomy.toml");
    let opts = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    let mut a = CoSim::new(&sc, &opts).unwrap();
    // Into the skin: the snapshot holds a punctured face, shaft points and events.
    let mut frames = 0;
    while !a
        .report()
        .events
        .iter()
        .any(|e| e.description == "punctured skin")
    {
        a.step_frame().unwrap();
        frames += 1;
        assert!(frames < 150, "no skin puncture by {frames} frames");
    }
    a.run_frames(6, |_| std::ops::ControlFlow::Continue(()))
        .unwrap();
    let snapshot = a.snapshot().unwrap();
    let needle = snapshot.tissue().tools.needle.as_ref().unwrap();
    assert!(needle.shaft_points() > 0, "the shaft holds the skin");
    eprintln!(
        "snapshot at {:.3} s (frame {}), {} events, {} shaft points",
        snapshot.time(),
        snapshot.frame(),
        needle.events().len(),
        needle.shaft_points()
    );
    let mut b = a.fork().unwrap();
    a.run_frames(HORIZON, |_| std::ops::ControlFlow::Continue(()))
        .unwrap();
    let mut straight = a.report();
    // As a rollout's report has it (`run` sets it at the end).
    straight.final_tip_rest = a.tip_in_rest_frame().unwrap();
    assert_eq!(
        straight.records.len() as u64,
        snapshot.frame() + HORIZON,
        "the report covers the run before the snapshot too"
    );

    // Elsewhere first: a stroke of a fifth of the depth, then back to the snapshot.
    let robot = SceneRobot::load(&sc).unwrap();
    let insertion = robot.joint("insertion").unwrap();
    let tip = robot.link("needle_tip").unwrap();
    let approach = [0.01016, 0.0, 0.00078];
    let aim = Some([0.0, 0.4014, 0.0]);
    let stroke = |depth: f64| {
        robot
            .trajectory()
            .pose(0.0, tip, approach, aim)
            .hold(0.3)
            .move_by(2.9, &[(insertion, depth)])
            .build()
            .unwrap()
    };
    b.set_trajectory(&stroke(0.004));
    b.run_frames(5, |_| std::ops::ControlFlow::Continue(()))
        .unwrap();
    assert_ne!(physics(&b.report()), physics(&straight));
    b.restore(&snapshot).unwrap();
    b.run_frames(HORIZON, |_| std::ops::ControlFlow::Continue(()))
        .unwrap();
    let mut restored = b.report();
    restored.final_tip_rest = b.tip_in_rest_frame().unwrap();
    assert_same(&restored, &straight);
    assert!(straight.final_tip_rest.is_some());

    // A batch: the scene's own stroke and three others, spread over the threads.
    let scene_stroke = stroke(0.0194);
    let candidates = vec![stroke(0.012), scene_stroke, stroke(0.024), stroke(0.016)];
    let batch = a.rollout_batch(&snapshot, &candidates, HORIZON).unwrap();
    assert_eq!(batch.len(), candidates.len());
    assert_same(&batch[1], &straight);
    for (c, r) in candidates.iter().zip(&batch) {
        b.restore(&snapshot).unwrap();
        b.set_trajectory(c);
        b.run_frames(HORIZON, |_| std::ops::ControlFlow::Continue(()))
            .unwrap();
        let mut alone = b.report();
        alone.final_tip_rest = b.tip_in_rest_frame().unwrap();
        assert_same(r, &alone);
    }
    // Different strokes, different outcomes: the batch is not one rollout repeated.
    let last_force = |r: &Report| r.records.last().unwrap().forces[0];
    assert_ne!(last_force(&batch[0]), last_force(&batch[2]));

    // Another scene's snapshot is refused, naming why.
    let mut other = CoSim::new(&scene("palpation.toml"), &opts).unwrap();
    let err = other.restore(&snapshot).unwrap_err();
    assert!(
        matches!(err, CoSimError::ForeignSnapshot { .. } | CoSimError::Sim(_)),
        "{err}"
    );
}

mod common;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 16, ..Default::default() })]

    /// Random indenter scenes (block resolution, friction, press depth and timing, where
    /// the snapshot is taken): a run that is snapshotted, sent elsewhere (the probe pulled
    /// out) and restored ends with the same bits as the run that never stopped.
    #[test]
    fn a_restored_random_press_continues_with_the_same_bits(
        cells in [2u32..5, 2u32..5, 1u32..4],
        friction in 0.0f64..0.8,
        // At most 6 mm in at least 0.1 s: the smooth press peaks at 1.33x its mean speed,
        // 0.08 m/s, inside the plunge joint's 0.1 m/s limit (7.6 mm in 0.1 s peaked at
        // 0.1005 m/s and the scene was refused, failing the case for the wrong reason).
        depth in 0.0f64..0.006,
        t_in in 0.1f64..0.4,
        cut in 1u64..23,
    ) {
        let text = format!(
            "[[trajectory]]\nt = 0.0\njoints = {{ plunge = 0.0 }}\n\
             [[trajectory]]\nt = {t_in}\njoints = {{ plunge = {depth} }}\n"
        );
        let mut sc = common::indenter_scene("random_press.toml", cells, 0.4, &text);
        let tool = &mut sc.file.tool[0];
        tool.static_friction = friction;
        tool.kinetic_friction = 0.8 * friction;
        let opts = PredictOptions { backend: Some(BackendKind::Cpu), ..Default::default() };
        let mut straight = CoSim::new(&sc, &opts).unwrap();
        let frames = straight.frames();
        // Every frame the scene asks for, unless a guard stops it.
        straight.run_frames(frames, |_| std::ops::ControlFlow::Continue(())).unwrap();
        let straight = straight.report();

        let mut b = CoSim::new(&sc, &opts).unwrap();
        b.run_frames(cut, |_| std::ops::ControlFlow::Continue(())).unwrap();
        let snapshot = b.snapshot().unwrap();
        // A guard may stop the straight run (it did at frame 11, the first touch of a 20 mm
        // sphere on 50 mm cells with friction 0.78, the cut being frame 11): the restored
        // run goes as far as the straight one did, and stops there too.
        let done = b.report().records.len() as u64;
        let rest = (straight.records.len() as u64).saturating_sub(done);
        let robot = SceneRobot::load(&sc).unwrap();
        let plunge = robot.joint("plunge").unwrap();
        let out = robot
            .trajectory()
            .joints(0.0, &[(plunge, 0.0)])
            .joints(1.0, &[(plunge, 0.0)])
            .build()
            .unwrap();
        b.set_trajectory(&out);
        b.run_frames(4, |_| std::ops::ControlFlow::Continue(())).unwrap();
        b.restore(&snapshot).unwrap();
        b.run_frames(rest, |_| std::ops::ControlFlow::Continue(())).unwrap();
        let diff = first_difference(&physics(&b.report()), &physics(&straight), "");
        proptest::prop_assert!(diff.is_none(), "the reports differ at {}", diff.unwrap());
    }
}
