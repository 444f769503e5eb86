//! The training methods compared by the study, their hyperparameter grids, and how each one is
//! set up in the library (loss, batch transform, regulariser).

use mgs::kernel::KernelKind;
use mgs::penalty::{PenaltyBound, PenaltyConfig, PenaltyMetric};
use mgs::train::{L2Penalty, LossConfig, MgsRegularizer, Mixup, TrainConfig, WeightSchedule};
use serde::{Deserialize, Serialize};

/// A form of the MGS penalty (metric, kernel, subset, schedule, bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MgsForm {
    /// `(1/m) log det K_ε` of the traced kernel on a batch subset.
    LogDet,
    /// The normalised (scale-free) log-det of the traced kernel.
    NormLogDet,
    /// The log-det of the cosine kernel (directions only).
    CosineLogDet,
    /// `tr(K)/m`: the control that acts on gradient *size* only.
    Trace,
    /// Log-det of the centred traced kernel.
    CentredLogDet,
    /// Log-det of the traced kernel of the whole batch (the largest subset a batch allows).
    LogDetBatch,
    /// Log-det with a delayed, ramped weight and a cap on the penalty's gradient norm.
    Scheduled,
    /// Normalised log-det with a hinge: off once it falls below a fixed target.
    Hinge,
    /// Log-det of the full `(N·C) × (N·C)` kernel.
    FullLogDet,
}

impl MgsForm {
    /// The forms of the default study: the four metrics on one kernel and subset.
    pub const DEFAULT: [MgsForm; 4] = [
        MgsForm::LogDet,
        MgsForm::NormLogDet,
        MgsForm::CosineLogDet,
        MgsForm::Trace,
    ];

    /// The forms of `--full`.
    pub const FULL: [MgsForm; 9] = [
        MgsForm::LogDet,
        MgsForm::NormLogDet,
        MgsForm::CosineLogDet,
        MgsForm::Trace,
        MgsForm::CentredLogDet,
        MgsForm::LogDetBatch,
        MgsForm::Scheduled,
        MgsForm::Hinge,
        MgsForm::FullLogDet,
    ];

    /// Method name in tables: `mgs_logdet`, …
    pub fn name(self) -> &'static str {
        match self {
            MgsForm::LogDet => "mgs_logdet",
            MgsForm::NormLogDet => "mgs_nlogdet",
            MgsForm::CosineLogDet => "mgs_cosine",
            MgsForm::Trace => "mgs_trace",
            MgsForm::CentredLogDet => "mgs_centred",
            MgsForm::LogDetBatch => "mgs_logdet_batch",
            MgsForm::Scheduled => "mgs_scheduled",
            MgsForm::Hinge => "mgs_hinge",
            MgsForm::FullLogDet => "mgs_full",
        }
    }

    /// Relative cost of one step with this penalty, over a plain step (for the time estimate).
    pub fn step_cost(self, subset: usize, batch: usize) -> f64 {
        let s = match self {
            MgsForm::LogDetBatch => batch,
            _ => subset.min(batch),
        } as f64;
        // Pilot (tanh [128, 128], batch 50): +0.9 ms per step for s = 32 and +1.2 ms for
        // s = 50, over a plain step of 0.39 ms.
        let base = 1.0 + 2.5 * (s / 32.0).powf(0.67);
        match self {
            MgsForm::FullLogDet => 1.0 + 10.0 * (base - 1.0),
            _ => base,
        }
    }
}

/// The MGS settings that do not vary within a study.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MgsSettings {
    /// Samples drawn from each batch for the penalty.
    pub subset: usize,
    /// Relative jitter of the penalty (`f32` models).
    pub jitter: f64,
    /// Scheduled form: first epoch with a non-zero weight.
    pub start_epoch: usize,
    /// Scheduled form: epochs of the linear ramp.
    pub warmup_epochs: usize,
    /// Scheduled form: largest ratio of the penalty's gradient norm to the data gradient's.
    pub cap: f64,
    /// Hinge form: the normalised log-det below which the penalty is off.
    pub hinge_target: f64,
}

