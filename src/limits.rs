//! Size arithmetic and memory estimates: what `mgs` refuses to allocate, and why.
//!
//! Every large buffer the crate allocates is sized from the caller's shapes (`N` samples, the
//! widths `n_0, …, n_L`, `C = n_L` outputs, `P` parameters). Before a request allocates anything,
//! its memory is estimated in bytes with exact arithmetic (`u128`, saturating, so no size ever
//! wraps) and the request is refused with [`Error::TooLarge`], which names the bytes needed, when
//! the estimate exceeds the memory limit:
//!
//! - the limit is [`memory_limit`]: what [`set_memory_limit`] set, or by default the machine's
//!   physical memory ([`physical_memory`]; `isize::MAX` where the system does not say), and never
//!   more than `isize::MAX` bytes, Rust's bound on one allocation;
//! - the estimate is the sum of the request's buffers that scale with the batch or the model
//!   (an upper bound on its peak; scratch of `O(max width)` or of one tile is left out). With
//!   `s` the bytes of one float, `H = Σ_{hidden l} n_l`, `m = kind.order(N, C)`:
//!
//! | [`Request`] | bytes |
//! | --- | --- |
//! | `Parameters` | `s·P` |
//! | `ForwardPass` | `s·N·(Σ_{l<L} n_l + Σ_{l≥1} n_l + 2H)` (activations, pre-activations, `σ'`, `σ''`) |
//! | `DropoutPass` | forward pass `+ s·N·H` (masks) |
//! | `Signals` | forward pass `+ s·N·C·H` |
//! | `Jacobian` (reverse mode) | signals `+ s·N·C·P` |
//! | `ForwardJacobian` | forward pass `+ 2·s·N·C·P` (columns, then rows) |
//! | `Kernel`, factorised | signals `+ s·m²` |
//! | `Kernel`, explicit | Jacobian `+ 2·s·m²` (the Gram product, then the returned matrix) |
//! | `CrossKernel`, factorised | both signals `+ s·(3 m₁m₂ + N₁N₂)` |
//! | `CrossKernel`, explicit | both Jacobians `+ s·m₁m₂` |
//! | `Hvp` | `s·(⌈N/16⌉ + 1)·P + s·N·C` (per-block partial sums) |
//!
//! The limit is a sanity bound on requests that cannot succeed, not a promise that one below it
//! will: memory already in use, and the process's own limits (cgroups, `ulimit`), are not seen.
//!
//! ```
//! use mgs::limits::{self, Request};
//! use mgs::kernel::{KernelKind, Route};
//! use mgs::{Activation, Architecture, Error};
//! let arch = Architecture::new(4, &[(64, Activation::Tanh)], 10)?;
//! // A full kernel of order 10⁶ (10⁵ samples × 10 outputs) needs 8 TB in f64 for K alone.
//! let request = Request::Kernel { n: 100_000, kind: KernelKind::Full, route: Route::Factorised };
//! assert!(request.bytes::<f64>(&arch) > 8_000_000_000_000);
//! limits::set_memory_limit(Some(1 << 40)); // 1 TiB
//! assert!(matches!(request.check::<f64>(&arch), Err(Error::TooLarge { .. })));
//! limits::set_memory_limit(None); // back to the default
//! # Ok::<(), mgs::Error>(())
//! ```

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::kernel::{KernelKind, Route};
use crate::{Architecture, Error, Float, Result};

/// The limit set by [`set_memory_limit`]; 0 while none is set.
static LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Rust's bound on the size of one allocation, in bytes.
const MAX_ALLOCATION: usize = isize::MAX as usize;

/// The machine's physical memory in bytes as the operating system reports it (`sysconf` on
/// Unix systems), or `None` where it does not.
pub fn physical_memory() -> Option<usize> {
    static PHYSICAL: OnceLock<Option<usize>> = OnceLock::new();
    *PHYSICAL.get_or_init(query_physical_memory)
}

