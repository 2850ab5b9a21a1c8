//! `vesalius view`, running the built binary: in a virtual X display (`xvfb-run`) it opens
//! its window, draws frames of a live scene and of a finished run, and writes the window's
//! image; without a display it says to use `vesalius render` instead.
#![cfg(feature = "viewer")]

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_vesalius");

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_view");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Whether `xvfb-run` is here; with `VESALIUS_REQUIRE_GPU=1` (CI) its absence is a failure,
/// not a skip.
fn xvfb_or_skip() -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v xvfb-run"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("VESALIUS_REQUIRE_GPU").is_ok_and(|v| v == "1") {
            panic!("VESALIUS_REQUIRE_GPU=1 but xvfb-run is not installed (apt-get install xvfb)");
        }
        eprintln!("skipping: xvfb-run is not installed (apt-get install xvfb)");
    }
    found
}

/// `vesalius ARGS` in a fresh virtual X display of 1024x768 at 24 bits.
fn view_in_xvfb(args: &[&str]) -> (bool, String) {
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1024x768x24", BIN])
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        // One pixel per logical pixel, whatever DPI the virtual screen reports.
        .env("WINIT_X11_SCALE_FACTOR", "1")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run xvfb-run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Width, height, and the shares of pixels that are not the background in the left half
/// (where the tissue is drawn) and in the right sixth (the panel).
fn png_info(path: &Path) -> (u32, u32, f64, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bg = vesalius_viewer::render::BACKGROUND.map(|c| (c * 255.0).round() as u8);
    let (w, h) = (info.width as usize, info.height as usize);
    let px = &buf[..info.buffer_size()];
    let share = |x0: usize, x1: usize| {
        let mut drawn = 0;
        for y in 0..h {
            for x in x0..x1 {
                let p = &px[4 * (y * w + x)..4 * (y * w + x) + 3];
                if (0..3).any(|k| p[k].abs_diff(bg[k]) > 1) {
                    drawn += 1;
                }
            }
        }
        drawn as f64 / ((x1 - x0) * h) as f64
    };
    (
        info.width,
        info.height,
        share(0, w / 2),
        share(w - w / 6, w),
    )
}

/// One test for every window (each in its own virtual display, one after the other:
/// `xvfb-run -a` started in parallel can pick the same display number).
#[test]
fn window_draws_a_live_scene_a_cosimulation_and_a_finished_run() {
    if !xvfb_or_skip() {
        return;
    }
    let png = tmp("live.png");
    let scene = format!("{ROOT}/scenes/block_sag.toml");
    let (ok, err) = view_in_xvfb(&[
        "view",
        &scene,
        "--backend",
        "cpu",
        "--field",
        "displacement",
        "--size",
        "640x480",
        "--screenshot",
        png.to_str().unwrap(),
        "--exit-after",
        "5",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("after 5 frames"), "{err}");
    let (w, h, tissue, panel) = png_info(&png);
    assert_eq!((w, h), (640, 480), "{err}");
    assert!(tissue > 0.1, "only {tissue} of the view is drawn: {err}");
    assert!(panel > 0.5, "only {panel} of the panel is drawn: {err}");
    // Never over a file without --force.
    let (ok, err) = view_in_xvfb(&[
        "view",
        &scene,
        "--screenshot",
        png.to_str().unwrap(),
        "--exit-after",
        "1",
    ]);
    assert!(!ok && err.contains("exists; pass --force"), "{err}");

    // A co-simulation, paused at its start: the robot and its needle beside the tissue.
    let png = tmp("cosim.png");
    let (ok, err) = view_in_xvfb(&[
        "view",
        &format!("{ROOT}/scenes/phlebotomy.toml"),
        "--paused",
        "--view",
        "-60,35",
        "--size",
        "640x480",
        "--screenshot",
        png.to_str().unwrap(),
        "--exit-after",
        "3",
    ]);
    assert!(ok, "{err}");
    let (_, _, tissue, panel) = png_info(&png);
    assert!(tissue > 0.05, "only {tissue} of the view is drawn: {err}");
    assert!(panel > 0.5, "only {panel} of the panel is drawn: {err}");

    // A finished run, replayed.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_view_run");
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(BIN)
        .args(["run", &scene, "--out", out.to_str().unwrap()])
        .args(["--duration", "0.2", "--backend", "cpu", "--quiet"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let png = tmp("replay.png");
    let (ok, err) = view_in_xvfb(&[
        "view",
        out.to_str().unwrap(),
        "--field",
        "green_strain",
        "--cut",
        "0,1,0",
        "--size",
        "640x480",
        "--screenshot",
        png.to_str().unwrap(),
        "--exit-after",
        "3",
    ]);
    assert!(ok, "{err}");
    let (_, _, tissue, _) = png_info(&png);
    assert!(tissue > 0.1, "only {tissue} of the view is drawn: {err}");
}

#[test]
fn without_a_display_it_says_to_use_render() {
    let png = tmp("never.png");
    let out = Command::new(BIN)
        .args(["view", &format!("{ROOT}/scenes/block_sag.toml")])
        .args(["--screenshot", png.to_str().unwrap(), "--exit-after", "1"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("no display"), "{err}");
    assert!(err.contains("vesalius render"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!png.exists());
}
