//! Scene values and sizes are checked when the scene is parsed, before anything is
//! generated or allocated, and every error says its message once (see `SceneError`).

use std::error::Error;
use std::path::Path;
use std::time::Instant;
use vesalius_engine::contact::event_descriptions;
use vesalius_engine::mesh::generate::{layered_limb, LimbParams};
use vesalius_engine::scene::Scene;

const MATERIAL: &str =
    "[materials]\ndefault = { youngs_modulus = 1.0e4, poisson_ratio = 0.45, density = 1000.0 }\n";

fn scene(mesh: &str, extra: &str) -> String {
    format!("[mesh]\n{mesh}\n{MATERIAL}{extra}")
}

const BOX: &str = "generator = { kind = \"box\", cells = [2, 2, 2], size = [0.04, 0.04, 0.02] }";

/// The error of parsing `text`: it must fail at parse time, not later.
fn parse_error(text: &str) -> String {
    match Scene::parse(text, Path::new("bad.toml")) {
        Err(e) => {
            assert!(e.source().is_none(), "{e}: exposes a source it prints");
            e.to_string()
        }
        Ok(_) => panic!("parsed: {text}"),
    }
}

#[test]
fn box_cells_are_checked_against_the_tet_limit_before_generating() {
    let t = Instant::now();
    // Took 47 s and 9 GB before an error that blamed `mesh.refine`.
    let e = parse_error(&scene(
        "generator = { kind = \"box\", cells = [400, 400, 400], size = [0.1, 0.1, 0.1] }",
        "",
    ));
    assert!(
        e.contains("mesh.generator.cells") && !e.contains("refine"),
        "{e}"
    );
    // Overflows usize when multiplied naively.
    let e = parse_error(&scene(
        "generator = { kind = \"box\", cells = [18446744073709551615, 4, 4], size = [0.1, 0.1, 0.1] }",
        "",
    ));
    assert!(e.contains("mesh.generator.cells"), "{e}");
    // Small enough alone, too big refined: that one blames the refinement.
    let e = parse_error(&scene(
        "generator = { kind = \"box\", cells = [100, 100, 100] , size = [0.1, 0.1, 0.1] }\nrefine = 2",
        "",
    ));
    assert!(e.contains("mesh.refine = 2"), "{e}");
    let e = parse_error(&scene(&format!("{BOX}\nrefine = 4"), ""));
    assert!(e.contains("mesh.refine must be in 0..=3"), "{e}");
    let e = parse_error(&scene(
        "generator = { kind = \"limb\", n_theta = 2000, n_z = 2000 }",
        "",
    ));
    assert!(e.contains("limb generator") && e.contains("n_theta"), "{e}");
    assert!(
        t.elapsed().as_secs_f64() < 1.0,
        "checks took {:?}",
        t.elapsed()
    );
}

#[test]
fn limb_estimate_bounds_the_real_count() {
    for p in [
        LimbParams::default(),
        LimbParams {
            n_theta: 24,
            n_z: 4,
            radial_size: 0.002,
            ..Default::default()
        },
    ] {
        let real = layered_limb(&p).tets.len();
        let est = p.estimated_tets();
        assert!(
            est >= real && est <= 4 * real,
            "estimate {est}, real {real}"
        );
    }
}

#[test]
fn size_like_keys_have_bounds_named_in_the_error() {
    for (extra, key) in [
        (
            "[simulation]\nsubsteps = 4294967295\n",
            "simulation.substeps",
        ),
        ("[simulation]\nsubsteps = 0\n", "simulation.substeps"),
        ("[simulation]\niterations = 0\n", "simulation.iterations"),
        (
            "[simulation]\niterations = 100000\n",
            "simulation.iterations",
        ),
        ("[simulation]\nduration = 1e12\n", "simulation.duration"),
        ("[simulation]\nframe_dt = 1e-300\n", "simulation.duration"),
        ("[simulation]\ncourant = -1.0\n", "simulation.courant"),
        ("[simulation]\nmax_speed = 0.0\n", "simulation.max_speed"),
        ("[output]\nevery = 0\n", "output.every"),
        ("[output]\nevery = 4294967295\n", "output.every"),
    ] {
        let e = parse_error(&scene(BOX, extra));
        assert!(
            e.contains(key) && e.starts_with("bad.toml: "),
            "{extra}: {e}"
        );
    }
}

