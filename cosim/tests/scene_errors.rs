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

fn parse_error(extra: &str) -> String {
    match CoSimScene::parse(&base(extra), Path::new("bad.toml")) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("parsed: {extra}"),
    }
}

const NEEDLE: &str = "[needle]\nlink = \"probe\"\ntip = [0.0, 0.0, 0.0]\naxis = [0.0, 0.0, -1.0]\nlength = 0.02\nradius = 0.0004\n";

#[test]
fn robot_and_criteria_values_are_checked_when_parsed() {
    // Accepted at 4294967295 before, and the run hung.
    let e = parse_error("rigid_steps = 4294967295\n");
    assert!(
        e.contains("robot.rigid_steps") && e.contains("1..=1000"),
        "{e}"
    );
    let e = parse_error("stiffness = -1.0\n");
    assert!(e.contains("robot.stiffness"), "{e}");
    let e = parse_error("damping = -5.0\n");
    assert!(e.contains("robot.damping"), "{e}");
    let e = parse_error(&format!("{NEEDLE}[criteria]\nmax_tool_force = nan\n"));
    assert!(e.contains("criteria.max_tool_force"), "{e}");
    let e = parse_error(&format!("{NEEDLE}[criteria]\nmax_tool_force = -1.0\n"));
    assert!(e.contains("criteria.max_tool_force"), "{e}");
    let e = parse_error(&format!("{NEEDLE}[criteria]\ndamage_strain = 0.0\n"));
    assert!(e.contains("criteria.damage_strain"), "{e}");
    for bad in ["-0.001", "0.0", "nan"] {
        let e = parse_error(&format!("{NEEDLE}bevel_length = {bad}\n"));
        assert!(e.contains("needle.bevel_length"), "{bad}: {e}");
    }
    let e = parse_error("[criteria]\nrequired_events = [\"punctured box\"]\n");
    assert!(e.contains("[needle]"), "{e}");
    // The tissue part is checked at parse time too.
    let e = parse_error("[simulation]\ngravity = [0.0, 0.0, nan]\n");
    assert!(e.contains("simulation.gravity"), "{e}");
}

#[test]
fn unknown_events_and_tip_regions_are_refused_before_the_run() {
    // The box generator's region is named `box`.
    let e = error(&format!(
        "{NEEDLE}[criteria]\nrequired_events = [\"punctured box\", \"punctured skin\"]\n"
    ));
    assert!(
        e.contains("criteria.required_events")
            && e.contains("\"punctured skin\"")
            && e.contains("\"entered box\""),
        "{e}"
    );
    let e = error(&format!(
        "{NEEDLE}[criteria]\nforbidden_events = [\"transfixed vein\"]\n"
    ));
    assert!(e.contains("criteria.forbidden_events"), "{e}");
    // The tip region is reported by name: an id could never match.
    let e = error(&format!("{NEEDLE}[criteria]\nfinal_tip_region = \"1\"\n"));
    assert!(
        e.contains("criteria.final_tip_region") && e.contains("\"box\""),
        "{e}"
    );
    let opts = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    let ok = base(&format!(
        "{NEEDLE}[criteria]\nrequired_events = [\"punctured box\"]\nforbidden_events = [\"tip left the tissue\", \"transfixed box\"]\nfinal_tip_region = \"box\"\n"
    ));
    let scene = CoSimScene::parse(&ok, Path::new("ok.toml")).unwrap();
    assert!(CoSim::new(&scene, &opts).is_ok());
}

#[test]
fn robot_errors_print_their_message_once() {
    use std::error::Error;
    let text = base("").replace("indenter.urdf", "missing.urdf");
    let scene = CoSimScene::parse(&text, Path::new("bad.toml")).unwrap();
    let opts = PredictOptions {
        backend: Some(BackendKind::Cpu),
        ..Default::default()
    };
    let Err(e) = CoSim::new(&scene, &opts) else {
        panic!("a missing URDF was accepted")
    };
    let msg = e.to_string();
    assert!(msg.contains("missing.urdf"), "{msg}");
    assert_eq!(msg.matches("os error 2").count(), 1, "{msg}");
    // The message has everything; no source repeats it (anyhow's `{:#}` prints the chain).
    assert!(e.source().is_none(), "{msg}");
}

#[test]
fn an_unknown_tool_contact_names_the_choices() {
    let text = format!("tool_contact = \"edges\"\n{}", base(""));
    let e = CoSimScene::parse(&text, Path::new("bad.toml"))
        .expect_err("tool_contact = \"edges\" is refused")
        .to_string();
    assert!(
        e.contains("tool_contact")
            && e.contains("auto")
            && e.contains("faces")
            && e.contains("line 1"),
        "{e}"
    );
}
