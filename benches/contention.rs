//! The CPU team beside a competing busy process: wall seconds per simulated second of the
//! 40k reference block on one thread, on two, and on `threads = "auto"` (which measures and
//! keeps the faster), each without and with one other process spinning on a core. Reports;
//! asserts nothing (the machine is shared and noisy).
//!
//! `cargo bench --bench contention` (`VESALIUS_CONTENTION_FRAMES`, default 60 frames per
//! case; `VESALIUS_BENCH_SIZES` as in `tissue_step`, default 40000).

use std::process::{Child, Command};
use std::time::Instant;
use vesalius::engine::scenes::{reference_block, reference_block_cells};
use vesalius::engine::sim::{BackendKind, Simulation};
use vesalius::engine::solver::{SolverConfig, Threads};

/// Set in the competing child process: it spins until killed.
const CHILD_ENV: &str = "VESALIUS_CONTENTION_CHILD";

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A busy process on one core, until the guard is dropped.
struct Load(Child);

impl Load {
    fn start() -> Self {
        let exe = std::env::current_exe().expect("the bench binary");
        Self(
            Command::new(exe)
                .env(CHILD_ENV, "1")
                .spawn()
                .expect("spawn the competing process"),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if std::env::var(CHILD_ENV).is_ok() {
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    let frames = env_usize("VESALIUS_CONTENTION_FRAMES", 60);
    let size = env_usize("VESALIUS_BENCH_SIZES", 40_000);
    let model = reference_block(reference_block_cells(size), 0.0);
    println!(
        "{} tets, {} frames per case; wall s per simulated s (team size at the end)",
        model.num_tets(),
        frames
    );
    println!("{:<10} {:>14} {:>14}", "threads", "alone", "beside 1 busy");
    for threads in [Threads::Fixed(1), Threads::Fixed(2), Threads::Auto] {
        let mut row = Vec::new();
        for loaded in [false, true] {
            let config = SolverConfig {
                threads,
                ..SolverConfig::default()
            };
            let mut sim = Simulation::new(model.clone(), &config, BackendKind::Cpu.into())
                .expect("the reference block");
            let _load = loaded.then(Load::start);
            sim.step(5).expect("warm-up");
            let t = Instant::now();
            sim.step(frames as u32).expect("stable");
            let wall = t.elapsed().as_secs_f64();
            let simulated = frames as f64 * sim.plan().frame_dt;
            row.push(format!(
                "{:.2} ({})",
                wall / simulated,
                sim.backend_name()
                    .trim_start_matches("cpu (")
                    .split(' ')
                    .next()
                    .unwrap_or("?")
            ));
        }
        println!("{:<10} {:>14} {:>14}", threads.to_string(), row[0], row[1]);
    }
}
