//! MGS summaries on named probe sets, as an observer.

use faer::{Mat, MatRef, Par};

use super::super::{
    Control, EpochRecord, KernelSummary, LayerSummary, MgsRecord, Observation, Observer,
};
use crate::kernel::{KernelKind, KernelParams, KernelWorkspace, Route};
use crate::metrics::{self, MetricsConfig};
use crate::{Error, Float, Mlp, Result};

/// A named probe set and its kernel buffers.
#[derive(Debug)]
struct Probe {
    name: String,
    inputs: Mat<f64>,
    /// One kernel buffer per monitored kind (reused across epochs).
    kernels: Vec<Mat<f64>>,
}

/// Computes the MGS summaries of the chosen kernels on named probe sets (e.g. `"clean_train"`,
/// `"noisy_train"`, `"heldout"`) whenever the loop calls it, and records them as typed
/// [`MgsRecord`]s in the epoch's record; optionally each layer's term of the factorised kernel
/// too ([`LayerSummary`]: its share of the trace and its own normalised log-determinant).
///
/// Kernels are computed in `f64` whatever the model's precision (an `f32` model is copied into
/// an `f64` one first: its kernel's rounding would otherwise reach the log-determinants), into
/// buffers kept across calls through one [`KernelWorkspace`], so a measurement allocates no fresh
/// kernel. MGS depends on the inputs only, never on the labels.
#[derive(Debug)]
pub struct MgsMonitor<T: Float> {
    probes: Vec<Probe>,
    kinds: Vec<KernelKind>,
    config: MetricsConfig,
    layers: bool,
    workspace: KernelWorkspace<f64>,
    layer_kernels: Vec<Mat<f64>>,
    /// The measured model in `f64`.
    model: Option<Mlp<f64>>,
    par: Option<Par>,
    _precision: std::marker::PhantomData<T>,
}

impl<T: Float> MgsMonitor<T> {
    /// A monitor of `kinds` with relative jitter `jitter` (spectrum included); add probe sets
    /// with [`with_probe`](Self::with_probe).
    pub fn new(kinds: &[KernelKind], jitter: f64) -> Result<Self> {
        if kinds.is_empty() {
            return Err(Error::EmptyBatch {
                what: "monitored kernels",
            });
        }
        let config = MetricsConfig {
            jitter,
            spectrum: true,
            ..MetricsConfig::default()
        };
        config.check()?;
        Ok(Self {
            probes: Vec::new(),
            kinds: kinds.to_vec(),
            config,
            layers: false,
            workspace: KernelWorkspace::default(),
            layer_kernels: Vec::new(),
            model: None,
            par: None,
            _precision: std::marker::PhantomData,
        })
    }

