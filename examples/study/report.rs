//! Aggregation of the runs into tables, and every output file: `study.json`, CSV tables,
//! `report.md` and the SVG plots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Method, Plan, Setting, short};
use crate::plot::{Series, XAxis, line_chart};
use crate::run::Outcome;
use crate::stats::{Paired, Summary, ranks, spearman};
use crate::{Args, Selection, clock};

/// Wall times of the study.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub total_s: f64,
    pub phase1_s: f64,
    pub phase2_s: f64,
    pub runs: usize,
    pub failed_runs: usize,
    pub threads: usize,
}

#[derive(Debug, Clone, Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: String,
}

fn machine() -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
    }
}

/// The monitored metrics: key, table heading, plot title.
const A_METRICS: [(&str, &str, &str); 7] = [
    (
        "trace",
        "trace",
        "trace tr(K)/m (mean squared gradient norm)",
    ),
    ("logdet", "log-det", "log-det (1/m) log det(K + eps tau I)"),
    (
        "normalized_logdet",
        "norm. log-det",
        "normalised log-det (lower = more similar gradients)",
    ),
    (
        "cosine_mean",
        "mean cos",
        "mean cosine between per-sample gradients",
    ),
    (
        "cosine_logdet",
        "cos log-det",
        "log-det of the cosine kernel",
    ),
    ("effective_rank", "eff. rank", "effective rank of K"),
    (
        "condition_number",
        "cond.",
        "condition number of K + eps tau I",
    ),
];

/// Part A: one row per regulariser.
#[derive(Debug, Clone, Serialize)]
struct ARow {
    method: Method,
    label: String,
    runs: usize,
    failed: usize,
    epochs_run: Summary,
    test_accuracy: Summary,
    val_accuracy: Summary,
    train_accuracy: Summary,
    metrics: BTreeMap<String, Summary>,
    /// 1 = lowest normalised log-det (most similar gradients).
    rank_normalized_logdet: f64,
    /// Paired differences to no regularisation over seeds (method − none).
    vs_none: BTreeMap<String, Paired>,
}

/// A part B chart: file name, title, settings on the x axis, x coordinate, plotted value,
/// axis descriptions.
type BChart<'a> = (
    String,
    String,
    &'a [Setting],
    &'a dyn Fn(usize, Setting) -> f64,
    &'a dyn Fn(&BCell) -> Summary,
    &'a str,
    &'a str,
);

/// Part B: one cell (dataset, setting, method with its chosen hyperparameter).
#[derive(Debug, Clone, Serialize)]
struct BCell {
    dataset: String,
    setting: Setting,
    family: &'static str,
    chosen: Method,
    runs: usize,
    failed: usize,
    n_train: usize,
    epochs_run: Summary,
    test_accuracy: Summary,
    val_accuracy: Summary,
    train_accuracy_clean: Summary,
    memorised: Summary,
    recovered: Summary,
}

/// Paired test-accuracy difference between two methods of a (dataset, setting).
#[derive(Debug, Clone, Serialize)]
struct Effect {
    dataset: String,
    setting: Setting,
    method: &'static str,
    versus: &'static str,
    test_accuracy: Paired,
    memorised: Paired,
}

#[derive(Serialize)]
struct StudyJson<'a> {
    command: &'a str,
    plan: &'a Plan,
    machine: Machine,
    timing: &'a Timing,
    part_a: PartAJson<'a>,
    part_b: PartBJson<'a>,
}

#[derive(Serialize)]
struct PartAJson<'a> {
    summary: Vec<ARow>,
    spearman_vs_test_accuracy: BTreeMap<String, f64>,
    runs: Vec<&'a Outcome>,
}

#[derive(Serialize)]
struct PartBJson<'a> {
    selections: &'a [Selection],
    cells: Vec<BCell>,
    effects: Vec<Effect>,
    /// Every part B run, the tuning runs on seed 0 included.
    runs: Vec<&'a Outcome>,
}

fn seed_values(runs: &[&Outcome], f: impl Fn(&Outcome) -> Option<f64>) -> Vec<(u64, f64)> {
    runs.iter()
        .filter(|o| o.ok())
        .filter_map(|o| f(o).map(|v| (o.job.seed, v)))
        .collect()
}

