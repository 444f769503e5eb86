//! The plan: the study's sizes (quick, default, full), and every run in a fixed order with its
//! seed, phase and estimated cost, computed before anything runs.
//!
//! Phases, and what each depends on (for sharding, issue 14):
//!
//! 1. **tuning** (and claim 2's **mechanism** runs): fixed in advance;
//! 2. **refinement**: built from the tuning records (grid edges widened, MGS weights refined next
//!    to a collapse);
//! 3. **report**: built from the tuning and refinement records (the chosen hyperparameters) —
//!    or, for claim 1 alone, fixed in advance.
//!
//! Run ids are assigned in plan order, phase after phase, so they are the same whatever the
//! number of threads or shards.

use serde::{Deserialize, Serialize};

use crate::data::Sizes;
use crate::method::{BASELINES, DOSE_FAMILIES, Family, Method, MgsForm, MgsSettings};
use crate::setting::{DatasetId, Setting};

/// Which claims to run (`--claim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Claim 1, the monitor.
    pub one: bool,
    /// Claim 2, the mechanism.
    pub two: bool,
    /// Claim 3, the regulariser.
    pub three: bool,
}

impl Claims {
    /// All three.
    pub const ALL: Claims = Claims {
        one: true,
        two: true,
        three: true,
    };
}

/// The phase a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Hyperparameter search on the tuning seeds.
    Tuning,
    /// Claim 2's extra strengths and extra seed.
    Mechanism,
    /// Widened or refined grid values on the tuning seeds.
    Refinement,
    /// The chosen hyperparameters on the report seeds.
    Report,
}

impl Phase {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Tuning => "tuning",
            Phase::Mechanism => "mechanism",
            Phase::Refinement => "refinement",
            Phase::Report => "report",
        }
    }
}

/// One run of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Position in the whole study's plan.
    pub id: usize,
    /// Phase.
    pub phase: Phase,
    /// Dataset.
    pub dataset: DatasetId,
    /// Setting.
    pub setting: Setting,
    /// Method and hyperparameter.
    pub method: Method,
    /// Seed (tuning seeds 1000, 1001; mechanism 1002; report 0, 1, …).
    pub seed: u64,
    /// Epochs.
    pub epochs: usize,
    /// MGS is measured after every `observe_every`-th epoch.
    pub observe_every: usize,
    /// Whether the per-layer decomposition of the kernels is recorded ('none' only).
    pub layers: bool,
    /// Estimated seconds on one core.
    pub est_s: f64,
}

impl RunSpec {
    /// `mnist1d sym 40% l2 (λ=1e-3) seed 1000`.
    pub fn label(&self) -> String {
        format!(
            "{} {} {} seed {}",
            self.dataset.name(),
            self.setting.label(),
            self.method.label(),
            self.seed
        )
    }
}

/// The label-free selection rule's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SelectorSettings {
    /// EMA factor β.
    pub smoothing: f64,
    /// Epochs ignored at the start.
    pub warmup: usize,
    /// Measurements without a new minimum that confirm it.
    pub patience: usize,
}

/// Seconds per unit of work on one core, measured in a pilot (see [`Scale::estimate`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// One training sample of a plain step (forward, backward, update), per 24 000 parameters.
    pub train_sample_s: f64,
    /// One sample of an evaluation forward pass, per 24 000 parameters.
    pub eval_sample_s: f64,
    /// One entry `m²` of a probe kernel with its summaries, per 24 000 parameters.
    pub kernel_entry_s: f64,
    /// Fixed cost of a run (data preparation, set-up, final evaluations).
    pub run_s: f64,
}

