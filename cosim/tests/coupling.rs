//! Two-way coupling: a stage whose effort limit is below the tissue's resistance is stopped
//! by the tissue (force balance); with the coupling off it is not.

use vesalius_cosim::{CoSim, CoSimScene, Coupling, PredictOptions};
use vesalius_engine::sim::BackendKind;

mod common;

/// The probe's lowest point starts 1 mm above the block and is driven 15 mm into it.
fn scene() -> CoSimScene {
    common::indenter_scene(
        "two_way.toml",
        [12, 12, 6],
        1.5,
        r#"
[[trajectory]]
t = 0.0
joints = { plunge = 0.0 }
[[trajectory]]
t = 0.8
joints = { plunge = 0.016 }
"#,
    )
}

fn run(coupling: Coupling) -> (f64, f64, f64) {
    let s = scene();
    let opts = PredictOptions {
        backend: Some(BackendKind::Cpu),
        coupling: Some(coupling),
        ..Default::default()
    };
    let mut sim = CoSim::new(&s, &opts).unwrap();
    let mut last = None;
    for _ in 0..sim.frames() {
        last = Some(sim.step_frame().unwrap().clone());
    }
    let r = last.unwrap();
    // Tissue force on the probe (up), the motor's force, the plunge.
    (r.forces[0][2], r.joint_torques[0], r.joint_positions[0])
}

#[test]
fn a_weak_stage_is_stopped_by_the_tissue() {
    let limit = 1.5;
    let (tissue, motor, plunge) = run(Coupling::TwoWay);
    eprintln!(
        "two-way: tissue {tissue:.3} N, motor {motor:.3} N, plunge {:.2} mm",
        plunge * 1e3
    );
    // The motor saturates and the tissue holds it: balance within 10 %.
    assert!((motor.abs() - limit).abs() < 0.02 * limit, "motor {motor}");
    assert!(
        (tissue - limit).abs() < 0.1 * limit,
        "tissue {tissue} vs limit {limit}"
    );
    assert!(
        plunge < 0.016 - 0.002,
        "stalled short of the target: {plunge}"
    );
    let (tissue1, _, plunge1) = run(Coupling::OneWay);
    eprintln!(
        "one-way: tissue {tissue1:.3} N, plunge {:.2} mm",
        plunge1 * 1e3
    );
    // Without the reaction the stage reaches its target, and the tissue is pushed harder.
    assert!((plunge1 - 0.016).abs() < 0.5e-3, "{plunge1}");
    assert!(tissue1 > 1.2 * limit, "{tissue1}");
}