fn part_a(plan: &Plan, outcomes: &[Outcome]) -> (Vec<ARow>, BTreeMap<String, f64>) {
    let runs_of = |m: Method| -> Vec<&Outcome> {
        outcomes
            .iter()
            .filter(|o| o.job.part == "A" && o.job.method == m)
            .collect()
    };
    let none = runs_of(Method::None);
    let mut rows: Vec<ARow> = Vec::new();
    for &m in &plan.a_methods {
        let runs = runs_of(m);
        if runs.is_empty() {
            continue;
        }
        let ok: Vec<&&Outcome> = runs.iter().filter(|o| o.ok()).collect();
        let summary = |f: &dyn Fn(&Outcome) -> f64| Summary::of(ok.iter().map(|o| f(o)));
        let mut metrics = BTreeMap::new();
        let mut vs_none = BTreeMap::new();
        for (key, _, _) in A_METRICS {
            let get = |o: &Outcome| o.final_metrics.get(key).copied();
            metrics.insert(key.to_string(), summary(&|o| get(o).unwrap_or(f64::NAN)));
            vs_none.insert(
                key.to_string(),
                Paired::of(&seed_values(&runs, get), &seed_values(&none, get)),
            );
        }
        let test = |o: &Outcome| Some(o.test_accuracy);
        vs_none.insert(
            "test_accuracy".to_string(),
            Paired::of(&seed_values(&runs, test), &seed_values(&none, test)),
        );
        rows.push(ARow {
            method: m,
            label: m.label(),
            runs: runs.len(),
            failed: runs.len() - ok.len(),
            epochs_run: summary(&|o| o.epochs_run as f64),
            test_accuracy: summary(&|o| o.test_accuracy),
            val_accuracy: summary(&|o| o.val_accuracy),
            train_accuracy: summary(&|o| o.train_accuracy),
            metrics,
            rank_normalized_logdet: 0.0,
            vs_none,
        });
    }
    let nld: Vec<f64> = rows
        .iter()
        .map(|r| r.metrics["normalized_logdet"].mean)
        .collect();
    for (r, rank) in rows.iter_mut().zip(ranks(&nld)) {
        r.rank_normalized_logdet = rank;
    }
    let test: Vec<f64> = rows.iter().map(|r| r.test_accuracy.mean).collect();
    let mut rho = BTreeMap::new();
    for (key, _, _) in A_METRICS {
        let x: Vec<f64> = rows.iter().map(|r| r.metrics[key].mean).collect();
        rho.insert(key.to_string(), spearman(&x, &test));
    }
    (rows, rho)
}

fn cell_runs<'a>(
    outcomes: &'a [Outcome],
    ds: &str,
    setting: Setting,
    m: Method,
) -> Vec<&'a Outcome> {
    outcomes
        .iter()
        .filter(|o| {
            o.job.part == "B"
                && o.job.dataset == ds
                && o.job.setting == setting
                && o.job.method == m
        })
        .filter(|o| !o.job.tuning || o.job.seed == 0)
        .collect()
}

