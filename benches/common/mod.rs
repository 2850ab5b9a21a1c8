//! Helpers shared by the benches.
#![allow(dead_code)]

use vesalius::engine::sim::BackendKind;

/// A comma-separated list from environment variable `var`, or `default`.
pub fn list(var: &str, default: &[&str]) -> Vec<String> {
    std::env::var(var)
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
        .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect())
}

/// The backends `VESALIUS_BENCH_BACKENDS` names (default both): "gpu" is the GPU, anything
/// else the CPU.
pub fn backends() -> Vec<BackendKind> {
    list("VESALIUS_BENCH_BACKENDS", &["cpu", "gpu"])
        .iter()
        .map(|b| {
            if b == "gpu" {
                BackendKind::Gpu
            } else {
                BackendKind::Cpu
            }
        })
        .collect()
}

/// The scene `name` of `scenes/` at a planning resolution (1.25 mm cells at the vein, 11k
/// tets, so that a bench's setup takes seconds), or as shipped with
/// `VESALIUS_BENCH_RESOLUTION=shipped`.
pub fn vein_scene(name: &str) -> vesalius::cosim::CoSimScene {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenes")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("scene");
    let text = match std::env::var("VESALIUS_BENCH_RESOLUTION").as_deref() {
        Ok("shipped") => text,
        _ => text.replace(
            "fine_size = 0.001, path_size = 0.0015, max_cell = 0.004",
            "fine_size = 0.00125, path_size = 0.002, max_cell = 0.008",
        ),
    };
    vesalius::cosim::CoSimScene::parse(&text, &path).expect("scene parses")
}

/// The `q` quantile of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Prints the p50 / p99 / max of `latencies_ms` over `runs` runs and the p50 / min of
/// `candidates` (sorting both), as `label: ...`.
pub fn print_latency(label: &str, latencies_ms: &mut [f64], candidates: &mut [f64], runs: &str) {
    latencies_ms.sort_by(f64::total_cmp);
    candidates.sort_by(f64::total_cmp);
    println!(
        "{label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} {runs}; candidates p50 {:.0}, min {:.0}",
        percentile(latencies_ms, 0.5),
        percentile(latencies_ms, 0.99),
        latencies_ms[latencies_ms.len() - 1],
        latencies_ms.len(),
        percentile(candidates, 0.5),
        candidates[0],
    );
}
