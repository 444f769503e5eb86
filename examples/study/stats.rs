//! The statistics the study uses, on top of `mgs::study::stats`: paired comparisons with
//! intervals, exact (or Monte-Carlo) sign-flip p-values and Holm's adjustment; means with
//! standard errors; rank correlations with bootstrap intervals; rates with Wilson intervals.
//! Every random draw is seeded from a label of what is computed ([`seed_of`]), so outputs are
//! the same bits on every run.

use mgs::study::stats::{
    self, CorrelationKind, MAX_EXACT_SIGN_FLIP, correlation_bootstrap, holm, sign_flip_test,
    sign_flip_test_monte_carlo, t_interval, wilson_interval,
};
use serde::Serialize;

use crate::record::nan_as_null;

/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// A stable seed from a text (FNV-1a).
pub fn seed_of(label: &str) -> u64 {
    label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The paired comparison `a − b` over matched runs.
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    /// Pairs.
    pub n: usize,
    /// Mean difference.
    #[serde(with = "nan_as_null")]
    pub mean: f64,
    /// 95 % t-interval, lower end (NaN for one pair).
    #[serde(with = "nan_as_null")]
    pub lower: f64,
    /// 95 % t-interval, upper end.
    #[serde(with = "nan_as_null")]
    pub upper: f64,
    /// Two-sided sign-flip p-value.
    #[serde(with = "nan_as_null")]
    pub p: f64,
    /// Exact enumeration (else Monte-Carlo).
    pub exact: bool,
    /// Holm-adjusted p-value within its family (set by [`holm_adjust`]).
    #[serde(with = "nan_as_null")]
    pub p_holm: f64,
    /// Pairs with `a > b`.
    pub wins: usize,
    /// Pairs with `a < b`.
    pub losses: usize,
}

impl Paired {
    /// Significant at 5 % after Holm, and in which direction: `+1`, `−1` or 0.
    pub fn verdict(&self) -> i32 {
        if self.p_holm < 0.05 && self.mean > 0.0 {
            1
        } else if self.p_holm < 0.05 && self.mean < 0.0 {
            -1
        } else {
            0
        }
    }
}

/// Compares `a` and `b` (same length, matched by position; pairs with a non-finite value are
/// dropped). `None` without pairs. Monte-Carlo sign flips (`draws`, seeded by `label`) above
/// 24 pairs.
pub fn paired(a: &[f64], b: &[f64], draws: usize, label: &str) -> Option<Paired> {
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x - y)
        .filter(|d| d.is_finite())
        .collect();
    if d.is_empty() {
        return None;
    }
    let test = if d.len() <= MAX_EXACT_SIGN_FLIP {
        sign_flip_test(&d)
    } else {
        sign_flip_test_monte_carlo(&d, draws, seed_of(label))
    }
    .ok()?;
    let (lower, upper) = t_interval(&d, LEVEL).map_or((f64::NAN, f64::NAN), |i| (i.lower, i.upper));
    Some(Paired {
        n: d.len(),
        mean: test.mean,
        lower,
        upper,
        p: test.p_value,
        exact: test.exact,
        p_holm: f64::NAN,
        wins: d.iter().filter(|&&x| x > 0.0).count(),
        losses: d.iter().filter(|&&x| x < 0.0).count(),
    })
}

/// Sets `p_holm` of every test of one family (Holm–Bonferroni).
pub fn holm_adjust(tests: &mut [&mut Paired]) {
    let p: Vec<f64> = tests.iter().map(|t| t.p).collect();
    if let Ok(adjusted) = holm(&p) {
        for (t, q) in tests.iter_mut().zip(adjusted) {
            t.p_holm = q;
        }
    }
}

/// Mean and standard error of the finite values.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MeanSe {
    /// Values.
    pub n: usize,
    /// Mean (NaN when empty).
    #[serde(with = "nan_as_null")]
    pub mean: f64,
    /// Standard error `s/√n` (NaN below two values).
    #[serde(with = "nan_as_null")]
    pub se: f64,
}

impl MeanSe {
    /// Of the finite values of `v`.
    pub fn of(v: impl IntoIterator<Item = f64>) -> Self {
        let v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
        Self {
            n: v.len(),
            mean: stats::mean(&v).unwrap_or(f64::NAN),
            se: stats::std_error(&v).unwrap_or(f64::NAN),
        }
    }

    /// `84.1 ± 0.6` (values × `scale`, `digits` decimals); `–` when empty.
    pub fn text(&self, scale: f64, digits: usize) -> String {
        match (self.n, self.se.is_finite()) {
            (0, _) => "–".to_string(),
            (_, true) => format!(
                "{:.d$} ± {:.d$}",
                self.mean * scale,
                self.se * scale,
                d = digits
            ),
            (_, false) => format!("{:.d$}", self.mean * scale, d = digits),
        }
    }
}

/// Spearman's ρ with a percentile-bootstrap interval (pairs resampled).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Correlation {
    /// Pairs.
    pub n: usize,
    /// ρ.
    #[serde(with = "nan_as_null")]
    pub rho: f64,
    /// Interval, lower end.
    #[serde(with = "nan_as_null")]
    pub lower: f64,
    /// Interval, upper end.
    #[serde(with = "nan_as_null")]
    pub upper: f64,
}

impl Correlation {
    /// Whether the interval excludes 0.
    pub fn excludes_zero(&self) -> bool {
        self.lower > 0.0 || self.upper < 0.0
    }
}

