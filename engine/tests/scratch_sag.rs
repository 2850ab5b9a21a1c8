use vesalius_engine::mesh::generate::box_grid;
use vesalius_engine::model::*;
use vesalius_engine::solver::*;

#[test]
fn sag() {
    let n: usize = std::env::var("N").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    let mesh = box_grid([n, n, n / 2], [0.1, 0.1, 0.05], [-0.05, -0.05, std::env::var("Z0").ok().and_then(|s| s.parse().ok()).unwrap_or(0.0)]);
    let model = ModelBuilder::new(mesh)
        .default_material(Material { youngs_modulus: 1e4, poisson_ratio: 0.45, density: 1000.0, damping: 0.0 })
        .pin(PinSet::Plane { normal: [0.0, 0.0, 1.0], offset: std::env::var("Z0").ok().and_then(|s| s.parse().ok()).unwrap_or(0.0) })
        .velocity_damping(std::env::var("VD").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0))
        .build()
        .unwrap();
    let sub: u32 = std::env::var("SUB").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let ws = std::env::var("WS").map(|s| s == "1").unwrap_or(true);
    let cfg = SolverConfig { substeps: SubstepPolicy::Fixed(sub), warm_start: ws, iterations: std::env::var("ITER").ok().and_then(|s| s.parse().ok()).unwrap_or(1), ..Default::default() };
    let mut cpu = CpuXpbd::new(&model, &cfg).unwrap();
    println!("tets {} colours {} plan {:?}", model.num_tets(), model.num_colours(), cpu.plan());
    let mut st = model.state();
    let top = (0..model.num_vertices())
        .min_by(|&a, &b| {
            let d = |i: usize| {
                let p = model.rest_positions[i];
                p[0].abs() + p[1].abs() + (0.05 + std::env::var("Z0").ok().and_then(|s| s.parse::<f32>().ok()).unwrap_or(0.0) - p[2]).abs()
            };
            d(a).total_cmp(&d(b))
        })
        .unwrap();
    let t0 = std::time::Instant::now();
    for s in 0..12 {
        cpu.step(&model, &mut st, &model.control(), 30).unwrap();
        let sag = -st.displacements[top][2];
        let d = diagnostics(&model, &st);
        println!("t={:.2} sag={:.4} mm KE={:.3e} vol={:.5}", (s + 1) as f64 * 0.5, sag * 1e3, d.kinetic_energy, d.total_volume_ratio);
    }
    println!("wall {:?}", t0.elapsed());
}
