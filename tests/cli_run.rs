//! `vesalius run`, `info` and `bench` as a user runs them.

use std::path::PathBuf;
use std::process::Command;

fn vesalius() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vesalius"));
    c.env(
        "XDG_RUNTIME_DIR",
        std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
    );
    c
}

/// A fresh folder for one call: tests run in parallel and may use the same `name` (two of
/// them ran `run_scene("cpu")` into one folder and removed each other's outputs).
fn tmp(name: &str) -> PathBuf {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("vesalius-cli-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

const SCENE: &str = r#"
[mesh]
generator = { kind = "box", cells = [4, 4, 2], size = [0.04, 0.04, 0.02], origin = [-0.02, -0.02, 0.0] }
[materials]
default = { youngs_modulus = 1.0e4, poisson_ratio = 0.45, density = 1000.0 }
[[pin]]
kind = "plane"
normal = [0.0, 0.0, 1.0]
offset = 0.0
[simulation]
duration = 0.2
[output]
every = 4
"#;

/// `vesalius run` of scene text `text` (written as `scene.toml` in a fresh folder `name`)
/// with `args`; the output and the output folder.
fn run_text(name: &str, text: &str, args: &[&str]) -> (std::process::Output, PathBuf) {
    let dir = tmp(name);
    std::fs::create_dir_all(&dir).unwrap();
    let scene = dir.join("scene.toml");
    std::fs::write(&scene, text).unwrap();
    let out = dir.join("out");
    let o = vesalius()
        .args(["run"])
        .arg(&scene)
        .arg("--out")
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    (o, out)
}

fn run_scene(backend: &str) -> serde_json::Value {
    let (o, out) = run_text(
        &format!("run-{backend}"),
        SCENE,
        &["--backend", backend, "-q"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // 12 frames, every 4th written, plus the initial one.
    assert_eq!(summary["steps"], 12);
    assert_eq!(summary["frames_written"], 4);
    for i in 0..4 {
        assert!(out.join(format!("frame_{i:05}.vtu")).exists());
    }
    let pvd = std::fs::read_to_string(out.join("tissue.pvd")).unwrap();
    assert_eq!(pvd.matches("<DataSet").count(), 4);
    // The last frame reads back as a mesh with the same tets.
    let mesh = vesalius_engine_mesh(&out.join("frame_00003.vtu"));
    assert_eq!(mesh, 192);
    // Running again into the same directory is refused without --force.
    let scene = out.parent().unwrap().join("scene.toml");
    let o = vesalius()
        .args(["run"])
        .arg(&scene)
        .arg("--out")
        .arg(&out)
        .args(["--backend", backend, "-q"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    summary
}

fn vesalius_engine_mesh(p: &std::path::Path) -> usize {
    vesalius::engine::mesh::load(p, &Default::default())
        .unwrap()
        .tets
        .len()
}

#[test]
fn run_writes_frames_and_summary_on_the_cpu() {
    let s = run_scene("cpu");
    assert_eq!(s["backend"], "cpu");
    assert_eq!(s["status"], "ok");
    assert!(s["final_diagnostics"]["max_displacement"].as_f64().unwrap() > 1e-5);
    assert!(s["plan"]["substeps"].as_u64().unwrap() >= 1);
}

#[cfg(feature = "gpu")]
#[test]
fn run_on_the_gpu_gives_the_cpu_answer() {
    let cpu = run_scene("cpu");
    let gpu = run_scene("gpu");
    assert_eq!(gpu["backend"], "gpu");
    let a = cpu["final_diagnostics"]["max_displacement"]
        .as_f64()
        .unwrap();
    let b = gpu["final_diagnostics"]["max_displacement"]
        .as_f64()
        .unwrap();
    assert!((a - b).abs() <= 1e-4 * a, "cpu {a} gpu {b}");
}

#[test]
fn threads_flag_sets_the_team_and_refuses_nonsense() {
    let dir = tmp("threads");
    std::fs::create_dir_all(&dir).unwrap();
    let scene = dir.join("scene.toml");
    std::fs::write(&scene, SCENE).unwrap();
    let run = |threads: &str, out: &str| {
        vesalius()
            .args(["run"])
            .arg(&scene)
            .arg("--out")
            .arg(dir.join(out))
            .args(["--backend", "cpu", "--threads", threads, "-q"])
            .output()
            .unwrap()
    };
    let o = run("3", "three");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("three/summary.json")).unwrap())
            .unwrap();
    let device = summary["device"].as_str().unwrap();
    assert!(device.starts_with("cpu (3 threads"), "{device}");
    let o = run("0", "none");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--threads") && err.contains("threads must be"),
        "{err}"
    );
}

#[test]
fn bad_scene_reports_file_and_line() {
    let (o, _) = run_text("bad", &format!("{SCENE}\n[output]\nevry = 3\n"), &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("scene.toml") && err.contains("line"), "{err}");
}

#[test]
fn info_lists_backends() {
    let o = vesalius().args(["info", "--json"]).output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["cpu_threads"].as_u64().unwrap() >= 1);
    assert!(v["auto_backend"] == "cpu" || v["auto_backend"] == "gpu");
}

/// Without a display session (no `XDG_RUNTIME_DIR`, no Wayland), listing the adapters
/// prints no error: Mesa's device-selection layer used to make libwayland print
/// `error: XDG_RUNTIME_DIR is invalid ...` twice. The adapters are still listed.
#[test]
fn info_without_a_display_session_prints_no_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_vesalius"))
        .args(["info", "--json"])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .env_remove("NODEVICE_SELECT")
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    if std::env::var("VESALIUS_REQUIRE_GPU").is_ok_and(|v| v == "1") {
        assert!(
            !v["adapters"].as_array().unwrap().is_empty(),
            "VESALIUS_REQUIRE_GPU=1 but no adapter listed: {v}"
        );
    }
}

#[test]
fn bench_prints_a_row_per_case() {
    let o = vesalius()
        .args([
            "bench",
            "--sizes",
            "400",
            "--backends",
            "cpu",
            "--frames",
            "2",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert!(line["tet_substeps_per_s"].as_f64().unwrap() > 0.0);
}

/// `[[motion]]` in a tissue scene: the block's base lifted 5 mm carries the block up, so its
/// settled gravitational energy rises by M g dz (the settled sag is the same at any height),
/// with M its mass; the elastic energy stays the same.
#[test]
fn moving_supports_lift_the_block() {
    let run = |motion: &str| -> serde_json::Value {
        let text = SCENE.replace("duration = 0.2", "duration = 0.6\nvelocity_damping = 20.0");
        let (o, out) = run_text(
            &format!("motion-{}", motion.len()),
            &format!("{text}{motion}"),
            &["--backend", "cpu", "-q"],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        s["final_diagnostics"].clone()
    };
    let still = run("");
    let lifted = run("\n[[motion]]\nt = [0.0, 0.2]\ntranslate = [0.0, 0.0, 0.005]\n");
    let mass = 1000.0 * 0.04 * 0.04 * 0.02;
    let want = mass * 9.81 * 0.005;
    let e = |d: &serde_json::Value, k: &str| d[k].as_f64().unwrap();
    let got = e(&lifted, "gravity_energy") - e(&still, "gravity_energy");
    assert!(
        (got - want).abs() < 0.02 * want,
        "dE {got} J, want {want} J"
    );
    let (el, es) = (e(&lifted, "elastic_energy"), e(&still, "elastic_energy"));
    assert!(
        (el - es).abs() < 0.02 * es.abs().max(1e-9),
        "elastic {el} vs {es}"
    );
    // A motion naming a pin set the scene does not have.
    let bad = format!("{SCENE}\n[[motion]]\nt = [0.0, 0.2]\npins = [3]\n");
    let (o, _) = run_text("motion-bad", &bad, &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("motion[0]: pins: no pin set 3"), "{err}");
}
