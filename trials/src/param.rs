//! Parameter distributions (`Param`) and the values they take (`Value`).

use serde::{Deserialize, Serialize};

use crate::error::TrialError;
use crate::normal;

/// Smallest probability mass a truncation interval may keep. Below it the interval is almost
/// surely a typo (bounds in the wrong unit), and quantiles there would lose precision.
pub const MIN_TRUNCATED_MASS: f64 = 1e-6;

/// One value of a parameter in a case: a number (SI units, as the simulator reads them) or a
/// string (a mesh file, a named level).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
}

impl Value {
    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(x) => Some(*x),
            Value::Text(_) => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Number(_) => None,
            Value::Text(s) => Some(s),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// The distribution of one parameter, as written in a trial file: an inline table tagged by
/// `dist`. Unknown keys are refused.
///
/// | `dist` | keys | meaning |
/// |---|---|---|
/// | `"fixed"` | `values = [..]` | a list of levels (numbers or strings), equally likely |
/// | `"uniform"` | `low`, `high`, `levels?` | uniform on `[low, high)` |
/// | `"normal"` | `mean`, `sd`, `low?`, `high?`, `levels?` | normal, optionally truncated to `[low, high]` |
/// | `"lognormal"` | `median`, `gsd`, `low?`, `high?`, `levels?` | `ln X` normal with mean `ln median` and sd `ln gsd`, optionally truncated |
/// | `"bernoulli"` | `p` | 1 with probability `p`, else 0 (sampled designs only) |
///
/// The log-normal is parametrised by its median and geometric standard deviation (`gsd > 1`,
/// the factor one log-sd away from the median: about 68 % of draws lie in
/// `[median / gsd, median * gsd]`), the way tissue stiffness spreads are usually reported. In
/// terms of the underlying normal, `mu = ln(median)` and `sigma = ln(gsd)`; its mean is
/// `median * exp(sigma^2 / 2)`.
///
/// Truncation keeps the distribution's shape inside `[low, high]` and rescales it (inverse CDF
/// on the rescaled CDF); either bound may be left out. For a log-normal, `low = 0` is the same
/// as no lower bound.
///
/// `levels = N` is read only by factorial designs: the continuous parameter then takes the
/// `N` quantiles at `(i + 1/2) / N`, `i = 0..N` (equally spaced in probability, each standing
/// for an equal share of the distribution). Sampled designs ignore it, so a file can switch
/// between `kind = "factorial"` and `kind = "lhs"` by one line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum Param {
    /// A list of levels, equally likely.
    Fixed {
        /// The levels, at least one.
        values: Vec<Value>,
    },
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower end.
        low: f64,
        /// Upper end, above `low`.
        high: f64,
        /// Number of levels in a factorial design.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        levels: Option<u32>,
    },
    /// Normal, optionally truncated.
    Normal {
        /// Mean (before truncation).
        mean: f64,
        /// Standard deviation (before truncation), positive.
        sd: f64,
        /// Optional lower truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        low: Option<f64>,
        /// Optional upper truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        high: Option<f64>,
        /// Number of levels in a factorial design.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        levels: Option<u32>,
    },
    /// Log-normal by median and geometric standard deviation, optionally truncated.
    #[serde(rename = "lognormal")]
    LogNormal {
        /// Median (before truncation), positive.
        median: f64,
        /// Geometric standard deviation, above 1.
        gsd: f64,
        /// Optional lower truncation bound, non-negative.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        low: Option<f64>,
        /// Optional upper truncation bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        high: Option<f64>,
        /// Number of levels in a factorial design.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        levels: Option<u32>,
    },
    /// 1 with probability `p`, else 0: whether a case has something (the patient moves).
    /// A sampled design's stratification gives it to a share `p` of the cases, as close as
    /// their number allows.
    Bernoulli {
        /// The probability of 1, in `[0, 1]`.
        p: f64,
    },
}

fn invalid(path: &str, message: String) -> TrialError {
    TrialError::Invalid {
        path: path.to_owned(),
        message,
    }
}

fn finite(path: &str, key: &str, x: f64) -> Result<(), TrialError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(invalid(path, format!("{key} = {x} is not a finite number")))
    }
}

impl Param {
    /// Whether the parameter is continuous (everything but `fixed` and `bernoulli`).
    pub fn is_continuous(&self) -> bool {
        !matches!(self, Param::Fixed { .. } | Param::Bernoulli { .. })
    }

