//! Every `mgs::Error` variant reachable so far, through the public API, with its message.

mod common;

use common::{inputs, model};
use faer::{Mat, Par};
use mgs::derivatives::{jvp, vjp};
use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
use mgs::metrics;
use mgs::{Activation, Architecture, Error, Mlp};

#[test]
fn architecture_and_model_errors() {
    let e = Architecture::new(3, &[(0, Activation::Tanh)], 1).unwrap_err();
    assert!(matches!(e, Error::InvalidArchitecture { .. }));
    assert!(e.to_string().contains("layer 1"));
    let e = Architecture::new(3, &[(4, Activation::LeakyRelu { slope: f64::NAN })], 1).unwrap_err();
    assert!(matches!(
        e,
        Error::InvalidHyperparameter {
            name: "leaky_relu.slope",
            ..
        }
    ));
    let arch = Architecture::new(2, &[(3, Activation::Tanh)], 1).unwrap();
    let e = Mlp::<f64>::from_params(arch.clone(), vec![0.0; 5]).unwrap_err();
    assert_eq!(
        e,
        Error::ShapeMismatch {
            what: "parameters",
            expected: (13, 1),
            found: (5, 1)
        }
    );
    assert!(e.to_string().contains("expected 13x1"));
    let mut p = vec![0.0; 13];
    p[4] = f64::NAN;
    assert_eq!(
        Mlp::<f64>::from_params(arch, p).unwrap_err(),
        Error::NonFinite {
            what: "parameters",
            index: 4
        }
    );
}

#[test]
fn derivative_errors() {
    let mlp = model::<f64>(3, &[(4, Activation::Tanh)], 2, 1);
    let other = model::<f64>(3, &[(5, Activation::Tanh)], 2, 1);
    let x = inputs::<f64>(4, 3, 2);
    let cache = mlp.forward_cached(x.as_ref(), Par::Seq).unwrap();
    let u = Mat::<f64>::zeros(4, 3);
    assert!(matches!(
        vjp(&mlp, &cache, u.as_ref(), Par::Seq),
        Err(Error::ShapeMismatch {
            what: "cotangent",
            ..
        })
    ));
    let u = Mat::<f64>::zeros(4, 2);
    assert!(matches!(
        vjp(&other, &cache, u.as_ref(), Par::Seq),
        Err(Error::InvalidArchitecture { .. })
    ));
    assert!(matches!(
        jvp(&mlp, &cache, Some(&[1.0]), None, Par::Seq),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut v = vec![0.0; mlp.n_params()];
    v[3] = f64::INFINITY;
    assert!(matches!(
        jvp(&mlp, &cache, Some(&v), None, Par::Seq),
        Err(Error::NonFinite { index: 3, .. })
    ));
}

#[test]
fn kernel_errors_and_messages() {
    let mlp = model::<f64>(3, &[(4, Activation::Tanh)], 2, 1);
    let empty = Mat::<f64>::zeros(0, 3);
    let e = kernel(
        &mlp,
        empty.as_ref(),
        None,
        &KernelParams::new(KernelKind::Full, Route::Factorised),
        Par::Seq,
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "inputs is empty");
    let wrong = Mat::<f64>::zeros(2, 4);
    assert!(matches!(
        kernel(
            &mlp,
            wrong.as_ref(),
            None,
            &KernelParams::new(KernelKind::Full, Route::Explicit),
            Par::Seq
        ),
        Err(Error::ShapeMismatch { what: "inputs", .. })
    ));
    let indefinite = Mat::<f64>::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 2.0 });
    let e = metrics::logdet(indefinite.as_ref(), 1e-6, Par::Seq).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotPositiveDefinite {
                order: 2,
                pivot: 1,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("not positive definite"));
}

#[test]
fn eigenvalues_past_f64_max_are_non_finite() {
    // Finite entries near f64::MAX are decomposed scaled; eigenvalues 1e308 + 9e307 are not
    // representable: a clear error, not infinite eigenvalues.
    let k = Mat::<f64>::from_fn(3, 3, |i, j| if i == j { 1e308 } else { -9e307 });
    assert_eq!(
        metrics::eigenvalues(k.as_ref(), Par::Seq).unwrap_err(),
        Error::NonFinite {
            what: "eigenvalues",
            index: 1
        }
    );
}

/// A second batch with other features than the model's inputs: the shape error of the inputs,
/// by both routes.
#[test]
fn cross_kernel_of_a_batch_with_other_features_is_an_error() {
    let mlp = model::<f64>(3, &[(4, Activation::Tanh)], 2, 1);
    let (x, x2) = (inputs::<f64>(4, 3, 2), inputs::<f64>(5, 4, 3));
    for route in [Route::Explicit, Route::Factorised] {
        let params = KernelParams::new(KernelKind::Traced, route);
        let e = kernel(&mlp, x.as_ref(), Some(x2.as_ref()), &params, Par::Seq).unwrap_err();
        assert!(
            matches!(
                e,
                Error::ShapeMismatch {
                    what: "inputs",
                    expected: (5, 3),
                    found: (5, 4),
                }
            ),
            "{route:?}: {e:?}"
        );
    }
}

/// A file that cannot be read: `Error::Io` keeps the operating system's error kind, and returns
/// the error itself from `std::error::Error::source`; a clone equals the original; errors of
/// other kinds have no source.
#[test]
fn io_errors_keep_their_kind_and_source() {
    use std::error::Error as _;
    let path = "/nonexistent/mgs/errors-test.csv";
    let e = mgs::data::load_csv(path, &mgs::data::CsvOptions::default()).unwrap_err();
    let Error::Io { path: p, kind, .. } = &e else {
        panic!("not an I/O error: {e:?}");
    };
    assert_eq!((p.as_str(), *kind), (path, std::io::ErrorKind::NotFound));
    let source = e.source().expect("an I/O error has a source");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("a std::io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(e.to_string().contains(path) && e.to_string().contains(&io.to_string()));
    assert_eq!(e.clone(), e);
    let other = Architecture::new(0, &[(8, Activation::Tanh)], 1).unwrap_err();
    assert!(other.source().is_none());
}

/// Settings that cannot go together, and statistics undefined on their data, have variants of
/// their own whose messages say what refused and why.
#[test]
fn incompatible_settings_and_undefined_statistics_say_so() {
    let mlp = model::<f64>(3, &[(4, Activation::Tanh)], 1, 0);
    let x = inputs::<f64>(5, 3, 1);
    let params = KernelParams::new(KernelKind::CentredFull, Route::Factorised);
    let err = kernel(&mlp, x.as_ref(), None, &params, Par::Seq).unwrap_err();
    assert!(matches!(
        err,
        Error::Incompatible {
            what: "kernel and model",
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "incompatible kernel and model: a centred kernel needs at least 2 outputs (with one it is \
         identically zero)"
    );
    let err = mgs::study::stats::pearson(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "all values are equal (zero variance): the correlation is undefined (y: 0)"
    );
}
