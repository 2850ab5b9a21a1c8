//! `vesalius mesh ...`: inspect, validate and convert tetrahedral meshes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use vesalius_engine::mesh::{
    self, LoadOptions, MeshError, MeshInfo, MshVersion, SaveOptions, ValidateOptions,
};

/// Mesh subcommands.
#[derive(Subcommand, Debug)]
pub enum MeshCommand {
    /// Print nodes, tets, regions (counts and volumes), bounding box, likely units,
    /// element quality and every problem; exit non-zero if the mesh cannot be simulated.
    Info {
        /// Mesh file (.msh, .vtk, .vtu, .node/.ele).
        file: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Multiply coordinates by this factor (0.001 for millimetres).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// Convert a mesh between formats (chosen by extension), keeping regions and names.
    Convert {
        /// Input mesh file.
        input: PathBuf,
        /// Output mesh file (.msh writes Gmsh 4.1, or 2.2 for *_v22.msh).
        output: PathBuf,
        /// Multiply coordinates by this factor before writing.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Overwrite OUTPUT if it exists.
        #[arg(long)]
        force: bool,
        /// Write binary (.msh and .vtk).
        #[arg(long)]
        binary: bool,
        /// Gmsh version for .msh output.
        #[arg(long, value_parser = ["2.2", "4.1"])]
        msh_version: Option<String>,
    },
}

/// Runs a mesh subcommand.
pub fn run(cmd: MeshCommand) -> anyhow::Result<()> {
    match cmd {
        MeshCommand::Info { file, json, scale } => info(&file, json, scale),
        MeshCommand::Convert {
            input,
            output,
            scale,
            force,
            binary,
            msh_version,
        } => convert(
            &input,
            &output,
            scale,
            force,
            binary,
            msh_version.as_deref(),
        ),
    }
}

fn info(file: &Path, json: bool, scale: f64) -> anyhow::Result<()> {
    let loaded = mesh::load_detailed(file, &LoadOptions { scale })?;
    let mut m = loaded.mesh;
    let report = match mesh::validate(&mut m, &ValidateOptions::default()) {
        Ok(r) => r,
        Err(MeshError::Invalid(r)) => *r,
        Err(e) => return Err(e.into()),
    };
    let mut info = MeshInfo::new(&m, &report);
    info.skipped_elements = loaded.skipped;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        println!("file:  {} ({})", file.display(), loaded.format);
        print!("{info}");
    }
    if !report.errors.is_empty() {
        bail!(
            "{}: the mesh cannot be simulated as is ({} error(s)); first: {}",
            file.display(),
            report.errors.len(),
            report.errors[0].message
        );
    }
    Ok(())
}

fn convert(
    input: &Path,
    output: &Path,
    scale: f64,
    force: bool,
    binary: bool,
    msh_version: Option<&str>,
) -> anyhow::Result<()> {
    let outputs = mesh::output_files(output);
    // A directory is not an output file, whether it exists or is written as one (`out/`).
    let dir_like = output.as_os_str().to_string_lossy().ends_with(['/', '\\']);
    let dir = outputs.iter().map(PathBuf::as_path).find(|p| p.is_dir());
    if let Some(dir) = dir.or(dir_like.then_some(output)) {
        bail!(
            "{} is a directory; give the output file, e.g. {}",
            dir.display(),
            dir.join(
                input
                    .file_name()
                    .unwrap_or(std::ffi::OsStr::new("mesh.msh"))
            )
            .display()
        );
    }
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            bail!(
                "{}: the directory {} does not exist",
                output.display(),
                parent.display()
            );
        }
    }
    if !force {
        if let Some(existing) = outputs.iter().find(|p| p.exists()) {
            bail!(
                "{} already exists; pass --force to overwrite it",
                existing.display()
            );
        }
    }
    let loaded = mesh::load_detailed(input, &LoadOptions { scale })?;
    let m = loaded.mesh;
    let mut check = m.clone();
    let opts = ValidateOptions {
        fix_orientation: false,
        ..Default::default()
    };
    match mesh::validate(&mut check, &opts) {
        Ok(r) => r
            .warnings
            .iter()
            .for_each(|w| eprintln!("warning: {}", w.message)),
        Err(MeshError::Invalid(r)) => r
            .errors
            .iter()
            .chain(&r.warnings)
            .for_each(|w| eprintln!("warning: {} (converted as is)", w.message)),
        Err(e) => return Err(e.into()),
    }
    for (k, n) in &loaded.skipped {
        eprintln!("note: skipped {n} x {k} (only linear tetrahedra are kept)");
    }
    let save = SaveOptions {
        msh_version: match msh_version {
            Some("2.2") => Some(MshVersion::V22),
            Some(_) => Some(MshVersion::V41),
            None => None,
        },
        binary,
    };
    // Write to temporary files beside the outputs, then rename: an existing output is
    // only replaced once the new file is complete.
    // The temporary files are ours: errors name the user's output instead.
    let tmp = temp_name(output)?;
    let tmp_files = mesh::output_files(&tmp);
    let remove_tmp = || {
        for t in &tmp_files {
            let _ = std::fs::remove_file(t);
        }
    };
    if let Err(e) = mesh::save_with(&tmp, &m, &save) {
        remove_tmp();
        return Err(match e {
            MeshError::Io { path, error } => {
                let user = tmp_files
                    .iter()
                    .position(|t| *t == path)
                    .map_or(output, |i| &outputs[i]);
                MeshError::Io {
                    path: user.to_path_buf(),
                    error,
                }
            }
            other => other.with_file(&output.display().to_string()),
        }
        .into());
    }
    for (t, o) in tmp_files.iter().zip(&outputs) {
        if let Err(e) = std::fs::rename(t, o) {
            remove_tmp();
            bail!("{}: {e}", o.display());
        }
    }
    eprintln!(
        "wrote {}",
        outputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    );
    Ok(())
}

/// `dir/.NAME.vesalius-tmp.EXT`: same directory (rename stays atomic), same extension
/// (the writer picks the format by extension).
fn temp_name(output: &Path) -> anyhow::Result<PathBuf> {
    let stem = output
        .file_stem()
        .and_then(|s| s.to_str())
        .context("output file name is not valid UTF-8")?;
    let ext = output.extension().and_then(|s| s.to_str()).unwrap_or("");
    // Keep the `_v22` suffix meaningful for the version choice.
    let name = format!(
        ".{stem}.vesalius-tmp_{}.{ext}",
        if stem.to_ascii_lowercase().ends_with("_v22") {
            "v22"
        } else {
            "x"
        }
    );
    Ok(output.with_file_name(name))
}
