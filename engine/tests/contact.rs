//! Tools in the tissue: rigid shapes pressing, friction, attachments; both backends.

mod common;

use vesalius_engine::contact::{Pose, ToolSetup, ToolShape, ToolShapeDesc};
use vesalius_engine::glam::DVec3;
use vesalius_engine::model::Material;
use vesalius_engine::sim::{Backend, BackendKind, Simulation};
use vesalius_engine::solver::SolverConfig;

fn sphere_setup(radius: f64, friction: f64) -> ToolSetup {
    ToolSetup {
        bodies: vec!["indenter".into()],
        shapes: vec![ToolShapeDesc {
            body: 0,
            shape: ToolShape::Sphere { radius },
            origin: Pose::IDENTITY,
            static_friction: friction,
            kinetic_friction: friction,
        }],
        ..Default::default()
    }
}

fn soft() -> Material {
    Material {
        youngs_modulus: 1.0e4,
        poisson_ratio: 0.45,
        density: 1000.0,
        damping: 0.0,
    }
}

/// Presses a sphere into the top of a 0.1 x 0.1 x 0.05 block (bottom pinned, no gravity):
/// down to `depth` over `ramp` frames, then holds `hold` frames. Returns the vertical force
/// on the sphere per frame.
fn press(
    kind: BackendKind,
    cells: usize,
    radius: f64,
    depth: f64,
    ramp: u32,
    hold: u32,
) -> Vec<f64> {
    let mut model = common::pinned_block([cells, cells, cells / 2], [0.1, 0.1, 0.05], soft());
    model.gravity = [0.0; 3];
    model.velocity_damping = 20.0;
    let mut sim = match Simulation::new(model, &SolverConfig::default(), kind.into()) {
        Ok(s) => s,
        Err(e) => panic!("{kind}: {e}"),
    };
    let centre = |d: f64| Pose::from_translation(DVec3::new(0.0, 0.0, 0.05 + radius - d));
    sim.set_tools(&sphere_setup(radius, 0.0), &[centre(0.0)])
        .unwrap();
    let mut forces = Vec::new();
    for f in 1..=ramp + hold {
        let d = depth * (f.min(ramp) as f64 / ramp as f64);
        let r = sim.step_tools(&[centre(d)]).unwrap();
        forces.push(r.wrenches[0].force.z);
    }
    forces
}

#[test]
fn a_pressed_sphere_feels_the_tissue_push_back() {
    let f = press(BackendKind::Cpu, 12, 0.02, 0.003, 20, 20);
    eprintln!("{f:?}");
    // The tissue pushes the sphere up, more the deeper it goes, and settles.
    assert!(f.iter().all(|v| v.is_finite()));
    assert!(f[19] > 0.0 && f[19] > f[9] && f[9] > f[2], "{f:?}");
    let last = f[f.len() - 1];
    assert!(
        (last - f[f.len() - 2]).abs() < 0.02 * last,
        "not settled: {f:?}"
    );
}

#[test]
fn needle_punctures_skin_at_its_threshold_and_enters_fat() {
    let model = common::layered_block([15, 15, 10], 0.002);
    let mut sim = Simulation::new(model, &SolverConfig::default(), Backend::Cpu).unwrap();
    // Slightly off the grid lines, so the tip meets a face, not an edge.
    let at = |z: f64| Pose::from_translation(DVec3::new(0.0003, 0.0002, z));
    let threshold = 0.3;
    sim.set_tools(&common::needle_setup(threshold), &[at(0.002)])
        .unwrap();
    let speed = 0.01;
    let mut log = Vec::new();
    for f in 1..=90 {
        let z = 0.002 - speed * f as f64 / 60.0;
        let r = sim.step_tools(&[at(z)]).unwrap();
        let n = r.needle.unwrap();
        for e in &n.events {
            eprintln!("{:.4} s {} force {:.3} N", e.time, e.description, e.force);
        }
        log.push((z, n.axial_force, n.tip_region.clone(), n.events.clone()));
    }
    for (z, f, r, _) in &log {
        eprintln!("z {:.2} mm  F {:.3} N  {:?}", z * 1e3, f, r);
    }
    let events: Vec<_> = log.iter().flat_map(|l| l.3.clone()).collect();
    let p = events
        .iter()
        .find(|e| e.description == "punctured skin")
        .expect("skin punctured");
    assert!(p.force >= threshold && p.force < 1.1 * threshold, "{p:?}");
}