/// Everything that sizes a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// `quick`, `default` or `full`.
    pub name: String,
    /// Datasets.
    pub datasets: Vec<DatasetId>,
    /// Claims run.
    pub claims: Claims,
    /// Data sizes.
    pub sizes: Sizes,
    /// Hidden widths (tanh).
    pub hidden: Vec<usize>,
    /// Adam's learning rate (constant).
    pub lr: f64,
    /// Mini-batch size.
    pub batch: usize,
    /// Epochs `E` of a run on the full training part.
    pub epochs: usize,
    /// Few-sample runs train at least this many optimiser steps.
    pub min_steps: usize,
    /// MGS every this many epochs (few-sample runs: scaled so that the count stays `E/k`).
    pub observe_every: usize,
    /// Relative jitter of the monitored kernels (`f64`).
    pub monitor_jitter: f64,
    /// The MGS penalty's fixed settings.
    pub mgs: MgsSettings,
    /// The MGS weights of the tuning grid.
    pub mgs_weights: Vec<f64>,
    /// The MGS forms compared.
    pub mgs_forms: Vec<MgsForm>,
    /// Keep only the first this many values of every grid (quick mode).
    pub grid_take: Option<usize>,
    /// Claim 3's settings (tuned, every method reported).
    pub settings: Vec<Setting>,
    /// Extra settings where only 'none' is reported (claim 1's curves).
    pub none_settings: Vec<Setting>,
    /// Claim 2's setting.
    pub dose_setting: Setting,
    /// Tuning seeds.
    pub tuning_seeds: Vec<u64>,
    /// Claim 2's extra seed.
    pub mechanism_seed: u64,
    /// Report seeds.
    pub report_seeds: Vec<u64>,
    /// Claim 2's training-length points: 'none' after these many epochs.
    pub length_epochs: Vec<usize>,
    /// Claim 2's matched training loss (cross-entropy on the noisy training labels).
    pub crossing_ce: f64,
    /// The label-free rule.
    pub selector: SelectorSettings,
    /// Bootstrap resamples for correlation intervals.
    pub resamples: usize,
    /// Permutations of the group-effect test.
    pub permutations: usize,
    /// Random sign patterns of a Monte-Carlo sign-flip test (more than 24 pairs).
    pub sign_flip_draws: usize,
    /// Seconds per unit of work.
    pub cost: CostModel,
}

/// `n` log-spaced values from `lo` to `hi`.
fn log_spaced(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![lo];
    }
    let ratio = (hi / lo).ln() / (n - 1) as f64;
    (0..n).map(|i| lo * (ratio * i as f64).exp()).collect()
}

/// Per-unit costs: CPU seconds per run measured on this 2-core machine (34 default-scale runs
/// of every family, shared with other jobs), fitted to the cost model.
const PILOT_COST: CostModel = CostModel {
    train_sample_s: 8.3e-6,
    eval_sample_s: 2.75e-6,
    kernel_entry_s: 2.65e-7,
    run_s: 0.05,
};

impl Scale {
    /// The study at `name`: `quick` (CI, seconds), `default` (< 30 min on 2 cores) or `full`
    /// (the complete grid of issue 11).
    pub fn new(name: &str) -> Result<Self, String> {
        let sym = |percent| Setting::Symmetric { percent };
        let pair = |percent| Setting::PairFlip { percent };
        let per_class = |k| Setting::PerClass { k };
        let default = Scale {
            name: "default".to_string(),
            datasets: vec![DatasetId::Mnist1d, DatasetId::Optdigits],
            claims: Claims::ALL,
            sizes: Sizes {
                n_train: 1000,
                n_val: 500,
                n_test: 2000,
                probe: 100,
            },
            hidden: vec![128, 128],
            lr: 3e-3,
            batch: 50,
            epochs: 60,
            min_steps: 300,
            observe_every: 2,
            monitor_jitter: 1e-6,
            mgs: MgsSettings {
                subset: 32,
                jitter: 1e-4,
                start_epoch: 4,
                warmup_epochs: 8,
                cap: 1.0,
                hinge_target: -2.0,
            },
            mgs_weights: log_spaced(1e-3, 3.0, 4),
            mgs_forms: MgsForm::DEFAULT.to_vec(),
            grid_take: None,
            settings: vec![sym(40), pair(40), per_class(10)],
            none_settings: vec![sym(0), sym(80)],
            dose_setting: sym(40),
            tuning_seeds: vec![1000, 1001],
            mechanism_seed: 1002,
            report_seeds: (0..10).collect(),
            length_epochs: vec![4, 8, 16, 32, 60],
            crossing_ce: 1.5,
            selector: SelectorSettings {
                smoothing: 0.6,
                warmup: 5,
                patience: 10,
            },
            resamples: 2000,
            permutations: 2000,
            sign_flip_draws: 100_000,
            cost: PILOT_COST,
        };
        match name {
            "default" => Ok(default),
            "full" => Ok(Scale {
                name: "full".to_string(),
                sizes: Sizes {
                    probe: 200,
                    ..default.sizes
                },
                mgs_weights: log_spaced(1e-3, 3.0, 6),
                mgs_forms: MgsForm::FULL.to_vec(),
                settings: vec![
                    sym(0),
                    sym(20),
                    sym(40),
                    sym(60),
                    sym(80),
                    pair(20),
                    pair(40),
                    per_class(5),
                    per_class(10),
                    per_class(25),
                    per_class(50),
                ],
                none_settings: Vec::new(),
                ..default
            }),
            "quick" => Ok(Scale {
                name: "quick".to_string(),
                sizes: Sizes {
                    n_train: 100,
                    n_val: 50,
                    n_test: 100,
                    probe: 20,
                },
                hidden: vec![32, 32],
                epochs: 3,
                min_steps: 6,
                observe_every: 1,
                mgs: MgsSettings {
                    subset: 16,
                    start_epoch: 1,
                    warmup_epochs: 1,
                    ..default.mgs
                },
                mgs_weights: log_spaced(1e-3, 3.0, 2),
                grid_take: Some(2),
                settings: vec![sym(40), pair(40), per_class(5)],
                none_settings: vec![sym(0), sym(80)],
                report_seeds: vec![0, 1],
                length_epochs: vec![1, 2, 3],
                selector: SelectorSettings {
                    smoothing: 0.6,
                    warmup: 0,
                    patience: 1,
                },
                resamples: 200,
                permutations: 200,
                sign_flip_draws: 2000,
                ..default
            }),
            other => Err(format!("unknown scale {other:?}")),
        }
    }

