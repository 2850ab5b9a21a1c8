//! What a tissue simulation is made of, split as in warp.sim:
//! [`Model`] (never changes during a run: rest shape, masses, tets, materials, colours),
//! [`State`] (changes every step: positions, velocities, warm-start multipliers) and
//! [`Control`] (inputs applied from outside: external vertex forces).

mod colouring;
pub mod motion;

pub use colouring::{colour_tets, Colouring};
pub use motion::{SupportDrive, SupportMotion};

use crate::mesh::RegionId;
use crate::mesh::TetMesh;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Errors building a [`Model`] (one message each: see
/// [`SceneError`](crate::scene::SceneError) for the rule).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A material parameter is out of its physical range.
    #[error("material of region {region}: {what}")]
    Material {
        /// Region id the material belongs to.
        region: RegionId,
        /// What is wrong.
        what: String,
    },
    /// A tet's region has no material.
    #[error(
        "region {region} ({tets} tets) has no material; give one for it or a default material"
    )]
    MissingMaterial {
        /// The region id.
        region: RegionId,
        /// Number of tets in the region.
        tets: usize,
    },
    /// The mesh has no tetrahedra.
    #[error("mesh: mesh has no tetrahedra")]
    NoTets,
    /// The region tags do not match the tets one to one.
    #[error("mesh: {regions} region tags for {tets} tets")]
    RegionCount {
        /// Region tags given.
        regions: usize,
        /// Tets in the mesh.
        tets: usize,
    },
    /// A vertex has a NaN or infinite coordinate.
    #[error("mesh: vertex {vertex} has a non-finite coordinate {position:?}")]
    NonFiniteVertex {
        /// The vertex.
        vertex: usize,
        /// Its position.
        position: [f64; 3],
    },
    /// A tet names a vertex the mesh does not have.
    #[error("mesh: tet {tet} references vertex {vertex}, but the mesh has {vertices} vertices")]
    VertexOutOfRange {
        /// The tet.
        tet: usize,
        /// The vertex it names.
        vertex: u32,
        /// Vertices in the mesh.
        vertices: usize,
    },
    /// A tet is inverted or has (next to) no volume.
    #[error(
        "mesh: tet {tet} (vertices {vertices:?}) is {} (6V = {six_volume:e}); run mesh validation to fix orientation",
        if *six_volume < 0.0 { "inverted" } else { "degenerate" }
    )]
    DegenerateTet {
        /// The tet.
        tet: usize,
        /// Its vertices.
        vertices: [u32; 4],
        /// Six times its signed volume (m^3).
        six_volume: f64,
    },
    /// More regions carry a material than the solver supports.
    #[error("mesh: {count} regions with materials; at most {MAX_MATERIALS} are supported")]
    TooManyMaterials {
        /// Regions with a material.
        count: usize,
    },
    /// Gravity has a non-finite component.
    #[error("gravity must be finite, got {0:?}")]
    Gravity([f64; 3]),
    /// The global velocity damping rate is negative or not finite.
    #[error("velocity_damping must be finite and >= 0 (1/s), got {0}")]
    VelocityDamping(f64),
    /// A pin selection is malformed or selects nothing.
    #[error("pin {index}: {what}")]
    Pin {
        /// Index of the pin set.
        index: usize,
        /// What is wrong.
        what: String,
    },
    /// A collision plane is malformed.
    #[error("plane {index}: {what}")]
    Plane {
        /// Index of the plane.
        index: usize,
        /// What is wrong.
        what: String,
    },
}

/// A hyperelastic tissue material (stable neo-Hookean).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    /// Young's modulus E in Pa.
    pub youngs_modulus: f64,
    /// Poisson ratio nu, in (-1, 0.5). Tissue is nearly incompressible: 0.45-0.49.
    pub poisson_ratio: f64,
    /// Density in kg/m^3.
    pub density: f64,
    /// Stiffness-proportional (Rayleigh beta) damping in seconds: the viscous stress is
    /// `damping` times the elastic stress rate. 0 = purely elastic.
    #[serde(default)]
    pub damping: f64,
}

