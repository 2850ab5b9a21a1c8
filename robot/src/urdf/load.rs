//! URDF text to [`RobotModel`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rapier3d::na::{Isometry3, Matrix3, Unit, Vector3};

use super::geometry::{shapes_mass_properties, DEGENERATE};
use super::mesh::{load_mesh, PackageResolver};
use crate::error::{Result, RobotError};
use crate::math::urdf_pose;
use crate::model::{
    CollisionSource, Geometry, Inertial, InertialSource, Joint, JointDynamics, JointId, JointKind,
    JointLimits, Link, LinkId, Mimic, RobotModel, Shape,
};

/// Options of the URDF loader.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// How `package://` and relative mesh URIs are resolved.
    pub resolver: PackageResolver,
    /// When true, a missing *visual* mesh is a warning instead of an error (a missing mesh
    /// that is needed as collision geometry is always an error).
    pub allow_missing_visual_meshes: bool,
    /// When true, a link with geometry but no `<inertial>` is an error instead of getting mass
    /// properties computed from its collision geometry.
    pub strict_inertials: bool,
    /// Density used for links without `<inertial>` (kg/m³; default 1000, water).
    pub default_density: f64,
    /// Whether to load collision meshes (needed for contacts and for inertia from geometry).
    /// With `false` only the paths are resolved: enough for kinematics.
    pub load_collision_meshes: bool,
    /// Pose of the root link in the world.
    pub base_pose: Isometry3<f64>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            resolver: PackageResolver::new(),
            allow_missing_visual_meshes: false,
            strict_inertials: false,
            default_density: 1000.0,
            load_collision_meshes: true,
            base_pose: Isometry3::identity(),
        }
    }
}

/// Loads a URDF file.
pub fn load_file(path: impl AsRef<Path>, options: &LoadOptions) -> Result<RobotModel> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|error| RobotError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let dir = path.parent().map(|d| {
        if d.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            d.to_path_buf()
        }
    });
    let mut model = build(&text, &path.display().to_string(), dir.as_deref(), options)?;
    model.source = Some(path.to_path_buf());
    Ok(model)
}

/// Loads a URDF from a string. Relative mesh paths are resolved against `base_dir` (and its
/// parents), if given.
pub fn load_str(text: &str, base_dir: Option<&Path>, options: &LoadOptions) -> Result<RobotModel> {
    build(text, "<string>", base_dir, options)
}

/// Scans `<joint ... type="...">` tags for types urdf-rs would reject with a less helpful
/// message, so that the error can name the joint.
fn check_joint_types(text: &str, src: &str) -> Result<()> {
    // Drop XML comments: commented-out joints must not be checked.
    let mut uncommented = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        uncommented.push_str(&rest[..start]);
        rest = match rest[start..].find("-->") {
            Some(end) => &rest[start + end + 3..],
            None => "",
        };
    }
    uncommented.push_str(rest);
    let mut rest = uncommented.as_str();
    while let Some(start) = rest.find("<joint") {
        let after = &rest[start + 6..];
        let end = after.find('>').unwrap_or(after.len());
        let tag = &after[..end];
        rest = &after[end..];
        if !tag.starts_with(char::is_whitespace) {
            continue;
        }
        let (Some(kind), name) = (attr(tag, "type"), attr(tag, "name")) else {
            continue;
        };
        if !matches!(
            kind,
            "revolute" | "continuous" | "prismatic" | "fixed" | "floating"
        ) {
            return Err(RobotError::UnsupportedJointType {
                source_name: src.to_string(),
                joint: name.unwrap_or("?").to_string(),
                kind: kind.to_string(),
            });
        }
    }
    Ok(())
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut search = tag;
    loop {
        let i = search.find(name)?;
        let before_ok = i == 0 || search[..i].ends_with(char::is_whitespace);
        let after = search[i + name.len()..].trim_start();
        if before_ok {
            if let Some(after) = after.strip_prefix('=') {
                let after = after.trim_start();
                let quote = after.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let body = &after[1..];
                    let end = body.find(quote)?;
                    return Some(&body[..end]);
                }
            }
        }
        search = &search[i + name.len()..];
    }
}

struct Ctx<'a> {
    src: &'a str,
}

