//! `vesalius trial`: every case of a trial (virtual patients and material draws) against
//! every robot behaviour, on all cores, into a result table that a killed run resumes.

use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use vesalius_trials::executor::{Executor, Local, Ray};
use vesalius_trials::runner::run as run_trial;
use vesalius_trials::Trial;

/// Arguments of `vesalius trial`.
#[derive(Args, Debug)]
pub struct TrialArgs {
    /// Trial file (TOML): the scene, the design, the cohort and material draws, the
    /// behaviours.
    pub trial: PathBuf,
    /// Output directory: rows.jsonl (as rows finish), then results.csv, results.parquet, summary.json and
    /// summary.md. A directory holding part of this trial's rows resumes it.
    #[arg(long)]
    pub out: PathBuf,
    /// Run only this case (`c0007-r0`, every behaviour) or row (`c0007-r0/fixed`) again,
    /// alone; repeatable. Prints the rows and leaves the journal and the table as they are.
    #[arg(long = "case", value_name = "ID")]
    pub cases: Vec<String>,
    /// Parallel cases (default: every core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run the rows as tasks of the Ray cluster at this address (`HOST:PORT` of its head,
    /// as `ray start --head` prints it, or `auto`) instead of on this machine. Every node
    /// needs the `vesalius` Python package and the trial's files at the same paths. The
    /// rows, journal and table are those of a local run.
    #[arg(long, value_name = "ADDRESS")]
    pub ray: Option<String>,
    /// With --ray: the Python interpreter with `vesalius` and `ray` (default:
    /// $VESALIUS_PYTHON, else python3).
    #[arg(long, requires = "ray")]
    pub python: Option<PathBuf>,
    /// With --ray: retries of a row whose worker was lost.
    #[arg(long, requires = "ray", default_value_t = 3)]
    pub retries: u32,
}

/// Runs `vesalius trial`.
pub fn run(args: TrialArgs) -> Result<()> {
    let trial = Trial::load(&args.trial)?;
    let rows = trial.row_ids().len();
    eprintln!(
        "{}: {} cases x {} behaviours = {rows} rows",
        args.trial.display(),
        trial.design.num_cases(),
        trial.behaviours.len()
    );
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(rows as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} rows  {elapsed_precise} (eta {eta})  {msg}",
        )
        .expect("valid template"),
    );
    let only = (!args.cases.is_empty()).then_some(args.cases.as_slice());
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(j) = args.jobs {
        if j == 0 {
            bail!("--jobs 0: at least one");
        }
        pool = pool.num_threads(j);
    }
    let pool = pool.build()?;
    let executor: Box<dyn Executor + Sync> = match &args.ray {
        None => Box::new(Local),
        Some(address) => {
            if args.jobs.is_some() {
                bail!(
                    "--jobs is for a local run: on Ray, each row takes one of the cluster's CPUs"
                );
            }
            let python = args
                .python
                .clone()
                .or_else(|| std::env::var_os("VESALIUS_PYTHON").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("python3"));
            Box::new(Ray {
                address: address.clone(),
                python,
                retries: args.retries,
            })
        }
    };
    let outcome = pool.install(|| {
        run_trial(
            &trial,
            &args.out,
            only,
            executor.as_ref(),
            |row, done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                let what = match (&row.error, row.passed) {
                    (Some(_), _) => "error",
                    (None, true) => "passed",
                    (None, false) => "failed",
                };
                bar.set_message(format!("{} {what}", row.id));
            },
        )
    })?;
    bar.finish_and_clear();
    if only.is_some() {
        for r in &outcome.rows {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(());
    }
    eprintln!(
        "{} rows ({} run now, {} from an earlier run); table in {}",
        outcome.rows.len(),
        outcome.ran,
        outcome.rows.len() - outcome.ran,
        args.out.join("results.csv").display()
    );
    print!(
        "{}",
        std::fs::read_to_string(args.out.join("summary.md")).unwrap_or_default()
    );
    Ok(())
}
