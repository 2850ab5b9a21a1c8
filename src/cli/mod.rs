//! Subcommands of the `vesalius` CLI, one module each.
pub mod mesh;
pub mod robot;
