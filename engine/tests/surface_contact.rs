//! Face contact (issue 16): tool shapes against the tissue's surface triangles, so that the
//! force a tool feels does not depend on where it lands on the vertex grid.

mod common;

use std::f64::consts::FRAC_PI_2;
use vesalius_engine::contact::{Pose, SurfaceContact, ToolSetup, ToolShape, ToolShapeDesc};
use vesalius_engine::glam::{DQuat, DVec3};
use vesalius_engine::mesh::generate::box_grid;
use vesalius_engine::model::{Material, ModelBuilder, PinSet};
use vesalius_engine::sim::{BackendKind, Simulation};
use vesalius_engine::solver::SolverConfig;

const RADIUS: f64 = 0.0025;
const DEPTH: f64 = 0.0015;
const TOP: f64 = 0.02;
/// Longer than the block: the shaft crosses it, as the palpation instrument crosses the kidney.
const HALF_LENGTH: f64 = 0.03;

/// The palpation instrument's shaft (a 5 mm cylinder) laid along y.
fn shaft(mode: SurfaceContact) -> ToolSetup {
    ToolSetup {
        bodies: vec!["instrument".into()],
        shapes: vec![ToolShapeDesc {
            body: 0,
            shape: ToolShape::Cylinder {
                radius: RADIUS,
                half_length: HALF_LENGTH,
            },
            origin: Pose::new(DVec3::ZERO, DQuat::from_rotation_x(FRAC_PI_2)),
            static_friction: 0.0,
            kinetic_friction: 0.0,
        }],
        surface_contact: mode,
        ..Default::default()
    }
}

/// A 10 kPa block (nu 0.45) with its bottom (z = 0) pinned, no gravity, this velocity
/// damping (1/s).
fn pinned_block(
    mesh: vesalius_engine::mesh::TetMesh,
    damping: f64,
) -> vesalius_engine::model::Model {
    let mut model = ModelBuilder::new(mesh)
        .default_material(Material {
            youngs_modulus: 1.0e4,
            poisson_ratio: 0.45,
            density: 1000.0,
            damping: 0.0,
        })
        .pin(PinSet::Plane {
            normal: [0.0, 0.0, 1.0],
            offset: 0.0,
        })
        .velocity_damping(damping)
        .build()
        .expect("the block");
    model.gravity = [0.0; 3];
    model
}

/// The settled vertical force (N) on the shaft pressed `DEPTH` at lateral offset `x` (m) into
/// a 40 x 40 x 20 mm block (10 kPa, bottom pinned, no gravity) of `cell` (m) cells, and what
/// the contact resolved to.
fn press(kind: BackendKind, mode: SurfaceContact, cell: f64, x: f64) -> (f64, bool) {
    let n = (0.04 / cell).round() as usize;
    let model = pinned_block(
        box_grid([n, n, n / 2], [0.04, 0.04, TOP], [-0.02, -0.02, 0.0]),
        20.0,
    );
    let at = |d: f64| Pose::from_translation(DVec3::new(x, 0.0, TOP + RADIUS - d));
    let mut sim = Simulation::new(model, &SolverConfig::default(), kind.into())
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    sim.set_tools(&shaft(mode), &[at(0.0)]).expect("tools");
    let faces = sim.contacts().expect("tools set").surface_contact().faces;
    (ramp_and_hold(&mut sim, DEPTH, (30, 40), at), faces)
}

/// Presses the tool body at `at(d)` from d = 0 to `depth` over `frames.0` frames and holds it
/// `frames.1` more; the vertical force of the last frame (N).
fn ramp_and_hold(
    sim: &mut Simulation,
    depth: f64,
    (ramp, hold): (usize, usize),
    at: impl Fn(f64) -> Pose,
) -> f64 {
    let mut f = 0.0;
    for k in 1..=ramp + hold {
        let d = depth * (k.min(ramp) as f64 / ramp as f64);
        f = sim.step_tools(&[at(d)]).expect("a frame").wrenches[0]
            .force
            .z;
    }
    f
}

