//! `vesalius robot ...` end to end.
use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vesalius"))
}

fn shared(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/robots"
    ))
    .join(rel)
}

fn own(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/robots")).join(rel)
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = bin().args(args).output().expect("run vesalius");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn info_text_psm1() {
    let p = shared("dvrk_psm1/PSM1.urdf");
    let (ok, out, err) = run(&["robot", "info", p.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("18 links, 17 joints, 7 degrees of freedom, 7 mimic joints"),
        "{out}"
    );
    assert!(
        out.contains("outer_pitch_3 = -1 * outer_pitch + 0"),
        "{out}"
    );
    assert!(out.contains("jaw_mimic_2 = -0.5 * jaw + 0"), "{out}");
    assert!(
        out.contains("PSM1_outer_yaw_link --[revolute outer_pitch]--> PSM1_outer_pitch_link"),
        "{out}"
    );
    assert!(out.contains("collision from visual"), "{out}");
    assert!(out.contains("warnings:"), "{out}");
}

#[test]
fn info_json_iiwa() {
    let p = shared("kuka_iiwa/model.urdf");
    let (ok, out, err) = run(&["robot", "info", p.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"], "lbr_iiwa");
    assert_eq!(v["links"].as_array().unwrap().len(), 8);
    assert_eq!(v["joints"].as_array().unwrap().len(), 7);
    let j1 = &v["joints"][0];
    assert_eq!(j1["type"], "revolute");
    assert!((j1["upper"].as_f64().unwrap() - 2.96705972839).abs() < 1e-9);
    assert_eq!(v["links"][1]["collision"][0]["type"], "mesh");
    assert!(v["links"][1]["collision"][0]["triangles"].as_u64().unwrap() > 100);
    assert!(v["links"][1]["mass"].as_f64().unwrap() > 1.0);
}

#[test]
fn info_med7_needs_permission_for_missing_visuals() {
    let p = shared("lbr_med7/med7.urdf");
    let (ok, _, err) = run(&["robot", "info", p.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("link 'lbr_link_0'") && err.contains("visual/link_0.dae"),
        "{err}"
    );
    let (ok, out, err) = run(&[
        "robot",
        "info",
        p.to_str().unwrap(),
        "--allow-missing-visuals",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("10 links, 9 joints"), "{out}");
}

#[test]
fn fk_and_ik_round_trip() {
    let p = shared("kuka_iiwa/model.urdf");
    let (ok, out, err) = run(&[
        "robot",
        "fk",
        p.to_str().unwrap(),
        "--joints",
        "0,0,0,0,0,0,0",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["link"], "lbr_iiwa_link_7");
    assert!((v["pose"]["xyz"][2].as_f64().unwrap() - 1.261).abs() < 1e-9);

    let veni = own("venipuncture/venipuncture.urdf");
    let veni = veni.to_str().unwrap();
    let (ok, out, err) = run(&[
        "robot",
        "fk",
        veni,
        "--joints",
        "0.01,-0.02,0.03,0.4,0.3,0.01",
        "--link",
        "needle_tip",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let xyz = floats(&v["pose"]["xyz"]);
    let rpy = floats(&v["pose"]["rpy"]);
    let target = format!("{},{},{}", xyz[0], xyz[1], xyz[2]);
    let rpy_s = format!("{},{},{}", rpy[0], rpy[1], rpy[2]);
    let (ok, out, err) = run(&[
        "robot",
        "ik",
        veni,
        "--target",
        &target,
        "--rpy",
        &rpy_s,
        "--link",
        "needle_tip",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["position_error"].as_f64().unwrap() < 1e-5);
    assert!(v["orientation_error"].as_f64().unwrap() < 1e-4);
    let got = floats(&v["pose"]["xyz"]);
    for (g, x) in got.iter().zip(&xyz) {
        assert!((g - x).abs() < 1e-5);
    }
    // Text output lists the joints.
    let (ok, out, _) = run(&[
        "robot",
        "ik",
        veni,
        "--target",
        &target,
        "--link",
        "needle_tip",
    ]);
    assert!(ok);
    assert!(
        out.contains("insertion") && out.contains("converged"),
        "{out}"
    );
}

#[test]
fn cli_errors_are_clear() {
    let p = shared("kuka_iiwa/model.urdf");
    let p = p.to_str().unwrap();
    let (ok, _, err) = run(&["robot", "fk", p, "--joints", "0,0,0"]);
    assert!(!ok && err.contains("expected 7 values, got 3"), "{err}");
    let (ok, _, err) = run(&["robot", "fk", p, "--joints", "0,0,x,0,0,0,0"]);
    assert!(!ok && err.contains("'x' is not a number"), "{err}");
    let (ok, _, err) = run(&[
        "robot",
        "fk",
        p,
        "--joints",
        "0,0,0,0,0,0,0",
        "--link",
        "nope",
    ]);
    assert!(!ok && err.contains("no link named 'nope'"), "{err}");
    let (ok, _, err) = run(&["robot", "ik", p, "--target", "3,3,3"]);
    assert!(!ok && err.contains("did not converge"), "{err}");
    let (ok, _, err) = run(&["robot", "info", "/nonexistent.urdf"]);
    assert!(!ok && err.contains("/nonexistent.urdf"), "{err}");
}
