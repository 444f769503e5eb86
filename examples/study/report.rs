//! Every output file: `study.json`, the CSV tables, `report.md`, the SVG plots and
//! `timing.json`. Everything but `timing.json` is computed from the records and the scale
//! only, so it regenerates bit for bit whatever the thread count.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::claim1::{CURVE_SETTINGS, Claim1, PRIMARY_SUMMARY};
use crate::claim2::{self, Claim2, MATCHINGS};
use crate::claim3::Claim3;
use crate::data::Probe;
use crate::method::short;
use crate::plan::{Phase, Scale};
use crate::plot::{Curve, Panel, Scatter, Series, XAxis, panels, scatter};
use crate::record::{RunRecord, epochs_csv, field, num, runs_csv};
use crate::regime::RegimeRow;
use crate::run::{COLLAPSE_MAJORITY, COLLAPSE_MARGIN};
use crate::stats::{MeanSe, Paired, Verdict, p_text};
use crate::tuning::Choice;

/// What the analysis produced.
pub struct Analysis<'a> {
    /// The scale.
    pub scale: &'a Scale,
    /// The command that reproduces the outputs.
    pub command: &'a str,
    /// Every run, in plan order.
    pub records: &'a [RunRecord],
    /// Hyperparameter choices.
    pub choices: &'a [Choice],
    /// Memorisation.
    pub regime: &'a [RegimeRow],
    /// Claim 1, if run.
    pub claim1: Option<&'a Claim1>,
    /// Claim 2, if run.
    pub claim2: Option<&'a Claim2>,
    /// Claim 3, if run.
    pub claim3: Option<&'a Claim3>,
}

/// Wall times (not deterministic; `timing.json` only).
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Worker threads.
    pub threads: usize,
    /// Seconds of the whole study.
    pub total_s: f64,
    /// `(phase, runs, seconds, estimated seconds on one core)`.
    pub phases: Vec<(String, usize, f64, f64)>,
    /// Per (dataset, method family): runs, mean wall seconds of a run, mean estimate.
    pub by_method: Vec<(String, String, usize, f64, f64)>,
}

/// Mean wall time and estimate of the runs of every (dataset, family).
pub fn by_method(records: &[RunRecord]) -> Vec<(String, String, usize, f64, f64)> {
    let mut m: BTreeMap<(String, String), (usize, f64, f64)> = BTreeMap::new();
    for r in records {
        let key = (
            r.spec.dataset.name().to_string(),
            r.spec.method.family().name().to_string(),
        );
        let e = m.entry(key).or_default();
        e.0 += 1;
        e.1 += r.wall_s.unwrap_or(0.0);
        e.2 += r.spec.est_s;
    }
    m.into_iter()
        .map(|((d, f), (n, w, e))| (d, f, n, w / n as f64, e / n as f64))
        .collect()
}

/// `x` with 3 decimals, `–` when not finite.
fn f3(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "–".to_string()
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}", 100.0 * x)
    } else {
        "–".to_string()
    }
}

fn pts(t: &Paired) -> String {
    let p = |x: f64| {
        if x.is_finite() {
            format!("{:+.2}", 100.0 * x)
        } else {
            "–".to_string()
        }
    };
    format!("{} [{}, {}]", p(t.mean), p(t.lower), p(t.upper))
}

fn csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.join(","));
        out.push('\n');
    }
    out
}

fn md_table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
}

fn paired_cells(t: Option<&Paired>) -> Vec<String> {
    match t {
        None => vec![String::new(); 9],
        Some(t) => vec![
            t.n.to_string(),
            num(t.mean),
            num(t.lower),
            num(t.upper),
            num(t.p),
            num(t.p_holm),
            u8::from(t.exact).to_string(),
            t.wins.to_string(),
            t.losses.to_string(),
        ],
    }
}

const PAIRED_COLUMNS: [&str; 9] = [
    "n",
    "mean_diff",
    "ci_lower",
    "ci_upper",
    "p",
    "p_holm",
    "exact",
    "wins",
    "losses",
];

fn mean_se_cells(m: &MeanSe) -> Vec<String> {
    vec![m.n.to_string(), num(m.mean), num(m.se)]
}

fn tuning_csv(choices: &[Choice]) -> String {
    let rows = choices.iter().flat_map(|c| {
        c.grid.iter().map(move |g| {
            let added = if Some(g.method) == c.widened {
                "widened"
            } else if Some(g.method) == c.refined {
                "refined"
            } else {
                ""
            };
            vec![
                c.dataset.name().to_string(),
                c.setting.key(),
                c.family.clone(),
                field(&g.method.hyper_text()),
                g.method.value().map_or(String::new(), num),
                num(g.val_accuracy),
                g.runs.to_string(),
                g.collapsed.to_string(),
                added.to_string(),
                u8::from(g.method == c.first_choice).to_string(),
                u8::from(g.method == c.chosen).to_string(),
            ]
        })
    });
    csv(
        &[
            "dataset",
            "setting",
            "family",
            "hyper",
            "value",
            "val_acc",
            "runs",
            "collapsed",
            "added",
            "first_choice",
            "chosen",
        ],
        rows,
    )
}

