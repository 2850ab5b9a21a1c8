//! The shipped clinical scenes, run for 10 simulated seconds each on the CPU backend: no NaN,
//! and the physics each one is about.
//!
//! * `phlebotomy.toml`: skin, then vein wall punctured at their thresholds, with the needle
//!   force rising before each puncture and dropping after it; the tip ends (and stays for
//!   7 s) in the lumen. The same insertion aimed too shallow (10 degrees) never enters it.
//! * `palpation.toml`: the tissue pushes the pressing tool up, drags against the slide, and
//!   lets go when the tool lifts off.
//! * `retraction.toml`: the flap pulls the grasper back toward its base once lifted taut.

use vesalius_cosim::{predict, CoSimScene, PredictOptions, Report, SceneRobot, Trajectory};
use vesalius_engine::sim::BackendKind;

fn scene(name: &str) -> CoSimScene {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenes")
        .join(name);
    CoSimScene::load(&p).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run(scene: &CoSimScene, trajectory: Option<&Trajectory>, seconds: f64) -> Report {
    let opts = PredictOptions {
        backend: Some(BackendKind::Cpu),
        duration: Some(seconds),
        ..Default::default()
    };
    let r = predict(scene, trajectory, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        r.guard_breach.is_none(),
        "{}",
        r.guard_breach.as_ref().unwrap()
    );
    for f in &r.records {
        assert!(
            f.forces
                .iter()
                .chain(&f.torques)
                .flatten()
                .all(|v| v.is_finite())
                && f.max_strain.iter().all(|v| v.is_finite())
                && f.target_displacement.iter().all(|v| v.is_finite()),
            "non-finite output at t = {}",
            f.time
        );
    }
    // Every check's margin says what its verdict says.
    for c in &r.verdict.checks {
        assert_eq!(c.passed, c.margin >= 0.0, "{c:#?}");
    }
    assert_eq!(r.verdict.passed, r.verdict.checks.iter().all(|c| c.passed));
    assert!(
        (r.simulated_time - seconds).abs() < 0.02,
        "{}",
        r.simulated_time
    );
    r
}

/// Sum over the tool bodies of a frame's force (N).
fn total_force(f: &vesalius_cosim::FrameRecord) -> [f64; 3] {
    let mut s = [0.0; 3];
    for b in &f.forces {
        for k in 0..3 {
            s[k] += b[k];
        }
    }
    s
}

fn mean_over(r: &Report, t0: f64, t1: f64, k: usize) -> f64 {
    let v: Vec<f64> = r
        .records
        .iter()
        .filter(|f| f.time >= t0 && f.time <= t1)
        .map(|f| total_force(f)[k])
        .collect();
    assert!(!v.is_empty());
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn phlebotomy_reaches_the_lumen_and_a_miss_does_not() {
    let sc = scene("phlebotomy.toml");
    let hit = run(&sc, None, 10.0);
    let names: Vec<&str> = hit.events.iter().map(|e| e.description.as_str()).collect();
    eprintln!("hit: {names:?}");
    assert!(hit.verdict.passed, "{:#?}", hit.verdict);
    assert_eq!(hit.final_tip_region.as_deref(), Some("vein_lumen"));
    // Punctures at the scene's thresholds (skin 0.25 N, vein wall 0.08 N: the force on the
    // tip), the needle's axial force (tip, cutting and shaft friction) rising over the 0.2 s
    // before each and dropping after it.
    for (what, threshold) in [("punctured skin", 0.25), ("punctured vein wall", 0.08)] {
        let e = hit
            .events
            .iter()
            .find(|e| e.description == what)
            .unwrap_or_else(|| panic!("no {what}: {names:?}"));
        assert!(
            e.force >= threshold && e.force <= 1.1 * threshold,
            "{what} at {:.4} N",
            e.force
        );
        let axial = |t: f64| {
            let f = hit
                .records
                .iter()
                .min_by(|a, b| (a.time - t).abs().total_cmp(&(b.time - t).abs()))
                .unwrap();
            f.needle.as_ref().unwrap().axial_force
        };
        let (before, just_before, after) = (
            axial(e.time - 0.2),
            axial(e.time - 0.02),
            axial(e.time + 0.05),
        );
        eprintln!("{what}: {before:.3} -> {just_before:.3} N, then {after:.3} N");
        assert!(just_before > before && after < 0.8 * just_before, "{what}");
    }
    // Anatomical order.
    let pos = |d: &str| names.iter().position(|n| *n == d).unwrap();
    assert!(pos("punctured skin") < pos("entered fat"));
    assert!(pos("entered fat") < pos("punctured vein wall"));
    assert!(pos("punctured vein wall") < pos("tip in vein lumen"));

    // Margins. The shipped stroke passes, but with little room: the tip ends within 0.1 mm
    // of the lumen's back wall (0.06 mm inside the lumen, 0.09 mm from the back wall since
    // the face search follows the tip's path to the skin; before, it ended on the back
    // wall, tenting it, both distances zero to f32 rounding). It was inside the lumen on
    // the way (the stretch of its line in the lumen is a few mm long) and passed near the
    // vein's centreline.
    let mg = &hit.margins;
    eprintln!("hit margins: {mg:#?}");
    let inside = mg.final_region_distance.unwrap();
    let back = mg.final_back_wall.unwrap();
    let chord = mg.final_chord.unwrap();
    assert!(
        inside > -1e-6 && inside < 1.5e-4 && back > -1e-6 && back < 1.5e-4,
        "{inside} {back}"
    );
    assert!(mg.max_region_distance.unwrap() > 0.0);
    // Once in the lumen the tip is never past the back wall (to f32 rounding). Before,
    // while the front wall tents ahead of the tip (a 0.5 mm wall in 1 mm cells pushed
    // about 3 mm in), the crushed tets put a lumen stretch up to 0.8 mm behind it, which
    // the run's minimum leaves out.
    assert!(mg.min_back_wall.unwrap() > -1e-6, "{:?}", mg.min_back_wall);
    for f in &hit.records {
        let in_lumen =
            f.needle.as_ref().and_then(|n| n.tip_region.as_deref()) == Some("vein_lumen");
        if in_lumen {
            let b = f.margins.back_wall.unwrap();
            assert!(b > -1e-6, "back wall {b} at {:.3} s", f.time);
        }
    }
    assert!(chord > 1e-3 && chord < 5e-3, "{chord}");
    assert!(mg.targets[0].min_distance.unwrap() < 1e-3);
    assert_eq!(hit.punctures.get("skin"), Some(&1));
    assert_eq!(hit.punctures.get("vein_wall"), Some(&1));

    // The same stroke from the same approach point, aimed at 10 degrees instead of 23: the
    // line passes 1.7 mm over the vein's top (the vein runs along y, across the needle).
    // Built in code with the typed builder.
    let robot = SceneRobot::load(&sc).unwrap();
    let tip = robot.link("needle_tip").unwrap();
    let insertion = robot.joint("insertion").unwrap();
    let approach = [0.01016, 0.0, 0.00078];
    let aim = Some([0.0, 10f64.to_radians(), 0.0]);
    let miss = robot
        .trajectory()
        .pose(0.0, tip, approach, aim)
        .hold(0.3)
        .move_by(2.9, &[(insertion, 0.0194)])
        .build()
        .unwrap();
    let m = run(&sc, Some(&miss), sc.file.simulation.duration);
    let names: Vec<&str> = m.events.iter().map(|e| e.description.as_str()).collect();
    eprintln!("miss: {names:?}");
    assert!(names.contains(&"punctured skin"));
    assert!(!names.iter().any(|n| n.contains("vein")), "{names:?}");
    assert_ne!(m.final_tip_region.as_deref(), Some("vein_lumen"));
    assert!(!m.verdict.passed);
    // Never inside the lumen: the closest the tip came to it is about the 1.7 mm the line
    // passes over the vein plus its 0.5 mm wall (less what the tissue moves), and it ends
    // no closer; the failed check says so with its sign.
    let closest = m.margins.max_region_distance.unwrap();
    let out = m.margins.final_region_distance.unwrap();
    eprintln!("miss: closest {closest:.5} m, final {out:.5} m");
    assert!(closest < -0.5e-3 && closest > -4e-3, "{closest}");
    assert!(out <= closest);
    let tip_check = m
        .verdict
        .failed()
        .find(|c| {
            matches!(
                c.criterion,
                vesalius_cosim::Criterion::FinalTipRegion { .. }
            )
        })
        .expect("the tip check fails");
    assert_eq!(tip_check.margin, out);
}

#[test]
fn palpation_presses_drags_and_lets_go() {
    let sc = scene("palpation.toml");
    let r = run(&sc, None, 10.0);
    assert!(r.verdict.passed, "{:#?}", r.verdict);
    // Pressed 2.5 mm (t = 1.5 s): the kidney pushes the tool up. The same scene refined
    // once (`vesalius run scenes/palpation.toml --duration 2.0 --set mesh.refine=1`, 88k
    // tets, 16 min here) feels 0.201 N over this window; the shipped mesh reads 24 % high
    // (0.249 N; the coarse tets' stiffness is the likely cause, not isolated). Within
    // -20 %..+40 % of that reference.
    let press = mean_over(&r, 1.45, 1.6, 2);
    const REFINED_PRESS: f64 = 0.201;
    // Sliding +x at 16 mm/s: friction and the bulge ahead drag the tool back (-x).
    let drag = mean_over(&r, 2.2, 3.8, 0);
    let normal = mean_over(&r, 2.2, 3.8, 2);
    // Lifted off (t >= 5 s) and settled.
    let after = r
        .records
        .iter()
        .filter(|f| f.time > 6.0)
        .map(|f| {
            let s = total_force(f);
            (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt()
        })
        .fold(0.0, f64::max);
    eprintln!("press {press:.3} N, slide: drag {drag:.3} N normal {normal:.3} N, after lift-off {after:.4} N");
    assert!(
        (0.8 * REFINED_PRESS..1.4 * REFINED_PRESS).contains(&press),
        "press {press} N against the refined {REFINED_PRESS} N"
    );
    assert!(
        normal > 0.5 * press && drag < -0.05 * normal,
        "drag {drag}, normal {normal}"
    );
    assert!(after < 0.01 * press, "after lift-off {after}");
}

#[test]
fn retraction_pulls_the_grasper_back_toward_the_base() {
    let sc = scene("retraction.toml");
    let r = run(&sc, None, 10.0);
    assert!(r.verdict.passed, "{:#?}", r.verdict);
    // Held taut from t = 2.5 s: the flap (8 g, pulled 4 % past its length) pulls the jaw
    // down and toward its attached base at x = 0, by more than its own weight.
    let fx = mean_over(&r, 8.0, 10.0, 0);
    let fz = mean_over(&r, 8.0, 10.0, 2);
    let weight = 0.06 * 0.03 * 0.0045 * 1000.0 * 9.81;
    eprintln!("holding force ({fx:.3}, {fz:.3}) N, flap weight {weight:.3} N");
    assert!(-fz > weight, "fz {fz}");
    assert!(
        fz.abs() > 3.0 * fx.abs(),
        "pull not along the flap: fx {fx} fz {fz}"
    );
}
