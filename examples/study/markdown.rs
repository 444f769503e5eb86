//! `report.md`: the verdicts with the numbers they rest on, the design, the regime, the tuning
//! choices and every claim's tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::claim1::{Claim1, PRIMARY_SUMMARY};
use crate::claim2::{Claim2, MATCHINGS};
use crate::claim3::{Claim3, TestRow};
use crate::data::Probe;
use crate::method::short;
use crate::plan::Phase;
use crate::report::{Analysis, runs_per_phase};
use crate::run::COLLAPSE_MAJORITY;
use crate::stats::{Paired, Verdict, p_text};

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

fn md_table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
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
         an error or ≥ {:.0} % of test predictions in one class; counted apart, left out of \
         means, kept in paired tests.\n",
        tseeds.join(", "),
        s.mechanism_seed,
        s.report_seeds.len(),
        s.report_seeds
            .first()
            .map_or(String::new(), |x| x.to_string()),
        100.0 * COLLAPSE_MAJORITY,
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
                r.median_epochs_to_fit()
                    .map_or("not reached".to_string(), |m| m.to_string()),
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
        .filter(|r| r.summary == PRIMARY_SUMMARY.name() && r.probe == Probe::Heldout)
        .chain(
            c.correlations
                .iter()
                .filter(|r| !(r.summary == PRIMARY_SUMMARY.name() && r.probe == Probe::Heldout)),
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
                    let cell = |t: Option<&TestRow>| {
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

/// The text of `report.md` (`files`: the outputs written before it, for the links).
pub fn markdown(a: &Analysis<'_>, files: &[PathBuf]) -> String {
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
         `runs.csv` / `epochs.csv.gz` by rules fixed before the run (see `docs/study.md`).\n",
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
