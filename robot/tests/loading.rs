//! Loading the real URDFs and our own, malformed inputs, and mesh URIs.
mod common;

use std::path::{Path, PathBuf};

use common::*;
use vesalius_robot::model::{CollisionSource, JointKind};
use vesalius_robot::prelude::*;

fn kinds(model: &RobotModel) -> [usize; 5] {
    let mut k = [0; 5];
    for j in model.joints() {
        k[match j.kind {
            JointKind::Revolute => 0,
            JointKind::Continuous => 1,
            JointKind::Prismatic => 2,
            JointKind::Fixed => 3,
            JointKind::Floating => 4,
        }] += 1;
    }
    k
}

fn mimic_table(model: &RobotModel) -> Vec<(String, String, f64, f64)> {
    model
        .mimic_relations()
        .into_iter()
        .map(|(j, l, m, o)| {
            (
                model.joints()[j].name.clone(),
                model.joints()[l].name.clone(),
                m,
                o,
            )
        })
        .collect()
}

#[test]
fn psm1_loads_with_tree_and_mimics_as_in_the_file() {
    let model = load_file(psm1_path(), &LoadOptions::default()).unwrap();
    assert_eq!(model.name, "dvrk_psm");
    assert_eq!(model.links().len(), 18);
    assert_eq!(model.joints().len(), 17);
    assert_eq!(kinds(&model), [8, 5, 1, 3, 0]);
    assert_eq!(model.links()[model.root()].name, "world");
    assert_eq!(
        model.dof_names(),
        [
            "outer_yaw",
            "outer_pitch",
            "outer_insertion",
            "outer_roll",
            "outer_wrist_pitch",
            "outer_wrist_yaw",
            "jaw"
        ]
    );
    let mimics = mimic_table(&model);
    assert_eq!(mimics.len(), 7);
    let expect = [
        ("outer_pitch_1", "outer_pitch", 1.0),
        ("outer_pitch_2", "outer_pitch", 1.0),
        ("outer_pitch_3", "outer_pitch", -1.0),
        ("outer_pitch_4", "outer_pitch", -1.0),
        ("outer_pitch_5", "outer_pitch", 1.0),
        ("jaw_mimic_1", "jaw", 0.5),
        ("jaw_mimic_2", "jaw", -0.5),
    ];
    for (j, l, m) in expect {
        assert!(
            mimics
                .iter()
                .any(|x| x.0 == j && x.1 == l && x.2 == m && x.3 == 0.0),
            "missing mimic {j} -> {l} x {m}: {mimics:?}"
        );
    }
    // No <collision> anywhere: visual meshes stand in, and masses come from them.
    let yaw = &model.links()[model.link_id("PSM1_outer_yaw_link").unwrap()];
    assert_eq!(yaw.collision_source, CollisionSource::Visual);
    assert_eq!(yaw.inertial.source, InertialSource::Geometry);
    assert!(yaw.inertial.mass > 0.01, "{}", yaw.inertial.mass);
    match &yaw.collisions[0].geometry {
        Geometry::Mesh { data: Some(d), .. } => assert!(d.triangles.len() > 100),
        g => panic!("expected a loaded mesh, got {g:?}"),
    }
    // The zero-size box of the virtual jaw link gives a massless link and a warning.
    let jaw = &model.links()[model.link_id("PSM1_tool_wrist_sca_ee_link_0").unwrap()];
    assert_eq!(jaw.inertial.source, InertialSource::Massless);
    assert!(model.warnings.iter().any(|w| w.contains("degenerate box")));
    assert!(model
        .warnings
        .iter()
        .any(|w| w.contains("PSM1_outer_yaw_link") && w.contains("no <inertial>")));
    // Limits.
    let ins = &model.joints()[model.joint_id("outer_insertion").unwrap()];
    assert_eq!((ins.limits.lower, ins.limits.upper), (0.0, 0.240));
    assert_eq!(ins.limits.velocity, 0.4);
    assert_eq!(ins.limits.effort, 1000.0);
}

#[test]
fn psm1_strict_mode_refuses_missing_inertials() {
    let opts = LoadOptions {
        strict_inertials: true,
        ..LoadOptions::default()
    };
    let err = load_file(psm1_path(), &opts).unwrap_err();
    assert!(matches!(err, RobotError::MissingInertial { .. }), "{err}");
    assert!(err.to_string().contains("PSM1_"), "{err}");
}

