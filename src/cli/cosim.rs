//! `vesalius run` for a scene with a robot: the coupled run, its tissue frames, robot link
//! poses, forces, events, the report in `summary.json` and a PNG plot.

use super::run::RunArgs;
use anyhow::{Context, Result};
use serde_json::json;
use std::time::Instant;
use vesalius::plot::{write_time_series_png, Marker, Series};
use vesalius_cosim::plan::{PlanMode, Replan, Supervisor};
use vesalius_cosim::{CoSim, CoSimScene, MarginUnit, PredictOptions, Report};
use vesalius_engine::output::{FrameWriter, PVD_NAME};

/// Runs a co-simulation scene whose text is `text`.
pub fn run(args: &RunArgs, text: &str) -> Result<()> {
    let scene = CoSimScene::parse_with(text, &args.scene, &args.set)?;
    let options = PredictOptions {
        duration: args.duration,
        ..args.backend.predict_options()
    };
    // Check the output directory before spending time simulating.
    let mut writer = FrameWriter::create(&args.out, args.force)?;
    let mut sim = CoSim::new(&scene, &options)?;
    if let Some(n) = sim.notice() {
        eprintln!("{n}");
    }
    for w in sim.warnings() {
        eprintln!("warning: {w}");
    }
    let frames = sim.frames();
    let plan = sim.tissue().plan().clone();
    eprintln!(
        "{} tets on {}; {} substeps/frame, robot {} ({} joints)",
        sim.tissue().model().num_tets(),
        sim.backend_name(),
        plan.substeps,
        sim.robot_model().name,
        sim.robot_model().ndof(),
    );
    if let Some(c) = sim.tissue().contacts() {
        writer.set_attached(c.attached_vertices());
    }
    let tool_contact = sim.tissue().contacts().map(|c| c.surface_contact().clone());
    if let Some(c) = &tool_contact {
        eprintln!("{c}");
    }
    // `[plan] mode = "online"`: the supervisor re-plans the rest during the run.
    let mut supervisor = match &scene.file.plan {
        Some(p) if p.mode == PlanMode::Online && !args.no_supervisor => {
            Some(Supervisor::new(&scene, sim.end_time())?)
        }
        _ => None,
    };
    let every = scene.file.output.every.max(1) as u64;
    let bar = super::run::progress_bar(frames, args.quiet);
    let started = Instant::now();
    {
        let (m, s) = sim.tissue().sync_model_and_state()?;
        super::limits::before_first_frame(&mut writer, m, s, frames / every + 2, args.force)?;
        writer.write_frame(m, s)?;
    }
    // Whatever stops the run early (the solver, reading the state back, writing a frame)
    // still leaves a summary.json that says so.
    let mut failure: Option<anyhow::Error> = None;
    for f in 1..=frames {
        if let Some(e) = super::limits::interruption(sim.time()) {
            failure = Some(e);
            break;
        }
        match sim.step_frame().cloned() {
            Ok(rec) => {
                if let Some(sup) = &mut supervisor {
                    match sup.after_frame(&mut sim, &rec) {
                        // suspend, not println: a hidden bar (--quiet) prints nothing.
                        Ok(Some(r)) => bar.suspend(|| eprintln!(
                            "{:8.4} s  re-plan ({}: {}): {:?} in {:.1} ms, {} candidates; advance {:.2} mm at {:.1} mm/s",
                            r.time,
                            r.trigger.name(),
                            r.detail,
                            r.decision,
                            r.latency_ms,
                            r.candidates,
                            r.advance * 1e3,
                            r.speed * 1e3
                        )),
                        Ok(None) => {}
                        Err(e) => {
                            failure = Some(e.into());
                            break;
                        }
                    }
                }
                let msg = match &rec.needle {
                    Some(n) => format!(
                        "t = {:.3} s  needle {:.3} N  tip {}",
                        rec.time,
                        n.axial_force,
                        n.tip_region.as_deref().unwrap_or("outside")
                    ),
                    None => format!("t = {:.3} s", rec.time),
                };
                bar.set_message(msg);
            }
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        }
        if f % every == 0 || f == frames {
            let written = sim
                .tissue()
                .sync_model_and_state()
                .map_err(anyhow::Error::from)
                .and_then(|(m, s)| Ok(writer.write_frame(m, s)?));
            if let Err(e) = written {
                failure = Some(e);
                break;
            }
        }
        bar.set_position(f);
    }
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    let link_names: Vec<String> = sim
        .robot_model()
        .links()
        .iter()
        .map(|l| l.name.clone())
        .collect();
    let warnings = sim.warnings().to_vec();
    let report = sim.finish();
    let out = &args.out;
    // A file that cannot be written stops the run, after summary.json says so.
    let files = report
        .write_forces_csv(&out.join("forces.csv"))
        .context("writing forces.csv")
        .and_then(|()| {
            report
                .write_link_poses_csv(&out.join("link_poses.csv"), &link_names)
                .context("writing link_poses.csv")
        })
        .and_then(|()| {
            write_events(
                &out.join("events.json"),
                &report,
                supervisor.as_ref().map_or(&[], |s| s.log()),
            )
            .context("writing events.json")
        });
    if let Err(e) = files {
        failure = failure.or(Some(e));
    }
    // Plot: tool force magnitude per body, needle axial force and tip depth.
    let times: Vec<f64> = report.records.iter().map(|r| r.time).collect();
    let mut columns: Vec<(String, &str, Vec<f64>)> = Vec::new();
    for (b, name) in report.bodies.iter().enumerate() {
        columns.push((
            format!("|F| on {name}"),
            "N",
            report
                .records
                .iter()
                .map(|r| {
                    r.forces.get(b).map_or(f64::NAN, |f| {
                        (f[0] * f[0] + f[1] * f[1] + f[2] * f[2]).sqrt()
                    })
                })
                .collect(),
        ));
    }
    if report.records.iter().any(|r| r.needle.is_some()) {
        columns.push((
            "needle axial force".into(),
            "N",
            report
                .records
                .iter()
                .map(|r| r.needle.as_ref().map_or(f64::NAN, |n| n.axial_force))
                .collect(),
        ));
        columns.push((
            "tip depth".into(),
            "mm",
            report
                .records
                .iter()
                .map(|r| r.needle.as_ref().map_or(f64::NAN, |n| n.depth * 1e3))
                .collect(),
        ));
    }
    let series: Vec<Series> = columns
        .iter()
        .map(|(l, u, v)| Series {
            label: l,
            unit: u,
            values: v,
        })
        .collect();
    let markers: Vec<Marker> = report
        .events
        .iter()
        // Touches and leaves sit next to the punctures and entries that follow them.
        .filter(|e| {
            use vesalius_engine::contact::NeedleEventKind as K;
            !matches!(e.kind, K::Contact | K::Leave)
        })
        .map(|e| Marker {
            time: e.time,
            label: &e.description,
        })
        .collect();
    let png = out.join("forces.png");
    if failure.is_none() && !times.is_empty() && !series.is_empty() {
        let height = 220 * series.len() as u32 + 120;
        if let Err(e) = write_time_series_png(
            &png,
            &format!("{}: tool forces", args.scene.display()),
            &times,
            &series,
            &markers,
            (1100, height),
        ) {
            failure = Some(e.into());
        }
    }
    let summary = json!({
        "vesalius_version": env!("CARGO_PKG_VERSION"),
        "scene": args.scene.display().to_string(),
        "overrides": args.set.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "status": match &failure { None => "ok".to_string(), Some(e) => format!("failed: {e:#}") },
        "warnings": warnings,
        "wall_time_s": wall,
        "substeps_per_frame": plan.substeps,
        "tool_contact": tool_contact.as_ref().map(|c| json!({
            "faces": c.faces,
            "requested": c.requested,
            "surface_triangles": c.triangles,
            "mean_surface_edge_m": c.mean_edge,
            "thinnest_tool_radius_m": c.smallest_radius.is_finite().then_some(c.smallest_radius),
        })),
        "frames_written": writer.frames_written(),
        "pvd": PVD_NAME,
        "files": ["forces.csv", "link_poses.csv", "events.json", "forces.png"],
        "supervisor": supervisor.as_ref().map(|s| s.summary()),
        "report": report,
    });
    let path = out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    for e in &report.events {
        eprintln!(
            "{:8.4} s  {:<32} force {:.3} N",
            e.time, e.description, e.force
        );
    }
    for c in &report.verdict.checks {
        let margin = match c.unit {
            MarginUnit::Newton => format!("{:+.3} N", c.margin),
            MarginUnit::Metre => format!("{:+.2} mm", c.margin * 1e3),
            MarginUnit::Fraction => format!("{:+.4}", c.margin),
            MarginUnit::Events => format!("{:+} events", c.margin),
        };
        eprintln!(
            "[{}] {} ({}; margin {margin})",
            if c.passed { "pass" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    let m = &report.margins;
    if let (Some(region), Some(d)) = (&m.region, m.final_region_distance) {
        let mm = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2} mm", v * 1e3));
        eprintln!(
            "tip: {} from the boundary of {region} ({}), back wall {}, chord {}",
            mm(Some(d.abs())),
            if d >= 0.0 { "inside" } else { "outside" },
            mm(m.final_back_wall),
            mm(m.final_chord)
        );
    }
    eprintln!(
        "verdict: {}; simulated {:.3} s in {:.1} s ({:.1} s per simulated s: rigid {:.2}, tissue {:.2}, recording {:.2}); results in {}",
        if report.verdict.passed { "success" } else { "failure" },
        report.simulated_time,
        wall,
        report.wall_per_simulated_second,
        report.wall_time[0],
        report.wall_time[1],
        report.wall_time[2],
        out.display()
    );
    if let Some(e) = failure {
        return Err(e.context(format!(
            "frames up to the failure and summary.json are in {}",
            out.display()
        )));
    }
    Ok(())
}

/// `events.json`: the needle's events and the supervisor's re-plans, in time order.
fn write_events(path: &std::path::Path, report: &Report, replans: &[Replan]) -> Result<()> {
    let mut all: Vec<(f64, serde_json::Value)> = Vec::new();
    for e in &report.events {
        all.push((e.time, serde_json::to_value(e)?));
    }
    for r in replans {
        all.push((r.time, serde_json::to_value(r)?));
    }
    // Stable: at one time a re-plan follows the events that set it off.
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let values: Vec<serde_json::Value> = all.into_iter().map(|(_, v)| v).collect();
    std::fs::write(path, serde_json::to_string_pretty(&values)? + "\n")?;
    Ok(())
}
