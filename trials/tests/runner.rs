//! The trial runner on a small trial: a probe pressed into blocks of drawn stiffness and
//! Poisson ratio (an impossible ratio among the draws), against a force limit.

mod common;

use common::scratch;
use std::path::{Path, PathBuf};
use vesalius_trials::executor::Local;
use vesalius_trials::runner::{run, summarize, wilson};
use vesalius_trials::{Row, Trial};

/// The force limit of the press scene (N): between the forces of the softest and stiffest
/// draws.
const LIMIT: f64 = 1.5;

/// The trial tests' scene (a probe pressed into a block).
const PRESS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/press.toml");

/// Writes a trial of `size` LHS points over the press scene into `dir`; returns the trial
/// file. The trial text may be changed by `edit`.
fn write_trial(dir: &Path, size: u32, edit: impl Fn(String) -> String) -> PathBuf {
    let trial = format!(
        r#"
scene = "{PRESS}"
[design]
kind = "lhs"
size = {size}
seed = 7
[cohort]
# The block's height (the box generator's size[2]), one level here.
"size.2" = {{ dist = "fixed", values = [0.05] }}
[materials.default.youngs_modulus]
dist = "uniform"
low = 4.0e3
high = 2.0e4
[materials.default.poisson_ratio]
dist = "fixed"
values = [0.45, 0.45, 0.45, 0.7]
[[behaviour]]
name = "fixed"
kind = "fixed"
"#
    );
    let path = dir.join("trial.toml");
    std::fs::write(&path, edit(trial)).unwrap();
    path
}

fn e_of(r: &Row) -> f64 {
    r.case.values["materials.default.youngs_modulus"]
        .as_f64()
        .unwrap()
}

/// Without the wall time (the only value that differs between two runs of a row).
fn physics(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .cloned()
        .map(|mut r| {
            r.wall_time = 0.0;
            r
        })
        .collect()
}

#[test]
fn a_cohort_parameter_the_generator_does_not_know_is_every_cases_error() {
    let dir = scratch("trial_unknown");
    let path = write_trial(&dir, 4, |t| t.replace("\"size.2\"", "height"));
    let trial = Trial::load(&path).unwrap();
    let out = run(&trial, &dir.join("out"), None, &Local, |_, _, _| {}).unwrap();
    assert_eq!(out.rows.len(), 4);
    for r in &out.rows {
        let e = r.error.as_deref().expect("an error row");
        assert!(
            e.contains("height") && e.contains("mesh.generator.height"),
            "{e}"
        );
    }
}