/// The forces at ten lateral offsets across one cell, and whether face contact ran.
fn across_a_cell(mode: SurfaceContact, cell: f64) -> (Vec<f64>, bool) {
    let runs: Vec<(f64, bool)> = (0..10)
        .map(|k| press(BackendKind::Cpu, mode, cell, cell * k as f64 / 10.0))
        .collect();
    (runs.iter().map(|r| r.0).collect(), runs[0].1)
}

/// Largest deviation from the mean, relative to it.
fn spread(f: &[f64]) -> f64 {
    let mean = f.iter().sum::<f64>() / f.len() as f64;
    f.iter().map(|x| (x - mean).abs()).fold(0.0, f64::max) / mean
}

/// On 2 mm cells (under the shaft's radius) the force is the same within 5 % wherever the
/// shaft lands (vertex contact alone: 0.197-0.224 N, the README's baseline).
#[test]
fn a_shaft_feels_the_same_force_wherever_it_lands() {
    let (f, faces) = across_a_cell(SurfaceContact::Faces, 0.002);
    assert!(faces);
    eprintln!(
        "2 mm cells, faces: {f:.4?}, spread {:.1} %",
        100.0 * spread(&f)
    );
    assert!(spread(&f) < 0.05, "{f:?}");
}

/// On 4 mm cells (wider than the shaft's radius) vertex contact lets the shaft sink between
/// vertex lines (forces 2.7x apart); faces hold it up. What is left (about 1.2x) is the
/// coarse tets' own stiffness under a load between their nodes, not the contact: no point
/// of the surface is left more than a tenth of a millimetre inside the shaft.
#[test]
fn faces_hold_a_shaft_up_between_coarse_vertices() {
    let (v, faces_v) = across_a_cell(SurfaceContact::Vertices, 0.004);
    let (f, faces_f) = across_a_cell(SurfaceContact::Faces, 0.004);
    assert!(!faces_v && faces_f);
    let ratio = |x: &[f64]| {
        x.iter().copied().fold(0.0, f64::max) / x.iter().copied().fold(f64::INFINITY, f64::min)
    };
    eprintln!("4 mm cells, vertices: {v:.4?} (max/min {:.2})", ratio(&v));
    eprintln!("4 mm cells, faces:    {f:.4?} (max/min {:.2})", ratio(&f));
    assert!(ratio(&v) > 2.0, "the baseline is mesh dependent: {v:?}");
    assert!(ratio(&f) < 1.3, "{f:?}");
    // Faces carry the shaft at least as high as the highest vertex-contact case.
    let vmax = v.iter().copied().fold(0.0, f64::max);
    assert!(f.iter().all(|&x| x > 0.9 * vmax), "{f:?} against {vmax}");
}

/// What `SurfaceContact::Auto` picks for `shape` over a 40 x 40 x 20 mm block of 5 mm cells.
fn auto_choice(shape: ToolShape) -> vesalius_engine::contact::SurfaceContactChoice {
    let mut model = common::pinned_block([8, 8, 4], [0.04, 0.04, 0.02], common::tissue(1e4, 0.45));
    model.gravity = [0.0; 3];
    let setup = ToolSetup {
        bodies: vec!["tool".into()],
        shapes: vec![ToolShapeDesc {
            body: 0,
            shape,
            origin: Pose::IDENTITY,
            static_friction: 0.0,
            kinetic_friction: 0.0,
        }],
        ..Default::default()
    };
    let mut sim =
        Simulation::new(model, &SolverConfig::default(), BackendKind::Cpu.into()).unwrap();
    sim.set_tools(
        &setup,
        &[Pose::from_translation(DVec3::new(0.0, 0.0, 0.08))],
    )
    .unwrap();
    sim.contacts().unwrap().surface_contact().clone()
}

