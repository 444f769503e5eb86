//! Where the labels and the training-set size come from: a study *setting*, and the datasets.

use mgs::data::LabelNoise;
use serde::{Deserialize, Serialize};

/// The bundled datasets the study can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetId {
    /// MNIST-1D, 10 000 × 40, 10 classes (own 2 000-sample test split).
    Mnist1d,
    /// UCI optical digits, 5 620 × 64, 10 classes (own writer-independent test part).
    Optdigits,
    /// A 5 000-sample MNIST subset, 784 features, 10 classes.
    Mnist5k,
    /// UCI letter, 20 000 × 16, 26 classes.
    Letter,
    /// scikit-learn's digits (the optdigits test part), 1 797 × 64.
    Digits,
}

impl DatasetId {
    /// Every dataset, in the order of the tables.
    pub const ALL: [DatasetId; 5] = [
        DatasetId::Mnist1d,
        DatasetId::Optdigits,
        DatasetId::Mnist5k,
        DatasetId::Letter,
        DatasetId::Digits,
    ];

    /// The name used on the command line, in file names and tables.
    pub fn name(self) -> &'static str {
        match self {
            DatasetId::Mnist1d => "mnist1d",
            DatasetId::Optdigits => "optdigits",
            DatasetId::Mnist5k => "mnist5k",
            DatasetId::Letter => "letter",
            DatasetId::Digits => "digits",
        }
    }

    /// The dataset named `name`.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|d| d.name()).collect();
                format!("unknown dataset {name:?} (expected one of {names:?})")
            })
    }

    /// `(features, classes)`, for the time estimate before loading (checked when loaded).
    pub fn shape(self) -> (usize, usize) {
        match self {
            DatasetId::Mnist1d => (40, 10),
            DatasetId::Optdigits | DatasetId::Digits => (64, 10),
            DatasetId::Mnist5k => (784, 10),
            DatasetId::Letter => (16, 26),
        }
    }

    /// A stable number for seed derivations.
    pub fn code(self) -> u64 {
        match self {
            DatasetId::Mnist1d => 11,
            DatasetId::Optdigits => 12,
            DatasetId::Mnist5k => 13,
            DatasetId::Letter => 14,
            DatasetId::Digits => 15,
        }
    }
}

/// One study setting: label noise of a kind and rate (on the training and validation labels,
/// never on the test labels), or a few clean training samples per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Setting {
    /// Symmetric noise: `percent` % of the labels moved to a uniformly chosen other class.
    Symmetric {
        /// Noise rate in percent.
        percent: u32,
    },
    /// Pair-flip noise: `percent` % of the labels moved from class `c` to `c + 1 mod C`.
    PairFlip {
        /// Noise rate in percent.
        percent: u32,
    },
    /// `k` clean training samples per class.
    PerClass {
        /// Samples per class.
        k: usize,
    },
}

impl Setting {
    /// `sym 40%`, `pair 40%`, `10/class`.
    pub fn label(self) -> String {
        match self {
            Setting::Symmetric { percent } => format!("sym {percent}%"),
            Setting::PairFlip { percent } => format!("pair {percent}%"),
            Setting::PerClass { k } => format!("{k}/class"),
        }
    }

    /// `sym40`, `pair40`, `k10` (file names, CSV cells).
    pub fn key(self) -> String {
        match self {
            Setting::Symmetric { percent } => format!("sym{percent}"),
            Setting::PairFlip { percent } => format!("pair{percent}"),
            Setting::PerClass { k } => format!("k{k}"),
        }
    }

    /// The noise kind and rate, if labels are corrupted (rate > 0).
    pub fn noise(self) -> Option<(LabelNoise, f64)> {
        match self {
            Setting::Symmetric { percent } if percent > 0 => {
                Some((LabelNoise::Symmetric, f64::from(percent) / 100.0))
            }
            Setting::PairFlip { percent } if percent > 0 => {
                Some((LabelNoise::PairFlip, f64::from(percent) / 100.0))
            }
            _ => None,
        }
    }

    /// Training samples per class, for the few-sample settings.
    pub fn per_class(self) -> Option<usize> {
        match self {
            Setting::PerClass { k } => Some(k),
            _ => None,
        }
    }

    /// True for the settings claim 3's verdict counts: noisy labels or few samples.
    pub fn is_hard(self) -> bool {
        self.noise().is_some() || self.per_class().is_some()
    }

    /// A stable number for seed derivations.
    pub fn code(self) -> u64 {
        match self {
            Setting::Symmetric { percent } => 1_000 + u64::from(percent),
            Setting::PairFlip { percent } => 2_000 + u64::from(percent),
            Setting::PerClass { k } => 3_000 + k as u64,
        }
    }
}