#[test]
fn rows_follow_the_physics_and_the_table_and_summary_agree() {
    let dir = scratch("trial_rows");
    let path = write_trial(&dir, 8, |t| t);
    let trial = Trial::load(&path).unwrap();
    let out = run(&trial, &dir.join("out"), None, &Local, |_, _, _| {}).unwrap();
    assert_eq!(out.rows.len(), 8);
    assert_eq!(out.ran, 8);
    for r in &out.rows {
        let nu = r.case.values["materials.default.poisson_ratio"]
            .as_f64()
            .unwrap();
        eprintln!(
            "{} E {:.0} nu {nu} passed {} peak {:?} error {:?}",
            r.id,
            e_of(r),
            r.passed,
            r.peak_force,
            r.error
        );
        if nu > 0.5 {
            // An impossible material is the case's error, naming the key, not the trial's.
            let e = r.error.as_deref().expect("an error row");
            assert!(e.contains("poisson"), "{e}");
            assert!(!r.passed);
        } else {
            assert!(r.error.is_none(), "{:?}", r.error);
            let f = r.peak_force.unwrap();
            assert_eq!(r.passed, f <= LIMIT, "{r:?}");
        }
    }
    // Stiffer blocks push back harder: every passing case is softer than every failing one.
    let ok: Vec<&Row> = out.rows.iter().filter(|r| r.error.is_none()).collect();
    let soft_max = ok
        .iter()
        .filter(|r| r.passed)
        .map(|r| e_of(r))
        .fold(0.0, f64::max);
    let stiff_min = ok
        .iter()
        .filter(|r| !r.passed)
        .map(|r| e_of(r))
        .fold(f64::INFINITY, f64::min);
    assert!(
        soft_max > 0.0 && stiff_min.is_finite(),
        "both outcomes occur"
    );
    assert!(soft_max < stiff_min, "{soft_max} vs {stiff_min}");
    let mut forces: Vec<(f64, f64)> = ok
        .iter()
        .map(|r| (e_of(r), r.peak_force.unwrap()))
        .collect();
    forces.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(forces.windows(2).all(|w| w[1].1 > w[0].1), "{forces:?}");

    // The table: a header and one line per row, in case order.
    let csv = std::fs::read_to_string(dir.join("out/results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 9);
    assert!(
        lines[0].starts_with("id,case,repetition,seed,behaviour,cohort.size.2,materials.default.poisson_ratio,materials.default.youngs_modulus,passed"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("c0000-r0/fixed,0,0,"));
    let s = summarize(&trial, &out.rows);
    let b = &s.behaviours[0];
    let passed = out.rows.iter().filter(|r| r.passed).count();
    assert_eq!((b.cases, b.passed), (8, passed));
    assert_eq!(b.wilson_95, wilson(passed, 8, 1.959_963_984_540_054));
    let mean_wall = out.rows.iter().map(|r| r.wall_time).sum::<f64>() / 8.0;
    assert!((b.mean_wall_time_s - mean_wall).abs() <= 1e-12 * mean_wall.max(1.0));
    assert!(b.mean_wall_time_s > 0.0);
    // Every passing block is softer than every failing one: the modulus separates them
    // completely (AUC 0: a passing row's modulus is never above a failing row's), the
    // constant inputs not at all.
    let top = &b.separation[0];
    assert_eq!(top.input, "materials.default.youngs_modulus");
    assert_eq!(top.auc, 0.0);
    assert!(top.mean_passed < top.mean_failed);
    assert!(
        b.separation[1..].iter().all(|x| x.auc == 0.5),
        "{:?}",
        b.separation
    );
    assert!(b.failure_modes.iter().any(|(m, _)| m == "max_tool_force"));
    assert!(b.failure_modes.iter().any(|(m, _)| m == "error"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["behaviours"][0]["passed"], passed);

    // Killed midway: the journal holds three rows and half a line. The restart runs only
    // the other five, on one thread, and gives the same rows.
    let again = dir.join("again");
    std::fs::create_dir_all(&again).unwrap();
    std::fs::copy(dir.join("out/trial.json"), again.join("trial.json")).unwrap();
    let journal = std::fs::read_to_string(dir.join("out/rows.jsonl")).unwrap();
    let kept: Vec<&str> = journal.lines().take(3).collect();
    let cut = &journal.lines().nth(3).unwrap()[..40];
    std::fs::write(
        again.join("rows.jsonl"),
        format!("{}\n{cut}", kept.join("\n")),
    )
    .unwrap();
    assert!(!again.join("results.csv").exists());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let resumed = pool
        .install(|| run(&trial, &again, None, &Local, |_, _, _| {}))
        .unwrap();
    assert_eq!(resumed.ran, 5);
    assert_eq!(physics(&resumed.rows), physics(&out.rows));

    // One case run again alone: the same row, and the journal and table untouched.
    let journal_before = std::fs::read_to_string(again.join("rows.jsonl")).unwrap();
    let alone = run(
        &trial,
        &again,
        Some(&["c0002-r0".to_string()]),
        &Local,
        |_, _, _| {},
    )
    .unwrap();
    assert_eq!(alone.ran, 1);
    assert_eq!(physics(&alone.rows), physics(&out.rows[2..3]));
    assert_eq!(
        std::fs::read_to_string(again.join("rows.jsonl")).unwrap(),
        journal_before
    );

    // Another trial in the same folder is refused.
    std::fs::create_dir_all(dir.join("other")).unwrap();
    let other = write_trial(&dir.join("other"), 4, |t| t);
    let other = Trial::load(&other).unwrap();
    let err = run(&other, &dir.join("out"), None, &Local, |_, _, _| {}).unwrap_err();
    assert!(err.to_string().contains("another trial"), "{err}");
}

#[test]
fn bad_trial_files_are_errors_that_name_the_key() {
    let dir = scratch("trial_errors");
    let load = |edit: &dyn Fn(String) -> String| {
        let p = write_trial(&dir, 4, edit);
        Trial::load(&p).unwrap_err().to_string()
    };
    let e = load(&|t| t.replace("kind = \"fixed\"\n", "kind = \"fixed\"\nbudget = 2\n"));
    assert!(e.contains("budget"), "{e}");
    let e = load(&|t| t.replace("kind = \"fixed\"\n", "kind = \"teleport\"\n"));
    assert!(e.contains("teleport"), "{e}");
    let e = load(&|t| t.replace(PRESS, "nowhere.toml"));
    assert!(e.contains("scene") && e.contains("nowhere.toml"), "{e}");
    let e = load(&|t| t.replace("[[behaviour]]\nname = \"fixed\"\nkind = \"fixed\"\n", ""));
    assert!(e.contains("behaviour"), "{e}");
    let e = load(&|t| t.replace("low = 4.0e3", "low = 4.0e5"));
    assert!(e.contains("materials.default.youngs_modulus"), "{e}");
    let e = load(&|t| format!("{t}[run]\nduration = -1.0\n"));
    assert!(e.contains("run.duration"), "{e}");
    let e = load(&|t| t.replace("kind = \"fixed\"\n", "kind = \"fixed\"\niterations = 5\n"));
    assert!(e.contains("iterations") && e.contains("plan"), "{e}");
    // The press scene has no [plan] to plan with.
    let e = load(&|t| t.replace("kind = \"fixed\"\n", "kind = \"plan\"\n"));
    assert!(e.contains("[plan]") && e.contains("press.toml"), "{e}");
    let e = load(&|t| t.replace("kind = \"fixed\"\n", "kind = \"online\"\n"));
    assert!(e.contains("online") && e.contains("press.toml"), "{e}");
    let e = load(&|t| {
        t.replace(
            "kind = \"fixed\"\n",
            "kind = \"fixed\"\nplan_iterations = 5\n",
        )
    });
    assert!(e.contains("plan_iterations") && e.contains("online"), "{e}");
    // run.set: not KEY=VALUE, a key the scene does not know.
    let e = load(&|t| format!("{t}[run]\nset = [\"duration\"]\n"));
    assert!(e.contains("run.set[0]") && e.contains("KEY=VALUE"), "{e}");
    let e = load(&|t| format!("{t}[run]\nset = [\"simulation.warp=2\"]\n"));
    assert!(e.contains("run.set") && e.contains("warp"), "{e}");
    // A needle perturbation on a scene without a needle.
    let e = load(&|t| format!("{t}[perturbation.needle]\nz = 0.001\n"));
    assert!(
        e.contains("perturbation.needle") && e.contains("[needle]"),
        "{e}"
    );
}

/// The shipped planning trial reads: two behaviours over its eight forearms.
#[test]
fn the_shipped_planning_trial_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("planned.toml");
    let trial = Trial::load(&path).unwrap();
    let ids = trial.row_ids();
    assert_eq!(ids.len(), 16);
    assert_eq!(ids[1], "c0000-r0/planned");
}

/// The shipped smoke trial reads (its scene, its design) and has the rows the README says.
#[test]
fn the_shipped_smoke_trial_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("smoke.toml");
    let trial = Trial::load(&path).unwrap();
    let ids = trial.row_ids();
    assert_eq!(ids.len(), 36);
    assert_eq!(
        ids[..3],
        [
            "c0000-r0/fixed_stroke",
            "c0000-r0/planned",
            "c0000-r0/planned_supervised"
        ]
    );
    // Every case's scenes read with its draws (the runs themselves take minutes).
    for case in trial.design.cases() {
        let p = vesalius_trials::perturbation::Perturbation::of(&case);
        trial.scenes(&case, &p).unwrap();
    }
}

/// The shipped venipuncture trial reads: 200 forearms, three behaviours, every case's scenes.
#[test]
fn the_shipped_venipuncture_trial_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("venipuncture.toml");
    let trial = Trial::load(&path).unwrap();
    assert_eq!(trial.row_ids().len(), 600);
    let mut moving = 0;
    for case in trial.design.cases() {
        let p = vesalius_trials::perturbation::Perturbation::of(&case);
        moving += usize::from(p.motion.expect("a motion perturbation").is_some());
        trial.scenes(&case, &p).unwrap();
    }
    assert_eq!(moving, 40, "a fifth of 200");
}

#[test]
fn the_plots_show_the_pass_rate_falling_with_stiffness() {
    use vesalius_trials::plots::pass_rate_bins;
    let dir = scratch("trial_plots");
    let path = write_trial(&dir, 12, |t| t);
    let trial = Trial::load(&path).unwrap();
    let out = run(&trial, &dir.join("out"), None, &Local, |_, _, _| {}).unwrap();
    let rows: Vec<&Row> = out.rows.iter().collect();
    let bins = pass_rate_bins(&rows, "materials.default.youngs_modulus", 4);
    assert_eq!(bins.len(), 4);
    assert_eq!(bins.iter().map(|b| b.rows).sum::<usize>(), 12);
    let passed = rows.iter().filter(|r| r.passed).count();
    let counted: f64 = bins.iter().map(|b| b.rate * b.rows as f64).sum();
    assert!((counted - passed as f64).abs() < 1e-9, "{bins:?}");
    // Bins in order of the input; soft blocks pass, the stiffest quarter all exceed the
    // force limit.
    assert!(bins.windows(2).all(|w| w[0].x < w[1].x), "{bins:?}");
    assert!(bins[0].rate > 0.0 && bins[3].rate == 0.0, "{bins:?}");
    for b in &bins {
        assert!(b.wilson_95[0] <= b.rate && b.rate <= b.wilson_95[1]);
    }
    // One plot per varying numeric input (not the fixed height), and the forces.
    let plots = dir.join("out/plots");
    let svg = std::fs::read_to_string(plots.join("pass_rate_materials_default_youngs_modulus.svg"))
        .unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("\nfixed\n"),
        "{}",
        &svg[..200]
    );
    assert!(!plots.join("pass_rate_cohort_size_2.svg").exists());
    let force = std::fs::read_to_string(plots.join("peak_force.svg")).unwrap();
    // Each row with a force is in one bar of the histogram (the errors have none).
    assert!(force.matches("<rect").count() >= 2, "{force}");
}
