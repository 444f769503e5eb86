//! Line charts with error bars, written as SVG by plotters (no system fonts needed: the SVG
//! backend writes text elements and leaves the glyphs to the viewer).

use std::path::Path;

use plotters::prelude::*;

/// One line: points `(x, mean, std)`; `std` NaN draws no error bar.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// How the x axis is labelled.
pub enum XAxis {
    /// Plain numbers.
    Linear,
    /// Categories at x = 0, 1, 2, … with these labels.
    Categories(Vec<String>),
}

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 10] = [
        RGBColor(0, 0, 0),
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(214, 39, 40),
        RGBColor(23, 190, 207),
        RGBColor(188, 189, 34),
    ];
    COLORS[i % COLORS.len()]
}

/// Draws `series` into an SVG file at `path`, with the legend to the right of the plot. Series
/// whose name starts with `mgs` are drawn thicker. Error bars (when any) are shifted sideways a
/// little per series so that they do not overlap.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    x_axis: XAxis,
    series: &[Series],
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let finite = |v: f64| v.is_finite();
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|&v| finite(v))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| {
            s.points.iter().flat_map(|&(_, m, sd)| {
                let sd = if sd.is_finite() { sd } else { 0.0 };
                [m - sd, m + sd]
            })
        })
        .filter(|&v| finite(v))
        .collect();
    let (mut x0, mut x1) = bounds(&xs);
    let (mut y0, mut y1) = bounds(&ys);
    if let XAxis::Categories(labels) = &x_axis {
        x0 = -0.4;
        x1 = labels.len() as f64 - 0.6;
    } else {
        let pad = (x1 - x0).max(1e-9) * 0.03;
        x0 -= pad;
        x1 += pad;
    }
    let pad = (y1 - y0).max(1e-9) * 0.06;
    y0 -= pad;
    y1 += pad;
    let has_bars = series
        .iter()
        .any(|s| s.points.iter().any(|p| p.2.is_finite() && p.2 > 0.0));
    let dodge = match (&x_axis, has_bars) {
        (_, false) => 0.0,
        (XAxis::Categories(_), true) => 0.03,
        (XAxis::Linear, true) => (x1 - x0) * 0.005,
    };

    let root = SVGBackend::new(path, (1080, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (plot_area, legend_area) = root.split_horizontally(800);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    let labels = match &x_axis {
        XAxis::Categories(l) => l.clone(),
        XAxis::Linear => Vec::new(),
    };
    let x_fmt = |v: &f64| -> String {
        if labels.is_empty() {
            format!("{v}")
        } else {
            let r = v.round();
            if (v - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < labels.len() {
                labels[r as usize].clone()
            } else {
                String::new()
            }
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&x_fmt)
        .light_line_style(WHITE.mix(0.0));
    if !labels.is_empty() {
        mesh.x_labels(labels.len() * 4);
    }
    mesh.draw().map_err(|e| err(&e))?;

    let n = series.len() as f64;
    for (i, s) in series.iter().enumerate() {
        let c = color(i);
        let width = if s.name.starts_with("mgs") { 3 } else { 2 };
        let shift = dodge * (i as f64 - (n - 1.0) / 2.0);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|p| (p.0 + shift, p.1))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(width)))
            .map_err(|e| err(&e))?;
        let y = 60 + 26 * i as i32;
        legend_area
            .draw(&PathElement::new(vec![(8, y), (36, y)], c.stroke_width(3)))
            .map_err(|e| err(&e))?;
        legend_area
            .draw(&Text::new(s.name.clone(), (44, y - 7), ("sans-serif", 14)))
            .map_err(|e| err(&e))?;
        if pts.len() <= 12 {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(|e| err(&e))?;
        }
        let bars: Vec<_> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite() && p.2.is_finite() && p.2 > 0.0)
            .map(|&(x, m, sd)| {
                PathElement::new(
                    vec![(x + shift, m - sd), (x + shift, m + sd)],
                    c.stroke_width(1),
                )
            })
            .collect();
        chart.draw_series(bars).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

fn bounds(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}
