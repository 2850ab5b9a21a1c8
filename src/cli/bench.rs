//! `vesalius bench`: throughput of a full frame on the accuracy reference block
//! (the same scenes as the criterion benches and the accuracy tests).

use anyhow::Result;
use clap::Args;
use std::time::Instant;
use vesalius_engine::scenes::{reference_block, reference_block_cells};
use vesalius_engine::sim::{Backend, BackendKind, Simulation};
use vesalius_engine::solver::SolverConfig;

/// Arguments of `vesalius bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Approximate tet counts of the reference blocks.
    #[arg(long, value_delimiter = ',', default_values_t = vec![5_000usize, 40_000, 160_000])]
    pub sizes: Vec<usize>,
    /// Backends to measure.
    #[arg(long, value_delimiter = ',', default_values_t = vec![BackendKind::Cpu, BackendKind::Gpu])]
    pub backends: Vec<BackendKind>,
    /// Frames timed per case (after 3 warm-up frames).
    #[arg(long, default_value_t = 30)]
    pub frames: u32,
    /// GPU adapter filter.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the benchmark table.
pub fn run(args: BenchArgs) -> Result<()> {
    if !args.json {
        println!(
            "{:<44} {:>8} {:>9} {:>16} {:>12} {:>10}",
            "device", "tets", "substeps", "tet-substeps/s", "wall s/sim s", "ms/frame"
        );
    }
    for &size in &args.sizes {
        let model = reference_block(reference_block_cells(size), 0.0);
        for &backend in &args.backends {
            let config = SolverConfig::default();
            let on = Backend::new(backend, args.adapter.clone());
            let mut sim = match Simulation::new(model.clone(), &config, on) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{backend:?} backend unavailable: {e}");
                    continue;
                }
            };
            sim.step(3)?;
            let t = Instant::now();
            sim.step(args.frames)?;
            let wall = t.elapsed().as_secs_f64();
            let plan = sim.plan();
            let per_frame = wall / args.frames as f64;
            let throughput =
                model.num_tets() as f64 * plan.substeps as f64 * args.frames as f64 / wall;
            let wall_per_sim = per_frame / plan.frame_dt;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "device": sim.backend_name(), "tets": model.num_tets(), "substeps": plan.substeps,
                        "tet_substeps_per_s": throughput, "wall_s_per_sim_s": wall_per_sim, "ms_per_frame": per_frame * 1e3,
                    })
                );
            } else {
                println!(
                    "{:<44} {:>8} {:>9} {:>16.3e} {:>12.3} {:>10.2}",
                    sim.backend_name(),
                    model.num_tets(),
                    plan.substeps,
                    throughput,
                    wall_per_sim,
                    per_frame * 1e3
                );
            }
        }
    }
    Ok(())
}