/// No tunnelling: a 0.8 mm needle driven into skin at 0.5 m/s (8.3 mm per frame, several
/// times the 1 mm cells) never ends a frame below the skin without either having deformed
/// the surface down with it (the tissue right under the tip is at the tip) or having
/// punctured it, and the puncture still happens at the skin's threshold.
#[test]
fn a_needle_at_half_a_metre_per_second_does_not_tunnel() {
    let model = common::layered_block([15, 15, 10], 0.002);
    let rest = model.rest_positions.clone();
    let mut sim = Simulation::new(model, &SolverConfig::default(), Backend::Cpu).unwrap();
    let at = |z: f64| Pose::from_translation(DVec3::new(0.0003, 0.0002, z));
    let threshold = 0.3;
    sim.set_tools(&common::needle_setup(threshold), &[at(0.002)])
        .unwrap();
    let speed = 0.5;
    let mut punctured = None;
    for f in 1..=2 {
        let z = 0.002 - speed * f as f64 / 60.0;
        let r = sim.step_tools(&[at(z)]).unwrap();
        let n = r.needle.unwrap();
        for e in &n.events {
            eprintln!(
                "{:.4} s {} force {:.3} N tip z {:.2} mm",
                e.time,
                e.description,
                e.force,
                e.tip[2] * 1e3
            );
            if e.description == "punctured skin" && punctured.is_none() {
                punctured = Some(e.clone());
            }
        }
        // The tissue surface right under the tip: the lowest top-surface vertex within
        // 1.5 mm (in x, y) of the needle line.
        let (model, state) = sim.sync_model_and_state().unwrap();
        let pos = state.positions(model);
        let surface_z = rest
            .iter()
            .zip(&pos)
            .filter(|(r, p)| {
                r[2] > -1e-6 && (p[0] as f64 - 0.0003).hypot(p[1] as f64 - 0.0002) < 0.0015
            })
            .map(|(_, p)| p[2] as f64)
            .fold(f64::INFINITY, f64::min);
        eprintln!(
            "frame {f}: tip z {:.2} mm, surface under it {:.2} mm, region {:?}, force {:.3} N",
            z * 1e3,
            surface_z * 1e3,
            n.tip_region,
            n.axial_force
        );
        if punctured.is_none() {
            assert!(
                n.tip_region.is_none(),
                "tip inside {:?} without a puncture",
                n.tip_region
            );
            assert!(
                surface_z <= z.max(0.0) + 0.3e-3,
                "frame {f}: tip at {:.2} mm passed the surface at {:.2} mm",
                z * 1e3,
                surface_z * 1e3
            );
        }
    }
    let p = punctured.expect("the skin is punctured within 2 frames");
    assert!(p.force >= threshold && p.force < 1.1 * threshold, "{p:?}");
}

#[cfg(feature = "gpu")]
#[test]
fn gpu_and_cpu_agree_on_a_pressed_sphere() {
    if common::gpu().is_none() {
        return;
    }
    let cpu = press(BackendKind::Cpu, 8, 0.02, 0.003, 10, 5);
    let gpu = press(BackendKind::Gpu, 8, 0.02, 0.003, 10, 5);
    for (c, g) in cpu.iter().zip(&gpu) {
        assert!(
            (c - g).abs() <= 1e-4 * c.abs().max(1e-3),
            "cpu {cpu:?}\ngpu {gpu:?}"
        );
    }
}

#[cfg(feature = "gpu")]
#[test]
fn gpu_and_cpu_agree_on_a_needle_insertion() {
    if common::gpu().is_none() {
        return;
    }
    let run = |backend| {
        let model = common::layered_block([8, 8, 6], 0.003);
        let mut sim = Simulation::new(model, &SolverConfig::default(), backend).unwrap();
        let at = |z: f64| Pose::from_translation(DVec3::new(0.0003, 0.0002, z));
        sim.set_tools(&common::needle_setup(0.2), &[at(0.001)])
            .unwrap();
        let mut out = Vec::new();
        for f in 1..=45 {
            let r = sim
                .step_tools(&[at(0.001 - 0.02 * f as f64 / 60.0)])
                .unwrap();
            let n = r.needle.unwrap();
            out.push((
                n.axial_force,
                n.events
                    .iter()
                    .map(|e| e.description.clone())
                    .collect::<Vec<_>>(),
            ));
        }
        out
    };
    let cpu = run(Backend::Cpu);
    let gpu = run(Backend::Gpu { adapter: None });
    let ev = |v: &Vec<(f64, Vec<String>)>| v.iter().flat_map(|x| x.1.clone()).collect::<Vec<_>>();
    assert_eq!(ev(&cpu), ev(&gpu));
    assert!(
        ev(&cpu).contains(&"punctured skin".to_string()),
        "{:?}",
        ev(&cpu)
    );
    for ((c, _), (g, _)) in cpu.iter().zip(&gpu) {
        assert!(
            (c - g).abs() <= 2e-3 * c.abs().max(0.05),
            "cpu {cpu:?}\ngpu {gpu:?}"
        );
    }
}