impl Material {
    /// Soft tissue defaults: E = 10 kPa, nu = 0.45, rho = 1000 kg/m^3, beta = 1 ms.
    pub const SOFT_TISSUE: Material = Material {
        youngs_modulus: 1.0e4,
        poisson_ratio: 0.45,
        density: 1000.0,
        damping: 1.0e-3,
    };

    /// Checks that the parameters describe a physical material.
    pub fn check(&self) -> Result<(), String> {
        let Material {
            youngs_modulus: e,
            poisson_ratio: nu,
            density: rho,
            damping,
        } = *self;
        if !(e.is_finite() && e > 0.0) {
            return Err(format!("youngs_modulus must be finite and > 0 Pa, got {e}"));
        }
        if !(nu.is_finite() && nu > -1.0 && nu < 0.5) {
            return Err(format!(
                "poisson_ratio must be in (-1, 0.5) (0.5 is perfectly incompressible and has no finite bulk modulus), got {nu}"
            ));
        }
        if !(rho.is_finite() && rho > 0.0) {
            return Err(format!("density must be finite and > 0 kg/m^3, got {rho}"));
        }
        if !(damping.is_finite() && damping >= 0.0) {
            return Err(format!("damping must be finite and >= 0 s, got {damping}"));
        }
        Ok(())
    }

    /// Lame parameters (mu, lambda) in Pa.
    pub fn lame(&self) -> (f64, f64) {
        let (e, nu) = (self.youngs_modulus, self.poisson_ratio);
        let mu = e / (2.0 * (1.0 + nu));
        let lambda = e * nu / ((1.0 + nu) * (1.0 - 2.0 * nu));
        (mu, lambda)
    }

    /// Pressure (P) wave speed sqrt((lambda + 2 mu) / rho) in m/s.
    pub fn pressure_wave_speed(&self) -> f64 {
        let (mu, lambda) = self.lame();
        ((lambda + 2.0 * mu) / self.density).sqrt()
    }

    /// Shear wave speed sqrt(mu / rho) in m/s.
    pub fn shear_wave_speed(&self) -> f64 {
        (self.lame().0 / self.density).sqrt()
    }
}

/// A static collision plane `normal . x >= offset` with Coulomb friction.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plane {
    /// Outward normal (normalised when the model is built).
    pub normal: [f64; 3],
    /// Offset along the normal: points with `normal . x < offset` are inside the obstacle.
    pub offset: f64,
    /// Static friction coefficient.
    #[serde(default)]
    pub static_friction: f64,
    /// Kinetic friction coefficient.
    #[serde(default)]
    pub kinetic_friction: f64,
}

impl Plane {
    /// Checks the values (what is wrong, naming the key): a finite non-zero normal, a
    /// finite offset, finite friction coefficients >= 0.
    pub fn check(&self) -> Result<(), String> {
        let n = norm(self.normal);
        if !(n.is_finite() && n > 0.0) {
            return Err(format!(
                "normal must be finite and non-zero, got {:?}",
                self.normal
            ));
        }
        if !self.offset.is_finite() {
            return Err(format!("offset must be finite, got {}", self.offset));
        }
        for (key, mu) in [
            ("static_friction", self.static_friction),
            ("kinetic_friction", self.kinetic_friction),
        ] {
            if !(mu.is_finite() && mu >= 0.0) {
                return Err(format!("{key} must be finite and >= 0, got {mu}"));
            }
        }
        Ok(())
    }
}

/// A selection of vertices to pin (hold at their rest position).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "kind")]
pub enum PinSet {
    /// Every vertex of every tet of a region.
    Region {
        /// Region id.
        region: RegionId,
    },
    /// Every vertex inside an axis-aligned box (inclusive).
    Box {
        /// Minimum corner (m).
        min: [f64; 3],
        /// Maximum corner (m).
        max: [f64; 3],
    },
    /// Every vertex with `normal . x <= offset` (within a tolerance relative to the mesh size).
    Plane {
        /// Plane normal.
        normal: [f64; 3],
        /// Offset along the normal (m).
        offset: f64,
    },
    /// Explicit vertex indices.
    Vertices {
        /// Vertex indices.
        indices: Vec<u32>,
    },
}

