//! `vesalius render`, running the built binary: a tissue scene and a co-simulation scene
//! drawn offscreen into PNGs, and its refusals. The renderer's own checks against known
//! pictures are in `viewer/tests/render.rs`.
#![cfg(feature = "viewer")]

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn vesalius(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vesalius"))
        .args(args)
        .output()
        .expect("run vesalius");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_render");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Width, height and the share of pixels that are not the background.
fn png_info(path: &Path) -> (u32, u32, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bg = vesalius_viewer::render::BACKGROUND.map(|c| (c * 255.0).round() as u8);
    let px = &buf[..info.buffer_size()];
    let drawn = px
        .chunks(4)
        .filter(|p| (0..3).any(|k| p[k].abs_diff(bg[k]) > 1))
        .count();
    (
        info.width,
        info.height,
        drawn as f64 / (info.width * info.height) as f64,
    )
}

/// `vesalius run scenes/SCENE.toml` for `duration` seconds on the CPU into a fresh folder.
fn run(scene: &str, duration: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli_render_{scene}"));
    let _ = std::fs::remove_dir_all(&out);
    let scene = format!("{ROOT}/scenes/{scene}.toml");
    let (ok, err) = vesalius(&[
        "run",
        &scene,
        "--out",
        out.to_str().unwrap(),
        "--duration",
        duration,
        "--backend",
        "cpu",
        "--quiet",
    ]);
    assert!(ok, "{err}");
    out
}

/// Whether a GPU adapter is there to render on; with `VESALIUS_REQUIRE_GPU=1` (CI) none is
/// a failure, not a skip.
fn gpu_or_skip() -> bool {
    match vesalius::engine::gpu::GpuContext::new(None) {
        Ok(_) => true,
        Err(e) if std::env::var("VESALIUS_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("VESALIUS_REQUIRE_GPU=1 but no GPU adapter: {e}")
        }
        Err(e) => {
            eprintln!("skipping: no GPU adapter ({e})");
            false
        }
    }
}

#[test]
fn renders_a_tissue_scene_after_some_frames() {
    if !gpu_or_skip() {
        return;
    }
    let png = tmp("block.png");
    let scene = format!("{ROOT}/scenes/block_sag.toml");
    let (ok, err) = vesalius(&[
        "render",
        &scene,
        "--time",
        "0.1",
        "--field",
        "displacement",
        "--size",
        "320x240",
        "--backend",
        "cpu",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("displacement 0.0000e0 .."), "{err}");
    let (w, h, drawn) = png_info(&png);
    assert_eq!((w, h), (320, 240));
    assert!(drawn > 0.1 && drawn < 0.9, "{drawn}");
    // Nothing the user produced is overwritten without asking.
    let (ok, err) = vesalius(&[
        "render",
        &scene,
        "--size",
        "32x24",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("exists; pass --force"), "{err}");
    assert_eq!(png_info(&png).0, 320);
    let (ok, err) = vesalius(&[
        "render",
        &scene,
        "--size",
        "32x24",
        "--force",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(png_info(&png).0, 32);
}

#[test]
fn renders_a_cosimulation_scene() {
    if !gpu_or_skip() {
        return;
    }
    let png = tmp("indenter.png");
    let scene = format!("{ROOT}/scenes/phlebotomy.toml");
    let (ok, err) = vesalius(&[
        "render",
        &scene,
        "--time",
        "0",
        "--view",
        "-60,35",
        "--size",
        "200x150",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (_, _, drawn) = png_info(&png);
    assert!(drawn > 0.05, "{drawn}");
}

#[test]
fn replays_a_finished_run() {
    if !gpu_or_skip() {
        return;
    }
    // A short run of the reference block, then its frame nearest 0.1 s drawn from the files.
    let out = run("block_sag", "0.2");
    // Into a folder that does not exist yet: it is made.
    let png = tmp("new_folder").join("replay.png");
    let _ = std::fs::remove_dir_all(png.parent().unwrap());
    let (ok, err) = vesalius(&[
        "render",
        out.to_str().unwrap(),
        "--time",
        "0.1",
        "--field",
        "green_strain",
        "--cut",
        "0,1,0",
        "--size",
        "160x120",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("frame at t = 0.1000 s"), "{err}");
    assert!(err.contains("green_strain"), "{err}");
    assert!(png_info(&png).2 > 0.1);
    // A directory that is not an output of `vesalius run`.
    let (ok, err) = vesalius(&["render", ROOT, "--png", tmp("none.png").to_str().unwrap()]);
    assert!(!ok && err.contains("not an output directory"), "{err}");
}

/// The pixels of a PNG (RGBA).
fn png_pixels(path: &Path) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    buf
}

#[test]
fn a_run_records_its_pinned_and_attached_vertices_and_a_replay_marks_them() {
    if !gpu_or_skip() {
        return;
    }
    use vesalius::engine::output::fixed;
    // Retraction: the flap's base pinned (the plane x = 0), its free edge held by the jaws
    // (every vertex within 4 mm of the bite at (0.058, 0, 0.00225)), as the scene says.
    let out = run("retraction", "0.05");
    let data = std::fs::read(out.join("frame_00000.vtu")).unwrap();
    let frame = vesalius::engine::mesh::vtu::parse_vtu_frame(&data).unwrap();
    let held = &frame.point_data["fixed"];
    assert_eq!(held.values.len(), frame.mesh.positions.len());
    let (mut pinned, mut attached) = (0, 0);
    for (p, &h) in frame.mesh.positions.iter().zip(&held.values) {
        let bite = [p[0] - 0.058, p[1], p[2] - 0.00225];
        let near = bite.iter().map(|d| d * d).sum::<f64>().sqrt() <= 0.004 + 1e-9;
        let want = if p[0].abs() < 1e-9 {
            fixed::PINNED
        } else if near {
            fixed::ATTACHED
        } else {
            fixed::FREE
        };
        assert_eq!(h, f64::from(want), "vertex at {p:?}");
        pinned += usize::from(want == fixed::PINNED);
        attached += usize::from(want == fixed::ATTACHED);
    }
    assert!(pinned > 0 && attached > 0, "{pinned} {attached}");
    // Seen from above, the markers add magenta (the attached) where there was none.
    let magenta = |png: &Path| {
        png_pixels(png)
            .chunks(4)
            .filter(|p| {
                let [r, g, b] = [p[0], p[1], p[2]].map(u16::from);
                r > 2 * g && b > 2 * g && r > 80
            })
            .count()
    };
    let mut counts = Vec::new();
    for pins in [false, true] {
        let png = tmp(&format!("retraction_pins_{pins}.png"));
        let mut args = vec![
            "render",
            out.to_str().unwrap(),
            "--view",
            "0,89",
            "--size",
            "240x180",
            "--png",
            png.to_str().unwrap(),
        ];
        if pins {
            args.push("--pins");
        }
        let (ok, err) = vesalius(&args);
        assert!(ok, "{err}");
        counts.push(magenta(&png));
    }
    assert!(counts[1] > counts[0], "{counts:?}");
}

#[test]
fn bad_arguments_are_refused() {
    let scene = format!("{ROOT}/scenes/block_sag.toml");
    let png = tmp("never.png");
    let p = png.to_str().unwrap();
    for (args, says) in [
        (vec!["--size", "0x10"], "not a side"),
        (vec!["--size", "640"], "WIDTHxHEIGHT"),
        (vec!["--field", "temperature"], "unknown field"),
        (vec!["--view", "10,95"], "outside -90..=90"),
        (vec!["--time", "-1"], "--time must be"),
        (vec!["--cut", "0,0,0"], "must not be zero"),
        (vec!["--cut", "1,0"], "NX,NY,NZ"),
    ] {
        let mut all = vec!["render", scene.as_str(), "--png", p];
        all.extend(args.iter().copied());
        let (ok, err) = vesalius(&all);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
        assert!(!png.exists());
    }
    let (ok, err) = vesalius(&["render", "no/such/scene.toml", "--png", p]);
    assert!(!ok && err.contains("no/such/scene.toml"), "{err}");
}
