//! Colour maps: values to RGB in [0, 1].

use vesalius_engine::mesh::RegionId;

/// Viridis (van der Walt and Smith, matplotlib's default), sampled at nine points and
/// interpolated linearly: perceptually uniform and readable in grey. Written out because a
/// colour-map crate for nine constants is not worth a dependency.
const VIRIDIS: [[f32; 3]; 9] = [
    [0.267, 0.005, 0.329],
    [0.278, 0.175, 0.483],
    [0.229, 0.322, 0.546],
    [0.173, 0.449, 0.558],
    [0.128, 0.567, 0.551],
    [0.153, 0.680, 0.504],
    [0.369, 0.789, 0.383],
    [0.678, 0.864, 0.190],
    [0.993, 0.906, 0.144],
];

/// Categorical colours for regions (Tableau 10), in region-tag order.
const CATEGORICAL: [[f32; 3]; 10] = [
    [0.122, 0.467, 0.706],
    [1.000, 0.498, 0.055],
    [0.173, 0.627, 0.173],
    [0.839, 0.153, 0.157],
    [0.580, 0.404, 0.741],
    [0.549, 0.337, 0.294],
    [0.890, 0.467, 0.761],
    [0.498, 0.498, 0.498],
    [0.737, 0.741, 0.133],
    [0.090, 0.745, 0.812],
];

/// A sequential colour map over a value range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColourMap {
    /// The value drawn with the map's first colour.
    pub min: f32,
    /// The value drawn with its last colour.
    pub max: f32,
}

impl ColourMap {
    /// The map over `[min, max]` (a single value maps to the middle colour).
    pub fn new(min: f32, max: f32) -> Self {
        Self { min, max }
    }

    /// The colour of `value` (clamped to the range).
    pub fn colour(&self, value: f32) -> [f32; 3] {
        let span = self.max - self.min;
        let s = if span > 0.0 && span.is_finite() {
            ((value - self.min) / span).clamp(0.0, 1.0)
        } else {
            0.5
        };
        sample(s)
    }
}

/// Viridis at `s` in [0, 1].
pub fn sample(s: f32) -> [f32; 3] {
    let x = s.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f32;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    [
        a[0] + (b[0] - a[0]) * f,
        a[1] + (b[1] - a[1]) * f,
        a[2] + (b[2] - a[2]) * f,
    ]
}

/// The colour of the `rank`-th region in tag order (`regions` sorted, deduplicated).
pub fn region_colour(regions: &[RegionId], region: RegionId) -> [f32; 3] {
    let rank = regions.binary_search(&region).unwrap_or(0);
    CATEGORICAL[rank % CATEGORICAL.len()]
}
