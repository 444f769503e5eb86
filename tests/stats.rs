//! Tests of `mgs::study::stats` against hand-worked cases, tabulated values and closed forms.
//!
//! Tolerances are stated per assertion: exact (`assert_eq!`) where the computation is exact in
//! floating point (counts of sign patterns over powers of two), `1e-12`–`1e-15` for closed
//! forms evaluated in `f64`, the printed digits for tabulated values, and a stated number of
//! Monte-Carlo standard errors for seeded random tests (which are deterministic given the seed).

use approx::{assert_abs_diff_eq, assert_relative_eq};
use mgs::study::stats::{self, CorrelationKind};
use mgs::{Error, rng_from_seed};
use rand_distr::{Distribution, Normal};

/// `n` standard-normal draws from a seeded generator.
fn normal_sample(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rng_from_seed(seed);
    let normal = Normal::new(0.0, 1.0).unwrap();
    (0..n).map(|_| normal.sample(&mut rng)).collect()
}

// ---------------------------------------------------------------------------------------------
// Sign-flip test
// ---------------------------------------------------------------------------------------------

#[test]
fn sign_flip_enumerates_three_differences() {
    // d = [1, 2, 3], observed sum 6. The 8 patterns and their sums:
    //   +++ 6, ++− 0, +−+ 2, +−− −4, −++ 4, −+− −2, −−+ 0, −−− −6.
    // |sum| ≥ 6: +++ and −−−, so p = 2/8 = 0.25 (exact in f64).
    let test = stats::sign_flip_test(&[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(test.p_value, 0.25);
    assert_eq!(test.patterns, 8);
    assert_eq!(test.n, 3);
    assert!(test.exact);
    assert_eq!(test.mean, 2.0);
}

#[test]
fn sign_flip_counts_an_exact_tie() {
    // d = [0.5, −1, 2, 3], observed sum 4.5. Write each pattern's sum as 6.5 − 2F with F the sum
    // of the magnitudes {0.5, 1, 2, 3} whose sign is flipped relative to all-positive:
    //   F = 0 → 6.5, 0.5 → 5.5, 1 → 4.5, 2 → 2.5, 3 → 0.5, 1.5 → 3.5, 2.5 → 1.5, 3.5 → −0.5,
    //   {1,2} 3 → 0.5, {1,3} 4 → −1.5, {2,3} 5 → −3.5, {0.5,1,2} 3.5 → −0.5, {0.5,1,3} 4.5 → −2.5,
    //   {0.5,2,3} 5.5 → −4.5, {1,2,3} 6 → −5.5, all 6.5 → −6.5.
    // |sum| ≥ 4.5: 6.5, 5.5, 4.5 (the observed pattern itself), −4.5, −5.5, −6.5: p = 6/16.
    let test = stats::sign_flip_test(&[0.5, -1.0, 2.0, 3.0]).unwrap();
    assert_eq!(test.p_value, 0.375);
    assert_eq!(test.patterns, 16);
    assert_eq!(test.mean, 1.125);
}

#[test]
fn sign_flip_tolerance_keeps_ties_that_rounding_breaks() {
    // In tenths d = [1, 2, −3, 3] and the sum is 3. Up to a global sign the 8 classes of
    // patterns (flipped set → |sum|) are {} 9, {1} 7, {2} 5, {3a} 3, {3b} 3, {1,2} 3, {1,3a} 1,
    // {1,3b} 1: 12 of the 16 patterns have |sum| ≥ 3, p = 0.75. In f64, 0.1 + 0.2 − 0.3 + 0.3
    // is 0.30000000000000004 while e.g. −0.1 − 0.2 + 0.3 + 0.3 is 0.3 exactly or off by an ulp:
    // a naive `>=` finds 10 patterns, the tie tolerance all 12.
    let tenths = [1i32, 2, -3, 3];
    let exact_count = (0u32..16)
        .filter(|mask| {
            let s: i32 = (0..4)
                .map(|i| {
                    if mask >> i & 1 == 1 {
                        -tenths[i]
                    } else {
                        tenths[i]
                    }
                })
                .sum();
            s.abs() >= 3
        })
        .count();
    assert_eq!(exact_count, 12);
    let test = stats::sign_flip_test(&[0.1, 0.2, -0.3, 0.3]).unwrap();
    assert_eq!(test.p_value, 0.75);
}

#[test]
fn sign_flip_degenerate_cases() {
    // One difference: both patterns reach |±2| = 2.
    assert_eq!(stats::sign_flip_test(&[2.0]).unwrap().p_value, 1.0);
    // All zero: every pattern ties.
    let zero = stats::sign_flip_test(&[0.0; 5]).unwrap();
    assert_eq!((zero.p_value, zero.mean), (1.0, 0.0));
    // Six positive differences: only +…+ and −…−, p = 2/64, the smallest attainable.
    let six = stats::sign_flip_test(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    assert_eq!(six.p_value, 2.0 / 64.0);
}

#[test]
fn sign_flip_exact_at_the_limit_matches_symmetry() {
    // 24 differences 1..=24 all positive: only the identity and its negation reach the observed
    // |sum| = 300, so p = 2/2²⁴ exactly (this also exercises the largest exact enumeration).
    let d: Vec<f64> = (1..=24).map(f64::from).collect();
    let test = stats::sign_flip_test(&d).unwrap();
    assert_eq!(test.patterns, 1 << 24);
    assert_eq!(test.p_value, 2.0 / (1u64 << 24) as f64);
}

#[test]
fn sign_flip_monte_carlo_agrees_with_exact_and_is_seeded() {
    let d = normal_sample(12, 5)
        .iter()
        .map(|x| x + 0.4)
        .collect::<Vec<_>>();
    let exact = stats::sign_flip_test(&d).unwrap();
    let draws = 100_000;
    let mc = stats::sign_flip_test_monte_carlo(&d, draws, 11).unwrap();
    assert!(!mc.exact);
    assert_eq!(mc.patterns, draws as u64);
    assert_relative_eq!(mc.mean, exact.mean, max_relative = 1e-14);
    // Monte-Carlo standard error √(p(1 − p)/m) ≤ 0.0016; allow 5 of them.
    let se = (exact.p_value * (1.0 - exact.p_value) / draws as f64).sqrt();
    assert!(
        (mc.p_value - exact.p_value).abs() < 5.0 * se + 1e-5,
        "exact {} vs Monte Carlo {}",
        exact.p_value,
        mc.p_value
    );
    // Same seed, same bits; another seed, another estimate.
    assert_eq!(
        mc,
        stats::sign_flip_test_monte_carlo(&d, draws, 11).unwrap()
    );
    assert_ne!(
        mc.p_value,
        stats::sign_flip_test_monte_carlo(&d, draws, 12)
            .unwrap()
            .p_value
    );
}

#[test]
fn sign_flip_monte_carlo_beyond_the_exact_limit() {
    // 30 positive differences: a random pattern reaches |sum| = 465 with probability 2⁻²⁹, so
    // none of 2000 draws does and p = (0 + 1)/(2000 + 1).
    let d: Vec<f64> = (1..=30).map(f64::from).collect();
    let mc = stats::sign_flip_test_monte_carlo(&d, 2000, 3).unwrap();
    assert_eq!(mc.p_value, 1.0 / 2001.0);
    assert_eq!(mc.n, 30);
    // The exact test refuses more than 24 differences.
    assert!(matches!(
        stats::sign_flip_test(&d),
        Err(Error::InvalidHyperparameter { name: "differences", value, .. }) if value == 30.0
    ));
}

#[test]
fn sign_flip_rejects_bad_input() {
    assert!(matches!(
        stats::sign_flip_test(&[]),
        Err(Error::EmptyBatch { .. })
    ));
    assert!(matches!(
        stats::sign_flip_test(&[1.0, f64::NAN]),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        stats::sign_flip_test_monte_carlo(&[1.0], 0, 0),
        Err(Error::InvalidHyperparameter { name: "draws", .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Holm
// ---------------------------------------------------------------------------------------------

#[test]
fn holm_worked_example() {
    // p = [0.01, 0.04, 0.03, 0.005], m = 4. Sorted: 0.005 (#4), 0.01 (#1), 0.03 (#3), 0.04 (#2);
    // times m − j + 1 = 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04; running maximum 0.02, 0.03, 0.06,
    // 0.06. Back in the original order: [0.03, 0.06, 0.06, 0.02]. (1e-15: products rounded.)
    let adjusted = stats::holm(&[0.01, 0.04, 0.03, 0.005]).unwrap();
    for (a, e) in adjusted.iter().zip([0.03, 0.06, 0.06, 0.02]) {
        assert_abs_diff_eq!(*a, e, epsilon = 1e-15);
    }
}

#[test]
fn holm_caps_at_one_and_handles_ties() {
    // Sorted 0.2, 0.5, 0.5: 0.6, 1.0 (capped from 1.0), 0.5 → running max 0.6, 1, 1.
    let adjusted = stats::holm(&[0.5, 0.2, 0.5]).unwrap();
    assert_abs_diff_eq!(adjusted[1], 0.6, epsilon = 1e-15);
    assert_eq!((adjusted[0], adjusted[2]), (1.0, 1.0));
    // A single test is unadjusted.
    assert_eq!(stats::holm(&[0.037]).unwrap(), vec![0.037]);
    assert!(matches!(
        stats::holm(&[0.5, 1.5]),
        Err(Error::InvalidValue {
            what: "p_values",
            value,
            ..
        }) if value == 1.5
    ));
    assert!(matches!(stats::holm(&[]), Err(Error::EmptyBatch { .. })));
}

// ---------------------------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------------------------

#[test]
fn t_quantiles_match_tables() {
    // Tabulated to the digits shown; tolerance half a unit in the last digit.
    let cases = [
        (0.975, 4.0, 2.776445105, 5e-10),
        (0.975, 9.0, 2.262157163, 5e-10),
        (0.975, 1000.0, 1.962339, 5e-7),
        (0.975, 1.0, 12.70620474, 5e-9),
        (0.975, 2.0, 4.302652730, 5e-10),
        (0.975, 3.0, 3.182446305, 5e-10),
        (0.975, 30.0, 2.042272456, 5e-10),
        (0.995, 10.0, 3.169272673, 5e-10),
        (0.95, 5.0, 2.015048373, 5e-10),
    ];
    for (p, df, expected, tol) in cases {
        let t = stats::student_t_quantile(p, df).unwrap();
        assert_abs_diff_eq!(t, expected, epsilon = tol);
        // Symmetry: t_{1−p} = −t_p (1 − p is exact here up to the rounding of p itself).
        let lower = stats::student_t_quantile(1.0 - p, df).unwrap();
        assert_relative_eq!(lower, -t, max_relative = 1e-12);
    }
    assert_eq!(stats::student_t_quantile(0.5, 7.0).unwrap(), 0.0);
}

#[test]
fn t_quantiles_match_closed_forms_into_the_tails() {
    // ν = 1: t = −cot(πα); ν = 2: t = (2α − 1)/√(2α(1 − α)); ν = 4: with a = 4α(1 − α),
    // t = −2 √(cos(arccos(√a)/3)/√a − 1), for the lower-tail probability α. Relative 1e-11.
    type ClosedForm = fn(f64) -> f64;
    let closed: [(f64, ClosedForm); 3] = [
        (1.0, |a| -1.0 / (std::f64::consts::PI * a).tan()),
        (2.0, |a| (2.0 * a - 1.0) / (2.0 * a * (1.0 - a)).sqrt()),
        (4.0, |a| {
            let q = 4.0 * a * (1.0 - a);
            -2.0 * ((q.sqrt().acos() / 3.0).cos() / q.sqrt() - 1.0).sqrt()
        }),
    ];
    for (df, formula) in closed {
        for alpha in [1e-12, 1e-8, 1e-4, 0.001, 0.01, 0.025, 0.1, 0.25, 0.4, 0.49] {
            let expected = formula(alpha);
            let t = stats::student_t_quantile(alpha, df).unwrap();
            assert_relative_eq!(t, expected, max_relative = 1e-11);
            // The upper tail at p = 1 − α (exact subtraction for α ≤ ½ only up to the rounding
            // of 1 − α, which the formula sees too).
            let p = 1.0 - alpha;
            let upper = stats::student_t_quantile(p, df).unwrap();
            assert_relative_eq!(upper, -formula(1.0 - p), max_relative = 1e-11);
        }
    }
}

#[test]
fn t_cdf_inverts_the_quantile() {
    // CDF(quantile(p)) = p to 1e-12 relative in the lower tail, for whole and fractional ν.
    for df in [0.5, 1.0, 2.5, 3.0, 10.0, 100.0, 1e4, 1e6] {
        for p in [1e-10, 1e-4, 0.01, 0.05, 0.3, 0.45] {
            let t = stats::student_t_quantile(p, df).unwrap();
            let back = stats::student_t_cdf(t, df).unwrap();
            assert_relative_eq!(back, p, max_relative = 1e-12);
        }
    }
    // Closed forms: ν = 1 is Cauchy, F(t) = ½ + atan(t)/π; ν = 2: F(t) = ½ + t/(2√(2 + t²)).
    for t in [-30.0, -2.0, -0.3, 0.0, 0.7, 5.0] {
        let cauchy = 0.5 + f64::atan(t) / std::f64::consts::PI;
        assert_abs_diff_eq!(
            stats::student_t_cdf(t, 1.0).unwrap(),
            cauchy,
            epsilon = 1e-14
        );
        let two = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
        assert_abs_diff_eq!(stats::student_t_cdf(t, 2.0).unwrap(), two, epsilon = 1e-14);
    }
    assert_eq!(stats::student_t_cdf(f64::INFINITY, 3.0).unwrap(), 1.0);
    assert_eq!(stats::student_t_cdf(f64::NEG_INFINITY, 3.0).unwrap(), 0.0);
    // Huge ν is the normal: t_{0.975, 10⁷} = 1.959964 + 2.44/10⁷ (Cornish–Fisher first term).
    let t = stats::student_t_quantile(0.975, 1e7).unwrap();
    let z = stats::normal_quantile(0.975).unwrap();
    assert_abs_diff_eq!(t - z, (z * z * z + z) / 4.0 / 1e7, epsilon = 1e-12);
}

#[test]
fn t_cdf_matches_high_precision_references() {
    // P(T ≤ −t) = S(t) for (t, ν, S), computed with 60-digit decimal arithmetic (Python's
    // `decimal`: NR's continued fraction for I_x(ν/2, ½), ln Γ by Stirling's series after shifting
    // the argument past 1000). They span both expansions (series near the centre, Cephes'
    // fraction elsewhere), tiny and huge ν and the power tail. Observed error ≤ 2.2e-15; 1e-14.
    let references = [
        (0.3, 0.1, 0.4608822046802208),
        (0.99, 0.1, 0.4167262994575314),
        (20.0, 0.5, 0.07169748051423032),
        (1.0, 1.0, 0.25),
        (3.5, 2.5, 0.02617277348016017),
        (1000.0, 5.0, 9.490065565989857e-15),
        (0.7, 9.0, 0.2508095196080726),
        (2.0, 30.0, 0.02731252248149155),
        (1.2, 101.0, 0.11647328540012154),
        (4.0, 1000.0, 3.400495960439079e-05),
        (1.5, 10000.0, 0.06682298591180981),
        (2.33, 1e6, 0.009903174522128468),
        (3.7, 1e6, 0.00010780550560126835),
        (6.0, 1e8, 9.865910171576436e-10),
    ];
    for (t, df, tail) in references {
        assert_relative_eq!(
            stats::student_t_cdf(-t, df).unwrap(),
            tail,
            max_relative = 1e-14
        );
    }
}

#[test]
fn t_quantiles_at_large_df_match_cornish_fisher() {
    // At ν ≥ 10⁶ the Cornish–Fisher expansion through ν⁻⁴ (Abramowitz and Stegun 26.7.5) is
    // exact to far below f64 (next term ~ z¹¹/ν⁵): an independent check of the beta route,
    // which an inaccurate continued fraction fails at 10⁻¹¹. Relative 1e-13.
    for df in [1e6, 1e8] {
        for p in [1e-10, 1e-4, 0.01, 0.05, 0.3] {
            let z = -stats::normal_quantile(p).unwrap();
            let z2 = z * z;
            let g = [
                (z2 + 1.0) * z / 4.0,
                ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0,
                (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0,
                ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0,
            ];
            let expansion = z + g.iter().rev().fold(0.0, |acc, gi| (acc + gi) / df);
            // The lower quantile: 1 − p would round α = 10⁻¹⁰ by 10⁻⁷ relative.
            let t = -stats::student_t_quantile(p, df).unwrap();
            assert_relative_eq!(t, expansion, max_relative = 1e-13);
        }
    }
}

#[test]
fn normal_quantiles_match_reference_values() {
    // Reference: Python's statistics.NormalDist.inv_cdf (Wichura's AS 241, ~1e-16); 1e-14 rel.
    let cases = [
        (1e-300, -37.0470962993612),
        (1e-20, -9.262340089798405),
        (1e-10, -6.361340902404056),
        (0.001, -3.090232306167813),
        (0.025, -1.9599639845400538),
        (0.3, -0.5244005127080407),
        (0.8, 0.8416212335729144),
        (0.975, 1.9599639845400536),
    ];
    for (p, expected) in cases {
        let z = stats::normal_quantile(p).unwrap();
        assert_relative_eq!(z, expected, max_relative = 1e-14);
    }
    assert_eq!(stats::normal_quantile(0.5).unwrap(), 0.0);
    assert_abs_diff_eq!(
        stats::normal_cdf(1.9599639845400536).unwrap(),
        0.975,
        epsilon = 1e-15
    );
}

#[test]
fn distributions_reject_bad_arguments() {
    for p in [0.0, 1.0, -0.1, f64::NAN] {
        assert!(matches!(
            stats::normal_quantile(p),
            Err(Error::InvalidHyperparameter { name: "p", .. })
        ));
        assert!(matches!(
            stats::student_t_quantile(p, 3.0),
            Err(Error::InvalidHyperparameter { name: "p", .. })
        ));
    }
    for df in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        assert!(matches!(
            stats::student_t_cdf(1.0, df),
            Err(Error::InvalidHyperparameter { name: "df", .. })
        ));
    }
    assert!(matches!(
        stats::student_t_cdf(f64::NAN, 3.0),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        stats::normal_cdf(f64::NAN),
        Err(Error::NonFinite { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------------------------

#[test]
fn summaries_by_hand() {
    let x = [1.0, 2.0, 3.0, 4.0, 10.0];
    // Mean 4; deviations −3, −2, −1, 0, 6: Σ² = 50, s² = 50/4 = 12.5.
    assert_eq!(stats::mean(&x).unwrap(), 4.0);
    assert_eq!(stats::variance(&x).unwrap(), 12.5);
    assert_abs_diff_eq!(stats::std_dev(&x).unwrap(), 12.5f64.sqrt(), epsilon = 1e-15);
    assert_abs_diff_eq!(
        stats::std_error(&x).unwrap(),
        2.5f64.sqrt(),
        epsilon = 1e-15
    );
    // Type 7: h = 4p. p = 0.1 → h = 0.4 → 1 + 0.4·1 = 1.4; p = 0.25 → h = 1 → 2;
    // p = 0.9 → h = 3.6 → 4 + 0.6·6 = 7.6; p = 0 and 1 → min and max.
    let q = stats::quantiles(&x, &[0.0, 0.1, 0.25, 0.5, 0.9, 1.0]).unwrap();
    for (a, e) in q.iter().zip([1.0, 1.4, 2.0, 3.0, 7.6, 10.0]) {
        assert_abs_diff_eq!(*a, e, epsilon = 1e-14);
    }
    // An even count: the median averages the middle two (unsorted input).
    assert_eq!(stats::median(&[4.0, 1.0, 3.0, 2.0]).unwrap(), 2.5);
    let s = stats::summarize(&x).unwrap();
    assert_eq!(
        (s.n, s.min, s.q25, s.median, s.q75, s.max),
        (5, 1.0, 2.0, 3.0, 4.0, 10.0)
    );
    assert_eq!((s.mean, s.std_dev), (4.0, 12.5f64.sqrt()));
}

#[test]
fn variance_survives_a_large_offset() {
    // 10⁹ + {1, 2, 3}: s² = 1 exactly in real arithmetic; the two-pass form keeps it to 1e-12.
    let x = [1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0];
    assert_relative_eq!(stats::variance(&x).unwrap(), 1.0, max_relative = 1e-12);
    // Equal values have zero variance exactly, even where the rounded mean is off by an ulp.
    assert_eq!(stats::variance(&[0.1, 0.1, 0.1]).unwrap(), 0.0);
}

#[test]
fn summaries_reject_bad_input() {
    assert!(matches!(stats::mean(&[]), Err(Error::EmptyBatch { .. })));
    assert!(matches!(
        stats::median(&[1.0, f64::INFINITY]),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        stats::std_dev(&[1.0]),
        Err(Error::Undefined { value, .. }) if value == 1.0
    ));
    assert!(matches!(
        stats::quantile(&[1.0, 2.0], 1.5),
        Err(Error::InvalidHyperparameter { name: "p", .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Paired effects and the bootstrap
// ---------------------------------------------------------------------------------------------

#[test]
fn t_interval_and_dz_by_hand() {
    // d = 1..5: mean 3, s = √2.5, s/√5 = √0.5; t_{0.975,4} = 2.776445105 (table):
    // half-width 2.776445105·√0.5 = 1.9632431613 (1e-9, the table's precision).
    let d = [1.0, 2.0, 3.0, 4.0, 5.0];
    let ci = stats::t_interval(&d, 0.95).unwrap();
    let half = 2.776445105 * 0.5f64.sqrt();
    assert_eq!(ci.estimate, 3.0);
    assert_abs_diff_eq!(ci.lower, 3.0 - half, epsilon = 1e-9);
    assert_abs_diff_eq!(ci.upper, 3.0 + half, epsilon = 1e-9);
    assert_eq!(ci.level, 0.95);
    // d_z = 3/√2.5 = 1.8973665961.
    assert_abs_diff_eq!(
        stats::cohens_dz(&d).unwrap(),
        3.0 / 2.5f64.sqrt(),
        epsilon = 1e-15
    );
    // Identical differences: a zero-width interval, but d_z is undefined.
    let same = stats::t_interval(&[0.1; 4], 0.9).unwrap();
    assert_eq!((same.lower, same.upper), (same.estimate, same.estimate));
    assert!(matches!(
        stats::cohens_dz(&[0.1, 0.1, 0.1]),
        Err(Error::Undefined {
            what: "differences",
            ..
        })
    ));
    assert!(matches!(
        stats::t_interval(&d, 1.0),
        Err(Error::InvalidHyperparameter { name: "level", .. })
    ));
}

#[test]
fn paired_differences_checks_lengths() {
    let d = stats::paired_differences(&[3.0, 5.0], &[1.0, 1.5]).unwrap();
    assert_eq!(d, vec![2.0, 3.5]);
    assert!(matches!(
        stats::paired_differences(&[1.0, 2.0], &[1.0]),
        Err(Error::ShapeMismatch {
            expected: (2, 1),
            found: (1, 1),
            ..
        })
    ));
}

#[test]
fn bootstrap_is_reproducible_from_the_seed() {
    let d = normal_sample(15, 21);
    let a = stats::bootstrap_interval(&d, stats::mean, 0.95, 4000, 99).unwrap();
    let b = stats::bootstrap_interval(&d, stats::mean, 0.95, 4000, 99).unwrap();
    assert_eq!(a, b);
    let c = stats::bootstrap_interval(&d, stats::mean, 0.95, 4000, 100).unwrap();
    assert_ne!((a.lower, a.upper), (c.lower, c.upper));
    assert_eq!(a.estimate, stats::mean(&d).unwrap());
    assert_eq!((a.resamples, a.undefined), (4000, 0));
    assert!(a.lower < a.estimate && a.estimate < a.upper);
}

#[test]
fn bootstrap_mean_interval_approaches_the_t_interval() {
    // n = 400 normal values: the percentile interval of the mean and the t-interval both
    // approximate x̄ ± 1.96 s/√n; with 20000 resamples their ends agree to 5 % of the half-width.
    let d = normal_sample(400, 8);
    let t = stats::t_interval(&d, 0.95).unwrap();
    let boot = stats::bootstrap_interval(&d, stats::mean, 0.95, 20_000, 1).unwrap();
    let half = t.upper - t.estimate;
    assert_abs_diff_eq!(boot.lower, t.lower, epsilon = 0.05 * half);
    assert_abs_diff_eq!(boot.upper, t.upper, epsilon = 0.05 * half);
}

#[test]
fn bootstrap_counts_undefined_resamples() {
    // d_z of [0, 0, 0, 0, 1] is undefined on resamples that repeat one value: probability
    // 0.8⁵ + 0.2⁵ = 0.32800. With 4000 resamples the share is within 4 standard errors
    // (4·√(0.328·0.672/4000) = 0.030) of it.
    let d = [0.0, 0.0, 0.0, 0.0, 1.0];
    let ci = stats::bootstrap_interval(&d, stats::cohens_dz, 0.9, 4000, 5).unwrap();
    assert_eq!(ci.resamples + ci.undefined, 4000);
    let share = ci.undefined as f64 / 4000.0;
    assert_abs_diff_eq!(share, 0.328, epsilon = 0.030);
    // A constant sample: the statistic itself is undefined, which is an error.
    assert!(stats::bootstrap_interval(&[1.0; 4], stats::cohens_dz, 0.9, 10, 0).is_err());
    // A constant sample's mean: every resample gives the same value.
    let flat = stats::bootstrap_interval(&[2.5; 6], stats::mean, 0.95, 100, 0).unwrap();
    assert_eq!((flat.lower, flat.upper), (2.5, 2.5));
}

// ---------------------------------------------------------------------------------------------
// Correlation
// ---------------------------------------------------------------------------------------------

#[test]
fn pearson_and_spearman_by_hand() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let y = [2.0, 4.0, 5.0, 4.0, 5.0];
    // Pearson: dx = −2, −1, 0, 1, 2; dy = −2, 0, 1, 0, 1. Σdxdy = 4 + 0 + 0 + 0 + 2 = 6,
    // Σdx² = 10, Σdy² = 6: r = 6/√60 = 0.7745966692.
    assert_abs_diff_eq!(
        stats::pearson(&x, &y).unwrap(),
        6.0 / 60f64.sqrt(),
        epsilon = 1e-15
    );
    // Spearman: ranks of y = [1, 2.5, 4.5, 2.5, 4.5] (ties averaged), mean 3, deviations
    // −2, −0.5, 1.5, −0.5, 1.5: Σ dx·dr = 4 + 0.5 + 0 − 0.5 + 3 = 7, Σdr² = 9: ρ = 7/√90.
    assert_eq!(stats::ranks(&y).unwrap(), vec![1.0, 2.5, 4.5, 2.5, 4.5]);
    assert_abs_diff_eq!(
        stats::spearman(&x, &y).unwrap(),
        7.0 / 90f64.sqrt(),
        epsilon = 1e-15
    );
    // Spearman is invariant under a monotone map of either variable; Pearson is not.
    let y3: Vec<f64> = y.iter().map(|v| v * v * v).collect();
    assert_abs_diff_eq!(
        stats::spearman(&x, &y3).unwrap(),
        7.0 / 90f64.sqrt(),
        epsilon = 1e-15
    );
    // Exact lines.
    let line: Vec<f64> = x.iter().map(|v| 3.0 - 2.0 * v).collect();
    assert_eq!(stats::pearson(&x, &line).unwrap(), -1.0);
    assert_eq!(
        stats::correlation(&x, &x, CorrelationKind::Spearman).unwrap(),
        1.0
    );
}

#[test]
fn correlation_rejects_degenerate_input() {
    assert!(matches!(
        stats::pearson(&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0]),
        Err(Error::Undefined { what: "y", .. })
    ));
    assert!(matches!(
        stats::spearman(&[1.0, 2.0], &[1.0, 2.0, 3.0]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        stats::pearson(&[1.0], &[2.0]),
        Err(Error::Undefined { what: "x", value, .. }) if value == 1.0
    ));
}

#[test]
fn fisher_interval_matches_hand_computation() {
    // r = 0.5, n = 28: atanh 0.5 = 0.5493061443, σ_z = 1/5, z_{0.975} = 1.959963985:
    // tanh(0.5493061443 ∓ 0.3919927969) (Python's math module, 1e-12).
    let ci = stats::fisher_interval(0.5, 28, CorrelationKind::Pearson, 0.95).unwrap();
    assert_abs_diff_eq!(ci.lower, 0.15602836252908606, epsilon = 1e-12);
    assert_abs_diff_eq!(ci.upper, 0.7358184794439374, epsilon = 1e-12);
    // Spearman: σ_z = √(1.06/25).
    let ci = stats::fisher_interval(0.5, 28, CorrelationKind::Spearman, 0.95).unwrap();
    assert_abs_diff_eq!(ci.lower, 0.14470202144464855, epsilon = 1e-12);
    assert_abs_diff_eq!(ci.upper, 0.7410874615592804, epsilon = 1e-12);
    // A perfect correlation stays at 1.
    let one = stats::fisher_interval(1.0, 10, CorrelationKind::Pearson, 0.95).unwrap();
    assert_eq!((one.lower, one.upper), (1.0, 1.0));
    assert!(stats::fisher_interval(0.3, 3, CorrelationKind::Pearson, 0.95).is_err());
    assert!(stats::fisher_interval(1.2, 30, CorrelationKind::Pearson, 0.95).is_err());
}

#[test]
fn correlation_bootstrap_and_permutation() {
    // y = x + noise/2 over 60 points: strongly correlated (r about 0.9).
    let x = normal_sample(60, 1);
    let noise = normal_sample(60, 2);
    let y: Vec<f64> = x.iter().zip(&noise).map(|(a, e)| a + 0.5 * e).collect();
    for kind in [CorrelationKind::Pearson, CorrelationKind::Spearman] {
        let r = stats::correlation(&x, &y, kind).unwrap();
        let boot = stats::correlation_bootstrap(&x, &y, kind, 0.95, 2000, 4).unwrap();
        assert_eq!(
            boot,
            stats::correlation_bootstrap(&x, &y, kind, 0.95, 2000, 4).unwrap()
        );
        assert_eq!(boot.estimate, r);
        assert!(boot.lower < r && r < boot.upper && boot.upper <= 1.0);
        // The bootstrap and Fisher intervals agree roughly (to 0.05) on such data.
        let fisher = stats::fisher_interval(r, 60, kind, 0.95).unwrap();
        assert_abs_diff_eq!(boot.lower, fisher.lower, epsilon = 0.05);
        assert_abs_diff_eq!(boot.upper, fisher.upper, epsilon = 0.05);
        // No shuffle of y comes near |r| ≈ 0.9: p = 1/(m + 1).
        let perm = stats::correlation_permutation_test(&x, &y, kind, 999, 6).unwrap();
        assert_eq!(perm.statistic, r);
        assert_eq!(perm.p_value, 1.0 / 1000.0);
    }
    // Independent samples (seeded): r = −0.154 and p = 0.2476 with 4999 permutations.
    let perm =
        stats::correlation_permutation_test(&x, &noise, CorrelationKind::Pearson, 4999, 7).unwrap();
    assert!(perm.p_value > 0.1, "p = {}", perm.p_value);
    assert!(perm.statistic.abs() < 0.25);
}

// ---------------------------------------------------------------------------------------------
// Polynomial fit and group effect
// ---------------------------------------------------------------------------------------------

#[test]
fn polynomial_fit_recovers_an_exact_cubic() {
    // y = 2 − 3x + 0.5x² + 0.25x³ at 17 points in [−3, 5]: the cubic fit is exact, so the
    // coefficients come back to 1e-12 and the residuals vanish to 1e-12 (|y| ≤ 45).
    let x: Vec<f64> = (0..17).map(|i| -3.0 + 0.5 * i as f64).collect();
    let cubic = |v: f64| 2.0 - 3.0 * v + 0.5 * v * v + 0.25 * v * v * v;
    let y: Vec<f64> = x.iter().map(|&v| cubic(v)).collect();
    let fit = stats::fit_polynomial(&x, &y, 3).unwrap();
    assert_eq!(fit.polynomial.degree(), 3);
    for (c, e) in fit
        .polynomial
        .coefficients()
        .iter()
        .zip([2.0, -3.0, 0.5, 0.25])
    {
        assert_abs_diff_eq!(*c, e, epsilon = 1e-12);
    }
    assert!(fit.residuals.iter().all(|e| e.abs() < 1e-12));
    assert!(fit.rss < 1e-22);
    assert_abs_diff_eq!(fit.r_squared.unwrap(), 1.0, epsilon = 1e-15);
    assert_abs_diff_eq!(fit.polynomial.eval(7.0), cubic(7.0), epsilon = 1e-10);
    // A quartic fit of the same data has a zero x⁴ coefficient.
    let quartic = stats::fit_polynomial(&x, &y, 4).unwrap();
    assert_abs_diff_eq!(quartic.polynomial.coefficients()[4], 0.0, epsilon = 1e-12);
}

#[test]
fn polynomial_fit_by_hand_and_far_from_zero() {
    // Line through (0,1), (1,3), (2,2), (3,5): x̄ = 1.5, ȳ = 2.75, Sxy = 5.5, Sxx = 5:
    // slope 1.1, intercept 2.75 − 1.65 = 1.1; residuals −0.1, 0.8, −1.3, 0.6, RSS = 2.7,
    // TSS = 8.75, R² = 1 − 2.7/8.75.
    let fit = stats::fit_polynomial(&[0.0, 1.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 5.0], 1).unwrap();
    let c = fit.polynomial.coefficients();
    assert_abs_diff_eq!(c[0], 1.1, epsilon = 1e-14);
    assert_abs_diff_eq!(c[1], 1.1, epsilon = 1e-14);
    for (e, h) in fit.residuals.iter().zip([-0.1, 0.8, -1.3, 0.6]) {
        assert_abs_diff_eq!(*e, h, epsilon = 1e-14);
    }
    assert_abs_diff_eq!(fit.rss, 2.7, epsilon = 1e-13);
    assert_abs_diff_eq!(fit.r_squared.unwrap(), 1.0 - 2.7 / 8.75, epsilon = 1e-14);
    // A cubic at x ∈ [1000, 1010]: raw monomials would be hopeless (x³ ≈ 10⁹), the scaled
    // fit evaluates the data back to 1e-9 relative.
    let x: Vec<f64> = (0..21).map(|i| 1000.0 + 0.5 * i as f64).collect();
    let f = |v: f64| {
        let t = v - 1005.0;
        0.3 + 0.1 * t - 0.02 * t * t + 0.004 * t * t * t
    };
    let y: Vec<f64> = x.iter().map(|&v| f(v)).collect();
    let fit = stats::fit_polynomial(&x, &y, 3).unwrap();
    for (&xi, &yi) in x.iter().zip(&y) {
        assert_abs_diff_eq!(
            fit.polynomial.eval(xi),
            yi,
            epsilon = 1e-9 * 1.0f64.max(yi.abs())
        );
    }
    // Constant y: R² undefined.
    let flat = stats::fit_polynomial(&[0.0, 1.0, 2.0], &[4.0, 4.0, 4.0], 1).unwrap();
    assert_eq!(flat.r_squared, None);
}

#[test]
fn polynomial_fit_rejects_underdetermined_degrees() {
    // Three distinct x (one repeated) cannot determine a cubic.
    assert!(matches!(
        stats::fit_polynomial(&[0.0, 1.0, 1.0, 2.0], &[1.0, 2.0, 2.5, 3.0], 3),
        Err(Error::Undefined { what: "degree", value, .. }) if value == 3.0
    ));
    // ... but a quadratic interpolates them (n = 4 rows, 3 distinct abscissae).
    assert!(stats::fit_polynomial(&[0.0, 1.0, 1.0, 2.0], &[1.0, 2.0, 2.5, 3.0], 2).is_ok());
    assert!(matches!(
        stats::fit_polynomial(&[0.0, 1.0], &[1.0], 1),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn group_effect_by_hand() {
    // Residuals [1, 2, 3 | 7, 8, 9]: grand mean 5, group means 2 and 8. SS_between =
    // 3·9 + 3·9 = 54, SS_total = 16 + 9 + 4 + 4 + 9 + 16 = 58: η² = 54/58 = 0.9310345.
    // Of the C(6,3) = 20 equally likely label arrangements only this split and its mirror
    // reach η² = 54/58, so the permutation p-value estimates 2/20 = 0.1; with 20000
    // permutations its standard error is √(0.1·0.9/20000) = 0.0021: allow 4 of them.
    let residuals = [1.0, 2.0, 3.0, 7.0, 8.0, 9.0];
    let groups = [4, 4, 4, 9, 9, 9];
    let effect = stats::group_effect(&residuals, &groups, 20_000, 1).unwrap();
    assert_abs_diff_eq!(effect.eta_squared, 54.0 / 58.0, epsilon = 1e-15);
    assert_abs_diff_eq!(effect.p_value, 0.1, epsilon = 4.0 * 0.0021);
    assert_eq!(
        (effect.groups, effect.n, effect.permutations),
        (2, 6, 20_000)
    );
    assert_eq!(effect.null_mean, 1.0 / 5.0);
}

#[test]
fn group_effect_detects_a_shifted_group_and_not_noise() {
    // Three regularisers, 20 runs each, unit-normal residuals (seeded). Shifting one group by
    // 1.5 gives η² = 0.3077 against the null mean 2/59 = 0.034; with seed 3 one of 1999 label
    // permutations reaches it, p = 2/2000 = 0.001 (the permutation tail is about 3·10⁻⁵: 3–8
    // exceedances in 200000 permutations over five seeds, matching the F(2, 57) tail 2.8·10⁻⁵
    // of F = 12.7). Without the shift η² = 0.0158 (below the null mean) and p = 0.6135.
    let noise = normal_sample(60, 42);
    let groups: Vec<usize> = (0..60).map(|i| i / 20).collect();
    let shifted: Vec<f64> = noise
        .iter()
        .zip(&groups)
        .map(|(e, &g)| if g == 2 { e + 1.5 } else { *e })
        .collect();
    let effect = stats::group_effect(&shifted, &groups, 1999, 3).unwrap();
    assert!(effect.p_value <= 0.005, "{effect:?}");
    assert!(effect.eta_squared > 0.25, "{effect:?}");
    assert_abs_diff_eq!(effect.null_mean, 2.0 / 59.0, epsilon = 1e-15);
    let none = stats::group_effect(&noise, &groups, 1999, 3).unwrap();
    assert!(none.p_value > 0.3, "{none:?}");
    assert!(none.eta_squared < 0.05, "{none:?}");
    // Reproducible from the seed.
    assert_eq!(none, stats::group_effect(&noise, &groups, 1999, 3).unwrap());
}

#[test]
fn group_effect_null_mean_is_the_permutation_mean() {
    // Over label permutations E[η²] = (G − 1)/(n − 1) exactly. Averaging the η² of 400 pure-noise
    // data sets (each an exchangeable draw) estimates it: with G = 4, n = 24 the target is
    // 3/23 = 0.1304 and the standard deviation of η² is about 0.07, so the mean of 400 is within
    // 4·0.07/20 = 0.014.
    let groups: Vec<usize> = (0..24).map(|i| i % 4).collect();
    let mean_eta: f64 = (0..400)
        .map(|s| {
            stats::group_effect(&normal_sample(24, 1000 + s), &groups, 1, s)
                .unwrap()
                .eta_squared
        })
        .sum::<f64>()
        / 400.0;
    assert_abs_diff_eq!(mean_eta, 3.0 / 23.0, epsilon = 0.014);
}

#[test]
fn group_effect_rejects_degenerate_input() {
    assert!(matches!(
        stats::group_effect(&[1.0, 2.0, 3.0], &[0, 0, 0], 10, 0),
        Err(Error::Undefined { what: "groups", value, .. }) if value == 1.0
    ));
    assert!(matches!(
        stats::group_effect(&[1.0, 1.0, 1.0], &[0, 1, 0], 10, 0),
        Err(Error::Undefined {
            what: "residuals",
            ..
        })
    ));
    assert!(matches!(
        stats::group_effect(&[1.0, 2.0], &[0, 1, 0], 10, 0),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        stats::group_effect(&[1.0, 2.0], &[0, 1], 0, 0),
        Err(Error::InvalidHyperparameter {
            name: "permutations",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Wilson
// ---------------------------------------------------------------------------------------------

#[test]
fn wilson_intervals_match_the_formula() {
    // (p̂ + z²/2n ± z√(p̂(1 − p̂)/n + z²/4n²))/(1 + z²/n), z = 1.959963984540054, evaluated in
    // Python; 1e-12.
    let cases = [
        (0, 10, 0.0, 0.27753279986288915),
        (5, 10, 0.23659309051256405, 0.763406909487436),
        (3, 20, 0.052368745896216595, 0.3604188647407569),
        (10, 10, 0.7224672001371109, 1.0),
    ];
    for (k, n, lo, hi) in cases {
        let ci = stats::wilson_interval(k, n, 0.95).unwrap();
        assert_abs_diff_eq!(ci.lower, lo, epsilon = 1e-12);
        assert_abs_diff_eq!(ci.upper, hi, epsilon = 1e-12);
        assert_eq!(ci.estimate, k as f64 / n as f64);
    }
    assert!(matches!(
        stats::wilson_interval(0, 0, 0.95),
        Err(Error::EmptyBatch { .. })
    ));
    assert!(matches!(
        stats::wilson_interval(4, 3, 0.95),
        Err(Error::InvalidValue {
            what: "successes",
            value,
            ..
        }) if value == 4.0
    ));
    assert!(matches!(
        stats::wilson_interval(1, 3, 0.0),
        Err(Error::InvalidHyperparameter { name: "level", .. })
    ));
}
