//! # vesalius-engine
//!
//! Headless core of Vesalius: tetrahedral tissue meshes, XPBD with stable neo-Hookean
//! constraints on the CPU (rayon) and on the GPU (wgpu compute, WGSL in `shaders/`).
#![warn(missing_docs)]

pub mod mesh;
