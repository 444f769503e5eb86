//! What one epoch recorded: evaluations, penalties, observers' scalar metrics and typed MGS
//! measurements.
//!
//! ```
//! use faer::Mat;
//! use mgs::kernel::KernelKind;
//! use mgs::train::{MgsMonitor, ObserveMode, TrainConfig, Trainer};
//! use mgs::{Activation, Architecture, DatasetView, Init, Mlp, rng_from_seed};
//! let x = Mat::from_fn(16, 2, |i, j| ((i * 3 + j) % 5) as f64 - 2.0);
//! let y: Vec<usize> = (0..16).map(|i| i % 2).collect();
//! let arch = Architecture::new(2, &[(6, Activation::Tanh)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(0))?;
//! let monitor = MgsMonitor::new(&[KernelKind::Traced], 1e-6)?.with_probe("train", x.subrows(0, 8))?;
//! let config = TrainConfig { epochs: 2, batch_size: 8, ..TrainConfig::default() };
//! let history = Trainer::new(mlp, config, DatasetView::classification(x.as_ref(), &y)?)?
//!     .with_observer(monitor, ObserveMode::Every(1))?
//!     .run()?;
//! let epoch = &history.epochs[1];
//! assert!(epoch.train.accuracy.is_some()); // class labels: accuracy is measured
//! let mgs = &epoch.mgs[0]; // typed: probe, kernel kind, summaries
//! assert_eq!((mgs.probe.as_str(), mgs.kernel), ("train", KernelKind::Traced));
//! assert!(mgs.summary.trace > 0.0 && mgs.summary.cosine_mean <= 1.0);
//! assert!(mgs.summary.effective_rank.is_some_and(|r| r >= 1.0)); // the spectrum, by default
//! // The string form exists only as a column name of the CSV export.
//! assert!(history.to_csv().lines().next().unwrap().contains("mgs.train.traced.logdet"));
//! # Ok::<(), mgs::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::json;
use crate::kernel::KernelKind;

/// Losses and (for class targets) accuracy of the model on a data set, in evaluation mode (no
/// dropout, noise, mixup or label smoothing).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean evaluation-mode value of the run's loss ([`Loss::evaluate`](super::Loss::evaluate)).
    #[serde(with = "json::f64")]
    pub loss: f64,
    /// Mean softmax cross-entropy of the outputs read as logits, for class targets: the same
    /// yardstick for every loss, so that selection can treat every method alike.
    pub cross_entropy: Option<f64>,
    /// Fraction classified correctly, for class targets.
    pub accuracy: Option<f64>,
}

/// Summaries of one MGS kernel (computed in `f64`; see [`crate::metrics`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KernelSummary {
    /// `tr(K)/m`.
    #[serde(with = "json::f64")]
    pub trace: f64,
    /// `(1/m) log det K_ε`.
    #[serde(with = "json::f64")]
    pub logdet: f64,
    /// `logdet − log τ`: scale-free; lower means more similar gradients.
    #[serde(with = "json::f64")]
    pub normalized_logdet: f64,
    /// Mean off-diagonal cosine similarity.
    #[serde(with = "json::f64")]
    pub cosine_mean: f64,
    /// `(1/m) log det(K̂ + ε I)` of the cosine kernel.
    #[serde(with = "json::f64")]
    pub cosine_logdet: f64,
    /// `exp` of the spectral entropy (when the spectrum was computed).
    pub effective_rank: Option<f64>,
    /// `λ_max(K_ε)/λ_min(K_ε)` (when the spectrum was computed).
    pub condition_number: Option<f64>,
}

impl KernelSummary {
    /// The value of `summary` (`None` for a spectral summary that was not computed).
    #[must_use]
    pub fn get(&self, summary: Summary) -> Option<f64> {
        match summary {
            Summary::Trace => Some(self.trace),
            Summary::LogDet => Some(self.logdet),
            Summary::NormalizedLogDet => Some(self.normalized_logdet),
            Summary::CosineMean => Some(self.cosine_mean),
            Summary::CosineLogDet => Some(self.cosine_logdet),
            Summary::EffectiveRank => self.effective_rank,
            Summary::ConditionNumber => self.condition_number,
        }
    }
}

/// One of the summaries of a [`KernelSummary`], to name it in code (a selection rule, a table)
/// without a string. [`name`](Self::name) is the field's name, which is also its CSV column's
/// last part and its serde form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Summary {
    /// [`KernelSummary::trace`].
    Trace,
    /// [`KernelSummary::logdet`].
    #[serde(rename = "logdet")]
    LogDet,
    /// [`KernelSummary::normalized_logdet`].
    #[serde(rename = "normalized_logdet")]
    NormalizedLogDet,
    /// [`KernelSummary::cosine_mean`].
    CosineMean,
    /// [`KernelSummary::cosine_logdet`].
    #[serde(rename = "cosine_logdet")]
    CosineLogDet,
    /// [`KernelSummary::effective_rank`] (spectral).
    EffectiveRank,
    /// [`KernelSummary::condition_number`] (spectral).
    ConditionNumber,
}

