//! Design-level checks: determinism, moments, stratification, correlation, factorial, bad input.

use std::collections::{BTreeMap, BTreeSet};

use vesalius_trials::{Case, Design, TrialError, Value};

fn design(text: &str) -> Design {
    Design::from_toml_str(text).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    match Design::from_toml_str(text) {
        Ok(_) => panic!("the design was accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn column(cases: &[Case], name: &str) -> Vec<f64> {
    cases
        .iter()
        .map(|c| c.values[name].as_f64().unwrap())
        .collect()
}

/// Mean and population sd (divided by n: a stratified sample's variance needs no n - 1).
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let (mx, sx) = mean_sd(x);
    let (my, sy) = mean_sd(y);
    let cov = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / x.len() as f64;
    cov / (sx * sy)
}

const BASIC: &str = r#"
[design]
kind = "KIND"
size = 32
seed = SEED
repetitions = 2

[cohort]
meshes = ["a.msh", "b.msh", "c.msh"]
vein_depth = { dist = "uniform", low = 0.004, high = 0.008 }

[materials.skin.youngs_modulus]
dist = "lognormal"
median = 1.5e5
gsd = 1.4

[materials.fat.density]
dist = "normal"
mean = 950.0
sd = 20.0
"#;

fn basic(kind: &str, seed: u64) -> Design {
    design(
        &BASIC
            .replace("KIND", kind)
            .replace("SEED", &seed.to_string()),
    )
}

#[test]
fn same_seed_gives_identical_cases_and_another_seed_different_values() {
    for kind in ["lhs", "sobol"] {
        let a = basic(kind, 11).cases();
        assert_eq!(a, basic(kind, 11).cases(), "{kind}");
        assert_eq!(a.len(), 64);
        let b = basic(kind, 12).cases();
        for name in [
            "cohort.vein_depth",
            "materials.skin.youngs_modulus",
            "materials.fat.density",
        ] {
            assert_ne!(
                column(&a, name),
                column(&b, name),
                "{kind}: {name} did not change with the seed"
            );
        }
        assert_ne!(
            a.iter().map(|c| c.seed).collect::<Vec<_>>(),
            b.iter().map(|c| c.seed).collect::<Vec<_>>()
        );
        // Repetitions share the point's values but not its seed.
        assert_eq!(a[0].values, a[1].values);
        assert_ne!(a[0].seed, a[1].seed);
        assert_eq!(
            (a[5].id.as_str(), a[5].index, a[5].repetition),
            ("c0002-r1", 2, 1)
        );
        let seeds: BTreeSet<u64> = a.iter().map(|c| c.seed).collect();
        assert_eq!(seeds.len(), a.len(), "case seeds collide");
    }
}

#[test]
fn one_case_regenerated_alone_equals_the_same_case_in_the_design() {
    for kind in ["lhs", "sobol", "factorial"] {
        let text = if kind == "factorial" {
            FACTORIAL.to_string()
        } else {
            BASIC.replace("KIND", kind).replace("SEED", "99")
        };
        let d = design(&text);
        let all = d.cases();
        for case in all.iter().step_by(7) {
            assert_eq!(
                &d.case(case.index, case.repetition).unwrap(),
                case,
                "{kind}"
            );
        }
        assert!(d.case(d.num_points(), 0).is_err());
        assert!(d.case(0, d.settings().repetitions).is_err());
    }
}

/// Analytic mean and sd of a normal truncated to [a, b] (sd-scaled bounds), with the normal
/// CDF taken from libm's erfc directly (not from the crate).
fn truncated_normal_moments(mean: f64, sd: f64, low: f64, high: f64) -> (f64, f64) {
    let phi = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf = |x: f64| 0.5 * libm::erfc(-x / 2f64.sqrt());
    let (a, b) = ((low - mean) / sd, (high - mean) / sd);
    let z = cdf(b) - cdf(a);
    let m = (phi(a) - phi(b)) / z;
    let var = 1.0 + (a * phi(a) - b * phi(b)) / z - m * m;
    (mean + sd * m, sd * var.sqrt())
}

#[test]
fn lhs_and_sobol_reproduce_the_moments_of_each_distribution() {
    let text = r#"
[design]
kind = "KIND"
size = 4096
seed = 5

[cohort]
u = { dist = "uniform", low = 2.0, high = 5.0 }
n = { dist = "normal", mean = 1.0, sd = 0.5 }
ln = { dist = "lognormal", median = 2.0, gsd = 1.5 }
tn = { dist = "normal", mean = 0.0, sd = 1.0, low = -0.5, high = 2.0 }
tl = { dist = "lognormal", median = 1.0, gsd = 2.0, high = 3.0 }
"#;
    let (sigma, sigma2) = (2f64.ln(), 1.5f64.ln());
    let lognormal = |mu: f64, s: f64| {
        (
            (mu + s * s / 2.0).exp(),
            ((s * s).exp_m1() * (2.0 * mu + s * s).exp()).sqrt(),
        )
    };
    // Truncated log-normal below 3: E[X^k] = exp(k mu + k^2 s^2 / 2) Phi((ln 3 - mu)/s - k s) / Phi((ln 3 - mu)/s).
    let cdf = |x: f64| 0.5 * libm::erfc(-x / 2f64.sqrt());
    let beta = 3f64.ln() / sigma;
    let raw = |k: f64| (k * k * sigma * sigma / 2.0).exp() * cdf(beta - k * sigma) / cdf(beta);
    let tl = (raw(1.0), (raw(2.0) - raw(1.0) * raw(1.0)).sqrt());
    // (name, analytic mean, analytic sd, tolerance on the mean and on the sd, in sds). With
    // 4096 stratified points a bounded distribution's moments come out within about 3e-5 sd;
    // an unbounded one's sd hangs on where the extreme strata's points fall (the top 1/4096
    // of a log-normal spans [8.2, inf)), so up to about 2.5e-3 sd over seeds.
    let expected = [
        ("cohort.u", (3.5, 3.0 / 12f64.sqrt()), (1e-4, 2e-4)),
        ("cohort.n", (1.0, 0.5), (1e-3, 5e-3)),
        ("cohort.ln", lognormal(2f64.ln(), sigma2), (1e-3, 6e-3)),
        (
            "cohort.tn",
            truncated_normal_moments(0.0, 1.0, -0.5, 2.0),
            (1e-4, 2e-4),
        ),
        ("cohort.tl", tl, (1e-4, 2e-4)),
    ];
    for kind in ["lhs", "sobol"] {
        for seed in [5, 6, 7] {
            let cases = design(
                &text
                    .replace("KIND", kind)
                    .replace("seed = 5", &format!("seed = {seed}")),
            )
            .cases();
            for (name, (mean, sd), (tol_mean, tol_sd)) in expected {
                let (m, s) = mean_sd(&column(&cases, name));
                assert!(
                    (m - mean).abs() < tol_mean * sd,
                    "{kind} seed {seed} {name}: mean {m}, want {mean}"
                );
                assert!(
                    (s - sd).abs() < tol_sd * sd,
                    "{kind} seed {seed} {name}: sd {s}, want {sd}"
                );
            }
            assert!(column(&cases, "cohort.tn")
                .iter()
                .all(|x| (-0.5..=2.0).contains(x)));
            assert!(column(&cases, "cohort.tl")
                .iter()
                .all(|x| *x > 0.0 && *x <= 3.0));
        }
    }
}

#[test]
fn lhs_puts_one_point_in_each_stratum_of_each_parameter() {
    let d = design(
        r#"
[design]
kind = "lhs"
size = 200
seed = 3
[cohort]
a = { dist = "uniform", low = 0.0, high = 1.0 }
b = { dist = "uniform", low = 10.0, high = 30.0 }
c = { dist = "fixed", values = ["x", "y", "z", "w"] }
"#,
    );
    let cases = d.cases();
    for (name, low, width) in [("cohort.a", 0.0, 1.0), ("cohort.b", 10.0, 20.0)] {
        let mut counts = vec![0; 200];
        for x in column(&cases, name) {
            counts[((x - low) / width * 200.0).floor() as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c == 1), "{name}: {counts:?}");
    }
    // A fixed list's levels follow the strata: 200 points over 4 levels, 50 each.
    let mut levels: BTreeMap<String, usize> = BTreeMap::new();
    for c in &cases {
        *levels.entry(c.values["cohort.c"].to_string()).or_default() += 1;
    }
    assert_eq!(
        levels.values().copied().collect::<Vec<_>>(),
        vec![50; 4],
        "{levels:?}"
    );
}

#[test]
fn correlation_of_two_normals_matches_the_requested_rho() {
    let text = r#"
[design]
kind = "KIND"
size = 4096
seed = 17
correlation = [ { a = "cohort.x", b = "materials.skin.y", rho = 0.6 } ]
[cohort]
x = { dist = "normal", mean = 0.0, sd = 1.0 }
z = { dist = "normal", mean = 0.0, sd = 1.0 }
[materials.skin]
y = { dist = "normal", mean = 10.0, sd = 3.0 }
"#;
    for kind in ["lhs", "sobol"] {
        let cases = design(&text.replace("KIND", kind)).cases();
        let (x, y, z) = (
            column(&cases, "cohort.x"),
            column(&cases, "materials.skin.y"),
            column(&cases, "cohort.z"),
        );
        let r = pearson(&x, &y);
        assert!((r - 0.6).abs() < 0.03, "{kind}: rho = {r}");
        assert!(pearson(&x, &z).abs() < 0.03, "{kind}: x and z correlated");
        // The marginals keep their distributions.
        let (m, s) = mean_sd(&y);
        assert!(
            (m - 10.0).abs() < 0.02 && (s - 3.0).abs() < 0.03,
            "{kind}: y mean {m}, sd {s}"
        );
    }
}

#[test]
fn a_correlation_matrix_that_is_not_positive_definite_is_refused_naming_the_pairs() {
    let msg = error(
        r#"
[design]
kind = "lhs"
size = 10
seed = 1
correlation = [
  { a = "cohort.a", b = "cohort.b", rho = 0.9 },
  { a = "cohort.b", b = "cohort.c", rho = 0.9 },
  { a = "cohort.a", b = "cohort.c", rho = -0.9 },
]
[cohort]
a = { dist = "normal", mean = 0.0, sd = 1.0 }
b = { dist = "normal", mean = 0.0, sd = 1.0 }
c = { dist = "uniform", low = 0.0, high = 1.0 }
"#,
    );
    assert!(
        msg.starts_with("design.correlation: the correlation matrix is not positive definite"),
        "{msg}"
    );
    assert!(
        msg.contains("`cohort.a`-`cohort.c` (-0.9)") && msg.contains("fails at `cohort.c`"),
        "{msg}"
    );
}

const FACTORIAL: &str = r#"
[design]
kind = "factorial"
seed = 8
repetitions = 2
[cohort]
meshes = ["a.msh", "b.msh"]
depth = { dist = "uniform", low = 0.0, high = 1.0, levels = 4 }
[materials.skin.e]
dist = "fixed"
values = [1e5, 2e5, 3e5]
"#;

#[test]
fn factorial_takes_every_combination_of_levels_once() {
    let d = design(FACTORIAL);
    assert_eq!(d.num_points(), 2 * 4 * 3);
    let cases = d.cases();
    assert_eq!(cases.len(), 48);
    let combos: BTreeSet<String> = cases
        .iter()
        .filter(|c| c.repetition == 0)
        .map(|c| {
            c.values
                .values()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    assert_eq!(combos.len(), 24, "some combination repeats");
    let depths: BTreeSet<String> = cases
        .iter()
        .map(|c| c.values["cohort.depth"].to_string())
        .collect();
    assert_eq!(
        depths,
        ["0.125", "0.375", "0.625", "0.875"]
            .map(String::from)
            .into()
    );
    // Name order, the last parameter (materials.skin.e) fastest.
    assert_eq!(cases[0].values["materials.skin.e"], Value::Number(1e5));
    assert_eq!(cases[2].values["materials.skin.e"], Value::Number(2e5));
    assert_eq!(cases[2].values["cohort.depth"], Value::Number(0.125));
    // cases holds two repetitions per point: point 6 (depth level 1) is cases[12].
    assert_eq!(cases[12].values["cohort.depth"], Value::Number(0.375));
    assert_eq!(cases[47].values["cohort.mesh"], Value::Text("b.msh".into()));
    // A size that is not the product is refused; a continuous parameter without levels too.
    let msg = error(&FACTORIAL.replace("seed = 8", "seed = 8\nsize = 10"));
    assert!(
        msg.starts_with("design.size: size = 10 but the factorial design has 24 points"),
        "{msg}"
    );
    let msg = error(&FACTORIAL.replace(", levels = 4", ""));
    assert!(
        msg.starts_with("cohort.depth: a factorial design needs `levels = N`"),
        "{msg}"
    );
}

#[test]
fn cases_serialize_as_flat_records() {
    let case = &basic("sobol", 1).cases()[0];
    let json = serde_json::to_value(case).unwrap();
    assert_eq!(json["id"], "c0000-r0");
    assert!(json["values"]["cohort.vein_depth"].is_f64());
    assert!(json["values"]["cohort.mesh"].is_string());
}

#[test]
fn bad_input_is_refused_with_an_error_naming_the_key() {
    let base = BASIC.replace("KIND", "lhs").replace("SEED", "1");
    let cases: Vec<(String, &str)> = vec![
        // Unknown keys: in a parameter, in [design], at the top, a misspelt distribution.
        (
            base.replace("high = 0.008", "hihg = 0.008"),
            "cohort.vein_depth: unknown field `hihg`",
        ),
        (base.replace("repetitions = 2", "repetition = 2"), "design: unknown field `repetition`"),
        (format!("{base}\n[robot]\nspeed = 1.0\n"), "robot: unknown section"),
        (base.replace("\"lognormal\"", "\"log-normal\""), "materials.skin.youngs_modulus: unknown variant `log-normal`"),
        // Impossible ranges.
        (
            base.replace("low = 0.004, high = 0.008", "low = 0.008, high = 0.004"),
            "cohort.vein_depth: low 0.008 is not below high 0.004",
        ),
        (base.replace("high = 0.008", "high = 0.004"), "cohort.vein_depth: low 0.004 is not below high 0.004"),
        (base.replace("sd = 20.0", "sd = 0.0"), "materials.fat.density: sd = 0 must be positive"),
        (base.replace("sd = 20.0", "sd = -1.0"), "materials.fat.density: sd = -1 must be positive"),
        (base.replace("gsd = 1.4", "gsd = 0.9"), "materials.skin.youngs_modulus: gsd = 0.9 must be above 1"),
        (
            base.replace("sd = 20.0", "sd = 20.0\nlow = 2000.0\nhigh = 3000.0"),
            "materials.fat.density: the truncation interval [2000, 3000] holds only",
        ),
        (base.replace("sd = 20.0", "sd = nan"), "materials.fat.density: sd = NaN is not a finite number"),
        // Empty lists, an empty cohort.
        (base.replace(r#"["a.msh", "b.msh", "c.msh"]"#, "[]"), "cohort.meshes: the list of meshes is empty"),
        (
            base.replace(r#"{ dist = "uniform", low = 0.004, high = 0.008 }"#, r#"{ dist = "fixed", values = [] }"#),
            "cohort.vein_depth: the list of values is empty",
        ),
        (
            "[design]\nkind = \"lhs\"\nsize = 4\nseed = 1\n[cohort]\n[materials.skin.e]\ndist = \"uniform\"\nlow = 1.0\nhigh = 2.0\n".into(),
            "cohort: the cohort is empty",
        ),
        (
            "[design]\nkind = \"lhs\"\nsize = 4\nseed = 1\n[materials.skin.e]\ndist = \"uniform\"\nlow = 1.0\nhigh = 2.0\n".into(),
            "cohort: the cohort is empty",
        ),
        // Correlations naming unknown or fixed parameters, or impossible rho.
        (
            base.replace("repetitions = 2", "correlation = [ { a = \"cohort.vein_depth\", b = \"cohort.vien\", rho = 0.5 } ]"),
            "design.correlation[0]: (a = \"cohort.vein_depth\", b = \"cohort.vien\"): unknown parameter `cohort.vien`",
        ),
        (
            base.replace("repetitions = 2", "correlation = [ { a = \"cohort.vein_depth\", b = \"cohort.mesh\", rho = 0.5 } ]"),
            "design.correlation[0]: (a = \"cohort.vein_depth\", b = \"cohort.mesh\"): `cohort.mesh` is a fixed list",
        ),
        (
            base.replace("repetitions = 2", "correlation = [ { a = \"cohort.vein_depth\", b = \"materials.fat.density\", rho = 1.0 } ]"),
            "design.correlation[0]: (a = \"cohort.vein_depth\", b = \"materials.fat.density\"): rho = 1 must lie strictly between -1 and 1",
        ),
        (
            base.replace("repetitions = 2", "correlation = [ { a = \"cohort.vein_depth\", b = \"materials.fat.density\", r = 0.5 } ]"),
            "design.correlation[0]: unknown field `r`",
        ),
        // Design settings.
        (base.replace("size = 32\n", ""), "design.size: a lhs design needs a size"),
        (base.replace("kind = \"lhs\"", "kind = \"sobol\"").replace("size = 32", "size = 70000"), "design.size: size = 70000: a sobol design has at most 65536 points"),
        (base.replace("repetitions = 2", "repetitions = 0"), "design.repetitions: repetitions = 0"),
        (base.replace("seed = 1\n", ""), "design: missing field `seed`"),
        (
            FACTORIAL.replace("repetitions = 2", "correlation = [ { a = \"cohort.depth\", b = \"cohort.mesh\", rho = 0.5 } ]"),
            "design.correlation: correlation applies to sampled designs",
        ),
        (base.replace("vein_depth = {", "vein_depth = 0.005\nx = {"), "cohort.vein_depth: expected a distribution table"),
    ];
    for (text, want) in cases {
        let msg = error(&text);
        assert!(msg.starts_with(want), "got:  {msg}\nwant: {want}...");
    }
    // The error says which key, also as data.
    let e = Design::from_toml_str(&base.replace("sd = 20.0", "sd = 0.0")).unwrap_err();
    assert_eq!(e.path(), Some("materials.fat.density"));
    assert!(matches!(
        Design::from_toml_str("[design"),
        Err(TrialError::Syntax(_))
    ));
}
