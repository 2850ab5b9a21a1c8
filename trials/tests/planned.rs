//! A `plan` behaviour against the fixed stroke on one forearm whose vein the fixed stroke
//! misses (the vein 6.4 mm deep and 1.78 mm in radius: the stroke, aimed at the scene's
//! default vein, grazes its wall and ends in the fat). This forearm is also the one whose
//! skin the needle used to cross unseen (its tip comes down more steeply than its axis):
//! both runs puncture the skin. Three full-model runs (the fixed stroke, the planner's
//! calibration, the plan), two minutes here.
//!
//! What the plan does on this patient is the full model's to say, and when this was
//! written it failed: the needle-path planning model put its tip in the lumen, the full
//! model left it in the fat. The row says so, and the summary counts it.

mod common;

use std::path::Path;
use vesalius_trials::runner::summarize;

#[test]
fn a_plan_for_the_patient_is_run_on_the_full_model_and_its_misses_are_counted() {
    let scene = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/phlebotomy_plan.toml");
    let trial = format!(
        r#"
scene = "{}"
[design]
kind = "lhs"
size = 1
seed = 3
[cohort]
vein_z = {{ dist = "fixed", values = [-0.00639467232922713] }}
vein_radius = {{ dist = "fixed", values = [0.0017790636082644356] }}
wall_thickness = {{ dist = "fixed", values = [0.0005109241609772046] }}
[materials.skin.youngs_modulus]
dist = "fixed"
values = [4.794114597660317e4]
[[behaviour]]
name = "fixed"
kind = "fixed"
[[behaviour]]
name = "planned"
kind = "plan"
iterations = 12
"#,
        scene.display()
    );
    let (trial, rows, dir) = common::run_text("trial_planned", &trial);
    let (fixed, planned) = (&rows[0], &rows[1]);
    assert!(fixed.error.is_none() && planned.error.is_none());
    assert!(fixed.plan.is_none());
    assert!(!fixed.passed, "the fixed stroke misses this vein");
    for r in [fixed, planned] {
        let punctured = r.events.iter().position(|e| e.ends_with(":punctured skin"));
        let touched = r
            .events
            .iter()
            .position(|e| e.ends_with(":tip touched skin"));
        assert!(touched.is_some() && touched < punctured, "{:?}", r.events);
    }
    let plan = planned.plan.as_ref().expect("the plan");
    // The summary counts a plan the planning model passed and the patient failed.
    let s = summarize(&trial, &rows);
    let miss = usize::from(plan.planning_passed && !planned.passed);
    assert_eq!(s.behaviours[1].plan_misses, Some(miss));
    assert_eq!(s.behaviours[0].plan_misses, None);
    // The plan is within the scene's bounds.
    assert_eq!(plan.iterations, 12);
    let v = |k: &str| plan.variables[k];
    assert!((15.0..=35.0).contains(&v("pitch_deg")), "{plan:?}");
    assert!((-90.0..=90.0).contains(&v("yaw_deg")), "{plan:?}");
    assert!(plan.planning_cost.is_finite());
    // The table has the plan's columns, empty on the fixed row.
    let csv = std::fs::read_to_string(dir.join("out/results.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains("plan.pitch_deg") && header.contains("plan.planning_cost"),
        "{header}"
    );
}
