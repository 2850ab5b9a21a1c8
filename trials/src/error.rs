//! The error type of the crate.

/// What is wrong with a trial design. Every variant but [`TrialError::Syntax`] names the key
/// it is about (`cohort.vein_depth`, `design.correlation[1]`, ...), and its message starts
/// with that path.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// The file is not valid TOML (the message has the line and column).
    #[error("the trial file is not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    /// A section or key has the wrong shape: an unknown key, a missing one, a wrong type.
    #[error("{path}: {message}")]
    Schema {
        /// The key, as a dotted path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent with others (`low >= high`, `sd <= 0`, an
    /// empty list, a correlation naming an unknown parameter, ...).
    #[error("{path}: {message}")]
    Invalid {
        /// The key, as a dotted path.
        path: String,
        /// What is wrong, and what to do.
        message: String,
    },
    /// The requested correlations do not form a positive-definite matrix.
    #[error(
        "design.correlation: the correlation matrix is not positive definite (the Cholesky \
         factorisation fails at `{param}`); weaken or drop one of the pairs {pairs}"
    )]
    NotPositiveDefinite {
        /// The parameter at which the factorisation fails.
        param: String,
        /// The pairs involving it and the parameters before it, as `a`-`b` (rho).
        pairs: String,
    },
}

impl TrialError {
    /// The dotted path of the key the error is about (`None` for a syntax error).
    pub fn path(&self) -> Option<&str> {
        match self {
            TrialError::Syntax(_) => None,
            TrialError::Schema { path, .. } | TrialError::Invalid { path, .. } => Some(path),
            TrialError::NotPositiveDefinite { .. } => Some("design.correlation"),
        }
    }
}
