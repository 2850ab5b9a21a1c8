//! A co-simulation with a URDF robot, controlled from Rust: the 7-DOF surgical arm
//! (`robots/laparoscopic_arm`) lays its closed 5 mm grasper across a soft block and a
//! force controller written here presses it in to a set normal force.
//!
//! The scene (tissue, robot, tool links, criteria) is TOML text built in code; the robot's
//! first waypoints place the instrument 3 mm above the block. From then on this program
//! computes the joint targets itself every frame (`CoSim::set_joint_targets`), by inverse
//! kinematics of the instrument shaft's frame (`vesalius_robot::kinematics::solve_ik`):
//!
//! 1. a guarded move: down at 6 mm/s until the tissue pushes back with 0.1 N;
//! 2. force regulation: the shaft's height follows an integral law
//!    `dz/dt = k_i (F - F*)` to the set force `F*` (default 0.4 N), for 1.5 s.
//!
//! It prints the shaft's height (sent and reached) and the force as it goes, the force's mean and spread over the
//! last 0.5 s against `F*`, the tissue's secant stiffness, and the scene's verdict.
//!
//! `cargo run --release --example cosim_robot [-- SET_FORCE_N]` (about a minute on 2 cores;
//! `--no-default-features` for a CPU-only build).

use std::ops::ControlFlow;
use vesalius::cosim::prelude::*;
use vesalius::robot::kinematics::{solve_ik, IkOptions, IkTarget};
use vesalius::robot::math::urdf_pose;

/// The shaft's frame over the block: the instrument lies along +y (wrist straight), its
/// axis `z` above the block's top face (z = 23 mm).
fn shaft_pose(z: f64) -> [f64; 3] {
    [0.0, -0.342, z]
}
const SHAFT_RPY: [f64; 3] = [-std::f64::consts::FRAC_PI_2, 0.0, 0.0];
const TOP: f64 = 0.023;
const SHAFT_RADIUS: f64 = 0.0025;

