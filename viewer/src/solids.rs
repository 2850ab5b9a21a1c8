//! Rigid things drawn beside the tissue: a robot's links from its URDF geometry (visual
//! meshes, falling back to collision geometry), posed where the simulation has them.

use glam::{DMat4, DQuat, DVec3};
use vesalius_robot::model::{Geometry, Shape};
use vesalius_robot::prelude::{Isometry3, LinkId, RobotModel};

/// A rigid body's triangles in world coordinates (m), drawn in one colour.
#[derive(Clone, Debug, PartialEq)]
pub struct Solid {
    /// Triangles, world coordinates (m), either orientation.
    pub triangles: Vec<[[f32; 3]; 3]>,
    /// Its colour (RGB in [0, 1]).
    pub colour: [f32; 3],
}

/// Links in the simulation's tools (they touch the tissue).
pub const TOOL_COLOUR: [f32; 3] = [0.85, 0.55, 0.2];
/// The other links.
pub const LINK_COLOUR: [f32; 3] = [0.62, 0.64, 0.68];

/// Segments around a cylinder, capsule or sphere.
const SEGMENTS: usize = 32;

/// The links of `model` at `link_poses` (world, per link), one [`Solid`] per link that
/// has geometry: its visual shapes, or its collision shapes when it has none; `tools` in
/// [`TOOL_COLOUR`]. A visual mesh not loaded with the model is loaded here (STL, OBJ,
/// COLLADA); one that cannot be read falls back to the collision shapes, and its error is
/// returned in the second list.
pub fn robot_solids(
    model: &RobotModel,
    link_poses: &[Isometry3<f64>],
    tools: &[LinkId],
) -> (Vec<Solid>, Vec<String>) {
    let mut solids = Vec::new();
    let mut problems = Vec::new();
    for (id, link) in model.link_ids().zip(model.links()) {
        let Some(pose) = link_poses.get(id.index()) else {
            continue;
        };
        let mut triangles = Vec::new();
        let mut ok = !link.visuals.is_empty();
        for shape in &link.visuals {
            if let Err(e) = tessellate(&link.name, shape, pose, &mut triangles) {
                problems.push(e);
                ok = false;
                break;
            }
        }
        if !ok {
            triangles.clear();
            for shape in &link.collisions {
                if let Err(e) = tessellate(&link.name, shape, pose, &mut triangles) {
                    problems.push(e);
                }
            }
        }
        if !triangles.is_empty() {
            solids.push(Solid {
                triangles,
                colour: if tools.contains(&id) {
                    TOOL_COLOUR
                } else {
                    LINK_COLOUR
                },
            });
        }
    }
    (solids, problems)
}

/// The world transform of `shape` on a link at `pose`.
fn transform(pose: &Isometry3<f64>, shape: &Shape) -> DMat4 {
    let iso = pose * shape.origin;
    let t = iso.translation.vector;
    let q = iso.rotation.quaternion();
    DMat4::from_rotation_translation(
        DQuat::from_xyzw(q.i, q.j, q.k, q.w),
        DVec3::new(t.x, t.y, t.z),
    )
}