fn regime_csv(rows: &[RegimeRow]) -> String {
    csv(
        &[
            "dataset",
            "setting",
            "epochs",
            "runs",
            "fit_last_mean",
            "fit_last_se",
            "fit_last_min",
            "reached_90",
            "epochs_to_90_median",
            "test_last_mean",
            "test_selected_mean",
        ],
        rows.iter().map(|r| {
            vec![
                r.dataset.name().to_string(),
                r.setting.key(),
                r.epochs.to_string(),
                r.runs.to_string(),
                num(r.fit_last.mean),
                num(r.fit_last.se),
                num(r.fit_last_min),
                r.reached.to_string(),
                median(&r.epochs_to_fit).map_or(String::new(), |m| m.to_string()),
                num(r.test_last.mean),
                num(r.test_selected.mean),
            ]
        }),
    )
}

fn median(v: &[usize]) -> Option<usize> {
    (!v.is_empty()).then(|| v[v.len() / 2])
}

fn claim1_csvs(c: Option<&Claim1>) -> [String; 3] {
    let (corr, sel, curves) = match c {
        Some(c) => (
            c.correlations.as_slice(),
            c.selection.as_slice(),
            c.curves.as_slice(),
        ),
        None => (&[][..], &[][..], &[][..]),
    };
    let corr = csv(
        &[
            "scope", "summary", "probe", "target", "n", "rho", "ci_lower", "ci_upper",
        ],
        corr.iter().map(|r| {
            vec![
                r.scope.clone(),
                r.summary.clone(),
                r.probe.name().to_string(),
                r.target.clone(),
                r.rho.n.to_string(),
                num(r.rho.rho),
                num(r.rho.lower),
                num(r.rho.upper),
            ]
        }),
    );
    let mut header = vec![
        "dataset",
        "setting",
        "comparison",
        "a_n",
        "a_mean",
        "a_se",
        "b_n",
        "b_mean",
        "b_se",
    ];
    header.extend(PAIRED_COLUMNS);
    let sel = csv(
        &header,
        sel.iter().map(|r| {
            let mut v = vec![r.dataset.clone(), r.setting.clone(), field(&r.comparison)];
            v.extend(mean_se_cells(&r.a));
            v.extend(mean_se_cells(&r.b));
            v.extend(paired_cells(r.test.as_ref()));
            v
        }),
    );
    let curves = csv(
        &["dataset", "setting", "epochs", "series", "n", "mean", "se"],
        curves.iter().map(|p| {
            let mut v = vec![
                p.dataset.name().to_string(),
                p.setting.key(),
                p.epochs.to_string(),
                p.series.clone(),
            ];
            v.extend(mean_se_cells(&p.value));
            v
        }),
    );
    [corr, sel, curves]
}

fn claim2_csvs(c: Option<&Claim2>) -> [String; 3] {
    let (points, fits, doses) = match c {
        Some(c) => (c.points.as_slice(), c.fits.as_slice(), c.doses.as_slice()),
        None => (&[][..], &[][..], &[][..]),
    };
    let points = csv(
        &[
            "dataset", "matching", "group", "strength", "seed", "run_id", "epochs", "mgs",
            "test_acc",
        ],
        points.iter().map(|p| {
            vec![
                p.dataset.name().to_string(),
                p.matching.to_string(),
                p.group.clone(),
                num(p.strength),
                p.seed.to_string(),
                p.run_id.to_string(),
                p.epochs.to_string(),
                num(p.mgs),
                num(p.test_acc),
            ]
        }),
    );
    let fits = csv(
        &[
            "dataset",
            "matching",
            "n",
            "not_reached",
            "c0",
            "c1",
            "c2",
            "r_squared",
            "eta_squared",
            "eta_null_mean",
            "p_value",
            "holds",
        ],
        fits.iter().map(|f| {
            let c = |i: usize| f.coefficients.get(i).map_or(String::new(), |&v| num(v));
            vec![
                f.dataset.name().to_string(),
                f.matching.to_string(),
                f.n.to_string(),
                f.not_reached.to_string(),
                c(0),
                c(1),
                c(2),
                num(f.r_squared),
                num(f.eta_squared),
                num(f.eta_null_mean),
                num(f.p_value),
                u8::from(f.holds).to_string(),
            ]
        }),
    );
    let doses = csv(
        &[
            "dataset",
            "matching",
            "group",
            "n",
            "rho",
            "ci_lower",
            "ci_upper",
            "direction",
        ],
        doses.iter().map(|d| {
            vec![
                d.dataset.name().to_string(),
                d.matching.to_string(),
                d.group.clone(),
                d.rho.n.to_string(),
                num(d.rho.rho),
                num(d.rho.lower),
                num(d.rho.upper),
                d.direction.to_string(),
            ]
        }),
    );
    [points, fits, doses]
}

