//! `vesalius robot ...`: inspect URDF robots, forward and inverse kinematics.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::json;
use vesalius_robot::model::{CollisionSource, Geometry, InertialSource, JointKind};
use vesalius_robot::prelude::*;

/// Robot subcommands.
#[derive(Subcommand, Debug)]
pub enum RobotCommand {
    /// Link/joint tree, limits, masses, mimic relations, collision shapes and warnings.
    Info {
        /// The URDF file.
        urdf: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Forward kinematics: world pose of a link at a joint configuration.
    Fk {
        /// The URDF file.
        urdf: PathBuf,
        /// Independent joint values, comma-separated, in `info` order (rad, m).
        #[arg(long, allow_hyphen_values = true)]
        joints: String,
        /// The link (default: the deepest link of the tree).
        #[arg(long)]
        link: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Inverse kinematics: joint values putting a link at a position (and orientation).
    Ik {
        /// The URDF file.
        urdf: PathBuf,
        /// Target position x,y,z (m, world frame).
        #[arg(long, allow_hyphen_values = true)]
        target: String,
        /// Target orientation roll,pitch,yaw (rad, URDF convention); position only without it.
        #[arg(long, allow_hyphen_values = true)]
        rpy: Option<String>,
        /// The link (default: the deepest link of the tree).
        #[arg(long)]
        link: Option<String>,
        /// Initial guess, comma-separated (default: middle of the limits).
        #[arg(long, allow_hyphen_values = true)]
        seed: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        load: LoadArgs,
    },
}

/// Loader options shared by the subcommands.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Root folder of a ROS package, `NAME=DIR` (repeatable); by default `package://NAME/`
    /// is looked for beside the URDF and in its parent folders.
    #[arg(long = "package", value_name = "NAME=DIR")]
    packages: Vec<String>,
    /// Turn missing visual meshes into warnings.
    #[arg(long)]
    allow_missing_visuals: bool,
    /// Refuse links without <inertial> instead of computing their mass from geometry.
    #[arg(long)]
    strict: bool,
}

impl LoadArgs {
    fn options(&self, load_meshes: bool) -> anyhow::Result<LoadOptions> {
        let mut resolver = PackageResolver::new();
        for p in &self.packages {
            let (name, dir) = p
                .split_once('=')
                .with_context(|| format!("--package expects NAME=DIR, got '{p}'"))?;
            resolver = resolver.with_package(name, dir);
        }
        Ok(LoadOptions {
            resolver,
            allow_missing_visual_meshes: self.allow_missing_visuals || !load_meshes,
            strict_inertials: self.strict,
            load_collision_meshes: load_meshes,
            ..LoadOptions::default()
        })
    }
}

/// Runs a robot subcommand.
pub fn run(cmd: RobotCommand) -> anyhow::Result<()> {
    match cmd {
        RobotCommand::Info { urdf, json, load } => {
            // Warnings are part of the report: not logged again.
            let model = load_file(&urdf, &load.options(true)?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info_json(&model))?);
            } else {
                print!("{}", info_text(&model));
            }
            Ok(())
        }
        RobotCommand::Fk {
            urdf,
            joints,
            link,
            json,
            load,
        } => {
            let model = load_model(&urdf, &load.options(false)?)?;
            let q = parse_list(&joints, "--joints")?;
            let link = pick_link(&model, link.as_deref())?;
            let pose = model.link_pose(&q, link)?;
            if json {
                let v = json!({ "link": model.links()[link].name, "joints": joint_map(&model, &q), "pose": pose_json(&pose) });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("link {}", model.links()[link].name);
                println!("{}", pose_text(&pose));
            }
            Ok(())
        }
        RobotCommand::Ik {
            urdf,
            target,
            rpy,
            link,
            seed,
            json,
            load,
        } => {
            let model = load_model(&urdf, &load.options(false)?)?;
            let p = parse_list(&target, "--target")?;
            if p.len() != 3 {
                bail!("--target expects x,y,z (3 values), got {}", p.len());
            }
            let position = Vector3::new(p[0], p[1], p[2]);
            let target = match rpy {
                Some(r) => {
                    let r = parse_list(&r, "--rpy")?;
                    if r.len() != 3 {
                        bail!("--rpy expects roll,pitch,yaw (3 values), got {}", r.len());
                    }
                    IkTarget::Pose(Isometry3::from_parts(
                        Translation3::from(position),
                        UnitQuaternion::from_euler_angles(r[0], r[1], r[2]),
                    ))
                }
                None => IkTarget::Position(position),
            };
            let link = pick_link(&model, link.as_deref())?;
            let q0 = match seed {
                Some(s) => parse_list(&s, "--seed")?,
                None => model.neutral_configuration(),
            };
            let sol = solve_ik(&model, link, &target, &q0, &IkOptions::default())?;
            let pose = model.link_pose(&sol.q, link)?;
            if json {
                let v = json!({
                    "link": model.links()[link].name,
                    "joints": joint_map(&model, &sol.q),
                    "q": sol.q,
                    "position_error": sol.position_error,
                    "orientation_error": sol.orientation_error,
                    "iterations": sol.iterations,
                    "pose": pose_json(&pose),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "link {}: converged in {} iterations",
                    model.links()[link].name,
                    sol.iterations
                );
                for (name, v) in model.dof_names().iter().zip(&sol.q) {
                    println!("  {name:<28} {v:+.6}");
                }
                println!(
                    "joints {}",
                    sol.q
                        .iter()
                        .map(|v| format!("{v:.6}"))
                        .collect::<Vec<_>>()
                        .join(",")
                );
                println!("{}", pose_text(&pose));
                println!(
                    "error position {:.3e} m, orientation {:.3e} rad",
                    sol.position_error, sol.orientation_error
                );
            }
            Ok(())
        }
    }
}