#[cfg(unix)]
fn query_physical_memory() -> Option<usize> {
    // SAFETY: `sysconf` reads system constants; it has no preconditions and touches no memory of
    // ours.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let bytes = u128::try_from(pages).ok()? * u128::try_from(page_size).ok()?;
    (bytes > 0).then(|| usize::try_from(bytes).unwrap_or(usize::MAX))
}

#[cfg(not(unix))]
fn query_physical_memory() -> Option<usize> {
    None
}

/// The memory limit in force, in bytes: what [`set_memory_limit`] set, or by default
/// [`physical_memory`] (`isize::MAX` where unknown); never above `isize::MAX`.
pub fn memory_limit() -> usize {
    let set = LIMIT.load(Ordering::Relaxed);
    let limit = if set == 0 {
        physical_memory().unwrap_or(MAX_ALLOCATION)
    } else {
        set
    };
    limit.min(MAX_ALLOCATION)
}

/// Sets the memory limit (process-wide) to `bytes` (clamped to `1 ..= isize::MAX`), or with
/// `None` returns to the default. Lower it to keep a server's requests small, raise it where the
/// physical memory is not the right bound (e.g. with large swap).
pub fn set_memory_limit(bytes: Option<usize>) {
    let value = bytes.map_or(0, |b| b.clamp(1, MAX_ALLOCATION));
    LIMIT.store(value, Ordering::Relaxed);
}

/// `Ok` when `bytes` is within [`memory_limit`], else [`Error::TooLarge`] naming `what`.
///
/// ```
/// use mgs::limits::check_bytes;
/// assert!(check_bytes("a small buffer", 1024).is_ok());
/// assert!(check_bytes("an impossible buffer", u128::MAX).is_err());
/// ```
pub fn check_bytes(what: &str, bytes: u128) -> Result<()> {
    let limit = memory_limit() as u128;
    if bytes <= limit {
        Ok(())
    } else {
        Err(Error::TooLarge {
            what: what.to_string(),
            bytes,
            limit,
        })
    }
}

/// Bytes of `elements` values of type `T` (saturating).
#[must_use]
pub fn bytes_of<T>(elements: u128) -> u128 {
    elements.saturating_mul(std::mem::size_of::<T>() as u128)
}

/// `a · b` in `u128`, saturating.
fn mul(a: usize, b: usize) -> u128 {
    (a as u128).saturating_mul(b as u128)
}

/// A request whose memory [`Request::bytes`] estimates (formulas in the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// The flat parameter vector.
    Parameters,
    /// A forward pass keeping its cache ([`crate::ForwardCache`]) of `n` samples.
    ForwardPass {
        /// Samples.
        n: usize,
    },
    /// A dropout pass ([`crate::train::DropoutPass`]) of `n` samples.
    DropoutPass {
        /// Samples.
        n: usize,
    },
    /// The backpropagated signals ([`crate::derivatives::Signals`]) of `n` samples.
    Signals {
        /// Samples.
        n: usize,
    },
    /// A per-sample Jacobian by reverse mode ([`crate::Jacobian::reverse`]).
    Jacobian {
        /// Samples.
        n: usize,
    },
    /// A per-sample Jacobian by forward mode ([`crate::Jacobian::forward`]).
    ForwardJacobian {
        /// Samples.
        n: usize,
    },
    /// An MGS kernel ([`crate::kernel::kernel`] without a second batch).
    Kernel {
        /// Samples.
        n: usize,
        /// Which kernel.
        kind: KernelKind,
        /// Which route.
        route: Route,
    },
    /// A cross kernel ([`crate::kernel::kernel`] with a second batch).
    CrossKernel {
        /// Samples of the first batch.
        n1: usize,
        /// Samples of the second batch.
        n2: usize,
        /// Which kernel.
        kind: KernelKind,
        /// Which route.
        route: Route,
    },
    /// A Hessian-vector product ([`crate::derivatives::hvp`]) over `n` samples.
    Hvp {
        /// Samples.
        n: usize,
    },
}

/// Rows per block of the Hessian-vector product's partial sums (`derivatives::hvp`).
const HVP_BLOCK: usize = 16;

