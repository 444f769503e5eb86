//! Mini-batches: gathering rows of a data set into reused buffers, and the batch transforms
//! (Gaussian input noise, mixup) applied before the forward pass.
//!
//! **Mixup** (Zhang, Cissé, Dauphin, Lopez-Paz, "mixup: Beyond Empirical Risk Minimization",
//! ICLR 2018): for a batch `(x_i, y_i)` draw one `λ ~ Beta(α, α)` and one permutation `π` of the
//! batch rows, and train on `x̃_i = λ x_i + (1 − λ) x_π(i)` with targets
//! `ỹ_i = λ y_i + (1 − λ) y_π(i)` — class labels become soft targets (one-hot vectors mixed),
//! soft and real-valued targets are mixed as they are. `λ` and `π` are drawn from the trainer's
//! mixup stream, so a seed reproduces them. The mixed rows are no longer single training samples,
//! so losses that keep per-sample state (ELR) refuse mixed batches.

use faer::Mat;
use rand::seq::SliceRandom;
use rand_distr::{Beta, Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::data::{DatasetView, TargetsView};
use crate::{Error, Float, MgsRng, Result};

/// Mixup of the training batches, with mixing weights `λ ~ Beta(α, α)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mixup {
    /// `α > 0` (finite): small `α` mixes little (λ near 0 or 1), `α = 1` draws λ uniformly.
    pub alpha: f64,
}

impl Mixup {
    /// Mixup with `α`, checked.
    pub fn new(alpha: f64) -> Result<Self> {
        let m = Self { alpha };
        m.check()?;
        Ok(m)
    }

    /// Validates `α`.
    pub fn check(&self) -> Result<()> {
        if self.alpha.is_finite() && self.alpha > 0.0 {
            Ok(())
        } else {
            Err(Error::InvalidHyperparameter {
                name: "mixup.alpha",
                value: self.alpha,
                reason: "must be finite and > 0",
            })
        }
    }

    fn distribution(&self) -> Result<Beta<f64>> {
        Beta::new(self.alpha, self.alpha).map_err(|_| Error::InvalidHyperparameter {
            name: "mixup.alpha",
            value: self.alpha,
            reason: "must be finite and > 0",
        })
    }
}

/// Resizes `m` to `rows × cols`, reusing its allocation when it is large enough.
fn resize<T: Float>(m: &mut Mat<T>, rows: usize, cols: usize) {
    m.resize_with(rows, cols, |_, _| T::zero());
}

/// Which kind of targets a batch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Classes,
    Soft,
    Regression,
}

/// An owned mini-batch: the clean rows gathered from the training set and, when a transform is
/// on, the transformed rows the forward pass sees. Buffers keep their capacity across steps.
#[derive(Debug, Clone)]
pub(crate) struct Batch<T: Float> {
    /// Training-set indices of the rows.
    indices: Vec<usize>,
    inputs: Mat<T>,
    labels: Vec<usize>,
    /// Soft or real-valued targets (`rows × C`).
    dense: Mat<T>,
    kind: Kind,
    /// Transformed inputs and (after mixup) targets.
    mixed_inputs: Mat<T>,
    mixed_targets: Mat<T>,
    transformed: bool,
    mixed: bool,
    perm: Vec<usize>,
}

impl<T: Float> Default for Batch<T> {
    fn default() -> Self {
        Self {
            indices: Vec::new(),
            inputs: Mat::zeros(0, 0),
            labels: Vec::new(),
            dense: Mat::zeros(0, 0),
            kind: Kind::Classes,
            mixed_inputs: Mat::zeros(0, 0),
            mixed_targets: Mat::zeros(0, 0),
            transformed: false,
            mixed: false,
            perm: Vec::new(),
        }
    }
}