/// Auto: a tool wider than the surface spacing keeps vertex contact, a thinner one gets
/// faces, and each says so.
#[test]
fn auto_picks_faces_only_for_a_tool_thinner_than_the_spacing() {
    let wide = auto_choice(ToolShape::Sphere { radius: 0.01 });
    assert!(!wide.faces, "{wide}");
    assert!((wide.mean_edge - 0.0055).abs() < 0.0015, "{wide}");
    assert!(
        wide.to_string().starts_with("tool contact: vertices"),
        "{wide}"
    );
    let thin = auto_choice(ToolShape::Cylinder {
        radius: RADIUS,
        half_length: HALF_LENGTH,
    });
    assert!(thin.faces, "{thin}");
    assert!(
        thin.to_string().starts_with("tool contact: faces"),
        "{thin}"
    );
}

/// The same bits on any CPU team with face contact on (its two passes write disjoint slots
/// and gather in a fixed order).
#[test]
fn face_contact_gives_the_same_bits_on_any_team() {
    use vesalius_engine::solver::Threads;
    let run = |threads: Threads| {
        let mesh = box_grid([10, 10, 5], [0.04, 0.04, TOP], [-0.02, -0.02, 0.0]);
        let mut model = ModelBuilder::new(mesh)
            .default_material(common::tissue(1e4, 0.45))
            .pin(PinSet::Plane {
                normal: [0.0, 0.0, 1.0],
                offset: 0.0,
            })
            .build()
            .unwrap();
        model.gravity = [0.0; 3];
        let config = SolverConfig {
            threads,
            ..Default::default()
        };
        let mut sim = Simulation::new(model, &config, BackendKind::Cpu.into()).unwrap();
        // Pressed and dragged sideways with friction.
        let mut setup = shaft(SurfaceContact::Faces);
        setup.shapes[0].static_friction = 0.4;
        setup.shapes[0].kinetic_friction = 0.3;
        let at = |k: u32| {
            let d = DEPTH * (k.min(10) as f64 / 10.0);
            let x = 0.0013 + 0.0002 * k.saturating_sub(10) as f64;
            Pose::from_translation(DVec3::new(x, 0.0, TOP + RADIUS - d))
        };
        sim.set_tools(&setup, &[at(0)]).unwrap();
        let mut forces = Vec::new();
        for k in 1..=20 {
            let w = sim.step_tools(&[at(k)]).unwrap().wrenches[0];
            forces.push([w.force.x, w.force.z, w.torque.y]);
        }
        let pos: Vec<[f32; 3]> = sim.positions().unwrap().collect();
        (forces, pos)
    };
    let one = run(Threads::Fixed(1));
    assert!(one.0.last().unwrap()[1] > 0.1, "{:?}", one.0);
    assert!(
        one.0.last().unwrap()[0].abs() > 0.01,
        "friction drags: {:?}",
        one.0
    );
    for threads in [Threads::Fixed(2), Threads::Fixed(3)] {
        assert_eq!(one, run(threads), "{threads:?}");
    }
}

#[cfg(feature = "gpu")]
#[test]
fn gpu_and_cpu_agree_on_face_contact() {
    if common::gpu().is_none() {
        return;
    }
    for x in [0.0, 0.0013] {
        let (c, cf) = press(BackendKind::Cpu, SurfaceContact::Faces, 0.004, x);
        let (g, gf) = press(BackendKind::Gpu, SurfaceContact::Faces, 0.004, x);
        assert!(cf && gf);
        assert!((c - g).abs() <= 2e-3 * c, "x {x}: cpu {c} gpu {g}");
    }
}