fn claim3_csvs(c: Option<&Claim3>) -> [String; 2] {
    let (summary, tests) = match c {
        Some(c) => (c.summary.as_slice(), c.tests.as_slice()),
        None => (&[][..], &[][..]),
    };
    let summary = csv(
        &[
            "dataset",
            "setting",
            "family",
            "hyper",
            "value",
            "tuning_val_acc",
            "at_edge",
            "runs",
            "collapsed_selected",
            "collapsed_last",
            "test_selected_n",
            "test_selected_mean",
            "test_selected_se",
            "test_last_n",
            "test_last_mean",
            "test_last_se",
            "val_selected_mean",
            "fit_noisy_last_mean",
            "fit_noisy_selected_mean",
        ],
        summary.iter().map(|r| {
            let mut v = vec![
                r.dataset.name().to_string(),
                r.setting.key(),
                r.family.clone(),
                field(&r.chosen.hyper_text()),
                r.chosen.value().map_or(String::new(), num),
                num(r.tuning_val_acc),
                u8::from(r.at_edge).to_string(),
                r.runs.to_string(),
                r.collapsed_selected.k.to_string(),
                r.collapsed_last.k.to_string(),
            ];
            v.extend(mean_se_cells(&r.test_selected));
            v.extend(mean_se_cells(&r.test_last));
            v.push(num(r.val_selected.mean));
            v.push(num(r.fit_noisy_last.mean));
            v.push(num(r.fit_noisy_selected.mean));
            v
        }),
    );
    let mut header = vec!["dataset", "setting", "family", "versus", "holm_family"];
    header.extend(PAIRED_COLUMNS);
    let tests = csv(
        &header,
        tests.iter().map(|t| {
            let mut v = vec![
                t.dataset.name().to_string(),
                t.setting.key(),
                t.family.clone(),
                field(&t.versus),
                t.holm_family.to_string(),
            ];
            v.extend(paired_cells(Some(&t.test)));
            v
        }),
    );
    [summary, tests]
}

/// The SVG plots of the claims that ran; returns the files written.
fn plots(dir: &Path, a: &Analysis<'_>) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for &d in &a.scale.datasets {
        for setting in CURVE_SETTINGS {
            let Some(c1) = a.claim1 else { break };
            let pts: Vec<_> = c1
                .curves
                .iter()
                .filter(|p| p.dataset == d && p.setting == setting)
                .collect();
            if pts.is_empty() {
                continue;
            }
            let series = |filter: &dyn Fn(&str) -> bool| -> Vec<Series> {
                let mut names: Vec<&str> = pts.iter().map(|p| p.series.as_str()).collect();
                names.dedup();
                let mut unique: Vec<&str> = Vec::new();
                for n in names {
                    if !unique.contains(&n) {
                        unique.push(n);
                    }
                }
                unique
                    .into_iter()
                    .filter(|n| filter(n))
                    .map(|n| Series {
                        name: n.to_string(),
                        points: pts
                            .iter()
                            .filter(|p| p.series == n)
                            .map(|p| (p.epochs as f64, p.value.mean, p.value.se))
                            .collect(),
                    })
                    .collect()
            };
            let path = dir.join(format!("claim1_curves_{}_{}.svg", d.name(), setting.key()));
            panels(
                &path,
                &[
                    Panel {
                        title: format!(
                            "{} {}: 'none', normalised log-det of the traced kernel per probe",
                            d.name(),
                            setting.label()
                        ),
                        x_desc: "epochs".into(),
                        y_desc: "normalised log-det (lower = more similar)".into(),
                        x_axis: XAxis::Linear,
                        series: series(&|n| n.starts_with("mgs.")),
                    },
                    Panel {
                        title: format!("{} {}: 'none', test accuracy", d.name(), setting.label()),
                        x_desc: "epochs".into(),
                        y_desc: "test accuracy".into(),
                        x_axis: XAxis::Linear,
                        series: series(&|n| n == "test_acc"),
                    },
                ],
            )?;
            files.push(path);
        }
        for matching in MATCHINGS {
            let Some(c2) = a.claim2 else { break };
            let pts: Vec<&claim2::Point> = c2
                .points
                .iter()
                .filter(|p| p.dataset == d && p.matching == matching)
                .collect();
            let mut groups: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
            for p in &pts {
                match groups.iter_mut().find(|(g, _)| *g == p.group) {
                    Some((_, v)) => v.push((p.mgs, p.test_acc)),
                    None => groups.push((p.group.clone(), vec![(p.mgs, p.test_acc)])),
                }
            }
            let fit = c2
                .fits
                .iter()
                .find(|f| f.dataset == d && f.matching == matching);
            let curve = fit.filter(|f| f.coefficients.len() == 3).map(|f| {
                let c = f.coefficients.clone();
                let f: Curve = Box::new(move |x| c[0] + c[1] * x + c[2] * x * x);
                ("quadratic fit".to_string(), f)
            });
            let path = dir.join(format!("claim2_{}_{matching}.svg", d.name()));
            scatter(
                &path,
                &Scatter {
                    title: format!(
                        "{} {}: test accuracy vs MGS at matched {}",
                        d.name(),
                        a.scale.dose_setting.label(),
                        matching.replace('_', " ")
                    ),
                    x_desc: "normalised log-det on heldout (lower = more similar gradients)".into(),
                    y_desc: "test accuracy".into(),
                    groups,
                    curve,
                },
            )?;
            files.push(path);
        }
        let Some(c3) = a.claim3 else { continue };
        let settings = &a.scale.settings;
        let rows: Vec<_> = c3.summary.iter().filter(|r| r.dataset == d).collect();
        let mut families: Vec<&str> = Vec::new();
        for r in &rows {
            if !families.contains(&r.family.as_str()) {
                families.push(&r.family);
            }
        }
        let series = families
            .iter()
            .map(|f| Series {
                name: f.to_string(),
                points: settings
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| {
                        let r = rows.iter().find(|r| r.family == *f && r.setting == *s)?;
                        Some((i as f64, r.test_selected.mean, r.test_selected.se))
                    })
                    .collect(),
            })
            .collect();
        let path = dir.join(format!("claim3_{}.svg", d.name()));
        panels(
            &path,
            &[Panel {
                title: format!(
                    "{}: test accuracy at the selected epoch (mean ± SE, collapsed runs left out)",
                    d.name()
                ),
                x_desc: "setting".into(),
                y_desc: "test accuracy".into(),
                x_axis: XAxis::Categories(settings.iter().map(|s| s.label()).collect()),
                series,
            }],
        )?;
        files.push(path);
    }
    Ok(files)
}

