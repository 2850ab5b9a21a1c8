//! `cargo +nightly fuzz run vtk`: see `harness::vtk`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::vtk(data));