impl Ctx<'_> {
    fn finite3(&self, v: [f64; 3], location: impl FnOnce() -> String) -> Result<[f64; 3]> {
        if v.iter().all(|x| x.is_finite()) {
            Ok(v)
        } else {
            Err(self.invalid(location(), format!("non-finite value {v:?}")))
        }
    }

    fn invalid(&self, location: String, reason: String) -> RobotError {
        RobotError::InvalidValue {
            source_name: self.src.to_string(),
            location,
            reason,
        }
    }

    fn pose(&self, p: &urdf_rs::Pose, what: &str) -> Result<Isometry3<f64>> {
        let xyz = self.finite3(p.xyz.0, || format!("{what} <origin xyz>"))?;
        let rpy = self.finite3(p.rpy.0, || format!("{what} <origin rpy>"))?;
        Ok(urdf_pose(xyz, rpy))
    }

    fn scalar(&self, v: f64, what: impl FnOnce() -> String, positive: bool) -> Result<f64> {
        if !v.is_finite() {
            return Err(self.invalid(what(), format!("non-finite value {v}")));
        }
        if positive && v < 0.0 {
            return Err(self.invalid(what(), format!("negative value {v}")));
        }
        Ok(v)
    }
}

fn build(text: &str, src: &str, dir: Option<&Path>, options: &LoadOptions) -> Result<RobotModel> {
    check_joint_types(text, src)?;
    let robot = urdf_rs::read_from_string(text).map_err(|e| RobotError::Parse {
        source_name: src.to_string(),
        message: e.to_string(),
    })?;
    let ctx = Ctx { src };
    let mut warnings = Vec::new();
    if robot.links.is_empty() {
        return Err(RobotError::NoLinks {
            source_name: src.to_string(),
        });
    }

    // Names.
    let mut link_index = HashMap::new();
    for (i, l) in robot.links.iter().enumerate() {
        if link_index.insert(l.name.clone(), i).is_some() {
            return Err(RobotError::DuplicateName {
                source_name: src.to_string(),
                what: "link",
                name: l.name.clone(),
            });
        }
    }
    let mut joint_index = HashMap::new();
    for (i, j) in robot.joints.iter().enumerate() {
        if joint_index.insert(j.name.clone(), i).is_some() {
            return Err(RobotError::DuplicateName {
                source_name: src.to_string(),
                what: "joint",
                name: j.name.clone(),
            });
        }
    }

    // Links.
    let mut links = Vec::with_capacity(robot.links.len());
    for l in &robot.links {
        links.push(build_link(&ctx, l, dir, options, &mut warnings)?);
    }

    // Joints.
    let mut joints = Vec::with_capacity(robot.joints.len());
    for j in &robot.joints {
        let what = format!("joint '{}'", j.name);
        let lookup = |name: &str, role| {
            link_index
                .get(name)
                .copied()
                .ok_or_else(|| RobotError::UnknownLinkInJoint {
                    source_name: src.to_string(),
                    joint: j.name.clone(),
                    role,
                    link: name.to_string(),
                })
        };
        let parent = lookup(&j.parent.link, "parent")?;
        let child = lookup(&j.child.link, "child")?;
        if parent == child {
            return Err(RobotError::Cycle {
                source_name: src.to_string(),
                link: j.parent.link.clone(),
            });
        }
        let kind = match j.joint_type {
            urdf_rs::JointType::Revolute => JointKind::Revolute,
            urdf_rs::JointType::Continuous => JointKind::Continuous,
            urdf_rs::JointType::Prismatic => JointKind::Prismatic,
            urdf_rs::JointType::Fixed => JointKind::Fixed,
            urdf_rs::JointType::Floating => JointKind::Floating,
            ref other => {
                return Err(RobotError::UnsupportedJointType {
                    source_name: src.to_string(),
                    joint: j.name.clone(),
                    kind: format!("{other:?}").to_lowercase(),
                })
            }
        };
        let origin = ctx.pose(&j.origin, &what)?;
        let axis = ctx.finite3(j.axis.xyz.0, || format!("{what} <axis xyz>"))?;
        let axis = Vector3::from(axis);
        let axis = if matches!(
            kind,
            JointKind::Revolute | JointKind::Continuous | JointKind::Prismatic
        ) {
            Unit::try_new(axis, 1e-12).ok_or_else(|| {
                ctx.invalid(format!("{what} <axis xyz>"), "zero-length axis".into())
            })?
        } else {
            Unit::try_new(axis, 1e-12).unwrap_or(Vector3::x_axis())
        };
        let lim = &j.limit;
        let mut limits = JointLimits::UNLIMITED;
        let effort = ctx.scalar(lim.effort, || format!("{what} <limit effort>"), true)?;
        let velocity = ctx.scalar(lim.velocity, || format!("{what} <limit velocity>"), true)?;
        limits.effort = if effort > 0.0 { effort } else { f64::INFINITY };
        limits.velocity = if velocity > 0.0 {
            velocity
        } else {
            f64::INFINITY
        };
        if matches!(kind, JointKind::Revolute | JointKind::Prismatic) {
            if lim.lower.is_nan() || lim.upper.is_nan() {
                return Err(ctx.invalid(format!("{what} <limit>"), "NaN position limit".into()));
            }
            if lim.lower > lim.upper {
                return Err(ctx.invalid(
                    format!("{what} <limit>"),
                    format!("lower {} > upper {}", lim.lower, lim.upper),
                ));
            }
            if lim.lower == lim.upper {
                warnings.push(format!(
                    "joint '{}': {} joint with an empty range [{}, {}] (no <limit>?): it cannot move",
                    j.name,
                    kind.as_str(),
                    lim.lower,
                    lim.upper
                ));
            }
            limits.lower = lim.lower;
            limits.upper = lim.upper;
        }
        let dynamics = match &j.dynamics {
            Some(d) => JointDynamics {
                damping: ctx.scalar(d.damping, || format!("{what} <dynamics damping>"), true)?,
                friction: ctx.scalar(d.friction, || format!("{what} <dynamics friction>"), true)?,
            },
            None => JointDynamics::default(),
        };
        joints.push(Joint {
            name: j.name.clone(),
            kind,
            parent: LinkId(parent),
            child: LinkId(child),
            origin,
            axis,
            limits,
            dynamics,
            mimic: None,
            coord_offset: 0,
            dof: None,
        });
    }

    // Tree structure.
    for (ji, j) in joints.iter().enumerate() {
        if let Some(prev) = links[j.child].parent_joint {
            return Err(RobotError::MultipleParents {
                source_name: src.to_string(),
                link: links[j.child].name.clone(),
                first: joints[prev].name.clone(),
                second: j.name.clone(),
            });
        }
        links[j.child].parent_joint = Some(JointId(ji));
        links[j.parent].child_joints.push(JointId(ji));
    }
    let roots: Vec<usize> = (0..links.len())
        .filter(|&i| links[i].parent_joint.is_none())
        .collect();
    let root = match roots.as_slice() {
        [] => {
            return Err(RobotError::Cycle {
                source_name: src.to_string(),
                link: links[0].name.clone(),
            })
        }
        [r] => LinkId(*r),
        many => {
            return Err(RobotError::MultipleRoots {
                source_name: src.to_string(),
                roots: many.iter().map(|&i| links[i].name.clone()).collect(),
            })
        }
    };
    // Depth-first order from the root; links not reached sit on a cycle.
    let mut order = Vec::with_capacity(joints.len());
    let mut reached = vec![false; links.len()];
    let mut stack = vec![root];
    reached[root] = true;
    while let Some(l) = stack.pop() {
        for &j in links[l].child_joints.iter().rev() {
            let c = joints[j].child;
            if reached[c] {
                return Err(RobotError::Cycle {
                    source_name: src.to_string(),
                    link: links[c].name.clone(),
                });
            }
            reached[c] = true;
            stack.push(c);
        }
        if let Some(j) = links[l].parent_joint {
            order.push(j);
        }
    }
    if let Some(l) = reached.iter().position(|r| !r) {
        return Err(RobotError::Cycle {
            source_name: src.to_string(),
            link: links[l].name.clone(),
        });
    }

    // Mimic relations.
    for (ji, j) in robot.joints.iter().enumerate() {
        let Some(m) = &j.mimic else { continue };
        let bad = |reason: &str| RobotError::InvalidMimic {
            source_name: src.to_string(),
            joint: j.name.clone(),
            target: m.joint.clone(),
            reason: reason.to_string(),
        };
        let leader = *joint_index
            .get(&m.joint)
            .ok_or_else(|| bad("no such joint"))?;
        if leader == ji {
            return Err(bad("a joint cannot mimic itself"));
        }
        if joints[ji].kind.ncoords() != 1 || joints[leader].kind.ncoords() != 1 {
            return Err(bad(
                "mimic needs one-coordinate joints (revolute, continuous, prismatic)",
            ));
        }
        let multiplier = m.multiplier.unwrap_or(1.0);
        let offset = m.offset.unwrap_or(0.0);
        if !multiplier.is_finite() || !offset.is_finite() {
            return Err(bad("non-finite multiplier or offset"));
        }
        joints[ji].mimic = Some(Mimic {
            leader: JointId(leader),
            multiplier,
            offset,
            root_leader: JointId(leader),
            root_multiplier: multiplier,
            root_offset: offset,
        });
    }
    // Resolve chains (a mimics b mimics c).
    for ji in 0..joints.len() {
        let Some(m) = joints[ji].mimic.clone() else {
            continue;
        };
        let (mut lead, mut mul, mut off) = (m.leader, m.multiplier, m.offset);
        let mut steps = 0;
        while let Some(next) = joints[lead].mimic.clone() {
            steps += 1;
            if steps > joints.len() {
                return Err(RobotError::InvalidMimic {
                    source_name: src.to_string(),
                    joint: joints[ji].name.clone(),
                    target: joints[m.leader].name.clone(),
                    reason: "mimic relations form a cycle".into(),
                });
            }
            off += mul * next.offset;
            mul *= next.multiplier;
            lead = next.leader;
        }
        let mm = joints[ji].mimic.as_mut().expect("checked above");
        mm.root_leader = lead;
        mm.root_multiplier = mul;
        mm.root_offset = off;
    }

    // Coordinates.
    let mut ncoords = 0;
    for j in joints.iter_mut() {
        j.coord_offset = ncoords;
        ncoords += j.kind.ncoords();
    }
    let mut dofs = Vec::new();
    for &ji in &order {
        let j = &mut joints[ji];
        if j.mimic.is_none() && j.is_movable() {
            j.dof = Some(dofs.len());
            for c in 0..j.kind.ncoords() {
                dofs.push((ji, c));
            }
        }
    }

    // Inertials that depend on geometry.
    for l in links.iter_mut() {
        if l.inertial.source == InertialSource::Urdf {
            continue;
        }
        match shapes_mass_properties(&l.collisions, options.default_density) {
            Some(mut inertial) => {
                if options.strict_inertials {
                    return Err(RobotError::MissingInertial {
                        link: l.name.clone(),
                    });
                }
                warnings.push(format!(
                    "link '{}' has no <inertial>: mass {:.4} kg computed from its {} geometry at {} kg/m³",
                    l.name,
                    inertial.mass,
                    if l.collision_source == CollisionSource::Visual { "visual" } else { "collision" },
                    options.default_density
                ));
                inertial.source = InertialSource::Geometry;
                l.inertial = inertial;
            }
            None => {
                l.inertial = Inertial {
                    mass: 0.0,
                    com: Vector3::zeros(),
                    inertia: Matrix3::zeros(),
                    source: InertialSource::Massless,
                };
            }
        }
    }

    Ok(RobotModel {
        name: robot.name.clone(),
        source: None,
        links,
        joints,
        root,
        joint_order: order,
        dofs,
        ncoords,
        base_pose: options.base_pose,
        warnings,
    })
}

