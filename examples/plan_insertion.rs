//! The planner from code: one plan of the venipuncture within its budget and validated on
//! the full model, then a `Planner` re-planning under a 50 ms budget as a device would
//! between control cycles.
//!
//! ```sh
//! cargo run --release --example plan_insertion            # plan + full-model check (~1 min)
//! cargo run --release --example plan_insertion -- quick   # re-plans on the planning model only
//! ```

use std::time::Duration;
use vesalius::cosim::plan::{plan, PlanOptions, Planner, Variable};
use vesalius::cosim::{BackendKind, CoSimScene, PredictOptions};

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().nth(1).as_deref() == Some("quick");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/phlebotomy_plan.toml");
    let mut scene = CoSimScene::load(&path)?;
    let options = PlanOptions {
        predict: PredictOptions {
            backend: Some(BackendKind::Cpu),
            ..Default::default()
        },
        ..Default::default()
    };
    let show = |x: &[f64]| {
        Variable::ALL
            .iter()
            .zip(x)
            .map(|(v, x)| format!("{} = {x:.4}", v.key()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !quick {
        let result = plan(&scene, &options)?;
        println!(
            "planned in {:.0} ms ({} iterations), axial lag {:.2} mm: {}",
            result.latency.as_secs_f64() * 1e3,
            result.iterations,
            result.axial_lag.unwrap_or(0.0) * 1e3,
            show(&result.trajectory_variables())
        );
        match result.passed() {
            Some(true) => println!("passes the scene's criteria on the full model"),
            Some(false) => println!("FAILS on the full model (the best found is returned)"),
            None => println!("not validated"),
        }
    }
    // Repeated re-plans: each returns within its budget, warm-started from the last.
    if let Some(p) = scene.file.plan.as_mut() {
        p.calibrate = false;
    }
    let mut planner = Planner::new(&scene, &options)?;
    for k in 0..5 {
        let step = planner.plan(Duration::from_millis(50), None)?;
        println!(
            "re-plan {k}: {} candidates in {:.1} ms, best cost {:.4}: {}",
            step.candidates.len(),
            step.latency.as_secs_f64() * 1e3,
            step.best.cost.total,
            show(&step.best.variables)
        );
    }
    Ok(())
}
