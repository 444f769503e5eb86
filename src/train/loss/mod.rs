//! Losses on the network outputs (`N × C`), with their gradient with respect to the outputs.
//!
//! [`Loss`] is an open trait: the trainer holds a `Box<dyn Loss<T>>`, built from a
//! [`LossConfig`] for the built-in losses or brought by the user. Every built-in loss is a
//! **mean over the samples** of a per-sample loss, so the gradient of sample `i` carries a
//! factor `1/N`:
//!
//! - [`CrossEntropy`] (with label smoothing), [`MeanSquaredError`];
//! - for noisy labels: [`GeneralizedCrossEntropy`] (Zhang & Sabuncu 2018),
//!   [`SymmetricCrossEntropy`] (Wang et al. 2019), [`Bootstrapping`] (Reed et al. 2015) and
//!   [`EarlyLearning`] (ELR, Liu et al. 2020, the only one with a state).
//!
//! The classification losses take logits `z`; `p = softmax(z)` and `log p` are evaluated
//! stably, shifted by the row maximum `m` (first one on ties):
//! `log p_c = (z_c − m) − ln(1 + Σ_{k ≠ argmax} e^{z_k − m})`. A sample's target distribution
//! `q` is the one-hot vector of its class ([`TargetsView::Classes`]) or a given distribution
//! ([`TargetsView::Soft`], e.g. from mixup). Their gradients all have the form
//! `∂L_i/∂z_k = Σ_c (∂L_i/∂p_c) p_c (δ_ck − p_k)`, written out in each loss's documentation.
//!
//! All arithmetic is done in `f64` whatever `T` (outputs are converted, gradients rounded to `T`
//! once at the end) and values are returned as `f64`. Non-finite outputs give a non-finite
//! value and gradient row (not an error: the trainer turns it into [`Error::Diverged`]);
//! malformed targets are errors.
//!
//! ```
//! use faer::Mat;
//! use mgs::data::TargetsView;
//! use mgs::train::{CrossEntropy, Loss, LossConfig, accuracy};
//! let logits = Mat::from_fn(2, 3, |i, c| if c == i { 2.0 } else { 0.0 });
//! let labels = [0usize, 2];
//! let mut ce = CrossEntropy::new(0.0)?;
//! let mut grad = Mat::<f64>::zeros(2, 3);
//! let l = ce.value_and_grad(logits.as_ref(), TargetsView::Classes(&labels), None, Some(grad.as_mut()))?;
//! let p0 = 2f64.exp() / (2f64.exp() + 2.0);
//! assert!((l - 0.5 * (-p0.ln() + (2f64.exp() + 2.0).ln())).abs() < 1e-15);
//! assert!((grad[(0, 0)] - (p0 - 1.0) / 2.0).abs() < 1e-15);
//! assert_eq!(accuracy(logits.as_ref(), &labels)?, 0.5);
//! // The same loss built from a configuration.
//! let boxed = LossConfig::default().build::<f64>()?;
//! assert_eq!(boxed.name(), "cross_entropy");
//! assert_eq!(boxed.evaluate(logits.as_ref(), TargetsView::Classes(&labels))?, l);
//! # Ok::<(), mgs::Error>(())
//! ```

mod bootstrap;
mod config;
mod cross_entropy;
mod elr;
mod gce;
mod mse;
mod sce;

pub use bootstrap::Bootstrapping;
pub use config::LossConfig;
pub use cross_entropy::CrossEntropy;
pub use elr::EarlyLearning;
pub use gce::GeneralizedCrossEntropy;
pub use mse::MeanSquaredError;
pub use sce::SymmetricCrossEntropy;

use faer::{MatMut, MatRef};

use crate::data::{TargetsView, check_labels};
use crate::error::check_hyper;
use crate::{Error, Float, Result};