#[derive(Serialize)]
struct StudyJson<'a> {
    scale: &'a Scale,
    command: &'a str,
    runs_per_phase: BTreeMap<&'static str, usize>,
    verdicts: BTreeMap<&'static str, &'a Verdict>,
    tuning: &'a [Choice],
    regime: &'a [RegimeRow],
    claim1: Option<&'a Claim1>,
    claim2: Option<&'a Claim2>,
    claim3: Option<&'a Claim3>,
    runs: Vec<RunRecord>,
}

fn verdicts<'a>(a: &Analysis<'a>) -> BTreeMap<&'static str, &'a Verdict> {
    let mut v = BTreeMap::new();
    if let Some(c) = a.claim1 {
        v.insert("claim1", &c.verdict);
    }
    if let Some(c) = a.claim2 {
        v.insert("claim2", &c.verdict);
    }
    if let Some(c) = a.claim3 {
        v.insert("claim3", &c.verdict);
    }
    v
}

fn runs_per_phase(records: &[RunRecord]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for r in records {
        *m.entry(r.spec.phase.name()).or_insert(0) += 1;
    }
    m
}

fn write(path: &Path, text: &str) -> Result<PathBuf, String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// Writes every output file into `dir`; returns the files written.
pub fn write_all(dir: &Path, a: &Analysis<'_>, timing: &Timing) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let study = StudyJson {
        scale: a.scale,
        command: a.command,
        runs_per_phase: runs_per_phase(a.records),
        verdicts: verdicts(a),
        tuning: a.choices,
        regime: a.regime,
        claim1: a.claim1,
        claim2: a.claim2,
        claim3: a.claim3,
        runs: a.records.iter().map(RunRecord::summary_only).collect(),
    };
    files.push(write(&dir.join("study.json"), &to_json(&study)?)?);
    files.push(write(&dir.join("runs.csv"), &runs_csv(a.records))?);
    files.push(write(&dir.join("epochs.csv"), &epochs_csv(a.records))?);
    files.push(write(&dir.join("tuning.csv"), &tuning_csv(a.choices))?);
    files.push(write(&dir.join("regime.csv"), &regime_csv(a.regime))?);
    let names1 = [
        "claim1_correlations.csv",
        "claim1_selection.csv",
        "claim1_curves.csv",
    ];
    for (name, text) in names1.iter().zip(claim1_csvs(a.claim1)) {
        files.push(write(&dir.join(name), &text)?);
    }
    let names2 = ["claim2_points.csv", "claim2_fit.csv", "claim2_dose.csv"];
    for (name, text) in names2.iter().zip(claim2_csvs(a.claim2)) {
        files.push(write(&dir.join(name), &text)?);
    }
    let names3 = ["claim3_summary.csv", "claim3_tests.csv"];
    for (name, text) in names3.iter().zip(claim3_csvs(a.claim3)) {
        files.push(write(&dir.join(name), &text)?);
    }
    files.extend(plots(dir, a)?);
    files.push(write(&dir.join("report.md"), &markdown(a, &files))?);
    files.push(write(&dir.join("timing.json"), &to_json(timing)?)?);
    Ok(files)
}

