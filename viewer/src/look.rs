//! What a picture of a scene shows besides the tissue itself: the field, the cut, the pinned
//! vertices, the force arrows' scale. `vesalius render` takes it from its arguments, the
//! window from its panel; both hand it to whatever builds the picture.

use crate::{CutPlane, Field, Surface, ViewerError};

/// What a picture shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    /// What colours the surface.
    pub field: Field,
    /// The cut, `[nx, ny, nz, offset]`: the plane with that normal through the centre of the
    /// whole surface's bounding box, moved `offset` metres along the (unit) normal; `None`
    /// for no cut.
    pub cut: Option<[f32; 4]>,
    /// Mark the pinned vertices and those attached to tools or the world.
    pub pins: bool,
    /// Length of the force arrows (m per N).
    pub force_scale: f64,
}

impl Default for Look {
    fn default() -> Self {
        Self {
            field: Field::Region,
            cut: None,
            pins: false,
            force_scale: 0.02,
        }
    }
}

impl Look {
    /// The surface `make` builds (given the cut, if any), cut as [`Look::cut`] asks:
    /// `make(None)` first for the whole surface's box, then `make(Some(plane))`.
    pub fn cut_surface(
        &self,
        make: impl Fn(Option<CutPlane>) -> Result<Surface, ViewerError>,
    ) -> Result<Surface, ViewerError> {
        let whole = make(None)?;
        let Some([nx, ny, nz, d]) = self.cut else {
            return Ok(whole);
        };
        let (lo, hi) = whole.bounds();
        let n = [nx, ny, nz];
        let len = (nx * nx + ny * ny + nz * nz).sqrt();
        let point: [f32; 3] = std::array::from_fn(|k| 0.5 * (lo[k] + hi[k]) + d * n[k] / len);
        let plane =
            CutPlane::new(n, point).ok_or(ViewerError::Cut("the normal must not be zero"))?;
        make(Some(plane))
    }
}
