//! Scenes shared by the co-simulation tests.
#![allow(dead_code)]

use std::path::Path;
use vesalius_cosim::CoSimScene;

/// The indenter's probe, its lowest point 1 mm above a 0.1 x 0.1 x 0.05 m block of 10 kPa
/// (top at z = 0.05, bottom pinned, no gravity), with `extra` TOML (trajectory, targets,
/// criteria) after the robot and its frictionless tool.
pub fn indenter_scene(name: &str, cells: [u32; 3], duration: f64, extra: &str) -> CoSimScene {
    let urdf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../robots/indenter/indenter.urdf"
    );
    let [cx, cy, cz] = cells;
    let text = format!(
        r#"
[mesh]
generator = {{ kind = "box", cells = [{cx}, {cy}, {cz}], size = [0.1, 0.1, 0.05], origin = [-0.05, -0.05, 0.0] }}
[materials]
default = {{ youngs_modulus = 1.0e4, poisson_ratio = 0.45, density = 1000.0 }}
[[pin]]
kind = "plane"
normal = [0.0, 0.0, 1.0]
offset = 0.0
[simulation]
duration = {duration}
gravity = [0.0, 0.0, 0.0]
velocity_damping = 20.0
[robot]
urdf = "{urdf}"
base = {{ xyz = [0.0, 0.0, 0.091] }}
stiffness = 5000.0
damping = 200.0
[[tool]]
link = "probe"
static_friction = 0.0
kinetic_friction = 0.0
{extra}
"#
    );
    CoSimScene::parse(&text, Path::new(name)).unwrap()
}
