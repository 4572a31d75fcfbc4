//! The evaluation report: one self-contained HTML file (inline SVG drawn with plotters'
//! SVG backend, inline CSS, no script and no network) with ROC and PR curves, the
//! confusion matrix as a heat map, score histograms per class, calibration, feature
//! importance and, when a baseline was evaluated too, the comparison with the model set
//! currently deployed.
//!
//! Every plot is a `<figure id="...">` with one of the [`PLOT_IDS`].

use std::fmt::Write as _;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::models::{Comparison, Evaluation, FeatureImportance, format_summary};
use crate::ml::Category;
use crate::training::metrics::threshold_steps;

/// The `id` of each plot's `<figure>` in the report, in page order.
pub const PLOT_IDS: [&str; 7] = [
    "roc-curves",
    "pr-curves",
    "confusion-matrix",
    "score-histograms",
    "calibration",
    "feature-importance",
    "baseline-comparison",
];

const WIDTH: u32 = 560;
const HEIGHT: u32 = 400;
/// Curves are drawn through at most this many points.
const CURVE_POINTS: usize = 400;
const HISTOGRAM_BINS: usize = 20;
const IMPORTANCE_SHOWN: usize = 15;

const CANDIDATE: RGBColor = RGBColor(31, 119, 180);
const BASELINE: RGBColor = RGBColor(255, 127, 14);
const CLASS_COLORS: [RGBColor; 4] = [
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
];

#[derive(Debug, thiserror::Error)]
#[error("drawing {plot}: {message}")]
pub struct ReportError {
    plot: &'static str,
    message: String,
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn svg(
    plot: &'static str,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn,
) -> Result<String, ReportError> {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, size).into_drawing_area();
        let err = |e: &dyn std::fmt::Display| ReportError {
            plot,
            message: e.to_string(),
        };
        area.fill(&WHITE).map_err(|e| err(&e))?;
        draw(&area).map_err(|e| err(&e))?;
        area.present().map_err(|e| err(&e))?;
    }
    Ok(out)
}

/// (false positive rate, true positive rate) from the highest threshold down.
pub fn roc_points(scores: &[f64], positive: &[bool]) -> Vec<(f64, f64)> {
    let (n_pos, n_neg) = counts(positive);
    if n_pos == 0 || n_neg == 0 {
        return Vec::new();
    }
    sweep(scores, positive)
        .into_iter()
        .map(|(tp, fp)| (fp as f64 / n_neg as f64, tp as f64 / n_pos as f64))
        .collect()
}

/// (recall, precision) from the highest threshold down.
pub fn pr_points(scores: &[f64], positive: &[bool]) -> Vec<(f64, f64)> {
    let (n_pos, _) = counts(positive);
    if n_pos == 0 {
        return Vec::new();
    }
    sweep(scores, positive)
        .into_iter()
        .skip(1)
        .map(|(tp, fp)| {
            (
                tp as f64 / n_pos as f64,
                tp as f64 / (tp + fp).max(1) as f64,
            )
        })
        .collect()
}

fn counts(positive: &[bool]) -> (usize, usize) {
    let p = positive.iter().filter(|p| **p).count();
    (p, positive.len() - p)
}

/// Cumulative (true positives, false positives) at each distinct threshold, thinned to
/// about [`CURVE_POINTS`] points (the first and last always kept).
fn sweep(scores: &[f64], positive: &[bool]) -> Vec<(usize, usize)> {
    let mut points = vec![(0usize, 0usize)];
    points.extend(threshold_steps(scores, positive));
    let step = points.len().div_ceil(CURVE_POINTS).max(1);
    let last = *points.last().expect("one point");
    let mut thinned: Vec<(usize, usize)> = points.into_iter().step_by(step).collect();
    if thinned.last() != Some(&last) {
        thinned.push(last);
    }
    thinned
}

fn non_normal(e: &Evaluation) -> Vec<bool> {
    e.details
        .labels
        .iter()
        .map(|l| *l != Category::Normal)
        .collect()
}

type Curve = (String, RGBColor, Vec<(f64, f64)>);

/// The axis names of a figure's curve panels, and whether they draw the diagonal.
struct Axes {
    x_desc: &'static str,
    y_desc: &'static str,
    diagonal: bool,
}

impl Axes {
    fn new(x_desc: &'static str, y_desc: &'static str) -> Axes {
        Axes {
            x_desc,
            y_desc,
            diagonal: false,
        }
    }

