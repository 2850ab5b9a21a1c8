//! Vesalius facade: re-exports the engine.
pub use vesalius_engine as engine;
