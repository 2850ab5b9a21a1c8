//! The `[design]` section, the parsed and checked [`Design`], and the [`Case`]s it generates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::TrialError;
use crate::param::{Param, Value};
use crate::{normal, sampling};

/// Most points (cases before repetition) and most cases (after) a design may have.
pub const MAX_CASES: u64 = 10_000_000;

/// How the design's points are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesignKind {
    /// Every combination of the levels of every parameter, once (`size` is their product).
    Factorial,
    /// A Latin hypercube of `size` points.
    Lhs,
    /// The first `size` points of an Owen-scrambled Sobol sequence (powers of two are best).
    Sobol,
}

impl std::fmt::Display for DesignKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DesignKind::Factorial => "factorial",
            DesignKind::Lhs => "lhs",
            DesignKind::Sobol => "sobol",
        })
    }
}

/// A requested correlation between two continuous parameters, `{ a = "..", b = "..", rho = .. }`.
///
/// `rho` is the correlation of the parameters' normal scores (a Gaussian copula): the Pearson
/// correlation itself for two normals, close to it for other continuous marginals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correlation {
    /// One parameter's full name (`cohort.vein_depth`).
    pub a: String,
    /// The other parameter's full name.
    pub b: String,
    /// The correlation, in `(-1, 1)`.
    pub rho: f64,
}

/// The `[design]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignSettings {
    /// Factorial, Latin hypercube or Sobol.
    pub kind: DesignKind,
    /// Number of points: required for `lhs` and `sobol`; for `factorial`, optional and then
    /// it must equal the product of the levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Master seed: every random choice of the design, and every case's seed, derive from it.
    pub seed: u64,
    /// How many times each point is run, each time with its own seed (default 1).
    #[serde(default = "one")]
    pub repetitions: u32,
    /// Correlations between continuous parameters (`lhs` and `sobol` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlation: Vec<Correlation>,
}

fn one() -> u32 {
    1
}

/// One run of the trial: a point of the design and a repetition of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Stable name, `c{index}-r{repetition}` with the index zero-padded to at least 4 digits
    /// (`c0007-r1`).
    pub id: String,
    /// The point's index in the design, from 0.
    pub index: u64,
    /// The repetition, from 0.
    pub repetition: u32,
    /// The case's own seed ([`sampling::case_seed`] of the master seed, index and repetition),
    /// for the simulator's random choices.
    pub seed: u64,
    /// Every parameter's value, by full name.
    pub values: BTreeMap<String, Value>,
}

/// The Gaussian copula of the correlated parameters.
#[derive(Clone, Debug)]
struct Copula {
    /// Indices (into the sorted parameter names) of the parameters in some pair.
    dims: Vec<usize>,
    /// Lower Cholesky factor of their correlation matrix, row-major.
    chol: Vec<Vec<f64>>,
}

