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
    /// Simulate a scene headless: ParaView frames and summary.json in --out.
    Run(cli::run::RunArgs),
    /// Optimize a scene's needle insertion within a latency budget ([plan]); writes plan.toml,
    /// candidates.csv, convergence.png and summary.json in --out.
    Plan(cli::plan::PlanArgs),
    /// Run an in-silico trial: every case (virtual patients, material draws) against every
    /// behaviour; results.csv, summary.json and summary.md in --out (resumable).
    Trial(cli::trial::TrialArgs),
    /// Draw the tissue at a time offscreen into a PNG (no window or display needed).
    #[cfg(feature = "viewer")]
    Render(cli::render::RenderArgs),
    /// Watch a scene simulate live in a window, or replay a finished run's folder (orbit,
    /// fields, cut, forces, events, verdict).
    #[cfg(feature = "viewer")]
    View(cli::view::ViewArgs),
    /// List GPU adapters and the backend `auto` would use.
    Info(cli::info::InfoArgs),
    /// Measure tissue-step throughput on the accuracy reference block.
    Bench(cli::bench::BenchArgs),
    /// Tetrahedral mesh tools: inspect, validate, convert.
    #[command(subcommand)]
    Mesh(cli::mesh::MeshCommand),
    /// URDF robots: inspect, forward and inverse kinematics.
    #[command(subcommand)]
    Robot(cli::robot::RobotCommand),
}

/// Restores the default action of SIGPIPE (end the process, silently).
///
/// The Rust runtime ignores SIGPIPE before `main`, so writing to a closed pipe
/// (`vesalius mesh info X --json | head -1`) returns `EPIPE` instead, and `println!` panics
/// on it with a backtrace and exit code 101. Handling `BrokenPipe` at every print would
/// be easy to miss in one place; a command-line filter should do what `cat` and `ls` do:
/// stop quietly when its reader has gone. Only stdout and stderr are pipes here, and no
/// file or socket write relies on getting `EPIPE`.
#[cfg(unix)]
fn reset_sigpipe() {
    // SAFETY: called first thing in `main`, before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE, and `signal` has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn reset_sigpipe() {}

/// Keeps Mesa's device-selection layer quiet where there is no display session.
///
/// The layer (an implicit Vulkan layer that Mesa's drivers install) connects to a Wayland
/// display while the adapters are listed, to find the GPU that drives it; without a session,
/// libwayland prints `error: XDG_RUNTIME_DIR is invalid or not set in the environment.`
/// twice, which reads as a failure. We rank adapters ourselves (`engine::gpu`), so without a
/// Wayland session and with no device choice asked of the layer, it is switched off by its
/// manifest's own variable. Called first in `main`, before any thread exists.
fn quiet_device_select() {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if !set("WAYLAND_DISPLAY")
        && !set("WAYLAND_SOCKET")
        && !set("MESA_VK_DEVICE_SELECT")
        && !set("DRI_PRIME")
        && std::env::var_os("NODEVICE_SELECT").is_none()
    {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

fn main() -> std::process::ExitCode {
    quiet_device_select();
    reset_sigpipe();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::Plan(args) => cli::plan::run(args),
        Command::Trial(args) => cli::trial::run(args),
        #[cfg(feature = "viewer")]
        Command::Render(args) => cli::render::run(args),
        #[cfg(feature = "viewer")]
        Command::View(args) => cli::view::run(args),
        Command::Info(args) => cli::info::run(args),
        Command::Bench(args) => cli::bench::run(args),
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
