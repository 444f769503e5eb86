//! The CSV tables of the analyses (`tuning.csv`, `regime.csv`, `claim*_*.csv`): one row per
//! table entry, numbers to 7 significant digits, empty cells where a value is undefined.

use crate::claim1::Claim1;
use crate::claim2::Claim2;
use crate::claim3::Claim3;
use crate::record::{field, num};
use crate::regime::RegimeRow;
use crate::stats::{MeanSe, Paired};
use crate::tuning::Choice;

fn csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.join(","));
        out.push('\n');
    }
    out
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

/// `tuning.csv`: every grid value tried per (dataset, setting, family), its mean noisy-validation
/// accuracy, and which value was added, chosen first and chosen at the end.
pub fn tuning_csv(choices: &[Choice]) -> String {
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

/// `regime.csv`: memorisation by 'none' per noisy setting.
pub fn regime_csv(rows: &[RegimeRow]) -> String {
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
                r.median_epochs_to_fit()
                    .map_or(String::new(), |m| m.to_string()),
                num(r.test_last.mean),
                num(r.test_selected.mean),
            ]
        }),
    )
}

/// `claim1_correlations.csv`, `claim1_selection.csv`, `claim1_curves.csv` (headers only when
/// claim 1 did not run).
pub fn claim1_csvs(c: Option<&Claim1>) -> [String; 3] {
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

/// `claim2_points.csv`, `claim2_fit.csv`, `claim2_dose.csv`.
pub fn claim2_csvs(c: Option<&Claim2>) -> [String; 3] {
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

/// `claim3_summary.csv`, `claim3_tests.csv`.
pub fn claim3_csvs(c: Option<&Claim3>) -> [String; 2] {
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