impl Request {
    /// The estimated bytes of the request for `arch` in precision `T`.
    #[must_use]
    pub fn bytes<T: Float>(&self, arch: &Architecture) -> u128 {
        let widths = arch.widths();
        let layers = arch.n_layers();
        let (c, p) = (arch.output_dim(), arch.n_params());
        let hidden: u128 = widths[1..layers].iter().map(|&w| w as u128).sum();
        let inputs: u128 = widths[..layers].iter().map(|&w| w as u128).sum();
        let outputs: u128 = widths[1..].iter().map(|&w| w as u128).sum();
        let values =
            |n: usize, per_sample: u128| bytes_of::<T>((n as u128).saturating_mul(per_sample));
        let forward = |n: usize| values(n, inputs + outputs + 2 * hidden);
        let signals = |n: usize| forward(n).saturating_add(values(n, (c as u128) * hidden));
        let jacobian = |n: usize| bytes_of::<T>(mul(n, c).saturating_mul(p as u128));
        let order = |n: usize, kind: KernelKind| kind.order(n, c);
        match *self {
            Request::Parameters => bytes_of::<T>(p as u128),
            Request::ForwardPass { n } => forward(n),
            Request::DropoutPass { n } => forward(n).saturating_add(values(n, hidden)),
            Request::Signals { n } => signals(n),
            Request::Jacobian { n } => signals(n).saturating_add(jacobian(n)),
            Request::ForwardJacobian { n } => {
                forward(n).saturating_add(jacobian(n).saturating_mul(2))
            }
            Request::Kernel { n, kind, route } => {
                let m = order(n, kind);
                let k = bytes_of::<T>(mul(m, m));
                match route {
                    Route::Factorised => signals(n).saturating_add(k),
                    Route::Explicit => Request::Jacobian { n }
                        .bytes::<T>(arch)
                        .saturating_add(k.saturating_mul(2)),
                }
            }
            Request::CrossKernel {
                n1,
                n2,
                kind,
                route,
            } => {
                let k = bytes_of::<T>(mul(order(n1, kind), order(n2, kind)));
                match route {
                    Route::Factorised => signals(n1)
                        .saturating_add(signals(n2))
                        .saturating_add(k.saturating_mul(3))
                        .saturating_add(bytes_of::<T>(mul(n1, n2))),
                    Route::Explicit => Request::Jacobian { n: n1 }
                        .bytes::<T>(arch)
                        .saturating_add(Request::Jacobian { n: n2 }.bytes::<T>(arch))
                        .saturating_add(k),
                }
            }
            Request::Hvp { n } => {
                let blocks = n.div_ceil(HVP_BLOCK).saturating_add(1);
                bytes_of::<T>(mul(blocks, p).saturating_add(mul(n, c)))
            }
        }
    }

    /// `Ok` when the request fits within [`memory_limit`], else [`Error::TooLarge`] with its
    /// description and bytes.
    pub fn check<T: Float>(&self, arch: &Architecture) -> Result<()> {
        let bytes = self.bytes::<T>(arch);
        if bytes <= memory_limit() as u128 {
            return Ok(());
        }
        check_bytes(&self.describe(arch), bytes)
    }

