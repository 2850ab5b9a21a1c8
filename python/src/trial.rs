//! `vesalius.Trial`: a trial file's rows, run one at a time (what a Ray worker of
//! `vesalius trial --ray` runs; `vesalius.ray_trial` is the driver).

use crate::{OutputError, VesaliusError};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use std::path::PathBuf;
use vesalius_trials::{RunError, Trial as RustTrial};

pyo3::create_exception!(
    vesalius,
    TrialError,
    VesaliusError,
    "A trial file that cannot run (its syntax, a key, its design or scene, a Ray cluster): the message names the file and the key."
);

fn trial_err(e: RunError) -> PyErr {
    match e {
        RunError::Output { .. } => OutputError::new_err(e.to_string()),
        _ => TrialError::new_err(e.to_string()),
    }
}

/// A trial file (`vesalius trial`'s): its design, scene and behaviours, and the ids of its
/// rows (`c0003-r0/fixed`: a case with a behaviour), each of which runs alone.
#[pyclass(module = "vesalius", frozen)]
pub struct Trial {
    inner: RustTrial,
}

#[pymethods]
impl Trial {
    /// Reads a trial file and the scene it names, and checks both.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        Ok(Self {
            inner: RustTrial::load(&path).map_err(trial_err)?,
        })
    }

    /// The trial file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path.clone()
    }

    /// Every row's id, in table order.
    #[getter]
    fn rows(&self) -> Vec<String> {
        self.inner.row_ids()
    }

    /// A digest of the trial's text, its scene's and the engine's version: the same
    /// fingerprint makes the same rows.
    #[getter]
    fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }

    /// Runs one row (GIL released) on one CPU thread and returns it as JSON (the line
    /// `vesalius trial` journals in rows.jsonl). A case that fails is a row with its error,
    /// not an exception; an unknown id raises KeyError.
    fn run_row(&self, py: Python<'_>, id: &str) -> PyResult<String> {
        let (case, behaviour) = self
            .inner
            .row(id)
            .ok_or_else(|| PyKeyError::new_err(format!("the trial has no row `{id}`")))?;
        let row = py.detach(|| self.inner.run_case(&case, behaviour));
        Ok(serde_json::to_string(&row).expect("a row is JSON"))
    }

    fn __repr__(&self) -> String {
        format!(
            "Trial('{}', {} rows)",
            self.inner.path.display(),
            self.inner.row_ids().len()
        )
    }
}
