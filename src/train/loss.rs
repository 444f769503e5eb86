//! Losses on the network outputs (`N × C`), with their gradient with respect to the outputs.
//!
//! Both losses are **means over the samples** of a per-sample loss, so the gradient of sample
//! `i` carries a factor `1/N`:
//!
//! - [`mean_squared_error`]: `L = (1/N) Σ_i ½ ‖f(x_i) − y_i‖²` (half the squared error, summed
//!   over the `C` outputs, averaged over samples); `∂L/∂f_ic = (f_ic − y_ic) / N`. With class
//!   labels the target is the one-hot vector (optionally smoothed, see below).
//! - [`softmax_cross_entropy`]: `L = (1/N) Σ_i Σ_c q_ic (lse(z_i) − z_ic)` on logits `z`, with
//!   `lse` the log-sum-exp evaluated stably (shifted by the row maximum, the remaining sum through
//!   `ln(1 + ·)`), and target distribution `q_i = (1 − ε)·onehot(y_i) + ε/C` (label smoothing
//!   `ε ∈ [0, 1]`, `ε = 0` for plain cross-entropy); `∂L/∂z_ic = (softmax(z_i)_c − q_ic) / N`.
//!
//! Loss values are accumulated over samples in `f64` and returned in `T`. Non-finite outputs
//! give a non-finite loss (not an error: the trainer turns it into [`Error::Diverged`]);
//! malformed targets are errors.
//!
//! ```
//! use faer::Mat;
//! use mgs::train::{Loss, Targets, accuracy, softmax_cross_entropy};
//! let logits = Mat::from_fn(2, 3, |i, c| if c == i { 2.0 } else { 0.0 });
//! let labels = [0usize, 2];
//! let mut grad = Mat::<f64>::zeros(2, 3);
//! let l = softmax_cross_entropy(logits.as_ref(), &labels, 0.0, Some(grad.as_mut()))?;
//! let p0 = 2f64.exp() / (2f64.exp() + 2.0);
//! assert!((l - 0.5 * (-p0.ln() + (2f64.exp() + 2.0).ln())).abs() < 1e-15);
//! assert!((grad[(0, 0)] - (p0 - 1.0) / 2.0).abs() < 1e-15);
//! assert_eq!(accuracy(logits.as_ref(), &labels)?, 0.5);
//! // The same through the `Loss` enum.
//! let l2 = Loss::SoftmaxCrossEntropy.value(logits.as_ref(), Targets::Classes(&labels), 0.0)?;
//! assert_eq!(l, l2);
//! # Ok::<(), mgs::Error>(())
//! ```

use faer::{MatMut, MatRef};
use serde::{Deserialize, Serialize};

use crate::{Error, Float, Result};

/// The targets of a batch or data set, one per sample (row of the outputs).
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a, T: Float> {
    /// Class labels in `0..C` (classification).
    Classes(&'a [usize]),
    /// Real-valued targets, `N × C` (regression).
    Regression(MatRef<'a, T>),
}

impl<T: Float> Targets<'_, T> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(l) => l.len(),
            Targets::Regression(y) => y.nrows(),
        }
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class labels, if these are class targets.
    pub fn classes(&self) -> Option<&[usize]> {
        match self {
            Targets::Classes(l) => Some(l),
            Targets::Regression(_) => None,
        }
    }

    /// Checks that there are `n` targets for a model with `c` outputs: labels below `c`, or an
    /// `n × c` finite matrix.
    pub fn check(&self, n: usize, c: usize) -> Result<()> {
        match self {
            Targets::Classes(labels) => check_labels(labels, n, c),
            Targets::Regression(y) => {
                if (y.nrows(), y.ncols()) != (n, c) {
                    return Err(Error::ShapeMismatch {
                        what: "targets",
                        expected: (n, c),
                        found: (y.nrows(), y.ncols()),
                    });
                }
                check_finite_mat("targets", *y)
            }
        }
    }
}

/// Which loss the trainer minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Loss {
    /// Softmax cross-entropy on logits, with class labels ([`softmax_cross_entropy`]).
    #[default]
    SoftmaxCrossEntropy,
    /// Half squared error averaged over samples ([`mean_squared_error`]); with class labels the
    /// targets are (smoothed) one-hot vectors.
    MeanSquaredError,
}

