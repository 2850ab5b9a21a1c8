//! The planner: `[plan]` errors, determinism for a seed, quality against an exhaustive grid
//! on the planning model, the planning model's agreement with the full model where the
//! geometry decides, and a plan that passes on the full model.

use std::path::{Path, PathBuf};
use std::time::Duration;
use vesalius_cosim::plan::{plan, PlanOptions, Planner, PlanningModel, Variable};
use vesalius_cosim::{BackendKind, CoSimScene, PredictOptions};

fn scene_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/phlebotomy_plan.toml")
}

fn scene_text() -> String {
    std::fs::read_to_string(scene_path()).unwrap()
}

/// The planning scene with `from` replaced by `to` in its text.
fn edited(from: &str, to: &str) -> Result<CoSimScene, String> {
    let text = scene_text();
    assert!(text.contains(from), "{from:?} not in the scene");
    CoSimScene::parse(&text.replacen(from, to, 1), &scene_path()).map_err(|e| e.to_string())
}

/// The planning scene without the full-model calibration (planning model only).
fn uncalibrated() -> CoSimScene {
    edited("validate = 3", "validate = 3\ncalibrate = false").unwrap()
}

fn cpu() -> PlanOptions {
    PlanOptions {
        predict: PredictOptions {
            backend: Some(BackendKind::Cpu),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn plan_errors_name_the_key() {
    for (from, to, want) in [
        (
            "pitch_deg = { min = 15.0, max = 35.0 }",
            "pitch = { min = 15.0, max = 35.0 }",
            "unknown variant `pitch`",
        ),
        (
            "pitch_deg = { min = 15.0, max = 35.0 }",
            "pitch_deg = { min = 35.0, max = 15.0 }",
            "plan.variables.pitch_deg: min (35) is above max (15)",
        ),
        (
            "pitch_deg = { min = 15.0, max = 35.0 }",
            "pitch_deg = { min = 15.0, max = nan }",
            "plan.variables.pitch_deg.max must be finite",
        ),
        (
            "pitch_deg = { min = 15.0, max = 35.0 }",
            "pitch_deg = { min = 15.0, max = 95.0 }",
            "plan.variables.pitch_deg.max = 95 is outside",
        ),
        (
            "speed = { min = 0.004, max = 0.012 }",
            "speed = { min = 0.004, max = 0.012, initial = 0.02 }",
            "plan.variables.speed.initial = 0.02 is outside its bounds",
        ),
        ("budget = \"200ms\"", "budget = \"0ms\"", "plan.budget"),
        ("budget = \"200ms\"", "budget = \"3h\"", "plan.budget"),
        ("budget = \"200ms\"", "budget = \"200\"", "needs a unit"),
        (
            "target = \"vein centreline\"\nstandoff",
            "target = \"artery\"\nstandoff",
            "plan.insertion.target: no [[target]] named \"artery\"",
        ),
        (
            "elites = 6",
            "elites = 60",
            "plan.elites must be in 1..=plan.samples",
        ),
        (
            "failed_check = 10.0",
            "failed_check = -1.0",
            "plan.cost.failed_check",
        ),
    ] {
        let err = edited(from, to).expect_err(to);
        assert!(err.contains(want), "{to}: {err}");
        assert!(err.contains("phlebotomy_plan.toml"), "{err}");
    }
    // Links and joints are checked when the planner is built.
    let s = edited("standoff = 0.004", "standoff = 0.004\njoint = \"plunger\"").unwrap();
    let err = Planner::new(&s, &cpu())
        .err()
        .expect("unknown joint")
        .to_string();
    assert!(
        err.contains("plan.insertion.joint") && err.contains("plunger"),
        "{err}"
    );
}

#[test]
fn a_seed_gives_the_same_plan_and_another_seed_another() {
    let scene = uncalibrated();
    let run = |seed: u64| {
        let mut p = Planner::new(
            &scene,
            &PlanOptions {
                seed: Some(seed),
                ..cpu()
            },
        )
        .unwrap();
        p.plan(Duration::from_secs(60), Some(4)).unwrap()
    };
    let (a, b, c) = (run(3), run(3), run(4));
    let vars = |s: &vesalius_cosim::plan::PlanStep| {
        s.candidates
            .iter()
            .map(|c| c.variables.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(vars(&a), vars(&b));
    assert_eq!(a.best.cost, b.best.cost);
    assert_ne!(vars(&a), vars(&c));
    // Anytime: the best never worsens over the candidates, and the incumbent is the first
    // candidate of every iteration after the first.
    let mut best = f64::INFINITY;
    for c in &a.candidates {
        best = best.min(c.cost.total);
    }
    assert_eq!(best, a.best.cost.total);
}

#[test]
fn a_budget_is_kept_and_a_re_plan_never_returns_worse() {
    let scene = uncalibrated();
    let mut p = Planner::new(&scene, &cpu()).unwrap();
    let first = p.plan(Duration::from_millis(50), None).unwrap();
    assert!(first.best.cost.total.is_finite());
    // Generous slack: this is not a timing test (the bench measures p99), only a check
    // that the loop stops near its deadline rather than after its iterations.
    assert!(
        first.latency < Duration::from_millis(50 + 250),
        "{:?}",
        first.latency
    );
    let second = p.plan(Duration::from_millis(20), None).unwrap();
    assert!(second.best.cost.total <= first.best.cost.total);
}

/// Quality: the plan (the scene's method and seed, 80 iterations) is within 5 % of the best
/// of an exhaustive grid over the same variables (6 levels each, 46656 candidates), both on
/// the planning model. Over yaw -90..90 (the in-line approach) the CEM needs more iterations
/// than over the earlier +-30: from the crossing start, 20 give -2.96 against the grid's
/// -4.96, 40 give -4.71 and 80 -5.27 (1.7 s in release).
#[test]
fn the_plan_is_within_five_percent_of_an_exhaustive_grid() {
    let scene = uncalibrated();
    let spec = scene.file.plan.clone().unwrap();
    let mut planner = Planner::new(&scene, &cpu()).unwrap();
    let step = planner.plan(Duration::from_secs(60), Some(80)).unwrap();
    let (bounds, _) = spec.bounds();
    let levels = 6;
    let axes: Vec<Vec<f64>> = bounds
        .iter()
        .map(|&(lo, hi)| {
            if hi > lo {
                (0..levels)
                    .map(|i| lo + (hi - lo) * i as f64 / (levels - 1) as f64)
                    .collect()
            } else {
                vec![lo]
            }
        })
        .collect();
    let total: usize = axes.iter().map(|a| a.len()).product();
    assert!(total >= 6usize.pow(5), "{total}");
    let grid: Vec<Vec<f64>> = (0..total)
        .map(|mut k| {
            axes.iter()
                .map(|a| {
                    let v = a[k % a.len()];
                    k /= a.len();
                    v
                })
                .collect()
        })
        .collect();
    use rayon::prelude::*;
    let best_grid = grid
        .par_iter()
        .map(|x| {
            planner
                .evaluate(x, PlanningModel::NeedlePath)
                .unwrap()
                .0
                .cost
                .total
        })
        .reduce(|| f64::INFINITY, f64::min);
    assert!(best_grid.is_finite());
    let got = step.best.cost.total;
    assert!(
        got <= best_grid + 0.05 * best_grid.abs(),
        "plan {got} against the grid's best {best_grid} over {total} candidates"
    );
    // Every planned candidate stays within the bounds.
    for c in &step.candidates {
        for (v, (lo, hi)) in c.variables.iter().zip(&bounds) {
            assert!(v >= lo && v <= hi, "{v} outside {lo}..{hi}");
        }
    }
    let _ = Variable::ALL;
}

/// The plan of phlebotomy_plan.toml (calibrated on one full run, 12 CEM iterations) passes
/// the scene's criteria on the full model, and plan.toml's text holds it. The iteration
/// count ends the plan, not the scene's 200 ms budget: on a shared machine the budget buys
/// anything from one iteration to several, and the test must not depend on the load.
#[test]
fn the_planned_venipuncture_passes_on_the_full_model() {
    let scene = CoSimScene::load(&scene_path()).unwrap();
    let result = plan(
        &scene,
        &PlanOptions {
            budget: Some(std::time::Duration::from_secs(24 * 3600)),
            iterations: Some(12),
            validate: Some(2),
            ..cpu()
        },
    )
    .unwrap();
    let lag = result.axial_lag.expect("calibrated");
    assert!(lag > 0.0 && lag < 0.01, "{lag}");
    let report = result.full_report.as_ref().expect("validated");
    assert!(
        report.verdict.passed,
        "{:#?}",
        report.verdict.failed().collect::<Vec<_>>()
    );
    assert_eq!(result.passed(), Some(true));
    let text = vesalius_cosim::plan::scene_with_trajectory(
        &scene,
        &scene_text(),
        &result.trajectory,
        result.insertion.duration,
    )
    .unwrap();
    let back = CoSimScene::parse(&text, Path::new("/elsewhere/plan.toml")).unwrap();
    assert_eq!(back.file.trajectory, result.trajectory.waypoints());
    assert!(back.file.robot.urdf.is_absolute());
}

/// Registration (a patient who moved rigidly, tracked): planning a translated patient gives
/// every candidate the same cost, and an insertion translated with it (the approach, entry
/// and aim by the offset, the direction and stroke unchanged) - the planning problem is
/// invariant under a rigid shift, which is what a re-aim online relies on.
#[test]
fn a_translated_patient_gets_the_translated_insertion() {
    let scene = uncalibrated();
    let spec = scene.file.plan.clone().unwrap();
    let (bounds, initial) = spec.bounds();
    let at_rest = Planner::new(&scene, &cpu()).unwrap();
    let mut moved = Planner::new(&scene, &cpu()).unwrap();
    let offset = vesalius_cosim::engine::glam::DVec3::new(0.0015, -0.001, -0.0005);
    moved.set_registration(offset);
    let mut xs = vec![initial];
    for k in 0..6 {
        xs.push(
            bounds
                .iter()
                .enumerate()
                .map(|(d, (lo, hi))| lo + (hi - lo) * ((k * 7 + d * 3) % 10) as f64 / 9.0)
                .collect(),
        );
    }
    let mut compared = 0;
    for x in &xs {
        let (a, b) = (at_rest.trajectory(x), moved.trajectory(x));
        let (Ok((ia, _)), Ok((ib, _))) = (a, b) else {
            continue;
        };
        for (p, q) in [(ia.aim, ib.aim), (ia.entry, ib.entry)] {
            assert!((q - p - offset).length() < 1e-9, "{p} -> {q}");
        }
        let approach = |i: &vesalius_cosim::plan::insertion::Insertion| {
            vesalius_cosim::engine::glam::DVec3::from_array(i.approach)
        };
        assert!((approach(&ib) - approach(&ia) - offset).length() < 1e-9);
        assert_eq!(ia.direction, ib.direction);
        assert!((ia.stroke - ib.stroke).abs() < 1e-12);
        let (ca, _) = at_rest.evaluate(x, PlanningModel::NeedlePath).unwrap();
        let (cb, _) = moved.evaluate(x, PlanningModel::NeedlePath).unwrap();
        assert_eq!(ca.passed, cb.passed, "{x:?}");
        // The same tip path relative to the tissue, up to the IK's tolerance on the approach.
        assert!(
            (ca.cost.total - cb.cost.total).abs() < 1e-3 * ca.cost.total.abs().max(1.0),
            "{x:?}: {} vs {}",
            ca.cost.total,
            cb.cost.total
        );
        compared += 1;
    }
    assert!(compared >= 4, "only {compared} feasible candidates");
}

#[test]
fn a_registration_offset_plans_as_the_robot_moved_the_other_way() {
    // The planner told the patient is 1.2 mm further along x and 0.4 mm lower than the
    // scene has it scores a candidate as a planner whose robot stands 1.2 mm back and
    // 0.4 mm higher does: only the robot's place relative to the tissue matters.
    let offset = glam::DVec3::new(0.0012, 0.0, -0.0004);
    let nominal = uncalibrated();
    let mut registered = Planner::new(&nominal, &cpu()).unwrap();
    registered.set_registration(offset);
    let moved = edited(
        "base = { xyz = [-0.109, 0.0, -0.185] }",
        "base = { xyz = [-0.1102, 0.0, -0.1846] }",
    )
    .unwrap();
    let robot_moved = Planner::new(&moved, &cpu()).unwrap();
    let plain = Planner::new(&nominal, &cpu()).unwrap();
    let (_, initial) = nominal.file.plan.as_ref().unwrap().bounds();
    let mut x = initial.clone();
    for (i, aim) in [0.0, 0.0015, -0.0015].into_iter().enumerate() {
        x[Variable::ALL
            .iter()
            .position(|&v| v == Variable::AimAlong)
            .unwrap()] = aim;
        let cost = |p: &Planner| p.evaluate(&x, PlanningModel::NeedlePath).unwrap().0.cost;
        let (a, b, c) = (cost(&registered), cost(&robot_moved), cost(&plain));
        assert!(
            (a.total - b.total).abs() < 1e-3
                && (a.target_distance - b.target_distance).abs() < 1e-7,
            "candidate {i}: registered {a:?}\nrobot moved {b:?}"
        );
        // The registered plan, run on the patient where it is, lands off the target by
        // about the offset: what a registration error does.
        let (ins, tr) = registered.trajectory(&x).unwrap();
        let off = plain.cost_of(tr.spline(), ins.duration).unwrap();
        eprintln!(
            "candidate {i}: on target {:.3} mm, registered plan on the patient {:.3} mm",
            c.target_distance * 1e3,
            off.target_distance * 1e3
        );
        // The offset is across the vein's centreline (no y part): all of it is the miss.
        assert!(
            c.target_distance < 1e-5 && (off.target_distance - offset.length()).abs() < 5e-5,
            "candidate {i}: the registered plan on the patient: {off:?}"
        );
    }
}