fn part_b(
    plan: &Plan,
    outcomes: &[Outcome],
    selections: &[Selection],
) -> (Vec<BCell>, Vec<Effect>) {
    let mut cells = Vec::new();
    for s in selections {
        let runs = cell_runs(outcomes, &s.dataset, s.setting, s.chosen);
        let ok: Vec<&&Outcome> = runs.iter().filter(|o| o.ok()).collect();
        let summary = |f: &dyn Fn(&Outcome) -> f64| Summary::of(ok.iter().map(|o| f(o)));
        cells.push(BCell {
            dataset: s.dataset.clone(),
            setting: s.setting,
            family: s.family,
            chosen: s.chosen,
            runs: runs.len(),
            failed: runs.len() - ok.len(),
            n_train: runs.first().map_or(0, |o| o.n_train),
            epochs_run: summary(&|o| o.epochs_run as f64),
            test_accuracy: summary(&|o| o.test_accuracy),
            val_accuracy: summary(&|o| o.val_accuracy),
            train_accuracy_clean: summary(&|o| o.train_accuracy_clean),
            memorised: summary(&|o| o.memorised.unwrap_or(f64::NAN)),
            recovered: summary(&|o| o.recovered.unwrap_or(f64::NAN)),
        });
    }
    let mut effects = Vec::new();
    let families = plan.b_families();
    for ds in &plan.b_datasets {
        for setting in plan.b_settings() {
            let chosen = |f: &str| {
                selections
                    .iter()
                    .find(|s| &s.dataset == ds && s.setting == setting && s.family == f)
                    .map(|s| s.chosen)
            };
            for &f in families.iter().filter(|f| f.starts_with("mgs")) {
                let Some(mf) = chosen(f) else { continue };
                let a = cell_runs(outcomes, ds, setting, mf);
                for &g in families.iter().filter(|&&g| g != f) {
                    let Some(mg) = chosen(g) else { continue };
                    let b = cell_runs(outcomes, ds, setting, mg);
                    let test = |o: &Outcome| Some(o.test_accuracy);
                    let mem = |o: &Outcome| o.memorised;
                    effects.push(Effect {
                        dataset: ds.clone(),
                        setting,
                        method: f,
                        versus: g,
                        test_accuracy: Paired::of(&seed_values(&a, test), &seed_values(&b, test)),
                        memorised: Paired::of(&seed_values(&a, mem), &seed_values(&b, mem)),
                    });
                }
            }
        }
    }
    (cells, effects)
}

fn md_table(out: &mut String, headers: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        headers
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { " --- |" } else { " ---: |" })
            .collect::<String>()
    );
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
}

fn opt(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map_or(String::new(), |x| format!("{x:?}"))
}