fn build_link(
    ctx: &Ctx<'_>,
    l: &urdf_rs::Link,
    dir: Option<&Path>,
    options: &LoadOptions,
    warnings: &mut Vec<String>,
) -> Result<Link> {
    let what = format!("link '{}'", l.name);
    // urdf-rs fills a missing <inertial> with zeros: mass 0 means "no inertial".
    let i = &l.inertial;
    let mass = ctx.scalar(i.mass.value, || format!("{what} <mass>"), true)?;
    let iv = [
        i.inertia.ixx,
        i.inertia.ixy,
        i.inertia.ixz,
        i.inertia.iyy,
        i.inertia.iyz,
        i.inertia.izz,
    ];
    if iv.iter().any(|v| !v.is_finite()) {
        return Err(ctx.invalid(
            format!("{what} <inertia>"),
            format!("non-finite value in {iv:?}"),
        ));
    }
    // An explicit <inertial> with zero mass (pybullet's convention for a fixed base) is
    // recognisable by its non-zero inertia or origin.
    let declared = mass > 0.0
        || iv.iter().any(|v| *v != 0.0)
        || i.origin
            .xyz
            .0
            .iter()
            .chain(i.origin.rpy.0.iter())
            .any(|v| *v != 0.0);
    if declared && mass == 0.0 {
        warnings.push(format!(
            "link '{}' declares <inertial> with zero mass: treated as massless",
            l.name
        ));
    }
    let inertial = if declared {
        let origin = ctx.pose(&i.origin, &format!("{what} <inertial>"))?;
        let local = Matrix3::new(
            iv[0], iv[1], iv[2], iv[1], iv[3], iv[4], iv[2], iv[4], iv[5],
        );
        if iv[0] < 0.0 || iv[3] < 0.0 || iv[5] < 0.0 {
            return Err(ctx.invalid(
                format!("{what} <inertia>"),
                "negative diagonal entry".into(),
            ));
        }
        let r = origin.rotation.to_rotation_matrix();
        Inertial {
            mass,
            com: origin.translation.vector,
            inertia: r.matrix() * local * r.matrix().transpose(),
            source: InertialSource::Urdf,
        }
    } else {
        Inertial {
            mass: 0.0,
            com: Vector3::zeros(),
            inertia: Matrix3::zeros(),
            source: InertialSource::Massless,
        }
    };

    let mut collisions = Vec::new();
    for c in &l.collision {
        let origin = ctx.pose(&c.origin, &format!("{what} <collision>"))?;
        let load = options.load_collision_meshes;
        let geometry = geometry(
            ctx,
            &l.name,
            &c.geometry,
            dir,
            options,
            true,
            load,
            warnings,
        )?;
        collisions.push(Shape { origin, geometry });
    }
    let mut collision_source = if collisions.is_empty() {
        CollisionSource::None
    } else {
        CollisionSource::Collision
    };
    let need_visual_meshes = collisions.is_empty() && options.load_collision_meshes;
    let mut visuals = Vec::new();
    for v in &l.visual {
        let origin = ctx.pose(&v.origin, &format!("{what} <visual>"))?;
        let geometry = geometry(
            ctx,
            &l.name,
            &v.geometry,
            dir,
            options,
            false,
            need_visual_meshes,
            warnings,
        )?;
        visuals.push(Shape { origin, geometry });
    }
    if collisions.is_empty() && !visuals.is_empty() {
        let usable: Vec<Shape> = visuals
            .iter()
            .filter(|s| !matches!(&s.geometry, Geometry::Mesh { path: None, .. }))
            .cloned()
            .collect();
        if !usable.is_empty() {
            collisions = usable;
            collision_source = CollisionSource::Visual;
        }
    }
    for s in &collisions {
        if let Geometry::Box { size } = &s.geometry {
            if size.min() <= DEGENERATE {
                warnings.push(format!(
                    "link '{}': degenerate box {:?} ignored for collision and mass",
                    l.name,
                    size.as_slice()
                ));
            }
        }
    }
    Ok(Link {
        name: l.name.clone(),
        parent_joint: None,
        child_joints: Vec::new(),
        inertial,
        collisions,
        collision_source,
        visuals,
    })
}

