//! Least-squares polynomial fits (faer's Householder QR on a scaled Vandermonde matrix).
//!
//! The abscissae are mapped to `t = (x − c)/h ∈ [−1, 1]` (`c` the midrange, `h` the half-range)
//! before the Vandermonde matrix `V_ik = t_iᵏ` is formed: monomials of raw `x` far from 0 make
//! `V` ill-conditioned, those of `t` stay well-conditioned for the low degrees a study uses.
//! `[V | y]` is QR-factorised in one pass (`faer`, sequential): its `R` holds the triangular
//! factor of `V` in its first `p = degree + 1` columns and `Qᵀy` in its last, and the
//! coefficients solve `R β = (Qᵀy)_{1..p}`. This minimises `‖y − Vβ‖₂` without forming the
//! normal equations `VᵀV`, whose condition number is the square of `V`'s.

use faer::linalg::qr::no_pivoting::factor::{
    qr_in_place, qr_in_place_scratch, recommended_block_size,
};
use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::{Mat, Par};

use super::summary::{centered_sum_of_squares, sorted};
use super::{check_same_len, check_sample, finite};
use crate::buffer::StackBuffer;
use crate::{Error, Result};

/// Smallest `|R_kk| / max_j |R_jj|` accepted: below it the scaled Vandermonde matrix is
/// numerically rank-deficient (near-duplicate abscissae for the degree asked).
const RANK_TOLERANCE: f64 = 1e-12;

/// A polynomial in `x`, kept in the scaled variable `t = (x − center)/scale` it was fitted in.
#[derive(Debug, Clone, PartialEq)]
pub struct Polynomial {
    center: f64,
    scale: f64,
    /// Coefficients of `1, t, t², …`.
    scaled: Vec<f64>,
    /// Coefficients of `1, x, x², …`.
    coefficients: Vec<f64>,
}

impl Polynomial {
    /// The coefficients of `1, x, x², …, x^degree`.
    ///
    /// Expanded from the scaled form: `Σ_k β_k ((x − c)/h)^k` has `x^j` coefficient
    /// `Σ_{k ≥ j} β_k C(k, j) h^{−j} (−c/h)^{k−j}`. For data far from 0 the expansion cancels
    /// digits; [`Polynomial::eval`] uses the scaled form and does not.
    #[must_use]
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }

    /// The degree (number of coefficients minus one).
    #[must_use]
    pub fn degree(&self) -> usize {
        self.scaled.len() - 1
    }

    /// The value at `x` (Horner's rule in the scaled variable).
    #[must_use]
    pub fn eval(&self, x: f64) -> f64 {
        let t = (x - self.center) / self.scale;
        self.scaled.iter().rev().fold(0.0, |acc, &c| acc * t + c)
    }
}

/// A least-squares fit with its residuals.
#[derive(Debug, Clone, PartialEq)]
pub struct PolynomialFit {
    /// The fitted polynomial.
    pub polynomial: Polynomial,
    /// The fitted values `ŷ_i = p(x_i)`.
    pub fitted: Vec<f64>,
    /// The residuals `y_i − ŷ_i`.
    pub residuals: Vec<f64>,
    /// The residual sum of squares `Σ (y_i − ŷ_i)²`.
    pub rss: f64,
    /// `R² = 1 − RSS / Σ(y_i − ȳ)²`; `None` when `y` is constant (no variance to explain).
    pub r_squared: Option<f64>,
}