/// A loss on the network outputs (logits for the classification losses): an open trait, so a
/// user can bring a loss.
///
/// The trainer calls [`prepare`](Self::prepare) once, then
/// [`value_and_grad`](Self::value_and_grad) on every mini-batch and
/// [`evaluate`](Self::evaluate) for the evaluations; [`state`](Self::state) and
/// [`set_state`](Self::set_state) go into checkpoints.
///
/// ```
/// use faer::{Mat, MatMut, MatRef};
/// use mgs::data::TargetsView;
/// use mgs::train::{Loss, MeanSquaredError};
/// use mgs::Result;
/// /// Twice the mean squared error, by delegation.
/// #[derive(Debug)]
/// struct DoubleMse(MeanSquaredError);
/// impl Loss<f64> for DoubleMse {
///     fn name(&self) -> &str { "double_mse" }
///     fn check_targets(&self, t: &TargetsView<'_, f64>) -> Result<()> { self.0.check_targets(t) }
///     fn value_and_grad(&mut self, z: MatRef<'_, f64>, t: TargetsView<'_, f64>,
///                       samples: Option<&[usize]>, grad: Option<MatMut<'_, f64>>) -> Result<f64> {
///         let mut grad = grad;
///         let v = self.0.value_and_grad(z, t, samples, grad.as_mut().map(|g| g.as_mut()))?;
///         if let Some(g) = grad.as_mut() {
///             for i in 0..g.nrows() { for c in 0..g.ncols() { g[(i, c)] *= 2.0; } }
///         }
///         Ok(2.0 * v)
///     }
///     fn evaluate(&self, z: MatRef<'_, f64>, t: TargetsView<'_, f64>) -> Result<f64> {
///         Ok(2.0 * self.0.evaluate(z, t)?)
///     }
/// }
/// let mut loss = DoubleMse(MeanSquaredError::new()?);
/// let z = Mat::from_fn(2, 1, |i, _| i as f64);
/// let y = Mat::<f64>::zeros(2, 1);
/// assert_eq!(loss.value_and_grad(z.as_ref(), TargetsView::Regression(y.as_ref()), None, None)?, 0.5);
/// assert!(loss.set_state(&[1.0]).is_err()); // stateless: only the empty state
/// # Ok::<(), mgs::Error>(())
/// ```
pub trait Loss<T: Float>: std::fmt::Debug + Send {
    /// Short lower-case name (`"cross_entropy"`, `"mse"`, `"gce"`, `"sce"`, `"bootstrap_soft"`,
    /// `"bootstrap_hard"`, `"elr"` for the built-in losses).
    fn name(&self) -> &str;