/// The settled force (N) on a frictionless 20 mm sphere pressed 2 mm (over 30 frames, held
/// 15) at lateral offset `off` (m) into a 120 x 120 x 60 mm block of `cell` (m) cells
/// (10 kPa, nu 0.45, bottom pinned): the Hertz case of `tests/contact.rs` on a coarse mesh.
fn coarse_hertz(mode: SurfaceContact, cell: f64, off: [f64; 2]) -> f64 {
    let (half, depth, r) = (0.06, 0.06, 0.02);
    let n = (2.0 * half / cell).round() as usize;
    let model = pinned_block(
        box_grid(
            [n, n, n / 2],
            [2.0 * half, 2.0 * half, depth],
            [-half, -half, 0.0],
        ),
        30.0,
    );
    let setup = ToolSetup {
        bodies: vec!["indenter".into()],
        shapes: vec![ToolShapeDesc {
            body: 0,
            shape: ToolShape::Sphere { radius: r },
            origin: Pose::IDENTITY,
            static_friction: 0.0,
            kinetic_friction: 0.0,
        }],
        surface_contact: mode,
        ..Default::default()
    };
    let mut sim = Simulation::new(model, &SolverConfig::default(), BackendKind::Cpu.into())
        .expect("a stable plan");
    let at = |d: f64| Pose::from_translation(DVec3::new(off[0], off[1], depth + r - d));
    sim.set_tools(&setup, &[at(0.0)]).expect("tools");
    let (ramp, hold) = (30, 15);
    let mut f = 0.0;
    for k in 1..=ramp + hold {
        let d = 0.002 * (k.min(ramp) as f64 / ramp as f64);
        f = sim.step_tools(&[at(d)]).expect("a frame").wrenches[0]
            .force
            .z;
    }
    f
}

/// Cells as large as the Hertz contact radius (6 mm cells, a = sqrt(R d) = 6.3 mm): face
/// contact gives the same force wherever the sphere lands (on a vertex, on an edge's middle,
/// on a cell's centre), and never less than Hertz. The surface is piecewise linear and may
/// not pass into the sphere anywhere, so the coarse block can only take shapes the continuum
/// could also take: a displacement finite-element solution is stiffer than the exact one
/// (measured +61 % at every landing point; the 25 % is out of reach of linear
/// tets this coarse). Vertex contact lets the sphere sink between vertices, so it reads
/// differently per landing point (+22 % to +37 % here; on 12 mm cells -80 % to +69 %).
#[test]
fn faces_on_coarse_cells_give_one_force_above_hertz() {
    let (cell, r, d, e, nu) = (0.006, 0.02f64, 0.002f64, 1.0e4, 0.45f64);
    let hertz = 4.0 / 3.0 * e / (1.0 - nu * nu) * r.sqrt() * d.powf(1.5);
    let landings = [[0.0, 0.0], [0.5 * cell, 0.0], [0.5 * cell, 0.5 * cell]];
    let faces: Vec<f64> = landings
        .iter()
        .map(|&o| coarse_hertz(SurfaceContact::Faces, cell, o))
        .collect();
    let vertices: Vec<f64> = landings
        .iter()
        .map(|&o| coarse_hertz(SurfaceContact::Vertices, cell, o))
        .collect();
    eprintln!("Hertz {hertz:.4} N; faces {faces:.4?}; vertices {vertices:.4?}");
    assert!(spread(&faces) < 0.02, "{faces:?}");
    assert!(
        faces.iter().all(|&f| f > hertz),
        "{faces:?} under Hertz {hertz}"
    );
    assert!(
        spread(&vertices) > 2.0 * spread(&faces),
        "{vertices:?} vs {faces:?}"
    );
}

/// The needle of `shaft_press`: 40 mm long, radius 0.4 mm, lying along x with its tip at
/// x = 20 mm (past the block's edge, so the tip never enters), lowered 1 mm into the block.
const NEEDLE_LENGTH: f64 = 0.04;
const NEEDLE_RADIUS: f64 = 0.0004;
const NEEDLE_TIP_X: f64 = 0.02;
const NEEDLE_DEPTH: f64 = 0.001;
/// The block of `shaft_press`: 20 x 20 x 10 mm, bottom pinned.
const SHAFT_BLOCK: [f64; 3] = [0.02, 0.02, 0.01];

