//! A cohort of mesh files (`cohort.meshes`): each case runs on its file in place of the
//! scene's generator. Checked against the generator itself (the same block written to a
//! file gives the same row) and against a lower block (the probe reaches it later: less
//! force).

mod common;

use common::scratch;
use std::path::Path;
use vesalius_cosim::engine::mesh::generate::box_grid;
use vesalius_cosim::engine::mesh::{write_msh, MshVersion};
use vesalius_trials::executor::Local;
use vesalius_trials::runner::run;
use vesalius_trials::{Row, Trial};

fn write_block(dir: &Path, name: &str, height: f64) {
    let mesh = box_grid([4, 4, 2], [0.1, 0.1, height], [-0.05, -0.05, 0.0]);
    let mut f = std::fs::File::create(dir.join(name)).unwrap();
    // Binary: the coordinates' exact bits.
    write_msh(&mut f, &mesh, MshVersion::V41, true).unwrap();
}

fn setup(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("blocks")).unwrap();
    write_block(&dir.join("blocks"), "tall.msh", 0.05);
    write_block(&dir.join("blocks"), "low.msh", 0.046);
    dir
}

const TRIAL: &str = concat!(
    "scene = \"",
    env!("CARGO_MANIFEST_DIR"),
    "/tests/press.toml\"",
    r#"
[design]
kind = "factorial"
seed = 3
[cohort]
meshes = ["blocks/tall.msh", "blocks/low.msh"]
[materials.default.youngs_modulus]
dist = "fixed"
values = [1.0e4]
[[behaviour]]
name = "fixed"
kind = "fixed"
"#
);

fn rows(dir: &Path, text: &str, out: &str) -> Vec<Row> {
    let path = dir.join(format!("{out}.toml"));
    std::fs::write(&path, text).unwrap();
    let trial = Trial::load(&path).unwrap();
    run(&trial, &dir.join(out), None, &Local, |_, _, _| {})
        .unwrap()
        .rows
}

#[test]
fn each_case_runs_on_its_mesh_file() {
    let dir = setup("mesh_cohort");
    let files = rows(&dir, TRIAL, "files");
    assert_eq!(files.len(), 2);
    for r in &files {
        assert!(r.error.is_none(), "{}: {:?}", r.id, r.error);
    }
    let by = |f: &str| {
        files
            .iter()
            .find(|r| r.case.values["cohort.mesh"].as_str() == Some(f))
            .unwrap()
    };
    let (tall, low) = (by("blocks/tall.msh"), by("blocks/low.msh"));
    // The scene's own generator (the same block as tall.msh): the same row.
    let generator = rows(
        &dir,
        &TRIAL.replace(
            r#"meshes = ["blocks/tall.msh", "blocks/low.msh"]"#,
            r#""size.2" = { dist = "fixed", values = [0.05] }"#,
        ),
        "generator",
    );
    let g = &generator[0];
    let (ft, fg) = (tall.peak_force.unwrap(), g.peak_force.unwrap());
    assert!(
        (ft - fg).abs() <= 1e-12 * fg,
        "file {ft} N, generator {fg} N"
    );
    assert_eq!(tall.passed, g.passed);
    // 4 mm lower: the probe (4 mm plunge from 1 mm above the tall block) barely touches.
    let fl = low.peak_force.unwrap();
    assert!(fl < 0.5 * ft, "low block {fl} N, tall {ft} N");
    // The table names the file as the trial gave it.
    let csv = std::fs::read_to_string(dir.join("files/results.csv")).unwrap();
    assert!(csv.contains("blocks/low.msh"), "{csv}");
}

#[test]
fn a_mesh_cohort_names_what_is_wrong() {
    let dir = setup("mesh_cohort_bad");
    let load = |text: String| {
        let path = dir.join("bad.toml");
        std::fs::write(&path, text).unwrap();
        Trial::load(&path).unwrap_err().to_string()
    };
    let e = load(TRIAL.replace("blocks/low.msh", "blocks/gone.msh"));
    assert!(e.contains("cohort.meshes") && e.contains("gone.msh"), "{e}");
    let e = load(TRIAL.replace(
        "[materials.default",
        "vein_z = { dist = \"fixed\", values = [-0.005] }\n[materials.default",
    ));
    assert!(
        e.contains("cohort.vein_z") && e.contains("generator"),
        "{e}"
    );
}