impl Loss {
    /// Short name: `"softmax_cross_entropy"` or `"mean_squared_error"`.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::SoftmaxCrossEntropy => "softmax_cross_entropy",
            Loss::MeanSquaredError => "mean_squared_error",
        }
    }

    /// Checks that `targets` suit this loss (cross-entropy needs class labels).
    pub fn check_targets<T: Float>(&self, targets: &Targets<'_, T>) -> Result<()> {
        match (self, targets) {
            (Loss::SoftmaxCrossEntropy, Targets::Regression(_)) => {
                Err(Error::InvalidHyperparameter {
                    name: "loss",
                    value: f64::NAN,
                    reason: "softmax cross-entropy needs class labels, not regression targets",
                })
            }
            _ => Ok(()),
        }
    }

    /// The loss value (see the module documentation); `label_smoothing` applies to class targets.
    pub fn value<T: Float>(
        &self,
        outputs: MatRef<'_, T>,
        targets: Targets<'_, T>,
        label_smoothing: f64,
    ) -> Result<T> {
        self.eval(outputs, targets, label_smoothing, None)
    }

    /// The loss value and its gradient with respect to the outputs, written into `grad`
    /// (`N × C`, overwritten).
    pub fn value_and_grad<T: Float>(
        &self,
        outputs: MatRef<'_, T>,
        targets: Targets<'_, T>,
        label_smoothing: f64,
        grad: MatMut<'_, T>,
    ) -> Result<T> {
        self.eval(outputs, targets, label_smoothing, Some(grad))
    }

    fn eval<T: Float>(
        &self,
        outputs: MatRef<'_, T>,
        targets: Targets<'_, T>,
        label_smoothing: f64,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<T> {
        self.check_targets(&targets)?;
        match (self, targets) {
            (Loss::SoftmaxCrossEntropy, Targets::Classes(labels)) => {
                softmax_cross_entropy(outputs, labels, label_smoothing, grad)
            }
            (Loss::MeanSquaredError, Targets::Regression(y)) => {
                mean_squared_error(outputs, y, grad)
            }
            (Loss::MeanSquaredError, Targets::Classes(labels)) => {
                mean_squared_error_classes(outputs, labels, label_smoothing, grad)
            }
            (Loss::SoftmaxCrossEntropy, Targets::Regression(_)) => {
                unreachable!("rejected by check_targets")
            }
        }
    }
}

fn check_finite_mat<T: Float>(what: &'static str, m: MatRef<'_, T>) -> Result<()> {
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            if !m[(i, j)].is_finite_value() {
                return Err(Error::NonFinite {
                    what,
                    index: i * m.ncols() + j,
                });
            }
        }
    }
    Ok(())
}

fn check_labels(labels: &[usize], n: usize, c: usize) -> Result<()> {
    if labels.len() != n {
        return Err(Error::ShapeMismatch {
            what: "labels",
            expected: (n, 1),
            found: (labels.len(), 1),
        });
    }
    match labels.iter().find(|&&l| l >= c) {
        Some(&l) => Err(Error::InvalidHyperparameter {
            name: "class label",
            value: l as f64,
            reason: "class labels must be below the number of outputs C",
        }),
        None => Ok(()),
    }
}

fn check_outputs<T: Float>(outputs: MatRef<'_, T>, grad: &Option<MatMut<'_, T>>) -> Result<()> {
    if outputs.nrows() == 0 {
        return Err(Error::EmptyBatch { what: "outputs" });
    }
    if outputs.ncols() == 0 {
        return Err(Error::ShapeMismatch {
            what: "outputs",
            expected: (outputs.nrows(), 1),
            found: (outputs.nrows(), 0),
        });
    }
    if let Some(g) = grad {
        if (g.nrows(), g.ncols()) != (outputs.nrows(), outputs.ncols()) {
            return Err(Error::ShapeMismatch {
                what: "loss gradient",
                expected: (outputs.nrows(), outputs.ncols()),
                found: (g.nrows(), g.ncols()),
            });
        }
    }
    Ok(())
}

fn check_smoothing(eps: f64) -> Result<()> {
    if (0.0..=1.0).contains(&eps) {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            name: "label_smoothing",
            value: eps,
            reason: "must lie in [0, 1]",
        })
    }
}

/// `½ (1/N) Σ_i ‖f_i − y_i‖²` with the target given entrywise by `target(i, c)`.
fn mse_core<T: Float>(
    outputs: MatRef<'_, T>,
    target: impl Fn(usize, usize) -> T,
    mut grad: Option<MatMut<'_, T>>,
) -> T {
    let (n, c) = (outputs.nrows(), outputs.ncols());
    let inv_n = T::one() / T::from_f64(n as f64);
    let mut total = 0.0f64;
    for i in 0..n {
        let mut row = T::zero();
        for k in 0..c {
            let r = outputs[(i, k)] - target(i, k);
            row += r * r;
            if let Some(g) = grad.as_mut() {
                g[(i, k)] = r * inv_n;
            }
        }
        total += row.to_f64();
    }
    T::from_f64(0.5 * total / n as f64)
}

