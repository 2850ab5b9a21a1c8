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