/// The settled vertical force (N) on a needle laid flat along x at lateral offset `y` (m)
/// on a `SHAFT_BLOCK` of `cell` (m) cells (10 kPa, bottom pinned, no gravity) and lowered
/// `NEEDLE_DEPTH` into it over 30 frames (held 30), with this bevel length (m); how far (m)
/// the surface under the shaft is left above the shaft's bottom (how deep the shaft is
/// buried in it: 0 when the surface holds it up); the final positions.
fn shaft_press(
    kind: BackendKind,
    cell: f64,
    y: f64,
    bevel_length: f64,
    threads: usize,
) -> (f64, f64, Vec<[f32; 3]>) {
    use vesalius_engine::contact::NeedleSpec;
    use vesalius_engine::solver::Threads;
    let [lx, ly, lz] = SHAFT_BLOCK;
    let n = |l: f64| (l / cell).round() as usize;
    let model = pinned_block(
        box_grid(
            [n(lx), n(ly), n(lz)],
            SHAFT_BLOCK,
            [-lx / 2.0, -ly / 2.0, 0.0],
        ),
        20.0,
    );
    let setup = ToolSetup {
        bodies: vec!["needle".into()],
        needle: Some(NeedleSpec {
            body: 0,
            tip: DVec3::new(NEEDLE_TIP_X, 0.0, 0.0),
            axis: DVec3::X,
            length: NEEDLE_LENGTH,
            radius: NEEDLE_RADIUS,
            track_spacing: None,
            bevel_length: Some(bevel_length),
        }),
        ..Default::default()
    };
    let config = SolverConfig {
        threads: Threads::Fixed(threads),
        ..Default::default()
    };
    let mut sim = Simulation::new(model, &config, kind.into()).unwrap_or_else(|e| panic!("{e}"));
    let at = |d: f64| Pose::from_translation(DVec3::new(0.0, y, lz + NEEDLE_RADIUS - d));
    sim.set_tools(&setup, &[at(0.0)]).expect("tools");
    let f = ramp_and_hold(&mut sim, NEEDLE_DEPTH, (30, 30), at);
    let pos: Vec<[f32; 3]> = sim.positions().unwrap().collect();
    let bottom = lz - NEEDLE_DEPTH;
    let buried = pos
        .iter()
        .filter(|p| {
            (p[0] as f64).abs() < 0.4 * lx
                && (p[1] as f64 - y).abs() <= 0.5 * NEEDLE_RADIUS
                && (p[2] as f64) > 0.5 * lz
        })
        .map(|p| (p[2] as f64 - bottom).max(0.0))
        .fold(0.0, f64::max);
    (f, buried, pos)
}

