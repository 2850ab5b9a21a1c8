//! Errors as a user sees them: one message, said once, naming the key or the user's file;
//! a closed pipe ends the CLI quietly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const MESH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/anatomy/limb_segment.msh");

fn vesalius() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vesalius"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_errors")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a scene whose text is `text`; returns its stderr (the run must fail).
fn run_error(name: &str, text: &str) -> String {
    let dir = tmp(name);
    let scene = dir.join("scene.toml");
    std::fs::write(&scene, text).unwrap();
    let o = vesalius()
        .arg("run")
        .arg(&scene)
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--backend", "cpu", "-q"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        !dir.join("out").exists(),
        "failed after creating the output"
    );
    stderr(&o)
}

const HEAD: &str = r#"
[mesh]
generator = { kind = "box", cells = [2, 2, 2], size = [0.04, 0.04, 0.02] }
[materials]
default = { youngs_modulus = 1.0e4, poisson_ratio = 0.45, density = 1000.0 }
"#;

#[test]
fn errors_print_their_chain_once() {
    // Was "mesh: gravity must be finite, got [0.0, 0.0, NaN]: mesh: gravity must be ...".
    let e = run_error(
        "gravity",
        &format!("{HEAD}[simulation]\ngravity = [0.0, 0.0, nan]\n"),
    );
    assert_eq!(e.matches("gravity must be finite").count(), 1, "{e}");
    assert!(
        e.contains("simulation.gravity") && !e.contains("mesh:"),
        "{e}"
    );
    let e = run_error(
        "pin",
        &format!("{HEAD}[[pin]]\nkind = \"plane\"\nnormal = [0.0, 0.0, 1.0]\noffset = nan\n"),
    );
    assert_eq!(e.matches("offset must be finite").count(), 1, "{e}");
    assert!(!e.contains("normal must"), "{e}");
    let e = run_error(
        "material",
        &HEAD.replace("youngs_modulus = 1.0e4", "youngs_modulus = -1.0"),
    );
    assert_eq!(e.matches("youngs_modulus must be").count(), 1, "{e}");
    let e = run_error("io", "[mesh]\nfile = \"nonexistent.msh\"\n");
    assert_eq!(e.matches("os error 2").count(), 1, "{e}");
    assert_eq!(e.matches("nonexistent.msh").count(), 1, "{e}");
    let o = vesalius()
        .args(["mesh", "info", "nonexistent.msh"])
        .output()
        .unwrap();
    assert_eq!(
        stderr(&o).matches("os error 2").count(),
        1,
        "{}",
        stderr(&o)
    );
    let o = vesalius()
        .args(["robot", "info", "nonexistent.urdf"])
        .output()
        .unwrap();
    assert_eq!(
        stderr(&o).matches("os error 2").count(),
        1,
        "{}",
        stderr(&o)
    );
}

#[test]
fn sizes_are_refused_before_any_work() {
    let t = std::time::Instant::now();
    let e = run_error(
        "cells",
        &HEAD.replace("cells = [2, 2, 2]", "cells = [400, 400, 400]"),
    );
    assert!(
        e.contains("mesh.generator.cells") && !e.contains("refine"),
        "{e}"
    );
    assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
    let dir = tmp("duration");
    let scene = dir.join("scene.toml");
    std::fs::write(&scene, HEAD).unwrap();
    let o = vesalius()
        .arg("run")
        .arg(&scene)
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--backend", "cpu", "-q", "--duration", "1e12"])
        .output()
        .unwrap();
    assert!(
        !o.status.success() && stderr(&o).contains("--duration"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn convert_names_the_users_output() {
    let dir = tmp("convert");
    // A directory, existing or written as one.
    for out in [dir.display().to_string(), format!("{}/new/", dir.display())] {
        let o = vesalius()
            .args(["mesh", "convert", MESH, &out])
            .output()
            .unwrap();
        let e = stderr(&o);
        assert!(
            !o.status.success() && e.contains("is a directory"),
            "{out}: {e}"
        );
    }
    let missing = dir.join("no/such/dir/out.vtu");
    let o = vesalius()
        .args(["mesh", "convert", MESH])
        .arg(&missing)
        .output()
        .unwrap();
    let e = stderr(&o);
    assert!(!o.status.success(), "{e}");
    assert!(
        e.contains(&missing.display().to_string()) && !e.contains("vesalius-tmp"),
        "{e}"
    );
    let o = vesalius()
        .args(["mesh", "convert", MESH])
        .arg(dir.join("out.foo"))
        .output()
        .unwrap();
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("out.foo") && !e.contains("vesalius-tmp"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "left files behind"
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // The reader is gone before vesalius writes anything: every write hits a closed pipe.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = vesalius()
        .args(["mesh", "info", MESH, "--json"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let e = stderr(&o);
    assert!(
        !e.contains("panicked") && o.status.code() != Some(101),
        "{:?}: {e}",
        o.status
    );
}