/// ρ of the finite pairs of `x` and `y` with a `resamples`-fold bootstrap seeded by `label`;
/// NaN where undefined (fewer than 4 pairs, a constant sample).
pub fn spearman(x: &[f64], y: &[f64], resamples: usize, label: &str) -> Correlation {
    let (x, y): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    let n = x.len();
    let nan = Correlation {
        n,
        rho: f64::NAN,
        lower: f64::NAN,
        upper: f64::NAN,
    };
    if n < 4 {
        return nan;
    }
    correlation_bootstrap(
        &x,
        &y,
        CorrelationKind::Spearman,
        LEVEL,
        resamples,
        seed_of(label),
    )
    .map_or(nan, |b| Correlation {
        n,
        rho: b.estimate,
        lower: b.lower,
        upper: b.upper,
    })
}

/// A rate `k/n` with its Wilson interval.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rate {
    /// Events.
    pub k: usize,
    /// Trials.
    pub n: usize,
    /// Interval, lower end.
    #[serde(with = "nan_as_null")]
    pub lower: f64,
    /// Interval, upper end.
    #[serde(with = "nan_as_null")]
    pub upper: f64,
}

impl Rate {
    /// `k` of `n`.
    pub fn of(k: usize, n: usize) -> Self {
        let (lower, upper) =
            wilson_interval(k, n, LEVEL).map_or((f64::NAN, f64::NAN), |i| (i.lower, i.upper));
        Self { k, n, lower, upper }
    }

    /// `2/10 [6–51 %]`.
    pub fn text(&self) -> String {
        if self.n == 0 {
            return "–".to_string();
        }
        format!(
            "{}/{} [{:.0}–{:.0} %]",
            self.k,
            self.n,
            100.0 * self.lower,
            100.0 * self.upper
        )
    }
}

/// A p-value for tables: `0.012`, `<0.001`, `–`.
pub fn p_text(p: f64) -> String {
    if !p.is_finite() {
        "–".to_string()
    } else if p < 0.001 {
        "<0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

/// A claim's verdict by its pre-registered rule, with the numbers it rests on.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// `supported`, `mixed` or `not supported`.
    pub verdict: &'static str,
    /// The numbers and the rule's reading of them.
    pub reason: String,
}

impl Verdict {
    /// Supported, because `reason`.
    pub fn supported(reason: String) -> Self {
        Self {
            verdict: "supported",
            reason,
        }
    }

    /// Mixed, because `reason`.
    pub fn mixed(reason: String) -> Self {
        Self {
            verdict: "mixed",
            reason,
        }
    }

    /// Not supported, because `reason`.
    pub fn not_supported(reason: String) -> Self {
        Self {
            verdict: "not supported",
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_comparison_of_three_seeds() {
        // Of the 8 sign patterns of [0.1, 0.2, 0.3] only +++ and −−− reach |Σ| ≥ 0.6.
        let t = paired(&[0.6, 0.7, 0.8], &[0.5, 0.5, 0.5], 100, "t").unwrap();
        assert_eq!((t.n, t.wins, t.losses, t.exact), (3, 3, 0, true));
        assert!((t.mean - 0.2).abs() < 1e-15);
        assert!((t.p - 0.25).abs() < 1e-15);
        // t-interval 0.2 ± t(0.975, 2) · 0.1/√3 with t = 4.302653.
        let half = 4.302653 * 0.1 / 3f64.sqrt();
        assert!((t.upper - (0.2 + half)).abs() < 1e-6, "{}", t.upper);
        // Non-finite pairs are dropped; none left: no test.
        assert!(paired(&[f64::NAN], &[0.5], 100, "t").is_none());
    }

    #[test]
    fn holm_worked_example() {
        // p = (0.01, 0.04, 0.03): sorted 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.04·1, 0.06) = 0.06.
        let mut tests: Vec<Paired> = [0.01, 0.04, 0.03]
            .iter()
            .map(|&p| Paired {
                n: 10,
                mean: 0.1,
                lower: 0.0,
                upper: 0.2,
                p,
                exact: true,
                p_holm: f64::NAN,
                wins: 8,
                losses: 2,
            })
            .collect();
        let mut refs: Vec<&mut Paired> = tests.iter_mut().collect();
        holm_adjust(&mut refs);
        let adjusted: Vec<f64> = tests.iter().map(|t| t.p_holm).collect();
        for (a, e) in adjusted.iter().zip([0.03, 0.06, 0.06]) {
            assert!((a - e).abs() < 1e-15, "{adjusted:?}");
        }
        assert_eq!(tests[0].verdict(), 1);
        assert_eq!(tests[1].verdict(), 0);
    }

    #[test]
    fn rates_and_summaries() {
        let r = Rate::of(0, 10);
        assert_eq!(r.lower, 0.0);
        assert!((r.upper - 0.27753).abs() < 1e-5);
        let m = MeanSe::of([1.0, 2.0, f64::NAN, 3.0]);
        assert_eq!((m.n, m.mean), (3, 2.0));
        assert!((m.se - 1.0 / 3f64.sqrt()).abs() < 1e-15);
        assert_eq!(MeanSe::of([]).text(100.0, 1), "–");
        assert_eq!(p_text(0.0004), "<0.001");
        assert_ne!(seed_of("a"), seed_of("b"));
    }
}
