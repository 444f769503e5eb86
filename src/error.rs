//! The crate's single error type.
//!
//! Every public function that a caller can feed bad input returns `Result<_, Error>`; nothing in
//! the public API panics on shapes, empty batches, non-finite values or invalid hyperparameters.
//!
//! ```
//! use mgs::{Activation, Architecture, Error};
//! let err = Architecture::new(0, &[(8, Activation::Tanh)], 1).unwrap_err();
//! assert!(matches!(err, Error::InvalidArchitecture { .. }));
//! println!("{err}");
//! ```

use std::fmt;

/// Everything a caller of `mgs` can get wrong, with enough context to find the cause.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that must agree do not.
    ShapeMismatch {
        /// What was being checked (e.g. `"inputs"`).
        what: &'static str,
        /// The shape that was required, as `(rows, cols)`.
        expected: (usize, usize),
        /// The shape that was supplied.
        found: (usize, usize),
    },
    /// A batch (or dataset, or subset) with no samples.
    EmptyBatch {
        /// What was empty.
        what: &'static str,
    },
    /// A NaN or infinity in an input, parameter or target, or in a result that overflowed although
    /// its inputs were finite (every public numeric result is checked once where it is returned).
    NonFinite {
        /// Where the value was found (e.g. `"inputs"`, `"parameters"`).
        what: &'static str,
        /// Flat index of the first offending value.
        index: usize,
    },
    /// A hyperparameter outside its valid range.
    InvalidHyperparameter {
        /// The hyperparameter's name.
        name: &'static str,
        /// The value supplied (as `f64`).
        value: f64,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// An architecture that cannot be built (a zero width), or a forward cache used with a model
    /// of other widths.
    InvalidArchitecture {
        /// What is wrong.
        reason: String,
    },
    /// A kernel that is not positive definite even after adding the jitter.
    NotPositiveDefinite {
        /// Order of the kernel.
        order: usize,
        /// Index of the first non-positive pivot of the Cholesky factorisation.
        pivot: usize,
        /// The relative jitter that was added.
        jitter: f64,
    },
    /// An eigenvalue computation that did not converge.
    EigenFailure {
        /// Order of the matrix.
        order: usize,
    },
    /// A value that became non-finite during training (divergence).
    Diverged {
        /// Epoch (0-based) at which it happened.
        epoch: usize,
        /// Step within the epoch (0-based).
        step: usize,
        /// What became non-finite (`"loss"` or `"gradient"`).
        what: &'static str,
    },
    /// Malformed delimited text (CSV): the 1-based line and column of the offending field.
    Parse {
        /// 1-based line number.
        line: usize,
        /// 1-based column number (field index); 0 when the whole line is at fault.
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// A file that is not what it claims to be (truncated, foreign, wrong version).
    Format {
        /// What is wrong.
        reason: String,
    },
    /// An I/O error, with the path involved; the operating system's error is kept, and returned
    /// by [`std::error::Error::source`].
    Io {
        /// The path that was read or written.
        path: String,
        /// What was being done, with the operating system's message.
        message: String,
        /// The kind of the underlying error (e.g. [`std::io::ErrorKind::NotFound`]).
        kind: std::io::ErrorKind,
        /// The underlying error.
        source: IoSource,
    },
    /// A class label that is not below the number of classes (or of the model's outputs).
    InvalidLabel {
        /// Where the labels were given (e.g. `"labels"`).
        what: &'static str,
        /// Position of the first offending label.
        index: usize,
        /// The label.
        label: usize,
        /// The number of classes it must be below.
        n_classes: usize,
    },
    /// An index (of a sample, of a subset) that is not below the length of what it indexes.
    IndexOutOfRange {
        /// What was indexed (e.g. `"subset indices"`).
        what: &'static str,
        /// The first offending index.
        index: usize,
        /// The length it must be below.
        len: usize,
    },
    /// A value of the data (not a hyperparameter) that breaks a rule of its own: a negative
    /// probability, a sample index given twice.
    InvalidValue {
        /// What the value is (e.g. `"soft targets"`).
        what: &'static str,
        /// The value (as `f64`).
        value: f64,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A buffer or list with the wrong number of entries (the counts, not a shape derived from
    /// them).
    LengthMismatch {
        /// What was counted (e.g. `"feature values (n_samples · n_features)"`).
        what: &'static str,
        /// The number required.
        expected: usize,
        /// The number supplied.
        found: usize,
    },
    /// A request whose memory exceeds the crate's limit ([`crate::limits`]), refused before
    /// anything was allocated; or a bounded read that went past its bound.
    TooLarge {
        /// What was requested, with the sizes it was derived from (e.g. `"explicit Jacobian
        /// (N = 1300, C = 10, P = 2100010)"`, or the path of a file).
        what: String,
        /// Bytes the request needs (for a stopped read, the first size past the bound;
        /// saturated at `u128::MAX` if even that overflows).
        bytes: u128,
        /// The limit in force, in bytes.
        limit: u128,
    },
    /// A matrix that must be symmetric is not, beyond the relative tolerance of the check
    /// (`|K_ij − K_ji| ≤ √ε_T · √(|K_ii| |K_jj|)`, `ε_T` the machine epsilon of its precision).
    NotSymmetric {
        /// What was checked (e.g. `"kernel"`).
        what: &'static str,
        /// Row of the first offending entry (below the diagonal).
        row: usize,
        /// Its column.
        col: usize,
    },
    /// Two settings, or a setting and the data or model it is used with, that cannot go together
    /// (each may be valid alone): a classification loss with regression targets, early stopping
    /// without a validation set, a centred kernel of a one-output model.
    Incompatible {
        /// What refused (e.g. `"early stopping"`).
        what: &'static str,
        /// What it needs.
        reason: &'static str,
    },
    /// A statistic that is undefined on the data given: too few values, zero variance, too few
    /// groups or distinct points.
    Undefined {
        /// The statistic's input (e.g. `"x"`, `"differences"`).
        what: &'static str,
        /// The offending quantity: the sample size, the spread, the number of groups, the degree
        /// asked for or the number of resamples.
        value: f64,
        /// Why the statistic is undefined.
        reason: &'static str,
    },
    /// A state (e.g. an optimiser's) that is inconsistent or cannot advance.
    InvalidState {
        /// What was checked (e.g. `"optimiser step counter"`).
        what: &'static str,
        /// The rule it breaks.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShapeMismatch {
                what,
                expected,
                found,
            } => write!(
                f,
                "shape mismatch for {what}: expected {}x{}, found {}x{}",
                expected.0, expected.1, found.0, found.1
            ),
            Error::EmptyBatch { what } => write!(f, "{what} is empty"),
            Error::NonFinite { what, index } => {
                write!(f, "non-finite value in {what} at flat index {index}")
            }
            Error::InvalidHyperparameter {
                name,
                value,
                reason,
            } => write!(f, "invalid hyperparameter {name} = {value}: {reason}"),
            Error::InvalidArchitecture { reason } => write!(f, "invalid architecture: {reason}"),
            Error::NotPositiveDefinite {
                order,
                pivot,
                jitter,
            } => write!(
                f,
                "kernel of order {order} is not positive definite with relative jitter {jitter:e} \
                 (non-positive pivot at index {pivot})"
            ),
            Error::EigenFailure { order } => {
                write!(f, "eigenvalue computation did not converge (order {order})")
            }
            Error::Diverged { epoch, step, what } => write!(
                f,
                "training diverged: non-finite {what} at epoch {epoch}, step {step}"
            ),
            Error::Parse {
                line,
                column,
                reason,
            } => write!(f, "parse error at line {line}, column {column}: {reason}"),
            Error::Format { reason } => write!(f, "bad file format: {reason}"),
            Error::Io { path, message, .. } => write!(f, "I/O error on {path}: {message}"),
            Error::InvalidLabel {
                what,
                index,
                label,
                n_classes,
            } => write!(
                f,
                "invalid class label in {what}: label {label} at position {index} is not below \
                 the number of classes {n_classes}"
            ),
            Error::IndexOutOfRange { what, index, len } => {
                write!(f, "{what}: index {index} is out of range (length {len})")
            }
            Error::InvalidValue {
                what,
                value,
                reason,
            } => write!(f, "invalid value in {what}: {value}: {reason}"),
            Error::LengthMismatch {
                what,
                expected,
                found,
            } => write!(
                f,
                "wrong number of {what}: expected {expected}, found {found}"
            ),
            Error::TooLarge { what, bytes, limit } => write!(
                f,
                "{what} needs {bytes} bytes ({}), more than the limit of {limit} bytes ({})",
                human_bytes(*bytes),
                human_bytes(*limit)
            ),
            Error::NotSymmetric { what, row, col } => write!(
                f,
                "{what} is not symmetric: entries ({row}, {col}) and ({col}, {row}) differ beyond \
                 the relative tolerance"
            ),
            Error::Incompatible { what, reason } => write!(f, "incompatible {what}: {reason}"),
            Error::Undefined {
                what,
                value,
                reason,
            } => write!(f, "{reason} ({what}: {value})"),
            Error::InvalidState { what, reason } => write!(f, "invalid {what}: {reason}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source.get()),
            _ => None,
        }
    }
}

impl Error {
    /// The [`Error::Io`] of `error` on `path`, its message prefixed by `context` (what was being
    /// done) unless that is empty.
    pub(crate) fn io(path: &std::path::Path, context: &str, error: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            message: if context.is_empty() {
                error.to_string()
            } else {
                format!("{context}: {error}")
            },
            kind: error.kind(),
            source: IoSource(std::sync::Arc::new(error)),
        }
    }
}

/// The operating system's error inside an [`Error::Io`], shared by the error's clones; two are
/// equal when their kinds and messages are.
#[derive(Debug, Clone)]
pub struct IoSource(std::sync::Arc<std::io::Error>);

impl IoSource {
    /// The underlying error.
    #[must_use]
    pub fn get(&self) -> &std::io::Error {
        &self.0
    }
}

impl PartialEq for IoSource {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind() && self.0.to_string() == other.0.to_string()
    }
}

