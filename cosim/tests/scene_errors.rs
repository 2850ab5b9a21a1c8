//! Bad co-simulation scenes give clear errors that name the key, the link or the joint.

use std::path::Path;
use vesalius_cosim::{CoSim, CoSimScene, PredictOptions};
use vesalius_engine::sim::BackendKind;

fn base(extra: &str) -> String {
    let urdf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../robots/indenter/indenter.urdf"
    );
    format!(
        r#"
[mesh]
generator = {{ kind = "box", cells = [4, 4, 2], size = [0.1, 0.1, 0.05], origin = [-0.05, -0.05, 0.0] }}
[materials]
default = {{ youngs_modulus = 1.0e4, poisson_ratio = 0.45, density = 1000.0 }}
[[pin]]
kind = "plane"
normal = [0.0, 0.0, 1.0]
offset = 0.0
[robot]
urdf = "{urdf}"
base = {{ xyz = [0.0, 0.0, 0.1] }}
{extra}
"#
    )
}

fn error(extra: &str) -> String {
    let opts = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    match CoSimScene::parse(&base(extra), Path::new("bad.toml")) {
        Err(e) => e.to_string(),
        Ok(s) => match CoSim::new(&s, &opts) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted: {extra}"),
        },
    }
}

#[test]
fn bad_scenes_name_what_is_wrong() {
    let e = error("[[tool]]\nlink = \"gripper\"\n");
    assert!(e.contains("gripper") && e.contains("probe"), "{e}");
    let e = error("[[trajectory]]\nt = 0.0\njoints = { elbow = 1.0 }\n");
    assert!(e.contains("elbow") && e.contains("plunge"), "{e}");
    let e = error("[[tool]]\nlink = \"probe\"\nfrictoin = 0.2\n");
    assert!(e.contains("frictoin") && e.contains("bad.toml"), "{e}");
    let e = error("[needle_tissue.liver]\npuncture_force = 1.0\n");
    assert!(e.contains("liver"), "{e}");
    let e = error("[needle_tissue.box]\npuncture_force = -1.0\n");
    assert!(e.contains("puncture_force"), "{e}");
    let e = error("[[attach]]\nlink = \"world\"\nnear = [1.0, 1.0, 1.0]\nradius = 0.001\n");
    assert!(e.contains("attach[0]"), "{e}");
    let e = error("[[trajectory]]\nt = 0.0\nlink = \"probe\"\n");
    assert!(e.contains("xyz"), "{e}");
    let e = error("[[target]]\nname = \"far\"\npoints = [[1.0, 1.0, 1.0]]\n");
    assert!(e.contains("far") && e.contains("not inside"), "{e}");
}
