//! WGSL sources of the kernels, embedded at compile time from `shaders/`.
//!
//! Each kernel file is compiled with `shaders/xpbd/common.wgsl` prepended (declarations
//! shared by all XPBD kernels), and the vertex and needle kernels also with
//! `shaders/xpbd/contact.wgsl` (tool shapes, bind group 2): a plain concatenation, so no
//! shader-preprocessor crate.

/// A complete WGSL module as handed to wgpu.
#[derive(Clone, Debug)]
pub struct ShaderSource {
    /// File the kernels come from, relative to `shaders/`.
    pub name: &'static str,
    /// Full WGSL text (common declarations included).
    pub source: String,
}

const COMMON: &str = include_str!("../../shaders/xpbd/common.wgsl");
const TETS: &str = include_str!("../../shaders/xpbd/tets.wgsl");
const VERTICES: &str = include_str!("../../shaders/xpbd/vertices.wgsl");
const CONTACT: &str = include_str!("../../shaders/xpbd/contact.wgsl");
const NEEDLE: &str = include_str!("../../shaders/xpbd/needle.wgsl");

fn with_common(kernel: &str) -> String {
    format!("{COMMON}\n{kernel}")
}

fn with_contact(kernel: &str) -> String {
    format!("{COMMON}\n{CONTACT}\n{kernel}")
}

/// Every shader module the engine compiles.
pub fn shader_sources() -> Vec<ShaderSource> {
    vec![
        ShaderSource {
            name: "xpbd/tets.wgsl",
            source: with_common(TETS),
        },
        ShaderSource {
            name: "xpbd/vertices.wgsl",
            source: with_contact(VERTICES),
        },
        ShaderSource {
            name: "xpbd/needle.wgsl",
            source: with_contact(NEEDLE),
        },
    ]
}
