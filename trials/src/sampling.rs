//! Unit-cube points (Latin hypercube, Sobol) and the seed mixing behind them.
//!
//! Everything here is a pure function of the master seed and an index, so one case of a design
//! can be regenerated alone and two runs of the same file agree bit for bit.
//!
//! # Seeds
//!
//! Seeds are mixed with SplitMix64's output function ([`splitmix64`]: add the golden gamma,
//! then two xor-shift-multiply rounds). A case's seed is
//! `splitmix64(splitmix64(splitmix64(master) ^ index) ^ repetition)` ([`case_seed`]); the
//! random streams of the samplers use the same chain with a tag in place of the index
//! ([`stream_seed`]), so they never coincide with case seeds in practice.
//!
//! # Random numbers
//!
//! The Latin hypercube's permutations and jitters come from `rand`'s Xoshiro256++ seeded with
//! `seed_from_u64`: a fixed, published algorithm whose output `rand` promises not to change.
//! The shuffle is a plain Fisher-Yates written here (with a multiply-shift bounded integer)
//! rather than `rand`'s `SliceRandom::shuffle`, whose value stability across `rand` releases
//! is not promised: a trial file must give the same patients next year.
//!
//! # Sobol
//!
//! Sobol points come from the `sobol_burley` crate: Joe-Kuo `new-joe-kuo-6` direction numbers
//! for 256 dimensions, with Burley's hash-based Owen scrambling and index shuffling seeded by a
//! 32-bit seed that we derive from the master seed. An Owen-scrambled sequence keeps the net
//! properties of the plain one (each dimension of the first 2^m points is a (0, m, 1)-net), so
//! different master seeds give different but equally well spread designs. Its limits: at most
//! 2^16 points and 256 dimensions, and `f32` output (23 bits, k / 2^23); we return the centre
//! of that cell, `(k + 1/2) / 2^23`, so no point is exactly 0 and inverse CDFs stay finite.
//!
//! We do *not* drop the first point. The usual advice to skip the point 0 is for the plain
//! sequence, where it is the corner of the cube; scrambling moves it to a random place, and
//! dropping it breaks the balance of the first 2^m points (Owen, "On dropping the first Sobol'
//! point", 2022). Sizes that are powers of two give the best designs.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// Largest Sobol design `sobol_burley` supports (2^16 points).
pub const SOBOL_MAX_POINTS: u64 = 1 << 16;

/// Number of Sobol dimensions available (Joe-Kuo direction numbers shipped by `sobol_burley`).
pub const SOBOL_MAX_DIMENSIONS: usize = sobol_burley::NUM_DIMENSIONS as usize;

/// Tag of the Latin hypercube streams in [`stream_seed`].
const LHS_TAG: u64 = 0x4c48_535f_7374_7261; // "LHS_stra"
/// Tag of the Sobol scrambling seed in [`stream_seed`].
const SOBOL_TAG: u64 = 0x536f_626f_6c5f_6f77; // "Sobol_ow"

/// SplitMix64's output function applied to `x + 0x9E3779B97F4A7C15` (Steele, Lea and Flood
/// 2014): a bijection of `u64` that mixes every input bit into every output bit.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of case `index`, repetition `repetition`, of a design with master seed `master`:
/// `splitmix64(splitmix64(splitmix64(master) ^ index) ^ repetition)`.
pub fn case_seed(master: u64, index: u64, repetition: u32) -> u64 {
    splitmix64(splitmix64(splitmix64(master) ^ index) ^ u64::from(repetition))
}

/// The seed of a sampler's random stream `stream` (a dimension) for tag `tag`, by the same
/// chain as [`case_seed`] with `tag` in place of the case index.
pub fn stream_seed(master: u64, tag: u64, stream: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(master) ^ tag) ^ stream)
}

/// A uniform integer in `0..n` (`n > 0`) by multiply-shift; its bias, below `n / 2^64`, is
/// negligible for the sizes of a design.
fn below(rng: &mut Xoshiro256PlusPlus, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

/// One dimension (`dimension`) of an `n`-point Latin hypercube for master seed `master`.
///
/// Point `i` lies in stratum `perm[i]` of `[0, 1)` cut into `n` equal strata, where `perm` is
/// a random permutation of `0..n` (so each stratum holds exactly one point), at a random
/// position inside it: `u = (perm[i] + j) / n` with `j = (r + 1/2) / 2^24`, `r` a random
/// 24-bit integer. The 24-bit jitter keeps `perm[i] + j` exact and away from the stratum's
/// edges, so `floor(u n) = perm[i]` holds after rounding for any `n` up to 10^7. The
/// dimension's stream is independent of `n`'s other dimensions and of their number.
pub fn lhs_column(master: u64, dimension: usize, n: usize) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(master, LHS_TAG, dimension as u64));
    let mut perm: Vec<u64> = (0..n as u64).collect();
    for i in (1..perm.len()).rev() {
        let j = below(&mut rng, i as u64 + 1) as usize;
        perm.swap(i, j);
    }
    let scale = 1.0 / n as f64;
    perm.iter()
        .map(|&stratum| {
            let jitter = ((rng.next_u64() >> 40) as f64 + 0.5) / (1u64 << 24) as f64;
            (stratum as f64 + jitter) * scale
        })
        .collect()
}