    fn with_diagonal(self) -> Axes {
        Axes {
            diagonal: true,
            ..self
        }
    }
}

fn curve_chart(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    axes: &Axes,
    curves: &[Curve],
) -> Drawn {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    if axes.diagonal {
        chart.draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            BLACK.mix(0.3).stroke_width(1),
        ))?;
    }
    for (label, color, points) in curves {
        let color = *color;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// The legend of a chart's labelled series, at `position`.
fn draw_legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// Two curve panels side by side on the same axes, each plotting its `P` under its title:
/// in each, `curve` gives the candidate's curve and, when there is one, the deployed set's
/// (legend label, points).
fn paired_curves_svg<P: Copy>(
    plot: &'static str,
    (e, baseline): (&Evaluation, Option<&Evaluation>),
    axes: Axes,
    panels: [(P, String); 2],
    curve: impl Fn(&Evaluation, &str, P) -> (String, Vec<(f64, f64)>),
) -> Result<String, ReportError> {
    svg(plot, (WIDTH * 2, HEIGHT), |area| {
        let (left, right) = area.split_horizontally(WIDTH);
        for (area, (which, title)) in [&left, &right].into_iter().zip(panels) {
            let roles = [
                (Some(e), CANDIDATE, "candidate"),
                (baseline, BASELINE, "deployed"),
            ];
            let curves: Vec<Curve> = roles
                .into_iter()
                .filter_map(|(eval, color, role)| {
                    let (label, points) = curve(eval?, role, which);
                    Some((label, color, points))
                })
                .collect();
            curve_chart(area, &title, &axes, &curves)?;
        }
        Ok(())
    })
}

fn auc_label(name: &str, version: &str, auc: Option<f64>) -> String {
    match auc {
        Some(a) => format!("{name} {version} (AUC {a:.3})"),
        None => format!("{name} {version}"),
    }
}

fn roc_svg(e: &Evaluation, baseline: Option<&Evaluation>) -> Result<String, ReportError> {
    let axes = Axes::new("false positive rate", "true positive rate").with_diagonal();
    let panels = ["AnomalyScore", "PriorityScore"]
        .map(|which| (which, format!("ROC of {which}: non-normal vs normal")));
    paired_curves_svg(
        "ROC curves",
        (e, baseline),
        axes,
        panels,
        |eval, role, which| {
            let positive = non_normal(eval);
            let (scores, auc) = if which == "AnomalyScore" {
                (&eval.details.anomaly_scores, eval.anomaly.roc_auc)
            } else {
                (
                    &eval.details.priority_scores,
                    eval.priority.roc_auc_non_normal,
                )
            };
            let label = auc_label(role, &eval.model_version, auc);
            (label, roc_points(scores, &positive))
        },
    )
}

fn pr_svg(e: &Evaluation, baseline: Option<&Evaluation>) -> Result<String, ReportError> {
    let panels =
        [(false, "non-normal"), (true, "critical_security")].map(|(critical_only, what)| {
            (
                critical_only,
                format!("PR of AnomalyScore: {what} vs normal"),
            )
        });
    paired_curves_svg(
        "PR curves",
        (e, baseline),
        Axes::new("recall", "precision"),
        panels,
        |eval, role, critical_only| {
            let (scores, positive): (Vec<f64>, Vec<bool>) = if critical_only {
                eval.details
                    .anomaly_scores
                    .iter()
                    .zip(&eval.details.labels)
                    .filter(|(_, l)| matches!(l, Category::Normal | Category::CriticalSecurity))
                    .map(|(s, l)| (*s, *l == Category::CriticalSecurity))
                    .unzip()
            } else {
                (eval.details.anomaly_scores.clone(), non_normal(eval))
            };
            let ap = if critical_only {
                eval.anomaly.pr_auc_critical
            } else {
                eval.anomaly.pr_auc
            };
            let label = auc_label(role, &eval.model_version, ap);
            (label, pr_points(&scores, &positive))
        },
    )
}

fn confusion_panel(area: &DrawingArea<SVGBackend<'_>, Shift>, e: &Evaluation, role: &str) -> Drawn {
    let short = ["critical", "sys_error", "perf", "normal"];
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{role} {} (row-normalized)", e.model_version),
            ("sans-serif", 15),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0usize..3).into_segmented(), (0usize..3).into_segmented())?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) if *i < 4 => short[*i].to_string(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("predicted")
        .y_desc("actual")
        .x_label_formatter(&label)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if *i < 4 => short[3 - *i].to_string(),
            _ => String::new(),
        })
        .draw()?;
    let confusion = &e.classifier.confusion;
    for (actual, row) in confusion.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (predicted, count) in row.iter().enumerate() {
            let share = if total > 0 {
                *count as f64 / total as f64
            } else {
                0.0
            };
            // Actual classes top to bottom, as in a printed matrix.
            let y = 3 - actual;
            let shade = (255.0 * (1.0 - share)) as u8;
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (SegmentValue::Exact(predicted), SegmentValue::Exact(y)),
                    (
                        SegmentValue::Exact(predicted + 1),
                        SegmentValue::Exact(y + 1),
                    ),
                ],
                RGBColor(shade, shade, 255).filled(),
            )))?;
            let text_color = if share > 0.6 { WHITE } else { BLACK };
            chart.draw_series(std::iter::once(Text::new(
                format!("{count}"),
                (SegmentValue::CenterOf(predicted), SegmentValue::CenterOf(y)),
                ("sans-serif", 14).into_font().color(&text_color),
            )))?;
        }
    }
    Ok(())
}

