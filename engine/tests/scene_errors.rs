//! Scene files: bad input gives an error that says where, never a panic.

use std::path::Path;
use vesalius_engine::scene::Scene;
use vesalius_engine::solver::Threads;

fn build_err(text: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/test.toml");
    match Scene::parse(text, &path).and_then(|s| s.build()) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const BOX: &str =
    "[mesh]\ngenerator = { kind = \"box\", cells = [2, 2, 2], size = [0.01, 0.01, 0.01] }\n";
const MAT: &str =
    "[materials]\ndefault = { youngs_modulus = 1e4, poisson_ratio = 0.45, density = 1000 }\n";

#[test]
fn unknown_key_names_the_line() {
    let e = build_err(&format!("{BOX}{MAT}[simulation]\nduraton = 2.0\n"));
    assert!(e.contains("duraton") && e.contains("line 6"), "{e}");
}

#[test]
fn wrong_type_names_the_line() {
    let e = build_err(&format!("{BOX}{MAT}[simulation]\nduration = \"long\"\n"));
    assert!(e.contains("line 6"), "{e}");
}

#[test]
fn impossible_materials_are_refused() {
    for (m, what) in [
        (
            "youngs_modulus = -1e4, poisson_ratio = 0.45, density = 1000",
            "youngs_modulus",
        ),
        (
            "youngs_modulus = 1e4, poisson_ratio = 0.5, density = 1000",
            "poisson_ratio",
        ),
        (
            "youngs_modulus = 1e4, poisson_ratio = 0.45, density = 0",
            "density",
        ),
        (
            "youngs_modulus = nan, poisson_ratio = 0.45, density = 1000",
            "youngs_modulus",
        ),
        (
            "youngs_modulus = 1e4, poisson_ratio = 0.45, density = 1000, damping = -1",
            "damping",
        ),
    ] {
        let e = build_err(&format!("{BOX}[materials]\ndefault = {{ {m} }}\n"));
        assert!(e.contains(what), "{e}");
    }
}

#[test]
fn missing_material_and_unknown_region_name() {
    assert!(build_err(BOX).contains("no material"));
    let e = build_err(&format!(
        "{BOX}{MAT}[materials.liver]\nyoungs_modulus = 1e4\npoisson_ratio = 0.4\ndensity = 1000\n"
    ));
    assert!(e.contains("duplicate") || e.contains("liver"), "{e}");
}

#[test]
fn missing_mesh_file_names_the_file() {
    let e = build_err(&format!("[mesh]\nfile = \"no/such/mesh.msh\"\n{MAT}"));
    assert!(e.contains("no/such/mesh.msh"), "{e}");
}

#[test]
fn pin_selecting_nothing_and_bad_values() {
    let e = build_err(&format!(
        "{BOX}{MAT}[[pin]]\nkind = \"box\"\nmin = [5, 5, 5]\nmax = [6, 6, 6]\n"
    ));
    assert!(e.contains("selects no vertex"), "{e}");
    let e = build_err(&format!(
        "{BOX}{MAT}[[pin]]\nkind = \"vertices\"\nindices = [100000]\n"
    ));
    assert!(e.contains("out of range"), "{e}");
    let e = build_err(&format!("{BOX}{MAT}[simulation]\nduration = -1\n"));
    assert!(e.contains("duration"), "{e}");
    let e = build_err(&format!("{BOX}{MAT}[simulation]\nsubsteps = \"many\"\n"));
    assert!(e.contains("substeps"), "{e}");
    let e = build_err("[mesh]\n");
    assert!(e.contains("file") && e.contains("generator"), "{e}");
}

#[test]
fn threads_are_auto_or_a_count_and_nonsense_names_the_key_and_line() {
    for bad in ["0", "-2", "5000", "1.5", "\"many\"", "\"\""] {
        let e = build_err(&format!("{BOX}{MAT}[simulation]\nthreads = {bad}\n"));
        assert!(
            e.contains("threads must be \"auto\" or a count from 1 to 1024")
                && e.contains("line 6"),
            "threads = {bad}: {e}"
        );
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/test.toml");
    let threads = |line: &str| {
        Scene::parse(&format!("{BOX}{MAT}[simulation]\n{line}\n"), &path)
            .and_then(|s| s.build())
            .unwrap()
            .solver
            .threads
    };
    assert_eq!(threads("threads = 2"), Threads::Fixed(2));
    assert_eq!(threads("threads = \"auto\""), Threads::Auto);
    assert_eq!(threads(""), Threads::Auto);
}

#[test]
fn too_much_refinement_is_refused_and_refinement_keeps_the_mesh() {
    let e = build_err(&format!("{BOX}refine = 4\n{MAT}"));
    assert!(e.contains("refine") && e.contains("at most 3"), "{e}");
    let e = build_err(&format!(
        "[mesh]\ngenerator = {{ kind = \"box\", cells = [24, 24, 24], size = [0.1, 0.1, 0.1] }}\nrefine = 3\n{MAT}"
    ));
    assert!(e.contains("20 million"), "{e}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/test.toml");
    let built = |refine: u32| {
        Scene::parse(&format!("{BOX}refine = {refine}\n{MAT}"), &path)
            .and_then(|s| s.build())
            .unwrap()
            .model
    };
    let (coarse, fine) = (built(0), built(1));
    assert_eq!(fine.num_tets(), 8 * coarse.num_tets());
    let volume =
        |m: &vesalius_engine::model::Model| m.rest_volume.iter().map(|&v| v as f64).sum::<f64>();
    assert!((volume(&fine) - volume(&coarse)).abs() < 1e-6 * volume(&coarse));
}

/// The vein_slab generator's anatomy as scene keys: they change the mesh, and impossible
/// combinations are refused naming the keys.
#[test]
fn vein_slab_anatomy_keys_and_impossible_combinations() {
    let scene = |keys: &str| {
        format!(
            "[mesh]\ngenerator = {{ kind = \"vein_slab\", fine_size = 0.001, path_size = 0.0015, max_cell = 0.004{keys} }}\n\
             [materials]\ndefault = {{ youngs_modulus = 1e4, poisson_ratio = 0.45, density = 1000 }}\n"
        )
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/test.toml");
    let mesh = |keys: &str| {
        let (m, _) = Scene::parse(&scene(keys), &path).unwrap().mesh().unwrap();
        m
    };
    let deflt = mesh("");
    let deeper = mesh(", vein_z = -0.008, vein_radius = 0.0025, vein_angle_deg = 60.0");
    assert_ne!(deflt.positions, deeper.positions);
    let lowest = |m: &vesalius_engine::mesh::TetMesh| {
        m.tets
            .iter()
            .zip(&m.regions)
            .filter(|(_, &r)| r == vesalius_engine::mesh::generate::slab_region::VEIN_WALL)
            .flat_map(|(t, _)| t.iter().map(|&v| m.positions[v as usize][2]))
            .fold(f64::INFINITY, f64::min)
    };
    // The default vein reaches down to about -7.5 mm, the deeper one to -10.5 mm.
    assert!(lowest(&deflt) > -0.0085 && lowest(&deeper) < -0.0095);
    for (keys, want) in [
        (", vein_z = -0.001", "vein_z + vein_radius"),
        (
            ", wall_thickness = 0.003",
            "wall_thickness (0.003) must be less than vein_radius",
        ),
        (", vein_x = 0.039", "vein_x"),
        (", muscle_depth = 0.001", "muscle_depth"),
        (", vein_angle_deg = 120.0", "vein_angle_deg"),
        (", vein_radius = nan", "vein_radius"),
        (", vein_depth = 0.01", "vein_depth"),
    ] {
        let e = build_err(&scene(keys));
        assert!(e.contains(want), "{keys}: {e}");
    }
}

#[test]
fn every_shipped_scene_builds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        // Scenes with a robot are co-simulations (built by vesalius-cosim's tests).
        let cosim = text.lines().any(|l| l.trim() == "[robot]");
        if p.extension().is_some_and(|x| x == "toml") && !cosim {
            let built = Scene::load(&p)
                .and_then(|s| s.build())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(built.model.num_tets() > 0 && built.frames > 0);
            n += 1;
        }
    }
    assert!(n >= 3);
}