/// Hertz: a rigid frictionless sphere (R = 20 mm) pressed d = 2 mm (d / R = 0.1) into a
/// 120 x 120 x 60 mm block (E = 10 kPa, nu = 0.45, bottom bonded) gives
/// F = 4/3 E / (1 - nu^2) sqrt(R) d^(3/2). Resolution: 1 mm cells within 8 mm of the contact
/// axis and of the top, growing by 1.3 outward (about 140k tets); auto substeps; a 0.5 s
/// ramp, then 0.25 s of hold with velocity damping to settle.
#[test]
fn hertz_indentation_of_a_graded_block() {
    use vesalius_engine::mesh::generate::{box_grid_graded, graded_coords};
    use vesalius_engine::model::{ModelBuilder, PinSet};
    let (half, depth) = (0.06, 0.06);
    let xs = graded_coords(-half, half, 0.0, 0.001, 0.008, 1.3);
    let zs = graded_coords(0.0, depth, depth, 0.001, 0.008, 1.3);
    let mesh = box_grid_graded(&xs, &xs, &zs).unwrap();
    let (e, nu) = (1.0e4, 0.45);
    let mut model = ModelBuilder::new(mesh)
        .default_material(Material {
            youngs_modulus: e,
            poisson_ratio: nu,
            density: 1000.0,
            damping: 0.0,
        })
        .pin(PinSet::Plane {
            normal: [0.0, 0.0, 1.0],
            offset: 0.0,
        })
        .velocity_damping(30.0)
        .build()
        .unwrap();
    model.gravity = [0.0; 3];
    eprintln!("Hertz block: {} tets", model.num_tets());
    let r = 0.02;
    let mut sim = Simulation::new(model, &SolverConfig::default(), Backend::Cpu).unwrap();
    let centre = |d: f64| Pose::from_translation(DVec3::new(0.0, 0.0, depth + r - d));
    sim.set_tools(&sphere_setup(r, 0.0), &[centre(0.0)])
        .unwrap();
    let dmax = 0.002;
    let (ramp, hold) = (30, 15);
    let mut forces = Vec::new();
    for f in 1..=ramp + hold {
        let d = dmax * (f.min(ramp) as f64 / ramp as f64);
        forces.push((d, sim.step_tools(&[centre(d)]).unwrap().wrenches[0].force.z));
    }
    let hertz = |d: f64| 4.0 / 3.0 * e / (1.0 - nu * nu) * r.sqrt() * d.powf(1.5);
    for (d, f) in forces.iter().step_by(5) {
        eprintln!(
            "d {:.2} mm  F {:.4} N  Hertz {:.4} N",
            d * 1e3,
            f,
            hertz(*d)
        );
    }
    // Rises monotonically with depth during the ramp (a 2 % allowance for the dynamics).
    for w in forces[..ramp as usize].windows(2) {
        assert!(w[1].1 >= 0.98 * w[0].1, "not monotonic: {forces:?}");
    }
    let settled = forces.last().unwrap().1;
    let expected = hertz(dmax);
    eprintln!(
        "settled {settled:.4} N, Hertz {expected:.4} N, {:+.1} %",
        100.0 * (settled / expected - 1.0)
    );
    assert!(
        (settled / expected - 1.0).abs() < 0.15,
        "{settled} vs {expected}"
    );
}