fn confusion_svg(e: &Evaluation, baseline: Option<&Evaluation>) -> Result<String, ReportError> {
    let panels = if baseline.is_some() { 2 } else { 1 };
    svg("confusion matrix", (WIDTH * panels, HEIGHT), |area| {
        if let Some(b) = baseline {
            let (left, right) = area.split_horizontally(WIDTH);
            confusion_panel(&left, e, "candidate")?;
            confusion_panel(&right, b, "deployed")?;
        } else {
            confusion_panel(area, e, "candidate")?;
        }
        Ok(())
    })
}

/// Share of each class's records per score bin.
fn class_histograms(scores: &[f64], labels: &[Category]) -> Vec<Vec<f64>> {
    let mut counts = vec![vec![0u64; HISTOGRAM_BINS]; 4];
    for (s, l) in scores.iter().zip(labels) {
        let b = ((s.clamp(0.0, 1.0) * HISTOGRAM_BINS as f64) as usize).min(HISTOGRAM_BINS - 1);
        counts[l.index()][b] += 1;
    }
    counts
        .into_iter()
        .map(|c| {
            let total = c.iter().sum::<u64>().max(1) as f64;
            c.into_iter().map(|n| n as f64 / total).collect()
        })
        .collect()
}

fn histogram_svg(e: &Evaluation) -> Result<String, ReportError> {
    svg("score histograms", (WIDTH * 2, HEIGHT), |area| {
        let (left, right) = area.split_horizontally(WIDTH);
        for (panel, name, scores) in [
            (&left, "AnomalyScore", &e.details.anomaly_scores),
            (&right, "PriorityScore", &e.details.priority_scores),
        ] {
            let hist = class_histograms(scores, &e.details.labels);
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("{name} by true category"), ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(48)
                .build_cartesian_2d(0f64..1f64, (0.001f64..1f64).log_scale())?;
            chart
                .configure_mesh()
                .x_desc(name)
                .y_desc("share of the category's records")
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            let width = 1.0 / HISTOGRAM_BINS as f64;
            for c in Category::ALL {
                let shares = &hist[c.index()];
                if shares.iter().all(|s| *s == 0.0) {
                    continue;
                }
                let color = CLASS_COLORS[c.index()];
                // A step outline per class: overlapping classes stay readable.
                let mut points = Vec::with_capacity(HISTOGRAM_BINS * 2);
                for (b, share) in shares.iter().enumerate() {
                    let y = share.max(0.001);
                    points.push((b as f64 * width, y));
                    points.push(((b + 1) as f64 * width, y));
                }
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                    .label(c.name())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
                    });
            }
            draw_legend(&mut chart, SeriesLabelPosition::UpperMiddle)?;
        }
        Ok(())
    })
}

fn calibration_svg(e: &Evaluation, baseline: Option<&Evaluation>) -> Result<String, ReportError> {
    let axes = Axes::new("mean predicted (per bin)", "mean observed (per bin)").with_diagonal();
    let panels = [
        (false, "PriorityScore vs weight of the true category".into()),
        (true, "LogCategoryConfidence vs accuracy".into()),
    ];
    paired_curves_svg(
        "calibration",
        (e, baseline),
        axes,
        panels,
        |eval, role, confidence| {
            let cal = if confidence {
                &eval.confidence_calibration
            } else {
                &eval.priority.calibration
            };
            let label = format!("{role} {} (ECE {:.3})", eval.model_version, cal.ece);
            let points = cal.bins.iter().map(|b| (b.mean_predicted, b.mean_observed));
            (label, points.collect())
        },
    )
}

