//! # vesalius-viewer
//!
//! Visual debugging for Vesalius. This first part is the renderer every view is built on:
//! the tissue's boundary surface, coloured by a chosen field with its colour bar range,
//! drawn offscreen on the engine's own wgpu device ([`vesalius_engine::gpu::GpuContext`])
//! and read back as an image (`vesalius render` writes it as a PNG).
//!
//! * [`surface`]: the surface of a model in a state, and the fields it can be coloured by.
//! * [`colour`]: colour maps (a perceptually uniform sequential map, a categorical one for
//!   regions).
//! * [`colour_bar`]: the map's ramp and range drawn into an image.
//! * [`camera`]: orbit cameras (azimuth, elevation, distance about a target), fitted to a
//!   bounding box, perspective or orthographic.
//! * [`solids`]: a robot's links from its URDF geometry (visual meshes, else collision
//!   shapes), posed.
//! * [`look`]: what a picture shows besides the tissue (field, cut, pins, force scale).
//! * [`render`]: the wgpu pipeline (its WGSL in `shaders/surface.wgsl`), drawing offscreen
//!   into an [`Image`] or into a window's surface texture.
//! * `window` (feature `window`): the live window of `vesalius view`, winit and an egui
//!   panel, drawing what a `window::Source` gives it (a running simulation, a finished
//!   run's frames).
//!
//! ```no_run
//! use vesalius_engine::gpu::GpuContext;
//! use vesalius_engine::prelude::*;
//! use vesalius_viewer::{Camera, Field, Renderer, Surface};
//!
//! let mesh = box_grid([8, 8, 4], [0.04, 0.04, 0.02], [-0.02, -0.02, 0.0]);
//! let model = ModelBuilder::new(mesh).default_material(Material {
//!     youngs_modulus: 1.0e4, poisson_ratio: 0.45, density: 1000.0, damping: 0.0,
//! }).build()?;
//! let state = model.state();
//! let surface = Surface::new(&model, &state, Field::Region)?;
//! let camera = Camera::fit(surface.bounds(), 30.0, 25.0);
//! let renderer = Renderer::new(GpuContext::new(None)?)?;
//! renderer.render(&surface, &camera, [640, 480])?.write_png("block.png".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod camera;
pub mod colour;
pub mod colour_bar;
pub mod look;
pub mod render;
pub mod solids;
pub mod surface;
#[cfg(feature = "window")]
pub mod window;

pub use camera::Camera;
pub use colour::ColourMap;
pub use look::Look;
pub use render::{Drawing, Image, Renderer, Style, Target};
pub use solids::{robot_solids, Solid};
pub use surface::{CutPlane, Field, Surface};

/// What can go wrong while rendering.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// The image size is zero or past the device's texture limit.
    #[error("image size {width}x{height}: each side must be 1..={max} pixels")]
    Size {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
        /// The device's largest 2D texture side.
        max: u32,
    },
    /// Nothing to draw.
    #[error("the model has no surface triangles")]
    EmptySurface,
    /// The state does not belong to the model.
    #[error("the state has {state} vertices, the model {model}")]
    StateMismatch {
        /// Vertices in the state.
        state: usize,
        /// Vertices in the model.
        model: usize,
    },
    /// A position or field value is NaN or infinite.
    #[error("vertex {vertex} has a non-finite position or {field} value")]
    NonFinite {
        /// The vertex.
        vertex: usize,
        /// The field's name.
        field: &'static str,
    },
    /// An output frame lacks the array the field needs.
    #[error("the frame has no {0} array")]
    MissingArray(&'static str),
    /// The camera cannot see anything (zero distance, a non-finite value).
    #[error("camera: {0}")]
    Camera(&'static str),
    /// The cut cannot be made (a zero or non-finite normal).
    #[error("cut: {0}")]
    Cut(&'static str),
    /// The GPU failed (device lost, readback).
    #[error("gpu: {0}")]
    Gpu(String),
    /// The image could not be written.
    #[error("{path}: {error}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        error: String,
    },
}
