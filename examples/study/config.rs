//! What the study runs: methods with their hyperparameters, settings, and the sizes of the full
//! and quick studies.

use serde::Serialize;

/// A training method: no regulariser, or one regulariser with its hyperparameter. Serialised
/// as `{"family": <Method::family>, "value": <hyperparameter>}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "family", content = "value", rename_all = "snake_case")]
pub enum Method {
    /// Plain Adam, no regulariser.
    None,
    /// Coupled L2 penalty `λ/2 ‖θ‖²` added to the loss.
    L2(f64),
    /// Decoupled weight decay (AdamW) `λ`.
    #[serde(rename = "adamw")]
    AdamW(f64),
    /// Dropout rate on the hidden activations.
    Dropout(f64),
    /// Standard deviation of Gaussian noise added to the (standardised) inputs.
    InputNoise(f64),
    /// Label smoothing `ε`.
    LabelSmoothing(f64),
    /// Early stopping on the validation loss with this patience (best parameters restored).
    EarlyStopping(usize),
    /// MGS penalty: weight × (1/m) log det of the traced kernel of a batch subset.
    #[serde(rename = "mgs_logdet")]
    MgsLogDet(f64),
    /// MGS penalty: weight × normalised log-det (scale-free) of the traced kernel.
    #[serde(rename = "mgs_nlogdet")]
    MgsNormLogDet(f64),
}

impl Method {
    /// Short name of the family (one per regulariser).
    pub fn family(&self) -> &'static str {
        match self {
            Method::None => "none",
            Method::L2(_) => "l2",
            Method::AdamW(_) => "adamw",
            Method::Dropout(_) => "dropout",
            Method::InputNoise(_) => "input_noise",
            Method::LabelSmoothing(_) => "label_smoothing",
            Method::EarlyStopping(_) => "early_stopping",
            Method::MgsLogDet(_) => "mgs_logdet",
            Method::MgsNormLogDet(_) => "mgs_nlogdet",
        }
    }

    /// The hyperparameter's name and value, if the method has one.
    pub fn hyper(&self) -> Option<(&'static str, f64)> {
        match *self {
            Method::None => None,
            Method::L2(v) => Some(("lambda", v)),
            Method::AdamW(v) => Some(("weight_decay", v)),
            Method::Dropout(v) => Some(("rate", v)),
            Method::InputNoise(v) => Some(("std", v)),
            Method::LabelSmoothing(v) => Some(("epsilon", v)),
            Method::EarlyStopping(p) => Some(("patience", p as f64)),
            Method::MgsLogDet(v) | Method::MgsNormLogDet(v) => Some(("weight", v)),
        }
    }

    /// The hyperparameter as text (`"-"` when there is none).
    pub fn hyper_text(&self) -> String {
        match self.hyper() {
            None => "-".to_string(),
            Some((name, v)) => format!("{name}={}", short(v)),
        }
    }

    /// `family(hyper)` for progress lines and tables.
    pub fn label(&self) -> String {
        match self.hyper() {
            None => self.family().to_string(),
            Some(_) => format!("{} ({})", self.family(), self.hyper_text()),
        }
    }

    /// Rough cost of one epoch relative to plain training (to schedule long runs first).
    pub fn cost(&self) -> f64 {
        match self {
            Method::MgsLogDet(_) | Method::MgsNormLogDet(_) => 2.6,
            Method::Dropout(_) | Method::InputNoise(_) => 1.2,
            Method::EarlyStopping(_) => 0.6,
            _ => 1.0,
        }
    }
}

/// A number in its shortest readable form (`0.001` → `1e-3`, `0.3` → `0.3`).
pub fn short(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Where the labels or the sample size come from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "level", rename_all = "snake_case")]
pub enum Setting {
    /// Part A: the whole training split, clean labels.
    Clean,
    /// Symmetric label noise at this rate on the training and validation labels.
    Noise(f64),
    /// This many training samples per class, clean labels.
    Samples(usize),
}

impl Setting {
    /// `noise=40%`, `n/class=10`, `clean`.
    pub fn label(&self) -> String {
        match self {
            Setting::Clean => "clean".to_string(),
            Setting::Noise(p) => format!("noise={:.0}%", 100.0 * p),
            Setting::Samples(n) => format!("n/class={n}"),
        }
    }

    /// A number that identifies the setting in seed derivations.
    pub fn code(&self) -> u64 {
        match *self {
            Setting::Clean => 1,
            Setting::Noise(p) => 1000 + (p * 1000.0).round() as u64,
            Setting::Samples(n) => 10_000 + n as u64,
        }
    }
}

/// The datasets part B can use, in order.
pub const PART_B_DATASETS: [&str; 2] = ["digits", "breast_cancer"];