/// Appends the shape's triangles (world coordinates) to `out`.
fn tessellate(
    link: &str,
    shape: &Shape,
    pose: &Isometry3<f64>,
    out: &mut Vec<[[f32; 3]; 3]>,
) -> Result<(), String> {
    let m = transform(pose, shape);
    let mut push = |a: DVec3, b: DVec3, c: DVec3| {
        out.push([a, b, c].map(|p| m.transform_point3(p).as_vec3().to_array()));
    };
    match &shape.geometry {
        Geometry::Box { size } => {
            let h = DVec3::new(size.x, size.y, size.z) * 0.5;
            let corner = |i: usize| {
                DVec3::new(
                    if i & 1 == 0 { -h.x } else { h.x },
                    if i & 2 == 0 { -h.y } else { h.y },
                    if i & 4 == 0 { -h.z } else { h.z },
                )
            };
            // Two triangles per face of the unit cube's corner numbering.
            for [a, b, c, d] in [
                [0, 1, 3, 2],
                [4, 6, 7, 5],
                [0, 4, 5, 1],
                [2, 3, 7, 6],
                [0, 2, 6, 4],
                [1, 5, 7, 3],
            ] {
                push(corner(a), corner(b), corner(c));
                push(corner(a), corner(c), corner(d));
            }
        }
        Geometry::Cylinder { radius, length } => {
            tube(*radius, -0.5 * length, 0.5 * length, &mut push);
            disc(*radius, -0.5 * length, &mut push);
            disc(*radius, 0.5 * length, &mut push);
        }
        Geometry::Capsule { radius, length } => {
            tube(*radius, -0.5 * length, 0.5 * length, &mut push);
            sphere(*radius, DVec3::new(0.0, 0.0, -0.5 * length), &mut push);
            sphere(*radius, DVec3::new(0.0, 0.0, 0.5 * length), &mut push);
        }
        Geometry::Sphere { radius } => sphere(*radius, DVec3::ZERO, &mut push),
        Geometry::Mesh {
            uri,
            path,
            scale,
            data,
        } => {
            let data = match (data, path) {
                (Some(d), _) => d.clone(),
                (None, Some(p)) => {
                    vesalius_robot::urdf::load_mesh(link, p, scale).map_err(|e| e.to_string())?
                }
                (None, None) => return Err(format!("link {link}: mesh {uri} was not found")),
            };
            for t in &data.triangles {
                let p = t.map(|v| {
                    let q = data.vertices[v as usize];
                    DVec3::new(q.x as f64, q.y as f64, q.z as f64)
                });
                push(p[0], p[1], p[2]);
            }
        }
    }
    Ok(())
}

fn ring(radius: f64, z: f64, k: usize) -> DVec3 {
    let a = std::f64::consts::TAU * k as f64 / SEGMENTS as f64;
    DVec3::new(radius * a.cos(), radius * a.sin(), z)
}

/// The side of a cylinder about z from `z0` to `z1`.
fn tube(radius: f64, z0: f64, z1: f64, push: &mut impl FnMut(DVec3, DVec3, DVec3)) {
    for k in 0..SEGMENTS {
        let (a, b) = (ring(radius, z0, k), ring(radius, z0, k + 1));
        let (c, d) = (ring(radius, z1, k + 1), ring(radius, z1, k));
        push(a, b, c);
        push(a, c, d);
    }
}

/// A disc at height `z`.
fn disc(radius: f64, z: f64, push: &mut impl FnMut(DVec3, DVec3, DVec3)) {
    let c = DVec3::new(0.0, 0.0, z);
    for k in 0..SEGMENTS {
        push(c, ring(radius, z, k), ring(radius, z, k + 1));
    }
}

/// A sphere about `centre` (latitude-longitude, `SEGMENTS` around, half as many up).
fn sphere(radius: f64, centre: DVec3, push: &mut impl FnMut(DVec3, DVec3, DVec3)) {
    let rows = SEGMENTS / 2;
    let point = |i: usize, k: usize| {
        let lat = std::f64::consts::PI * (i as f64 / rows as f64 - 0.5);
        let lon = std::f64::consts::TAU * k as f64 / SEGMENTS as f64;
        centre + radius * DVec3::new(lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin())
    };
    for i in 0..rows {
        for k in 0..SEGMENTS {
            let (a, b, c, d) = (
                point(i, k),
                point(i, k + 1),
                point(i + 1, k + 1),
                point(i + 1, k),
            );
            push(a, b, c);
            push(a, c, d);
        }
    }
}

/// Forces.
pub const FORCE_COLOUR: [f32; 3] = [0.85, 0.1, 0.1];
/// Target points.
pub const TARGET_COLOUR: [f32; 3] = [0.95, 0.85, 0.1];

