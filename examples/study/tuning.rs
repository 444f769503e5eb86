//! Hyperparameter choice from the tuning records, the refinement phase it asks for, and the
//! report phase's plan built from the choices.
//!
//! Pre-registered rule: per (dataset, setting, method), the grid value with the highest mean
//! **noisy-validation** accuracy at the selected epoch over the tuning seeds (never the test
//! set); ties go to the smaller strength, then to the earlier grid value; a value whose runs
//! all failed never wins. Refinement (once): a choice at an edge of its grid adds one value
//! beyond that edge (by the ratio of the two edge values, inside the method's domain); an MGS
//! weight whose next larger grid weight collapsed on a tuning seed adds their geometric mean.
//! The final choice is made on the grid with the added values.

use serde::{Deserialize, Serialize};

use crate::method::{Family, Method};
use crate::plan::{Phase, Planner, RunSpec, Scale};
use crate::record::RunRecord;
use crate::setting::{DatasetId, Setting};

/// One grid value's tuning result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridPoint {
    /// The method and value.
    pub method: Method,
    /// Mean noisy-validation accuracy at the selected epoch over the tuning seeds (NaN when
    /// no run finished).
    pub val_accuracy: f64,
    /// Tuning runs that finished.
    pub runs: usize,
    /// Of those, runs that collapsed by their last epoch.
    pub collapsed: usize,
}

/// The choice for one (dataset, setting, family).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Dataset.
    pub dataset: DatasetId,
    /// Setting.
    pub setting: Setting,
    /// Family name.
    pub family: String,
    /// Every value tried, initial grid first, then the refinement's values.
    pub grid: Vec<GridPoint>,
    /// The choice on the initial grid.
    pub first_choice: Method,
    /// Whether the first choice lay at an edge of the initial grid.
    pub first_at_edge: bool,
    /// The value added beyond the edge, if one was.
    pub widened: Option<Method>,
    /// The first choice was at an edge that is the method's domain bound (nothing added).
    pub widen_blocked: bool,
    /// The MGS weight added next to a collapse, if one was.
    pub refined: Option<Method>,
    /// The final choice.
    pub chosen: Method,
    /// Whether the final choice lies at an edge of the extended grid.
    pub final_at_edge: bool,
}

impl Choice {
    /// The grid point of the final choice.
    pub fn chosen_point(&self) -> Option<&GridPoint> {
        self.grid.iter().find(|g| g.method == self.chosen)
    }
}

/// The tuning result of `method` in a cell.
fn grid_point(records: &[&RunRecord], scale: &Scale, method: Method) -> GridPoint {
    let runs: Vec<&RunRecord> = records
        .iter()
        .copied()
        .filter(|r| r.spec.method == method && scale.tuning_seeds.contains(&r.spec.seed))
        .filter(|r| r.finished())
        .collect();
    let val: Vec<f64> = runs.iter().map(|r| r.selected.val_acc).collect();
    GridPoint {
        method,
        val_accuracy: if val.is_empty() {
            f64::NAN
        } else {
            val.iter().sum::<f64>() / val.len() as f64
        },
        runs: runs.len(),
        collapsed: runs.iter().filter(|r| r.last.collapsed).count(),
    }
}

/// The best point: highest accuracy, then smaller strength, then earlier; NaN never wins
/// unless every point is NaN (then the first).
fn best(points: &[GridPoint]) -> Method {
    let mut best: Option<&GridPoint> = None;
    for p in points.iter().filter(|p| p.val_accuracy.is_finite()) {
        let better = match best {
            None => true,
            Some(b) => {
                p.val_accuracy > b.val_accuracy
                    || (p.val_accuracy == b.val_accuracy
                        && p.method.strength() < b.method.strength())
            }
        };
        if better {
            best = Some(p);
        }
    }
    best.or(points.first()).map_or(Method::None, |p| p.method)
}