#[test]
fn iiwa_loads() {
    let model = load_file(iiwa_path(), &LoadOptions::default()).unwrap();
    assert_eq!(model.name, "lbr_iiwa");
    assert_eq!(model.links().len(), 8);
    assert_eq!(model.joints().len(), 7);
    assert_eq!(kinds(&model), [7, 0, 0, 0, 0]);
    assert_eq!(model.ndof(), 7);
    assert!(model.mimic_relations().is_empty());
    assert_eq!(model.links()[model.root()].name, "lbr_iiwa_link_0");
    for link in model.links() {
        assert_eq!(link.inertial.source, InertialSource::Urdf, "{}", link.name);
        assert_eq!(link.collision_source, CollisionSource::Collision);
        match &link.collisions[0].geometry {
            Geometry::Mesh {
                data: Some(d),
                path: Some(p),
                ..
            } => {
                assert!(p.extension().unwrap() == "stl");
                assert!(!d.triangles.is_empty());
            }
            g => panic!("{}: {g:?}", link.name),
        }
        // Visual OBJ resolved (not loaded).
        match &link.visuals[0].geometry {
            Geometry::Mesh { path: Some(p), .. } => assert!(p.is_file()),
            g => panic!("{}: {g:?}", link.name),
        }
    }
    let j1 = &model.joints()[0];
    assert!((j1.limits.upper - 2.96705972839).abs() < 1e-12);
    assert!(
        (model.total_mass() - model.links().iter().map(|l| l.inertial.mass).sum::<f64>()).abs()
            < 1e-12
    );
}

#[test]
fn med7_loads_ignoring_gazebo_and_ros2_control() {
    let model = load_file(med7_path(), &med7_options()).unwrap();
    assert_eq!(model.name, "med7");
    assert_eq!(model.links().len(), 10);
    assert_eq!(model.joints().len(), 9);
    assert_eq!(kinds(&model), [7, 0, 0, 2, 0]);
    assert_eq!(model.links()[model.root()].name, "lbr_floating_link");
    let a1 = &model.joints()[model.joint_id("lbr_A1").unwrap()];
    assert_eq!(a1.dynamics.damping, 10.0);
    assert_eq!(a1.dynamics.friction, 0.1);
    assert_eq!(a1.limits.effort, 200.0);
    // Missing visual .dae are warnings, collision STLs are loaded.
    assert!(model
        .warnings
        .iter()
        .any(|w| w.contains("visual mesh") && w.contains("link_1.dae")));
    let l1 = &model.links()[model.link_id("lbr_link_1").unwrap()];
    assert_eq!(l1.collision_source, CollisionSource::Collision);
    assert!(matches!(
        &l1.collisions[0].geometry,
        Geometry::Mesh { data: Some(_), .. }
    ));
}

#[test]
fn med7_missing_visual_is_an_error_unless_allowed() {
    let err = load_file(med7_path(), &LoadOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RobotError::MeshNotFound { .. }), "{msg}");
    assert!(msg.contains("lbr_link_0"), "{msg}");
    assert!(msg.contains("meshes/med7/visual/link_0.dae"), "{msg}");
}

#[test]
fn own_robots_load() {
    let veni = load_file(veni_path(), &LoadOptions::default()).unwrap();
    assert_eq!(veni.links().len(), 10);
    assert_eq!(veni.joints().len(), 9);
    assert_eq!(veni.ndof(), 6);
    assert!(veni.warnings.is_empty(), "{:?}", veni.warnings);
    let needle = &veni.links()[veni.link_id("needle").unwrap()];
    match needle.collisions[0].geometry {
        Geometry::Cylinder { radius, length } => {
            assert_eq!(radius * 2.0, 0.0008);
            assert!((0.025..=0.040).contains(&length));
        }
        ref g => panic!("{g:?}"),
    }
    veni.link_id("needle_tip").unwrap();

    let lap = load_file(lap_path(), &LoadOptions::default()).unwrap();
    assert!(lap.warnings.is_empty(), "{:?}", lap.warnings);
    assert_eq!(lap.ndof(), 10);
    assert_eq!(lap.mimic_relations().len(), 1);
    let arm_joints = lap
        .joints()
        .iter()
        .filter(|j| j.name.starts_with("arm_joint_"))
        .count();
    assert_eq!(arm_joints, 7);
    lap.link_id("tool_tip").unwrap();
    for l in lap.links().iter().chain(veni.links()) {
        if l.name != "tool_tip" && l.name != "needle_tip" {
            assert_eq!(l.inertial.source, InertialSource::Urdf, "{}", l.name);
            assert!(!l.collisions.is_empty(), "{}", l.name);
        }
    }
}

// ---------------------------------------------------------------- malformed inputs