/// The least-squares polynomial of the given degree through `(x_i, y_i)`.
///
/// Needs at least `degree + 1` distinct abscissae (otherwise the polynomial is not determined)
/// and a numerically full-rank scaled design (`|R_kk| ≥ 10⁻¹² max |R_jj|`).
///
/// ```
/// use mgs::study::stats::fit_polynomial;
/// let x = [0.0, 1.0, 2.0, 3.0];
/// let y = [1.0, 3.0, 2.0, 5.0];
/// let fit = fit_polynomial(&x, &y, 1)?;
/// let c = fit.polynomial.coefficients();
/// assert!((c[0] - 1.1).abs() < 1e-12 && (c[1] - 1.1).abs() < 1e-12);
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn fit_polynomial(x: &[f64], y: &[f64], degree: usize) -> Result<PolynomialFit> {
    check_sample("x", x)?;
    check_sample("y", y)?;
    check_same_len("y", x.len(), y.len())?;
    let xs = sorted(x);
    let distinct = 1 + xs.windows(2).filter(|w| w[0] != w[1]).count();
    let not_determined = || Error::Undefined {
        what: "degree",
        value: degree as f64,
        reason: "a polynomial of this degree needs at least degree + 1 distinct x values",
    };
    if distinct <= degree {
        return Err(not_determined());
    }
    let (lo, hi) = (xs[0], xs[xs.len() - 1]);
    let center = 0.5 * lo + 0.5 * hi;
    let scale = if hi > lo { 0.5 * hi - 0.5 * lo } else { 1.0 };

    let (n, p) = (x.len(), degree + 1);
    let mut a = Mat::<f64>::from_fn(n, p + 1, |i, k| {
        if k == p {
            y[i]
        } else {
            ((x[i] - center) / scale).powi(k as i32)
        }
    });
    let block = recommended_block_size::<f64>(n, p + 1);
    let mut householder = Mat::<f64>::zeros(block, n.min(p + 1));
    let mut mem = StackBuffer::default();
    mem.reserve(qr_in_place_scratch::<f64>(
        n,
        p + 1,
        block,
        Par::Seq,
        Default::default(),
    ));
    qr_in_place(
        a.as_mut(),
        householder.as_mut(),
        Par::Seq,
        mem.stack(),
        Default::default(),
    );
    let r = a.get(..p, ..p);
    let largest = (0..p).fold(0.0f64, |m, k| m.max(r[(k, k)].abs()));
    if (0..p).any(|k| r[(k, k)].abs() < RANK_TOLERANCE * largest) {
        return Err(Error::Undefined {
            what: "degree",
            value: degree as f64,
            reason: "the design is numerically rank-deficient for this degree (near-duplicate x)",
        });
    }
    let mut beta = a.get(..p, p..p + 1).to_owned();
    solve_upper_triangular_in_place(r, beta.as_mut(), Par::Seq);
    let scaled: Vec<f64> = (0..p).map(|k| beta[(k, 0)]).collect();
    if let Some(index) = scaled.iter().position(|c| !c.is_finite()) {
        return Err(Error::NonFinite {
            what: "polynomial coefficients",
            index,
        });
    }
    let polynomial = Polynomial {
        coefficients: expand(&scaled, center, scale),
        center,
        scale,
        scaled,
    };
    let fitted: Vec<f64> = x.iter().map(|&xi| polynomial.eval(xi)).collect();
    let residuals: Vec<f64> = y.iter().zip(&fitted).map(|(yi, fi)| yi - fi).collect();
    let rss = finite(
        "residual sum of squares",
        residuals.iter().map(|e| e * e).sum(),
    )?;
    let tss = finite("total sum of squares", centered_sum_of_squares(y))?;
    Ok(PolynomialFit {
        polynomial,
        fitted,
        residuals,
        rss,
        r_squared: (tss > 0.0).then(|| 1.0 - rss / tss),
    })
}

/// Monomial coefficients in `x` of `Σ_k β_k ((x − c)/h)^k`.
fn expand(scaled: &[f64], center: f64, scale: f64) -> Vec<f64> {
    let p = scaled.len();
    let shift = -center / scale;
    let mut out = vec![0.0; p];
    // Row k of Pascal's triangle, updated in place.
    let mut binomial = vec![0.0; p];
    for (k, &beta) in scaled.iter().enumerate() {
        for j in (1..=k).rev() {
            binomial[j] += binomial[j - 1];
        }
        binomial[0] = 1.0;
        for (j, out_j) in out.iter_mut().enumerate().take(k + 1) {
            *out_j += beta * binomial[j] * shift.powi((k - j) as i32) / scale.powi(j as i32);
        }
    }
    out
}
