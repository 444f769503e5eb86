//! Every metric against its definition on small matrices with known spectra.

use faer::{Mat, Par};
use mgs::Error;
use mgs::metrics::{self, MetricsConfig};

/// `Q diag(λ) Qᵀ` with a fixed rotation `Q` (Householder reflection of a fixed vector).
fn with_spectrum(lambda: &[f64]) -> Mat<f64> {
    let m = lambda.len();
    let v: Vec<f64> = (0..m).map(|i| (i as f64 + 1.0).sqrt()).collect();
    let vv: f64 = v.iter().map(|x| x * x).sum();
    let q = Mat::from_fn(
        m,
        m,
        |i, j| if i == j { 1.0 } else { 0.0 } - 2.0 * v[i] * v[j] / vv,
    );
    Mat::from_fn(m, m, |i, j| {
        (0..m).map(|k| q[(i, k)] * lambda[k] * q[(j, k)]).sum()
    })
}

#[test]
fn logdet_is_mean_log_of_jittered_eigenvalues() {
    let lambda = [0.5, 1.0, 2.0, 4.0, 8.0];
    let k = with_spectrum(&lambda);
    let eps = 1e-3;
    let tau = lambda.iter().sum::<f64>() / 5.0;
    let want: f64 = lambda.iter().map(|l| (l + eps * tau).ln()).sum::<f64>() / 5.0;
    let got = metrics::logdet(k.as_ref(), eps, Par::Seq).unwrap();
    assert!((got - want).abs() < 1e-13, "{got} vs {want}");
    let norm = metrics::normalized_logdet(k.as_ref(), eps, Par::Seq).unwrap();
    assert!((norm - (want - tau.ln())).abs() < 1e-13);
    assert!((metrics::trace(k.as_ref()).unwrap() - tau).abs() < 1e-13);
    let eig = metrics::eigenvalues(k.as_ref(), Par::Seq).unwrap();
    for (a, b) in eig.iter().zip(lambda) {
        assert!((a - b).abs() < 1e-12);
    }
    let cond = metrics::condition_number(k.as_ref(), eps, Par::Seq).unwrap();
    assert!((cond - (8.0 + eps * tau) / (0.5 + eps * tau)).abs() < 1e-10);
}

#[test]
fn effective_rank_of_known_spectra() {
    assert!((metrics::effective_rank(&[1.0, 1.0, 1.0, 1.0]).unwrap() - 4.0).abs() < 1e-14);
    assert!((metrics::effective_rank(&[0.0, 0.0, 3.0]).unwrap() - 1.0).abs() < 1e-14);
    // p = (1/4, 3/4): exp(H)
    let h: f64 = -(0.25f64 * 0.25f64.ln() + 0.75 * 0.75f64.ln());
    assert!((metrics::effective_rank(&[1.0, 3.0]).unwrap() - h.exp()).abs() < 1e-14);
    // Negative round-off eigenvalues count as zero.
    assert!((metrics::effective_rank(&[-1e-17, 2.0, 2.0]).unwrap() - 2.0).abs() < 1e-14);
}