/// Sizes and grids of one study (full or quick).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// `--quick`.
    pub quick: bool,
    /// Part A: hidden widths (tanh) of the MLP.
    pub a_hidden: Vec<usize>,
    /// Part B: hidden widths (tanh) of the MLP.
    pub b_hidden: Vec<usize>,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Part A: Adam's learning rate (constant).
    pub a_lr: f64,
    /// Part B: Adam's learning rate (constant).
    pub b_lr: f64,
    /// (train, validation, test) fractions of the stratified split.
    pub split: (f64, f64, f64),
    /// Samples drawn from each batch for the MGS penalty.
    pub mgs_subset: usize,
    /// Relative jitter of the MGS penalty (the models are trained in f32).
    pub mgs_jitter: f64,
    /// Relative jitter of the monitored metrics (computed in f64).
    pub monitor_jitter: f64,
    /// Part A: epochs.
    pub a_epochs: usize,
    /// Part A: probe-set size (training samples).
    pub a_probe: usize,
    /// Part A: seeds.
    pub a_seeds: usize,
    /// Part A: the regularisers, each with one fixed strength.
    pub a_methods: Vec<Method>,
    /// Part B: minimum epochs.
    pub b_epochs: usize,
    /// Part B: minimum optimiser steps (small training sets get more epochs).
    pub b_min_steps: usize,
    /// Part B: label-noise rates.
    pub b_noise: Vec<f64>,
    /// Part B: training samples per class.
    pub b_samples: Vec<usize>,
    /// Part B: seeds (hyperparameters are tuned on the first one).
    pub b_seeds: usize,
    /// Part B: datasets.
    pub b_datasets: Vec<String>,
    /// Part B: the methods, each with its grid of hyperparameters.
    pub b_grids: Vec<Vec<Method>>,
}

impl Plan {
    /// The full study (about 15 minutes on 2 cores) or the quick one (seconds).
    pub fn new(quick: bool) -> Self {
        let a_methods = vec![
            Method::None,
            Method::L2(1e-3),
            Method::AdamW(0.5),
            Method::Dropout(0.3),
            Method::InputNoise(0.3),
            Method::LabelSmoothing(0.1),
            Method::EarlyStopping(10),
            Method::MgsLogDet(0.03),
            Method::MgsNormLogDet(0.1),
        ];
        let full_grids = vec![
            vec![Method::None],
            vec![Method::L2(1e-4), Method::L2(1e-3), Method::L2(1e-2)],
            vec![
                Method::Dropout(0.1),
                Method::Dropout(0.3),
                Method::Dropout(0.5),
            ],
            vec![
                Method::LabelSmoothing(0.1),
                Method::LabelSmoothing(0.3),
                Method::LabelSmoothing(0.5),
            ],
            vec![
                Method::EarlyStopping(5),
                Method::EarlyStopping(10),
                Method::EarlyStopping(20),
            ],
            vec![
                Method::MgsLogDet(0.03),
                Method::MgsLogDet(0.1),
                Method::MgsLogDet(0.3),
            ],
            vec![
                Method::MgsNormLogDet(0.1),
                Method::MgsNormLogDet(0.3),
                Method::MgsNormLogDet(0.6),
            ],
        ];
        let datasets = PART_B_DATASETS.iter().map(|s| s.to_string()).collect();
        if quick {
            Self {
                quick,
                a_hidden: vec![32, 32],
                b_hidden: vec![32, 32],
                batch_size: 64,
                a_lr: 1e-3,
                b_lr: 3e-3,
                split: (0.6, 0.2, 0.2),
                mgs_subset: 16,
                mgs_jitter: 1e-4,
                monitor_jitter: 1e-6,
                a_epochs: 3,
                a_probe: 40,
                a_seeds: 1,
                a_methods,
                b_epochs: 2,
                b_min_steps: 8,
                b_noise: vec![0.0, 0.4],
                b_samples: vec![5, 10],
                b_seeds: 2,
                b_datasets: datasets,
                b_grids: full_grids
                    .into_iter()
                    .map(|g| g.into_iter().take(2).collect())
                    .collect(),
            }
        } else {
            Self {
                quick,
                a_hidden: vec![128, 128],
                b_hidden: vec![64, 64],
                batch_size: 64,
                a_lr: 1e-3,
                b_lr: 3e-3,
                split: (0.6, 0.2, 0.2),
                mgs_subset: 32,
                mgs_jitter: 1e-4,
                monitor_jitter: 1e-6,
                a_epochs: 60,
                a_probe: 200,
                a_seeds: 5,
                a_methods,
                b_epochs: 30,
                b_min_steps: 300,
                b_noise: vec![0.0, 0.2, 0.4, 0.6, 0.8],
                b_samples: vec![5, 10, 25, 50],
                b_seeds: 5,
                b_datasets: datasets,
                b_grids: full_grids,
            }
        }
    }

    /// The part B families, in table order.
    pub fn b_families(&self) -> Vec<&'static str> {
        self.b_grids.iter().map(|g| g[0].family()).collect()
    }

    /// Part B settings: noise levels, then sample sizes.
    pub fn b_settings(&self) -> Vec<Setting> {
        let mut s: Vec<Setting> = self.b_noise.iter().map(|&p| Setting::Noise(p)).collect();
        s.extend(self.b_samples.iter().map(|&n| Setting::Samples(n)));
        s
    }
}
