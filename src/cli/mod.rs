//! Subcommands of the `vesalius` CLI, one module each.
pub mod backend;
pub mod bench;
pub mod cosim;
pub mod info;
pub mod limits;
pub mod mesh;
#[cfg(feature = "viewer")]
pub mod picture;
pub mod plan;
#[cfg(feature = "viewer")]
pub mod render;
pub mod robot;
pub mod run;
pub mod trial;
#[cfg(feature = "viewer")]
pub mod view;
