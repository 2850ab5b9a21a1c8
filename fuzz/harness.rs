//! What each fuzz target does with one input, shared by the libFuzzer targets in
//! `fuzz/fuzz_targets/` (`cargo +nightly fuzz run NAME`) and by the corpus replay test
//! `tests/fuzz_corpus.rs`, which runs every file of `fuzz/corpus/NAME/` and
//! `fuzz/regressions/NAME/` through the same function on the stable toolchain in CI.
//!
//! A target returns normally for any input a loader refuses with an error; it panics (a
//! finding) when a loader panics, or when it accepts an input and hands back something
//! broken: an index out of range, a region list of the wrong length, a non-finite
//! coordinate, a stepped state with NaN in it, or a state past a guard that no guard flagged.

#![allow(dead_code)] // Each fuzz target binary uses one of these.

use std::path::Path;
use vesalius_engine::mesh::{self, LoadedMesh, MeshError, TetMesh};

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name, for the replay test.
pub const TARGETS: &[(&str, Target)] = &[
    ("msh_v1", msh_v1),
    ("msh_v22", msh_v22),
    ("msh_v41_ascii", msh_v41_ascii),
    ("msh_v41_binary", msh_v41_binary),
    ("vtk", vtk),
    ("vtu", vtu),
    ("tetgen", tetgen),
    ("urdf", urdf),
    ("scene", scene),
    ("cosim_scene", cosim_scene),
    ("step", step),
];

/// Checks what a mesh reader accepted: every index in range, one region per tet, finite
/// coordinates.
fn accepted(result: Result<LoadedMesh, MeshError>) {
    let Ok(loaded) = result else { return };
    check_mesh(&loaded.mesh);
}

fn check_mesh(m: &TetMesh) {
    let n = m.positions.len();
    assert_eq!(m.regions.len(), m.tets.len(), "one region per tet");
    for t in &m.tets {
        for &v in t {
            assert!((v as usize) < n, "tet index {v} of {n} vertices accepted");
        }
    }
    for p in &m.positions {
        assert!(
            p.iter().all(|c| c.is_finite()),
            "non-finite vertex {p:?} accepted"
        );
    }
}

/// Gmsh v1: the input is everything after the `$NOD` line's keyword.
pub fn msh_v1(data: &[u8]) {
    accepted(mesh::parse_msh(&[b"$NOD\n", data].concat()));
}

/// Gmsh v2.2 ASCII: the input follows the `$MeshFormat` section.
pub fn msh_v22(data: &[u8]) {
    accepted(mesh::parse_msh(
        &[b"$MeshFormat\n2.2 0 8\n$EndMeshFormat\n", data].concat(),
    ));
}

/// Gmsh v4.1 ASCII: the input follows the `$MeshFormat` section.
pub fn msh_v41_ascii(data: &[u8]) {
    accepted(mesh::parse_msh(
        &[b"$MeshFormat\n4.1 0 8\n$EndMeshFormat\n", data].concat(),
    ));
}

/// Gmsh v4.1 binary (little-endian, the endianness check word included): the input
/// follows the `$MeshFormat` section.
pub fn msh_v41_binary(data: &[u8]) {
    let mut text = b"$MeshFormat\n4.1 1 8\n".to_vec();
    text.extend_from_slice(&1i32.to_le_bytes());
    text.extend_from_slice(b"\n$EndMeshFormat\n");
    text.extend_from_slice(data);
    accepted(mesh::parse_msh(&text));
}

/// VTK legacy, ASCII or binary: the whole file.
pub fn vtk(data: &[u8]) {
    accepted(mesh::parse_vtk(data));
}

/// VTU (XML; ASCII, base64 and raw appended data): the whole file.
pub fn vtu(data: &[u8]) {
    accepted(mesh::parse_vtu(data));
}

/// TetGen: the `.node` file, a NUL byte, then the `.ele` file.
pub fn tetgen(data: &[u8]) {
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (node, ele) = (&data[..cut], data.get(cut + 1..).unwrap_or(&[]));
    accepted(mesh::parse_tetgen(node, ele));
}