fn main() -> anyhow::Result<()> {
    let set_force: f64 = match std::env::args().nth(1) {
        Some(s) => s
            .parse()
            .map_err(|_| anyhow::anyhow!("SET_FORCE_N: {s:?} is not a number"))?,
        None => 0.4,
    };
    anyhow::ensure!(
        set_force > 0.0 && set_force < 2.0,
        "SET_FORCE_N must be in (0, 2) N (the criteria cap the tool force at 3 N)"
    );
    let root = env!("CARGO_MANIFEST_DIR");
    let start_z = TOP + SHAFT_RADIUS + 0.003;
    let [x, y, z] = shaft_pose(start_z);
    let [r, p, w] = SHAFT_RPY;
    let tool = |link: &str| {
        format!("[[tool]]\nlink = \"{link}\"\nstatic_friction = 0.3\nkinetic_friction = 0.2\n")
    };
    let tools: String = [
        "jaw_1_link",
        "jaw_2_link",
        "tool_tip",
        "wrist_yaw_link",
        "wrist_pitch_link",
        "instrument_shaft",
    ]
    .iter()
    .map(|l| tool(l))
    .collect();
    let text = format!(
        r#"
# A 100 x 100 x 40 mm block of soft tissue (E = 8 kPa) on a rigid base, 4 mm cells.
[mesh]
generator = {{ kind = "box", cells = [25, 25, 10], size = [0.1, 0.1, 0.04], origin = [-0.05, -0.05, -0.017] }}
[materials]
default = {{ youngs_modulus = 8.0e3, poisson_ratio = 0.45, density = 1050.0, damping = 0.002 }}
[[pin]]
kind = "plane"
normal = [0.0, 0.0, 1.0]
offset = -0.017
[simulation]
duration = 4.0
gravity = [0.0, 0.0, -9.81]
velocity_damping = 10.0
backend = "cpu"
[robot]
urdf = "{root}/robots/laparoscopic_arm/laparoscopic_arm.urdf"
base = {{ xyz = [0.0, -0.95, -0.32] }}
stiffness = 3000.0
damping = 80.0
{tools}
[[trajectory]]
t = 0.0
link = "instrument_shaft"
xyz = [{x}, {y}, {z}]
rpy = [{r}, {p}, {w}]
[[trajectory]]
t = 0.3
link = "instrument_shaft"
xyz = [{x}, {y}, {z}]
rpy = [{r}, {p}, {w}]
[criteria]
max_tool_force = 3.0
damage_strain = 0.5
max_damaged_fraction = 0.01
"#
    );
    // The path names the scene in messages and anchors relative paths; nothing is read.
    let scene = CoSimScene::parse(&text, &std::path::Path::new(root).join("cosim_robot.toml"))?;
    let options = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    let mut sim = CoSim::new(&scene, &options)?;
    let model = sim.robot_model().clone();
    let shaft = model.link_id("instrument_shaft")?;
    println!(
        "laparoscopic arm on {}: {} joints, {} tool bodies",
        sim.backend_name(),
        model.dof_names().len(),
        sim.body_names().len()
    );

    // The approach: the scene's two waypoints.
    sim.run_frames(18, |_| ControlFlow::Continue(()))?;

    let dt = 1.0 / 60.0;
    let (speed, touch, ki) = (0.006, 0.1, 0.012); // m/s, N, m/(N s)
    let mut z = start_z;
    let mut q = sim.joint_targets().to_vec();
    let mut touched_at: Option<f64> = None;
    let mut forces = Vec::new();
    let mut actual_z = start_z;
    // Where the shaft first felt the tissue (5 mN): gravity sags the block about 1 mm below
    // its rest top (rho g h^2 / 2E = 1.0 mm), so indentation counts from here.
    let mut contact_z = None;
    println!("             shaft's lowest line - top (mm)");
    println!("    t (s)     sent          actual     normal force (N)");
    while sim.time() < 0.3 + 3.5 {
        let record = sim.last_record().expect("a frame has run");
        let force: f64 = record.forces.iter().map(|f| f[2]).sum();
        if force > 0.005 && contact_z.is_none() {
            contact_z = Some(actual_z);
        }
        // The controller: a guarded move, then an integral force law.
        match touched_at {
            None if force >= touch => touched_at = Some(sim.time()),
            None => z -= speed * dt,
            Some(_) => z += ki * (force - set_force) * dt,
        }
        if let Some(t0) = touched_at {
            if sim.time() - t0 > 1.5 {
                break;
            }
            if sim.time() - t0 > 1.0 {
                forces.push(force);
            }
        }
        let [x, y, zz] = shaft_pose(z);
        let goal = IkTarget::Pose(urdf_pose([x, y, zz], SHAFT_RPY));
        let ik = solve_ik(&model, shaft, &goal, &q, &IkOptions::default())?;
        q = ik.q;
        sim.set_joint_targets(&q)?;
        let record = sim.step_frame()?.clone();
        // Where the shaft is (the motors lag their targets), not where it was sent.
        actual_z = record.link_poses[shaft][2];
        if sim.frames() % 12 == 0 {
            println!(
                "{:9.3} {:15.2} {:15.2} {:15.3}",
                record.time,
                (z - SHAFT_RADIUS - TOP) * 1e3,
                (actual_z - SHAFT_RADIUS - TOP) * 1e3,
                force
            );
        }
    }
    let Some(t0) = touched_at else {
        anyhow::bail!("the instrument never touched the tissue")
    };
    let n = forces.len() as f64;
    let mean = forces.iter().sum::<f64>() / n;
    let spread = (forces.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / n).sqrt();
    let depth = contact_z.expect("touched") - actual_z;
    println!(
        "touched at {t0:.2} s; held {mean:.3} N +- {spread:.3} N (set {set_force} N, {:+.1} %) \
         over the last 0.5 s at {:.2} mm indentation (from first contact): secant stiffness {:.0} N/m",
        (mean / set_force - 1.0) * 100.0,
        depth * 1e3,
        mean / depth
    );
    let report = sim.report();
    println!(
        "verdict: {} (peak force on one tool body {:.3} N)",
        if report.verdict.passed {
            "pass"
        } else {
            "FAIL"
        },
        report.peak_force.iter().cloned().fold(0.0, f64::max)
    );
    Ok(())
}
