//! Matrices as CSV text (see the [module docs](super)).

use std::fmt::Write as _;
use std::path::Path;

use faer::MatRef;

use crate::train::io::write_atomic;
use crate::{Float, Jacobian, Result};

/// `m` as CSV: one line per row, no header, entries in Rust's shortest round-trip form for their
/// precision (`0.1`, `-2.5e-7`; `NaN`, `inf`, `-inf`), so that parsing a line back in the same
/// precision gives the same bits. Loads with `np.loadtxt(path, delimiter=",", ndmin=2)` or
/// `pd.read_csv(path, header=None)`.
///
/// ```
/// use faer::mat;
/// let m = mat![[1.0f64, 0.1], [-2.5e-7, 3.0]];
/// assert_eq!(mgs::export::matrix_to_csv(m.as_ref()), "1.0,0.1\n-2.5e-7,3.0\n");
/// ```
#[must_use]
pub fn matrix_to_csv<T: Float>(m: MatRef<'_, T>) -> String {
    let mut out = String::new();
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "{:?}", m[(i, j)]);
        }
        out.push('\n');
    }
    out
}

/// Writes [`matrix_to_csv`] of `m` to `path`, atomically.
pub fn write_csv<T: Float>(path: impl AsRef<Path>, m: MatRef<'_, T>) -> Result<()> {
    write_atomic(path.as_ref(), matrix_to_csv(m).as_bytes())
}

/// Writes a per-sample Jacobian to `path` as CSV: `N·C` lines of `P` values, line `r = i·C + c`
/// holding `∇_θ f_c(x_i)` (the row order of [`write_jacobian_npy`](super::write_jacobian_npy)).
pub fn write_jacobian_csv<T: Float>(path: impl AsRef<Path>, jacobian: &Jacobian<T>) -> Result<()> {
    write_csv(path, jacobian.as_mat())
}