    /// The families compared (baselines, then the MGS forms).
    pub fn families(&self) -> Vec<Family> {
        let mut f = BASELINES.to_vec();
        f.extend(self.mgs_forms.iter().map(|&m| Family::Mgs(m)));
        f
    }

    /// A family's tuning grid at this scale.
    pub fn grid(&self, family: Family) -> Vec<Method> {
        let mut g = family.grid(&self.mgs_weights);
        if let Some(k) = self.grid_take {
            g.truncate(k);
        }
        g
    }

    /// A family's dose grid (claim 2) at this scale.
    pub fn dose_grid(&self, family: Family) -> Vec<Method> {
        let mut g = family.dose_grid();
        if let Some(k) = self.grid_take {
            g.truncate(k + 1);
        }
        g
    }

    /// Number of training samples in `setting`.
    pub fn n_train(&self, dataset: DatasetId, setting: Setting) -> usize {
        match setting.per_class() {
            Some(k) => k * dataset.shape().1,
            None => self.sizes.n_train,
        }
    }

    /// `(epochs, observe_every)` of a run in `setting`: `E` epochs and MGS every
    /// `observe_every`; few-sample runs train at least `min_steps` steps, with MGS measured as
    /// many times as in a full run, and end on a measured epoch.
    pub fn schedule(&self, dataset: DatasetId, setting: Setting) -> (usize, usize) {
        let steps = self.n_train(dataset, setting).div_ceil(self.batch).max(1);
        let wanted = self.epochs.max(self.min_steps.div_ceil(steps));
        let every = self.observe_every * wanted.div_ceil(self.epochs);
        (wanted.div_ceil(every) * every, every)
    }

    /// Number of parameters of the model on `dataset`.
    pub fn n_params(&self, dataset: DatasetId) -> usize {
        let (d, c) = dataset.shape();
        let mut widths = vec![d];
        widths.extend(&self.hidden);
        widths.push(c);
        widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }

    /// Estimated seconds of one run on one core: per epoch, the training steps (scaled by the
    /// method's step cost), the evaluations (training, validation, test sets, and the corrupted
    /// samples' fit), and every `observe_every` epochs the probe kernels (`m²` each); scaled by
    /// `(P / 24 000)^0.8` for `P` parameters (wide first layers run closer to peak: MNIST-5k's
    /// 118 000 parameters cost 3.7 times MNIST-1D's 23 000, measured).
    pub fn estimate(&self, dataset: DatasetId, setting: Setting, method: &Method) -> f64 {
        let (epochs, every) = self.schedule(dataset, setting);
        let n = self.n_train(dataset, setting) as f64;
        let noisy = setting.noise().map_or(0.0, |(_, r)| r * n);
        let c = &self.cost;
        let per_epoch = n * c.train_sample_s * method.step_cost(&self.mgs, self.batch)
            + (n + (self.sizes.n_val + self.sizes.n_test) as f64 + noisy) * c.eval_sample_s;
        let probe = |count: f64| count.min(self.sizes.probe as f64).powi(2);
        let mut kernel = probe(n - noisy) + probe(noisy) + 2.0 * probe(n);
        if *method == Method::None {
            kernel *= 1.5;
        }
        let measurements = (epochs / every) as f64;
        let scale = (self.n_params(dataset) as f64 / 24_000.0).powf(0.8);
        c.run_s + scale * (epochs as f64 * per_epoch + measurements * kernel * c.kernel_entry_s)
    }
}

/// Builds run specs with consecutive ids.
pub struct Planner<'a> {
    scale: &'a Scale,
    next_id: usize,
}

impl<'a> Planner<'a> {
    /// A planner whose first run gets id `first_id`.
    pub fn new(scale: &'a Scale, first_id: usize) -> Self {
        Self {
            scale,
            next_id: first_id,
        }
    }