const GOOD_HEAD: &str = r#"<robot name="t">
  <link name="a"/>
  <link name="b"/>"#;

fn load_err(text: &str) -> String {
    match load_str(text, None, &LoadOptions::default()) {
        Ok(_) => panic!("should have failed:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_xml() {
    let msg = load_err("<robot name=\"t\"><link name=\"a\"></robot>");
    assert!(msg.contains("cannot parse URDF <string>"), "{msg}");
}

#[test]
fn missing_parent_link() {
    let msg = load_err(&format!(
        r#"{GOOD_HEAD}
  <joint name="j" type="fixed"><parent link="nope"/><child link="b"/></joint>
</robot>"#
    ));
    assert!(
        msg.contains("joint 'j'") && msg.contains("unknown parent link 'nope'"),
        "{msg}"
    );
}

#[test]
fn cycle() {
    let msg = load_err(
        r#"<robot name="t">
  <link name="a"/><link name="b"/><link name="c"/>
  <joint name="j1" type="fixed"><parent link="a"/><child link="b"/></joint>
  <joint name="j2" type="fixed"><parent link="b"/><child link="c"/></joint>
  <joint name="j3" type="fixed"><parent link="c"/><child link="a"/></joint>
</robot>"#,
    );
    assert!(msg.contains("cycle"), "{msg}");
    // A cycle hanging off a valid root.
    let msg = load_err(
        r#"<robot name="t">
  <link name="r"/><link name="b"/><link name="c"/>
  <joint name="j2" type="fixed"><parent link="b"/><child link="c"/></joint>
  <joint name="j3" type="fixed"><parent link="c"/><child link="b"/></joint>
</robot>"#,
    );
    assert!(msg.contains("cycle"), "{msg}");
}

#[test]
fn two_parents_and_disconnected() {
    let msg = load_err(
        r#"<robot name="t">
  <link name="a"/><link name="b"/><link name="c"/>
  <joint name="j1" type="fixed"><parent link="a"/><child link="c"/></joint>
  <joint name="j2" type="fixed"><parent link="b"/><child link="c"/></joint>
</robot>"#,
    );
    assert!(msg.contains("link 'c' is the child of two joints"), "{msg}");
    let msg = load_err(&format!("{GOOD_HEAD}\n</robot>"));
    assert!(
        msg.contains("not connected") && msg.contains("\"a\""),
        "{msg}"
    );
}

#[test]
fn unknown_joint_type() {
    let msg = load_err(&format!(
        r#"{GOOD_HEAD}
  <joint name="hinge1" type="hinge"><parent link="a"/><child link="b"/></joint>
</robot>"#
    ));
    assert!(
        msg.contains("joint 'hinge1'") && msg.contains("'hinge'"),
        "{msg}"
    );
    let msg = load_err(&format!(
        r#"{GOOD_HEAD}
  <joint name="p" type="planar"><parent link="a"/><child link="b"/></joint>
</robot>"#
    ));
    assert!(
        msg.contains("joint 'p'") && msg.contains("'planar'"),
        "{msg}"
    );
}

#[test]
fn nan_values() {
    for (snippet, what) in [
        (r#"<origin xyz="0 NaN 0"/>"#, "joint 'j'"),
        (r#"<origin xyz="0 0 0" rpy="nan 0 0"/>"#, "joint 'j'"),
        (r#"<axis xyz="0 0 0"/>"#, "zero-length axis"),
        (
            r#"<limit lower="-1" upper="NaN" effort="1" velocity="1"/>"#,
            "joint 'j'",
        ),
    ] {
        let text = format!(
            r#"{GOOD_HEAD}
  <joint name="j" type="revolute"><parent link="a"/><child link="b"/>{snippet}
    <limit lower="-1" upper="1" effort="1" velocity="1"/></joint>
</robot>"#
        );
        let text = if snippet.starts_with("<limit") {
            text.replacen(
                r#"<limit lower="-1" upper="1" effort="1" velocity="1"/>"#,
                "",
                1,
            )
        } else {
            text
        };
        let msg = load_err(&text);
        assert!(msg.contains(what), "{snippet}: {msg}");
    }
    let msg = load_err(
        r#"<robot name="t"><link name="a"><inertial><mass value="nan"/>
        <inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial></link></robot>"#,
    );
    assert!(
        msg.contains("link 'a'") || msg.contains("cannot parse"),
        "{msg}"
    );
}

#[test]
fn missing_mesh_names_link_and_path() {
    let msg = load_err(
        r#"<robot name="t"><link name="arm">
  <collision><geometry><mesh filename="package://nopkg/meshes/arm.stl"/></geometry></collision>
</link></robot>"#,
    );
    assert!(
        msg.contains("link 'arm'") && msg.contains("package://nopkg/meshes/arm.stl"),
        "{msg}"
    );
}

#[test]
fn bad_mimic_and_duplicates() {
    let msg = load_err(&format!(
        r#"{GOOD_HEAD}
  <joint name="j" type="revolute"><parent link="a"/><child link="b"/>
    <limit lower="-1" upper="1" effort="1" velocity="1"/><mimic joint="ghost"/></joint>
</robot>"#
    ));
    assert!(msg.contains("'j' mimics 'ghost'"), "{msg}");
    let msg = load_err(r#"<robot name="t"><link name="a"/><link name="a"/></robot>"#);
    assert!(msg.contains("duplicate link name 'a'"), "{msg}");
    let msg = load_err(&format!(
        r#"{GOOD_HEAD}
  <joint name="j" type="revolute"><parent link="a"/><child link="b"/>
    <limit lower="1" upper="-1" effort="1" velocity="1"/></joint>
</robot>"#
    ));
    assert!(msg.contains("lower 1 > upper -1"), "{msg}");
}

#[test]
fn missing_file() {
    let err = load_file("/nonexistent/robot.urdf", &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/robot.urdf"), "{err}");
}

// ---------------------------------------------------------------- mesh URIs

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vesalius-robot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const CUBE_OBJ: &str = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n\
f 1 3 2\nf 1 4 3\nf 5 6 7\nf 5 7 8\nf 1 2 6\nf 1 6 5\nf 2 3 7\nf 2 7 6\nf 3 4 8\nf 3 8 7\nf 4 1 5\nf 4 5 8\n";

fn mesh_robot(uri: &str, scale: &str) -> String {
    format!(
        r#"<robot name="m"><link name="body">
  <collision><geometry><mesh filename="{uri}" scale="{scale}"/></geometry></collision>
</link>
<gazebo reference="body"><material>Gazebo/Grey</material></gazebo>
<transmission name="t"><type>x</type><joint name="none"><hardwareInterface>y</hardwareInterface></joint></transmission>
</robot>"#
    )
}

fn mesh_extent(model: &RobotModel) -> f32 {
    match &model.links()[0].collisions[0].geometry {
        Geometry::Mesh { data: Some(d), .. } => {
            d.vertices.iter().map(|v| v.x).fold(f32::MIN, f32::max)
        }
        g => panic!("{g:?}"),
    }
}

#[test]
fn mesh_uris_resolve() {
    let root = scratch("uris");
    let pkg = root.join("my_pkg");
    std::fs::create_dir_all(pkg.join("meshes/with space")).unwrap();
    std::fs::create_dir_all(root.join("urdf")).unwrap();
    std::fs::write(pkg.join("meshes/with space/cube part.obj"), CUBE_OBJ).unwrap();
    std::fs::write(pkg.join("meshes/cube.obj"), CUBE_OBJ).unwrap();
    let stl = shared_robots().join("kuka_iiwa/meshes/link_0.stl");
    let dae = shared_robots().join("dvrk_psm1/dvrk_model/meshes/psm/tool_wrist_sca_shaft_link.dae");
    std::fs::copy(&stl, pkg.join("meshes/link_0.stl")).unwrap();
    std::fs::copy(&dae, pkg.join("meshes/shaft.dae")).unwrap();
    let urdf_dir = root.join("urdf");
    let opts = LoadOptions::default();
    let ok = |uri: &str, scale: &str, dir: &Path, opts: &LoadOptions| -> RobotModel {
        let text = mesh_robot(uri, scale);
        let path = dir.join("robot.urdf");
        std::fs::write(&path, text).unwrap();
        load_file(&path, opts).unwrap_or_else(|e| panic!("{uri}: {e}"))
    };
    // package:// found in a parent folder of the URDF.
    let m = ok(
        "package://my_pkg/meshes/cube.obj",
        "2 2 2",
        &urdf_dir,
        &opts,
    );
    assert!((mesh_extent(&m) - 2.0).abs() < 1e-6);
    // A space in the path, literal or %20-escaped.
    ok(
        "package://my_pkg/meshes/with space/cube part.obj",
        "1 1 1",
        &urdf_dir,
        &opts,
    );
    ok(
        "package://my_pkg/meshes/with%20space/cube%20part.obj",
        "1 1 1",
        &urdf_dir,
        &opts,
    );
    // Empty package name: relative to the URDF folder or a parent.
    ok(
        "package:///my_pkg/meshes/cube.obj",
        "1 1 1",
        &urdf_dir,
        &opts,
    );
    // file:// absolute.
    let abs = format!("file://{}", pkg.join("meshes/link_0.stl").display());
    let m = ok(&abs, "0.001 0.001 0.001", &urdf_dir, &opts);
    assert!(
        mesh_extent(&m) < 0.001,
        "scaled STL extent {}",
        mesh_extent(&m)
    );
    // Plain relative path; COLLADA.
    ok("../my_pkg/meshes/shaft.dae", "1 1 1", &urdf_dir, &opts);
    // An explicit package root elsewhere.
    let elsewhere = scratch("uris-elsewhere");
    let opts2 = LoadOptions {
        resolver: PackageResolver::new().with_package("renamed", &pkg),
        ..LoadOptions::default()
    };
    ok(
        "package://renamed/meshes/cube.obj",
        "1 1 1",
        &elsewhere,
        &opts2,
    );
    // Not found: the error lists what was tried.
    let text = mesh_robot("package://my_pkg/meshes/absent.stl", "1 1 1");
    let err = load_str(&text, Some(&urdf_dir), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("link 'body'") && err.contains("absent.stl") && err.contains("tried"),
        "{err}"
    );
    // A file that is not a mesh.
    std::fs::write(
        pkg.join("meshes/bad.stl"),
        "solid nothing\nthis is not an stl",
    )
    .unwrap();
    let text = mesh_robot("package://my_pkg/meshes/bad.stl", "1 1 1");
    let err = load_str(&text, Some(&urdf_dir), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("link 'body'") && err.contains("bad.stl"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&elsewhere);
}

#[test]
fn mass_from_geometry_for_links_without_inertial() {
    let text = r#"<robot name="g">
  <link name="base"/>
  <link name="boxy"><collision><origin xyz="0.1 0 0"/><geometry><box size="0.1 0.2 0.3"/></geometry></collision></link>
  <link name="cyl"><visual><geometry><cylinder radius="0.05" length="0.4"/></geometry></visual></link>
  <link name="virtual"/>
  <joint name="j1" type="revolute"><parent link="base"/><child link="boxy"/><axis xyz="0 0 1"/>
    <limit lower="-1" upper="1" effort="1" velocity="1"/></joint>
  <joint name="j2" type="continuous"><parent link="boxy"/><child link="cyl"/><axis xyz="0 1 0"/></joint>
  <joint name="j3" type="fixed"><parent link="cyl"/><child link="virtual"/></joint>
</robot>"#;
    let m = load_str(text, None, &LoadOptions::default()).unwrap();
    let boxy = &m.links()[1].inertial;
    assert_eq!(boxy.source, InertialSource::Geometry);
    assert!((boxy.mass - 1000.0 * 0.1 * 0.2 * 0.3).abs() < 1e-3);
    assert!((boxy.com.x - 0.1).abs() < 1e-6);
    // Ixx of a box about its centre: m (b² + c²) / 12.
    assert!((boxy.inertia[(0, 0)] - 6.0 * (0.04 + 0.09) / 12.0).abs() < 1e-4);
    let cyl = &m.links()[2];
    assert_eq!(cyl.collision_source, CollisionSource::Visual);
    let mass = 1000.0 * std::f64::consts::PI * 0.05 * 0.05 * 0.4;
    assert!((cyl.inertial.mass - mass).abs() / mass < 1e-3);
    // Cylinder along z: Izz = m r² / 2.
    assert!(
        (cyl.inertial.inertia[(2, 2)] - mass * 0.0025 / 2.0).abs() / (mass * 0.0025 / 2.0) < 1e-3
    );
    assert_eq!(m.links()[3].inertial.source, InertialSource::Massless);
    assert_eq!(
        m.warnings
            .iter()
            .filter(|w| w.contains("no <inertial>"))
            .count(),
        2
    );
}

#[test]
fn commented_out_joints_are_ignored_and_default_tool_links() {
    let text = r#"<robot name="c">
  <link name="a"/><link name="b"/>
  <!-- <joint name="old" type="hinge"><parent link="a"/><child link="b"/></joint> -->
  <joint name="j" type="continuous"><parent link="a"/><child link="b"/></joint>
</robot>"#;
    let m = load_str(text, None, &LoadOptions::default()).unwrap();
    assert_eq!(m.joints().len(), 1);
    assert_eq!(m.links()[m.default_tool_link()].name, "b");
    for (m, tool) in all_arms() {
        assert_eq!(m.links()[m.default_tool_link()].name, tool, "{}", m.name);
    }
}
