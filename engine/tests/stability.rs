//! Substeps past the stable bound are refused before the first step, with advice that
//! works, and the bound is real: a run let past it goes wrong.

use std::path::Path;
use vesalius_engine::model::Model;
use vesalius_engine::scene::Scene;
use vesalius_engine::sim::{Backend, BackendKind, Simulation};
use vesalius_engine::solver::{SimError, SolverConfig, STABLE_COURANT};

/// A 10 cm block (2 x 2 x 2 cells, 48 tets) on the floor under gravity, 1/30 s frames.
fn block(youngs_modulus: f64, simulation: &str) -> (Model, SolverConfig) {
    let text = format!(
        "[mesh]\ngenerator = {{ kind = \"box\", cells = [2, 2, 2], size = [0.1, 0.1, 0.1] }}\n\
         [materials]\nbox = {{ youngs_modulus = {youngs_modulus:e}, poisson_ratio = 0.45, density = 1000 }}\n\
         [[pin]]\nkind = \"plane\"\nnormal = [0.0, 0.0, 1.0]\noffset = 0.0\n\
         [simulation]\nframe_dt = 0.0333333333\n{simulation}\n"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/test.toml");
    let built = Scene::parse(&text, &path).unwrap().build().unwrap();
    (built.model, built.solver)
}

/// Fraction of inverted tets and the total volume over the rest volume after `frames`
/// frames, or the error that stopped the run.
fn run(model: Model, config: &SolverConfig, frames: u32) -> Result<(f64, f64), SimError> {
    let tets = model.tets.clone();
    let rest: Vec<[f32; 3]> = model.rest_positions.clone();
    let mut sim = Simulation::new(model, config, Backend::from(BackendKind::Cpu))?;
    sim.step(frames)?;
    let pos: Vec<[f32; 3]> = sim.positions()?.collect();
    let vol = |p: &[[f32; 3]], t: &[u32; 4]| {
        let v = |i: usize| {
            let q = p[t[i] as usize];
            [q[0] as f64, q[1] as f64, q[2] as f64]
        };
        let (a, b, c, d) = (v(0), v(1), v(2), v(3));
        let e = |x: [f64; 3]| [x[0] - a[0], x[1] - a[1], x[2] - a[2]];
        let (u, w, z) = (e(b), e(c), e(d));
        (u[0] * (w[1] * z[2] - w[2] * z[1]) - u[1] * (w[0] * z[2] - w[2] * z[0])
            + u[2] * (w[0] * z[1] - w[1] * z[0]))
            / 6.0
    };
    let inverted = tets.iter().filter(|t| vol(&pos, t) <= 0.0).count();
    let total: f64 = tets.iter().map(|t| vol(&pos, t)).sum();
    let total0: f64 = tets.iter().map(|t| vol(&rest, t)).sum();
    Ok((inverted as f64 / tets.len() as f64, total / total0))
}

#[test]
fn fixed_substeps_past_the_bound_are_refused_with_advice_that_works() {
    let (model, config) = block(1e4, "substeps = 1");
    let e = run(model, &config, 30).unwrap_err();
    let text = e.to_string();
    eprintln!("{text}");
    let SimError::Unstable {
        ratio,
        courant,
        ref region,
        ref advice,
        ..
    } = e
    else {
        panic!("{e}")
    };
    assert!(courant > STABLE_COURANT && ratio > 2.0, "{courant}");
    assert_eq!(region, "box");
    assert!(text.contains("fixed substeps 1") && text.contains("allow_unstable"));
    // The advice: at least N substeps. With N the block settles sanely.
    let n: u32 = advice
        .rsplit(' ')
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{advice}"));
    assert!(n > 1);
    let (model, config) = block(1e4, &format!("substeps = {n}"));
    let (inverted, volume) = run(model, &config, 30).unwrap();
    assert!(
        inverted == 0.0 && (volume - 1.0).abs() < 0.05,
        "{inverted} {volume}"
    );

    // The bound is real: let past it, the same block goes wrong.
    let (model, config) = block(1e4, "substeps = 1\nallow_unstable = true");
    match run(model, &config, 30) {
        Err(e) => eprintln!("allowed, stopped: {e}"),
        Ok((inverted, volume)) => {
            eprintln!("allowed: {inverted} inverted, volume ratio {volume}");
            assert!(inverted > 0.0 || (volume - 1.0).abs() > 0.1);
        }
    }
}

#[test]
fn a_capped_automatic_plan_past_the_bound_is_an_error() {
    // 10 GPa: the automatic plan wants far more than the cap of substeps.
    let (model, config) = block(1e10, "substeps = \"auto\"");
    let e = run(model, &config, 1).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, SimError::Unstable { .. })
            && text.contains("capped automatic")
            && text.contains("more than 2000"),
        "{text}"
    );
}
