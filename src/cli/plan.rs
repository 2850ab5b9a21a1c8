//! `vesalius plan`: optimize a scene's needle insertion within a latency budget on the
//! planning model, validate the best plans on the full model, and write the plan as a
//! runnable scene.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vesalius::plot::{write_time_series_png, Series};
use vesalius_cosim::plan::{
    fidelity, plan, scene_with_trajectory, spec::parse_budget, Candidate, PlanOptions,
    PlanningModel, Variable,
};
use vesalius_cosim::{BackendKind, CoSimScene, PredictOptions};
use vesalius_engine::solver::Threads;

/// Arguments of `vesalius plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Scene file with a [plan] table (TOML).
    pub scene: PathBuf,
    /// Output directory: plan.toml, candidates.csv, convergence.png, summary.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Wall-clock budget of the plan, e.g. 200ms or 2s. Overrides the scene.
    #[arg(long, value_parser = parse_budget)]
    pub budget: Option<Duration>,
    /// Seed of the candidates. Overrides the scene.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many iterations (deterministic for a seed, whatever the machine).
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Best distinct plans to check on the full model until one passes. Overrides the scene.
    #[arg(long)]
    pub validate: Option<usize>,
    /// Also measure the planning model's fidelity on this many random candidates (each one
    /// a full-model run).
    #[arg(long)]
    pub fidelity: Option<usize>,
    /// Backend of the full-model runs: auto, cpu or gpu. Overrides the scene.
    #[arg(long)]
    pub backend: Option<BackendKind>,
    /// CPU backend threads of the full-model runs. Overrides the scene.
    #[arg(long)]
    pub threads: Option<Threads>,
    /// Overwrite results already in the output directory.
    #[arg(long)]
    pub force: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

const OUTPUTS: [&str; 5] = [
    "plan.toml",
    "candidates.csv",
    "convergence.png",
    "summary.json",
    "fidelity.csv",
];

