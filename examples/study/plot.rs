//! SVG plots (plotters' SVG backend; text is left to the viewer's fonts): stacked line charts
//! with error bars, and scatters with one colour per group and a fitted curve.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

/// One line: points `(x, mean, error)`; a non-finite error draws no bar.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// The points.
    pub points: Vec<(f64, f64, f64)>,
}

/// How the x axis is labelled.
pub enum XAxis {
    /// Plain numbers.
    Linear,
    /// Categories at x = 0, 1, 2, … with these labels.
    Categories(Vec<String>),
}

/// One panel of a figure.
pub struct Panel {
    /// Title.
    pub title: String,
    /// x-axis description.
    pub x_desc: String,
    /// y-axis description.
    pub y_desc: String,
    /// The x axis.
    pub x_axis: XAxis,
    /// The lines.
    pub series: Vec<Series>,
}

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 12] = [
        RGBColor(0, 0, 0),
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
        RGBColor(100, 50, 0),
    ];
    COLORS[i % COLORS.len()]
}

/// `(lowest, highest)` of the finite values, widened when empty or flat.
fn bounds(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws the legend entries `(name, colour)` into `area`.
fn legend(
    area: &Area<'_>,
    entries: &[(String, RGBColor)],
    err: &dyn Fn(String) -> String,
) -> Result<(), String> {
    for (i, (name, c)) in entries.iter().enumerate() {
        let y = 40 + 22 * i as i32;
        area.draw(&PathElement::new(vec![(8, y), (34, y)], c.stroke_width(3)))
            .map_err(|e| err(e.to_string()))?;
        area.draw(&Text::new(name.clone(), (42, y - 7), ("sans-serif", 13)))
            .map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

fn draw_panel(
    area: &Area<'_>,
    panel: &Panel,
    err: &dyn Fn(String) -> String,
) -> Result<(), String> {
    let (plot, side) = area.split_horizontally(area.dim_in_pixel().0 as i32 * 3 / 4);
    let points = || panel.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1) = bounds(points().map(|p| p.0));
    let (mut y0, mut y1) = bounds(points().flat_map(|&(_, m, e)| {
        let e = if e.is_finite() { e } else { 0.0 };
        [m - e, m + e]
    }));
    let labels = match &panel.x_axis {
        XAxis::Categories(l) => {
            (x0, x1) = (-0.4, l.len() as f64 - 0.6);
            l.clone()
        }
        XAxis::Linear => {
            let pad = (x1 - x0) * 0.03;
            (x0, x1) = (x0 - pad, x1 + pad);
            Vec::new()
        }
    };
    let pad = (y1 - y0) * 0.06;
    (y0, y1) = (y0 - pad, y1 + pad);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(e.to_string()))?;
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
    mesh.x_desc(&panel.x_desc)
        .y_desc(&panel.y_desc)
        .x_label_formatter(&x_fmt)
        .light_line_style(WHITE.mix(0.0));
    if !labels.is_empty() {
        mesh.x_labels(labels.len() * 4);
    }
    mesh.draw().map_err(|e| err(e.to_string()))?;
    let n = panel.series.len() as f64;
    let dodge = if labels.is_empty() { 0.0 } else { 0.025 };
    for (i, s) in panel.series.iter().enumerate() {
        let c = color(i);
        let shift = dodge * (i as f64 - (n - 1.0) / 2.0);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|p| (p.0 + shift, p.1))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?;
        if pts.len() <= 16 {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(|e| err(e.to_string()))?;
        }
        let bars = s
            .points
            .iter()
            .filter(|p| p.1.is_finite() && p.2.is_finite() && p.2 > 0.0)
            .map(|&(x, m, e)| {
                PathElement::new(
                    vec![(x + shift, m - e), (x + shift, m + e)],
                    c.stroke_width(1),
                )
            });
        chart.draw_series(bars).map_err(|e| err(e.to_string()))?;
    }
    let entries: Vec<(String, RGBColor)> = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), color(i)))
        .collect();
    legend(&side, &entries, err)
}

/// Draws `panels` stacked vertically into one SVG file.
pub fn panels(path: &Path, panels: &[Panel]) -> Result<(), String> {
    let err = |e: String| format!("{}: {e}", path.display());
    let height = 420 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (1080, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel, &err)?;
    }
    root.present().map_err(|e| err(e.to_string()))
}

/// A curve `y = f(x)`.
pub type Curve = Box<dyn Fn(f64) -> f64>;

/// A scatter: `(x, y)` points in groups (one colour each), and an optional curve drawn over the
/// x range of the points.
pub struct Scatter {
    /// Title.
    pub title: String,
    /// x-axis description.
    pub x_desc: String,
    /// y-axis description.
    pub y_desc: String,
    /// `(group name, points)`.
    pub groups: Vec<(String, Vec<(f64, f64)>)>,
    /// A fitted curve, with its legend text.
    pub curve: Option<(String, Curve)>,
}

/// Draws `s` into an SVG file.
pub fn scatter(path: &Path, s: &Scatter) -> Result<(), String> {
    let err = |e: String| format!("{}: {e}", path.display());
    let root = SVGBackend::new(path, (1080, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (plot, side) = root.split_horizontally(810);
    let all = || s.groups.iter().flat_map(|(_, p)| p.iter());
    let (x0, x1) = bounds(all().map(|p| p.0));
    let (y0, y1) = bounds(all().map(|p| p.1));
    let (px, py) = ((x1 - x0) * 0.04, (y1 - y0) * 0.06);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&s.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc(&s.x_desc)
        .y_desc(&s.y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (i, (_, pts)) in s.groups.iter().enumerate() {
        let c = color(i + 1);
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
            .map_err(|e| err(e.to_string()))?;
    }
    let mut entries: Vec<(String, RGBColor)> = Vec::new();
    if let Some((name, f)) = &s.curve {
        let line: Vec<(f64, f64)> = (0..=100)
            .map(|k| {
                let x = x0 + (x1 - x0) * k as f64 / 100.0;
                (x, f(x))
            })
            .filter(|p| p.1.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(line, color(0).stroke_width(2)))
            .map_err(|e| err(e.to_string()))?;
        entries.push((name.clone(), color(0)));
    }
    entries.extend(
        s.groups
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), color(i + 1))),
    );
    legend(&side, &entries, &err)?;
    root.present().map_err(|e| err(e.to_string()))
}
