//! The built-in losses as a value that configurations can hold.

use serde::{Deserialize, Serialize};

use super::{
    Bootstrapping, CrossEntropy, EarlyLearning, GeneralizedCrossEntropy, Loss, MeanSquaredError,
    SymmetricCrossEntropy,
};
use crate::{Float, Result};

/// A built-in loss with its hyperparameters (see each loss's documentation for the formulas).
///
/// ```
/// use mgs::train::LossConfig;
/// let sce = LossConfig::SymmetricCrossEntropy { alpha: 0.1, beta: 1.0, log_clip: -4.0 };
/// assert_eq!(sce.build::<f64>()?.name(), "sce");
/// assert!(LossConfig::GeneralizedCrossEntropy { q: 0.0 }.check().is_err());
/// assert!(!LossConfig::MeanSquaredError.is_classification());
/// # Ok::<(), mgs::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LossConfig {
    /// [`CrossEntropy`] with label smoothing `ε ∈ [0, 1]` (0 = off).
    CrossEntropy {
        /// `ε`.
        label_smoothing: f64,
    },
    /// [`MeanSquaredError`].
    MeanSquaredError,
    /// [`GeneralizedCrossEntropy`] (Zhang & Sabuncu 2018), `q ∈ (0, 1]`.
    GeneralizedCrossEntropy {
        /// The exponent `q`.
        q: f64,
    },
    /// [`SymmetricCrossEntropy`] (Wang et al. 2019): `α·CE + β·RCE`.
    SymmetricCrossEntropy {
        /// Weight `α ≥ 0` of the cross-entropy.
        alpha: f64,
        /// Weight `β ≥ 0` of the reverse cross-entropy.
        beta: f64,
        /// `A < 0`, the value of `log 0` in the reverse cross-entropy (paper: −4).
        log_clip: f64,
    },
    /// [`Bootstrapping`] (Reed et al. 2015).
    Bootstrapping {
        /// Weight `β ∈ [0, 1]` of the given target.
        beta: f64,
        /// Hard (argmax) rather than soft (probabilities) self-targets.
        hard: bool,
    },
    /// [`EarlyLearning`] regularisation (ELR, Liu et al. 2020).
    EarlyLearning {
        /// Weight `λ ≥ 0` of the regulariser.
        lambda: f64,
        /// Momentum `β ∈ [0, 1)` of the running targets.
        momentum: f64,
    },
}

impl Default for LossConfig {
    /// Plain cross-entropy: `CrossEntropy { label_smoothing: 0.0 }`.
    fn default() -> Self {
        LossConfig::CrossEntropy {
            label_smoothing: 0.0,
        }
    }
}

impl LossConfig {
    /// Validates the hyperparameters ([`Error::InvalidHyperparameter`](crate::Error)), by the
    /// loss's own constructor.
    pub fn check(&self) -> Result<()> {
        self.build::<f64>().map(drop)
    }

    /// The loss, its hyperparameters checked.
    pub fn build<T: Float>(&self) -> Result<Box<dyn Loss<T>>> {
        Ok(match *self {
            LossConfig::CrossEntropy { label_smoothing } => {
                Box::new(CrossEntropy::new(label_smoothing)?)
            }
            LossConfig::MeanSquaredError => Box::new(MeanSquaredError::new()?),
            LossConfig::GeneralizedCrossEntropy { q } => Box::new(GeneralizedCrossEntropy::new(q)?),
            LossConfig::SymmetricCrossEntropy {
                alpha,
                beta,
                log_clip,
            } => Box::new(SymmetricCrossEntropy::new(alpha, beta, log_clip)?),
            LossConfig::Bootstrapping { beta, hard } => Box::new(Bootstrapping::new(beta, hard)?),
            LossConfig::EarlyLearning { lambda, momentum } => {
                Box::new(EarlyLearning::new(lambda, momentum)?)
            }
        })
    }

    /// The loss's [`name`](Loss::name): `"cross_entropy"`, `"mse"`, `"gce"`, `"sce"`,
    /// `"bootstrap_soft"`, `"bootstrap_hard"` or `"elr"`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            LossConfig::CrossEntropy { .. } => "cross_entropy",
            LossConfig::MeanSquaredError => "mse",
            LossConfig::GeneralizedCrossEntropy { .. } => "gce",
            LossConfig::SymmetricCrossEntropy { .. } => "sce",
            LossConfig::Bootstrapping { hard: false, .. } => "bootstrap_soft",
            LossConfig::Bootstrapping { hard: true, .. } => "bootstrap_hard",
            LossConfig::EarlyLearning { .. } => "elr",
        }
    }

    /// True for the losses on logits that take class labels or soft targets (all but MSE).
    #[must_use]
    pub fn is_classification(&self) -> bool {
        !matches!(self, LossConfig::MeanSquaredError)
    }
}
