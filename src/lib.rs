//! Vesalius facade: re-exports the tissue engine and the robot crate.
/// Robot-tissue co-simulation (re-export of `vesalius-cosim`).
pub use vesalius_cosim as cosim;
/// Tissue engine (re-export of `vesalius-engine`).
pub use vesalius_engine as engine;
/// URDF robots on rapier3d (re-export of `vesalius-robot`).
pub use vesalius_robot as robot;
pub mod plot;
