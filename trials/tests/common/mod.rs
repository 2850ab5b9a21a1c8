//! What the trial tests share: a scratch folder and a one-call run of a trial text.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use vesalius_trials::executor::Local;
use vesalius_trials::runner::run;
use vesalius_trials::{Row, Trial};

/// A fresh folder under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `text` written as `trial.toml` in a fresh folder `name`, loaded and run into its `out/`;
/// every row printed. Returns the trial, its rows and the folder.
pub fn run_text(name: &str, text: &str) -> (Trial, Vec<Row>, PathBuf) {
    let dir = scratch(name);
    let path = dir.join("trial.toml");
    std::fs::write(&path, text).unwrap();
    let trial = Trial::load(&path).unwrap();
    let out = run(&trial, &dir.join("out"), None, &Local, |_, _, _| {}).unwrap();
    for r in &out.rows {
        eprintln!(
            "{}: passed {} failed {:?} error {:?} plan {:?} supervisor {:?}\n  {:?}",
            r.id, r.passed, r.failed, r.error, r.plan, r.supervisor, r.events
        );
    }
    (trial, out.rows, dir)
}
