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
    /// A NaN or infinity in an input, parameter or target.
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
    /// An I/O error, with the path involved.
    Io {
        /// The path that was read or written.
        path: String,
        /// The operating system's message.
        message: String,
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
    /// Input larger than a limit the caller can raise (decompressed gzip data, a file read
    /// into memory, a row of features that could not be allocated).
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit, in bytes.
        limit: u64,
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
            Error::Io { path, message } => write!(f, "I/O error on {path}: {message}"),
            Error::LengthMismatch {
                what,
                expected,
                found,
            } => write!(
                f,
                "wrong number of {what}: expected {expected}, found {found}"
            ),
            Error::TooLarge { what, limit } => {
                write!(f, "{what} exceeds the limit of {limit} bytes")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for `Result<T, mgs::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Returns an error naming the first non-finite entry of `values`.
pub(crate) fn check_finite<T: crate::Float>(what: &'static str, values: &[T]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite_value()) {
        Some(index) => Err(Error::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// Returns an error naming the first non-finite entry of `m` (row-major index).
pub(crate) fn check_finite_mat<T: crate::Float>(
    what: &'static str,
    m: faer::MatRef<'_, T>,
) -> Result<()> {
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