fn bar_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    items: &[(String, f64)],
    color: RGBColor,
) -> Drawn {
    let max = items.iter().map(|i| i.1).fold(0.0f64, f64::max).max(1e-9);
    let n = items.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(190)
        .build_cartesian_2d(0f64..max * 1.05, (0usize..n - 1).into_segmented())?;
    let names: Vec<&str> = items.iter().map(|i| i.0.as_str()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE.mix(0.0))
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            // The largest at the top.
            SegmentValue::CenterOf(i) if *i < n => names[n - 1 - *i].to_string(),
            _ => String::new(),
        })
        .draw()?;
    chart.draw_series(items.iter().enumerate().map(|(i, (_, v))| {
        let y = n - 1 - i;
        Rectangle::new(
            [
                (0.0, SegmentValue::Exact(y)),
                (*v, SegmentValue::Exact(y + 1)),
            ],
            color.mix(0.8).filled(),
        )
    }))?;
    Ok(())
}

fn top(
    importance: &[FeatureImportance],
    key: impl Fn(&FeatureImportance) -> f64,
) -> Vec<(String, f64)> {
    let mut items: Vec<(String, f64)> = importance
        .iter()
        .map(|f| (f.feature.clone(), key(f)))
        .filter(|(_, v)| *v > 0.0)
        .collect();
    items.sort_by(|a, b| b.1.total_cmp(&a.1));
    items.truncate(IMPORTANCE_SHOWN);
    items
}

fn importance_svg(e: &Evaluation) -> Result<String, ReportError> {
    svg("feature importance", (WIDTH * 2, HEIGHT + 60), |area| {
        let (left, right) = area.split_horizontally(WIDTH);
        bar_panel(
            &left,
            "mean |term| in the critical_security logit",
            &top(&e.details.importance, |f| f.critical_logit),
            CLASS_COLORS[0],
        )?;
        bar_panel(
            &right,
            "share of anomaly error on non-normal records",
            &top(&e.details.importance, |f| f.anomaly_error_share),
            CANDIDATE,
        )?;
        Ok(())
    })
}