#[test]
fn normalized_logdet_bounds_and_cosine_statistics() {
    // Orthogonal equal norms: normalised log-det = log(1+ε), cosine mean 0.
    let eps = 1e-4;
    let k = Mat::<f64>::from_fn(3, 3, |i, j| if i == j { 2.5 } else { 0.0 });
    let all = metrics::metrics(
        k.as_ref(),
        &MetricsConfig {
            jitter: eps,
            spectrum: true,
            ..MetricsConfig::default()
        },
        Par::Seq,
    )
    .unwrap();
    assert!((all.normalized_logdet - (1.0 + eps).ln()).abs() < 1e-14);
    assert_eq!(all.cosine_mean, 0.0);
    assert!((all.cosine_logdet - (1.0 + eps).ln()).abs() < 1e-14);
    // Two gradients g and 2g (perfectly aligned): cosine kernel all ones.
    let k = Mat::<f64>::from_fn(2, 2, |i, j| [[1.0, 2.0], [2.0, 4.0]][i][j]);
    assert!((metrics::cosine_mean(k.as_ref()).unwrap() - 1.0).abs() < 1e-15);
    // det(ones + εI) = ε(2 + ε)
    let want = (eps * (2.0 + eps)).ln() / 2.0;
    assert!((metrics::cosine_logdet(k.as_ref(), eps, Par::Seq).unwrap() - want).abs() < 1e-12);
    // Aligned gradients: spectrum {0, 5}, τ = 2.5, so the normalised log-det is
    // (ln(ετ) + ln(5 + ετ))/2 − ln τ, far below the orthogonal value log(1+ε).
    let tau: f64 = 2.5;
    let want = ((eps * tau).ln() + (5.0 + eps * tau).ln()) / 2.0 - tau.ln();
    let n = metrics::normalized_logdet(k.as_ref(), eps, Par::Seq).unwrap();
    assert!((n - want).abs() < 1e-12, "{n} vs {want}");
    assert!(n < -4.0);
    // A cosine value from its definition.
    let k = Mat::<f64>::from_fn(2, 2, |i, j| [[4.0, 1.0], [1.0, 9.0]][i][j]);
    assert!((metrics::cosine_mean(k.as_ref()).unwrap() - 1.0 / 6.0).abs() < 1e-15);
}

#[test]
fn metrics_struct_agrees_with_single_metric_functions() {
    let k = with_spectrum(&[0.1, 0.7, 1.3, 2.0, 5.0, 9.0]);
    let eps = 1e-6;
    let all = metrics::metrics(k.as_ref(), &MetricsConfig::default(), Par::Seq).unwrap();
    assert_eq!(all.order, 6);
    assert_eq!(
        all.logdet,
        metrics::logdet(k.as_ref(), eps, Par::Seq).unwrap()
    );
    assert_eq!(all.cosine_mean, metrics::cosine_mean(k.as_ref()).unwrap());
    assert_eq!(
        all.cosine_logdet,
        metrics::cosine_logdet(k.as_ref(), eps, Par::Seq).unwrap()
    );
    let s = all.spectrum.unwrap();
    assert_eq!(
        s.effective_rank,
        metrics::effective_rank(&s.eigenvalues).unwrap()
    );
    let cheap = metrics::metrics(
        k.as_ref(),
        &MetricsConfig {
            jitter: eps,
            spectrum: false,
            ..MetricsConfig::default()
        },
        Par::Seq,
    )
    .unwrap();
    assert!(cheap.spectrum.is_none());
    assert_eq!(cheap.logdet, all.logdet);
}

#[test]
fn metric_errors() {
    let k = Mat::<f64>::identity(3, 3);
    assert!(matches!(
        metrics::logdet(k.as_ref(), 0.0, Par::Seq),
        Err(Error::InvalidHyperparameter { name: "jitter", .. })
    ));
    assert!(matches!(
        metrics::logdet(k.as_ref(), f64::NAN, Par::Seq),
        Err(Error::InvalidHyperparameter { .. })
    ));
    let rect = Mat::<f64>::zeros(2, 3);
    assert!(matches!(
        metrics::trace(rect.as_ref()),
        Err(Error::ShapeMismatch { .. })
    ));
    let empty = Mat::<f64>::zeros(0, 0);
    assert!(matches!(
        metrics::trace(empty.as_ref()),
        Err(Error::EmptyBatch { .. })
    ));
    let mut nan = Mat::<f64>::identity(2, 2);
    nan[(1, 0)] = f64::NAN;
    assert!(matches!(
        metrics::trace(nan.as_ref()),
        Err(Error::NonFinite {
            what: "kernel",
            index: 2
        })
    ));
    // Strongly indefinite: the relative jitter cannot rescue it.
    let indefinite = Mat::<f64>::from_fn(2, 2, |i, j| [[1.0, 3.0], [3.0, 1.0]][i][j]);
    assert!(matches!(
        metrics::logdet(indefinite.as_ref(), 1e-6, Par::Seq),
        Err(Error::NotPositiveDefinite { order: 2, .. })
    ));
    assert!(matches!(
        metrics::effective_rank(&[]),
        Err(Error::EmptyBatch { .. })
    ));
    assert!(matches!(
        metrics::effective_rank(&[f64::INFINITY]),
        Err(Error::NonFinite { .. })
    ));
}
