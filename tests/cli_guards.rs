//! A physically broken run never ends "ok": the guards stop it with a failed status that
//! names the guard, the frame, the region and the likely cause, and the frames written so
//! far stay.

use std::path::Path;
use std::process::Command;

/// `vesalius run SCENE --out OUT --backend cpu -q`.
fn run_cpu(scene: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vesalius"))
        .arg("run")
        .arg(scene)
        .arg("--out")
        .arg(out)
        .args(["--backend", "cpu", "-q"])
        .output()
        .unwrap()
}

#[test]
fn an_unstable_block_fails_on_a_guard_and_keeps_its_frames() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_guards");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The case: a 10 cm block, 1/30 s frames, one substep (refused without
    // allow_unstable, see engine/tests/stability.rs).
    let scene = dir.join("scene.toml");
    std::fs::write(
        &scene,
        "[mesh]\ngenerator = { kind = \"box\", cells = [2, 2, 2], size = [0.1, 0.1, 0.1] }\n\
         [materials]\ndefault = { youngs_modulus = 1e4, poisson_ratio = 0.45, density = 1000 }\n\
         [[pin]]\nkind = \"plane\"\nnormal = [0.0, 0.0, 1.0]\noffset = 0.0\n\
         [simulation]\nduration = 1.0\nframe_dt = 0.0333333333\nsubsteps = 1\nallow_unstable = true\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = run_cpu(&scene, &out);
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("{err}");
    assert!(!o.status.success());
    assert!(
        err.contains("guard") && err.contains("likely cause: substeps 1"),
        "{err}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let status = summary["status"].as_str().unwrap();
    assert!(status.starts_with("failed: guard"), "{status}");
    let breach = &summary["guard_breach"];
    assert!(breach["frame"].as_u64().unwrap() < 30, "{breach}");
    assert!(breach["guard"].is_string());
    // Every frame up to the breach is on disk, the broken one included.
    let written = summary["frames_written"].as_u64().unwrap();
    assert_eq!(written, summary["steps"].as_u64().unwrap() + 1);
    assert!(written >= 2);

    // The same block at automatic substeps runs to the end, "ok".
    std::fs::write(
        &scene,
        std::fs::read_to_string(&scene)
            .unwrap()
            .replace("substeps = 1\nallow_unstable = true\n", ""),
    )
    .unwrap();
    let o = run_cpu(&scene, &dir.join("out_auto"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Energy from nowhere: a block whose fixed substeps are a little past the stable bound
/// (5 substeps of 1/30 s frames: effective Courant 1.47 against the bound 1.25) rings up
/// slowly; no tet inverts and no vertex flies (left alone it ends 8 s later "ok" by every
/// other guard, vibrating with 34x the settled elastic energy). The energy guard stops it:
/// its total energy rose with nothing doing work. One substep more (Courant 1.22) settles.
#[test]
fn a_slow_instability_breaks_the_energy_guard() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_guards_energy");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = |substeps: u32| {
        let scene = dir.join(format!("s{substeps}.toml"));
        std::fs::write(
            &scene,
            format!(
                "[mesh]\ngenerator = {{ kind = \"box\", cells = [4, 4, 4], size = [0.1, 0.1, 0.1] }}\n\
                 [materials]\ndefault = {{ youngs_modulus = 1e4, poisson_ratio = 0.45, density = 1000 }}\n\
                 [[pin]]\nkind = \"plane\"\nnormal = [0.0, 0.0, 1.0]\noffset = 0.0\n\
                 [simulation]\nduration = 2.0\nframe_dt = 0.0333333333\nsubsteps = {substeps}\nallow_unstable = true\n\
                 [output]\nevery = 1\n"
            ),
        )
        .unwrap();
        let out = dir.join(format!("o{substeps}"));
        let o = run_cpu(&scene, &out);
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        (o, summary)
    };
    let (o, summary) = run(5);
    assert!(!o.status.success());
    let breach = &summary["guard_breach"];
    assert_eq!(breach["guard"], "energy_growth", "{breach}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nothing doing work") && err.contains("likely cause: substeps 5"),
        "{err}"
    );
    let (o, summary) = run(6);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(summary["status"], "ok");
}

/// The shipped block, for the runs below.
fn block_sag() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/block_sag.toml")
}

/// A duration whose frames would fill the disk is refused before the first frame, with the
/// sizes and what to change; nothing is written.
#[test]
fn a_run_that_would_fill_the_disk_asks_for_force() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_guards_disk");
    let _ = std::fs::remove_dir_all(&out);
    // 1e5 s at 60 frames/s, every 6th frame written: 1e6 frames of 2.5 MB (positions, three
    // point arrays, four cell arrays), 2.5 TB.
    let o = Command::new(env!("CARGO_BIN_EXE_vesalius"))
        .arg("run")
        .arg(block_sag())
        .arg("--out")
        .arg(&out)
        .args(["--backend", "cpu", "-q", "--duration", "100000"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("1000002 frames of 2.5 MB") && err.contains("free") && err.contains("--force"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&out).map_or(vec![], |d| d.collect());
    assert!(left.is_empty(), "{left:?}");
}

/// Ctrl-C stops a run after the frame it is on: it exits non-zero, and the frames so far
/// and a summary.json that says "interrupted" stay.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_run_and_keeps_its_summary() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_guards_sigint");
    let _ = std::fs::remove_dir_all(&out);
    let mut child = Command::new(env!("CARGO_BIN_EXE_vesalius"))
        .arg("run")
        .arg(block_sag())
        .arg("--out")
        .arg(&out)
        // --force: the 600 s the run would write (6000 frames, 14 GB) must not be refused
        // for the disk space; it is stopped after three frames.
        .args(["--backend", "cpu", "-q", "--duration", "600", "--force"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !out.join("frame_00002.vtu").exists() {
        assert!(started.elapsed().as_secs() < 300, "no frames written");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: kill with a live child's pid and a valid signal.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    assert!(!status.success());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let text = summary["status"].as_str().unwrap();
    assert!(text.starts_with("failed: interrupted (Ctrl-C)"), "{text}");
    assert!(summary["frames_written"].as_u64().unwrap() >= 3);
    assert!(out.join("tissue.pvd").exists());
}