impl PinSet {
    /// Checks the values that need no mesh (what is wrong, naming the key): finite box
    /// corners with `min <= max`, a finite non-zero plane normal and a finite offset.
    /// Whether the set selects anything is known only with the mesh ([`ModelBuilder::build`]).
    pub fn check(&self) -> Result<(), String> {
        match self {
            PinSet::Region { .. } | PinSet::Vertices { .. } => Ok(()),
            PinSet::Box { min, max } => {
                if !min.iter().chain(max).all(|c| c.is_finite()) {
                    return Err(format!(
                        "box corners must be finite, got min {min:?}, max {max:?}"
                    ));
                }
                if (0..3).any(|k| min[k] > max[k]) {
                    return Err(format!(
                        "box min must be <= max on every axis, got min {min:?}, max {max:?}"
                    ));
                }
                Ok(())
            }
            PinSet::Plane { normal, offset } => {
                let n = norm(*normal);
                if !(n.is_finite() && n > 0.0) {
                    return Err(format!(
                        "plane normal must be finite and non-zero, got {normal:?}"
                    ));
                }
                if !offset.is_finite() {
                    return Err(format!("plane offset must be finite, got {offset}"));
                }
                Ok(())
            }
        }
    }
}

/// Per-tet rest data as laid out for both backends (and the GPU buffer `rest`).
///
/// `col[j].xyz` is column j of the inverse rest shape matrix Dm^-1; the `w` components carry
/// the deviatoric compliance 1/(mu V), the hydrostatic compliance 1/((lambda + mu) V) and the
/// material index (as bits).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct TetRest {
    /// Columns of Dm^-1 with packed scalars in `w`.
    pub(crate) col: [[f32; 4]; 3],
}
const _: () = assert!(std::mem::size_of::<TetRest>() == 48);

/// Per-material constants used by the solver kernels.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct MaterialParams {
    /// Rest value of det F in the hydrostatic constraint: 1 + mu / (lambda + mu).
    pub gamma: f32,
    /// Rayleigh damping coefficient beta (s).
    pub beta: f32,
    /// mu (Pa), for energy diagnostics.
    pub mu: f32,
    /// lambda + mu (Pa), for energy diagnostics.
    pub lambda_mu: f32,
}

/// Everything about a tissue that does not change during a run.
///
/// Tets are stored sorted by colour: colour `c` owns `tets[colour_offsets[c]..colour_offsets[c+1]]`.
#[derive(Clone, Debug)]
pub struct Model {
    /// Rest positions (m).
    pub rest_positions: Vec<[f32; 3]>,
    /// Inverse lumped mass per vertex (1/kg); 0 for pinned or unreferenced vertices.
    pub inv_mass: Vec<f32>,
    /// Lumped mass per vertex (kg), pinned vertices included.
    pub mass: Vec<f32>,
    /// Tets sorted by colour.
    pub tets: Vec<[u32; 4]>,
    /// Rest data per tet (same order as `tets`).
    pub(crate) rest: Vec<TetRest>,
    /// Rest volume per tet (m^3).
    pub rest_volume: Vec<f32>,
    /// Material index per tet (into `materials`).
    pub tet_material: Vec<u32>,
    /// Index of each tet in the source mesh.
    pub tet_source_index: Vec<u32>,
    /// Region id per tet (source mesh region tag).
    pub tet_region: Vec<RegionId>,
    /// Colour ranges.
    pub colour_offsets: Vec<u32>,
    /// Materials in use, with the region id each belongs to.
    pub materials: Vec<(RegionId, Material)>,
    /// Solver constants per material.
    pub(crate) material_params: Vec<MaterialParams>,
    /// Region names from the mesh.
    pub region_names: BTreeMap<RegionId, String>,
    /// Gravity (m/s^2).
    pub gravity: [f32; 3],
    /// Global velocity damping rate (1/s).
    pub velocity_damping: f32,
    /// Static collision planes (normals normalised).
    pub planes: Vec<Plane>,
    /// Boundary triangles, outward oriented.
    pub surface: Vec<[u32; 3]>,
    /// Pinned vertex indices, ascending (the order of [`Control::pin_targets`]).
    pub pinned: Vec<u32>,
    /// The vertices each pin set of the builder selected (ascending), in the order the sets
    /// were added: what a moving support ([`Control::pin_targets`]) moves.
    pub pin_sets: Vec<Vec<u32>>,
}