    /// The spec of one run.
    pub fn spec(
        &mut self,
        phase: Phase,
        dataset: DatasetId,
        setting: Setting,
        method: Method,
        seed: u64,
    ) -> RunSpec {
        let (epochs, observe_every) = self.scale.schedule(dataset, setting);
        let spec = RunSpec {
            id: self.next_id,
            phase,
            dataset,
            setting,
            method,
            seed,
            epochs,
            observe_every,
            layers: method == Method::None,
            est_s: self.scale.estimate(dataset, setting, &method),
        };
        self.next_id += 1;
        spec
    }
}

/// Phase 1: the tuning runs (claim 3) and claim 2's runs, in order: dataset, setting, family,
/// grid value, seed; then claim 2's runs that tuning does not already hold.
pub fn phase_one(scale: &Scale, planner: &mut Planner<'_>) -> Vec<RunSpec> {
    let mut specs: Vec<RunSpec> = Vec::new();
    if scale.claims.three {
        for &dataset in &scale.datasets {
            for &setting in &scale.settings {
                for family in scale.families() {
                    for method in scale.grid(family) {
                        for &seed in &scale.tuning_seeds {
                            specs.push(planner.spec(Phase::Tuning, dataset, setting, method, seed));
                        }
                    }
                }
            }
        }
    }
    if scale.claims.two {
        let setting = scale.dose_setting;
        let mut seeds = scale.tuning_seeds.clone();
        seeds.push(scale.mechanism_seed);
        for &dataset in &scale.datasets {
            let mut methods = vec![Method::None];
            for family in DOSE_FAMILIES {
                methods.extend(scale.dose_grid(family));
            }
            for method in methods {
                for &seed in &seeds {
                    let held = specs.iter().any(|s| {
                        s.dataset == dataset
                            && s.setting == setting
                            && s.method == method
                            && s.seed == seed
                    });
                    if !held {
                        specs.push(planner.spec(Phase::Mechanism, dataset, setting, method, seed));
                    }
                }
            }
        }
    }
    specs
}

/// Total estimated seconds of `specs` on one core.
pub fn total_estimate(specs: &[RunSpec]) -> f64 {
    specs.iter().map(|s| s.est_s).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_sample_runs_train_longer_and_end_on_a_measured_epoch() {
        let s = Scale::new("default").unwrap();
        let sym40 = Setting::Symmetric { percent: 40 };
        assert_eq!(s.schedule(DatasetId::Mnist1d, sym40), (60, 2));
        // 10/class: 100 samples, 2 steps an epoch, at least 300 steps.
        assert_eq!(
            s.schedule(DatasetId::Mnist1d, Setting::PerClass { k: 10 }),
            (150, 6)
        );
        // 5/class: 1 step an epoch.
        assert_eq!(
            s.schedule(DatasetId::Optdigits, Setting::PerClass { k: 5 }),
            (300, 10)
        );
        // 50/class: 10 steps, E epochs are enough.
        assert_eq!(
            s.schedule(DatasetId::Optdigits, Setting::PerClass { k: 50 }),
            (60, 2)
        );
    }

    #[test]
    fn sizes() {
        let s = Scale::new("default").unwrap();
        // 40·128 + 128 + 128·128 + 128 + 128·10 + 10.
        assert_eq!(s.n_params(DatasetId::Mnist1d), 23_050);
        let w = log_spaced(1e-3, 3.0, 4);
        assert!((w[0] - 1e-3).abs() < 1e-18 && (w[3] - 3.0).abs() < 1e-12);
        assert!((w[2] / w[1] - w[1] / w[0]).abs() < 1e-12);
        assert!(Scale::new("tiny").is_err());
    }

    #[test]
    fn phase_one_holds_each_run_once_with_consecutive_ids() {
        let s = Scale::new("quick").unwrap();
        let mut planner = Planner::new(&s, 0);
        let specs = phase_one(&s, &mut planner);
        for (i, spec) in specs.iter().enumerate() {
            assert_eq!(spec.id, i);
        }
        for (i, a) in specs.iter().enumerate() {
            for b in &specs[i + 1..] {
                let same = a.dataset == b.dataset
                    && a.setting == b.setting
                    && a.method == b.method
                    && a.seed == b.seed;
                assert!(!same, "{} twice", a.label());
            }
        }
        let tuning: usize = s.families().iter().map(|&f| s.grid(f).len()).sum::<usize>()
            * s.tuning_seeds.len()
            * s.settings.len()
            * s.datasets.len();
        assert_eq!(
            specs.iter().filter(|s| s.phase == Phase::Tuning).count(),
            tuning
        );
    }
}
