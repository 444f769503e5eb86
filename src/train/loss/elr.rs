//! Early-learning regularisation (ELR).

use faer::{MatMut, MatRef};

use super::cross_entropy::cross_entropy_row;
use super::{
    CrossEntropy, Loss, Softmax, TargetsView, check_classification_targets, check_hyper,
    mean_over_rows,
};
use crate::{Error, Float, Result};

/// Bounds of the clipped probabilities `p̃ = clamp(p, P_MIN, P_MAX)`.
const P_MIN: f64 = 1e-4;
const P_MAX: f64 = 1.0 - 1e-4;

/// Tolerance on the row sums (≤ 1) of a restored state.
const STATE_SUM_TOL: f64 = 1e-6;

/// Early-learning regularisation (Liu et al. 2020, "Early-learning regularization prevents
/// memorization of noisy labels"): cross-entropy plus `λ log(1 − ⟨p̃_i, t_i⟩)`, with `t_i` a
/// running average of the model's past predictions on training sample `i`.
///
/// The per-sample targets `t_i ∈ R^C` start at 0 ([`prepare`](Loss::prepare)). At each training
/// step, for every batch row (training sample `s_i`, from `samples`), with `p_i = softmax(z_i)`
/// and the clipped prediction `p̃_ic = clamp(p_ic, 1e-4, 1 − 1e-4)`, as in the authors' code:
///
/// 1. update first (detached, no gradient): `t_i ← β t_i + (1 − β) p̃_i / Σ_c p̃_ic`;
/// 2. value: `L = (1/N) Σ_i [−Σ_c q_ic log p_ic + λ log(1 − ⟨t_i, p̃_i⟩)]` with the updated
///    `t_i` (`q_i` one-hot or soft). Since `t_i ≥ 0`, `Σ_c t_ic ≤ 1` and `p̃ ≤ 1 − 1e-4`,
///    `1 − ⟨t_i, p̃_i⟩ ≥ 1e-4`, so the logarithm is finite;
/// 3. gradient: with `r_i = 1 − ⟨t_i, p̃_i⟩`, `m_ic = 1` where `1e-4 ≤ p_ic ≤ 1 − 1e-4` (else 0,
///    the clamp's derivative) and `d_ic = −t_ic m_ic / r_i` (`= ∂/∂p_ic` of the log term),
///    `∂L/∂z_ik = [p_ik Σ_c q_ic − q_ik + λ p_ik (d_ik − Σ_c d_ic p_ic)] / N`; without clipping
///    the ELR part is `λ p_ik (⟨t_i, p_i⟩ − t_ik) / r_i`, the paper's gradient.
///
/// The targets are updated only when the batch value is finite (a diverged step leaves them as
/// they were). `samples` must be given, distinct and below `n_train`. Evaluation is the plain
/// cross-entropy. The state ([`state`](Loss::state)) is the `n_train × C` matrix of the `t_i`,
/// row-major. The paper uses `λ = 3, β = 0.7` on CIFAR-10 and `λ = 7, β = 0.9` on CIFAR-100.
#[derive(Clone, PartialEq)]
pub struct EarlyLearning {
    lambda: f64,
    momentum: f64,
    n_outputs: usize,
    /// `t_i`, `n_train × C` row-major.
    targets: Vec<f64>,
    /// The batch's updated targets, committed when the value is finite.
    updated: Vec<f64>,
    /// The clipped prediction of the current row.
    clipped: Vec<f64>,
    /// Per training sample: seen in the current batch (all false between calls).
    seen: Vec<bool>,
}

impl std::fmt::Debug for EarlyLearning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarlyLearning")
            .field("lambda", &self.lambda)
            .field("momentum", &self.momentum)
            .field("n_train", &self.n_train())
            .field("n_outputs", &self.n_outputs)
            .finish_non_exhaustive()
    }
}

