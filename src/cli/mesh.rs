//! `vesalius mesh ...` (to be written on the mesh branch).
use clap::Subcommand;

/// Mesh subcommands.
#[derive(Subcommand, Debug)]
pub enum MeshCommand {}

/// Runs a mesh subcommand.
pub fn run(cmd: MeshCommand) -> anyhow::Result<()> {
    match cmd {}
}