/// URDF: the loader (kinematics and inertia, meshes resolved but not read: a fuzzed path
/// must not open a device file), then a rapier world with the robot stepped 3 times.
pub fn urdf(data: &[u8]) {
    use vesalius_robot::prelude::*;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = LoadOptions {
        load_collision_meshes: false,
        allow_missing_visual_meshes: true,
        ..LoadOptions::default()
    };
    let Ok(model) = load_str(text, None, &options) else {
        return;
    };
    let q = model.neutral_configuration();
    assert!(
        q.iter().all(|v| v.is_finite()),
        "neutral configuration {q:?}"
    );
    let mut world = RobotWorld::new();
    let Ok(id) = world.add_robot(
        &model,
        BasePlacement::Fixed(Isometry3::identity()),
        &SimOptions::default(),
    ) else {
        return;
    };
    for _ in 0..3 {
        world.step();
    }
    let _ = world.state(id);
}

/// A tissue scene's text: parsed and checked (every key and size limit, no mesh read).
pub fn scene(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = vesalius_engine::scene::Scene::parse(text, Path::new("fuzz.toml"));
}

/// A co-simulation scene's text: parsed and checked.
pub fn cosim_scene(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if vesalius_cosim::scene::is_cosim(text) {
        let _ = vesalius_cosim::scene::CoSimScene::parse(text, Path::new("fuzz.toml"));
    }
}