/// A method and its hyperparameter. Serialised as `{"family": …, "value": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", content = "value", rename_all = "snake_case")]
pub enum Method {
    /// Plain cross-entropy (its selected epoch is "early stopping").
    None,
    /// Coupled L2 penalty `λ/2 ‖θ‖²`.
    L2(f64),
    /// Dropout rate on the hidden activations.
    Dropout(f64),
    /// Label smoothing `ε`.
    LabelSmoothing(f64),
    /// Standard deviation of Gaussian noise on the (standardised) inputs.
    InputNoise(f64),
    /// Mixup with `Beta(α, α)` mixing weights.
    Mixup(f64),
    /// Generalised cross-entropy with exponent `q`.
    Gce(f64),
    /// Symmetric cross-entropy `0.1·CE + β·RCE` (`A = −4`).
    Sce(f64),
    /// Soft bootstrapping with weight `β` of the given label.
    BootstrapSoft(f64),
    /// Hard bootstrapping with weight `β` of the given label.
    BootstrapHard(f64),
    /// The MGS penalty in a form, with its weight.
    Mgs(MgsForm, f64),
}

/// A method family: what is tuned together, one row of the claim-3 tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// No regulariser.
    None,
    /// L2.
    L2,
    /// Dropout.
    Dropout,
    /// Label smoothing.
    LabelSmoothing,
    /// Input noise.
    InputNoise,
    /// Mixup.
    Mixup,
    /// GCE.
    Gce,
    /// SCE.
    Sce,
    /// Bootstrapping (soft and hard).
    Bootstrap,
    /// One MGS form.
    Mgs(MgsForm),
}

/// The baselines of claim 3, in table order (MGS forms follow).
pub const BASELINES: [Family; 9] = [
    Family::None,
    Family::L2,
    Family::Dropout,
    Family::LabelSmoothing,
    Family::InputNoise,
    Family::Mixup,
    Family::Gce,
    Family::Sce,
    Family::Bootstrap,
];

/// The regularisers of claim 2's dose-response test.
pub const DOSE_FAMILIES: [Family; 5] = [
    Family::L2,
    Family::Dropout,
    Family::LabelSmoothing,
    Family::InputNoise,
    Family::Mixup,
];

/// The label-noise baselines that claim 3 compares the MGS penalty with.
pub const NOISE_BASELINES: [Family; 4] =
    [Family::Gce, Family::Sce, Family::Bootstrap, Family::Mixup];