/// Pretty JSON through serde.
fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, String> {
    serde_json::to_string_pretty(v).map_err(|e| format!("cannot serialise: {e}"))
}

fn verdict_section(out: &mut String, a: &Analysis<'_>) {
    let _ = writeln!(out, "## Verdicts\n");
    let claims: [(&str, &str, Option<&Verdict>); 3] = [
        ("1", "MGS monitors training", a.claim1.map(|c| &c.verdict)),
        (
            "2",
            "regularisers act by raising MGS",
            a.claim2.map(|c| &c.verdict),
        ),
        (
            "3",
            "the MGS penalty excels under label noise and few samples",
            a.claim3.map(|c| &c.verdict),
        ),
    ];
    let rows: Vec<Vec<String>> = claims
        .iter()
        .map(|(k, what, v)| match v {
            Some(v) => vec![
                k.to_string(),
                what.to_string(),
                format!("**{}**", v.verdict),
                v.reason.clone(),
            ],
            None => vec![
                k.to_string(),
                what.to_string(),
                "not run".to_string(),
                String::new(),
            ],
        })
        .collect();
    md_table(
        out,
        &[
            "claim",
            "statement",
            "verdict",
            "the numbers (pre-registered rule)",
        ],
        &rows,
    );
}

fn design_section(out: &mut String, a: &Analysis<'_>) {
    let s = a.scale;
    let z = &s.sizes;
    let _ = writeln!(out, "## Design ({} scale)\n", s.name);
    let datasets: Vec<&str> = s.datasets.iter().map(|d| d.name()).collect();
    let settings: Vec<String> = s.settings.iter().map(|x| x.label()).collect();
    let extra: Vec<String> = s.none_settings.iter().map(|x| x.label()).collect();
    let hidden: Vec<String> = s.hidden.iter().map(|w| w.to_string()).collect();
    let weights: Vec<String> = s.mgs_weights.iter().map(|&w| short(w)).collect();
    let forms: Vec<&str> = s.mgs_forms.iter().map(|f| f.name()).collect();
    let _ = writeln!(
        out,
        "- Datasets: {}. Per (dataset, seed) a stratified split: {} training, {} validation, \
         {} test samples (at most; the dataset's own test split where it has one); standardised \
         on the training part.",
        datasets.join(", "),
        z.n_train,
        z.n_val,
        z.n_test
    );
    let _ = writeln!(
        out,
        "- Settings (every method tuned and reported): {}; 'none' only: {}. Label noise on the \
         training and validation labels (same kind and rate), test labels clean.",
        settings.join(", "),
        if extra.is_empty() {
            "–".to_string()
        } else {
            extra.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "- Model: d → [{}] tanh → C, Xavier normal, f32; Adam lr {}, batch {}, {} epochs \
         (few-sample runs: at least {} steps); the same initial weights and batch order for \
         every method of a (dataset, setting, seed).",
        hidden.join(", "),
        s.lr,
        s.batch,
        s.epochs,
        s.min_steps
    );
    let _ = writeln!(
        out,
        "- MGS monitored every {} epochs on four probe sets of up to {} samples (clean_train, \
         noisy_train, heldout, train_probe), traced kernel in f64 (jitter {:e}), per-layer \
         decomposition for 'none'. Selection: lowest noisy-validation cross-entropy (early \
         stopping = 'none' at its selected epoch). Label-free rule: EMA (β = {}) of the \
         normalised log-det on train_probe, minimum after a {}-epoch warm-up, patience {}.",
        s.observe_every,
        z.probe,
        s.monitor_jitter,
        s.selector.smoothing,
        s.selector.warmup,
        s.selector.patience
    );
    let _ = writeln!(
        out,
        "- MGS penalty forms: {} (subset {} of each batch, jitter {:e}; scheduled: start epoch \
         {}, warm-up {}, cap {}; hinge target {}), weights {}.",
        forms.join(", "),
        s.mgs.subset,
        s.mgs.jitter,
        s.mgs.start_epoch,
        s.mgs.warmup_epochs,
        s.mgs.cap,
        s.mgs.hinge_target,
        weights.join(", ")
    );
    let tseeds: Vec<String> = s.tuning_seeds.iter().map(|x| x.to_string()).collect();
    let _ = writeln!(
        out,
        "- Seeds: tuning {} (claim 2 adds {}), report {} seeds ({}…). Collapsed run: stopped by \
         an error, ≥ {:.0} % of test predictions in one class, or test accuracy ≤ 1/C + {}; \
         counted apart, left out of means, kept in paired tests.\n",
        tseeds.join(", "),
        s.mechanism_seed,
        s.report_seeds.len(),
        s.report_seeds
            .first()
            .map_or(String::new(), |x| x.to_string()),
        100.0 * COLLAPSE_MAJORITY,
        COLLAPSE_MARGIN
    );
    let per_phase = runs_per_phase(a.records);
    let phases: Vec<String> = per_phase.iter().map(|(p, n)| format!("{p} {n}")).collect();
    let failed = a.records.iter().filter(|r| !r.finished()).count();
    let stopped = a
        .records
        .iter()
        .filter(|r| r.status_name() == "stopped")
        .count();
    let _ = writeln!(
        out,
        "Runs: {} ({}); stopped by an error: {stopped}; failed to start: {failed}. Wall times \
         are in `timing.json`.\n",
        a.records.len(),
        phases.join(", ")
    );
}

fn regime_section(out: &mut String, a: &Analysis<'_>) {
    let _ = writeln!(out, "## Regime: does 'none' memorise the noisy labels?\n");
    let rows: Vec<Vec<String>> = a
        .regime
        .iter()
        .map(|r| {
            vec![
                r.dataset.name().to_string(),
                r.setting.label(),
                r.epochs.to_string(),
                format!("{} (min {})", pct(r.fit_last.mean), pct(r.fit_last_min)),
                format!("{}/{}", r.reached, r.runs),
                median(&r.epochs_to_fit).map_or("not reached".to_string(), |m| m.to_string()),
                pct(r.test_last.mean),
                pct(r.test_selected.mean),
                if r.memorised() { "yes" } else { "**no**" }.to_string(),
            ]
        })
        .collect();
    md_table(
        out,
        &[
            "dataset",
            "setting",
            "epochs",
            "noisy labels fitted, last epoch (%)",
            "runs reaching 90 %",
            "median epochs to 90 %",
            "test acc last (%)",
            "test acc selected (%)",
            "memorised",
        ],
        &rows,
    );
}

fn tuning_section(out: &mut String, a: &Analysis<'_>) {
    if a.choices.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Tuning: chosen hyperparameters (mean noisy-validation accuracy on the tuning seeds)\n"
    );
    let _ = writeln!(
        out,
        "`*` the choice lies at an edge of its grid after refinement; `w` the grid was widened; \
         `r` an MGS weight was added next to a collapse; `b` the first choice sat on the \
         method's domain bound (not widened).\n"
    );
    for &d in &a.scale.datasets {
        let mut header = vec!["method".to_string()];
        header.extend(a.scale.settings.iter().map(|s| s.label()));
        let mut rows = Vec::new();
        for f in a.scale.families() {
            let mut row = vec![f.name().to_string()];
            for &s in &a.scale.settings {
                let c = a
                    .choices
                    .iter()
                    .find(|c| c.dataset == d && c.setting == s && c.family == f.name());
                row.push(c.map_or(String::new(), |c| {
                    let mut flags = String::new();
                    for (on, ch) in [
                        (c.final_at_edge, '*'),
                        (c.widened.is_some(), 'w'),
                        (c.refined.is_some(), 'r'),
                        (c.widen_blocked, 'b'),
                    ] {
                        if on {
                            flags.push(ch);
                        }
                    }
                    let acc = c.chosen_point().map_or(f64::NAN, |p| p.val_accuracy);
                    format!("{} ({}) {flags}", c.chosen.hyper_text(), pct(acc))
                }));
            }
            rows.push(row);
        }
        let _ = writeln!(out, "**{}**\n", d.name());
        let h: Vec<&str> = header.iter().map(String::as_str).collect();
        md_table(out, &h, &rows);
    }
}

