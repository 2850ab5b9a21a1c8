//! `vesalius`: command-line front end of the Vesalius engine.

use clap::{Parser, Subcommand};

mod cli;

/// Vesalius: soft-tissue and surgical-robot co-simulation.
#[derive(Parser, Debug)]
#[command(name = "vesalius", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Tetrahedral mesh tools: inspect, validate, convert.
    #[command(subcommand)]
    Mesh(cli::mesh::MeshCommand),
    /// URDF robots: inspect, forward and inverse kinematics.
    #[command(subcommand)]
    Robot(cli::robot::RobotCommand),
}

fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Mesh(cmd) => cli::mesh::run(cmd),
        Command::Robot(cmd) => cli::robot::run(cmd),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