impl Family {
    /// Name in tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Family::None => "none",
            Family::L2 => "l2",
            Family::Dropout => "dropout",
            Family::LabelSmoothing => "label_smoothing",
            Family::InputNoise => "input_noise",
            Family::Mixup => "mixup",
            Family::Gce => "gce",
            Family::Sce => "sce",
            Family::Bootstrap => "bootstrap",
            Family::Mgs(form) => form.name(),
        }
    }

    /// True for the MGS penalty's forms.
    pub fn is_mgs(self) -> bool {
        matches!(self, Family::Mgs(_))
    }

    /// The tuning grid, smallest strength first (`mgs_weights`: the MGS weights).
    pub fn grid(self, mgs_weights: &[f64]) -> Vec<Method> {
        let each = |f: fn(f64) -> Method, v: &[f64]| v.iter().map(|&x| f(x)).collect();
        match self {
            Family::None => vec![Method::None],
            Family::L2 => each(Method::L2, &[1e-5, 1e-4, 1e-3, 1e-2]),
            Family::Dropout => each(Method::Dropout, &[0.1, 0.3, 0.5]),
            Family::LabelSmoothing => each(Method::LabelSmoothing, &[0.1, 0.3, 0.6]),
            Family::InputNoise => each(Method::InputNoise, &[0.1, 0.3, 1.0]),
            Family::Mixup => each(Method::Mixup, &[0.2, 1.0, 4.0]),
            Family::Gce => each(Method::Gce, &[0.3, 0.7, 1.0]),
            Family::Sce => each(Method::Sce, &[0.3, 1.0, 3.0]),
            Family::Bootstrap => vec![
                Method::BootstrapSoft(0.95),
                Method::BootstrapSoft(0.8),
                Method::BootstrapSoft(0.6),
                Method::BootstrapHard(0.8),
            ],
            Family::Mgs(form) => mgs_weights.iter().map(|&w| Method::Mgs(form, w)).collect(),
        }
    }

    /// Claim 2's five strengths (a superset of the tuning grid), weakest first.
    pub fn dose_grid(self) -> Vec<Method> {
        let each = |f: fn(f64) -> Method, v: &[f64]| v.iter().map(|&x| f(x)).collect();
        match self {
            Family::L2 => each(Method::L2, &[1e-5, 1e-4, 1e-3, 1e-2, 1e-1]),
            Family::Dropout => each(Method::Dropout, &[0.1, 0.2, 0.3, 0.5, 0.7]),
            Family::LabelSmoothing => each(Method::LabelSmoothing, &[0.05, 0.1, 0.3, 0.6, 0.8]),
            Family::InputNoise => each(Method::InputNoise, &[0.03, 0.1, 0.3, 1.0, 3.0]),
            Family::Mixup => each(Method::Mixup, &[0.05, 0.2, 1.0, 4.0, 16.0]),
            _ => Vec::new(),
        }
    }

    /// The open/closed range of values a widened grid may use: `(lowest, highest)`.
    fn domain(self) -> (f64, f64) {
        match self {
            Family::Dropout | Family::LabelSmoothing => (1e-3, 0.9),
            Family::Gce => (1e-2, 1.0),
            Family::Bootstrap => (0.05, 0.99),
            _ => (1e-8, 1e4),
        }
    }

    /// One step beyond the grid's edge (`up`: past the largest value, else below the
    /// smallest), by the ratio of the two values at that edge and inside the family's domain;
    /// `None` when the edge is the domain's bound. Bootstrapping widens its soft values only.
    pub fn widen(self, grid: &[Method], up: bool) -> Option<Method> {
        let mut values: Vec<f64> = grid
            .iter()
            .filter(|m| !matches!(m, Method::BootstrapHard(_)))
            .filter_map(|m| m.value())
            .collect();
        values.sort_by(f64::total_cmp);
        if values.len() < 2 {
            return None;
        }
        let n = values.len();
        let (lo, hi) = self.domain();
        let next = if up {
            (values[n - 1] * values[n - 1] / values[n - 2]).min(hi)
        } else {
            (values[0] * values[0] / values[1]).max(lo)
        };
        let beyond = if up {
            next > values[n - 1]
        } else {
            next < values[0]
        };
        let template = grid
            .iter()
            .find(|m| !matches!(m, Method::BootstrapHard(_)))?;
        beyond.then(|| template.with_value(next))
    }
}

/// How a method changes a run: the training configuration, and a regulariser if it has one.
pub enum Regularizer {
    /// Coupled L2.
    L2(L2Penalty),
    /// The MGS penalty.
    Mgs(Box<MgsRegularizer<f32>>),
}

impl Method {
    /// The family.
    pub fn family(&self) -> Family {
        match self {
            Method::None => Family::None,
            Method::L2(_) => Family::L2,
            Method::Dropout(_) => Family::Dropout,
            Method::LabelSmoothing(_) => Family::LabelSmoothing,
            Method::InputNoise(_) => Family::InputNoise,
            Method::Mixup(_) => Family::Mixup,
            Method::Gce(_) => Family::Gce,
            Method::Sce(_) => Family::Sce,
            Method::BootstrapSoft(_) | Method::BootstrapHard(_) => Family::Bootstrap,
            Method::Mgs(form, _) => Family::Mgs(*form),
        }
    }

    /// The hyperparameter, if the method has one.
    pub fn value(&self) -> Option<f64> {
        match *self {
            Method::None => None,
            Method::L2(v)
            | Method::Dropout(v)
            | Method::LabelSmoothing(v)
            | Method::InputNoise(v)
            | Method::Mixup(v)
            | Method::Gce(v)
            | Method::Sce(v)
            | Method::BootstrapSoft(v)
            | Method::BootstrapHard(v)
            | Method::Mgs(_, v) => Some(v),
        }
    }