    /// Errors unless targets of this kind suit the loss (cross-entropy family: `Classes` or
    /// `Soft`; MSE: all three).
    fn check_targets(&self, targets: &TargetsView<'_, T>) -> Result<()>;

    /// Called once by the trainer before training, with the number of training samples and of
    /// outputs (ELR allocates its per-sample targets here; stateless losses do nothing).
    fn prepare(&mut self, _n_train: usize, _n_outputs: usize) -> Result<()> {
        Ok(())
    }

    /// Training-mode mean loss over the batch, and, if `grad` is given, its gradient with
    /// respect to `outputs` written (not added) into `grad` (`N × C`; each row carries the
    /// `1/N` of the mean).
    ///
    /// `samples` are the training-set indices of the batch rows (`None` when rows are not
    /// single training samples, e.g. after mixup); ELR needs them and returns an error when
    /// they are `None`.
    fn value_and_grad(
        &mut self,
        outputs: MatRef<'_, T>,
        targets: TargetsView<'_, T>,
        samples: Option<&[usize]>,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<f64>;

    /// Evaluation-mode mean loss: no training-only terms (no label smoothing, no ELR term) and
    /// no change of state.
    fn evaluate(&self, outputs: MatRef<'_, T>, targets: TargetsView<'_, T>) -> Result<f64>;

    /// The loss's state for checkpoints (ELR: its `N × C` target averages, row-major; empty
    /// for stateless losses).
    fn state(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Restores a state returned by [`state`](Self::state); an error names what is wrong if
    /// its length or values are invalid. The default accepts only the empty state.
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        if state.is_empty() {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                what: "loss state (this loss is stateless)",
                expected: (0, 1),
                found: (state.len(), 1),
            })
        }
    }
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

// ---------------------------------------------------------------------------------------------
// Shared by the built-in losses.

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

/// The error of a classification loss given regression targets.
fn needs_class_targets(reason: &'static str) -> Error {
    Error::Incompatible {
        what: "loss and targets",
        reason,
    }
}

/// Rejects regression targets (the cross-entropy family takes class labels or soft targets).
fn check_classification_targets<T: Float>(
    targets: &TargetsView<'_, T>,
    reason: &'static str,
) -> Result<()> {
    match targets {
        TargetsView::Regression(_) => Err(needs_class_targets(reason)),
        TargetsView::Classes(_) | TargetsView::Soft(_) => Ok(()),
    }
}

/// Writes the target row of sample `i` into `t` (length `C`): the smoothed one-hot vector
/// `(1 − ε)·onehot(y_i) + ε/C`, the smoothed soft row `(1 − ε)·q_i + ε/C` (exactly `q_i` for
/// `ε = 0`), or the regression row (the losses that take regression targets have `ε = 0`).
fn target_row<T: Float>(targets: &TargetsView<'_, T>, i: usize, eps: f64, t: &mut [f64]) {
    let c = t.len();
    match targets {
        TargetsView::Classes(labels) => {
            t.fill(eps / c as f64);
            t[labels[i]] += 1.0 - eps;
        }
        TargetsView::Soft(y) => {
            for (k, tk) in t.iter_mut().enumerate() {
                *tk = (1.0 - eps) * y[(i, k)].to_f64() + eps / c as f64;
            }
        }
        TargetsView::Regression(y) => {
            for (k, tk) in t.iter_mut().enumerate() {
                *tk = y[(i, k)].to_f64();
            }
        }
    }
}

/// The mean over the rows of `row_loss(i, z_i, t_i, g_i)`, with `z_i` the outputs of row `i`
/// and `t_i` its target row ([`target_row`] with smoothing `eps`), both in `f64`; `g_i` (given
/// when `grad` is) receives the row's gradient, which is divided by `N` and written into `grad`.
///
/// Checks the outputs, `grad`'s shape and the targets first. A row with a non-finite output
/// gets the value NaN and a NaN gradient row without calling `row_loss`.
fn mean_over_rows<T: Float>(
    outputs: MatRef<'_, T>,
    targets: &TargetsView<'_, T>,
    eps: f64,
    mut grad: Option<MatMut<'_, T>>,
    mut row_loss: impl FnMut(usize, &[f64], &[f64], Option<&mut [f64]>) -> f64,
) -> Result<f64> {
    check_outputs(outputs, &grad)?;
    let (n, c) = (outputs.nrows(), outputs.ncols());
    targets.check(n, c)?;
    let (mut z, mut t, mut g) = (row(c), row(c), row(c));
    let mut total = 0.0f64;
    for i in 0..n {
        for (k, zk) in z.iter_mut().enumerate() {
            *zk = outputs[(i, k)].to_f64();
        }
        target_row(targets, i, eps, &mut t);
        total += if z.iter().all(|v| v.is_finite()) {
            row_loss(i, &z, &t, grad.as_ref().map(|_| &mut g[..]))
        } else {
            g.fill(f64::NAN);
            f64::NAN
        };
        if let Some(gm) = grad.as_mut() {
            for (k, gk) in g.iter().enumerate() {
                gm[(i, k)] = T::from_f64(gk / n as f64);
            }
        }
    }
    Ok(total / n as f64)
}

/// One row of `C` values in `f64`, on the stack for `C ≤ 32` (so that a training step's loss
/// allocates nothing for up to 32 classes).
pub(super) type Row = smallvec::SmallVec<[f64; 32]>;

/// A zero row of `c` values.
pub(super) fn row(c: usize) -> Row {
    smallvec::smallvec![0.0; c]
}

/// Softmax and log-softmax of one row of finite logits, shifted by the row maximum `m` (first
/// one on ties): with `s = Σ_{k ≠ argmax} e^{z_k − m}`, `log p_c = (z_c − m) − ln(1 + s)` and
/// `p_c = e^{z_c − m} / (1 + s)`.
#[derive(Debug, Clone)]
struct Softmax {
    /// `log p`.
    logp: Row,
    /// `p`.
    p: Row,
    /// The first index of the row maximum.
    argmax: usize,
}

impl Softmax {
    fn new(c: usize) -> Self {
        Self {
            logp: row(c),
            p: row(c),
            argmax: 0,
        }
    }

    fn compute(&mut self, z: &[f64]) {
        let mut arg = 0;
        for (k, &zk) in z.iter().enumerate() {
            if zk > z[arg] {
                arg = k;
            }
        }
        let m = z[arg];
        let rest: f64 = z
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != arg)
            .map(|(_, &zk)| (zk - m).exp())
            .sum();
        let log_norm = rest.ln_1p();
        let denom = 1.0 + rest;
        for (k, &zk) in z.iter().enumerate() {
            self.logp[k] = (zk - m) - log_norm;
            self.p[k] = (zk - m).exp() / denom;
        }
        self.argmax = arg;
    }
}
