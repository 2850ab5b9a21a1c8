//! An optimization script's view of the engine: a grid search over the venipuncture's
//! insertion stroke and pitch, ranked by the report's numeric margins rather than pass/fail.
//!
//! ```sh
//! cargo run --release --example search_insertion                 # 5 strokes at 23 degrees
//! cargo run --release --example search_insertion -- 16,19.4,22 20,23,26
//! ```
//!
//! What it shows:
//! * a typed trajectory ([`SceneRobot`]): joints and links found by name once, waypoints
//!   checked (IK, joint and velocity limits) when the trajectory is built, not mid-run;
//! * an observer ([`predict_observed`]) that stops a candidate as soon as it has failed a
//!   criterion that cannot recover (a forbidden event, a force above the limit);
//! * the margins: how far inside the lumen the tip ends, how far short of the back wall,
//!   the force margin, the time of each required event.

use std::ops::ControlFlow;
use vesalius::cosim::{
    predict_observed, BackendKind, CoSimScene, Criterion, PredictOptions, SceneRobot,
};

fn parse_list(arg: Option<String>, default: &[f64]) -> anyhow::Result<Vec<f64>> {
    match arg {
        None => Ok(default.to_vec()),
        Some(s) => s
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|e| anyhow::anyhow!("{v:?}: {e}"))
            })
            .collect(),
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let strokes_mm = parse_list(args.next(), &[16.0, 17.5, 19.4, 20.5, 22.0])?;
    let pitches_deg = parse_list(args.next(), &[23.0])?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/phlebotomy.toml");
    let scene = CoSimScene::load(&path)?;
    let robot = SceneRobot::load(&scene)?;
    let tip = robot.link("needle_tip")?;
    let insertion = robot.joint("insertion")?;
    let approach = [0.01016, 0.0, 0.00078];
    let options = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    let limit = scene.file.criteria.max_tool_force.unwrap_or(f64::INFINITY);
    let forbidden = scene.file.criteria.forbidden_events.clone();
    println!(
        "{:>9} {:>7} {:>7} {:>11} {:>11} {:>10} {:>10} {:>8}",
        "stroke mm", "pitch", "verdict", "tip region", "inside mm", "back mm", "force N", "stopped"
    );
    let mut ranked = Vec::new();
    for &pitch in &pitches_deg {
        for &stroke in &strokes_mm {
            let rpy = Some([0.0, pitch.to_radians(), 0.0]);
            let trajectory = robot
                .trajectory()
                .pose(0.0, tip, approach, rpy)
                .hold(0.3)
                .move_by(2.9, &[(insertion, stroke * 1e-3)])
                .build();
            let trajectory = match trajectory {
                Ok(t) => t,
                Err(e) => {
                    println!("{stroke:>9.1} {pitch:>7.1} rejected: {e}");
                    continue;
                }
            };
            // Stop a candidate once it can no longer pass.
            let report = predict_observed(&scene, Some(&trajectory), &options, |frame| {
                let too_hard = frame
                    .forces
                    .iter()
                    .any(|f| (f[0] * f[0] + f[1] * f[1] + f[2] * f[2]).sqrt() > limit);
                let forbidden_event = frame
                    .needle
                    .as_ref()
                    .is_some_and(|n| n.events.iter().any(|e| forbidden.contains(&e.description)));
                if too_hard || forbidden_event {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            let m = &report.margins;
            let mm = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}", v * 1e3));
            let force = report
                .verdict
                .checks
                .iter()
                .find(|c| matches!(c.criterion, Criterion::MaxToolForce { .. }))
                .map_or(f64::NAN, |c| c.margin);
            println!(
                "{stroke:>9.1} {pitch:>7.1} {:>7} {:>11} {:>11} {:>10} {:>10.3} {:>8}",
                if report.verdict.passed {
                    "pass"
                } else {
                    "fail"
                },
                report.final_tip_region.as_deref().unwrap_or("outside"),
                mm(m.final_region_distance),
                mm(m.final_back_wall),
                force,
                report
                    .stopped_early
                    .map_or("-".to_string(), |t| format!("{t:.2} s")),
            );
            // Rank: passing first, then by the tip's depth inside the lumen.
            ranked.push((
                report.verdict.passed,
                m.final_region_distance.unwrap_or(f64::NEG_INFINITY),
                stroke,
                pitch,
            ));
        }
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
    if let Some((passed, inside, stroke, pitch)) = ranked.first() {
        println!(
            "best: stroke {stroke} mm at {pitch} degrees ({}, tip {:.2} mm inside the lumen boundary)",
            if *passed { "passes" } else { "fails" },
            inside * 1e3
        );
    }
    Ok(())
}
