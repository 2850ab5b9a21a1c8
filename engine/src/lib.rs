//! # vesalius-engine
//!
//! Headless core of Vesalius: tetrahedral tissue meshes, XPBD with stable neo-Hookean
//! constraints on the CPU (a thread team, AVX2) and on the GPU (wgpu compute, WGSL in
//! `shaders/`).
#![warn(missing_docs)]

pub mod contact;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod mesh;
pub mod model;
pub mod output;
pub mod scene;
pub mod scenes;
pub mod shaders;
pub mod sim;
pub mod solver;

pub use glam;