fn spinner(quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise}  {msg}").expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Runs `vesalius plan`.
pub fn run(args: PlanArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.scene)
        .with_context(|| format!("{}: cannot read the scene", args.scene.display()))?;
    let scene = CoSimScene::parse(&text, &args.scene)?;
    if scene.file.plan.is_none() {
        bail!("{}: no [plan] table: nothing to plan", args.scene.display());
    }
    // Nothing already there is overwritten without --force (checked before any work).
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output directory", args.out.display()))?;
    if !args.force {
        let present: Vec<&str> = OUTPUTS
            .iter()
            .copied()
            .filter(|f| args.out.join(f).exists())
            .collect();
        if !present.is_empty() {
            bail!(
                "{}: already holds {}; pass --force to overwrite",
                args.out.display(),
                present.join(", ")
            );
        }
    }
    let options = PlanOptions {
        budget: args.budget,
        seed: args.seed,
        iterations: args.iterations,
        predict: PredictOptions {
            backend: args.backend,
            threads: args.threads,
            ..Default::default()
        },
        validate: args.validate,
        registration: None,
    };
    let bar = spinner(args.quiet);
    bar.set_message(
        "planning on the planning model, then checking the best plans on the full model",
    );
    let result = plan(&scene, &options)?;
    bar.finish_and_clear();
    write_candidates(&args.out.join("candidates.csv"), &result.candidates)?;
    let planning_model = scene
        .file
        .plan
        .as_ref()
        .map(|p| p.model)
        .unwrap_or_default();
    write_convergence(
        &args.out.join("convergence.png"),
        &result.candidates,
        planning_model,
    )?;
    let duration = result.insertion.duration;
    let plan_text = scene_with_trajectory(&scene, &text, &result.trajectory, duration)
        .map_err(|e| anyhow::anyhow!("writing plan.toml: {e}"))?;
    std::fs::write(args.out.join("plan.toml"), plan_text)?;
    let fid = match args.fidelity {
        Some(n) => {
            let bar = spinner(args.quiet);
            let mut k = 0;
            let f = fidelity(&scene, n, options.seed.unwrap_or(0), &options, |p| {
                k += 1;
                bar.set_message(format!(
                    "fidelity: {k}/{n}  planning {:.3} ({}), full {:.3} ({})",
                    p.planning.0,
                    if p.planning.1 { "pass" } else { "fail" },
                    p.full.0,
                    if p.full.1 { "pass" } else { "fail" }
                ));
            })?;
            bar.finish_and_clear();
            let mut w = csv::Writer::from_path(args.out.join("fidelity.csv"))?;
            let mut header: Vec<String> =
                Variable::ALL.iter().map(|v| v.key().to_string()).collect();
            header.extend(
                [
                    "planning_cost",
                    "planning_passed",
                    "full_cost",
                    "full_passed",
                ]
                .map(String::from),
            );
            w.write_record(&header)?;
            for p in &f.pairs {
                let mut row: Vec<String> = p.variables.iter().map(|v| v.to_string()).collect();
                row.extend([
                    p.planning.0.to_string(),
                    p.planning.1.to_string(),
                    p.full.0.to_string(),
                    p.full.1.to_string(),
                ]);
                w.write_record(&row)?;
            }
            w.flush()?;
            Some(f)
        }
        None => None,
    };
    let named = |x: &[f64]| -> serde_json::Map<String, serde_json::Value> {
        Variable::ALL
            .iter()
            .zip(x)
            .map(|(v, x)| (v.key().to_string(), json!(x)))
            .collect()
    };
    let chosen = result.chosen.as_ref().unwrap_or(&result.best);
    let planning: Vec<&Candidate> = result
        .candidates
        .iter()
        .filter(|c| {
            c.model
                == scene
                    .file
                    .plan
                    .as_ref()
                    .map(|p| p.model)
                    .unwrap_or_default()
        })
        .collect();
    let verdict_passed = result.passed();
    let summary = json!({
        "scene": args.scene.display().to_string(),
        "plan": chosen_json(chosen, named(&chosen.variables)),
        "best_on_planning_model": chosen_json(&result.best, named(&result.best.variables)),
        "insertion": {
            "aim": result.insertion.aim.to_array(),
            "entry": result.insertion.entry.to_array(),
            "direction": result.insertion.direction.to_array(),
            "stroke_m": result.insertion.stroke,
            "duration_s": duration,
        },
        "passed_on_full_model": verdict_passed,
        "full_model_report": result.full_report,
        "latency_s": result.latency.as_secs_f64(),
        "axial_lag_m": result.axial_lag,
        "iterations": result.iterations,
        "planning_candidates": planning.len(),
        "full_model_runs": result.candidates.len() - planning.len(),
        "fidelity": fid.as_ref().map(|f| json!({
            "candidates": f.candidates,
            "rejected": f.rejected,
            "verdict_agreement": f.verdict_agreement,
            "spearman": f.spearman,
            "planning_rollout_s": f.planning_rollout_s,
            "full_rollout_s": f.full_rollout_s,
            "cost_ratio": f.full_rollout_s / f.planning_rollout_s.max(1e-12),
        })),
    });
    std::fs::write(
        args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    let v = named(&chosen.variables);
    eprintln!(
        "{} candidates in {:.0} ms ({} iterations); plan: {}",
        planning.len(),
        result.latency.as_secs_f64() * 1e3,
        result.iterations,
        v.iter()
            .map(|(k, x)| format!("{k} = {:.4}", x.as_f64().unwrap_or(f64::NAN)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(f) = &fid {
        eprintln!(
            "fidelity on {} candidates: verdicts agree {:.0} %, Spearman {:.2}; a planning rollout costs {:.2e} s, a full one {:.1} s",
            f.candidates,
            100.0 * f.verdict_agreement,
            f.spearman,
            f.planning_rollout_s,
            f.full_rollout_s
        );
    }
    match (&result.full_report, verdict_passed) {
        (Some(r), Some(true)) => {
            eprintln!("verdict on the full model: success");
            for c in &r.verdict.checks {
                eprintln!("[ok] {} ({})", c.name, c.detail);
            }
        }
        (Some(r), _) => {
            eprintln!("verdict on the full model: FAILURE: no validated plan passed; plan.toml holds the best found");
            for c in r.verdict.failed() {
                eprintln!("[FAIL] {} ({})", c.name, c.detail);
            }
        }
        (None, _) => eprintln!("not validated on the full model (--validate 0)"),
    }
    eprintln!("results in {}", args.out.display());
    if verdict_passed == Some(false) {
        bail!("the plan does not pass the scene's criteria on the full model");
    }
    Ok(())
}

fn chosen_json(
    c: &Candidate,
    variables: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    json!({
        "variables": variables,
        "cost": c.cost,
        "passed": c.passed,
        "model": c.model,
        "iteration": c.iteration,
    })
}

fn write_candidates(path: &Path, candidates: &[Candidate]) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    let mut header: Vec<String> = ["iteration", "wall_s", "model"].map(String::from).to_vec();
    header.extend(Variable::ALL.iter().map(|v| v.key().to_string()));
    header.extend(
        [
            "cost",
            "failed_checks",
            "target_distance",
            "depth_tolerance",
            "peak_force",
            "damaged_fraction",
            "duration",
            "passed",
            "rejected",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    for c in candidates {
        let mut row = vec![
            c.iteration.to_string(),
            format!("{:.6}", c.wall_s),
            serde_json::to_value(c.model)?
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ];
        row.extend(c.variables.iter().map(|v| v.to_string()));
        let k = &c.cost;
        row.extend([
            k.total.to_string(),
            k.failed_checks.to_string(),
            k.target_distance.to_string(),
            k.depth_tolerance.to_string(),
            k.peak_force.to_string(),
            k.damaged_fraction.to_string(),
            k.duration.to_string(),
            c.passed.to_string(),
            c.rejected.clone().unwrap_or_default(),
        ]);
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

/// Best cost so far against wall time, over the candidates of the planning model (not the
/// calibration and validation runs on the full model).
fn write_convergence(path: &Path, candidates: &[Candidate], model: PlanningModel) -> Result<()> {
    let mut times = Vec::new();
    let mut best = Vec::new();
    let mut b = f64::INFINITY;
    for c in candidates.iter().filter(|c| c.model == model) {
        b = b.min(c.cost.total);
        times.push(c.wall_s);
        best.push(if b.is_finite() { b } else { f64::NAN });
    }
    if times.is_empty() {
        return Ok(());
    }
    write_time_series_png(
        path,
        "vesalius plan: best cost against wall time",
        &times,
        &[Series {
            label: "best cost",
            unit: "",
            values: &best,
        }],
        &[],
        (900, 400),
    )?;
    Ok(())
}