fn load_model(path: &Path, opts: &LoadOptions) -> anyhow::Result<RobotModel> {
    let model = load_file(path, opts)?;
    for w in &model.warnings {
        log::warn!("{w}");
    }
    Ok(model)
}

fn parse_list(s: &str, what: &str) -> anyhow::Result<Vec<f64>> {
    s.split(',')
        .map(|v| {
            let v = v.trim();
            let x: f64 = v
                .parse()
                .with_context(|| format!("{what}: '{v}' is not a number"))?;
            if !x.is_finite() {
                bail!("{what}: '{v}' is not finite");
            }
            Ok(x)
        })
        .collect()
}

fn pick_link(model: &RobotModel, name: Option<&str>) -> anyhow::Result<LinkId> {
    Ok(match name {
        Some(n) => model.link_id(n)?,
        None => model.default_tool_link(),
    })
}

fn joint_map(model: &RobotModel, q: &[f64]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (n, v) in model.dof_names().into_iter().zip(q) {
        map.insert(n, json!(v));
    }
    serde_json::Value::Object(map)
}

fn pose_json(p: &Isometry3<f64>) -> serde_json::Value {
    let (r, pi, y) = p.rotation.euler_angles();
    let q = p.rotation.quaternion();
    json!({
        "xyz": [p.translation.x, p.translation.y, p.translation.z],
        "rpy": [r, pi, y],
        "quaternion_xyzw": [q.i, q.j, q.k, q.w],
    })
}

fn pose_text(p: &Isometry3<f64>) -> String {
    let (r, pi, y) = p.rotation.euler_angles();
    let q = p.rotation.quaternion();
    format!(
        "xyz  {:+.6} {:+.6} {:+.6}\nrpy  {:+.6} {:+.6} {:+.6}\nquat {:+.6} {:+.6} {:+.6} {:+.6} (x y z w)",
        p.translation.x, p.translation.y, p.translation.z, r, pi, y, q.i, q.j, q.k, q.w
    )
}