fn comparison_svg(comparison: &Comparison) -> Result<String, ReportError> {
    let gated: Vec<_> = comparison
        .metrics
        .iter()
        .filter(|m| m.gated && m.candidate.is_some() && m.baseline.is_some())
        .collect();
    svg("baseline comparison", (WIDTH * 2, HEIGHT), |area| {
        let n = gated.len().max(1);
        let low = gated
            .iter()
            .flat_map(|m| [m.candidate.unwrap_or(1.0), m.baseline.unwrap_or(1.0)])
            .fold(1.0f64, f64::min);
        let floor = ((low - 0.05) * 20.0).floor().max(0.0) / 20.0;
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!(
                    "gated metrics: candidate {} vs deployed {}",
                    comparison.candidate_version, comparison.baseline_version
                ),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..n as f64, floor..1.0 + (1.0 - floor) * 0.2)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (left, color, candidate) in [(0.12, CANDIDATE, true), (0.5, BASELINE, false)] {
            chart
                .draw_series(gated.iter().enumerate().map(|(i, m)| {
                    let value = if candidate { m.candidate } else { m.baseline }.unwrap_or(floor);
                    let x = i as f64 + left;
                    Rectangle::new([(x, floor), (x + 0.38, value)], color.filled())
                }))?
                .label(if candidate { "candidate" } else { "deployed" })
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        // Metric names under their pair of bars, in the label area.
        chart.draw_series(gated.iter().enumerate().map(|(i, m)| {
            Text::new(
                m.metric.clone(),
                (i as f64 + 0.5, floor - (1.0 - floor) * 0.01),
                TextStyle::from(("sans-serif", 12).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            )
        }))?;
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn figure(out: &mut String, id: &str, title: &str, caption: &str, svg: &str) {
    let _ = writeln!(
        out,
        "<figure id=\"{id}\"><h2>{}</h2>{svg}<figcaption>{}</figcaption></figure>",
        escape(title),
        escape(caption)
    );
}

fn comparison_table(out: &mut String, c: &Comparison) {
    let opt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    out.push_str("<table><tr><th>metric</th><th>candidate</th><th>deployed</th><th>change</th><th>gated</th></tr>\n");
    for m in &c.metrics {
        let class = match m.delta {
            Some(d) if m.gated && d < 0.0 => " class=\"worse\"",
            Some(d) if m.gated && d > 0.0 => " class=\"better\"",
            _ => "",
        };
        let _ = writeln!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.metric),
            opt(m.candidate),
            opt(m.baseline),
            m.delta.map_or(String::new(), |d| format!("{d:+.4}")),
            if m.gated { "yes" } else { "" }
        );
    }
    out.push_str("</table>\n");
}

/// The report as one HTML document. `baseline` is the evaluation of the deployed set on
/// the same records, with its comparison.
pub fn render(
    candidate: &Evaluation,
    baseline: Option<(&Evaluation, &Comparison)>,
) -> Result<String, ReportError> {
    let base_eval = baseline.map(|b| b.0);
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>s3-sentinel model evaluation: {}</title>\n<style>\
         body{{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}}\
         figure{{margin:24px 0;border-top:1px solid #ddd}}figcaption{{color:#555;font-size:13px}}\
         table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}tr.worse td{{background:#fde0dc}}tr.better td{{background:#e0f5e0}}\
         pre{{background:#f6f6f6;padding:12px;font-size:13px}}</style></head><body>\n\
         <h1>Model evaluation: {}</h1>\n<pre>{}</pre>\n",
        escape(&candidate.model_version),
        escape(&candidate.model_version),
        escape(&format_summary(candidate))
    );
    figure(
        &mut out,
        PLOT_IDS[0],
        "ROC curves",
        "Non-normal records (any category but normal) against normal ones; the diagonal is chance.",
        &roc_svg(candidate, base_eval)?,
    );
    figure(
        &mut out,
        PLOT_IDS[1],
        "Precision-recall curves",
        "AnomalyScore ranked from the most unusual record down; area = average precision.",
        &pr_svg(candidate, base_eval)?,
    );
    figure(
        &mut out,
        PLOT_IDS[2],
        "Confusion matrix",
        "LogCategory (columns) against the label (rows), counts shaded by the share of the row.",
        &confusion_svg(candidate, base_eval)?,
    );
    figure(
        &mut out,
        PLOT_IDS[3],
        "Score histograms per class",
        "Share of each category's records per score bin (log scale).",
        &histogram_svg(candidate)?,
    );
    figure(
        &mut out,
        PLOT_IDS[4],
        "Calibration",
        "Reliability bins: a calibrated score lies on the diagonal. PriorityScore is compared with the weight of the true category (critical_security 1.0, system_error 0.55, performance 0.4, normal 0.05).",
        &calibration_svg(candidate, base_eval)?,
    );
    figure(
        &mut out,
        PLOT_IDS[5],
        "Feature importance",
        "From the models' own per-feature outputs on these records.",
        &importance_svg(candidate)?,
    );
    match baseline {
        Some((_, comparison)) => {
            let svg = comparison_svg(comparison)?;
            let mut table = String::new();
            comparison_table(&mut table, comparison);
            let _ = writeln!(
                out,
                "<figure id=\"{}\"><h2>Comparison with the deployed models</h2>{svg}{table}\
                 <figcaption>Same records for both sets; gated metrics decide deployments.</figcaption></figure>",
                PLOT_IDS[6]
            );
        }
        None => {
            let _ = writeln!(
                out,
                "<figure id=\"{}\"><h2>Comparison with the deployed models</h2>\
                 <p>No baseline was evaluated (run with <code>--baseline DIR</code>).</p></figure>",
                PLOT_IDS[6]
            );
        }
    }
    out.push_str("</body></html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_and_pr_points_span_the_curve() {
        let scores = [0.9, 0.8, 0.7, 0.1];
        let positive = [true, false, true, false];
        let roc = roc_points(&scores, &positive);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert_eq!(roc[1], (0.0, 0.5));
        let pr = pr_points(&scores, &positive);
        assert_eq!(pr[0], (0.5, 1.0));
        assert_eq!(pr.last(), Some(&(1.0, 0.5)));
        assert!(roc_points(&scores, &[true; 4]).is_empty());
        // Thinned, with the end kept.
        let many: Vec<f64> = (0..5000).map(|i| i as f64).collect();
        let labels: Vec<bool> = (0..5000).map(|i| i % 3 == 0).collect();
        let thinned = roc_points(&many, &labels);
        assert!(thinned.len() <= CURVE_POINTS + 2);
        assert_eq!(thinned.last(), Some(&(1.0, 1.0)));
    }
}
