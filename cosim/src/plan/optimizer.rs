//! Sampling-based optimizers over a box of decision variables: predictive sampling / CEM,
//! MPPI and iCEM, in an ask / tell form so that the caller decides how candidates are
//! rolled out (in parallel, under a deadline) and the optimizer stays deterministic.
//!
//! Determinism: every random number comes from a counter-based generator keyed by
//! (seed, iteration, sample, dimension), so a candidate does not depend on how many were
//! drawn before it, on which thread, or in what order they finished; the updates reduce the
//! costs in candidate order.

use super::spec::Method;

/// A counter-based random number: SplitMix64's finalizer over the key. Written here rather
/// than taken from a crate: the `rand` family's generators are sequential streams, and a
/// keyed hash is all that candidates drawn in any order need (a few lines, well studied:
/// Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014).
fn hash(seed: u64, iteration: u64, sample: u64, dim: u64) -> u64 {
    let mut z = seed
        ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ sample.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ dim.wrapping_mul(0x1656_67B1_9E37_79F9);
    for _ in 0..2 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// A uniform number in (0, 1) for the key.
pub fn uniform(seed: u64, iteration: u64, sample: u64, dim: u64) -> f64 {
    ((hash(seed, iteration, sample, dim) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// A standard normal number for the key (Box-Muller on two keyed uniforms).
pub fn normal(seed: u64, iteration: u64, sample: u64, dim: u64) -> f64 {
    let u1 = uniform(seed, iteration, sample, 2 * dim);
    let u2 = uniform(seed, iteration, sample, 2 * dim + 1);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// One evaluated candidate, as the optimizer keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// The variables.
    pub x: Vec<f64>,
    /// Its cost (infinite: rejected).
    pub cost: f64,
}

/// The optimizer's state between iterations (what a warm start keeps).
#[derive(Clone, Debug)]
pub struct Optimizer {
    method: Method,
    bounds: Vec<(f64, f64)>,
    mean: Vec<f64>,
    std: Vec<f64>,
    samples: usize,
    elites: usize,
    seed: u64,
    iteration: u64,
    incumbent: Option<Scored>,
    kept: Vec<Scored>,
}

/// Smallest spread of a free variable, as a fraction of its range: the search never
/// collapses to a point it cannot leave when the world changes.
const MIN_SPREAD: f64 = 0.01;

impl Optimizer {
    /// An optimizer over `bounds` starting from `initial` (the first incumbent).
    pub fn new(
        method: Method,
        bounds: Vec<(f64, f64)>,
        initial: Vec<f64>,
        samples: usize,
        elites: usize,
        seed: u64,
    ) -> Self {
        let std = bounds.iter().map(|(lo, hi)| 0.25 * (hi - lo)).collect();
        Self {
            method,
            mean: initial.clone(),
            std,
            bounds,
            samples: samples.max(1),
            elites: elites.clamp(1, samples.max(1)),
            seed,
            iteration: 0,
            incumbent: None,
            kept: vec![Scored {
                x: initial,
                cost: f64::INFINITY,
            }],
        }
    }

    /// Iterations told so far.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// The best candidate so far.
    pub fn incumbent(&self) -> Option<&Scored> {
        self.incumbent.as_ref()
    }

    /// Forgets the incumbent's cost (the world changed: it must be evaluated again) but
    /// keeps it, the mean and the spread as the warm start.
    pub fn rewarm(&mut self) {
        if let Some(inc) = self.incumbent.take() {
            self.kept = vec![Scored {
                x: inc.x,
                cost: f64::INFINITY,
            }];
        }
        for (s, (lo, hi)) in self.std.iter_mut().zip(&self.bounds) {
            *s = s.max(0.1 * (hi - lo));
        }
    }

    fn clamp(&self, x: &mut [f64]) {
        for (v, (lo, hi)) in x.iter_mut().zip(&self.bounds) {
            *v = v.clamp(*lo, *hi);
        }
    }

    /// The next iteration's candidates: the incumbent (or the initial point) first, then
    /// (iCEM) the kept elites, then samples about the mean.
    pub fn ask(&self) -> Vec<Vec<f64>> {
        let mut out: Vec<Vec<f64>> = Vec::with_capacity(self.samples + 1);
        match &self.incumbent {
            Some(inc) => out.push(inc.x.clone()),
            None => out.extend(self.kept.iter().take(1).map(|s| s.x.clone())),
        }
        if self.method == Method::Icem && self.incumbent.is_some() {
            for s in self.kept.iter().skip(1) {
                out.push(s.x.clone());
            }
        }
        let n = self.samples.saturating_sub(out.len()).max(1);
        for j in 0..n {
            let mut x = self.mean.clone();
            for (d, v) in x.iter_mut().enumerate() {
                let z = normal(self.seed, self.iteration, j as u64, d as u64);
                *v += self.std[d] * z;
            }
            self.clamp(&mut x);
            out.push(x);
        }
        out
    }

    /// The costs of the candidates [`Optimizer::ask`] gave, in the same order (a prefix when
    /// the deadline cut the iteration short). Updates the incumbent, the mean and the
    /// spread, in candidate order.
    pub fn tell(&mut self, candidates: &[Vec<f64>], costs: &[f64]) {
        let mut scored: Vec<Scored> = candidates
            .iter()
            .zip(costs)
            .map(|(x, &c)| Scored {
                x: x.clone(),
                cost: if c.is_nan() { f64::INFINITY } else { c },
            })
            .collect();
        for s in &scored {
            if self.incumbent.as_ref().is_none_or(|i| s.cost < i.cost) {
                self.incumbent = Some(s.clone());
            }
        }
        self.iteration += 1;
        // Stable sort: ties keep candidate order.
        scored.sort_by(|a, b| a.cost.total_cmp(&b.cost));
        // Distinct points only: the incumbent and iCEM's kept elites come back every
        // iteration, and counting them again would pull the refit back onto old points.
        let mut finite: Vec<&Scored> = Vec::with_capacity(scored.len());
        for s in scored.iter().filter(|s| s.cost.is_finite()) {
            if !finite.iter().any(|f| f.x == s.x) {
                finite.push(s);
            }
        }
        if finite.is_empty() {
            // Nothing feasible yet: widen the search about the mean.
            for (s, (lo, hi)) in self.std.iter_mut().zip(&self.bounds) {
                *s = (*s * 1.5).min(0.5 * (hi - lo));
            }
            return;
        }
        let k = self.elites.min(finite.len());
        let dims = self.mean.len();
        let (new_mean, new_var): (Vec<f64>, Vec<f64>) = match self.method {
            Method::Mppi => {
                let c0 = finite[0].cost;
                let spread = finite[finite.len() / 2].cost - c0;
                let lambda = (0.2 * spread).max(1e-9 * c0.abs().max(1.0));
                let w: Vec<f64> = finite
                    .iter()
                    .map(|s| (-(s.cost - c0) / lambda).exp())
                    .collect();
                let ws: f64 = w.iter().sum();
                (0..dims)
                    .map(|d| {
                        let m: f64 =
                            finite.iter().zip(&w).map(|(s, w)| w * s.x[d]).sum::<f64>() / ws;
                        let v: f64 = finite
                            .iter()
                            .zip(&w)
                            .map(|(s, w)| w * (s.x[d] - m).powi(2))
                            .sum::<f64>()
                            / ws;
                        (m, v)
                    })
                    .unzip()
            }
            Method::Cem | Method::Icem => (0..dims)
                .map(|d| {
                    let m: f64 = finite[..k].iter().map(|s| s.x[d]).sum::<f64>() / k as f64;
                    let v: f64 = finite[..k]
                        .iter()
                        .map(|s| (s.x[d] - m).powi(2))
                        .sum::<f64>()
                        / k as f64;
                    (m, v)
                })
                .unzip(),
        };
        // Smoothed updates (iCEM's momentum; plain CEM refits at once).
        let alpha = if self.method == Method::Icem {
            0.2
        } else {
            0.0
        };
        for d in 0..dims {
            let (lo, hi) = self.bounds[d];
            let range = hi - lo;
            self.mean[d] = alpha * self.mean[d] + (1.0 - alpha) * new_mean[d];
            let s = new_var[d].sqrt();
            self.std[d] = (alpha * self.std[d] + (1.0 - alpha) * s).max(MIN_SPREAD * range);
            if range == 0.0 {
                self.std[d] = 0.0;
            }
        }
        if self.method == Method::Icem {
            // Keep a fraction of the elites for the next iteration.
            self.kept = finite[..k.div_ceil(3).max(1)]
                .iter()
                .map(|s| (*s).clone())
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shifted quadratic bowl with its minimum inside the box.
    fn bowl(x: &[f64]) -> f64 {
        (x[0] - 0.3).powi(2) + 4.0 * (x[1] + 0.2).powi(2)
    }

    #[test]
    fn random_numbers_are_keyed_not_sequential() {
        let a = normal(7, 3, 11, 2);
        let _ = normal(7, 3, 10, 2);
        assert_eq!(a, normal(7, 3, 11, 2));
        assert_ne!(a, normal(8, 3, 11, 2));
        // Moments of the normal generator.
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|j| normal(1, 0, j, 0)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }

    #[test]
    fn every_method_converges_on_a_bowl_and_never_worsens() {
        for method in [Method::Cem, Method::Mppi, Method::Icem] {
            let mut opt = Optimizer::new(
                method,
                vec![(-1.0, 1.0), (-1.0, 1.0), (0.5, 0.5)],
                vec![-0.9, 0.9, 0.5],
                24,
                5,
                42,
            );
            let mut best = f64::INFINITY;
            for _ in 0..30 {
                let c = opt.ask();
                assert!(c.iter().all(|x| x[2] == 0.5), "a fixed variable moved");
                let costs: Vec<f64> = c.iter().map(|x| bowl(x)).collect();
                opt.tell(&c, &costs);
                let inc = opt.incumbent().unwrap().cost;
                assert!(inc <= best, "{method:?}: the incumbent got worse");
                best = inc;
            }
            assert!(best < 1e-3, "{method:?}: {best}");
        }
    }
}