/// Shorthand for `Result<T, mgs::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// `bytes` with a binary-prefixed unit, e.g. `"194.4 GiB"`.
fn human_bytes(bytes: u128) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// True when every entry of `values` is finite: one branch-free pass (a vectorised `and` of the
/// per-entry tests, dispatched like [`crate::simd`]'s kernels), so that checking a result costs a
/// small fraction of computing it.
#[inline]
pub(crate) fn all_finite<T: crate::Float>(values: &[T]) -> bool {
    pulp::Arch::new().dispatch(
        #[inline(always)]
        || values.iter().fold(true, |ok, &v| ok & v.is_finite_value()),
    )
}

/// A flag that the tasks of a parallel pass raise when a chunk they wrote holds a non-finite
/// value: the check runs on data still in cache, and the (rare) error path then finds the first
/// offending entry with [`check_finite`], so the reported index never depends on the threads.
pub(crate) struct NonFiniteFlag(std::sync::atomic::AtomicBool);

impl NonFiniteFlag {
    /// A lowered flag.
    pub(crate) fn new() -> Self {
        Self(std::sync::atomic::AtomicBool::new(false))
    }

    /// Raises the flag if `values` holds a NaN or an infinity.
    #[inline]
    pub(crate) fn note<T: crate::Float>(&self, values: &[T]) {
        if !all_finite(values) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// `Ok` if the flag is down, else the error naming the first non-finite entry of `values`
    /// (the whole buffer the pass wrote).
    pub(crate) fn check<T: crate::Float>(&self, what: &'static str, values: &[T]) -> Result<()> {
        if self.0.load(std::sync::atomic::Ordering::Relaxed) {
            check_finite(what, values)
        } else {
            Ok(())
        }
    }
}

/// Lanes of [`max_abs_finite`]: independent partial maxima, so that the loop vectorises.
const MAX_LANES: usize = 16;

/// The largest magnitude in `values` (as `f64`, 0 for none) and whether every entry is finite,
/// in one vectorised pass: what an a-priori bound on a product of these values needs.
#[inline]
pub(crate) fn max_abs_finite<T: crate::Float>(values: &[T]) -> (f64, bool) {
    pulp::Arch::new().dispatch(
        #[inline(always)]
        || {
            let mut max = [T::zero(); MAX_LANES];
            let mut finite = [true; MAX_LANES];
            let body = values.len() / MAX_LANES * MAX_LANES;
            for chunk in values[..body].chunks_exact(MAX_LANES) {
                for k in 0..MAX_LANES {
                    let a = chunk[k].abs();
                    max[k] = if a > max[k] { a } else { max[k] };
                    finite[k] &= chunk[k].is_finite_value();
                }
            }
            let (mut m, mut ok) = (T::zero(), true);
            let tail = values[body..]
                .iter()
                .map(|&v| (v.abs(), v.is_finite_value()));
            for (a, f) in max.into_iter().zip(finite).chain(tail) {
                m = if a > m { a } else { m };
                ok &= f;
            }
            (m.to_f64(), ok)
        },
    )
}

/// Returns an error naming the first non-finite entry of `values`.
pub(crate) fn check_finite<T: crate::Float>(what: &'static str, values: &[T]) -> Result<()> {
    if all_finite(values) {
        return Ok(());
    }
    let index = values
        .iter()
        .position(|v| !v.is_finite_value())
        .unwrap_or_default();
    Err(Error::NonFinite { what, index })
}

/// Returns an error naming the first non-finite entry of `m`, by its row-major flat index
/// `i · ncols + j`.
pub(crate) fn check_finite_mat<T: crate::Float>(
    what: &'static str,
    m: faer::MatRef<'_, T>,
) -> Result<()> {
    let columns_finite = (0..m.ncols()).all(|j| match m.col(j).try_as_col_major() {
        Some(col) => all_finite(col.as_slice()),
        None => (0..m.nrows()).all(|i| m[(i, j)].is_finite_value()),
    });
    if columns_finite {
        return Ok(());
    }
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

/// `value`, or [`Error::NonFinite`] (index 0) if it is NaN or infinite: the boundary check of a
/// scalar result.
pub(crate) fn finite_scalar(what: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFinite { what, index: 0 })
    }
}

/// `Ok` if `ok`, else [`Error::InvalidHyperparameter`] naming the hyperparameter, its value and
/// the rule it breaks.
pub(crate) fn check_hyper(
    name: &'static str,
    value: f64,
    ok: bool,
    reason: &'static str,
) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            name,
            value,
            reason,
        })
    }
}