/// A body attached to the top-centre vertices of a pinned block lifts them 2 mm: the tissue
/// pulls it back down, more the higher it goes; both backends report the same force.
fn lift(kind: BackendKind) -> Vec<f64> {
    use vesalius_engine::contact::Attachment;
    let mut model = common::pinned_block([8, 8, 4], [0.1, 0.1, 0.05], soft());
    model.gravity = [0.0; 3];
    model.velocity_damping = 20.0;
    let grip: Vec<u32> = model
        .rest_positions
        .iter()
        .enumerate()
        .filter(|(_, p)| (p[0] as f64).hypot(p[1] as f64) < 0.02 && p[2] as f64 > 0.0499)
        .map(|(i, _)| i as u32)
        .collect();
    assert!(grip.len() >= 5, "{}", grip.len());
    let setup = ToolSetup {
        bodies: vec!["grasper".into()],
        attachments: vec![Attachment {
            body: Some(0),
            vertices: grip,
        }],
        ..Default::default()
    };
    let mut sim = Simulation::new(model, &SolverConfig::default(), kind.into()).unwrap();
    let at = |z: f64| Pose::from_translation(DVec3::new(0.0, 0.0, 0.05 + z));
    sim.set_tools(&setup, &[at(0.0)]).unwrap();
    (1..=15)
        .map(|f| {
            let r = sim
                .step_tools(&[at(0.002 * (f.min(10) as f64) / 10.0)])
                .unwrap();
            r.wrenches[0].force.z
        })
        .collect()
}

#[test]
fn an_attachment_lifting_tissue_is_pulled_back() {
    let f = lift(BackendKind::Cpu);
    eprintln!("{f:?}");
    assert!(f.iter().all(|v| v.is_finite() && *v < 0.0), "{f:?}");
    assert!(f[9] < f[4] && f[4] < f[1], "{f:?}");
}

#[cfg(feature = "gpu")]
#[test]
fn gpu_and_cpu_agree_on_an_attachment() {
    if common::gpu().is_none() {
        return;
    }
    let cpu = lift(BackendKind::Cpu);
    let gpu = lift(BackendKind::Gpu);
    for (c, g) in cpu.iter().zip(&gpu) {
        assert!(
            (c - g).abs() <= 1e-4 * c.abs().max(1e-3),
            "cpu {cpu:?}\ngpu {gpu:?}"
        );
    }
}

/// Tool poses are part of the control: `set_control` with `tool_poses` and `step` gives
/// the same bits as `step_tools`; several frames of one control move the tools in the first
/// and hold them after; tool poses without tools are refused.
#[test]
fn tool_poses_in_the_control_step_as_step_tools() {
    use vesalius_engine::model::Control;
    let build = || {
        let mut model = common::pinned_block([6, 6, 3], [0.1, 0.1, 0.05], soft());
        model.gravity = [0.0; 3];
        model.velocity_damping = 20.0;
        Simulation::new(model, &SolverConfig::default(), BackendKind::Cpu.into()).unwrap()
    };
    let radius = 0.01;
    let centre = |d: f64| Pose::from_translation(DVec3::new(0.0, 0.0, 0.05 + radius - d));
    let (mut a, mut b) = (build(), build());
    for s in [&mut a, &mut b] {
        s.set_tools(&sphere_setup(radius, 0.2), &[centre(0.0)])
            .unwrap();
    }
    for f in 1..=12 {
        let pose = centre(0.004 * f.min(8) as f64 / 8.0);
        let ra = a.step_tools(&[pose]).unwrap();
        b.set_control(Control {
            tool_poses: vec![pose],
            ..Default::default()
        });
        b.step(1).unwrap();
        assert_eq!(Some(&ra), b.contact_report(), "frame {f}");
    }
    assert_eq!(a.sync_state().unwrap(), b.sync_state().unwrap());
    assert!(a.contact_report().unwrap().wrenches[0].force.z > 0.0);
    // Three frames of one control: the same as three frames holding the last pose.
    a.step_tools(&[centre(0.004)]).unwrap();
    a.step_tools(&[centre(0.004)]).unwrap();
    a.step_tools(&[centre(0.004)]).unwrap();
    b.step(3).unwrap();
    assert_eq!(a.contact_report(), b.contact_report());
    assert_eq!(a.sync_state().unwrap(), b.sync_state().unwrap());
    // No tools: refused.
    let mut c = build();
    c.set_control(Control {
        tool_poses: vec![centre(0.0)],
        ..Default::default()
    });
    let err = c.step(1).unwrap_err().to_string();
    assert!(err.contains("no tools"), "{err}");
}