/// `(at the lower edge, at the upper edge)` of `grid` (soft values only for bootstrapping).
fn edges(grid: &[Method], m: Method) -> (bool, bool) {
    if matches!(m, Method::BootstrapHard(_)) {
        return (false, false);
    }
    let values: Vec<f64> = grid
        .iter()
        .filter(|g| !matches!(g, Method::BootstrapHard(_)))
        .filter_map(Method::value)
        .collect();
    let Some(v) = m.value() else {
        return (false, false);
    };
    if values.len() < 2 {
        return (false, false);
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (v == lo, v == hi)
}

/// The values a first choice asks the refinement phase to add: `(widened, blocked, refined)`.
fn additions(
    family: Family,
    grid: &[Method],
    points: &[GridPoint],
    first: Method,
) -> (Option<Method>, bool, Option<Method>) {
    let (lo, hi) = edges(grid, first);
    let widened = if lo || hi {
        family.widen(grid, hi)
    } else {
        None
    };
    let blocked = (lo || hi) && widened.is_none();
    let refined = match (family, first) {
        (Family::Mgs(form), Method::Mgs(_, w)) => points
            .iter()
            .filter_map(|p| match p.method {
                Method::Mgs(_, u) if u > w && p.collapsed > 0 => Some(u),
                _ => None,
            })
            .fold(None, |acc: Option<f64>, u| {
                Some(acc.map_or(u, |a| a.min(u)))
            })
            .filter(|&u| {
                // Only the next larger weight of the grid counts.
                !grid
                    .iter()
                    .filter_map(Method::value)
                    .any(|x| x > w && x < u)
            })
            .map(|u| Method::Mgs(form, (w * u).sqrt())),
        _ => None,
    };
    (widened, blocked, refined)
}

/// The choices of every (dataset, setting, family) of claim 3 from the tuning (and, once run,
/// refinement) records; none when claim 3 is not run.
pub fn choose(records: &[RunRecord], scale: &Scale) -> Vec<Choice> {
    let mut out = Vec::new();
    if !scale.claims.three {
        return out;
    }
    for &dataset in &scale.datasets {
        for &setting in &scale.settings {
            let cell: Vec<&RunRecord> = records
                .iter()
                .filter(|r| r.spec.dataset == dataset && r.spec.setting == setting)
                .filter(|r| r.spec.phase != Phase::Report)
                .collect();
            for family in scale.families() {
                let grid = scale.grid(family);
                let points: Vec<GridPoint> =
                    grid.iter().map(|&m| grid_point(&cell, scale, m)).collect();
                let first = best(&points);
                let (widened, widen_blocked, refined) = additions(family, &grid, &points, first);
                let mut all = points.clone();
                let mut extended = grid.clone();
                for m in [widened, refined].into_iter().flatten() {
                    let p = grid_point(&cell, scale, m);
                    if p.runs > 0 {
                        all.push(p);
                        extended.push(m);
                    }
                }
                let chosen = best(&all);
                let (lo, hi) = edges(&extended, chosen);
                let (first_lo, first_hi) = edges(&grid, first);
                out.push(Choice {
                    dataset,
                    setting,
                    family: family.name().to_string(),
                    grid: all,
                    first_choice: first,
                    first_at_edge: first_lo || first_hi,
                    widened,
                    widen_blocked,
                    refined,
                    chosen,
                    final_at_edge: lo || hi,
                });
            }
        }
    }
    out
}

/// The refinement phase: the added values of every choice on the tuning seeds, except runs
/// that `existing` already holds (claim 2's extra strengths).
pub fn refinement_plan(
    choices: &[Choice],
    existing: &[RunRecord],
    scale: &Scale,
    planner: &mut Planner<'_>,
) -> Vec<RunSpec> {
    let mut specs: Vec<RunSpec> = Vec::new();
    for c in choices {
        for m in [c.widened, c.refined].into_iter().flatten() {
            for &seed in &scale.tuning_seeds {
                let same = |d: DatasetId, s: Setting, method: Method, sd: u64| {
                    d == c.dataset && s == c.setting && method == m && sd == seed
                };
                let held = existing
                    .iter()
                    .any(|r| same(r.spec.dataset, r.spec.setting, r.spec.method, r.spec.seed))
                    || specs
                        .iter()
                        .any(|r| same(r.dataset, r.setting, r.method, r.seed));
                if !held {
                    specs.push(planner.spec(Phase::Refinement, c.dataset, c.setting, m, seed));
                }
            }
        }
    }
    specs
}

/// The (dataset, setting, method) cells of the final choices.
pub fn chosen_cells(choices: &[Choice]) -> Vec<(DatasetId, Setting, Method)> {
    choices
        .iter()
        .map(|c| (c.dataset, c.setting, c.chosen))
        .collect()
}

/// Stand-in choices for the time estimate before tuning: each family's most expensive value.
pub fn provisional_cells(scale: &Scale) -> Vec<(DatasetId, Setting, Method)> {
    let mut out = Vec::new();
    if !scale.claims.three {
        return out;
    }
    for &dataset in &scale.datasets {
        for &setting in &scale.settings {
            for family in scale.families() {
                let grid = scale.grid(family);
                if let Some(&m) = grid.last() {
                    out.push((dataset, setting, m));
                }
            }
        }
    }
    out
}

/// The report phase: every chosen (dataset, setting, method) on the report seeds (claim 3),
/// and 'none' in every setting for claim 1 (its curves and correlations), in order: dataset,
/// setting, family, seed.
pub fn report_plan(
    chosen: &[(DatasetId, Setting, Method)],
    scale: &Scale,
    planner: &mut Planner<'_>,
) -> Vec<RunSpec> {
    let mut specs = Vec::new();
    for &dataset in &scale.datasets {
        let mut settings = scale.settings.clone();
        settings.extend(&scale.none_settings);
        for setting in settings {
            let mut methods: Vec<Method> = chosen
                .iter()
                .filter(|(d, s, _)| *d == dataset && *s == setting)
                .map(|&(_, _, m)| m)
                .collect();
            if scale.claims.one && !methods.contains(&Method::None) {
                methods.insert(0, Method::None);
            }
            for method in methods {
                for &seed in &scale.report_seeds {
                    specs.push(planner.spec(Phase::Report, dataset, setting, method, seed));
                }
            }
        }
    }
    specs
}

/// Upper bound of the refinement phase's size before tuning: every family with a grid of two or
/// more values, widened and (MGS) refined, on the tuning seeds.
pub fn refinement_bound(scale: &Scale) -> (usize, f64) {
    let (mut n, mut secs) = (0, 0.0);
    if !scale.claims.three {
        return (0, 0.0);
    }
    for &dataset in &scale.datasets {
        for &setting in &scale.settings {
            for family in scale.families() {
                let grid = scale.grid(family);
                if grid.len() < 2 {
                    continue;
                }
                let added = if family.is_mgs() { 2 } else { 1 };
                let k = added * scale.tuning_seeds.len();
                n += k;
                secs += k as f64 * scale.estimate(dataset, setting, &grid[grid.len() - 1]);
            }
        }
    }
    (n, secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::MgsForm;

    fn point(method: Method, val_accuracy: f64, collapsed: usize) -> GridPoint {
        GridPoint {
            method,
            val_accuracy,
            runs: 2,
            collapsed,
        }
    }

    #[test]
    fn best_takes_the_highest_accuracy_then_the_smaller_strength() {
        let pts = [
            point(Method::L2(1e-3), 0.70, 0),
            point(Method::L2(1e-4), 0.70, 0),
            point(Method::L2(1e-2), 0.65, 0),
            point(Method::L2(1e-1), f64::NAN, 0),
        ];
        assert_eq!(best(&pts), Method::L2(1e-4));
        let pts = [
            point(Method::L2(1e-5), f64::NAN, 0),
            point(Method::L2(1e-4), 0.1, 0),
        ];
        assert_eq!(best(&pts), Method::L2(1e-4));
        // Every run failed: the first value.
        let pts = [point(Method::Gce(0.3), f64::NAN, 0)];
        assert_eq!(best(&pts), Method::Gce(0.3));
    }

    #[test]
    fn edges_ignore_hard_bootstrapping() {
        let grid = Family::Bootstrap.grid(&[]);
        assert_eq!(edges(&grid, Method::BootstrapSoft(0.95)), (false, true));
        assert_eq!(edges(&grid, Method::BootstrapSoft(0.6)), (true, false));
        assert_eq!(edges(&grid, Method::BootstrapSoft(0.8)), (false, false));
        assert_eq!(edges(&grid, Method::BootstrapHard(0.8)), (false, false));
    }

    #[test]
    fn refinement_adds_the_geometric_mean_below_a_collapse() {
        let form = MgsForm::LogDet;
        let weights = [1e-3, 1e-2, 1e-1, 1.0];
        let family = Family::Mgs(form);
        let grid = family.grid(&weights);
        let pts: Vec<GridPoint> = weights
            .iter()
            .map(|&w| point(Method::Mgs(form, w), 0.5, usize::from(w >= 1e-1)))
            .collect();
        // 1e-2 chosen, its next larger weight collapsed: add √(1e-2 · 1e-1).
        let (widened, blocked, refined) = additions(family, &grid, &pts, Method::Mgs(form, 1e-2));
        assert_eq!((widened, blocked), (None, false));
        let Some(Method::Mgs(_, w)) = refined else {
            panic!("no refinement: {refined:?}");
        };
        assert!((w - (1e-3f64).sqrt()).abs() < 1e-15, "{w}");
        // 1e-3 chosen: its next larger weight (1e-2) did not collapse; at the lower edge.
        let (widened, _, refined) = additions(family, &grid, &pts, Method::Mgs(form, 1e-3));
        assert_eq!(refined, None);
        assert!(matches!(widened, Some(Method::Mgs(_, w)) if (w - 1e-4).abs() < 1e-18));
        // The top weight chosen: widened upwards, nothing to refine.
        let (widened, _, refined) = additions(family, &grid, &pts, Method::Mgs(form, 1.0));
        assert_eq!(refined, None);
        assert!(matches!(widened, Some(Method::Mgs(_, w)) if (w - 10.0).abs() < 1e-12));
        // GCE at q = 1: at the edge, blocked by the domain.
        let gce = Family::Gce.grid(&[]);
        let (widened, blocked, _) = additions(Family::Gce, &gce, &[], Method::Gce(1.0));
        assert_eq!((widened, blocked), (None, true));
    }
}
