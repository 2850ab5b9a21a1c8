//! The energy guard in a co-simulation, where the tools do work on the tissue every frame:
//! the guard balances the tissue's energy against the work the tools did (measured from
//! their mean wrench and their motion over each frame).
//!
//! - A probe pressed 5 mm into a block and held: the tissue's final energy is at most the
//!   work the probe did on it (within 2 %), integrated here from the recorded force and the
//!   joint's plunge, and most of that work is stored (slow indentation); the guard stays
//!   quiet.
//! - The same press with fixed substeps past the stable bound (allowed by the scene,
//!   effective Courant 1.84 against 1.25): the tissue gains energy the probe did not put in
//!   as it lands, before any tet inverts or flies, and the energy guard stops the run; at
//!   automatic substeps the same press passes.

use vesalius_cosim::{CoSim, CoSimScene, PredictOptions};
use vesalius_engine::scene::SubstepsSpec;
use vesalius_engine::sim::BackendKind;
use vesalius_engine::solver::{diagnostics, GuardKind};

mod common;

fn cpu() -> PredictOptions {
    PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    }
}

/// The probe (1 mm above the block) driven to `plunge` at `t_in`, then to `back` at `t_out`.
fn press(
    cells: [u32; 3],
    duration: f64,
    plunge: f64,
    t_in: f64,
    back: f64,
    t_out: f64,
) -> CoSimScene {
    common::indenter_scene(
        "energy.toml",
        cells,
        duration,
        &format!(
            "[[trajectory]]\nt = 0.0\njoints = {{ plunge = 0.0 }}\n\
             [[trajectory]]\nt = {t_in}\njoints = {{ plunge = {plunge} }}\n\
             [[trajectory]]\nt = {t_out}\njoints = {{ plunge = {back} }}\n"
        ),
    )
}

#[test]
fn the_tissue_stores_at_most_the_work_the_probe_did() {
    // Driven 6 mm (5 mm into the block) over 1 s, then held 0.6 s.
    let sc = press([8, 8, 4], 1.6, 0.006, 1.0, 0.006, 1.1);
    let mut sim = CoSim::new(&sc, &cpu()).unwrap();
    let (mut work, mut force, mut last_plunge) = (0.0, 0.0, None);
    for _ in 0..sim.frames() {
        let r = sim.step_frame().unwrap();
        assert!(r.guard.is_none(), "{:?}", r.guard);
        // The tissue pushes the probe up (+z) as the plunge (down) grows: the probe's work
        // on the tissue over a frame is the frame's mean force times the frame's plunge.
        let q = r.joint_positions[0];
        force = r.forces[0][2];
        if let Some(q0) = last_plunge {
            work += force * (q - q0);
        }
        last_plunge = Some(q);
    }
    let (model, state) = sim.tissue().sync_model_and_state().unwrap();
    let d = diagnostics(model, state);
    let stored = d.elastic_energy + d.kinetic_energy + d.gravity_energy;
    eprintln!(
        "work {work:.4e} J, stored {stored:.4e} J (elastic {:.4e}, kinetic {:.1e}), force {:.3} N",
        d.elastic_energy, d.kinetic_energy, force
    );
    assert!(work > 1e-4, "the probe pressed the block: {work}");
    assert!(stored <= 1.02 * work, "stored {stored} > work {work}");
    assert!(stored >= 0.7 * work, "stored {stored} of work {work}");
}

#[test]
fn energy_the_probe_did_not_put_in_breaks_the_energy_guard() {
    // In 3 mm and out again by 0.6 s, then 0.4 s with nothing touching the block.
    let run = |substeps: Option<u32>| {
        let mut sc = press([4, 4, 2], 1.0, 0.004, 0.3, 0.0, 0.6);
        if let Some(n) = substeps {
            sc.file.simulation.frame_dt = 1.0 / 30.0;
            sc.file.simulation.substeps = SubstepsSpec::Count(n);
            sc.file.simulation.allow_unstable = true;
        }
        // Undamped, so that nothing hides the instability.
        sc.file.simulation.velocity_damping = 0.0;
        vesalius_cosim::predict(&sc, None, &cpu()).unwrap()
    };
    let broken = run(Some(4));
    let breach = broken.guard_breach.clone().expect("a guard breaks");
    eprintln!("{breach}");
    assert_eq!(breach.guard, GuardKind::EnergyGrowth, "{breach}");
    assert!(breach.cause.contains("substeps 4"), "{breach}");
    assert!(!broken.verdict.passed);
    let ok = run(None);
    assert!(ok.guard_breach.is_none(), "{:?}", ok.guard_breach);
    assert!(ok.verdict.passed, "{:?}", ok.verdict);
}