    /// The same method with another hyperparameter value.
    fn with_value(&self, v: f64) -> Method {
        match *self {
            Method::None => Method::None,
            Method::L2(_) => Method::L2(v),
            Method::Dropout(_) => Method::Dropout(v),
            Method::LabelSmoothing(_) => Method::LabelSmoothing(v),
            Method::InputNoise(_) => Method::InputNoise(v),
            Method::Mixup(_) => Method::Mixup(v),
            Method::Gce(_) => Method::Gce(v),
            Method::Sce(_) => Method::Sce(v),
            Method::BootstrapSoft(_) => Method::BootstrapSoft(v),
            Method::BootstrapHard(_) => Method::BootstrapHard(v),
            Method::Mgs(form, _) => Method::Mgs(form, v),
        }
    }

    /// How strongly the method regularises (ties in tuning go to the smaller strength; claim 2
    /// orders doses by it): the hyperparameter, or `1 − β` for bootstrapping.
    pub fn strength(&self) -> f64 {
        match *self {
            Method::None => 0.0,
            Method::BootstrapSoft(b) | Method::BootstrapHard(b) => 1.0 - b,
            m => m.value().unwrap_or(0.0),
        }
    }

    /// The hyperparameter as text: `λ=1e-3`, `soft β=0.8`, `-`.
    pub fn hyper_text(&self) -> String {
        let v = |name: &str, x: f64| format!("{name}={}", short(x));
        match *self {
            Method::None => "-".to_string(),
            Method::L2(x) => v("λ", x),
            Method::Dropout(x) => v("p", x),
            Method::LabelSmoothing(x) => v("ε", x),
            Method::InputNoise(x) => v("σ", x),
            Method::Mixup(x) => v("α", x),
            Method::Gce(x) => v("q", x),
            Method::Sce(x) => v("β", x),
            Method::BootstrapSoft(x) => format!("soft {}", v("β", x)),
            Method::BootstrapHard(x) => format!("hard {}", v("β", x)),
            Method::Mgs(_, x) => v("w", x),
        }
    }

    /// `family (hyper)` for progress lines.
    pub fn label(&self) -> String {
        match self {
            Method::None => "none".to_string(),
            m => format!("{} ({})", m.family().name(), m.hyper_text()),
        }
    }

    /// Relative cost of one optimiser step over a plain one (for the time estimate).
    pub fn step_cost(&self, mgs: &MgsSettings, batch: usize) -> f64 {
        match self {
            Method::Mgs(form, _) => form.step_cost(mgs.subset, batch),
            Method::Dropout(_) | Method::InputNoise(_) | Method::Mixup(_) => 1.1,
            _ => 1.0,
        }
    }

    /// Sets the method's loss, batch transforms and dropout in `config`, and returns its
    /// regulariser, if it has one.
    pub fn configure(
        &self,
        config: &mut TrainConfig,
        mgs: &MgsSettings,
    ) -> mgs::Result<Option<Regularizer>> {
        match *self {
            Method::None => {}
            Method::L2(lambda) => return Ok(Some(Regularizer::L2(L2Penalty::new(lambda)?))),
            Method::Dropout(p) => config.dropout = p,
            Method::LabelSmoothing(e) => {
                config.loss = LossConfig::CrossEntropy { label_smoothing: e }
            }
            Method::InputNoise(s) => config.input_noise_std = s,
            Method::Mixup(alpha) => config.mixup = Some(Mixup::new(alpha)?),
            Method::Gce(q) => config.loss = LossConfig::GeneralizedCrossEntropy { q },
            Method::Sce(beta) => {
                config.loss = LossConfig::SymmetricCrossEntropy {
                    alpha: 0.1,
                    beta,
                    log_clip: -4.0,
                }
            }
            Method::BootstrapSoft(beta) => {
                config.loss = LossConfig::Bootstrapping { beta, hard: false }
            }
            Method::BootstrapHard(beta) => {
                config.loss = LossConfig::Bootstrapping { beta, hard: true }
            }
            Method::Mgs(form, weight) => {
                let reg = mgs_regularizer(form, weight, mgs)?;
                return Ok(Some(Regularizer::Mgs(Box::new(reg))));
            }
        }
        Ok(None)
    }
}