    /// The smallest and largest values a numeric parameter can take (infinite where the
    /// distribution is unbounded; `None` for a list holding a string).
    pub fn support(&self) -> Option<(f64, f64)> {
        match self {
            Param::Fixed { values } => values
                .iter()
                .try_fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    v.as_f64().map(|x| (lo.min(x), hi.max(x)))
                }),
            Param::Uniform { low, high, .. } => Some((*low, *high)),
            Param::Normal { low, high, .. } => Some((
                low.unwrap_or(f64::NEG_INFINITY),
                high.unwrap_or(f64::INFINITY),
            )),
            Param::LogNormal { low, high, .. } => {
                Some((low.unwrap_or(0.0), high.unwrap_or(f64::INFINITY)))
            }
            Param::Bernoulli { .. } => Some((0.0, 1.0)),
        }
    }

    /// The `levels` key of a continuous parameter; the list length of a fixed one.
    pub fn levels(&self) -> Option<u32> {
        match self {
            Param::Fixed { values } => Some(values.len() as u32),
            Param::Uniform { levels, .. }
            | Param::Normal { levels, .. }
            | Param::LogNormal { levels, .. } => *levels,
            Param::Bernoulli { .. } => None,
        }
    }

    /// Checks the parameter, naming it by `path` (e.g. `cohort.vein_depth`) in the error:
    /// finite numbers, `low < high`, `sd > 0`, `median > 0`, `gsd > 1`, a non-empty list,
    /// `levels >= 1`, and a truncation interval keeping at least [`MIN_TRUNCATED_MASS`] of
    /// the probability.
    pub fn validate(&self, path: &str) -> Result<(), TrialError> {
        if let Some(0) = self.levels().filter(|_| self.is_continuous()) {
            return Err(invalid(path, "levels = 0: give at least 1 level".into()));
        }
        match self {
            Param::Fixed { values } => {
                if values.is_empty() {
                    return Err(invalid(
                        path,
                        "the list of values is empty: give at least one level".into(),
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if let Value::Number(x) = v {
                        finite(path, &format!("values[{i}]"), *x)?;
                    }
                }
            }
            Param::Bernoulli { p } => {
                if !(0.0..=1.0).contains(p) {
                    return Err(invalid(
                        path,
                        format!("p = {p} is not a probability (0 to 1)"),
                    ));
                }
            }
            Param::Uniform { low, high, .. } => {
                finite(path, "low", *low)?;
                finite(path, "high", *high)?;
                if low >= high {
                    return Err(invalid(path, format!("low {low} is not below high {high}")));
                }
            }
            Param::Normal {
                mean,
                sd,
                low,
                high,
                ..
            } => {
                finite(path, "mean", *mean)?;
                finite(path, "sd", *sd)?;
                if *sd <= 0.0 {
                    return Err(invalid(path, format!("sd = {sd} must be positive")));
                }
                check_bounds(path, *low, *high)?;
                self.check_mass(
                    path,
                    format!(
                        "[{}, {}]",
                        fmt_bound(*low, f64::NEG_INFINITY),
                        fmt_bound(*high, f64::INFINITY)
                    ),
                    format!("the normal's probability (mean {mean}, sd {sd})"),
                )?;
            }
            Param::LogNormal {
                median,
                gsd,
                low,
                high,
                ..
            } => {
                finite(path, "median", *median)?;
                finite(path, "gsd", *gsd)?;
                if *median <= 0.0 {
                    return Err(invalid(path, format!("median = {median} must be positive")));
                }
                if *gsd <= 1.0 {
                    return Err(invalid(
                        path,
                        format!("gsd = {gsd} must be above 1 (it is a factor: with gsd = 1.5 about 68 % of draws lie within a factor 1.5 of the median)"),
                    ));
                }
                if let Some(l) = low.filter(|l| *l < 0.0) {
                    return Err(invalid(
                        path,
                        format!("low = {l}: a log-normal is positive, give low >= 0"),
                    ));
                }
                check_bounds(path, *low, *high)?;
                if let Some(h) = high.filter(|h| *h <= 0.0) {
                    return Err(invalid(
                        path,
                        format!("high = {h}: a log-normal is positive, give high > 0"),
                    ));
                }
                self.check_mass(
                    path,
                    format!(
                        "[{}, {}]",
                        fmt_bound(*low, 0.0),
                        fmt_bound(*high, f64::INFINITY)
                    ),
                    format!("the log-normal's probability (median {median}, gsd {gsd})"),
                )?;
            }
        }
        Ok(())
    }

    /// Refuses truncation bounds (`interval`, as written) that keep under
    /// [`MIN_TRUNCATED_MASS`] of `of` (the distribution, described).
    fn check_mass(&self, path: &str, interval: String, of: String) -> Result<(), TrialError> {
        let (a, b) = self.standard_bounds();
        let m = normal::mass(a, b);
        if m < MIN_TRUNCATED_MASS {
            return Err(invalid(
                path,
                format!(
                    "the truncation interval {interval} holds only {m:.3e} of {of}; check the \
                     bounds and their units"
                ),
            ));
        }
        Ok(())
    }

    /// Truncation bounds on the standard normal scale (normal and log-normal).
    fn standard_bounds(&self) -> (f64, f64) {
        match self {
            Param::Normal {
                mean,
                sd,
                low,
                high,
                ..
            } => (
                low.map_or(f64::NEG_INFINITY, |l| (l - mean) / sd),
                high.map_or(f64::INFINITY, |h| (h - mean) / sd),
            ),
            Param::LogNormal {
                median,
                gsd,
                low,
                high,
                ..
            } => {
                let (mu, sigma) = (median.ln(), gsd.ln());
                (
                    low.filter(|l| *l > 0.0)
                        .map_or(f64::NEG_INFINITY, |l| (l.ln() - mu) / sigma),
                    high.map_or(f64::INFINITY, |h| (h.ln() - mu) / sigma),
                )
            }
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        }
    }

    /// The value at probability `u` (the inverse CDF; for a fixed list, level
    /// `floor(u * len)`). `u` is clamped to `[2^-53, 1 - 2^-53]` so every value is finite.
    /// Call [`Param::validate`] first.
    pub fn quantile(&self, u: f64) -> Value {
        let u = u.clamp(f64::EPSILON / 2.0, 1.0 - f64::EPSILON / 2.0);
        match self {
            Param::Fixed { values } => {
                let i = ((u * values.len() as f64) as usize).min(values.len() - 1);
                values[i].clone()
            }
            // The top share `p` of the probabilities: 1 for `p = 1`, 0 for `p = 0`.
            Param::Bernoulli { p } => Value::Number(if u >= 1.0 - p { 1.0 } else { 0.0 }),
            Param::Uniform { low, high, .. } => Value::Number((low + u * (high - low)).min(*high)),
            Param::Normal {
                mean,
                sd,
                low,
                high,
                ..
            } => {
                let (a, b) = self.standard_bounds();
                let x = mean + sd * normal::truncated_quantile(u, a, b);
                Value::Number(x.clamp(
                    low.unwrap_or(f64::NEG_INFINITY),
                    high.unwrap_or(f64::INFINITY),
                ))
            }
            Param::LogNormal {
                median,
                gsd,
                low,
                high,
                ..
            } => {
                let (a, b) = self.standard_bounds();
                let x = (median.ln() + gsd.ln() * normal::truncated_quantile(u, a, b)).exp();
                Value::Number(x.clamp(low.unwrap_or(0.0), high.unwrap_or(f64::INFINITY)))
            }
        }
    }

    /// Level `i` of `n` in a factorial design: a fixed list's `i`-th value, or a continuous
    /// parameter's quantile at `(i + 1/2) / n`.
    pub fn level(&self, i: u32, n: u32) -> Value {
        match self {
            Param::Fixed { values } => values[i as usize].clone(),
            _ => self.quantile((f64::from(i) + 0.5) / f64::from(n)),
        }
    }
}

fn check_bounds(path: &str, low: Option<f64>, high: Option<f64>) -> Result<(), TrialError> {
    if let Some(l) = low {
        finite(path, "low", l)?;
    }
    if let Some(h) = high {
        finite(path, "high", h)?;
    }
    if let (Some(l), Some(h)) = (low, high) {
        if l >= h {
            return Err(invalid(path, format!("low {l} is not below high {h}")));
        }
    }
    Ok(())
}

fn fmt_bound(b: Option<f64>, default: f64) -> String {
    match b {
        Some(x) => x.to_string(),
        None if default.is_infinite() && default < 0.0 => "-inf".into(),
        None if default.is_infinite() => "inf".into(),
        None => default.to_string(),
    }
}