fn setting_cols(s: Setting) -> (String, String) {
    match s {
        Setting::Clean => ("clean".into(), String::new()),
        Setting::Noise(p) => ("noise".into(), format!("{p}")),
        Setting::Samples(n) => ("samples_per_class".into(), format!("{n}")),
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes every output file under `args.out`; returns their paths.
pub fn write_all(
    args: &Args,
    plan: &Plan,
    outcomes: &[Outcome],
    selections: &[Selection],
    timing: &Timing,
) -> Result<Vec<PathBuf>, String> {
    let dir = &args.out;
    let mut files = Vec::new();
    let (a_rows, rho) = part_a(plan, outcomes);
    let (cells, effects) = part_b(plan, outcomes, selections);
    let a_runs: Vec<&Outcome> = outcomes.iter().filter(|o| o.job.part == "A").collect();
    let b_runs: Vec<&Outcome> = outcomes.iter().filter(|o| o.job.part == "B").collect();

    // JSON: everything.
    let json = StudyJson {
        command: &args.command,
        plan,
        machine: machine(),
        timing,
        part_a: PartAJson {
            summary: a_rows.clone(),
            spearman_vs_test_accuracy: rho.clone(),
            runs: a_runs.clone(),
        },
        part_b: PartBJson {
            selections,
            cells: cells.clone(),
            effects: effects.clone(),
            runs: b_runs.clone(),
        },
    };
    let text = serde_json::to_string_pretty(&json).map_err(|e| format!("JSON: {e}"))?;
    let p = dir.join("study.json");
    write(&p, &text)?;
    files.push(p);

    // CSV: part A runs and curves, part B runs and cells.
    let metric_keys: Vec<&str> = A_METRICS.iter().map(|m| m.0).collect();
    let mut csv = format!(
        "method,hyper,seed,status,epochs_run,best_epoch,train_accuracy,val_accuracy,test_accuracy,test_loss,{},wall_s\n",
        metric_keys.join(",")
    );
    for o in &a_runs {
        let m = o.job.method;
        let _ = write!(
            csv,
            "{},{},{},{},{},{},{},{},{},{}",
            m.family(),
            opt(m.hyper().map(|h| h.1)),
            o.job.seed,
            o.status.replace(',', ";"),
            o.epochs_run,
            o.best_epoch.map_or(String::new(), |e| e.to_string()),
            opt(Some(o.train_accuracy)),
            opt(Some(o.val_accuracy)),
            opt(Some(o.test_accuracy)),
            opt(Some(o.test_loss)),
        );
        for k in &metric_keys {
            let _ = write!(csv, ",{}", opt(o.final_metrics.get(*k).copied()));
        }
        let _ = writeln!(csv, ",{:.3}", o.wall_s);
    }
    let p = dir.join("part_a_runs.csv");
    write(&p, &csv)?;
    files.push(p);

    let mut csv = format!(
        "method,hyper,seed,epoch,train_loss,val_accuracy,{}\n",
        metric_keys.join(",")
    );
    for o in &a_runs {
        let m = o.job.method;
        for c in &o.curve {
            let _ = write!(
                csv,
                "{},{},{},{},{},{}",
                m.family(),
                opt(m.hyper().map(|h| h.1)),
                o.job.seed,
                c.epoch,
                opt(Some(c.train_loss)),
                opt(Some(c.val_accuracy))
            );
            for k in &metric_keys {
                let _ = write!(csv, ",{}", opt(c.metrics.get(*k).copied()));
            }
            csv.push('\n');
        }
    }
    let p = dir.join("part_a_curves.csv");
    write(&p, &csv)?;
    files.push(p);

    let mut csv = String::from(
        "dataset,setting,level,method,hyper,seed,tuning,used,status,n_train,n_val,n_test,epochs,epochs_run,best_epoch,train_accuracy,train_accuracy_clean,val_accuracy,val_loss,test_accuracy,test_loss,memorised,recovered,wall_s\n",
    );
    for o in &b_runs {
        let (kind, level) = setting_cols(o.job.setting);
        let used = selections.iter().any(|s| {
            s.dataset == o.job.dataset && s.setting == o.job.setting && s.chosen == o.job.method
        });
        let m = o.job.method;
        let _ = writeln!(
            csv,
            "{},{kind},{level},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3}",
            o.job.dataset,
            m.family(),
            opt(m.hyper().map(|h| h.1)),
            o.job.seed,
            o.job.tuning,
            used,
            o.status.replace(',', ";"),
            o.n_train,
            o.n_val,
            o.n_test,
            o.epochs_configured,
            o.epochs_run,
            o.best_epoch.map_or(String::new(), |e| e.to_string()),
            opt(Some(o.train_accuracy)),
            opt(Some(o.train_accuracy_clean)),
            opt(Some(o.val_accuracy)),
            opt(Some(o.val_loss)),
            opt(Some(o.test_accuracy)),
            opt(Some(o.test_loss)),
            opt(o.memorised),
            opt(o.recovered),
            o.wall_s
        );
    }
    let p = dir.join("part_b_runs.csv");
    write(&p, &csv)?;
    files.push(p);

    let mut csv = String::from(
        "dataset,setting,level,method,hyper,runs,failed,n_train,test_accuracy_mean,test_accuracy_std,memorised_mean,memorised_std,recovered_mean,val_accuracy_mean,epochs_run_mean\n",
    );
    for c in &cells {
        let (kind, level) = setting_cols(c.setting);
        let _ = writeln!(
            csv,
            "{},{kind},{level},{},{},{},{},{},{},{},{},{},{},{},{}",
            c.dataset,
            c.family,
            opt(c.chosen.hyper().map(|h| h.1)),
            c.runs,
            c.failed,
            c.n_train,
            opt(Some(c.test_accuracy.mean)),
            opt(Some(c.test_accuracy.std)),
            opt(Some(c.memorised.mean)),
            opt(Some(c.memorised.std)),
            opt(Some(c.recovered.mean)),
            opt(Some(c.val_accuracy.mean)),
            opt(Some(c.epochs_run.mean)),
        );
    }
    let p = dir.join("part_b_summary.csv");
    write(&p, &csv)?;
    files.push(p);

    // Plots.
    let mut plots: Vec<(String, String)> = Vec::new(); // (file name, caption)
    if !a_runs.is_empty() {
        let mut keys: Vec<(&str, &str)> = A_METRICS.iter().map(|m| (m.0, m.2)).collect();
        keys.push(("val_accuracy", "validation accuracy"));
        for (key, title) in keys {
            let series: Vec<Series> = plan
                .a_methods
                .iter()
                .map(|&m| {
                    let runs: Vec<&&Outcome> = a_runs
                        .iter()
                        .filter(|o| o.job.method == m && o.ok())
                        .collect();
                    let max_epoch = runs.iter().map(|o| o.curve.len()).max().unwrap_or(0);
                    let points = (0..max_epoch)
                        .map(|e| {
                            let s = Summary::of(runs.iter().filter_map(|o| {
                                o.curve.get(e).map(|c| {
                                    if key == "val_accuracy" {
                                        c.val_accuracy
                                    } else {
                                        c.metrics.get(key).copied().unwrap_or(f64::NAN)
                                    }
                                })
                            }));
                            (e as f64, s.mean, f64::NAN)
                        })
                        .collect();
                    Series {
                        name: m.label(),
                        points,
                    }
                })
                .collect();
            let name = format!("part_a_{key}.svg");
            line_chart(
                &dir.join(&name),
                &format!("Part A, digits: {title}"),
                "epoch",
                key,
                XAxis::Linear,
                &series,
            )?;
            plots.push((name, format!("{title}, mean over seeds")));
        }
    }
    let b_series = |ds: &str,
                    settings: &[Setting],
                    x: &dyn Fn(usize, Setting) -> f64,
                    y: &dyn Fn(&BCell) -> Summary| {
        plan.b_families()
            .iter()
            .map(|&f| Series {
                name: f.to_string(),
                points: settings
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| {
                        let c = cells
                            .iter()
                            .find(|c| c.dataset == ds && c.setting == s && c.family == f);
                        let v = c.map_or(Summary::of([]), y);
                        (x(i, s), v.mean, v.std)
                    })
                    .collect(),
            })
            .collect::<Vec<Series>>()
    };
    for ds in &plan.b_datasets {
        let noise: Vec<Setting> = plan.b_noise.iter().map(|&p| Setting::Noise(p)).collect();
        let samples: Vec<Setting> = plan
            .b_samples
            .iter()
            .map(|&n| Setting::Samples(n))
            .collect();
        let pct = |_: usize, s: Setting| match s {
            Setting::Noise(p) => 100.0 * p,
            _ => f64::NAN,
        };
        let index = |i: usize, _: Setting| i as f64;
        let charts: [BChart<'_>; 3] = [
            (
                format!("part_b_{ds}_noise_test_accuracy.svg"),
                format!("{ds}: test accuracy (clean test labels) vs symmetric label noise"),
                &noise,
                &pct,
                &|c: &BCell| c.test_accuracy,
                "label noise on train + validation (%)",
                "test accuracy",
            ),
            (
                format!("part_b_{ds}_noise_memorised.svg"),
                format!("{ds}: corrupted training labels fitted by the final model"),
                &noise,
                &pct,
                &|c: &BCell| c.memorised,
                "label noise on train + validation (%)",
                "fraction of corrupted labels predicted",
            ),
            (
                format!("part_b_{ds}_samples_test_accuracy.svg"),
                format!("{ds}: test accuracy vs training samples per class (clean labels)"),
                &samples,
                &index,
                &|c: &BCell| c.test_accuracy,
                "training samples per class",
                "test accuracy",
            ),
        ];
        for (name, title, settings, x, y, x_desc, y_desc) in charts {
            let axis = match settings.first() {
                Some(Setting::Samples(_)) => {
                    XAxis::Categories(plan.b_samples.iter().map(|n| n.to_string()).collect())
                }
                _ => XAxis::Linear,
            };
            let series = b_series(ds, settings, x, y);
            line_chart(&dir.join(&name), &title, x_desc, y_desc, axis, &series)?;
            plots.push((name, format!("{title} (mean ± std over seeds)")));
        }
    }
    for (name, _) in &plots {
        files.push(dir.join(name));
    }

    // The markdown report.
    let md = markdown(
        args, plan, timing, &a_rows, &rho, &cells, &effects, selections, &plots,
    );
    let p = dir.join("report.md");
    write(&p, &md)?;
    files.push(p);
    Ok(files)
}

#[allow(clippy::too_many_arguments)]
fn markdown(
    args: &Args,
    plan: &Plan,
    timing: &Timing,
    a_rows: &[ARow],
    rho: &BTreeMap<String, f64>,
    cells: &[BCell],
    effects: &[Effect],
    selections: &[Selection],
    plots: &[(String, String)],
) -> String {
    let m = machine();
    let mut md = String::new();
    let _ = writeln!(md, "# MGS study: results\n");
    let _ = writeln!(
        md,
        "Generated by `{}` ({} mode) in **{}** wall time ({} runs, {} failed; {} worker thread(s); \
         phase 1 {}, phase 2 {}) on {} CPU(s), {}.\n",
        args.command,
        if plan.quick { "quick" } else { "full" },
        clock(timing.total_s),
        timing.runs,
        timing.failed_runs,
        timing.threads,
        clock(timing.phase1_s),
        clock(timing.phase2_s),
        m.cpus,
        m.cpu_model
    );
    let widths = |h: &[usize]| {
        h.iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        md,
        "Setup: MLPs d→[{}] tanh→C (part A) and d→[{}] tanh→C (part B), Xavier-normal init, \
         trained in f32 with Adam (constant learning rate {} in part A, {} in part B), batch {}, \
         softmax cross-entropy; stratified {}/{}/{} train/validation/test split, features \
         standardised on the training part. The MGS penalty uses the traced kernel of {} samples \
         drawn from each batch (relative jitter {}); the monitored metrics use the traced kernel on \
         the probe set, computed in f64 (jitter {}). For a given seed every method sees the same \
         split, noise, initial weights and batch order, so differences between methods are paired \
         over seeds. Accuracies are in %.\n",
        widths(&plan.a_hidden),
        widths(&plan.b_hidden),
        short(plan.a_lr),
        short(plan.b_lr),
        plan.batch_size,
        plan.split.0 * 100.0,
        plan.split.1 * 100.0,
        plan.split.2 * 100.0,
        plan.mgs_subset,
        short(plan.mgs_jitter),
        short(plan.monitor_jitter),
    );

    if !a_rows.is_empty() {
        let _ = writeln!(md, "## Part A: do regularisers raise MGS? (digits)\n");
        let _ = writeln!(
            md,
            "{} epochs, {} seed(s), probe set: the first {} training samples. Final values are \
             measured on the final model (for early stopping: the restored best one). Rank 1 = \
             lowest normalised log-det = most similar gradients. Mean ± std over seeds.\n",
            plan.a_epochs, plan.a_seeds, plan.a_probe
        );
        let mut rows: Vec<&ARow> = a_rows.iter().collect();
        rows.sort_by(|a, b| {
            a.rank_normalized_logdet
                .partial_cmp(&b.rank_normalized_logdet)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut headers = vec!["rank".to_string(), "regulariser".to_string()];
        headers.extend(A_METRICS[..6].iter().map(|m| m.1.to_string()));
        headers.extend(["epochs".to_string(), "test acc".to_string()]);
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let mut row = vec![format!("{}", r.rank_normalized_logdet), r.label.clone()];
                for (key, _, _) in &A_METRICS[..6] {
                    let digits = if *key == "trace" || *key == "effective_rank" {
                        2
                    } else {
                        3
                    };
                    row.push(r.metrics[*key].fmt(1.0, digits));
                }
                row.push(format!("{:.0}", r.epochs_run.mean));
                row.push(r.test_accuracy.fmt(100.0, 2));
                row
            })
            .collect();
        md_table(&mut md, &headers, &table);
        let _ = writeln!(
            md,
            "Differences to no regularisation (regulariser − none), paired over seeds: mean ± \
             standard error; `*` marks |mean| > 2 SE. A negative Δ norm. log-det and a positive Δ \
             mean cos mean more similar gradients (higher MGS).\n"
        );
        let headers: Vec<String> = [
            "regulariser",
            "Δ trace",
            "Δ log-det",
            "Δ norm. log-det",
            "Δ mean cos",
            "Δ test acc",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let table: Vec<Vec<String>> = a_rows
            .iter()
            .filter(|r| r.method != Method::None)
            .map(|r| {
                vec![
                    r.label.clone(),
                    r.vs_none["trace"].fmt(1.0, 2),
                    r.vs_none["logdet"].fmt(1.0, 3),
                    r.vs_none["normalized_logdet"].fmt(1.0, 3),
                    r.vs_none["cosine_mean"].fmt(1.0, 3),
                    r.vs_none["test_accuracy"].fmt(100.0, 2),
                ]
            })
            .collect();
        md_table(&mut md, &headers, &table);
        let fmt_rho = |k: &str| rho.get(k).map_or("–".to_string(), |v| format!("{v:+.2}"));
        let _ = writeln!(
            md,
            "Spearman rank correlation across the {} regularisers between the final metric (mean \
             over seeds) and test accuracy: normalised log-det {}, mean cosine {}, trace {}, \
             log-det {}.\n",
            a_rows.len(),
            fmt_rho("normalized_logdet"),
            fmt_rho("cosine_mean"),
            fmt_rho("trace"),
            fmt_rho("logdet"),
        );
        for (name, caption) in plots.iter().filter(|p| p.0.starts_with("part_a")) {
            let _ = writeln!(md, "![{caption}]({name})\n");
        }
    }

    if !plan.b_datasets.is_empty() {
        let _ = writeln!(md, "## Part B: label noise and small samples\n");
        let grids: Vec<String> = plan
            .b_grids
            .iter()
            .map(|g| {
                let vals: Vec<String> = g
                    .iter()
                    .filter_map(|m| m.hyper().map(|h| short(h.1)))
                    .collect();
                match g[0].hyper() {
                    None => g[0].family().to_string(),
                    Some((name, _)) => {
                        format!("{} {name} ∈ {{{}}}", g[0].family(), vals.join(", "))
                    }
                }
            })
            .collect();
        let _ = writeln!(
            md,
            "Methods and grids: {}. Each grid value is trained on seed 0; the one with the highest \
             validation accuracy (on the noisy validation labels in noise settings; never the test \
             set) is kept and trained on seeds 1–{}; the table reports all {} seeds (seed 0's run \
             is the selected tuning run). At least {} epochs and at least {} optimiser steps; the \
             final model is evaluated (early stopping: the restored best one). Noise: symmetric, \
             exactly round(p·n) training and validation labels changed to another class; test \
             labels clean. \"Memorised\" = fraction of the corrupted training samples that the \
             final model predicts as their (wrong) noisy label. Small samples: n training samples \
             per class drawn from the training split, and min(n, smallest class) per class from \
             the validation split (held-out data as scarce as training data). Symmetric noise \
             above (K−1)/K (90% for digits, 50% for breast_cancer's 2 classes) makes a wrong \
             class the most frequent label: breast_cancer at 60% and 80% noise is then learnable \
             only inverted, test accuracies below 50% are expected, and \"memorised\" there mostly \
             measures how well the inverted rule was learnt.\n",
            grids.join("; "),
            plan.b_seeds.saturating_sub(1),
            plan.b_seeds,
            plan.b_epochs,
            plan.b_min_steps
        );
        let families = plan.b_families();
        for ds in &plan.b_datasets {
            let _ = writeln!(md, "### {ds}\n");
            let cell = |s: Setting, f: &str| {
                cells
                    .iter()
                    .find(|c| &c.dataset == ds && c.setting == s && c.family == f)
            };
            let table_for = |settings: &[Setting],
                             value: &dyn Fn(&BCell) -> Summary,
                             higher_better: bool| {
                let mut headers = vec!["setting".to_string(), "n train".to_string()];
                headers.extend(families.iter().map(|f| f.to_string()));
                let rows: Vec<Vec<String>> = settings
                    .iter()
                    .map(|&s| {
                        let vals: Vec<Option<Summary>> =
                            families.iter().map(|f| cell(s, f).map(value)).collect();
                        let best = vals
                            .iter()
                            .filter_map(|v| v.map(|v| v.mean))
                            .filter(|v| v.is_finite())
                            .fold(None, |acc: Option<f64>, v| {
                                Some(match acc {
                                    None => v,
                                    Some(a) if higher_better => a.max(v),
                                    Some(a) => a.min(v),
                                })
                            });
                        let mut row = vec![
                            s.label(),
                            cell(s, families[0]).map_or(String::new(), |c| c.n_train.to_string()),
                        ];
                        for v in vals {
                            row.push(match v {
                                None => "–".to_string(),
                                Some(v) if Some(v.mean) == best && v.n > 0 => {
                                    format!("**{}**", v.fmt(100.0, 1))
                                }
                                Some(v) => v.fmt(100.0, 1),
                            });
                        }
                        row
                    })
                    .collect();
                (headers, rows)
            };
            let noise: Vec<Setting> = plan.b_noise.iter().map(|&p| Setting::Noise(p)).collect();
            let samples: Vec<Setting> = plan
                .b_samples
                .iter()
                .map(|&n| Setting::Samples(n))
                .collect();
            let _ = writeln!(
                md,
                "Test accuracy (%) under label noise (best mean in bold):\n"
            );
            let (h, r) = table_for(&noise, &|c| c.test_accuracy, true);
            md_table(&mut md, &h, &r);
            let _ = writeln!(
                md,
                "Corrupted training labels fitted by the final model (%, lower = less memorisation; \
                 lowest in bold):\n"
            );
            let noisy: Vec<Setting> = noise
                .iter()
                .copied()
                .filter(|s| !matches!(s, Setting::Noise(p) if *p == 0.0))
                .collect();
            let (h, r) = table_for(&noisy, &|c| c.memorised, false);
            md_table(&mut md, &h, &r);
            let _ = writeln!(
                md,
                "Test accuracy (%) with few training samples per class:\n"
            );
            let (h, r) = table_for(&samples, &|c| c.test_accuracy, true);
            md_table(&mut md, &h, &r);
            let _ = writeln!(md, "Hyperparameters chosen on seed 0's validation split:\n");
            let mut headers = vec!["setting".to_string()];
            headers.extend(families.iter().skip(1).map(|f| f.to_string()));
            let rows: Vec<Vec<String>> = plan
                .b_settings()
                .iter()
                .map(|&s| {
                    let mut row = vec![s.label()];
                    for f in families.iter().skip(1) {
                        row.push(
                            selections
                                .iter()
                                .find(|x| &x.dataset == ds && x.setting == s && x.family == *f)
                                .map_or("–".to_string(), |x| x.chosen.hyper_text()),
                        );
                    }
                    row
                })
                .collect();
            md_table(&mut md, &headers, &rows);
            for f in families.iter().filter(|f| f.starts_with("mgs")) {
                let _ = writeln!(
                    md,
                    "Effect of {f} on test accuracy: {f} − other method, percentage points, paired \
                     over seeds (mean ± SE, `*` = |mean| > 2 SE):\n"
                );
                let others: Vec<&str> = families.iter().copied().filter(|g| g != f).collect();
                let mut headers = vec!["setting".to_string()];
                headers.extend(others.iter().map(|g| format!("vs {g}")));
                let rows: Vec<Vec<String>> = plan
                    .b_settings()
                    .iter()
                    .map(|&s| {
                        let mut row = vec![s.label()];
                        for g in &others {
                            row.push(
                                effects
                                    .iter()
                                    .find(|e| {
                                        &e.dataset == ds
                                            && e.setting == s
                                            && e.method == *f
                                            && e.versus == *g
                                    })
                                    .map_or("–".to_string(), |e| e.test_accuracy.fmt(100.0, 1)),
                            );
                        }
                        row
                    })
                    .collect();
                md_table(&mut md, &headers, &rows);
            }
            for (name, caption) in plots
                .iter()
                .filter(|p| p.0.starts_with(&format!("part_b_{ds}_")))
            {
                let _ = writeln!(md, "![{caption}]({name})\n");
            }
        }
    }
    let _ = writeln!(
        md,
        "Files: `study.json` (plan, every run, summaries, selections, effects), `part_a_runs.csv`, \
         `part_a_curves.csv`, `part_b_runs.csv` (every run, tuning runs included; `used` marks the \
         chosen hyperparameters), `part_b_summary.csv`, and the SVG plots above."
    );
    md
}