fn claim1_section(out: &mut String, a: &Analysis<'_>, c: &Claim1, files: &[PathBuf]) {
    let _ = writeln!(out, "## Claim 1: MGS monitors training\n");
    let _ = writeln!(
        out,
        "Spearman ρ (95 % bootstrap interval, {} resamples) over every report run at its last \
         epoch; {} run(s) without MGS at their last epoch left out. Gap = training accuracy on \
         the noisy labels − test accuracy. The verdict reads the first row.\n",
        a.scale.resamples, c.left_out
    );
    let mut rows = Vec::new();
    let ordered = c
        .correlations
        .iter()
        .filter(|r| r.summary == PRIMARY_SUMMARY && r.probe == Probe::Heldout)
        .chain(
            c.correlations
                .iter()
                .filter(|r| !(r.summary == PRIMARY_SUMMARY && r.probe == Probe::Heldout)),
        );
    for r in ordered.filter(|r| r.target == "test_acc" || r.scope == "all") {
        rows.push(vec![
            r.scope.clone(),
            r.summary.clone(),
            r.probe.name().to_string(),
            r.target.clone(),
            r.rho.n.to_string(),
            format!(
                "{} [{}, {}]",
                f3(r.rho.rho),
                f3(r.rho.lower),
                f3(r.rho.upper)
            ),
        ]);
    }
    md_table(
        out,
        &["scope", "summary", "probe", "target", "n", "ρ [95 % CI]"],
        &rows,
    );
    let _ = writeln!(
        out,
        "Pooled correlations mix datasets and settings whose accuracy levels differ a lot; the \
         per-dataset rows show how much of ρ is between-cell variation. All rows: \
         `claim1_correlations.csv`.\n"
    );
    let _ = writeln!(
        out,
        "**Selection rules** (test accuracy, %; paired over runs, sign-flip p — Monte-Carlo \
         above 24 pairs — Holm over the table; {} run(s) where the rule selected nothing left \
         out):\n",
        c.rule_missing
    );
    let rows: Vec<Vec<String>> = c
        .selection
        .iter()
        .map(|r| {
            vec![
                r.dataset.clone(),
                r.setting.clone(),
                r.comparison.clone(),
                pct(r.a.mean),
                pct(r.b.mean),
                r.test.as_ref().map_or("–".into(), pts),
                r.test.as_ref().map_or("–".into(), |t| p_text(t.p_holm)),
                r.test.as_ref().map_or("–".into(), |t| t.n.to_string()),
            ]
        })
        .collect();
    md_table(
        out,
        &[
            "dataset",
            "setting",
            "a − b",
            "a",
            "b",
            "Δ pts [95 % CI]",
            "Holm p",
            "n",
        ],
        &rows,
    );
    let curves: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name()?.to_str())
        .filter(|n| n.starts_with("claim1_curves_"))
        .map(|n| format!("[{n}]({n})"))
        .collect();
    let _ = writeln!(
        out,
        "Curves ('none', mean over report seeds): {}\n",
        curves.join(", ")
    );
}

