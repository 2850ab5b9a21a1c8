//! Where a trial's rows run: [`Local`] (this machine's cores) or [`Ray`] (the cases as
//! tasks of a Ray cluster). Either hands each finished row back to the runner
//! ([`crate::runner::run`]), which journals it and writes the table; a row is the same
//! bits wherever it ran (each runs [`Trial::run_case`] on one CPU thread).

use crate::runner::{RunError, Trial};
use crate::{Behaviour, Case, Row};
use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Runs rows and hands each back as it finishes.
pub trait Executor {
    /// Runs every `(case, behaviour)` of `jobs` and calls `done` with each row as it
    /// finishes, in any order, from any thread. `done` failing (the journal cannot be
    /// written) stops the run with its error. Returns only when every row came back or with
    /// the error that lost the rest.
    fn execute(
        &self,
        trial: &Trial,
        jobs: &[(&Case, &Behaviour)],
        done: &(dyn Fn(Row) -> Result<(), RunError> + Sync),
    ) -> Result<(), RunError>;
}

/// This machine: one row per thread of the current rayon pool (all cores by default).
#[derive(Clone, Copy, Debug, Default)]
pub struct Local;

impl Executor for Local {
    fn execute(
        &self,
        trial: &Trial,
        jobs: &[(&Case, &Behaviour)],
        done: &(dyn Fn(Row) -> Result<(), RunError> + Sync),
    ) -> Result<(), RunError> {
        use rayon::prelude::*;
        jobs.par_iter()
            .try_for_each(|(c, b)| done(trial.run_case(c, b)))
    }
}

/// A Ray cluster: each row is a Ray task (one CPU) that runs the row through the Python
/// package (`vesalius.ray_trial`, the driver, started here as `python -m
/// vesalius.ray_trial`), and the rows stream back as they finish. A worker lost mid-row is
/// retried by Ray (`retries` times); a row still lost after that is an error of the run
/// (the rows that came back are journalled, and a restart runs only the rest).
///
/// Every node needs the `vesalius` Python package (the same version) and the trial's files
/// at the same absolute paths (shared storage or the same image): the workers check that
/// the trial they read has the driver's [`Trial::fingerprint`].
#[derive(Clone, Debug)]
pub struct Ray {
    /// The cluster's address (`HOST:PORT` of its head, as `ray start --head` prints it,
    /// `auto`, or a `ray://` client address).
    pub address: String,
    /// The Python interpreter with `vesalius` and `ray` installed.
    pub python: PathBuf,
    /// Retries of a row whose worker died (Ray's `max_retries`).
    pub retries: u32,
}

/// Lines of the driver's standard error kept for an error message.
const STDERR_TAIL: usize = 30;

impl Executor for Ray {
    fn execute(
        &self,
        trial: &Trial,
        jobs: &[(&Case, &Behaviour)],
        done: &(dyn Fn(Row) -> Result<(), RunError> + Sync),
    ) -> Result<(), RunError> {
        let err = |message: String| RunError::Ray {
            address: self.address.clone(),
            message,
        };
        if jobs.is_empty() {
            return Ok(()); // a finished trial rewrites its table without the cluster
        }
        let trial_path = std::fs::canonicalize(&trial.path)
            .map_err(|e| err(format!("{}: {e}", trial.path.display())))?;
        let mut child = Command::new(&self.python)
            .args(["-m", "vesalius.ray_trial", "--address", &self.address])
            .arg("--trial")
            .arg(&trial_path)
            .args(["--fingerprint", &trial.fingerprint()])
            .args(["--retries", &self.retries.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                err(format!(
                    "cannot start the driver with {}: {e} (--python or VESALIUS_PYTHON names \
                     an interpreter with the vesalius package and ray)",
                    self.python.display()
                ))
            })?;
        let ids: Vec<String> = jobs
            .iter()
            .map(|(c, b)| format!("{}/{}", c.id, b.name))
            .collect();
        let mut expected: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let mut stdin = child.stdin.take().expect("piped");
        let list = ids.join("\n") + "\n";
        // On threads: the driver reads its ids while it writes rows, and Ray logs to stderr.
        let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
        let stderr = child.stderr.take().expect("piped");
        let tail = std::thread::spawn(move || {
            let mut tail = VecDeque::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
            Vec::from(tail).join("\n")
        });
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut failed = Vec::new();
        let mut outcome = Ok(());
        for line in stdout.lines() {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    outcome = Err(err(format!("reading the driver: {e}")));
                    break;
                }
            };
            match read_message(&line) {
                Ok(Message::Row(row)) => {
                    if !expected.remove(row.id.as_str()) {
                        outcome = Err(err(format!(
                            "the driver sent row {} twice or unasked",
                            row.id
                        )));
                        break;
                    }
                    if let Err(e) = done(*row) {
                        outcome = Err(e);
                        break;
                    }
                }
                Ok(Message::Failed { id, error }) => failed.push(format!("{id}: {error}")),
                Err(message) => {
                    outcome = Err(err(message));
                    break;
                }
            }
        }
        if outcome.is_err() {
            let _ = child.kill();
        }
        let status = child.wait().map_err(|e| err(e.to_string()))?;
        let _ = writer.join();
        let tail = tail.join().unwrap_or_default();
        outcome?;
        if !status.success() {
            return Err(err(format!("the driver exited with {status}:\n{tail}")));
        }
        if !failed.is_empty() {
            return Err(err(format!(
                "{} row(s) failed past their retries (the rest are journalled; a restart runs \
                 these again): {}",
                failed.len(),
                failed.join("; ")
            )));
        }
        if !expected.is_empty() {
            return Err(err(format!(
                "the driver ended without {} row(s): {}",
                expected.len(),
                expected.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }
}

/// A line of the driver.
enum Message {
    /// `{"row": {..}}`: a finished row, as [`Trial::run_case`] made it on the worker.
    Row(Box<Row>),
    /// `{"failed": ID, "error": ..}`: a row lost past its retries.
    Failed { id: String, error: String },
}

fn read_message(line: &str) -> Result<Message, String> {
    let mut v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| format!("the driver wrote `{line}`, not a message: {e}"))?;
    if let Some(row) = v.get_mut("row") {
        let row: Row = serde_json::from_value(row.take())
            .map_err(|e| format!("the driver sent a row that does not read: {e}"))?;
        return Ok(Message::Row(Box::new(row)));
    }
    match (v["failed"].as_str(), v["error"].as_str()) {
        (Some(id), Some(error)) => Ok(Message::Failed {
            id: id.into(),
            error: error.into(),
        }),
        _ => Err(format!("the driver wrote `{line}`, not a message")),
    }
}