/// An `n`-point Latin hypercube in `dimensions` dimensions: `points[i][d]` is
/// `lhs_column(master, d, n)[i]`.
pub fn lhs(master: u64, dimensions: usize, n: usize) -> Vec<Vec<f64>> {
    let columns: Vec<Vec<f64>> = (0..dimensions).map(|d| lhs_column(master, d, n)).collect();
    (0..n)
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect()
}

/// The 32-bit `sobol_burley` seed derived from a master seed.
pub fn sobol_seed(master: u64) -> u32 {
    (stream_seed(master, SOBOL_TAG, 0) >> 32) as u32
}

/// Coordinate `dimension` of point `index` of the Owen-scrambled Sobol sequence for master seed
/// `master`, in `(0, 1)`. Panics if `index >= 2^16` or `dimension >= 256` (the design checks
/// both first).
pub fn sobol(master: u64, index: u64, dimension: usize) -> f64 {
    assert!(index < SOBOL_MAX_POINTS && dimension < SOBOL_MAX_DIMENSIONS);
    let x = sobol_burley::sample(index as u32, dimension as u32, sobol_seed(master));
    f64::from(x) + 0.5 / (1u64 << 23) as f64
}

/// Coordinate `dimension` of point `index` of the plain (unscrambled) Sobol sequence in natural
/// order (`index = 0` is the origin), for checks against the published sequence, which lists
/// the points in Gray-code order: published point `n` is natural point `n ^ (n >> 1)`.
pub fn sobol_unscrambled(index: u32, dimension: usize) -> f64 {
    assert!(dimension < SOBOL_MAX_DIMENSIONS);
    let rev = sobol_burley::parts::sobol_rev(index.reverse_bits(), dimension as u32);
    f64::from(rev.reverse_bits()) / 2f64.powi(32)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn lhs_has_one_point_per_stratum_in_every_dimension() {
        for n in [1usize, 2, 7, 64, 1000] {
            let points = lhs(42, 5, n);
            for d in 0..5 {
                let mut seen = vec![0u32; n];
                for p in &points {
                    assert!((0.0..1.0).contains(&p[d]));
                    seen[(p[d] * n as f64).floor() as usize] += 1;
                }
                assert!(
                    seen.iter().all(|&c| c == 1),
                    "n = {n}, dimension {d}: {seen:?}"
                );
            }
        }
    }

    #[test]
    fn lhs_depends_on_the_seed() {
        assert_eq!(lhs_column(1, 0, 100), lhs_column(1, 0, 100));
        assert_ne!(lhs_column(1, 0, 100), lhs_column(2, 0, 100));
        assert_ne!(lhs_column(1, 0, 100), lhs_column(1, 1, 100));
    }

    #[test]
    fn unscrambled_sobol_matches_the_published_sequence() {
        // Joe & Kuo's sequence (as printed by their sobol.cc and by scipy's unscrambled
        // `Sobol(d=2, scramble=False)`), Gray-code order, starting at the origin.
        let dim1 = [0.0, 0.5, 0.75, 0.25, 0.375, 0.875, 0.625, 0.125];
        let dim2 = [0.0, 0.5, 0.25, 0.75, 0.375, 0.875, 0.125, 0.625];
        for n in 0..8u32 {
            let natural = n ^ (n >> 1);
            assert_eq!(
                sobol_unscrambled(natural, 0),
                dim1[n as usize],
                "dim 1, point {n}"
            );
            assert_eq!(
                sobol_unscrambled(natural, 1),
                dim2[n as usize],
                "dim 2, point {n}"
            );
        }
        // Joe-Kuo dimension 3 (s = 2, a = 1, m = 1, 3, so v = 1/2, 3/4, 3/8), natural order,
        // worked by hand: point i is the xor of the v_k for the set bits k of i.
        let dim3 = [0.0, 0.5, 0.75, 0.25, 0.375, 0.875, 0.625, 0.125];
        for (i, want) in dim3.iter().enumerate() {
            assert_eq!(sobol_unscrambled(i as u32, 2), *want, "dim 3, point {i}");
        }
    }

    #[test]
    fn scrambled_sobol_is_a_net_in_each_dimension() {
        let m = 10;
        let n = 1u64 << m;
        for seed in [0u64, 7, 123_456_789] {
            for d in [0usize, 1, 2, 5, 17, 31, 100] {
                let xs: Vec<f64> = (0..n).map(|i| sobol(seed, i, d)).collect();
                for k in 1..=m {
                    let mut counts = vec![0u64; 1 << k];
                    for &x in &xs {
                        assert!(x > 0.0 && x < 1.0);
                        counts[(x * (1u64 << k) as f64) as usize] += 1;
                    }
                    let want = n >> k;
                    assert!(
                        counts.iter().all(|&c| c == want),
                        "seed {seed}, dim {d}, k {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn sobol_scrambling_depends_on_the_seed() {
        let a: Vec<f64> = (0..16).map(|i| sobol(1, i, 0)).collect();
        let b: Vec<f64> = (0..16).map(|i| sobol(2, i, 0)).collect();
        assert_ne!(a, b);
        assert_eq!(a, (0..16).map(|i| sobol(1, i, 0)).collect::<Vec<_>>());
    }

    #[test]
    fn case_seeds_differ_by_index_and_repetition() {
        let s = case_seed(5, 3, 0);
        assert_eq!(s, case_seed(5, 3, 0));
        assert_ne!(s, case_seed(5, 3, 1));
        assert_ne!(s, case_seed(5, 4, 0));
        assert_ne!(s, case_seed(6, 3, 0));
        // SplitMix64's first output for state 0 (reference value from Vigna's splitmix64.c).
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
    }
}