/// Maximum number of materials and planes (they live in a uniform buffer on the GPU).
pub const MAX_MATERIALS: usize = 32;
/// Maximum number of static collision planes.
pub const MAX_PLANES: usize = 8;

/// Builds a [`Model`] from a mesh.
#[derive(Clone, Debug)]
pub struct ModelBuilder {
    mesh: TetMesh,
    materials: BTreeMap<RegionId, Material>,
    default_material: Option<Material>,
    pins: Vec<PinSet>,
    gravity: [f64; 3],
    velocity_damping: f64,
    planes: Vec<Plane>,
}

impl ModelBuilder {
    /// Starts from a mesh (validated by the caller: positively oriented, no degenerate tets).
    pub fn new(mesh: TetMesh) -> Self {
        Self {
            mesh,
            materials: BTreeMap::new(),
            default_material: None,
            pins: Vec::new(),
            gravity: [0.0, 0.0, -9.81],
            velocity_damping: 0.0,
            planes: Vec::new(),
        }
    }
    /// Material of one region.
    pub fn material(mut self, region: RegionId, m: Material) -> Self {
        self.materials.insert(region, m);
        self
    }
    /// Material for every region without one of its own.
    pub fn default_material(mut self, m: Material) -> Self {
        self.default_material = Some(m);
        self
    }
    /// Adds a pin set.
    pub fn pin(mut self, p: PinSet) -> Self {
        self.pins.push(p);
        self
    }
    /// Gravity vector (m/s^2); default (0, 0, -9.81).
    pub fn gravity(mut self, g: [f64; 3]) -> Self {
        self.gravity = g;
        self
    }
    /// Global velocity damping rate (1/s); default 0.
    pub fn velocity_damping(mut self, d: f64) -> Self {
        self.velocity_damping = d;
        self
    }
    /// Adds a static collision plane.
    pub fn plane(mut self, p: Plane) -> Self {
        self.planes.push(p);
        self
    }

