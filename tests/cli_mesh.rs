//! `vesalius mesh info` and `vesalius mesh convert`, running the built binary.

use std::path::{Path, PathBuf};
use std::process::Command;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/anatomy");

fn data(rel: &str) -> String {
    Path::new(DATA).join(rel).display().to_string()
}

fn vesalius(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vesalius"))
        .args(args)
        .output()
        .expect("run vesalius");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_mesh");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn info_prints_counts_regions_and_quality() {
    let (ok, out, err) = vesalius(&["mesh", "info", &data("generated/forearm_segment.msh")]);
    assert!(ok, "{err}");
    assert!(out.contains("nodes: 3446"), "{out}");
    assert!(out.contains("tets:  17097"), "{out}");
    for name in ["skin", "fat", "muscle", "vein"] {
        assert!(out.contains(name), "{out}");
    }
    assert!(out.contains("likely units: metres"), "{out}");
    assert!(out.contains("dihedral"), "{out}");
}

#[test]
fn info_json_has_nodes_and_tets() {
    let (ok, out, err) = vesalius(&["mesh", "info", "--json", &data("generated/kidney_like.vtu")]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["nodes"], 2433);
    assert_eq!(v["tets"], 11005);
    assert_eq!(v["regions"].as_array().unwrap().len(), 2);
    assert!(v["errors"].as_array().unwrap().is_empty());
}

#[test]
fn info_liver_warns_about_units_and_scale_fixes_it() {
    let (ok, out, _) = vesalius(&["mesh", "info", &data("sofa/liver.msh")]);
    assert!(ok);
    assert!(out.contains("warning:") && out.contains("--scale"), "{out}");
    let (ok, out, _) = vesalius(&["mesh", "info", "--scale", "0.01", &data("sofa/liver.msh")]);
    assert!(ok);
    assert!(!out.contains("--scale"), "{out}");
}

#[test]
fn info_fails_clearly_on_bad_meshes() {
    let p = tmp("bad_index.msh");
    std::fs::write(
        &p,
        "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n4\n1 0 0 0\n2 1 0 0\n3 0 1 0\n4 0 0 1\n$EndNodes\n$Elements\n1\n1 4 2 1 1 1 2 3 7\n$EndElements\n",
    )
    .unwrap();
    let (ok, _, err) = vesalius(&["mesh", "info", p.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("bad_index.msh") && err.contains("line 13") && err.contains("node 7"),
        "{err}"
    );
    // A flat (zero-volume) tet: readable, but cannot be simulated.
    let p = tmp("flat.msh");
    std::fs::write(
        &p,
        "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n4\n1 0 0 0\n2 1 0 0\n3 0 1 0\n4 1 1 0\n$EndNodes\n$Elements\n1\n1 4 2 1 1 1 2 3 4\n$EndElements\n",
    )
    .unwrap();
    let (ok, out, err) = vesalius(&["mesh", "info", p.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("error: tet 0 is degenerate"), "{out}");
    assert!(err.contains("cannot be simulated"), "{err}");
    let (ok, _, err) = vesalius(&["mesh", "info", "/nonexistent/x.msh"]);
    assert!(!ok && err.contains("/nonexistent/x.msh"), "{err}");
}

#[test]
fn convert_keeps_regions_and_refuses_to_overwrite() {
    let out = tmp("forearm.vtu");
    let src = data("generated/forearm_segment.msh");
    let (ok, _, err) = vesalius(&["mesh", "convert", &src, out.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, json, _) = vesalius(&["mesh", "info", "--json", out.to_str().unwrap()]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["tets"], 17097);
    let vein = v["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == 4)
        .unwrap();
    assert_eq!(vein["tets"], 1333);
    assert_eq!(vein["name"], "vein");
    // Existing output: refused without --force, file untouched.
    let before = std::fs::read(&out).unwrap();
    let (ok, _, err) = vesalius(&[
        "mesh",
        "convert",
        &data("sofa/liver.msh"),
        out.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    let (ok, _, err) = vesalius(&[
        "mesh",
        "convert",
        "--force",
        "--scale",
        "0.01",
        &data("sofa/liver.msh"),
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (_, json, _) = vesalius(&["mesh", "info", "--json", out.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["tets"], 596);
    // TetGen output and binary Gmsh 2.2.
    let node = tmp("liver.node");
    let _ = std::fs::remove_file(node.with_extension("ele"));
    let (ok, _, err) = vesalius(&[
        "mesh",
        "convert",
        &data("sofa/liver.msh"),
        node.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(node.with_extension("ele").exists());
    let b = tmp("liver_bin.msh");
    let (ok, _, err) = vesalius(&[
        "mesh",
        "convert",
        "--binary",
        "--msh-version",
        "2.2",
        node.with_extension("ele").to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, out, _) = vesalius(&["mesh", "info", b.to_str().unwrap()]);
    assert!(
        ok && out.contains("Gmsh MSH 2.2 binary") && out.contains("tets:  596"),
        "{out}"
    );
    // Unknown output format: clear error, nothing written.
    let (ok, _, err) = vesalius(&["mesh", "convert", &src, tmp("x.stl").to_str().unwrap()]);
    assert!(!ok && err.contains("unknown mesh format"), "{err}");
}