impl EarlyLearning {
    /// ELR with weight `λ ≥ 0` (finite) and target momentum `β ∈ [0, 1)`.
    pub fn new(lambda: f64, momentum: f64) -> Result<Self> {
        check_hyper(
            "elr.lambda",
            lambda,
            lambda.is_finite() && lambda >= 0.0,
            "must be finite and >= 0",
        )?;
        check_hyper(
            "elr.momentum",
            momentum,
            (0.0..1.0).contains(&momentum),
            "must lie in [0, 1)",
        )?;
        Ok(Self {
            lambda,
            momentum,
            n_outputs: 0,
            targets: Vec::new(),
            updated: Vec::new(),
            clipped: Vec::new(),
            seen: Vec::new(),
        })
    }

    /// Number of training samples given to [`prepare`](Loss::prepare) (0 before).
    #[must_use]
    pub fn n_train(&self) -> usize {
        self.targets.len().checked_div(self.n_outputs).unwrap_or(0)
    }

    /// The running target `t_i` of training sample `i` (`None` if `i ≥ n_train`).
    #[must_use]
    pub fn target(&self, i: usize) -> Option<&[f64]> {
        let c = self.n_outputs;
        (i < self.n_train()).then(|| &self.targets[i * c..(i + 1) * c])
    }

    /// Checks everything `value_and_grad` needs before it changes anything.
    /// Returns the batch's sample indices.
    fn check_batch<'s>(
        &mut self,
        n: usize,
        c: usize,
        samples: Option<&'s [usize]>,
    ) -> Result<&'s [usize]> {
        if self.n_outputs == 0 {
            return Err(Error::InvalidState {
                what: "ELR state",
                reason: "call prepare(n_train, n_outputs) before value_and_grad".into(),
            });
        }
        if c != self.n_outputs {
            return Err(Error::ShapeMismatch {
                what: "outputs (ELR)",
                expected: (n, self.n_outputs),
                found: (n, c),
            });
        }
        let samples = samples.ok_or(Error::Incompatible {
            what: "ELR and batch",
            reason: "ELR needs the training-set index of every batch row (samples = None, \
                     e.g. after mixup)",
        })?;
        if samples.len() != n {
            return Err(Error::ShapeMismatch {
                what: "samples",
                expected: (n, 1),
                found: (samples.len(), 1),
            });
        }
        if let Some(&index) = samples.iter().find(|&&s| s >= self.n_train()) {
            // The length is the number of training samples given to prepare.
            return Err(Error::IndexOutOfRange {
                what: "sample index",
                index,
                len: self.n_train(),
            });
        }
        // Marks in a buffer kept across calls (no allocation per step), cleared before returning.
        self.seen.resize(self.n_train(), false);
        let duplicate = samples
            .iter()
            .find(|&&s| std::mem::replace(&mut self.seen[s], true));
        let duplicate = duplicate.copied();
        for &s in samples {
            self.seen[s] = false;
        }
        if let Some(s) = duplicate {
            return Err(Error::InvalidValue {
                what: "sample index",
                value: s as f64,
                reason: "appears twice in the batch (ELR updates one target per sample)",
            });
        }
        Ok(samples)
    }
}

impl<T: Float> Loss<T> for EarlyLearning {
    fn name(&self) -> &str {
        "elr"
    }

    fn check_targets(&self, targets: &TargetsView<'_, T>) -> Result<()> {
        check_classification_targets(
            targets,
            "ELR needs class labels or soft targets, not regression targets",
        )
    }

    /// Allocates the `n_train × n_outputs` targets, all 0 (again 0 if called a second time).
    fn prepare(&mut self, n_train: usize, n_outputs: usize) -> Result<()> {
        if n_train == 0 || n_outputs == 0 {
            return Err(Error::EmptyBatch {
                what: "ELR targets (n_train × n_outputs)",
            });
        }
        let len = n_train
            .checked_mul(n_outputs)
            .ok_or(Error::InvalidHyperparameter {
                name: "n_train",
                value: n_train as f64,
                reason: "n_train × n_outputs overflows",
            })?;
        self.n_outputs = n_outputs;
        self.targets = vec![0.0; len];
        self.clipped = vec![0.0; n_outputs];
        Ok(())
    }