/// Mean squared error `(1/N) Σ_i ½ ‖f(x_i) − y_i‖²` against real targets `y` (`N × C`); if
/// `grad` is given, `∂L/∂f = (f − y)/N` is written into it.
pub fn mean_squared_error<T: Float>(
    outputs: MatRef<'_, T>,
    targets: MatRef<'_, T>,
    grad: Option<MatMut<'_, T>>,
) -> Result<T> {
    check_outputs(outputs, &grad)?;
    Targets::Regression(targets).check(outputs.nrows(), outputs.ncols())?;
    Ok(mse_core(outputs, |i, k| targets[(i, k)], grad))
}

/// [`mean_squared_error`] against smoothed one-hot targets `(1 − ε)·onehot(y_i) + ε/C`.
pub fn mean_squared_error_classes<T: Float>(
    outputs: MatRef<'_, T>,
    labels: &[usize],
    label_smoothing: f64,
    grad: Option<MatMut<'_, T>>,
) -> Result<T> {
    check_outputs(outputs, &grad)?;
    check_smoothing(label_smoothing)?;
    let c = outputs.ncols();
    check_labels(labels, outputs.nrows(), c)?;
    let (on, off) = smoothed_targets::<T>(label_smoothing, c);
    Ok(mse_core(
        outputs,
        |i, k| if labels[i] == k { on } else { off },
        grad,
    ))
}

/// Target probabilities of the true class and of every other class under label smoothing `ε`.
fn smoothed_targets<T: Float>(eps: f64, c: usize) -> (T, T) {
    let off = eps / c as f64;
    (T::from_f64(1.0 - eps + off), T::from_f64(off))
}

/// Softmax cross-entropy of logits `z` (`N × C`) against class labels, averaged over samples,
/// with label smoothing `ε ∈ [0, 1]` (target `(1 − ε)·onehot + ε/C`); if `grad` is given,
/// `(softmax(z) − q)/N` is written into it.
pub fn softmax_cross_entropy<T: Float>(
    logits: MatRef<'_, T>,
    labels: &[usize],
    label_smoothing: f64,
    mut grad: Option<MatMut<'_, T>>,
) -> Result<T> {
    check_outputs(logits, &grad)?;
    check_smoothing(label_smoothing)?;
    let (n, c) = (logits.nrows(), logits.ncols());
    check_labels(labels, n, c)?;
    let (on, off) = smoothed_targets::<T>(label_smoothing, c);
    let inv_n = T::one() / T::from_f64(n as f64);
    let mut total = 0.0f64;
    for i in 0..n {
        // Row maximum (first one on ties); lse = m + ln(1 + Σ_{c≠argmax} e^{z_c − m}).
        let mut arg = 0;
        for k in 1..c {
            if logits[(i, k)] > logits[(i, arg)] {
                arg = k;
            }
        }
        let m = logits[(i, arg)];
        let mut rest = T::zero();
        for k in 0..c {
            if k != arg {
                rest += (logits[(i, k)] - m).exp();
            }
        }
        let log_norm = rest.ln_1p();
        // Σ_c q_c (lse − z_c) = ln(1 + rest) + Σ_c q_c (m − z_c), since Σ_c q_c = 1.
        let mut row = log_norm;
        for k in 0..c {
            let q = if labels[i] == k { on } else { off };
            if q != T::zero() {
                row += q * (m - logits[(i, k)]);
            }
        }
        total += row.to_f64();
        if let Some(g) = grad.as_mut() {
            let denom = T::one() + rest;
            for k in 0..c {
                let p = (logits[(i, k)] - m).exp() / denom;
                let q = if labels[i] == k { on } else { off };
                g[(i, k)] = (p - q) * inv_n;
            }
        }
    }
    Ok(T::from_f64(total / n as f64))
}

/// Fraction of samples whose largest output (first one on ties) is the label, in `[0, 1]`.
/// A row containing NaN counts as wrong.
pub fn accuracy<T: Float>(outputs: MatRef<'_, T>, labels: &[usize]) -> Result<f64> {
    check_outputs(outputs, &None)?;
    let (n, c) = (outputs.nrows(), outputs.ncols());
    check_labels(labels, n, c)?;
    let mut correct = 0usize;
    for (i, &label) in labels.iter().enumerate() {
        let mut arg = 0;
        let mut nan = false;
        for k in 0..c {
            let v = outputs[(i, k)];
            nan |= v.partial_cmp(&v).is_none();
            if v > outputs[(i, arg)] {
                arg = k;
            }
        }
        if !nan && arg == label {
            correct += 1;
        }
    }
    Ok(correct as f64 / n as f64)
}