fn claim2_section(out: &mut String, a: &Analysis<'_>, c: &Claim2) {
    let _ = writeln!(out, "## Claim 2: regularisers act by raising MGS\n");
    let _ = writeln!(
        out,
        "{}: summary fixed in advance, normalised log-det of the traced kernel on heldout (lower \
         = higher MGS). Matched epoch: last epoch (training length: 'none' after {:?} epochs); \
         matched training loss: first measured epoch with training cross-entropy < {}. One \
         quadratic over all points per dataset; group effect of the regulariser on its residuals \
         ({} permutations). Holds: R² ≥ 0.5 and p ≥ 0.05.\n",
        a.scale.dose_setting.label(),
        a.scale.length_epochs,
        a.scale.crossing_ce,
        a.scale.permutations
    );
    let rows: Vec<Vec<String>> = c
        .fits
        .iter()
        .map(|f| {
            vec![
                f.dataset.name().to_string(),
                f.matching.replace('_', " "),
                f.n.to_string(),
                f.not_reached.to_string(),
                f3(f.r_squared),
                format!("{} (null {})", f3(f.eta_squared), f3(f.eta_null_mean)),
                p_text(f.p_value),
                if f.holds { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    md_table(
        out,
        &[
            "dataset",
            "matched",
            "points",
            "not reached",
            "R²",
            "η²",
            "p",
            "holds",
        ],
        &rows,
    );
    let rows: Vec<Vec<String>> = c
        .doses
        .iter()
        .map(|d| {
            vec![
                d.dataset.name().to_string(),
                d.matching.replace('_', " "),
                d.group.clone(),
                d.rho.n.to_string(),
                format!(
                    "{} [{}, {}]",
                    f3(d.rho.rho),
                    f3(d.rho.lower),
                    f3(d.rho.upper)
                ),
                d.direction.to_string(),
            ]
        })
        .collect();
    let _ = writeln!(
        out,
        "Dose response (Spearman ρ of strength and normalised log-det; ρ < 0 = more \
         regularisation, more similar gradients):\n"
    );
    md_table(
        out,
        &[
            "dataset",
            "matched",
            "regulariser",
            "n",
            "ρ [95 % CI]",
            "direction",
        ],
        &rows,
    );
    let plots: Vec<String> = a
        .scale
        .datasets
        .iter()
        .flat_map(|d| {
            MATCHINGS
                .iter()
                .map(move |m| format!("claim2_{}_{m}.svg", d.name()))
        })
        .map(|n| format!("[{n}]({n})"))
        .collect();
    let _ = writeln!(out, "Scatters: {}\n", plots.join(", "));
}

fn claim3_section(out: &mut String, a: &Analysis<'_>, c: &Claim3) {
    let _ = writeln!(
        out,
        "## Claim 3: the MGS penalty under label noise and few samples\n"
    );
    let _ = writeln!(
        out,
        "Test accuracy (%) mean ± SE over the report seeds, collapsed runs left out of the means \
         and counted (Wilson 95 %); Δ in points, paired over seeds with collapsed runs at their \
         accuracy, 95 % t-interval, sign-flip p Holm-adjusted over the cell's table. Memorised: \
         corrupted training labels fitted at the last epoch.\n"
    );
    for &d in &a.scale.datasets {
        for &s in &a.scale.settings {
            let rows: Vec<Vec<String>> = c
                .summary
                .iter()
                .filter(|r| r.dataset == d && r.setting == s)
                .map(|r| {
                    let test = |versus: &str| {
                        c.tests.iter().find(|t| {
                            t.dataset == d
                                && t.setting == s
                                && t.family == r.family
                                && t.versus == versus
                                && t.holm_family == "primary"
                        })
                    };
                    let cell = |t: Option<&crate::claim3::TestRow>| {
                        t.map_or("–".to_string(), |t| {
                            format!("{} p={}", pts(&t.test), p_text(t.test.p_holm))
                        })
                    };
                    let name = if r.family == "none" {
                        "none (@selected = early stopping)".to_string()
                    } else {
                        r.family.clone()
                    };
                    vec![
                        name,
                        format!(
                            "{}{}",
                            r.chosen.hyper_text(),
                            if r.at_edge { " *" } else { "" }
                        ),
                        r.test_selected.text(100.0, 1),
                        r.test_last.text(100.0, 1),
                        r.collapsed_selected.text(),
                        r.collapsed_last.text(),
                        pct(r.fit_noisy_last.mean),
                        cell(test("none (last)")),
                        cell(test("early stopping")),
                    ]
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            let best = c
                .best_mgs
                .iter()
                .find(|(bd, bs, _)| *bd == d && *bs == s)
                .map_or(String::new(), |(_, _, f)| {
                    format!(" — best MGS form by tuning: {f}")
                });
            let _ = writeln!(out, "**{} {}**{best}\n", d.name(), s.label());
            md_table(
                out,
                &[
                    "method",
                    "chosen",
                    "test @selected",
                    "test @last",
                    "collapsed @sel",
                    "collapsed @last",
                    "memorised",
                    "Δ vs none (last)",
                    "Δ vs early stopping",
                ],
                &rows,
            );
        }
    }
    let rows: Vec<Vec<String>> = c
        .tests
        .iter()
        .filter(|t| t.holm_family == "mgs_vs_baselines")
        .map(|t| {
            vec![
                t.dataset.name().to_string(),
                t.setting.label(),
                t.family.clone(),
                t.versus.clone(),
                pts(&t.test),
                p_text(t.test.p_holm),
            ]
        })
        .collect();
    let _ = writeln!(
        out,
        "**The best MGS form against the label-noise baselines** (selected epochs, Holm over the \
         four per cell):\n"
    );
    md_table(
        out,
        &[
            "dataset",
            "setting",
            "MGS form",
            "baseline",
            "Δ pts [95 % CI]",
            "Holm p",
        ],
        &rows,
    );
}

fn collapse_section(out: &mut String, a: &Analysis<'_>) {
    let mut by: BTreeMap<(Phase, String), (usize, usize, usize)> = BTreeMap::new();
    for r in a.records.iter().filter(|r| r.finished()) {
        let e = by
            .entry((r.spec.phase, r.spec.method.family().name().to_string()))
            .or_default();
        e.0 += 1;
        e.1 += usize::from(r.last.collapsed);
        e.2 += usize::from(r.status_name() == "stopped");
    }
    let rows: Vec<Vec<String>> = by
        .iter()
        .filter(|(_, v)| v.1 > 0)
        .map(|((p, f), v)| {
            vec![
                p.name().to_string(),
                f.clone(),
                v.0.to_string(),
                v.1.to_string(),
                v.2.to_string(),
            ]
        })
        .collect();
    let _ = writeln!(out, "## Collapsed runs (at the last epoch), all phases\n");
    if rows.is_empty() {
        let _ = writeln!(out, "None.\n");
    } else {
        md_table(
            out,
            &["phase", "method", "runs", "collapsed", "of which stopped"],
            &rows,
        );
    }
}

fn markdown(a: &Analysis<'_>, files: &[PathBuf]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# MGS study, second edition: report ({} scale)\n",
        a.scale.name
    );
    if a.scale.name == "quick" {
        let _ = writeln!(
            out,
            "**Quick scale: a smoke test of the pipeline (tiny data, 3 epochs); its numbers and \
             verdicts are not results.**\n"
        );
    }
    let _ = writeln!(
        out,
        "Generated by `{}`. Every number below is computed from the runs in `study.json` / \
         `runs.csv` / `epochs.csv` by rules fixed before the run (see `docs/study.md`).\n",
        a.command
    );
    verdict_section(&mut out, a);
    design_section(&mut out, a);
    regime_section(&mut out, a);
    tuning_section(&mut out, a);
    if let Some(c) = a.claim1 {
        claim1_section(&mut out, a, c, files);
    }
    if let Some(c) = a.claim2 {
        claim2_section(&mut out, a, c);
    }
    if let Some(c) = a.claim3 {
        claim3_section(&mut out, a, c);
    }
    collapse_section(&mut out, a);
    let mut names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name()?.to_str().map(str::to_string))
        .collect();
    names.push("report.md".to_string());
    names.push("timing.json".to_string());
    let _ = writeln!(out, "## Files\n\n{}", names.join(", "));
    out
}
