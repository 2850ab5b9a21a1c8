//! Regenerates the mesh files shipped in `anatomy/` (see `anatomy/README.md`).
//!
//! `cargo run --example generate_anatomy --no-default-features`

use std::path::Path;

use anyhow::Context;
use vesalius::engine::mesh::{self, generate, TetMesh, ValidateOptions};

/// Validates `m` (it must need no fixing) and writes it to `dir/name`.
fn write(dir: &Path, name: &str, mut m: TetMesh) -> anyhow::Result<()> {
    let report = mesh::validate(&mut m, &ValidateOptions::default())?;
    anyhow::ensure!(report.errors.is_empty() && report.flipped == 0);
    let path = dir.join(name);
    mesh::save(&path, &m).with_context(|| format!("writing {}", path.display()))?;
    let info = mesh::MeshInfo::new(&m, &report);
    println!("wrote {}\n{info}", path.display());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("anatomy");
    std::fs::create_dir_all(&dir)?;
    let params = generate::LimbParams {
        n_theta: 40,
        radial_size: 0.004,
        n_z: 20,
        ..Default::default()
    };
    write(&dir, "limb_segment.msh", generate::layered_limb(&params))?;
    let slab = generate::vein_slab(&generate::VeinSlabParams::default());
    write(&dir, "vein_slab.msh", slab)?;
    Ok(())
}
