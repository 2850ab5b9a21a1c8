//! The shipped smoke trial's second forearm (`c0001-r0`), whose arm moves (2.3 mm back from
//! the robot and 0.85 mm down, from 1.6 s) after the needle is through the skin: its plan,
//! run as planned, stops in the fat where the vein was; the same plan under the online
//! supervisor re-plans when the vein moves and ends in the lumen. Two of the trial's rows,
//! each a planner's calibration and a full-model run (on the smoke's coarse patch).

use std::path::Path;
use vesalius_trials::Trial;

#[test]
fn the_supervisor_saves_the_plan_the_moving_arm_defeats() {
    let trial = Trial::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("smoke.toml")).unwrap();
    let row = |id: &str| {
        let (case, behaviour) = trial.row(id).unwrap();
        let r = trial.run_case(&case, behaviour);
        eprintln!(
            "{id}: passed {} failed {:?} error {:?}\n  {:?}\n  {:?}",
            r.passed, r.failed, r.error, r.events, r.supervisor
        );
        assert!(r.error.is_none(), "{id}: {:?}", r.error);
        r
    };
    let planned = row("c0001-r0/planned");
    let supervised = row("c0001-r0/planned_supervised");
    let moving = &planned.case.values["perturbation.motion.moving"];
    assert_eq!(moving.as_f64(), Some(1.0), "the case moves");
    // One plan for both: the same belief, seed and iterations.
    assert_eq!(planned.plan, supervised.plan);
    assert!(!planned.passed, "the plan alone reaches the moved vein");
    assert!(!planned
        .events
        .iter()
        .any(|e| e.ends_with("tip in vein lumen")));
    assert!(supervised.passed, "{:?}", supervised.failed);
    let sup = supervised.supervisor.as_ref().unwrap();
    assert!(sup.triggers.contains_key("target moved"), "{sup:?}");
}