/// A needle lowered sideways onto tissue before any puncture (issue 16): its shaft holds
/// the surface up by its faces wherever it lands (on a vertex line, a quarter and half a
/// cell off), on 2 mm and on 1 mm cells, and has the same bits on one and two threads. The
/// force still depends on the landing on 2 mm cells, five shaft radii wide (a load
/// narrower than a cell is carried by one vertex line or shared by two: the linear tets'
/// own stiffness, not the contact): within 20 %; on 1 mm cells within 5 %. With its
/// shaft contact off (a bevel as long as the needle) the shaft sinks its whole 1 mm into
/// the surface and feels nothing, as every needle did before.
#[test]
fn a_needle_laid_on_the_tissue_pushes_it_with_its_shaft() {
    let bevel = vesalius_engine::contact::DEFAULT_BEVEL_LENGTH;
    let across = |cell: f64| -> Vec<(f64, f64, Vec<[f32; 3]>)> {
        [0.0, 0.25, 0.5]
            .iter()
            .map(|&k| shaft_press(BackendKind::Cpu, cell, k * cell, bevel, 1))
            .collect()
    };
    let coarse = across(0.002);
    let fine = across(0.001);
    let forces = |r: &[(f64, f64, Vec<[f32; 3]>)]| r.iter().map(|r| r.0).collect::<Vec<_>>();
    let buried = |r: &[(f64, f64, Vec<[f32; 3]>)]| r.iter().map(|r| r.1).collect::<Vec<_>>();
    let (fc, ff) = (forces(&coarse), forces(&fine));
    let (off, off_buried, _) = shaft_press(BackendKind::Cpu, 0.002, 0.0, 1.0, 1);
    eprintln!(
        "needle shaft, 2 mm cells: {fc:.4?} N (spread {:.1} %), buried {:.2e} m; 1 mm cells: \
         {ff:.4?} N (spread {:.1} %), buried {:.2e} m; shaft contact off {off:.1e} N, buried \
         {off_buried:.2e} m",
        100.0 * spread(&fc),
        buried(&coarse).iter().copied().fold(0.0, f64::max),
        100.0 * spread(&ff),
        buried(&fine).iter().copied().fold(0.0, f64::max),
    );
    assert!(fc.iter().chain(&ff).all(|&f| f > 0.05), "{fc:?} {ff:?}");
    for b in buried(&coarse).into_iter().chain(buried(&fine)) {
        assert!(b < 0.25 * NEEDLE_RADIUS, "buried {b}");
    }
    // Measured: 0.167-0.217 N on 2 mm cells, 0.149-0.152 N on 1 mm cells.
    assert!(spread(&fc) < 0.2, "{fc:?}");
    assert!(spread(&ff) < 0.05, "{ff:?}");
    assert!(off.abs() < 1e-3 * fc[0], "{off}");
    assert!(off_buried > 0.9 * NEEDLE_DEPTH, "{off_buried}");
    let (f2, _, pos2) = shaft_press(BackendKind::Cpu, 0.002, 0.0, bevel, 2);
    assert_eq!((fc[0], &coarse[0].2), (f2, &pos2));
}

#[cfg(feature = "gpu")]
#[test]
fn gpu_and_cpu_agree_on_the_needle_shaft() {
    if common::gpu().is_none() {
        return;
    }
    let bevel = vesalius_engine::contact::DEFAULT_BEVEL_LENGTH;
    for y in [0.0, 0.0005] {
        let (c, _, _) = shaft_press(BackendKind::Cpu, 0.002, y, bevel, 1);
        let (g, buried, _) = shaft_press(BackendKind::Gpu, 0.002, y, bevel, 1);
        assert!((c - g).abs() <= 5e-3 * c, "y {y}: cpu {c} gpu {g}");
        assert!(buried < 0.25 * NEEDLE_RADIUS, "{buried}");
    }
}

/// A needle's bevel that is not a positive length is refused, naming the key.
#[test]
fn a_bad_bevel_length_is_refused() {
    use vesalius_engine::contact::NeedleSpec;
    for bad in [0.0, -0.001, f64::NAN, f64::INFINITY] {
        let model = pinned_block(box_grid([2, 2, 1], SHAFT_BLOCK, [0.0; 3]), 0.0);
        let mut sim =
            Simulation::new(model, &SolverConfig::default(), BackendKind::Cpu.into()).unwrap();
        let setup = ToolSetup {
            bodies: vec!["needle".into()],
            needle: Some(NeedleSpec {
                body: 0,
                tip: DVec3::ZERO,
                axis: DVec3::X,
                length: NEEDLE_LENGTH,
                radius: NEEDLE_RADIUS,
                track_spacing: None,
                bevel_length: Some(bad),
            }),
            ..Default::default()
        };
        let e = sim
            .set_tools(
                &setup,
                &[Pose::from_translation(DVec3::new(0.0, 0.0, 0.05))],
            )
            .expect_err("a bad bevel")
            .to_string();
        assert!(e.contains("bevel_length must be positive"), "{bad}: {e}");
    }
}