impl Summary {
    /// Every summary, in the order of the [`KernelSummary`] fields (and of the CSV columns).
    pub const ALL: [Summary; 7] = [
        Summary::Trace,
        Summary::LogDet,
        Summary::NormalizedLogDet,
        Summary::CosineMean,
        Summary::CosineLogDet,
        Summary::EffectiveRank,
        Summary::ConditionNumber,
    ];

    /// The field's name (e.g. `"normalized_logdet"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Summary::Trace => "trace",
            Summary::LogDet => "logdet",
            Summary::NormalizedLogDet => "normalized_logdet",
            Summary::CosineMean => "cosine_mean",
            Summary::CosineLogDet => "cosine_logdet",
            Summary::EffectiveRank => "effective_rank",
            Summary::ConditionNumber => "condition_number",
        }
    }
}

/// Writes [`Summary::name`].
impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One layer's term `K_l` of the factorised kernel `K = Σ_l K_l`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerSummary {
    /// `tr(K_l)/tr(K)`: the layer's share of the mean squared gradient norm (shares sum to 1).
    #[serde(with = "json::f64")]
    pub trace_share: f64,
    /// The layer term's own normalised log-determinant: how similar the gradients of this
    /// layer's parameters are.
    #[serde(with = "json::f64")]
    pub normalized_logdet: f64,
}

/// MGS of one kernel kind on one named probe set, measured after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MgsRecord {
    /// The probe set's name (e.g. `"clean_train"`).
    pub probe: String,
    /// The kernel.
    pub kernel: KernelKind,
    /// Summaries of the whole kernel.
    pub summary: KernelSummary,
    /// Per-layer decomposition, first layer first (empty unless requested).
    pub layers: Vec<LayerSummary>,
}

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: usize,
    /// Learning rate used in this epoch.
    pub lr: f64,
    /// Mean training-mode data loss over the epoch's batches (each taken before its step,
    /// weighted by batch size; with dropout, noise, mixup and label smoothing as configured).
    pub train_loss: f64,
    /// Evaluation on the whole training set at the end of the epoch.
    pub train: Evaluation,
    /// Evaluation on the validation set, if one was given.
    pub val: Option<Evaluation>,
    /// Evaluation on the test set, if one was given.
    pub test: Option<Evaluation>,
    /// Whether this epoch's parameters are the loop's new selection (lowest validation loss so
    /// far, by more than the early-stopping `min_delta` when early stopping is on).
    pub new_best: bool,
    /// Mean value of each regulariser's penalty over the epoch's steps, by name.
    #[serde(with = "json::named")]
    pub penalties: Vec<(String, f64)>,
    /// Scalar metrics that observers recorded after this epoch (empty when none ran).
    #[serde(with = "json::named")]
    pub metrics: Vec<(String, f64)>,
    /// MGS measurements that observers recorded after this epoch.
    pub mgs: Vec<MgsRecord>,
    /// Wall-clock seconds spent on this epoch (training, evaluation, observers).
    pub wall_time_s: f64,
}

impl EpochRecord {
    /// The MGS record of `kernel` on the probe named `probe`, if one was measured.
    #[must_use]
    pub fn mgs(&self, probe: &str, kernel: KernelKind) -> Option<&MgsRecord> {
        self.mgs
            .iter()
            .find(|m| m.probe == probe && m.kernel == kernel)
    }

    /// One line for progress displays.
    #[must_use]
    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "epoch {:>4}  lr {:.3e}  train {:.6}",
            self.epoch, self.lr, self.train_loss
        );
        for (name, ev) in [("val", self.val), ("test", self.test)] {
            if let Some(ev) = ev {
                line.push_str(&format!("  {name} {:.6}", ev.loss));
                if let Some(a) = ev.accuracy {
                    line.push_str(&format!(" ({:.2}%)", 100.0 * a));
                }
            }
        }
        for (name, v) in &self.metrics {
            line.push_str(&format!("  {name} {v:.4e}"));
        }
        for m in &self.mgs {
            line.push_str(&format!(
                "  {}.{}.nlogdet {:.4}",
                m.probe,
                m.kernel.name(),
                m.summary.normalized_logdet
            ));
        }
        line.push_str(&format!("  {:.2}s", self.wall_time_s));
        line
    }
}