/// A checked design: the `[design]` settings and the parameters, ready to generate cases.
#[derive(Clone, Debug)]
pub struct Design {
    settings: DesignSettings,
    params: BTreeMap<String, Param>,
    /// Number of levels per parameter, in name order (factorial only).
    radices: Vec<u32>,
    points: u64,
    copula: Option<Copula>,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> TrialError {
    TrialError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

fn schema(path: impl Into<String>, message: impl Into<String>) -> TrialError {
    TrialError::Schema {
        path: path.into(),
        message: message.into(),
    }
}

impl Design {
    /// Parses and checks a design file (`[design]`, `[cohort]`, `[materials]`,
    /// `[perturbation]`; see the crate documentation for the schema).
    pub fn from_toml_str(text: &str) -> Result<Design, TrialError> {
        let table: toml::Table = toml::from_str(text)?;
        Design::from_table(&table)
    }

    /// Checks an already parsed design file. Any top-level key other than `design`, `cohort`,
    /// `materials` and `perturbation` is refused: a runner reading a larger trial file takes
    /// its own sections out first.
    pub fn from_table(table: &toml::Table) -> Result<Design, TrialError> {
        for key in table.keys() {
            if !["design", "cohort", "materials", "perturbation"].contains(&key.as_str()) {
                return Err(schema(
                    key.as_str(),
                    "unknown section; a design has [design], [cohort], [materials] and \
                     [perturbation]",
                ));
            }
        }
        let settings = parse_settings(table.get("design"))?;
        let mut params = BTreeMap::new();
        parse_cohort(table.get("cohort"), &mut params)?;
        parse_materials(table.get("materials"), &mut params)?;
        parse_perturbation(table.get("perturbation"), &mut params)?;
        Design::new(settings, params)
    }

    /// Checks a design built in code. Parameter names are full dotted names
    /// (`cohort.vein_depth`, `materials.skin.youngs_modulus`).
    pub fn new(
        settings: DesignSettings,
        params: BTreeMap<String, Param>,
    ) -> Result<Design, TrialError> {
        if params.is_empty() {
            return Err(invalid("cohort", "the design has no parameters"));
        }
        for (name, p) in &params {
            p.validate(name)?;
        }
        if settings.repetitions == 0 {
            return Err(invalid(
                "design.repetitions",
                "repetitions = 0: give at least 1",
            ));
        }
        let mut radices = Vec::new();
        let points = match settings.kind {
            DesignKind::Factorial => {
                if !settings.correlation.is_empty() {
                    return Err(invalid(
                        "design.correlation",
                        "correlation applies to sampled designs (kind = \"lhs\" or \"sobol\"), not to a factorial one",
                    ));
                }
                let mut product: u64 = 1;
                for (name, p) in &params {
                    if matches!(p, Param::Bernoulli { .. }) {
                        return Err(invalid(
                            name.as_str(),
                            "a share of the cases (dist = \"bernoulli\") needs a sampled design \
                             (kind = \"lhs\" or \"sobol\"); a factorial design takes both \
                             levels as { dist = \"fixed\", values = [0, 1] }",
                        ));
                    }
                    let n = p.levels().ok_or_else(|| {
                        invalid(
                            name.as_str(),
                            "a factorial design needs `levels = N` for a continuous parameter \
                             (its N quantiles at (i + 1/2) / N are used)",
                        )
                    })?;
                    radices.push(n);
                    product = product.saturating_mul(u64::from(n));
                }
                if product > MAX_CASES {
                    return Err(invalid(
                        "design",
                        format!("the factorial design has {product} points, more than {MAX_CASES}; use kind = \"lhs\" or \"sobol\""),
                    ));
                }
                if let Some(size) = settings.size.filter(|s| *s != product) {
                    return Err(invalid(
                        "design.size",
                        format!("size = {size} but the factorial design has {product} points (the product of the levels); drop `size` or fix it"),
                    ));
                }
                product
            }
            DesignKind::Lhs | DesignKind::Sobol => {
                let size = settings.size.ok_or_else(|| {
                    invalid(
                        "design.size",
                        format!("a {} design needs a size (number of points)", settings.kind),
                    )
                })?;
                if size == 0 {
                    return Err(invalid("design.size", "size = 0: give at least 1 point"));
                }
                if size > MAX_CASES {
                    return Err(invalid(
                        "design.size",
                        format!("size = {size} is more than {MAX_CASES}"),
                    ));
                }
                if settings.kind == DesignKind::Sobol {
                    if size > sampling::SOBOL_MAX_POINTS {
                        return Err(invalid(
                            "design.size",
                            format!(
                                "size = {size}: a sobol design has at most {} points",
                                sampling::SOBOL_MAX_POINTS
                            ),
                        ));
                    }
                    if params.len() > sampling::SOBOL_MAX_DIMENSIONS {
                        return Err(invalid(
                            "design",
                            format!(
                                "a sobol design has at most {} parameters, this one has {}",
                                sampling::SOBOL_MAX_DIMENSIONS,
                                params.len()
                            ),
                        ));
                    }
                }
                size
            }
        };
        if points.saturating_mul(u64::from(settings.repetitions)) > MAX_CASES {
            return Err(invalid(
                "design.repetitions",
                format!(
                    "{points} points x {} repetitions is more than {MAX_CASES} cases",
                    settings.repetitions
                ),
            ));
        }
        let copula = build_copula(&settings.correlation, &params)?;
        Ok(Design {
            settings,
            params,
            radices,
            points,
            copula,
        })
    }

    /// The `[design]` settings.
    pub fn settings(&self) -> &DesignSettings {
        &self.settings
    }

    /// The parameters by full name, in sorted order (the order of the design's dimensions).
    pub fn params(&self) -> &BTreeMap<String, Param> {
        &self.params
    }

    /// Number of points (cases before repetition).
    pub fn num_points(&self) -> u64 {
        self.points
    }

    /// Number of cases: points times repetitions.
    pub fn num_cases(&self) -> u64 {
        self.points * u64::from(self.settings.repetitions)
    }

    /// Every case, ordered by point index, then repetition.
    pub fn cases(&self) -> Vec<Case> {
        let n = self.points as usize;
        let columns = self.lhs_columns();
        let mut cases = Vec::with_capacity(self.num_cases() as usize);
        for index in 0..n as u64 {
            let values = self.values_at(index, columns.as_deref());
            for repetition in 0..self.settings.repetitions {
                cases.push(self.make_case(index, repetition, values.clone()));
            }
        }
        cases
    }

    /// One case alone, equal to the same case in [`Design::cases`]. A Latin hypercube point
    /// costs the design's permutations (`O(size x parameters)`); a factorial or Sobol point
    /// costs `O(parameters)`.
    pub fn case(&self, index: u64, repetition: u32) -> Result<Case, TrialError> {
        if index >= self.points {
            return Err(invalid(
                "design.size",
                format!(
                    "case index {index} is outside the design's {} points",
                    self.points
                ),
            ));
        }
        if repetition >= self.settings.repetitions {
            return Err(invalid(
                "design.repetitions",
                format!(
                    "repetition {repetition} is outside the design's {} repetitions",
                    self.settings.repetitions
                ),
            ));
        }
        let columns = self.lhs_columns();
        Ok(self.make_case(index, repetition, self.values_at(index, columns.as_deref())))
    }

    fn make_case(&self, index: u64, repetition: u32, values: BTreeMap<String, Value>) -> Case {
        let width = (self.points.saturating_sub(1).max(1).ilog10() as usize + 1).max(4);
        Case {
            id: format!("c{index:0width$}-r{repetition}"),
            index,
            repetition,
            seed: sampling::case_seed(self.settings.seed, index, repetition),
            values,
        }
    }

    /// The Latin hypercube's columns (one per parameter), for an `lhs` design.
    fn lhs_columns(&self) -> Option<Vec<Vec<f64>>> {
        (self.settings.kind == DesignKind::Lhs).then(|| {
            (0..self.params.len())
                .map(|d| sampling::lhs_column(self.settings.seed, d, self.points as usize))
                .collect()
        })
    }

    fn values_at(&self, index: u64, lhs_columns: Option<&[Vec<f64>]>) -> BTreeMap<String, Value> {
        match self.settings.kind {
            DesignKind::Factorial => {
                // Mixed radix, the last parameter (in name order) varying fastest.
                let mut digits = vec![0u32; self.radices.len()];
                let mut rest = index;
                for (digit, &radix) in digits.iter_mut().zip(&self.radices).rev() {
                    *digit = (rest % u64::from(radix)) as u32;
                    rest /= u64::from(radix);
                }
                self.params
                    .iter()
                    .zip(digits.iter().zip(&self.radices))
                    .map(|((name, p), (&i, &n))| (name.clone(), p.level(i, n)))
                    .collect()
            }
            DesignKind::Lhs | DesignKind::Sobol => {
                let mut u: Vec<f64> = match lhs_columns {
                    Some(columns) => columns.iter().map(|c| c[index as usize]).collect(),
                    None => (0..self.params.len())
                        .map(|d| sampling::sobol(self.settings.seed, index, d))
                        .collect(),
                };
                if let Some(copula) = &self.copula {
                    copula.apply(&mut u);
                }
                self.params
                    .iter()
                    .zip(&u)
                    .map(|((name, p), &u)| (name.clone(), p.quantile(u)))
                    .collect()
            }
        }
    }
}

impl Copula {
    /// Correlates the copula's coordinates of `u`: normal scores, times the Cholesky factor,
    /// back to probabilities. Each row of the factor has unit norm, so each marginal stays
    /// uniform and the parameters keep their distributions.
    fn apply(&self, u: &mut [f64]) {
        let z: Vec<f64> = self.dims.iter().map(|&d| normal::quantile(u[d])).collect();
        for (row, &d) in self.chol.iter().zip(&self.dims) {
            let zc: f64 = row.iter().zip(&z).map(|(l, z)| l * z).sum();
            u[d] = normal::cdf(zc);
        }
    }
}

fn build_copula(
    pairs: &[Correlation],
    params: &BTreeMap<String, Param>,
) -> Result<Option<Copula>, TrialError> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let names: Vec<&String> = params.keys().collect();
    let mut dims: Vec<usize> = Vec::new();
    let mut seen: Vec<(usize, usize)> = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        let path = format!("design.correlation[{i}]");
        let what = format!("(a = \"{}\", b = \"{}\")", pair.a, pair.b);
        let mut ends = [0usize; 2];
        for (end, name) in ends.iter_mut().zip([&pair.a, &pair.b]) {
            let Some(d) = names.iter().position(|n| *n == name) else {
                return Err(invalid(
                    path,
                    format!(
                        "{what}: unknown parameter `{name}`; the parameters are {}",
                        names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            if !params[name].is_continuous() {
                return Err(invalid(
                    path,
                    format!("{what}: `{name}` is a fixed list; correlation applies to continuous parameters"),
                ));
            }
            *end = d;
        }
        if ends[0] == ends[1] {
            return Err(invalid(
                path,
                format!("{what}: a parameter is not correlated with itself"),
            ));
        }
        if !pair.rho.is_finite() || pair.rho <= -1.0 || pair.rho >= 1.0 {
            return Err(invalid(
                path,
                format!(
                    "{what}: rho = {} must lie strictly between -1 and 1",
                    pair.rho
                ),
            ));
        }
        let key = (ends[0].min(ends[1]), ends[0].max(ends[1]));
        if seen.contains(&key) {
            return Err(invalid(
                path,
                format!("{what}: this pair is already correlated by an earlier entry"),
            ));
        }
        seen.push(key);
        dims.extend(ends);
    }
    dims.sort_unstable();
    dims.dedup();
    let k = dims.len();
    let mut c = vec![vec![0.0; k]; k];
    for (i, row) in c.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for (pair, &(p, q)) in pairs.iter().zip(&seen) {
        let (i, j) = (
            dims.binary_search(&p).unwrap(),
            dims.binary_search(&q).unwrap(),
        );
        c[i][j] = pair.rho;
        c[j][i] = pair.rho;
    }
    // Cholesky, C = L L^T. A pivot below 1e-10 means the matrix is (numerically) not positive
    // definite: the copula would then not reproduce the requested correlations.
    let mut l = vec![vec![0.0; k]; k];
    for j in 0..k {
        let d = c[j][j] - (0..j).map(|m| l[j][m] * l[j][m]).sum::<f64>();
        if d <= 1e-10 {
            let involved: Vec<String> = pairs
                .iter()
                .zip(&seen)
                .filter(|(_, &(p, q))| {
                    let (i, jj) = (
                        dims.binary_search(&p).unwrap(),
                        dims.binary_search(&q).unwrap(),
                    );
                    i <= j && jj <= j
                })
                .map(|(pair, _)| format!("`{}`-`{}` ({})", pair.a, pair.b, pair.rho))
                .collect();
            return Err(TrialError::NotPositiveDefinite {
                param: names[dims[j]].clone(),
                pairs: involved.join(", "),
            });
        }
        l[j][j] = d.sqrt();
        for i in j + 1..k {
            l[i][j] = (c[i][j] - (0..j).map(|m| l[i][m] * l[j][m]).sum::<f64>()) / l[j][j];
        }
    }
    Ok(Some(Copula { dims, chol: l }))
}

fn parse_settings(design: Option<&toml::Value>) -> Result<DesignSettings, TrialError> {
    let Some(design) = design else {
        return Err(schema(
            "design",
            "missing [design] section (kind, size, seed, repetitions)",
        ));
    };
    let Some(table) = design.as_table() else {
        return Err(schema("design", "expected a table"));
    };
    let mut table = table.clone();
    let pairs = table.remove("correlation");
    let mut settings: DesignSettings = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| schema("design", e.message()))?;
    match pairs {
        None => {}
        Some(toml::Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                let pair: Correlation = item.try_into().map_err(|e: toml::de::Error| {
                    schema(format!("design.correlation[{i}]"), e.message())
                })?;
                settings.correlation.push(pair);
            }
        }
        Some(_) => {
            return Err(schema(
                "design.correlation",
                "expected a list of { a = \"..\", b = \"..\", rho = .. } tables",
            ))
        }
    }
    Ok(settings)
}

fn parse_param(path: &str, value: &toml::Value) -> Result<Param, TrialError> {
    if !value.is_table() {
        return Err(schema(
            path,
            format!(
                "expected a distribution table such as {{ dist = \"fixed\", values = [{value}] }}"
            ),
        ));
    }
    value
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| schema(path, e.message()))
}

fn parse_cohort(
    cohort: Option<&toml::Value>,
    params: &mut BTreeMap<String, Param>,
) -> Result<(), TrialError> {
    const EMPTY: &str = "the cohort is empty: give at least one anatomy parameter ([cohort.<name>]) or a mesh list (cohort.meshes = [..])";
    let Some(cohort) = cohort else {
        return Err(invalid("cohort", EMPTY));
    };
    let Some(table) = cohort.as_table() else {
        return Err(schema("cohort", "expected a table"));
    };
    if table.is_empty() {
        return Err(invalid("cohort", EMPTY));
    }
    for (key, value) in table {
        if key == "meshes" {
            let meshes: Vec<String> = value.clone().try_into().map_err(|e: toml::de::Error| {
                schema(
                    "cohort.meshes",
                    format!("expected a list of mesh file paths: {}", e.message()),
                )
            })?;
            if meshes.is_empty() {
                return Err(invalid(
                    "cohort.meshes",
                    "the list of meshes is empty: give at least one mesh file",
                ));
            }
            if table.contains_key("mesh") {
                return Err(invalid(
                    "cohort.mesh",
                    "`cohort.mesh` is the parameter made from cohort.meshes; give one of the two",
                ));
            }
            params.insert(
                "cohort.mesh".into(),
                Param::Fixed {
                    values: meshes.into_iter().map(Value::Text).collect(),
                },
            );
        } else {
            let path = format!("cohort.{key}");
            let p = parse_param(&path, value)?;
            params.insert(path, p);
        }
    }
    Ok(())
}

fn parse_materials(
    materials: Option<&toml::Value>,
    params: &mut BTreeMap<String, Param>,
) -> Result<(), TrialError> {
    let Some(materials) = materials else {
        return Ok(());
    };
    let Some(regions) = materials.as_table() else {
        return Err(schema(
            "materials",
            "expected a table of regions ([materials.<region>.<field>])",
        ));
    };
    for (region, fields) in regions {
        let rpath = format!("materials.{region}");
        let Some(fields) = fields.as_table() else {
            return Err(schema(
                rpath,
                "expected a table of material draws ([materials.<region>.<field>])",
            ));
        };
        if fields.is_empty() {
            return Err(invalid(rpath, "the region has no material draws"));
        }
        for (field, value) in fields {
            let path = format!("{rpath}.{field}");
            let p = parse_param(&path, value)?;
            params.insert(path, p);
        }
    }
    Ok(())
}

/// A `[perturbation]` key: name, unit, lowest value, whether the lowest is allowed.
type PerturbationKey = (&'static str, &'static str, f64, bool);

/// The groups of `[perturbation]` and their keys, with what each key is (for errors and the
/// bounds it must keep): `(key, unit, lowest value, whether the lowest is allowed)`.
const PERTURBATIONS: &[(&str, &[PerturbationKey])] = &[
    (
        "motion",
        &[
            ("share", "", 0.0, true),
            ("start", "s", 0.0, true),
            ("ramp", "s", 0.0, false),
            ("x", "m", f64::NEG_INFINITY, true),
            ("y", "m", f64::NEG_INFINITY, true),
            ("z", "m", f64::NEG_INFINITY, true),
        ],
    ),
    ("force_noise", &[("sd", "N", 0.0, true)]),
    (
        "needle",
        &[
            ("x", "m", f64::NEG_INFINITY, true),
            ("y", "m", f64::NEG_INFINITY, true),
            ("z", "m", f64::NEG_INFINITY, true),
        ],
    ),
    (
        "registration",
        &[
            ("x", "m", f64::NEG_INFINITY, true),
            ("y", "m", f64::NEG_INFINITY, true),
            ("z", "m", f64::NEG_INFINITY, true),
        ],
    ),
];

/// How long the patient's move takes when `perturbation.motion.ramp` is not given (s).
pub const DEFAULT_MOTION_RAMP: f64 = 0.2;

/// `[perturbation.<group>]`: each key a number (one level) or a distribution, named
/// `perturbation.<group>.<key>`; `motion.share` becomes the Bernoulli parameter
/// `perturbation.motion.moving`. What they do to a case is the runner's business.
fn parse_perturbation(
    perturbation: Option<&toml::Value>,
    params: &mut BTreeMap<String, Param>,
) -> Result<(), TrialError> {
    let Some(perturbation) = perturbation else {
        return Ok(());
    };
    let groups = PERTURBATIONS
        .iter()
        .map(|(g, _)| format!("[perturbation.{g}]"))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(table) = perturbation.as_table() else {
        return Err(schema("perturbation", format!("expected tables: {groups}")));
    };
    for (group, fields) in table {
        let gpath = format!("perturbation.{group}");
        let Some(&(_, keys)) = PERTURBATIONS.iter().find(|(g, _)| g == group) else {
            return Err(schema(
                gpath,
                format!("unknown perturbation; the perturbations are {groups}"),
            ));
        };
        let Some(fields) = fields.as_table() else {
            return Err(schema(gpath, "expected a table"));
        };
        if fields.is_empty() {
            return Err(invalid(gpath, "the perturbation has no keys"));
        }
        for (key, value) in fields {
            let path = format!("{gpath}.{key}");
            let Some(&(_, unit, lowest, inclusive)) = keys.iter().find(|(k, ..)| k == key) else {
                return Err(schema(
                    path,
                    format!(
                        "unknown key; [{gpath}] has {}",
                        keys.iter()
                            .map(|(k, ..)| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            if key == "share" {
                let Some(p) = value.as_float().or(value.as_integer().map(|i| i as f64)) else {
                    return Err(schema(
                        path,
                        "expected the share of the cases in which the patient moves (0 to 1)",
                    ));
                };
                let param = Param::Bernoulli { p };
                param.validate(&path)?;
                params.insert(format!("{gpath}.moving"), param);
                continue;
            }
            let param = match value {
                toml::Value::Float(_) | toml::Value::Integer(_) => Param::Fixed {
                    values: vec![Value::Number(
                        value
                            .as_float()
                            .unwrap_or_else(|| value.as_integer().unwrap_or(0) as f64),
                    )],
                },
                _ => parse_param(&path, value)?,
            };
            param.validate(&path)?;
            let Some((lo, _)) = param.support() else {
                return Err(invalid(path, "expected numbers"));
            };
            if lo < lowest || (!inclusive && lo <= lowest) {
                let bound = if inclusive { "at least" } else { "above" };
                return Err(invalid(
                    path,
                    format!(
                        "must be {bound} {lowest} {unit}, but the distribution reaches {lo}; \
                         bound it (low = ..)"
                    ),
                ));
            }
            params.insert(path, param);
        }
        if group == "motion" {
            if !fields.contains_key("share") {
                return Err(invalid(
                    format!("{gpath}.share"),
                    "missing: the share of the cases in which the patient moves (0 to 1)",
                ));
            }
            if !fields.contains_key("start") {
                return Err(invalid(
                    format!("{gpath}.start"),
                    "missing: when the move starts (s), a number or a distribution",
                ));
            }
            params
                .entry(format!("{gpath}.ramp"))
                .or_insert(Param::Fixed {
                    values: vec![Value::Number(DEFAULT_MOTION_RAMP)],
                });
        }
    }
    Ok(())
}
