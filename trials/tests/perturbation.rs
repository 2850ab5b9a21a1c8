//! `[perturbation]`: the design's draws (the share of moving cases, bounds), the belief and
//! truth scenes a case makes, and a moving patient's run against the same motion written
//! into the scene and against the press it amounts to.

mod common;

use common::run_text;
use vesalius_cosim::engine::scene::overrides::Override;
use vesalius_cosim::engine::solver::Threads;
use vesalius_cosim::{BackendKind, CoSimScene, PredictOptions};
use vesalius_trials::perturbation::Perturbation;
use vesalius_trials::{Design, Trial};

const PRESS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/press.toml");
const PHLEBOTOMY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenes/phlebotomy.toml");

fn design(perturbation: &str, kind: &str) -> Result<Design, String> {
    Design::from_toml_str(&format!(
        r#"
[design]
kind = "{kind}"
size = 40
seed = 3
[cohort]
vein_z = {{ dist = "uniform", low = -0.0065, high = -0.0045, levels = 2 }}
{perturbation}
"#
    ))
    .map_err(|e| e.to_string())
}

#[test]
fn the_share_of_moving_cases_is_the_share_asked_for_and_every_key_is_a_parameter() {
    let d = design(
        r#"
[perturbation.motion]
share = 0.25
start = { dist = "uniform", low = 1.0, high = 2.0 }
x = { dist = "normal", mean = 0.002, sd = 0.0005 }
[perturbation.force_noise]
sd = 0.01
[perturbation.registration]
y = { dist = "normal", mean = 0.0, sd = 0.0003 }
"#,
        "lhs",
    )
    .unwrap();
    let names: Vec<&str> = d.params().keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "cohort.vein_z",
            "perturbation.force_noise.sd",
            "perturbation.motion.moving",
            "perturbation.motion.ramp",
            "perturbation.motion.start",
            "perturbation.motion.x",
            "perturbation.registration.y",
        ]
    );
    let cases = d.cases();
    // A Latin hypercube stratifies the 0/1 draw too: exactly a quarter of 40.
    let moving: Vec<&vesalius_trials::Case> = cases
        .iter()
        .filter(|c| c.values["perturbation.motion.moving"].as_f64() == Some(1.0))
        .collect();
    assert_eq!(moving.len(), 10);
    for c in &cases {
        let p = Perturbation::of(c);
        let m = p.motion.expect("the trial has a motion perturbation");
        assert_eq!(m.is_some(), moving.iter().any(|k| k.id == c.id));
        if let Some(m) = m {
            assert!((1.0..2.0).contains(&m.start));
            assert_eq!(m.ramp, vesalius_trials::DEFAULT_MOTION_RAMP);
            assert_eq!(m.offset.y, 0.0);
            assert_eq!(
                m.offset.x,
                c.values["perturbation.motion.x"].as_f64().unwrap()
            );
        }
        assert_eq!(p.force_noise, 0.01);
        assert_eq!(p.needle, None);
        assert_eq!(p.registration.x, 0.0);
    }
}

#[test]
fn bad_perturbations_are_refused_naming_the_key() {
    for (text, kind, key, what) in [
        (
            "[perturbation.tremor]\nsd = 1.0",
            "lhs",
            "perturbation.tremor",
            "unknown perturbation",
        ),
        (
            "[perturbation.needle]\nw = 0.001",
            "lhs",
            "perturbation.needle.w",
            "unknown key",
        ),
        (
            "[perturbation.motion]\nshare = 1.5\nstart = 1.0",
            "lhs",
            "perturbation.motion.share",
            "not a probability",
        ),
        (
            "[perturbation.motion]\nstart = 1.0",
            "lhs",
            "perturbation.motion.share",
            "missing",
        ),
        (
            "[perturbation.motion]\nshare = 0.5",
            "lhs",
            "perturbation.motion.start",
            "missing",
        ),
        (
            "[perturbation.motion]\nshare = 0.5\nstart = 1.0\nramp = 0.0",
            "lhs",
            "perturbation.motion.ramp",
            "above 0",
        ),
        (
            "[perturbation.force_noise]\nsd = { dist = \"normal\", mean = 0.01, sd = 0.005 }",
            "lhs",
            "perturbation.force_noise.sd",
            "reaches -inf",
        ),
        (
            "[perturbation.motion]\nshare = 0.5\nstart = 1.0",
            "factorial",
            "perturbation.motion.moving",
            "sampled design",
        ),
    ] {
        let e = design(text, kind).expect_err(text);
        assert!(e.starts_with(key) && e.contains(what), "{text}: {e}");
    }
    // A truncated noise is fine.
    design(
        "[perturbation.force_noise]\nsd = { dist = \"normal\", mean = 0.01, sd = 0.005, low = 0.0 }",
        "lhs",
    )
    .unwrap();
}

