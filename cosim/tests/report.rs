//! The report as a script sees it: every check carries a signed margin that agrees with its
//! verdict and with the per-frame records, an observer stops a run early and the report says
//! so, and `forces.csv` quotes names that need it.

use std::ops::ControlFlow;
use vesalius_cosim::{
    predict, predict_observed, CoSimScene, Criterion, MarginUnit, Measured, PredictOptions, Report,
};
use vesalius_engine::sim::BackendKind;

mod common;

/// The indenter's probe (1 mm above the block) driven 8 mm into it over 0.5 s, with a
/// target whose name holds a comma and criteria with a force and a damage limit.
fn scene(max_force: f64) -> CoSimScene {
    let extra = format!(
        r#"
[[trajectory]]
t = 0.0
joints = {{ plunge = 0.0 }}
[[trajectory]]
t = 0.5
joints = {{ plunge = 0.009 }}
[[target]]
name = "under the probe, centre"
points = [[0.0, 0.0, 0.04]]
[criteria]
max_tool_force = {max_force}
max_damaged_fraction = 0.5
"#
    );
    common::indenter_scene("report.toml", [8, 8, 4], 0.6, &extra)
}

fn cpu() -> PredictOptions {
    PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    }
}

fn peak_force(r: &Report) -> (f64, f64) {
    r.records
        .iter()
        .map(|f| {
            let v = f.forces[0];
            ((v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt(), f.time)
        })
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

#[test]
fn margins_agree_with_the_records_and_the_verdict() {
    // A generous limit passes with limit - peak; a limit under the peak fails by as much.
    let pass = predict(&scene(100.0), None, &cpu()).unwrap();
    let (peak, when) = peak_force(&pass);
    eprintln!("peak force {peak:.4} N at {when:.3} s");
    assert!(peak > 0.05, "the probe pressed: {peak}");
    let force = |r: &Report| {
        r.verdict
            .checks
            .iter()
            .find(|c| matches!(c.criterion, Criterion::MaxToolForce { .. }))
            .cloned()
            .unwrap()
    };
    let c = force(&pass);
    assert!(c.passed && pass.verdict.passed);
    assert_eq!(c.unit, MarginUnit::Newton);
    assert_eq!(c.margin, 100.0 - peak);
    assert_eq!(
        c.measured,
        Measured::Peak {
            value: peak,
            time: when,
            at: "probe".into()
        }
    );
    let damage = pass
        .verdict
        .checks
        .iter()
        .find(|c| c.unit == MarginUnit::Fraction)
        .unwrap();
    let worst = pass
        .peak_damaged_fraction
        .iter()
        .copied()
        .fold(0.0, f64::max);
    assert_eq!(damage.margin, 0.5 - worst);
    // Without a needle there are no tip margins.
    assert_eq!(pass.margins.final_region_distance, None);
    assert_eq!(pass.margins.targets[0].final_distance, None);

    let limit = 0.5 * peak;
    let fail = predict(&scene(limit), None, &cpu()).unwrap();
    let c = force(&fail);
    assert!(!c.passed && !fail.verdict.passed);
    assert_eq!(c.margin, limit - peak, "same run, same bits");
    assert_eq!(fail.verdict.failed().count(), 1);
    assert_eq!(
        fail.verdict.worst_margin(MarginUnit::Newton),
        Some(limit - peak)
    );
    // The structured check is in summary.json as data.
    let json = serde_json::to_value(&fail.verdict).unwrap();
    assert_eq!(json["checks"][0]["criterion"]["kind"], "max_tool_force");
    assert_eq!(json["checks"][0]["criterion"]["limit"], limit);
    assert_eq!(json["checks"][0]["unit"], "newton");
}

#[test]
fn an_observer_stops_a_failed_candidate() {
    let sc = scene(100.0);
    let full = predict(&sc, None, &cpu()).unwrap();
    let threshold = 0.5 * peak_force(&full).0;
    let mut seen = 0;
    let stopped = predict_observed(&sc, None, &cpu(), |f| {
        seen += 1;
        let v = f.forces[0];
        if (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt() > threshold {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(stopped.records.len(), seen);
    assert!(
        seen < full.records.len(),
        "{seen} of {}",
        full.records.len()
    );
    let last = stopped.records.last().unwrap();
    assert_eq!(stopped.stopped_early, Some(last.time));
    assert_eq!(full.stopped_early, None);
    // The frames it ran are the full run's, bit for bit.
    for (a, b) in stopped.records.iter().zip(&full.records) {
        assert_eq!(a.forces, b.forces);
    }
}

#[test]
fn forces_csv_quotes_names_and_has_one_column_per_header() {
    let r = predict(&scene(100.0), None, &cpu()).unwrap();
    let dir = std::env::temp_dir().join(format!("vesalius-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("forces.csv");
    r.write_forces_csv(&path).unwrap();
    let mut rd = csv::Reader::from_path(&path).unwrap();
    let head = rd.headers().unwrap().clone();
    assert!(
        head.iter().any(|h| h == "tip_to_under the probe, centre_m"),
        "{head:?}"
    );
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), r.records.len());
    assert!(rows.iter().all(|row| row.len() == head.len()));
    std::fs::remove_dir_all(&dir).ok();
}

/// A physically broken co-simulation is never a pass: the run stops at the frame a guard
/// breaks, the verdict fails on "physically sane" with the guard's message, and the report
/// keeps the frames up to it.
#[test]
fn a_broken_run_stops_at_the_guard_and_fails() {
    let mut sc = scene(10.0);
    // One substep per 1/30 s frame: refused unless allowed, and then the block goes bad
    // when the probe presses it.
    sc.file.simulation.frame_dt = 1.0 / 30.0;
    sc.file.simulation.substeps = vesalius_engine::scene::SubstepsSpec::Count(1);
    sc.file.simulation.allow_unstable = true;
    let r = predict(&sc, None, &cpu()).unwrap();
    let breach = r.guard_breach.clone().expect("a guard breaks");
    eprintln!("{breach}");
    assert!(!r.verdict.passed);
    let c = r
        .verdict
        .checks
        .iter()
        .find(|c| c.criterion == Criterion::PhysicalSanity)
        .unwrap();
    assert!(!c.passed && c.margin == -1.0 && c.detail.contains("likely cause: substeps 1"));
    // It stopped there: the last record is the broken frame.
    let last = r.records.last().unwrap();
    assert_eq!(last.guard.as_ref(), Some(&breach));
    assert_eq!(r.stopped_early, Some(last.time));
    assert!(r.records.len() < 18, "{}", r.records.len());

    // The same scene at automatic substeps is sane to the end.
    let ok = predict(&scene(10.0), None, &cpu()).unwrap();
    assert!(ok.guard_breach.is_none() && ok.stopped_early.is_none());
    assert!(ok
        .verdict
        .checks
        .iter()
        .any(|c| c.criterion == Criterion::PhysicalSanity && c.passed));
}
