//! The backend options `run` and `render` share, and how they override a scene.

use clap::Args;
use vesalius_cosim::PredictOptions;
use vesalius_engine::scene::Scene;
use vesalius_engine::sim::BackendKind;
use vesalius_engine::solver::Threads;

/// `--backend`, `--adapter`, `--threads`.
#[derive(Args, Clone, Debug, Default)]
pub struct BackendArgs {
    /// Backend: auto (hardware GPU if any, else CPU), cpu or gpu. Overrides the scene.
    #[arg(long)]
    pub backend: Option<BackendKind>,
    /// GPU adapter filter (name or backend substring). Overrides the scene and VESALIUS_ADAPTER.
    #[arg(long)]
    pub adapter: Option<String>,
    /// CPU backend threads: a count, or auto (this run's share of the cores, fewer for
    /// small models). Overrides the scene.
    #[arg(long)]
    pub threads: Option<Threads>,
}

impl BackendArgs {
    /// Writes the options given into a tissue scene's `[simulation]`.
    pub fn apply(&self, scene: &mut Scene) {
        let sim = &mut scene.file.simulation;
        if let Some(b) = self.backend {
            sim.backend = b;
        }
        if self.adapter.is_some() {
            sim.adapter = self.adapter.clone();
        }
        if let Some(t) = self.threads {
            sim.threads = t;
        }
    }

    /// A co-simulation's options with these (the rest at their defaults).
    pub fn predict_options(&self) -> PredictOptions {
        PredictOptions {
            backend: self.backend,
            adapter: self.adapter.clone(),
            threads: self.threads,
            ..Default::default()
        }
    }
}