#[test]
fn the_robot_believes_the_nominal_scene_and_the_case_runs_on_the_perturbed_one() {
    let dir = common::scratch("perturbation_scenes");
    let path = dir.join("trial.toml");
    std::fs::write(
        &path,
        format!(
            r#"
scene = "{PHLEBOTOMY}"
[design]
kind = "lhs"
size = 4
seed = 11
[cohort]
vein_z = {{ dist = "uniform", low = -0.0065, high = -0.0045 }}
[perturbation.motion]
share = 0.5
start = 1.5
x = 0.002
z = -0.00085
[perturbation.needle]
y = {{ dist = "uniform", low = -0.0003, high = 0.0003 }}
[[behaviour]]
name = "fixed"
kind = "fixed"
"#
        ),
    )
    .unwrap();
    let trial = Trial::load(&path).unwrap();
    let nominal = CoSimScene::load(std::path::Path::new(PHLEBOTOMY)).unwrap();
    let tip = nominal.file.needle.as_ref().unwrap().tip;
    let mut moved = 0;
    for case in trial.design.cases() {
        let p = Perturbation::of(&case);
        let (belief, truth) = trial.scenes(&case, &p).unwrap();
        // The belief: the case's anatomy, the nominal needle, no motion.
        assert_eq!(belief.file.needle.as_ref().unwrap().tip, tip);
        assert!(belief.file.motion.is_empty());
        // The truth: the needle moved by the draw, the motion if the case moves.
        let dy = case.values["perturbation.needle.y"].as_f64().unwrap();
        let t = truth.file.needle.as_ref().unwrap().tip;
        assert_eq!([t[0], t[1], t[2]], [tip[0], tip[1] + dy, tip[2]]);
        match p.motion.unwrap() {
            Some(_) => {
                moved += 1;
                assert_eq!(truth.file.motion.len(), 1);
                let m = &truth.file.motion[0];
                assert!((m.t[0] - 1.5).abs() < 1e-12 && (m.t[1] - 1.7).abs() < 1e-12);
                assert_eq!(m.translate, [0.002, 0.0, -0.00085]);
            }
            None => assert!(truth.file.motion.is_empty()),
        }
        // Both have the case's vein.
        assert_eq!(belief.file.mesh, truth.file.mesh);
        assert_ne!(belief.file.mesh, nominal.file.mesh);
    }
    assert_eq!(moved, 2);
}

/// The press scene's options as the runner uses them.
fn options() -> PredictOptions {
    PredictOptions {
        backend: Some(BackendKind::Cpu),
        threads: Some(Threads::fixed(1).unwrap()),
        ..Default::default()
    }
}

fn peak(scene: &CoSimScene) -> f64 {
    let r = vesalius_cosim::predict(scene, None, &options()).unwrap();
    r.peak_force.iter().copied().fold(0.0, f64::max)
}

#[test]
fn a_moving_patient_runs_as_the_motion_written_into_the_scene_and_presses_as_a_deeper_stroke() {
    // The block's floor (its pinned support) rises 1 mm at 0.05-0.15 s in half the cases:
    // under a probe that then goes 4 mm in, that is a 5 mm press.
    let (_, rows, _) = run_text(
        "perturbation_press",
        &format!(
            r#"
scene = "{PRESS}"
[design]
kind = "lhs"
size = 4
seed = 5
[cohort]
"size.2" = {{ dist = "fixed", values = [0.05] }}
[materials.default.youngs_modulus]
dist = "uniform"
low = 4.0e3
high = 1.0e4
[perturbation.motion]
share = 0.5
start = 0.05
ramp = 0.1
z = 0.001
[[behaviour]]
name = "fixed"
kind = "fixed"
"#
        ),
    );
    let text = std::fs::read_to_string(PRESS).unwrap();
    let path = std::path::Path::new(PRESS);
    let mut moving = 0;
    for r in &rows {
        assert!(r.error.is_none(), "{:?}", r.error);
        let e = r.case.values["materials.default.youngs_modulus"].clone();
        let mut set = vec![Override::new(
            "materials.default.youngs_modulus",
            e.as_f64().unwrap(),
        )];
        let still = peak(&CoSimScene::parse_with(&text, path, &set).unwrap());
        let deeper = {
            let mut s = set.clone();
            s.push(Override::new("trajectory.1.joints.plunge", 0.005));
            peak(&CoSimScene::parse_with(&text, path, &s).unwrap())
        };
        let got = r.peak_force.unwrap();
        if r.case.values["perturbation.motion.moving"].as_f64() == Some(1.0) {
            moving += 1;
            set.push(
                "motion=[{ t = [0.05, 0.15], translate = [0.0, 0.0, 0.001] }]"
                    .parse()
                    .unwrap(),
            );
            let written = peak(&CoSimScene::parse_with(&text, path, &set).unwrap());
            assert_eq!(got, written, "{}: the motion written into the scene", r.id);
            // The block pushed up 1 mm under a 4 mm stroke presses about as a 5 mm one
            // (the dynamics differ a little: the block is carried, not the probe).
            assert!(
                (got - deeper).abs() < 0.1 * deeper && got > 1.15 * still,
                "{}: moved {got:.4} N, a 5 mm stroke {deeper:.4} N, still {still:.4} N",
                r.id
            );
        } else {
            assert_eq!(got, still, "{}: a still case is the scene as it is", r.id);
        }
    }
    assert_eq!(moving, 2);
    // The pass-rate plot bins a 0/1 input by its values, never mixing the two.
    let refs: Vec<&vesalius_trials::Row> = rows.iter().collect();
    let bins = vesalius_trials::plots::pass_rate_bins(&refs, "perturbation.motion.moving", 5);
    let xs: Vec<(f64, usize)> = bins.iter().map(|b| (b.x, b.rows)).collect();
    assert_eq!(xs, [(0.0, 2), (1.0, 2)]);
}