fn limit(v: f64) -> serde_json::Value {
    if v.is_finite() {
        json!(v)
    } else {
        serde_json::Value::Null
    }
}

fn fmt_limit(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "-".into()
    }
}

fn shape_json(s: &vesalius_robot::model::Shape) -> serde_json::Value {
    let (r, p, y) = s.origin.rotation.euler_angles();
    let t = s.origin.translation.vector;
    let mut v =
        json!({ "xyz": [t.x, t.y, t.z], "rpy": [r, p, y], "description": s.geometry.describe() });
    let obj = v.as_object_mut().expect("object");
    match &s.geometry {
        Geometry::Box { size } => {
            obj.insert("type".into(), json!("box"));
            obj.insert("size".into(), json!([size.x, size.y, size.z]));
        }
        Geometry::Cylinder { radius, length } => {
            obj.insert("type".into(), json!("cylinder"));
            obj.insert("radius".into(), json!(radius));
            obj.insert("length".into(), json!(length));
        }
        Geometry::Capsule { radius, length } => {
            obj.insert("type".into(), json!("capsule"));
            obj.insert("radius".into(), json!(radius));
            obj.insert("length".into(), json!(length));
        }
        Geometry::Sphere { radius } => {
            obj.insert("type".into(), json!("sphere"));
            obj.insert("radius".into(), json!(radius));
        }
        Geometry::Mesh {
            uri,
            path,
            scale,
            data,
        } => {
            obj.insert("type".into(), json!("mesh"));
            obj.insert("uri".into(), json!(uri));
            obj.insert(
                "path".into(),
                json!(path.as_ref().map(|p| p.display().to_string())),
            );
            obj.insert("scale".into(), json!([scale.x, scale.y, scale.z]));
            obj.insert(
                "triangles".into(),
                json!(data.as_ref().map(|d| d.triangles.len())),
            );
        }
    }
    v
}

fn source_str(s: InertialSource) -> &'static str {
    match s {
        InertialSource::Urdf => "urdf",
        InertialSource::Geometry => "geometry",
        InertialSource::Massless => "massless",
    }
}

fn collision_source_str(s: CollisionSource) -> &'static str {
    match s {
        CollisionSource::Collision => "collision",
        CollisionSource::Visual => "visual",
        CollisionSource::None => "none",
    }
}

