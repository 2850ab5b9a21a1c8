//! Soak: the shipped venipuncture (`scenes/phlebotomy.toml`, full resolution, CPU backend)
//! looping its trajectory for `VESALIUS_SOAK_SECONDS` of wall time (default 1800): each
//! loop restores the world to its first frame's snapshot and runs the whole stroke again.
//! Every `VESALIUS_SOAK_WINDOW` seconds (default 60) it prints the resident memory (from
//! /proc/self/statm) and the wall time per frame over the window; at the end, the drift of
//! both from the first window to the last, and whether every loop ended with the same bits
//! (the same final tip position and events as the first loop).
//!
//! `cargo bench --bench soak` (or `VESALIUS_SOAK_SECONDS=120 cargo bench --bench soak`).

use std::time::Instant;
use vesalius::cosim::{CoSim, CoSimScene, PredictOptions};
use vesalius::engine::sim::BackendKind;

/// Resident set size (MB), where /proc is there.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |pages| pages * 4096.0 / 1e6)
}

fn env(var: &str, default: f64) -> f64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seconds = env("VESALIUS_SOAK_SECONDS", 1800.0);
    let window = env("VESALIUS_SOAK_WINDOW", 60.0);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/phlebotomy.toml");
    let scene = CoSimScene::load(&path).expect("scene");
    let opts = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    let mut sim = CoSim::new(&scene, &opts).expect("co-simulation");
    let start = sim.snapshot().expect("snapshot");
    let frames = sim.frames();
    println!(
        "soak: {} tets, {frames} frames per loop, {seconds} s in windows of {window} s",
        sim.tissue().model().num_tets()
    );
    println!(
        "{:>8} {:>6} {:>10} {:>12} {:>9}",
        "t_s", "loop", "frames", "ms_per_frame", "rss_mb"
    );
    let began = Instant::now();
    let (mut loops, mut total_frames) = (0u64, 0u64);
    let (mut win_start, mut win_frames) = (Instant::now(), 0u64);
    let mut windows: Vec<(f64, f64)> = Vec::new();
    let mut first_end: Option<String> = None;
    let mut same = true;
    'soak: loop {
        sim.restore(&start).expect("restore");
        for _ in 0..frames {
            sim.step_frame().expect("frame");
            total_frames += 1;
            win_frames += 1;
            let w = win_start.elapsed().as_secs_f64();
            if w >= window {
                let ms = 1e3 * w / win_frames as f64;
                let rss = rss_mb();
                println!(
                    "{:>8.0} {loops:>6} {total_frames:>10} {ms:>12.3} {rss:>9.1}",
                    began.elapsed().as_secs_f64()
                );
                windows.push((ms, rss));
                (win_start, win_frames) = (Instant::now(), 0);
            }
            if began.elapsed().as_secs_f64() >= seconds {
                break 'soak;
            }
        }
        loops += 1;
        let r = sim.report();
        let end = format!(
            "{:?} {:?}",
            sim.tip_in_rest_frame().expect("tip"),
            r.events
                .iter()
                .map(|e| (&e.description, e.time))
                .collect::<Vec<_>>()
        );
        match &first_end {
            None => first_end = Some(end),
            Some(f) => same &= *f == end,
        }
    }
    let (Some(first), Some(last)) = (windows.first(), windows.last()) else {
        println!("soak: shorter than one window");
        return;
    };
    let peak = windows.iter().map(|w| w.1).fold(0.0, f64::max);
    println!(
        "soak: {loops} loops, {total_frames} frames in {:.0} s; time per frame {:.3} -> {:.3} ms ({:+.1} %), memory {:.1} -> {:.1} MB (peak {peak:.1}, {:+.1} MB); every loop the same bits: {same}",
        began.elapsed().as_secs_f64(),
        first.0,
        last.0,
        100.0 * (last.0 / first.0 - 1.0),
        first.1,
        last.1,
        last.1 - first.1
    );
}