#[allow(clippy::too_many_arguments)]
fn geometry(
    ctx: &Ctx<'_>,
    link: &str,
    g: &urdf_rs::Geometry,
    dir: Option<&Path>,
    options: &LoadOptions,
    is_collision: bool,
    load: bool,
    warnings: &mut Vec<String>,
) -> Result<Geometry> {
    let what = || format!("link '{link}' geometry");
    Ok(match g {
        urdf_rs::Geometry::Box { size } => {
            let s = ctx.finite3(size.0, || format!("{} <box size>", what()))?;
            if s.iter().any(|v| *v < 0.0) {
                return Err(ctx.invalid(format!("{} <box size>", what()), "negative size".into()));
            }
            Geometry::Box {
                size: Vector3::from(s),
            }
        }
        urdf_rs::Geometry::Cylinder { radius, length } => Geometry::Cylinder {
            radius: ctx.scalar(*radius, || format!("{} <cylinder radius>", what()), true)?,
            length: ctx.scalar(*length, || format!("{} <cylinder length>", what()), true)?,
        },
        urdf_rs::Geometry::Capsule { radius, length } => Geometry::Capsule {
            radius: ctx.scalar(*radius, || format!("{} <capsule radius>", what()), true)?,
            length: ctx.scalar(*length, || format!("{} <capsule length>", what()), true)?,
        },
        urdf_rs::Geometry::Sphere { radius } => Geometry::Sphere {
            radius: ctx.scalar(*radius, || format!("{} <sphere radius>", what()), true)?,
        },
        urdf_rs::Geometry::Mesh { filename, scale } => {
            let scale = match scale {
                Some(s) => Vector3::from(ctx.finite3(s.0, || format!("{} <mesh scale>", what()))?),
                None => Vector3::new(1.0, 1.0, 1.0),
            };
            match options.resolver.resolve(filename, dir) {
                Ok(path) => {
                    let data = if load {
                        Some(load_mesh(link, &path, &scale)?)
                    } else {
                        None
                    };
                    Geometry::Mesh {
                        uri: filename.clone(),
                        path: Some(path),
                        scale,
                        data,
                    }
                }
                Err(tried) => {
                    if !is_collision && options.allow_missing_visual_meshes {
                        warnings.push(format!(
                            "link '{link}': visual mesh '{filename}' not found (allowed)"
                        ));
                        Geometry::Mesh {
                            uri: filename.clone(),
                            path: None,
                            scale,
                            data: None,
                        }
                    } else {
                        return Err(RobotError::MeshNotFound {
                            link: link.to_string(),
                            uri: filename.clone(),
                            tried,
                        });
                    }
                }
            }
        }
    })
}