    fn value_and_grad(
        &mut self,
        outputs: MatRef<'_, T>,
        targets: TargetsView<'_, T>,
        samples: Option<&[usize]>,
        grad: Option<MatMut<'_, T>>,
    ) -> Result<f64> {
        Loss::<T>::check_targets(self, &targets)?;
        let (n, c) = (outputs.nrows(), outputs.ncols());
        let samples = self.check_batch(n, c, samples)?;
        let (lambda, beta) = (self.lambda, self.momentum);
        self.updated.resize(n * c, 0.0);
        let mut sm = Softmax::new(c);
        let (old, updated, clipped) = (&self.targets, &mut self.updated, &mut self.clipped);
        let value = mean_over_rows(outputs, &targets, 0.0, grad, |i, z, q, mut g| {
            sm.compute(z);
            let ce = cross_entropy_row(&sm, q, g.as_deref_mut());
            let mut clip_sum = 0.0f64;
            for (pt, &p) in clipped.iter_mut().zip(&sm.p) {
                *pt = p.clamp(P_MIN, P_MAX);
                clip_sum += *pt;
            }
            let t_old = &old[samples[i] * c..(samples[i] + 1) * c];
            let t = &mut updated[i * c..(i + 1) * c];
            let mut inner = 0.0f64;
            for ((tk, &ok), &pt) in t.iter_mut().zip(t_old).zip(clipped.iter()) {
                *tk = beta * ok + (1.0 - beta) * (pt / clip_sum);
                inner += *tk * pt;
            }
            if let Some(g) = g {
                let r = 1.0 - inner;
                let d = |k: usize| {
                    let inside = (P_MIN..=P_MAX).contains(&sm.p[k]);
                    if inside { -t[k] / r } else { 0.0 }
                };
                let dp: f64 = (0..c).map(|k| d(k) * sm.p[k]).sum();
                for (k, gk) in g.iter_mut().enumerate() {
                    *gk += lambda * sm.p[k] * (d(k) - dp);
                }
            }
            ce + lambda * (-inner).ln_1p()
        })?;
        if value.is_finite() {
            for (i, &s) in samples.iter().enumerate() {
                self.targets[s * c..(s + 1) * c].copy_from_slice(&self.updated[i * c..(i + 1) * c]);
            }
        }
        Ok(value)
    }

    fn evaluate(&self, outputs: MatRef<'_, T>, targets: TargetsView<'_, T>) -> Result<f64> {
        Loss::<T>::check_targets(self, &targets)?;
        CrossEntropy::new(0.0)?.evaluate(outputs, targets)
    }

    fn state(&self) -> Vec<f64> {
        self.targets.clone()
    }

    /// Accepts `n_train × C` finite values in `[0, 1]` whose rows sum to at most 1 (within
    /// `1e-6`), as [`state`](Loss::state) returns them after [`prepare`](Loss::prepare).
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        if state.len() != self.targets.len() {
            return Err(Error::ShapeMismatch {
                what: "ELR state (n_train × C values)",
                expected: (self.targets.len(), 1),
                found: (state.len(), 1),
            });
        }
        crate::error::check_finite("ELR state", state)?;
        if let Some(&v) = state.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Err(Error::InvalidValue {
                what: "ELR state entry",
                value: v,
                reason: "must lie in [0, 1]",
            });
        }
        for row in state.chunks_exact(self.n_outputs.max(1)) {
            let sum: f64 = row.iter().sum();
            if sum > 1.0 + STATE_SUM_TOL {
                return Err(Error::InvalidValue {
                    what: "ELR state row sum",
                    value: sum,
                    reason: "each sample's target must sum to at most 1 (within 1e-6)",
                });
            }
        }
        self.targets.copy_from_slice(state);
        Ok(())
    }
}
