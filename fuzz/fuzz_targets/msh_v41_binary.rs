//! `cargo +nightly fuzz run msh_v41_binary`: see `harness::msh_v41_binary`.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::msh_v41_binary(data));