impl<T: Float> Batch<T> {
    /// Copies the rows `idx` (in that order) of `data` into the batch; clears any transform.
    pub(crate) fn gather(&mut self, data: &DatasetView<'_, T>, idx: &[usize]) {
        let x = data.inputs();
        self.indices.clear();
        self.indices.extend_from_slice(idx);
        resize(&mut self.inputs, idx.len(), x.ncols());
        for (i, &r) in idx.iter().enumerate() {
            for j in 0..x.ncols() {
                self.inputs[(i, j)] = x[(r, j)];
            }
        }
        self.transformed = false;
        self.mixed = false;
        self.labels.clear();
        let dense = match data.targets() {
            TargetsView::Classes(labels) => {
                self.kind = Kind::Classes;
                self.labels.extend(idx.iter().map(|&i| labels[i]));
                None
            }
            TargetsView::Soft(y) => {
                self.kind = Kind::Soft;
                Some(y)
            }
            TargetsView::Regression(y) => {
                self.kind = Kind::Regression;
                Some(y)
            }
        };
        if let Some(y) = dense {
            resize(&mut self.dense, idx.len(), y.ncols());
            for (i, &r) in idx.iter().enumerate() {
                for j in 0..y.ncols() {
                    self.dense[(i, j)] = y[(r, j)];
                }
            }
        }
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.indices.len()
    }

    /// The clean inputs (what regularisers see).
    pub(crate) fn clean_inputs(&self) -> faer::MatRef<'_, T> {
        self.inputs.as_ref()
    }

    /// The clean targets.
    pub(crate) fn clean_targets(&self) -> TargetsView<'_, T> {
        match self.kind {
            Kind::Classes => TargetsView::Classes(&self.labels),
            Kind::Soft => TargetsView::Soft(self.dense.as_ref()),
            Kind::Regression => TargetsView::Regression(self.dense.as_ref()),
        }
    }

    /// The inputs the forward pass sees (transformed if a transform ran).
    pub(crate) fn inputs(&self) -> faer::MatRef<'_, T> {
        if self.transformed {
            self.mixed_inputs.as_ref()
        } else {
            self.inputs.as_ref()
        }
    }

    /// The targets the loss sees (soft or mixed after mixup).
    pub(crate) fn targets(&self) -> TargetsView<'_, T> {
        if !self.mixed {
            return self.clean_targets();
        }
        match self.kind {
            Kind::Regression => TargetsView::Regression(self.mixed_targets.as_ref()),
            Kind::Classes | Kind::Soft => TargetsView::Soft(self.mixed_targets.as_ref()),
        }
    }

    /// Training-set indices of the rows, or `None` after mixup (rows are then mixtures).
    pub(crate) fn samples(&self) -> Option<&[usize]> {
        (!self.mixed).then_some(self.indices.as_slice())
    }

    fn start_transform(&mut self) {
        if !self.transformed {
            resize(
                &mut self.mixed_inputs,
                self.inputs.nrows(),
                self.inputs.ncols(),
            );
            self.mixed_inputs.copy_from(&self.inputs);
            self.transformed = true;
        }
    }

    /// Mixes the batch (see the module documentation); `n_outputs` is `C`.
    pub(crate) fn mixup(
        &mut self,
        mixup: &Mixup,
        n_outputs: usize,
        rng: &mut MgsRng,
    ) -> Result<()> {
        let lambda = mixup.distribution()?.sample(rng);
        let rows = self.len();
        self.perm.clear();
        self.perm.extend(0..rows);
        self.perm.shuffle(rng);
        self.start_transform();
        let (l, m) = (T::from_f64(lambda), T::from_f64(1.0 - lambda));
        let x = &self.inputs;
        for i in 0..rows {
            let p = self.perm[i];
            for j in 0..x.ncols() {
                self.mixed_inputs[(i, j)] = l * self.mixed_inputs[(i, j)] + m * x[(p, j)];
            }
        }
        resize(&mut self.mixed_targets, rows, n_outputs);
        for i in 0..rows {
            let p = self.perm[i];
            for c in 0..n_outputs {
                let (a, b) = match self.kind {
                    Kind::Classes => (
                        T::from_f64(f64::from(u8::from(self.labels[i] == c))),
                        T::from_f64(f64::from(u8::from(self.labels[p] == c))),
                    ),
                    Kind::Soft | Kind::Regression => (self.dense[(i, c)], self.dense[(p, c)]),
                };
                self.mixed_targets[(i, c)] = l * a + m * b;
            }
        }
        self.mixed = true;
        Ok(())
    }

    /// Adds Gaussian noise `N(0, σ²)` to every input entry, drawn row by row from `rng`.
    pub(crate) fn add_noise(&mut self, noise: &Normal<f64>, rng: &mut MgsRng) {
        self.start_transform();
        let x = &mut self.mixed_inputs;
        for i in 0..x.nrows() {
            for j in 0..x.ncols() {
                x[(i, j)] += T::from_f64(noise.sample(rng));
            }
        }
    }
}