/// The MGS penalty of `form` with `weight`.
fn mgs_regularizer(
    form: MgsForm,
    weight: f64,
    s: &MgsSettings,
) -> mgs::Result<MgsRegularizer<f32>> {
    let (metric, kernel) = match form {
        MgsForm::NormLogDet | MgsForm::Hinge => {
            (PenaltyMetric::NormalizedLogDet, KernelKind::Traced)
        }
        MgsForm::CosineLogDet => (PenaltyMetric::CosineLogDet, KernelKind::Traced),
        MgsForm::Trace => (PenaltyMetric::Trace, KernelKind::Traced),
        MgsForm::CentredLogDet => (PenaltyMetric::LogDet, KernelKind::CentredTraced),
        MgsForm::FullLogDet => (PenaltyMetric::LogDet, KernelKind::Full),
        MgsForm::LogDet | MgsForm::LogDetBatch | MgsForm::Scheduled => {
            (PenaltyMetric::LogDet, KernelKind::Traced)
        }
    };
    let config = PenaltyConfig {
        metric,
        kernel,
        jitter: s.jitter,
        weight,
        subset: (form != MgsForm::LogDetBatch).then_some(s.subset),
        bound: if form == MgsForm::Hinge {
            PenaltyBound::Hinge {
                target: s.hinge_target,
            }
        } else {
            PenaltyBound::Unbounded
        },
        ..PenaltyConfig::default()
    };
    let reg = MgsRegularizer::new(config)?;
    if form == MgsForm::Scheduled {
        reg.with_schedule(WeightSchedule {
            start_epoch: s.start_epoch,
            warmup_epochs: s.warmup_epochs,
            cap: Some(s.cap),
            ..WeightSchedule::default()
        })
    } else {
        Ok(reg)
    }
}

/// A number in a short readable form (`0.001` → `1e-3`, `0.3` → `0.3`).
pub fn short(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        let s = format!("{v:.2e}");
        // 1.00e-3 → 1e-3, 4.64e-3 stays.
        s.replace(".00e", "e").replace("0e", "e")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(m: Option<Method>) -> Option<f64> {
        m.and_then(|m| m.value())
    }

    #[test]
    fn widening_steps_by_the_edge_ratio_inside_the_domain() {
        let l2 = Family::L2.grid(&[]);
        let up = values(Family::L2.widen(&l2, true)).unwrap();
        let down = values(Family::L2.widen(&l2, false)).unwrap();
        assert!((up - 0.1).abs() < 1e-15, "{up}");
        assert!((down - 1e-6).abs() < 1e-20, "{down}");
        let dropout = Family::Dropout.grid(&[]);
        let up = values(Family::Dropout.widen(&dropout, true)).unwrap();
        assert!((up - 0.25 / 0.3).abs() < 1e-15, "{up}");
        // q = 1 is GCE's domain bound: nothing beyond it.
        assert_eq!(Family::Gce.widen(&Family::Gce.grid(&[]), true), None);
        // Bootstrapping widens its soft values only, capped at 0.99.
        let boot = Family::Bootstrap.grid(&[]);
        assert_eq!(
            Family::Bootstrap.widen(&boot, true),
            Some(Method::BootstrapSoft(0.99))
        );
        let down = values(Family::Bootstrap.widen(&boot, false)).unwrap();
        assert!((down - 0.36 / 0.8).abs() < 1e-15, "{down}");
        assert_eq!(Family::None.widen(&Family::None.grid(&[]), true), None);
    }

    #[test]
    fn strength_orders_bootstrapping_by_one_minus_beta() {
        assert!(Method::BootstrapSoft(0.6).strength() > Method::BootstrapSoft(0.95).strength());
        assert_eq!(Method::None.strength(), 0.0);
        assert_eq!(Method::Mgs(MgsForm::Trace, 0.3).strength(), 0.3);
    }

    #[test]
    fn dose_grids_contain_the_tuning_grids() {
        for f in DOSE_FAMILIES {
            let dose = f.dose_grid();
            assert_eq!(dose.len(), 5, "{}", f.name());
            for m in f.grid(&[]) {
                assert!(dose.contains(&m), "{} {m:?}", f.name());
            }
        }
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(0.001), "1e-3");
        assert_eq!(short(0.0144), "0.0144");
        assert_eq!(short(4.6e-3), "4.6e-3");
        assert_eq!(short(0.3), "0.3");
        assert_eq!(short(3.0), "3");
    }
}