    /// Adds a probe set `inputs` (`N × d`, copied) under `name` (non-empty, unique).
    pub fn with_probe(mut self, name: &str, inputs: MatRef<'_, T>) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::InvalidHyperparameter {
                name: "probe name",
                value: 0.0,
                reason: "must not be empty (the value is its length)",
            });
        }
        if self.probes.iter().any(|p| p.name == name) {
            return Err(Error::Incompatible {
                what: "monitor probe",
                reason: "another probe of the monitor has the same name",
            });
        }
        if inputs.nrows() == 0 {
            return Err(Error::EmptyBatch { what: "probe set" });
        }
        crate::error::check_finite_mat("probe set", inputs)?;
        self.probes.push(Probe {
            name: name.to_string(),
            inputs: Mat::from_fn(inputs.nrows(), inputs.ncols(), |i, j| {
                inputs[(i, j)].to_f64()
            }),
            kernels: Vec::new(),
        });
        Ok(self)
    }

    /// Also records the per-layer decomposition (one more Cholesky per layer and kernel).
    #[must_use]
    pub fn with_layers(mut self, layers: bool) -> Self {
        self.layers = layers;
        self
    }

    /// Computes the spectrum summaries (effective rank, condition number) or not: an
    /// eigendecomposition per kernel, several times a Cholesky's cost.
    #[must_use]
    pub fn with_spectrum(mut self, spectrum: bool) -> Self {
        self.config.spectrum = spectrum;
        self
    }

    /// Measures with `par` instead of the trainer's parallelism; results are the same bits for
    /// any thread count.
    #[must_use]
    pub fn with_par(mut self, par: Par) -> Self {
        self.par = Some(par);
        self
    }

    /// Names of the probe sets, in order.
    #[must_use]
    pub fn probe_names(&self) -> Vec<&str> {
        self.probes.iter().map(|p| p.name.as_str()).collect()
    }

    /// Checks that every probe set fits `mlp` (input width, and outputs for centred kernels).
    pub fn check_model(&self, mlp: &Mlp<T>) -> Result<()> {
        if self.probes.is_empty() {
            return Err(Error::EmptyBatch {
                what: "probe sets of the MGS monitor",
            });
        }
        for p in &self.probes {
            if p.inputs.ncols() != mlp.arch().input_dim() {
                return Err(Error::ShapeMismatch {
                    what: "probe set",
                    expected: (p.inputs.nrows(), mlp.arch().input_dim()),
                    found: (p.inputs.nrows(), p.inputs.ncols()),
                });
            }
        }
        Ok(())
    }

    /// The `f64` copy of `mlp` (reusing its buffer).
    fn model64(&mut self, mlp: &Mlp<T>) -> Result<&Mlp<f64>> {
        let same_arch = self.model.as_ref().is_some_and(|m| m.arch() == mlp.arch());
        if !same_arch {
            self.model = Some(Mlp::from_params(
                mlp.arch().clone(),
                vec![0.0; mlp.n_params()],
            )?);
        }
        let model = self.model.as_mut().expect("set above");
        for (d, s) in model.params_mut().iter_mut().zip(mlp.params()) {
            *d = s.to_f64();
        }
        Ok(model)
    }

    /// The MGS records of `mlp` on every probe set and kernel, probe by probe.
    pub fn measure(&mut self, mlp: &Mlp<T>, par: Par) -> Result<Vec<MgsRecord>> {
        self.check_model(mlp)?;
        let par = self.par.unwrap_or(par);
        self.model64(mlp)?;
        let mlp = self.model.as_ref().expect("set by model64");
        let c = mlp.arch().output_dim();
        let mut out = Vec::with_capacity(self.probes.len() * self.kinds.len());
        for probe in &mut self.probes {
            probe
                .kernels
                .resize_with(self.kinds.len(), || Mat::zeros(0, 0));
            for (&kind, k) in self.kinds.iter().zip(&mut probe.kernels) {
                let m = kind.order(probe.inputs.nrows(), c);
                k.resize_with(m, m, |_, _| 0.0);
                let params = KernelParams::new(kind, Route::Factorised);
                let x = probe.inputs.as_ref();
                self.workspace
                    .kernel_into(mlp, x, None, &params, k.as_mut(), par)?;
                let summary = summarise(k.as_ref(), &self.config, par)?;
                let layers = if self.layers {
                    self.workspace.layer_kernels_into(
                        mlp,
                        probe.inputs.as_ref(),
                        kind,
                        par,
                        &mut self.layer_kernels,
                    )?;
                    let total = metrics::trace(k.as_ref())?;
                    self.layer_kernels
                        .iter()
                        .map(|kl| {
                            Ok(LayerSummary {
                                trace_share: metrics::trace(kl.as_ref())? / total,
                                normalized_logdet: metrics::normalized_logdet(
                                    kl.as_ref(),
                                    self.config.jitter,
                                    par,
                                )?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?
                } else {
                    Vec::new()
                };
                out.push(MgsRecord {
                    probe: probe.name.clone(),
                    kernel: kind,
                    summary,
                    layers,
                });
            }
        }
        Ok(out)
    }
}

/// The summaries of one kernel.
fn summarise(k: MatRef<'_, f64>, config: &MetricsConfig, par: Par) -> Result<KernelSummary> {
    let m = metrics::metrics(k, config, par)?;
    Ok(KernelSummary {
        trace: m.trace,
        logdet: m.logdet,
        normalized_logdet: m.normalized_logdet,
        cosine_mean: m.cosine_mean,
        cosine_logdet: m.cosine_logdet,
        effective_rank: m.spectrum.as_ref().map(|s| s.effective_rank),
        condition_number: m.spectrum.as_ref().map(|s| s.condition_number),
    })
}

impl<T: Float> Observer<T> for MgsMonitor<T> {
    fn check_model(&self, mlp: &Mlp<T>) -> Result<()> {
        MgsMonitor::check_model(self, mlp)
    }

    fn on_epoch(&mut self, obs: &Observation<'_, T>, record: &mut EpochRecord) -> Result<Control> {
        let records = self.measure(obs.mlp, obs.par)?;
        record.mgs.extend(records);
        Ok(Control::Continue)
    }
}