fn info_json(model: &RobotModel) -> serde_json::Value {
    let links: Vec<_> = model
        .links()
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "parent_joint": l.parent_joint.map(|j| model.joints()[j].name.clone()),
                "mass": l.inertial.mass,
                "com": [l.inertial.com.x, l.inertial.com.y, l.inertial.com.z],
                "inertial_source": source_str(l.inertial.source),
                "collision_source": collision_source_str(l.collision_source),
                "collision": l.collisions.iter().map(shape_json).collect::<Vec<_>>(),
                "visual": l.visuals.iter().map(shape_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let joints: Vec<_> = model
        .joints()
        .iter()
        .map(|j| {
            let (r, p, y) = j.origin.rotation.euler_angles();
            let t = j.origin.translation.vector;
            json!({
                "name": j.name,
                "type": j.kind.as_str(),
                "parent": model.links()[j.parent].name,
                "child": model.links()[j.child].name,
                "xyz": [t.x, t.y, t.z],
                "rpy": [r, p, y],
                "axis": [j.axis.x, j.axis.y, j.axis.z],
                "lower": limit(j.limits.lower),
                "upper": limit(j.limits.upper),
                "effort": limit(j.limits.effort),
                "velocity": limit(j.limits.velocity),
                "damping": j.dynamics.damping,
                "friction": j.dynamics.friction,
                "dof": j.dof,
                "mimic": j.mimic.as_ref().map(|m| json!({
                    "joint": model.joints()[m.leader].name,
                    "multiplier": m.multiplier,
                    "offset": m.offset,
                })),
            })
        })
        .collect();
    json!({
        "name": model.name,
        "source": model.source.as_ref().map(|p| p.display().to_string()),
        "root": model.links()[model.root()].name,
        "links": links,
        "joints": joints,
        "dofs": model.dof_names(),
        "total_mass": model.total_mass(),
        "mimic": model.mimic_relations().iter().map(|&(j, l, m, o)| json!({
            "joint": model.joints()[j].name, "leader": model.joints()[l].name, "multiplier": m, "offset": o,
        })).collect::<Vec<_>>(),
        "warnings": model.warnings,
    })
}

fn info_text(model: &RobotModel) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "robot {}", model.name);
    if let Some(p) = &model.source {
        let _ = writeln!(s, "file  {}", p.display());
    }
    let _ = writeln!(
        s,
        "{} links, {} joints, {} degrees of freedom, {} mimic joints, total mass {:.4} kg",
        model.links().len(),
        model.joints().len(),
        model.ndof(),
        model.mimic_relations().len(),
        model.total_mass()
    );
    let _ = writeln!(s, "\ntree:");
    fn walk(model: &RobotModel, link: LinkId, depth: usize, s: &mut String) {
        for &j in &model.links()[link].child_joints {
            let joint = &model.joints()[j];
            let _ = writeln!(
                s,
                "{}{} --[{} {}]--> {}",
                "  ".repeat(depth + 1),
                model.links()[link].name,
                joint.kind.as_str(),
                joint.name,
                model.links()[joint.child].name
            );
            walk(model, joint.child, depth + 1, s);
        }
    }
    let _ = writeln!(s, "  {}", model.links()[model.root()].name);
    walk(model, model.root(), 0, &mut s);
    let _ = writeln!(s, "\njoints:");
    let _ = writeln!(
        s,
        "  {:<26} {:<10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}  axis / mimic",
        "name", "type", "lower", "upper", "effort", "velocity", "damping", "friction"
    );
    for j in model.joints() {
        let extra = match (&j.mimic, j.kind) {
            (Some(m), _) => format!(
                "mimics {} x {} + {}",
                model.joints()[m.leader].name,
                m.multiplier,
                m.offset
            ),
            (None, JointKind::Fixed) => String::new(),
            (None, _) => format!("[{:.3} {:.3} {:.3}]", j.axis.x, j.axis.y, j.axis.z),
        };
        let _ = writeln!(
            s,
            "  {:<26} {:<10} {:>9} {:>9} {:>9} {:>9} {:>8.3} {:>8.3}  {}",
            j.name,
            j.kind.as_str(),
            fmt_limit(j.limits.lower),
            fmt_limit(j.limits.upper),
            fmt_limit(j.limits.effort),
            fmt_limit(j.limits.velocity),
            j.dynamics.damping,
            j.dynamics.friction,
            extra
        );
    }
    let _ = writeln!(s, "\nlinks:");
    for l in model.links() {
        let _ = writeln!(
            s,
            "  {:<34} mass {:>9.5} kg ({}), collision from {}",
            l.name,
            l.inertial.mass,
            source_str(l.inertial.source),
            collision_source_str(l.collision_source)
        );
        for c in &l.collisions {
            let _ = writeln!(s, "      {}", c.geometry.describe());
        }
    }
    if !model.mimic_relations().is_empty() {
        let _ = writeln!(s, "\nmimic relations:");
        for (j, l, m, o) in model.mimic_relations() {
            let _ = writeln!(
                s,
                "  {} = {} * {} + {}",
                model.joints()[j].name,
                m,
                model.joints()[l].name,
                o
            );
        }
    }
    if !model.warnings.is_empty() {
        let _ = writeln!(s, "\nwarnings:");
        for w in &model.warnings {
            let _ = writeln!(s, "  {w}");
        }
    }
    s
}
