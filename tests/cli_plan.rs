//! `vesalius plan` as a user runs it: outputs, a plan.toml that `vesalius run` accepts, and
//! clear errors (no [plan], results already there, a bad budget).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCENE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/phlebotomy_plan.toml");

fn vesalius() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vesalius"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_plan")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The planning scene in `dir`, uncalibrated (planning model only), its URDF path absolute.
fn planning_only(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(SCENE).unwrap();
    let urdf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/robots/venipuncture/venipuncture.urdf"
    );
    let text = text
        .replacen(
            "\"../robots/venipuncture/venipuncture.urdf\"",
            &format!("{urdf:?}"),
            1,
        )
        .replacen("validate = 3", "validate = 0\ncalibrate = false", 1);
    let p = dir.join("scene.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn plan_writes_its_outputs_and_a_runnable_plan() {
    let dir = tmp("outputs");
    let scene = planning_only(&dir);
    let out = dir.join("out");
    let o = vesalius()
        .arg("plan")
        .arg(&scene)
        .arg("--out")
        .arg(&out)
        .args(["--iterations", "3", "--seed", "5", "-q"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not validated on the full model"),
        "{}",
        stderr(&o)
    );
    for f in [
        "plan.toml",
        "candidates.csv",
        "convergence.png",
        "summary.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["iterations"], 3);
    assert!(summary["passed_on_full_model"].is_null());
    let pitch = summary["plan"]["variables"]["pitch_deg"].as_f64().unwrap();
    assert!((15.0..=35.0).contains(&pitch), "{pitch}");
    let csv = std::fs::read_to_string(out.join("candidates.csv")).unwrap();
    let rows = csv.lines().count() - 1;
    assert_eq!(
        rows as u64,
        summary["planning_candidates"].as_u64().unwrap()
    );
    assert!(rows >= 3 * 31, "{rows}");
    // plan.toml runs as is (from another directory: its paths are absolute).
    let plan = std::fs::read_to_string(out.join("plan.toml")).unwrap();
    assert!(plan.contains("# The plan (vesalius plan)."));
    let o = vesalius()
        .current_dir(&dir)
        .arg("run")
        .arg(out.join("plan.toml"))
        .arg("--out")
        .arg(dir.join("run"))
        .args(["--duration", "0.05", "--backend", "cpu", "-q"])
        .output()
        .unwrap();
    assert!(
        dir.join("run").join("summary.json").is_file(),
        "{}",
        stderr(&o)
    );
    // Again without --force: refused, and nothing is touched.
    let before = std::fs::read(out.join("candidates.csv")).unwrap();
    let o = vesalius()
        .arg("plan")
        .arg(&scene)
        .arg("--out")
        .arg(&out)
        .args(["--iterations", "1", "-q"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("already holds") && e.contains("--force"), "{e}");
    assert_eq!(before, std::fs::read(out.join("candidates.csv")).unwrap());
}

#[test]
fn plan_errors_are_clear() {
    let dir = tmp("errors");
    let o = vesalius()
        .args([
            "plan",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenes/phlebotomy.toml"),
            "--out",
        ])
        .arg(dir.join("a"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no [plan] table"), "{}", stderr(&o));
    for bad in ["0ms", "2h", "fast"] {
        let o = vesalius()
            .args(["plan", SCENE, "--budget", bad, "--out"])
            .arg(dir.join("b"))
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(stderr(&o).contains("budget"), "{bad}: {}", stderr(&o));
    }
}

/// `vesalius run` of a `[plan] mode = "online"` scene supervises the run: the re-plans are
/// in events.json among the needle's events and their latency figures in summary.json;
/// `--no-supervisor` follows the scene's stroke alone.
#[test]
fn run_supervises_an_online_scene() {
    let scene = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenes/phlebotomy_moving_arm.toml"
    );
    let dir = tmp("online");
    let run = |out: &Path, extra: &[&str]| {
        let o = vesalius()
            .arg("run")
            .arg(scene)
            .arg("--out")
            .arg(out)
            .args(["--backend", "cpu", "-q"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        let events: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("events.json")).unwrap())
                .unwrap();
        (summary, events.as_array().unwrap().clone(), stderr(&o))
    };
    // Past the arm's motion (1.5-1.7 s): the vein moved, the supervisor re-planned.
    let (summary, events, err) = run(&dir.join("on"), &["--duration", "1.9"]);
    let sup = &summary["supervisor"];
    assert!(sup["replans"].as_u64().unwrap() >= 1, "{sup}");
    assert_eq!(sup["budget_ms"].as_f64(), Some(50.0));
    assert!(sup["latency_p99_ms"].as_f64().unwrap() >= sup["latency_p50_ms"].as_f64().unwrap());
    let replans: Vec<_> = events.iter().filter(|e| e["kind"] == "replan").collect();
    assert_eq!(replans.len() as u64, sup["replans"].as_u64().unwrap());
    assert!(
        replans.iter().any(|e| e["trigger"] == "target_moved"),
        "{replans:?}"
    );
    assert!(events.iter().any(|e| e["description"] == "punctured skin"));
    // In time order, the needle's events with them.
    let times: Vec<f64> = events.iter().map(|e| e["time"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(err.contains("re-plan (target moved"), "{err}");
    // Unsupervised: no re-plans.
    let (summary, events, _) = run(&dir.join("off"), &["--duration", "0.1", "--no-supervisor"]);
    assert!(summary["supervisor"].is_null(), "{}", summary["supervisor"]);
    assert!(events.iter().all(|e| e["kind"] != "replan"));
}
