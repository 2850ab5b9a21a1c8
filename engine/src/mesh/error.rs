//! Errors of the mesh module.

use std::fmt;
use std::path::PathBuf;

use super::validate::ValidationReport;

/// Where in an input a parse error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// 1-based line number (text formats).
    Line(usize),
    /// 0-based byte offset (binary formats or binary parts of a file).
    Byte(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(l) => write!(f, "line {l}"),
            Location::Byte(b) => write!(f, "byte offset {b}"),
        }
    }
}

/// Errors of mesh reading, writing and validation (one message each: see
/// [`SceneError`](crate::scene::SceneError) for the rule).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeshError {
    /// The file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error (in the message, so not a `source`).
        error: std::io::Error,
    },
    /// The input is malformed at a known place.
    #[error("{file}: {loc}: {msg}")]
    Parse {
        /// File name (`<input>` for in-memory parsing).
        file: String,
        /// Line or byte offset.
        loc: Location,
        /// What was expected and what was found.
        msg: String,
    },
    /// The input is unsupported or malformed as a whole (no single location).
    #[error("{file}: {msg}")]
    Format {
        /// File name (`<input>` for in-memory parsing).
        file: String,
        /// Explanation.
        msg: String,
    },
    /// The mesh was read but cannot be simulated as is; the report lists every problem.
    #[error("{}", invalid_summary(.0))]
    Invalid(Box<ValidationReport>),
}

fn invalid_summary(r: &ValidationReport) -> String {
    match r.errors.first() {
        Some(first) if r.errors.len() > 1 => format!(
            "invalid mesh: {} (and {} more error(s))",
            first.message,
            r.errors.len() - 1
        ),
        Some(first) => format!("invalid mesh: {}", first.message),
        None => "invalid mesh".to_string(),
    }
}

/// Name used for in-memory inputs until [`MeshError::with_file`] sets the real one.
pub(crate) const MEMORY: &str = "<input>";

impl MeshError {
    /// Replaces the file name of a parse or format error (used by [`load`](super::load)).
    pub fn with_file(self, name: &str) -> Self {
        match self {
            MeshError::Parse { loc, msg, .. } => MeshError::Parse {
                file: name.to_string(),
                loc,
                msg,
            },
            MeshError::Format { msg, .. } => MeshError::Format {
                file: name.to_string(),
                msg,
            },
            other => other,
        }
    }

    pub(crate) fn format(msg: impl Into<String>) -> Self {
        MeshError::Format {
            file: MEMORY.to_string(),
            msg: msg.into(),
        }
    }

    pub(crate) fn parse(loc: Location, msg: impl Into<String>) -> Self {
        MeshError::Parse {
            file: MEMORY.to_string(),
            loc,
            msg: msg.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        MeshError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}