    /// Builds the model: materials checked, masses lumped, pins applied, tets coloured.
    pub fn build(self) -> Result<Model, ModelError> {
        let mesh = &self.mesh;
        let nv = mesh.positions.len();
        if mesh.tets.is_empty() {
            return Err(ModelError::NoTets);
        }
        if mesh.regions.len() != mesh.tets.len() {
            return Err(ModelError::RegionCount {
                regions: mesh.regions.len(),
                tets: mesh.tets.len(),
            });
        }
        for (i, p) in mesh.positions.iter().enumerate() {
            if p.iter().any(|c| !c.is_finite()) {
                return Err(ModelError::NonFiniteVertex {
                    vertex: i,
                    position: *p,
                });
            }
        }
        if !self.gravity.iter().all(|g| g.is_finite()) {
            return Err(ModelError::Gravity(self.gravity));
        }
        if !(self.velocity_damping.is_finite() && self.velocity_damping >= 0.0) {
            return Err(ModelError::VelocityDamping(self.velocity_damping));
        }

        // Materials per region in use.
        let mut region_tets: BTreeMap<RegionId, usize> = BTreeMap::new();
        for &r in &mesh.regions {
            *region_tets.entry(r).or_default() += 1;
        }
        let mut materials = Vec::new();
        let mut material_of_region = BTreeMap::new();
        for (&region, &count) in &region_tets {
            let m = match self
                .materials
                .get(&region)
                .or(self.default_material.as_ref())
            {
                Some(m) => *m,
                None => {
                    return Err(ModelError::MissingMaterial {
                        region,
                        tets: count,
                    })
                }
            };
            m.check()
                .map_err(|what| ModelError::Material { region, what })?;
            material_of_region.insert(region, materials.len() as u32);
            materials.push((region, m));
        }
        if materials.len() > MAX_MATERIALS {
            return Err(ModelError::TooManyMaterials {
                count: materials.len(),
            });
        }
        let material_params: Vec<MaterialParams> = materials
            .iter()
            .map(|(_, m)| {
                let (mu, lambda) = m.lame();
                MaterialParams {
                    gamma: (1.0 + mu / (lambda + mu)) as f32,
                    beta: m.damping as f32,
                    mu: mu as f32,
                    lambda_mu: (lambda + mu) as f32,
                }
            })
            .collect();

        // Rest shape, volumes, lumped masses.
        let mut mass = vec![0.0f64; nv];
        let mut rest = Vec::with_capacity(mesh.tets.len());
        let mut rest_volume = Vec::with_capacity(mesh.tets.len());
        for (ti, t) in mesh.tets.iter().enumerate() {
            if let Some(&v) = t.iter().find(|&&v| v as usize >= nv) {
                return Err(ModelError::VertexOutOfRange {
                    tet: ti,
                    vertex: v,
                    vertices: nv,
                });
            }
            let x = |k: usize| mesh.positions[t[k] as usize];
            let d = |k: usize| sub(x(k), x(0));
            let dm = [d(1), d(2), d(3)]; // columns
            let det = dot(dm[0], cross(dm[1], dm[2]));
            let scale = (norm(dm[0]) + norm(dm[1]) + norm(dm[2])) / 3.0;
            // Relative test: a tet is degenerate when its volume is negligible against the
            // cube of its edge length, whatever the units.
            if det.partial_cmp(&(1e-9 * scale * scale * scale)) != Some(std::cmp::Ordering::Greater)
            {
                return Err(ModelError::DegenerateTet {
                    tet: ti,
                    vertices: *t,
                    six_volume: det,
                });
            }
            let vol = det / 6.0;
            let mat_idx = material_of_region[&mesh.regions[ti]];
            let (_, m) = materials[mat_idx as usize];
            let (mu, lambda) = m.lame();
            for &v in t {
                mass[v as usize] += m.density * vol / 4.0;
            }
            let inv = inv3_columns(dm, det);
            rest.push(TetRest {
                col: [
                    [
                        inv[0][0] as f32,
                        inv[0][1] as f32,
                        inv[0][2] as f32,
                        (1.0 / (mu * vol)) as f32,
                    ],
                    [
                        inv[1][0] as f32,
                        inv[1][1] as f32,
                        inv[1][2] as f32,
                        (1.0 / ((lambda + mu) * vol)) as f32,
                    ],
                    [
                        inv[2][0] as f32,
                        inv[2][1] as f32,
                        inv[2][2] as f32,
                        f32::from_bits(mat_idx),
                    ],
                ],
            });
            rest_volume.push(vol as f32);
        }

        // Pins.
        // Positions were checked finite above, and there is at least one tet.
        let (bmin, bmax) =
            crate::mesh::bounding_box(&mesh.positions).unwrap_or(([0.0; 3], [0.0; 3]));
        let diag = norm(sub(bmax, bmin));
        let mut pinned = vec![false; nv];
        let mut pin_sets = Vec::with_capacity(self.pins.len());
        for (index, p) in self.pins.iter().enumerate() {
            p.check().map_err(|what| ModelError::Pin { index, what })?;
            let mut set: Vec<u32> = Vec::new();
            match p {
                PinSet::Region { region } => {
                    let mut mark = vec![false; nv];
                    for (t, r) in mesh.tets.iter().zip(&mesh.regions) {
                        if r == region {
                            for &v in t {
                                mark[v as usize] = true;
                            }
                        }
                    }
                    set.extend((0..nv as u32).filter(|&i| mark[i as usize]));
                }
                PinSet::Box { min, max } => {
                    let tol = 1e-6 * diag;
                    for (i, x) in mesh.positions.iter().enumerate() {
                        if (0..3).all(|k| x[k] >= min[k] - tol && x[k] <= max[k] + tol) {
                            set.push(i as u32);
                        }
                    }
                }
                PinSet::Plane { normal, offset } => {
                    // Finite and non-zero: checked above.
                    let n = norm(*normal);
                    let tol = 1e-6 * diag;
                    for (i, x) in mesh.positions.iter().enumerate() {
                        if dot(*x, *normal) / n <= offset / n + tol {
                            set.push(i as u32);
                        }
                    }
                }
                PinSet::Vertices { indices } => {
                    for &v in indices {
                        if v as usize >= nv {
                            return Err(ModelError::Pin {
                                index,
                                what: format!("vertex {v} out of range (mesh has {nv} vertices)"),
                            });
                        }
                        set.push(v);
                    }
                    set.sort_unstable();
                    set.dedup();
                }
            }
            if set.is_empty() {
                return Err(ModelError::Pin {
                    index,
                    what: format!("{p:?} selects no vertex"),
                });
            }
            for &v in &set {
                pinned[v as usize] = true;
            }
            pin_sets.push(set);
        }

        let planes = self
            .planes
            .iter()
            .enumerate()
            .map(|(index, p)| {
                p.check()
                    .map_err(|what| ModelError::Plane { index, what })?;
                let n = norm(p.normal);
                Ok(Plane {
                    normal: [p.normal[0] / n, p.normal[1] / n, p.normal[2] / n],
                    offset: p.offset / n,
                    ..*p
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if planes.len() > MAX_PLANES {
            return Err(ModelError::Plane {
                index: MAX_PLANES,
                what: format!("at most {MAX_PLANES} planes"),
            });
        }

        // Colour and sort tets by colour (stable, so the order inside a colour is the mesh's).
        let colouring = colour_tets(&mesh.tets, nv);
        let mut order: Vec<u32> = (0..mesh.tets.len() as u32).collect();
        order.sort_by_key(|&t| colouring.colour[t as usize]);
        let mut colour_offsets = vec![0u32; colouring.num_colours as usize + 1];
        for &c in &colouring.colour {
            colour_offsets[c as usize + 1] += 1;
        }
        for c in 0..colouring.num_colours as usize {
            colour_offsets[c + 1] += colour_offsets[c];
        }

        let inv_mass = (0..nv)
            .map(|i| {
                if pinned[i] || mass[i] <= 0.0 {
                    0.0
                } else {
                    (1.0 / mass[i]) as f32
                }
            })
            .collect();
        let tets: Vec<[u32; 4]> = order.iter().map(|&t| mesh.tets[t as usize]).collect();
        let surface = crate::mesh::boundary_triangles(&mesh.tets);
        Ok(Model {
            rest_positions: mesh
                .positions
                .iter()
                .map(|p| [p[0] as f32, p[1] as f32, p[2] as f32])
                .collect(),
            inv_mass,
            mass: mass.iter().map(|&m| m as f32).collect(),
            rest: order.iter().map(|&t| rest[t as usize]).collect(),
            rest_volume: order.iter().map(|&t| rest_volume[t as usize]).collect(),
            tet_material: order
                .iter()
                .map(|&t| material_of_region[&mesh.regions[t as usize]])
                .collect(),
            tet_region: order.iter().map(|&t| mesh.regions[t as usize]).collect(),
            tet_source_index: order,
            tets,
            colour_offsets,
            materials,
            material_params,
            region_names: mesh.region_names.clone(),
            gravity: [
                self.gravity[0] as f32,
                self.gravity[1] as f32,
                self.gravity[2] as f32,
            ],
            velocity_damping: self.velocity_damping as f32,
            planes,
            surface,
            pinned: (0..nv as u32).filter(|&i| pinned[i as usize]).collect(),
            pin_sets,
        })
    }
}

impl Model {
    /// Number of vertices.
    pub fn num_vertices(&self) -> usize {
        self.rest_positions.len()
    }
    /// Number of tets.
    pub fn num_tets(&self) -> usize {
        self.tets.len()
    }
    /// Number of colours.
    pub fn num_colours(&self) -> usize {
        self.colour_offsets.len() - 1
    }
    /// A state at rest: rest positions, zero velocities.
    pub fn state(&self) -> State {
        State {
            displacements: vec![[0.0; 3]; self.num_vertices()],
            velocities: vec![[0.0; 3]; self.num_vertices()],
            lambdas: vec![[0.0; 2]; self.num_tets()],
            lambda_dt: 0.0,
            step: 0,
            time: 0.0,
            tools: Default::default(),
        }
    }
    /// A control with no input.
    pub fn control(&self) -> Control {
        Control::default()
    }
    /// A region's name, or its id where the mesh names none (for messages).
    pub fn region_label(&self, r: RegionId) -> String {
        self.region_names
            .get(&r)
            .cloned()
            .unwrap_or_else(|| r.to_string())
    }

    /// Total rest volume (m^3).
    pub fn total_rest_volume(&self) -> f64 {
        self.rest_volume.iter().map(|&v| v as f64).sum()
    }
    /// Axis-aligned bounds of the rest shape.
    pub fn rest_bounds(&self) -> ([f32; 3], [f32; 3]) {
        let mut lo = [f32::INFINITY; 3];
        let mut hi = [f32::NEG_INFINITY; 3];
        for p in &self.rest_positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        (lo, hi)
    }
}

/// Everything that changes during a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    /// Vertex displacements from the rest positions (m). The solvers work on displacements
    /// so that f32 keeps its precision far from the world origin; see [`State::positions`].
    pub displacements: Vec<[f32; 3]>,
    /// Vertex velocities (m/s).
    pub velocities: Vec<[f32; 3]>,
    /// Per-tet XPBD multipliers (deviatoric, hydrostatic) of the last substep, used to warm
    /// start the next one.
    pub lambdas: Vec<[f32; 2]>,
    /// Substep length the multipliers belong to (they scale with dt^2); 0 = none yet.
    pub lambda_dt: f32,
    /// Number of frames stepped.
    pub step: u64,
    /// Simulated time (s).
    pub time: f64,
    /// The tools coupled to the tissue (their poses at the end of the last frame, the
    /// needle's state); empty without tools.
    pub tools: crate::contact::ToolState,
}

impl State {
    /// Current vertex positions: rest position + displacement (a new vector; see
    /// [`State::positions_iter`] to read them without one).
    pub fn positions(&self, model: &Model) -> Vec<[f32; 3]> {
        self.positions_iter(model).collect()
    }

    /// Current vertex positions, one at a time, allocating nothing (e.g. `buffer.clear();
    /// buffer.extend(state.positions_iter(model))` refills a buffer kept between frames).
    pub fn positions_iter<'a>(
        &'a self,
        model: &'a Model,
    ) -> impl ExactSizeIterator<Item = [f32; 3]> + 'a {
        model
            .rest_positions
            .iter()
            .zip(&self.displacements)
            .map(|(x, u)| [x[0] + u[0], x[1] + u[1], x[2] + u[2]])
    }
}

/// Inputs from outside the tissue, applied during the next steps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Control {
    /// External force per vertex (N); empty means none.
    pub vertex_forces: Vec<[f32; 3]>,
    /// Kinematic supports: the displacement (m, from rest) each pinned vertex reaches at the
    /// end of the next frame, one per entry of [`Model::pinned`] in that order. The pins
    /// move there at constant velocity over the frame's substeps (so the tissue next to them
    /// sees a moving boundary, not a jump), then hold. Empty: the pins hold where they are.
    pub pin_targets: Vec<[f32; 3]>,
    /// Tools ([`crate::sim::Simulation::set_tools`]): where each tool body of the setup is
    /// at the end of the next frame, in the setup's order. The bodies move there from their
    /// poses at the end of the last frame (interpolated per substep), then hold. Empty: the
    /// tools hold where they are.
    pub tool_poses: Vec<crate::contact::Pose>,
}

pub(crate) fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
pub(crate) fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// Inverse of the matrix with columns `c`, returned as columns.
fn inv3_columns(c: [[f64; 3]; 3], det: f64) -> [[f64; 3]; 3] {
    // Rows of the inverse are the cross products of the columns / det.
    let r0 = cross(c[1], c[2]);
    let r1 = cross(c[2], c[0]);
    let r2 = cross(c[0], c[1]);
    let inv_rows = [r0, r1, r2].map(|r| [r[0] / det, r[1] / det, r[2] / det]);
    // Return columns.
    [
        [inv_rows[0][0], inv_rows[1][0], inv_rows[2][0]],
        [inv_rows[0][1], inv_rows[1][1], inv_rows[2][1]],
        [inv_rows[0][2], inv_rows[1][2], inv_rows[2][2]],
    ]
}
