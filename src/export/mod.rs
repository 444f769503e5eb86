//! Export for Python: kernels, Jacobians and training histories as NumPy `.npy` files and as CSV.
//!
//! | what | `.npy` | CSV |
//! | --- | --- | --- |
//! | a matrix (`MatRef<f64>` / `MatRef<f32>`, e.g. a kernel) | [`write_npy`], read back with [`read_npy`] | [`write_csv`] |
//! | a [`Jacobian`](crate::Jacobian), `(N·C) × P`, row `r = i·C + c` | [`write_jacobian_npy`] | [`write_jacobian_csv`] |
//! | a [`History`](crate::train::History), one row per epoch | [`write_history_npy`] | [`History::write_csv`](crate::train::History::write_csv) |
//!
//! **NPY** ([format spec](https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html)):
//! matrices are 2-D arrays in C (row-major) order, little-endian `'<f8'` for `f64` and `'<f4'` for
//! `f32`, written by the `npyz` crate (version 1.0 header, data aligned to 64 bytes) and loaded by
//! `np.load(path)`. [`read_npy`] reads exactly that form back, bit for bit, and refuses anything
//! else with a clear [`Error::Format`](crate::Error::Format): another dtype or byte order, a rank
//! other than 2, Fortran order, a truncated file or trailing bytes. It is a bounded read: the
//! header is at most [`MAX_HEADER_BYTES`] long, and the size its shape claims is checked against
//! the memory limit ([`crate::limits`], [`Error::TooLarge`](crate::Error::TooLarge)) and against
//! the file's length before anything of that size is allocated.
//!
//! A history becomes one *structured* `.npy` array of shape `(epochs,)` with one `'<f8'` field
//! per CSV column, under the CSV's names (absent values, the CSV's empty cells, are NaN, which is
//! also how pandas reads those cells): `pd.DataFrame(np.load(path))` is the table, and
//! `np.load(path)["train_loss"]` one column. The CSV form (`pd.read_csv(path)`) has the same
//! columns in the same order.
//!
//! Files are written atomically (a temporary file in the target's folder, `fsync`, rename), like
//! checkpoints; an I/O error is an [`Error::Io`](crate::Error::Io) naming the path, with the
//! system's message.
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::export::{read_npy, write_csv, write_npy};
//! use mgs::kernel::{KernelKind, Route, KernelParams, kernel};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//!
//! let arch = Architecture::new(3, &[(8, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let x = Mat::from_fn(5, 3, |i, j| (i as f64 - j as f64) * 0.3);
//! let k = kernel(&mlp, x.as_ref(), None, &KernelParams::new(KernelKind::Traced, Route::Factorised), Par::Seq)?;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("kernel.npy");
//! write_npy(&path, k.as_ref())?; // Python: K = np.load("kernel.npy")
//! assert_eq!(read_npy::<f64>(&path)?, k);
//! write_csv(dir.path().join("kernel.csv"), k.as_ref())?; // np.loadtxt("kernel.csv", delimiter=",")
//! # Ok::<(), mgs::Error>(())
//! ```

mod csv;
mod npy;

pub use csv::{matrix_to_csv, write_csv, write_jacobian_csv};
pub use npy::{
    MAX_HEADER_BYTES, from_npy_bytes, history_to_npy_bytes, read_npy, to_npy_bytes,
    write_history_npy, write_jacobian_npy, write_npy,
};