#[test]
fn duration_set_after_parsing_is_checked_by_build() {
    let mut s = Scene::parse(&scene(BOX, ""), Path::new("ok.toml")).unwrap();
    s.file.simulation.duration = 1e15; // as `--duration` does
    let e = s.build().unwrap_err().to_string();
    assert!(e.contains("--duration"), "{e}");
}

#[test]
fn every_value_is_checked_at_parse_time_with_its_key() {
    for (extra, want, not) in [
        (
            "[simulation]\ngravity = [0.0, 0.0, nan]\n",
            "simulation.gravity must be finite",
            "mesh:",
        ),
        (
            "[simulation]\nvelocity_damping = -1.0\n",
            "simulation.velocity_damping",
            "mesh:",
        ),
        (
            "[[pin]]\nkind = \"plane\"\nnormal = [0.0, 0.0, 1.0]\noffset = nan\n",
            "pin[0]: plane offset must be finite",
            "normal",
        ),
        (
            "[[pin]]\nkind = \"plane\"\nnormal = [0.0, 0.0, 0.0]\noffset = 0.0\n",
            "pin[0]: plane normal",
            "offset",
        ),
        (
            "[[plane]]\nnormal = [0.0, 0.0, 1.0]\noffset = nan\n",
            "plane[0]: offset must be finite",
            "normal",
        ),
        (
            "[[plane]]\nnormal = [0.0, 0.0, 1.0]\noffset = 0.0\nstatic_friction = -0.1\n",
            "plane[0]: static_friction",
            "normal",
        ),
        (
            "[[pin]]\nkind = \"box\"\nmin = [0.0, 0.0, 0.0]\nmax = [nan, 1.0, 1.0]\n",
            "pin[0]: box corners",
            "normal",
        ),
    ] {
        let e = parse_error(&scene(BOX, extra));
        assert!(e.contains(want) && !e.contains(not), "{extra}: {e}");
        assert_eq!(e.matches("must").count(), 1, "said twice: {e}");
    }
    let bad_material = scene(BOX, "").replace("1.0e4", "-1.0");
    let e = parse_error(&bad_material);
    assert!(e.contains("materials.default: youngs_modulus"), "{e}");
}

#[test]
fn io_and_mesh_errors_say_it_once() {
    let e = Scene::load(Path::new("/nonexistent/scene.toml")).unwrap_err();
    assert!(e.source().is_none());
    assert_eq!(e.to_string().matches("os error 2").count(), 1, "{e}");
    let s = Scene::parse(
        &scene("file = \"/nonexistent/mesh.msh\"", ""),
        Path::new("s.toml"),
    )
    .unwrap();
    let e = s.build().unwrap_err();
    assert!(e.source().is_none());
    let msg = e.to_string();
    assert_eq!(msg.matches("os error 2").count(), 1, "{msg}");
    assert_eq!(msg.matches("mesh.msh").count(), 1, "{msg}");
}

#[test]
fn event_descriptions_cover_the_phlebotomy_criteria() {
    let regions = ["skin", "fat", "muscle", "vein_wall", "vein_lumen"];
    let known = event_descriptions(&regions);
    for e in [
        "punctured skin",
        "punctured vein wall",
        "tip in vein lumen",
        "exited vein (back wall)",
        "transfixed vein",
        "tip touched skin",
        "left fat",
        "tip left the tissue",
        "needle withdrawn",
    ] {
        assert!(known.contains(e), "{e} missing from {known:?}");
    }
    for e in ["punctured skni", "tip in skin lumen", "entered liver"] {
        assert!(!known.contains(e), "{e} should not be known");
    }
}
