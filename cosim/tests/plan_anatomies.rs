//! Patients vary: on anatomies that differ from the default and where the shipped stroke of
//! phlebotomy.toml fails, `plan` finds a plan that passes on the full model.
//!
//! Each anatomy costs three to four full-model runs (the shipped stroke, the calibration, one
//! or two validations: about 2 minutes in release on 2 cores), so the test is not part of the
//! default `cargo test`:
//!
//! ```sh
//! cargo test --release -p vesalius-cosim --test plan_anatomies -- --ignored --nocapture
//! ```

use std::path::Path;
use vesalius_cosim::plan::{plan, PlanOptions};
use vesalius_cosim::{predict, BackendKind, CoSimScene, PredictOptions};

/// phlebotomy_plan.toml with the vein_slab keys `keys` and the vein centreline target moved
/// onto the vein at (`x`, `z`).
fn anatomy(keys: &str, x: f64, z: f64) -> CoSimScene {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/phlebotomy_plan.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let gen = "max_cell = 0.004 }";
    let target =
        "points = [[0.025, -0.005, -0.0055], [0.025, 0.0, -0.0055], [0.025, 0.005, -0.0055]]";
    assert!(text.contains(gen) && text.contains(target));
    let text = text
        .replacen(gen, &format!("max_cell = 0.004, {keys} }}"), 1)
        .replacen(
            target,
            &format!("points = [[{x}, -0.005, {z}], [{x}, 0.0, {z}], [{x}, 0.005, {z}]]"),
            1,
        );
    CoSimScene::parse(&text, &path).unwrap()
}

#[test]
#[ignore = "full-model runs, minutes: cargo test --release -p vesalius-cosim --test plan_anatomies -- --ignored"]
fn plans_pass_where_the_shipped_stroke_fails() {
    let cpu = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    for (name, keys, x, z) in [
        ("deeper vein", "vein_z = -0.0075", 0.025, -0.0075),
        ("vein further along", "vein_x = 0.029", 0.029, -0.0055),
        (
            "vein nearer, smaller",
            "vein_x = 0.021, vein_radius = 0.0017, wall_thickness = 0.0004",
            0.021,
            -0.0055,
        ),
    ] {
        let scene = anatomy(keys, x, z);
        let shipped = predict(&scene, None, &cpu).unwrap();
        println!(
            "{name}: shipped stroke {}: {}",
            if shipped.verdict.passed {
                "passes"
            } else {
                "fails"
            },
            shipped
                .verdict
                .failed()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
                .join("; ")
        );
        assert!(!shipped.verdict.passed, "{name}: the shipped stroke passes");
        let result = plan(
            &scene,
            &PlanOptions {
                predict: cpu.clone(),
                ..Default::default()
            },
        )
        .unwrap();
        let report = result.full_report.as_ref().expect("validated");
        println!(
            "{name}: plan {:?}, lag {:.2} mm, {}",
            result.trajectory_variables(),
            result.axial_lag.unwrap_or(0.0) * 1e3,
            if report.verdict.passed {
                "passes"
            } else {
                "FAILS"
            }
        );
        assert!(
            report.verdict.passed,
            "{name}: {:#?}",
            report.verdict.failed().collect::<Vec<_>>()
        );
    }
}
