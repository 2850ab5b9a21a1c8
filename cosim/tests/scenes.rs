//! Every shipped co-simulation scene builds (robot, tools, needle, trajectory through IK)
//! and runs a few frames without error.

use vesalius_cosim::{CoSim, CoSimScene, PredictOptions};
use vesalius_engine::sim::BackendKind;

#[test]
fn every_shipped_cosim_scene_runs_a_few_frames() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        if p.extension().is_none_or(|x| x != "toml") || !vesalius_cosim::scene::is_cosim(&text) {
            continue;
        }
        let scene = CoSimScene::load(&p).unwrap();
        let opts = PredictOptions {
            backend: Some(BackendKind::Cpu),
            ..Default::default()
        };
        let mut sim = CoSim::new(&scene, &opts).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        for _ in 0..3 {
            let r = sim
                .step_frame()
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(r.forces.iter().flatten().all(|v| v.is_finite()));
        }
        n += 1;
    }
    assert!(n >= 1);
}
