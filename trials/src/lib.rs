//! Experimental designs for in-silico trials: which virtual patients, which material draws,
//! how many runs of each.
//!
//! A design file names a cohort of virtual patients (anatomy parameters of the generators,
//! or a list of mesh files), material draws per region, and a design: a full factorial, a
//! Latin hypercube or a Sobol sample of a given size, repeated with per-case seeds, all
//! derived from one master seed. [`Design::cases`] turns it into [`Case`]s: a stable id, the
//! case's seed, and every parameter's [`Value`]. Running them is another crate's business.
//!
//! ```
//! use vesalius_trials::Design;
//!
//! let design = Design::from_toml_str(r#"
//! [design]
//! kind = "lhs"             # "factorial" | "lhs" | "sobol"
//! size = 64                # points (lhs/sobol; factorial: optional, the product of the levels)
//! seed = 20261203          # master seed
//! repetitions = 2          # each point run twice, each time with its own seed
//! correlation = [ { a = "cohort.vein_depth", b = "cohort.fat_thickness", rho = 0.6 } ]
//!
//! [cohort]
//! meshes = ["anatomy/forearm_a.msh", "anatomy/forearm_b.msh"]  # the parameter `cohort.mesh`
//! vein_depth = { dist = "uniform", low = 0.003, high = 0.008 }                       # m
//! fat_thickness = { dist = "normal", mean = 0.004, sd = 0.001, low = 0.001 }        # m, truncated
//! vein_radius = { dist = "fixed", values = [0.0015, 0.002] }                        # m
//!
//! [materials.skin.youngs_modulus]                                                   # Pa
//! dist = "lognormal"
//! median = 1.5e5
//! gsd = 1.4
//! high = 6e5
//!
//! [materials.vein.puncture_force]                                                   # N
//! dist = "normal"
//! mean = 0.4
//! sd = 0.08
//! "#)?;
//!
//! let cases = design.cases();
//! assert_eq!(cases.len(), 128);
//! assert_eq!(cases[3].id, "c0001-r1");
//! let depth = cases[3].values["cohort.vein_depth"].as_f64().unwrap();
//! assert!((0.003..0.008).contains(&depth));
//! // One case regenerated alone from its index and repetition.
//! assert_eq!(design.case(1, 1)?, cases[3]);
//! # Ok::<(), vesalius_trials::TrialError>(())
//! ```
//!
//! # Schema
//!
//! - `[design]`: `kind`, `size`, `seed` (required), `repetitions` (default 1), `correlation`
//!   (see [`DesignSettings`], [`Correlation`]).
//! - `[cohort]`: `meshes = [..]` (becomes the fixed string parameter `cohort.mesh`) and any
//!   number of `<name> = { dist = .. }` anatomy parameters (`cohort.<name>`). A cohort with
//!   neither is an error.
//! - `[materials.<region>]`: `<field> = { dist = .. }` draws (`materials.<region>.<field>`).
//! - `[perturbation.<group>]` (optional): `motion` (`share`, `start`, `ramp`, `x`, `y`,
//!   `z`), `needle` (`x`, `y`, `z`), `registration` (`x`, `y`, `z`), `force_noise` (`sd`);
//!   each key a number or a distribution (`perturbation.<group>.<key>`; `motion.share`
//!   becomes the Bernoulli parameter `perturbation.motion.moving`). Bounds are checked
//!   (a noise sd that can be negative, a ramp of 0, a move without a start). What they do
//!   to a case: [`perturbation`].
//! - Distributions: see [`Param`] (`fixed`, `uniform`, `normal`, `lognormal` by median and
//!   geometric sd, optional truncation, `levels` for factorial designs; `bernoulli` for a
//!   share of the cases, sampled designs only).
//!
//! Unknown keys anywhere are errors, and every error names the key it is about
//! ([`TrialError`]), e.g. `cohort.vein_depth: low 0.008 is not below high 0.003`.
//!
//! # How points are made
//!
//! Parameters are the design's dimensions in sorted name order. A sampled design makes one
//! point of the unit cube per case ([`sampling`]: Latin hypercube or Owen-scrambled Sobol),
//! correlates the continuous parameters named in `correlation` through a Gaussian copula
//! (normal scores times the Cholesky factor of the correlation matrix), and maps each
//! coordinate through its parameter's inverse CDF ([`Param::quantile`]; for a fixed list, the
//! level whose stratum holds the coordinate). A factorial design takes every combination of
//! levels, the last parameter in name order varying fastest. Values are in the units the file
//! gives them in (SI for the simulator).

#![warn(missing_docs)]

mod design;
mod error;
pub mod executor;
pub mod normal;
mod param;
pub mod perturbation;
pub mod plots;
pub mod runner;
pub mod sampling;
mod table;

pub use design::{
    Case, Correlation, Design, DesignKind, DesignSettings, DEFAULT_MOTION_RAMP, MAX_CASES,
};
pub use error::TrialError;
pub use param::{Param, Value, MIN_TRUNCATED_MASS};
pub use runner::{Behaviour, BehaviourKind, Row, RunError, RunOutcome, Summary, Trial};
