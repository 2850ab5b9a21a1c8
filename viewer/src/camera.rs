//! Orbit cameras: a target, a distance, an azimuth about the world's z axis and an
//! elevation above the xy plane, z up (the scenes' convention).

use glam::{Mat4, Vec3};

use crate::ViewerError;

/// How the camera projects.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Projection {
    /// Perspective with this vertical field of view (degrees).
    Perspective {
        /// Vertical field of view (degrees).
        fov_deg: f32,
    },
    /// Orthographic, showing this half height (m) about the target.
    Orthographic {
        /// Half the height of the view (m).
        half_height: f32,
    },
}

/// Half the diagonal of the box `bounds`: the radius of a sphere about its centre that
/// holds it (at least 1 um).
pub fn bounding_radius((lo, hi): ([f32; 3], [f32; 3])) -> f32 {
    0.5 * Vec3::from(hi).distance(Vec3::from(lo)).max(2e-6)
}

/// An orbit camera.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Camera {
    /// The point looked at (m).
    pub target: [f32; 3],
    /// Distance from the target (m).
    pub distance: f32,
    /// Angle about +z from +x to the eye's direction (degrees).
    pub azimuth_deg: f32,
    /// Angle of the eye above the target's xy plane (degrees, -90..=90). At 90 the camera
    /// looks straight down, its image oriented as the limit of lower elevations at the same
    /// azimuth (image up along `-(cos az, sin az, 0)`).
    pub elevation_deg: f32,
    /// The projection.
    pub projection: Projection,
}

impl Camera {
    /// A perspective camera (35 degree field of view) that sees the whole box `bounds` from
    /// `azimuth_deg`, `elevation_deg`.
    pub fn fit(bounds: ([f32; 3], [f32; 3]), azimuth_deg: f32, elevation_deg: f32) -> Self {
        let (lo, hi) = bounds;
        let target = [
            0.5 * (lo[0] + hi[0]),
            0.5 * (lo[1] + hi[1]),
            0.5 * (lo[2] + hi[2]),
        ];
        let radius = bounding_radius(bounds);
        let fov_deg = 35.0f32;
        Self {
            target,
            distance: 1.1 * radius / (0.5 * fov_deg.to_radians()).sin(),
            azimuth_deg,
            elevation_deg,
            projection: Projection::Perspective { fov_deg },
        }
    }

    /// The same view, orthographic, showing `half_height` (m) above and below the target
    /// (`1.05 * bounding_radius(bounds)` shows a whole box).
    pub fn orthographic(mut self, half_height: f32) -> Self {
        self.projection = Projection::Orthographic { half_height };
        self
    }

    /// The eye's position (m).
    pub fn eye(&self) -> Vec3 {
        let (az, el) = (
            self.azimuth_deg.to_radians(),
            self.elevation_deg.to_radians(),
        );
        Vec3::from(self.target)
            + self.distance * Vec3::new(el.cos() * az.cos(), el.cos() * az.sin(), el.sin())
    }

    /// The unit direction the camera looks along.
    pub fn forward(&self) -> Vec3 {
        (Vec3::from(self.target) - self.eye()).normalize()
    }

    /// The direction light travels: along the view, tilted down toward -z by about 30
    /// degrees (a lamp above the camera), so that tops read brighter than sides; straight
    /// along the view when looking down or up.
    pub fn light(&self) -> Vec3 {
        let tilted = self.forward() - 0.6 * Vec3::Z;
        if tilted.length() < 1e-3 {
            self.forward()
        } else {
            tilted.normalize()
        }
    }

    /// World to clip space for an image of `aspect` (width over height), depth in [0, 1].
    pub fn view_proj(&self, aspect: f32) -> Result<Mat4, ViewerError> {
        let finite = self.target.iter().all(|c| c.is_finite())
            && self.distance.is_finite()
            && self.azimuth_deg.is_finite()
            && self.elevation_deg.is_finite();
        if !finite {
            return Err(ViewerError::Camera("a value is not finite"));
        }
        if self.distance <= 0.0 {
            return Err(ViewerError::Camera("the distance must be positive"));
        }
        if !(-90.0..=90.0).contains(&self.elevation_deg) {
            return Err(ViewerError::Camera(
                "the elevation must be within -90..=90 degrees",
            ));
        }
        let az = self.azimuth_deg.to_radians();
        // Straight down (or up) +z is along the view: take the limit of lower elevations.
        let up = if self.elevation_deg.abs() > 89.9 {
            Vec3::new(-az.cos(), -az.sin(), 0.0) * self.elevation_deg.signum()
        } else {
            Vec3::Z
        };
        let view = Mat4::look_at_rh(self.eye(), Vec3::from(self.target), up);
        // Near and far about the target: the scene lies within `distance` of it.
        let near = (0.01 * self.distance).max(1e-5);
        let far = 3.0 * self.distance;
        let proj = match self.projection {
            Projection::Perspective { fov_deg } => {
                if !(fov_deg > 1.0 && fov_deg < 170.0) {
                    return Err(ViewerError::Camera(
                        "the field of view must be in (1, 170) degrees",
                    ));
                }
                Mat4::perspective_rh(fov_deg.to_radians(), aspect, near, far)
            }
            Projection::Orthographic { half_height } => {
                if !(half_height > 0.0 && half_height.is_finite()) {
                    return Err(ViewerError::Camera(
                        "the orthographic half height must be positive",
                    ));
                }
                let hw = half_height * aspect;
                Mat4::orthographic_rh(-hw, hw, -half_height, half_height, near, far)
            }
        };
        Ok(proj * view)
    }
}