/// Structure-aware: a random small box scene (cells, size, material,
/// pins, gravity, frame length, fixed or automatic substeps past the stable bound or not,
/// iterations, damping, guards on), built and stepped up to 4 frames on the CPU backend
/// (scenes that plan more than [`MAX_SUBSTEPS`] substeps per frame are only built),
/// each frame checked as `vesalius run` checks it. Asserts: the scene is refused with an
/// error or it builds; a frame the solver accepts has finite positions and velocities;
/// a state whose measured volume ratio, inverted fraction or speed is past a guard is
/// flagged by that guard (measured here again from the positions, not from the engine's
/// diagnostics).
pub fn step(data: &[u8]) {
    use arbitrary::Unstructured;
    use vesalius_engine::scene::Scene;
    use vesalius_engine::sim::Simulation;
    use vesalius_engine::solver::{diagnostics, EnergyInput, EnergyWatch};

    let mut u = Unstructured::new(data);
    let Ok(text) = random_scene(&mut u) else {
        return;
    };
    let Ok(scene) = Scene::parse(&text, Path::new("fuzz.toml")) else {
        return;
    };
    let Ok(built) = scene.build() else { return };
    let guards = scene.file.simulation.guards.clone();
    let Ok(mut sim) = Simulation::new(built.model, &built.solver, scene.file.simulation.backend())
    else {
        return;
    };
    let plan = sim.plan().clone();
    if plan.substeps * plan.iterations > MAX_SUBSTEPS {
        return;
    }
    let mut energy = EnergyWatch::default();
    for _ in 0..built.frames.min(4) {
        if sim.step(1).is_err() {
            return; // NaN or a solver error: refused, as `vesalius run` reports it.
        }
        let (model, state) = sim
            .sync_model_and_state()
            .expect("the CPU state is at hand");
        for (p, v) in state.displacements.iter().zip(&state.velocities) {
            assert!(
                p.iter().chain(v).all(|c| c.is_finite()),
                "a stepped frame with non-finite state: {p:?} {v:?}\n{text}"
            );
        }
        let d = diagnostics(model, state);
        let breach = guards
            .breach(model, &plan, &d)
            .or_else(|| guards.energy_breach(model, &plan, &d, &mut energy, EnergyInput::None));
        if breach.is_some() {
            return; // A failed status, as wanted.
        }
        // Not flagged: the state must be within every guard, measured independently.
        let pos: Vec<[f64; 3]> = state
            .positions_iter(model)
            .map(|p| p.map(|c| c as f64))
            .collect();
        let mut regions: std::collections::BTreeMap<
            vesalius::engine::mesh::RegionId,
            (f64, f64, usize, usize),
        > = Default::default();
        for (t, tet) in model.tets.iter().enumerate() {
            let vol = |x: &dyn Fn(usize) -> [f64; 3]| {
                let [a, b, c, e] = tet.map(|i| x(i as usize));
                let d = |p: [f64; 3], q: [f64; 3]| [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
                let (u1, u2, u3) = (d(b, a), d(c, a), d(e, a));
                (u1[0] * (u2[1] * u3[2] - u2[2] * u3[1]) - u1[1] * (u2[0] * u3[2] - u2[2] * u3[0])
                    + u1[2] * (u2[0] * u3[1] - u2[1] * u3[0]))
                    / 6.0
            };
            let rest = vol(&|i| model.rest_positions[i].map(|c| c as f64));
            let now = vol(&|i| pos[i]);
            let e = regions.entry(model.tet_region[t]).or_default();
            e.0 += rest;
            e.1 += now;
            e.2 += 1;
            e.3 += usize::from(now * rest.signum() <= 0.0);
        }
        for (r, (rest, now, tets, inverted)) in regions {
            // A margin over the guard's own arithmetic (f32 positions, its own sums).
            let ratio = now / rest;
            assert!(
                ratio > guards.volume_ratio[0] * 0.99 && ratio < guards.volume_ratio[1] * 1.01,
                "region {r} at volume ratio {ratio} passed the guards\n{text}"
            );
            let frac = inverted as f64 / tets as f64;
            assert!(
                frac <= guards.max_inverted_fraction + 1.5 / tets as f64,
                "region {r} with {inverted} of {tets} tets inverted passed the guards\n{text}"
            );
        }
    }
}

/// Most substeps (times iterations) per frame that [`step`] steps, to keep an execution
/// near a millisecond.
const MAX_SUBSTEPS: u32 = 40;

/// The random scene of [`step`], as TOML text.
fn random_scene(u: &mut arbitrary::Unstructured) -> arbitrary::Result<String> {
    let cells: [u32; 3] = [
        u.int_in_range(1..=3)?,
        u.int_in_range(1..=3)?,
        u.int_in_range(1..=3)?,
    ];
    let size: [f64; 3] = [
        pick(u, &[0.01, 0.05, 0.1, 1.0])?,
        pick(u, &[0.01, 0.05, 0.1])?,
        pick(u, &[0.005, 0.05, 0.1])?,
    ];
    let e = pick(u, &[1e2, 1e4, 5e4, 1e6, 1e8])?;
    let nu = pick(u, &[0.0, 0.3, 0.45, 0.49, 0.499])?;
    let rho = pick(u, &[100.0, 1000.0, 3000.0])?;
    let frame_dt = pick(u, &[1.0 / 240.0, 1.0 / 60.0, 1.0 / 30.0, 0.1])?;
    let substeps = match u.int_in_range(0..=3)? {
        0 => "\"auto\"".to_string(),
        n => pick(u, &[1u32, 2, 5, 10, 20])?.max(n).to_string(),
    };
    let iterations = u.int_in_range(1..=4)?;
    let allow_unstable = u.arbitrary::<bool>()?;
    let damping = pick(u, &[0.0, 1.0, 20.0])?;
    let gravity = pick(u, &[0.0, -9.81, -100.0, -1e4])?;
    let pin = match u.int_in_range(0..=2)? {
        0 => String::new(),
        1 => "[[pin]]\nkind = \"plane\"\nnormal = [0.0, 0.0, 1.0]\noffset = 0.0\n".into(),
        _ => "[[pin]]\nkind = \"plane\"\nnormal = [1.0, 0.0, 0.0]\noffset = 0.0\n".into(),
    };
    Ok(format!(
        "[mesh]\ngenerator = {{ kind = \"box\", cells = [{}, {}, {}], size = [{:e}, {:e}, {:e}], origin = [0.0, 0.0, 0.0] }}\n\
         [materials]\ndefault = {{ youngs_modulus = {e:e}, poisson_ratio = {nu}, density = {rho:e} }}\n\
         {pin}\
         [simulation]\nduration = {:e}\nframe_dt = {frame_dt:e}\nsubsteps = {substeps}\niterations = {iterations}\n\
         allow_unstable = {allow_unstable}\nvelocity_damping = {damping:e}\ngravity = [0.0, 0.0, {gravity:e}]\nbackend = \"cpu\"\nthreads = 1\n",
        cells[0], cells[1], cells[2], size[0], size[1], size[2], 4.0 * frame_dt
    ))
}

fn pick<T: Copy>(u: &mut arbitrary::Unstructured, options: &[T]) -> arbitrary::Result<T> {
    Ok(*u.choose(options)?)
}
