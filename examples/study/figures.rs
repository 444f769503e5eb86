//! The study's figures: claim 1's curves, claim 2's scatters and claim 3's accuracy per
//! setting, drawn with [`crate::plot`] from the analyses.

use std::path::{Path, PathBuf};

use crate::claim1::CURVE_SETTINGS;
use crate::claim2::{self, MATCHINGS};
use crate::plot::{Curve, Panel, Scatter, Series, XAxis, panels, scatter};
use crate::report::Analysis;

/// The SVG plots of the claims that ran; returns the files written.
pub fn plots(dir: &Path, a: &Analysis<'_>) -> Result<Vec<PathBuf>, String> {
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
