//! From URDF geometry to parry shapes and mass properties.

use rapier3d::geometry::SharedShape;
use rapier3d::math::Vector;
use rapier3d::na::{Isometry3, Matrix3, UnitQuaternion, Vector3};
use rapier3d::prelude::MassProperties;

use crate::math::{from_vec, to_pose};
use crate::model::{Geometry, Inertial, InertialSource, Shape};

/// How mesh geometry becomes a collision shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MeshCollision {
    /// Convex hull of the mesh vertices (default: robust for dynamic bodies and contacts).
    #[default]
    ConvexHull,
    /// The triangle mesh itself (exact surface; no volume, so mass properties still use the
    /// convex hull).
    TriMesh,
}

/// Smallest extent under which a primitive is considered degenerate (m).
pub(crate) const DEGENERATE: f64 = 1e-9;

/// The parry shape of a geometry and the extra rotation to apply inside its origin frame
/// (URDF cylinders and capsules run along Z, parry's along Y). `None` for degenerate or
/// unloaded geometry.
pub(crate) fn parry_shape(
    geometry: &Geometry,
    mode: MeshCollision,
) -> Option<(SharedShape, Isometry3<f64>)> {
    let along_z = Isometry3::from_parts(
        Default::default(),
        UnitQuaternion::from_axis_angle(&Vector3::x_axis(), std::f64::consts::FRAC_PI_2),
    );
    match geometry {
        Geometry::Box { size } => {
            if size.min() <= DEGENERATE {
                return None;
            }
            Some((
                SharedShape::cuboid(
                    (size.x / 2.0) as f32,
                    (size.y / 2.0) as f32,
                    (size.z / 2.0) as f32,
                ),
                Isometry3::identity(),
            ))
        }
        Geometry::Cylinder { radius, length } => {
            if *radius <= DEGENERATE || *length <= DEGENERATE {
                return None;
            }
            Some((
                SharedShape::cylinder((length / 2.0) as f32, *radius as f32),
                along_z,
            ))
        }
        Geometry::Capsule { radius, length } => {
            if *radius <= DEGENERATE {
                return None;
            }
            Some((
                SharedShape::capsule_z((length / 2.0).max(0.0) as f32, *radius as f32),
                Isometry3::identity(),
            ))
        }
        Geometry::Sphere { radius } => {
            if *radius <= DEGENERATE {
                return None;
            }
            Some((SharedShape::ball(*radius as f32), Isometry3::identity()))
        }
        Geometry::Mesh { data, .. } => {
            let data = data.as_ref()?;
            let points: Vec<Vector> = data
                .vertices
                .iter()
                .map(|p| Vector::new(p.x, p.y, p.z))
                .collect();
            let shape = match mode {
                MeshCollision::ConvexHull => SharedShape::convex_hull(&points)?,
                MeshCollision::TriMesh => {
                    SharedShape::trimesh(points, data.triangles.clone()).ok()?
                }
            };
            Some((shape, Isometry3::identity()))
        }
    }
}

/// Mass properties of a set of shapes at a uniform density, in the link frame. `None` when
/// the shapes have no volume.
pub(crate) fn shapes_mass_properties(shapes: &[Shape], density: f64) -> Option<Inertial> {
    let mut total: Option<MassProperties> = None;
    for s in shapes {
        let Some((shape, extra)) = parry_shape(&s.geometry, MeshCollision::ConvexHull) else {
            continue;
        };
        let mp = shape
            .mass_properties(density as f32)
            .transform_by(&to_pose(&(s.origin * extra)));
        if !(mp.mass() > 0.0 && mp.mass().is_finite()) {
            continue;
        }
        total = Some(match total {
            None => mp,
            Some(t) => t + mp,
        });
    }
    let mp = total?;
    let m = mp.reconstruct_inertia_matrix();
    let inertia = Matrix3::from_fn(|r, c| m.col(c)[r] as f64);
    Some(Inertial {
        mass: mp.mass() as f64,
        com: from_vec(mp.local_com),
        inertia,
        source: InertialSource::Geometry,
    })
}