    /// What the request is, with the sizes it depends on.
    fn describe(&self, arch: &Architecture) -> String {
        let (c, p) = (arch.output_dim(), arch.n_params());
        let route = |r: Route| match r {
            Route::Explicit => "explicit",
            Route::Factorised => "factorised",
        };
        match *self {
            Request::Parameters => format!("parameters (P = {p})"),
            Request::ForwardPass { n } => {
                format!("forward pass (N = {n}, widths {:?})", arch.widths())
            }
            Request::DropoutPass { n } => {
                format!("dropout pass (N = {n}, widths {:?})", arch.widths())
            }
            Request::Signals { n } => {
                format!("signals (N = {n}, C = {c}, widths {:?})", arch.widths())
            }
            Request::Jacobian { n } => format!("explicit Jacobian (N = {n}, C = {c}, P = {p})"),
            Request::ForwardJacobian { n } => {
                format!("forward-mode Jacobian (N = {n}, C = {c}, P = {p})")
            }
            Request::Kernel { n, kind, route: r } => format!(
                "{} {} kernel of order {} (N = {n}, C = {c})",
                route(r),
                kind.name(),
                kind.order(n, c)
            ),
            Request::CrossKernel {
                n1,
                n2,
                kind,
                route: r,
            } => format!(
                "{} {} cross kernel of {} × {} (N₁ = {n1}, N₂ = {n2}, C = {c})",
                route(r),
                kind.name(),
                kind.order(n1, c),
                kind.order(n2, c)
            ),
            Request::Hvp { n } => format!("Hessian-vector product (N = {n}, P = {p})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Activation;

    #[test]
    fn estimates_follow_the_documented_formulas() {
        // d = 3, hidden 5 and 4, C = 2: P = 5·4 + 4·6 + 2·5 = 54, H = 9.
        let arch =
            Architecture::new(3, &[(5, Activation::Tanh), (4, Activation::Relu)], 2).unwrap();
        assert_eq!(arch.n_params(), 54);
        let n = 7u128;
        let forward = 8 * n * ((3 + 5 + 4) + (5 + 4 + 2) + 2 * 9);
        let signals = forward + 8 * n * 2 * 9;
        let jacobian = signals + 8 * n * 2 * 54;
        let bytes = |r: Request| r.bytes::<f64>(&arch);
        assert_eq!(Request::Parameters.bytes::<f32>(&arch), 4 * 54);
        assert_eq!(bytes(Request::ForwardPass { n: 7 }), forward);
        assert_eq!(bytes(Request::DropoutPass { n: 7 }), forward + 8 * n * 9);
        assert_eq!(bytes(Request::Signals { n: 7 }), signals);
        assert_eq!(bytes(Request::Jacobian { n: 7 }), jacobian);
        assert_eq!(
            bytes(Request::ForwardJacobian { n: 7 }),
            forward + 2 * 8 * n * 2 * 54
        );
        let (full, traced) = (KernelKind::Full, KernelKind::Traced);
        let kernel = |kind, route| bytes(Request::Kernel { n: 7, kind, route });
        assert_eq!(kernel(full, Route::Factorised), signals + 8 * 14 * 14);
        assert_eq!(kernel(traced, Route::Explicit), jacobian + 2 * 8 * 7 * 7);
        let cross = |route| {
            bytes(Request::CrossKernel {
                n1: 7,
                n2: 3,
                kind: full,
                route,
            })
        };
        let signals3 = 8 * 3 * (((3 + 5 + 4) + (5 + 4 + 2) + 2 * 9) + 2 * 9);
        assert_eq!(
            cross(Route::Factorised),
            signals + signals3 + 8 * (3 * 14 * 6 + 7 * 3)
        );
        assert_eq!(
            cross(Route::Explicit),
            jacobian + signals3 + 8 * 3 * 2 * 54 + 8 * 14 * 6
        );
        assert_eq!(bytes(Request::Hvp { n: 40 }), 8 * ((3 + 1) * 54 + 40 * 2));
        // Sizes past u128 saturate instead of wrapping.
        let huge = Request::Kernel {
            n: usize::MAX,
            kind: full,
            route: Route::Explicit,
        };
        assert_eq!(huge.bytes::<f64>(&arch), u128::MAX);
        assert!(matches!(
            huge.check::<f64>(&arch),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn the_limit_never_exceeds_isize_max() {
        // Only raised here (other unit tests may allocate meanwhile), then reset.
        set_memory_limit(Some(usize::MAX));
        assert_eq!(memory_limit(), isize::MAX as usize);
        set_memory_limit(None);
        assert_eq!(
            memory_limit(),
            physical_memory()
                .unwrap_or(usize::MAX)
                .min(isize::MAX as usize)
        );
        assert_eq!(bytes_of::<f32>(u128::MAX), u128::MAX);
    }
}