/// An arrow from `from` along `vector` (m, world): a shaft of `radius` and a head three
/// radii wide making up the last quarter (at most six radii) of its length. `None` for a
/// zero or non-finite vector.
pub fn arrow(from: [f64; 3], vector: [f64; 3], radius: f64, colour: [f32; 3]) -> Option<Solid> {
    let v = DVec3::from(vector);
    let len = v.length();
    if !(len > 0.0 && len.is_finite() && radius > 0.0) {
        return None;
    }
    let head = (0.25 * len).min(6.0 * radius);
    // The arrow is built along +z and turned onto `vector`.
    let m = DMat4::from_rotation_translation(
        DQuat::from_rotation_arc(DVec3::Z, v / len),
        DVec3::from(from),
    );
    let mut triangles = Vec::new();
    let mut push = |a: DVec3, b: DVec3, c: DVec3| {
        triangles.push([a, b, c].map(|p| m.transform_point3(p).as_vec3().to_array()));
    };
    tube(radius, 0.0, len - head, &mut push);
    disc(radius, 0.0, &mut push);
    disc(3.0 * radius, len - head, &mut push);
    let tip = DVec3::new(0.0, 0.0, len);
    for k in 0..SEGMENTS {
        push(
            ring(3.0 * radius, len - head, k),
            ring(3.0 * radius, len - head, k + 1),
            tip,
        );
    }
    Some(Solid { triangles, colour })
}

/// A sphere of `radius` at `centre` (a target point's marker).
pub fn marker(centre: [f64; 3], radius: f64, colour: [f32; 3]) -> Solid {
    let mut triangles = Vec::new();
    sphere(
        radius,
        DVec3::from(centre),
        &mut |a: DVec3, b: DVec3, c: DVec3| {
            triangles.push([a, b, c].map(|p| p.as_vec3().to_array()));
        },
    );
    Solid { triangles, colour }
}

/// Pinned vertices.
pub const PIN_COLOUR: [f32; 3] = [0.1, 0.1, 0.1];

/// Vertices attached to a tool or the world.
pub const ATTACHED_COLOUR: [f32; 3] = [0.85, 0.1, 0.75];

/// Small octahedra (half-diagonal `size`, m) at `vertices` of `positions`: pinned or
/// attached vertices marked. Indices out of range are skipped.
pub fn vertex_markers(
    positions: &[[f32; 3]],
    vertices: &[u32],
    size: f32,
    colour: [f32; 3],
) -> Solid {
    let mut triangles = Vec::with_capacity(8 * vertices.len());
    for &v in vertices {
        let Some(&p) = positions.get(v as usize) else {
            continue;
        };
        let c = glam::Vec3::from(p);
        let axes = [glam::Vec3::X, glam::Vec3::Y, glam::Vec3::Z].map(|a| a * size);
        for sx in [-1.0f32, 1.0] {
            for sy in [-1.0f32, 1.0] {
                for sz in [-1.0f32, 1.0] {
                    triangles.push(
                        [c + axes[0] * sx, c + axes[1] * sy, c + axes[2] * sz]
                            .map(|q| q.to_array()),
                    );
                }
            }
        }
    }
    Solid { triangles, colour }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(s: &Solid) -> ([f32; 3], [f32; 3]) {
        let mut lo = [f32::INFINITY; 3];
        let mut hi = [f32::NEG_INFINITY; 3];
        for p in s.triangles.iter().flatten() {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        (lo, hi)
    }

    #[test]
    fn an_arrow_spans_its_vector_and_a_marker_its_sphere() {
        let a = arrow([0.01, 0.0, 0.0], [0.0, 0.0, -0.02], 0.0005, FORCE_COLOUR).unwrap();
        let (lo, hi) = bounds(&a);
        assert!(
            (hi[2] - 0.0).abs() < 1e-7 && (lo[2] + 0.02).abs() < 1e-7,
            "{lo:?} {hi:?}"
        );
        assert!((hi[0] - 0.0115).abs() < 1e-6 && (lo[0] - 0.0085).abs() < 1e-6);
        assert!(arrow([0.0; 3], [0.0; 3], 0.001, FORCE_COLOUR).is_none());
        assert!(arrow([0.0; 3], [f64::NAN, 0.0, 1.0], 0.001, FORCE_COLOUR).is_none());
        let m = marker([1.0, 2.0, 3.0], 0.5, TARGET_COLOUR);
        let (lo, hi) = bounds(&m);
        for k in 0..3 {
            assert!((hi[k] - lo[k] - 1.0).abs() < 1e-3, "{lo:?} {hi:?}");
        }
    }
}
