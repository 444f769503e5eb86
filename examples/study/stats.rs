//! Means, standard deviations, paired differences, rank correlation.

use serde::Serialize;

/// Mean ± sample standard deviation of the finite values among `n_total` runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    /// Runs with a finite value.
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (divisor n − 1; NaN for n < 2).
    pub std: f64,
}

impl Summary {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        let n = v.len();
        let mean = if n == 0 {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / n as f64
        };
        let std = if n < 2 {
            f64::NAN
        } else {
            (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        Self { n, mean, std }
    }

    /// `mean ± std` with `digits` decimals (`x` scaled by `scale`, e.g. 100 for percent).
    pub fn fmt(&self, scale: f64, digits: usize) -> String {
        if self.n == 0 {
            return "–".to_string();
        }
        if self.std.is_finite() {
            format!(
                "{:.d$} ± {:.d$}",
                self.mean * scale,
                self.std * scale,
                d = digits
            )
        } else {
            format!("{:.d$}", self.mean * scale, d = digits)
        }
    }
}

/// Mean of the paired differences `a_s − b_s` over the seeds present in both, its standard
/// error (std / √n), and n.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Paired {
    pub n: usize,
    pub mean: f64,
    pub se: f64,
}

impl Paired {
    pub fn of(a: &[(u64, f64)], b: &[(u64, f64)]) -> Self {
        let diffs: Vec<f64> = a
            .iter()
            .filter_map(|&(s, x)| {
                b.iter()
                    .find(|&&(t, _)| t == s)
                    .map(|&(_, y)| x - y)
                    .filter(|d| d.is_finite())
            })
            .collect();
        let s = Summary::of(diffs);
        Self {
            n: s.n,
            mean: s.mean,
            se: s.std / (s.n as f64).sqrt(),
        }
    }

    /// `+1.2 ± 0.4` (scaled), with `*` when |mean| > 2·SE.
    pub fn fmt(&self, scale: f64, digits: usize) -> String {
        if self.n == 0 {
            return "–".to_string();
        }
        let star = if self.se.is_finite() && self.mean.abs() > 2.0 * self.se {
            "*"
        } else {
            ""
        };
        if self.se.is_finite() {
            format!(
                "{:+.d$} ± {:.d$}{star}",
                self.mean * scale,
                self.se * scale,
                d = digits
            )
        } else {
            format!("{:+.d$}", self.mean * scale, d = digits)
        }
    }
}

/// Ranks (1 = smallest; ties get the mean rank).
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].partial_cmp(&x[b]).unwrap_or(std::cmp::Ordering::Equal));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = rank;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation of `x` and `y` (NaN for fewer than 3 pairs or no variation).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 3 || x.len() != y.len() {
        return f64::NAN;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = rx.iter().map(|a| (a - mx) * (a - mx)).sum();
    let vy: f64 = ry.iter().map(|b| (b - my) * (b - my)).sum();
    cov / (vx * vy).sqrt()
}
