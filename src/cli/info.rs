//! `vesalius info`: adapters and which backend `auto` would use.

use anyhow::Result;
use clap::Args;

/// Arguments of `vesalius info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints the machine's backends.
pub fn run(args: InfoArgs) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    #[cfg(feature = "gpu")]
    let adapters = vesalius_engine::gpu::list_adapters();
    #[cfg(not(feature = "gpu"))]
    let adapters: Vec<serde_json::Value> = Vec::new();
    #[cfg(feature = "gpu")]
    let hardware = adapters.iter().any(|a| a.device_type != "Cpu");
    #[cfg(not(feature = "gpu"))]
    let hardware = false;
    let auto = if hardware { "gpu" } else { "cpu" };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "gpu_feature": cfg!(feature = "gpu"),
                "cpu_threads": threads,
                "adapters": adapters,
                "auto_backend": auto,
            }))?
        );
        return Ok(());
    }
    println!("vesalius {}", env!("CARGO_PKG_VERSION"));
    println!("cpu backend: up to {threads} threads (`threads` in [simulation], or --threads)");
    if !cfg!(feature = "gpu") {
        println!("gpu backend: not built (feature `gpu` off)");
    } else if adapters.is_empty() {
        println!("gpu adapters: none (install a Vulkan driver; on a machine without a GPU: apt-get install mesa-vulkan-drivers)");
    } else {
        println!("gpu adapters (best first):");
        #[cfg(feature = "gpu")]
        for a in &adapters {
            println!("  {a}  driver: {}", a.driver);
        }
    }
    println!(
        "backend `auto` uses: {auto}{}",
        if hardware {
            ""
        } else {
            " (only software adapters or none; `--backend gpu` forces the GPU path)"
        }
    );
    println!("select an adapter with --adapter NAME or VESALIUS_ADAPTER=NAME (substring of name or backend)");
    Ok(())
}
