//! A label-free selection (and optional stopping) rule read from MGS curves.

use serde::{Deserialize, Serialize};

use super::super::{Control, EpochRecord, Observation, Observer, Summary, json};
use crate::kernel::KernelKind;
use crate::{Error, Float, Mlp, Result};

/// Which turn of the smoothed curve the rule selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Extremum {
    /// The lowest smoothed value (for log-determinants: the most similar gradients).
    #[default]
    Minimum,
    /// The highest smoothed value (for the mean cosine: the most similar gradients).
    Maximum,
}

/// The rule's state between epochs (what a checkpoint stores).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct SelectorState {
    #[serde(with = "json::f64")]
    smoothed: f64,
    measured: usize,
    best_epoch: Option<usize>,
    #[serde(with = "json::f64")]
    best_value: f64,
    since_best: usize,
    #[serde(with = "json::vec")]
    params: Vec<f64>,
}

/// Selects a checkpoint without labels, from an MGS curve that an [`MgsMonitor`](super::MgsMonitor)
/// attached before it records (MGS depends on the inputs only).
///
/// **The rule.** Let `m_t` be the chosen [`Summary`] (e.g. the normalised log-determinant) of
/// the chosen kernel on the chosen probe set at the `t`-th measurement, and `s_t` its exponential
/// moving average, `s_1 = m_1`, `s_t = β s_{t−1} + (1 − β) m_t` (`β ∈ [0, 1)`, 0 = no
/// smoothing). Among the measurements after epoch `warmup_epochs − 1`, the rule selects the epoch
/// where `s_t` reaches its [`Extremum`] (the first on ties) and keeps that epoch's parameters. The turn is
/// *confirmed* after `patience` further measurements without a new extremum; with `stop` the run
/// then ends (a label-free early stopping).
///
/// **Why.** Networks fit patterns shared across samples before they memorise individual samples
/// (the "early-learning" phase under label noise). Shared patterns move many samples' outputs
/// with the same parameter directions — the per-sample gradients align and MGS rises (the
/// normalised log-determinant falls); memorising a wrong label needs a direction of its own, so
/// MGS falls again. The turn of the curve marks the switch, without looking at any label, clean
/// or noisy: the rule cannot be misled by biased (e.g. pair-flipped) validation labels. Whether
/// the curve turns, and in which direction, is an empirical question the study tests; the
/// extremum is configurable for that reason.
#[derive(Debug, Clone)]
pub struct MgsSelector {
    probe: String,
    kernel: KernelKind,
    summary: Summary,
    smoothing: f64,
    extremum: Extremum,
    warmup_epochs: usize,
    patience: usize,
    stop: bool,
    state: SelectorState,
}

impl MgsSelector {
    /// A rule on `summary` of `kernel` on the probe `probe`, smoothed with `β = smoothing`,
    /// selecting the minimum, no warm-up, patience 5, no stop.
    pub fn new(probe: &str, kernel: KernelKind, summary: Summary, smoothing: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&smoothing) {
            return Err(Error::InvalidHyperparameter {
                name: "mgs_selector.smoothing",
                value: smoothing,
                reason: "must lie in [0, 1)",
            });
        }
        Ok(Self {
            probe: probe.to_string(),
            kernel,
            summary,
            smoothing,
            extremum: Extremum::Minimum,
            warmup_epochs: 0,
            patience: 5,
            stop: false,
            state: SelectorState::default(),
        })
    }

    /// Selects the minimum or the maximum of the smoothed curve.
    #[must_use]
    pub fn with_extremum(mut self, extremum: Extremum) -> Self {
        self.extremum = extremum;
        self
    }

    /// Ignores the measurements of the first `epochs` epochs (the smoothing still sees them).
    #[must_use]
    pub fn with_warmup(mut self, epochs: usize) -> Self {
        self.warmup_epochs = epochs;
        self
    }

    /// Measurements (≥ 1) without a new extremum that confirm the turn; with `stop`, the run
    /// ends then.
    pub fn with_patience(mut self, patience: usize, stop: bool) -> Result<Self> {
        if patience == 0 {
            return Err(Error::InvalidHyperparameter {
                name: "mgs_selector.patience",
                value: 0.0,
                reason: "must be >= 1",
            });
        }
        self.patience = patience;
        self.stop = stop;
        Ok(self)
    }

    /// The selected epoch so far (`None` before the first measurement after the warm-up).
    #[must_use]
    pub fn selected_epoch(&self) -> Option<usize> {
        self.state.best_epoch
    }

    /// The smoothed value at the selected epoch.
    #[must_use]
    pub fn selected_value(&self) -> Option<f64> {
        self.state.best_epoch.map(|_| self.state.best_value)
    }

    /// The parameters of the selected epoch (in `f64`; empty before a selection).
    #[must_use]
    pub fn selected_params(&self) -> &[f64] {
        &self.state.params
    }

    /// True once `patience` measurements have passed without a new extremum.
    #[must_use]
    pub fn confirmed(&self) -> bool {
        self.state.best_epoch.is_some() && self.state.since_best >= self.patience
    }

    /// Writes the selected parameters into `mlp` (error before any selection).
    pub fn restore_into<T: Float>(&self, mlp: &mut Mlp<T>) -> Result<()> {
        if self.state.params.is_empty() {
            return Err(Error::EmptyBatch {
                what: "MGS selection (nothing selected yet)",
            });
        }
        let params: Vec<T> = self.state.params.iter().map(|&p| T::from_f64(p)).collect();
        mlp.set_params(&params)
    }

    /// Feeds one measurement `m` taken after `epoch`; returns true if it is a new selection.
    fn update(&mut self, epoch: usize, m: f64) -> bool {
        let st = &mut self.state;
        st.smoothed = if st.measured == 0 {
            m
        } else {
            self.smoothing * st.smoothed + (1.0 - self.smoothing) * m
        };
        st.measured += 1;
        if epoch < self.warmup_epochs || !st.smoothed.is_finite() {
            return false;
        }
        let better = match (st.best_epoch, self.extremum) {
            (None, _) => true,
            (Some(_), Extremum::Minimum) => st.smoothed < st.best_value,
            (Some(_), Extremum::Maximum) => st.smoothed > st.best_value,
        };
        if better {
            st.best_epoch = Some(epoch);
            st.best_value = st.smoothed;
            st.since_best = 0;
        } else {
            st.since_best += 1;
        }
        better
    }
}

impl<T: Float> Observer<T> for MgsSelector {
    fn on_epoch(&mut self, obs: &Observation<'_, T>, record: &mut EpochRecord) -> Result<Control> {
        let Some(m) = record
            .mgs(&self.probe, self.kernel)
            .and_then(|r| r.summary.get(self.summary))
        else {
            return Ok(Control::Continue);
        };
        if self.update(record.epoch, m) {
            let params = obs.mlp.params();
            self.state.params.clear();
            self.state.params.extend(params.iter().map(|p| p.to_f64()));
        }
        record.metrics.push((
            format!(
                "mgs_selector.{}.{}.{}.smoothed",
                self.probe,
                self.kernel.name(),
                self.summary.name()
            ),
            self.state.smoothed,
        ));
        Ok(if self.stop && self.confirmed() {
            Control::Stop
        } else {
            Control::Continue
        })
    }

    fn state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.state).ok()
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<()> {
        self.state = serde_json::from_value(state.clone()).map_err(|e| Error::Format {
            reason: format!("malformed MGS selector state: {e}"),
        })?;
        Ok(())
    }
}
