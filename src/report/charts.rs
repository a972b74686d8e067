//! Charts for reports, as standalone SVG drawn here: bar charts and one stacked bar.
//!
//! Input: labelled numbers; output: SVG text (640 × 300 px, readable at A4 width).

use std::fmt::Write as _;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 70.0;
const COLORS: &[&str] = &[
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
];

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn open(s: &mut String, title: &str, id: &str) {
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"{id}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        s,
        "<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/><text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        WIDTH / 2.0,
        escape(title)
    );
}

/// A round axis maximum at or above `max`.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= max {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Vertical bars with their values on top; `y_label` names the unit.
pub fn bars(id: &str, title: &str, y_label: &str, bars: &[(String, f64)]) -> String {
    let mut s = String::new();
    open(&mut s, title, id);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max = nice_max(bars.iter().map(|b| b.1).fold(0.0, f64::max));
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            number(v)
        );
    }
    let _ = writeln!(
        s,
        "<text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        TOP + plot_h / 2.0,
        escape(y_label)
    );
    if bars.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#888\">no data in this capture</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    let slot = plot_w / bars.len().max(1) as f64;
    let bar_w = (slot * 0.7).min(80.0);
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = plot_h * value / max;
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let y = TOP + plot_h - h;
        let color = COLORS.get(i % COLORS.len()).copied().unwrap_or("#4e79a7");
        let _ = writeln!(
            s,
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{}: {}</title></rect>",
            escape(label),
            number(*value)
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x + bar_w / 2.0,
            y - 4.0,
            number(*value)
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" transform=\"rotate(-30 {:.1} {:.1})\">{}</text>",
            x + bar_w / 2.0,
            TOP + plot_h + 16.0,
            x + bar_w / 2.0,
            TOP + plot_h + 16.0,
            escape(label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Horizontal stacked bars, one per row, each part with its share in percent.
pub fn stacked(id: &str, title: &str, rows: &[(String, Vec<(String, f64)>)]) -> String {
    let mut s = String::new();
    open(&mut s, title, id);
    let label_w = 150.0;
    let plot_w = WIDTH - label_w - RIGHT - 10.0;
    // Rows share the height between the title and the legend.
    let gap = 12.0;
    let rows_n = rows.len().max(1) as f64;
    let row_h = ((HEIGHT - TOP - 60.0 - gap * (rows_n - 1.0)) / rows_n).min(50.0);
    let mut legend: Vec<String> = Vec::new();
    for (r, (row_label, parts)) in rows.iter().enumerate() {
        let y = TOP + 20.0 + r as f64 * (row_h + gap);
        let total: f64 = parts.iter().map(|p| p.1).sum();
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_w,
            y + row_h / 2.0 + 4.0,
            escape(row_label)
        );
        let mut x = label_w + 10.0;
        for (part_label, value) in parts {
            let index = match legend.iter().position(|l| l == part_label) {
                Some(i) => i,
                None => {
                    legend.push(part_label.clone());
                    legend.len() - 1
                }
            };
            let color = COLORS
                .get(index % COLORS.len())
                .copied()
                .unwrap_or("#4e79a7");
            let w = if total > 0.0 {
                plot_w * value / total
            } else {
                0.0
            };
            let share = if total > 0.0 {
                100.0 * value / total
            } else {
                0.0
            };
            let _ = writeln!(
                s,
                "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{row_h}\" fill=\"{color}\"><title>{}: {} ({share:.1}%)</title></rect>",
                escape(part_label),
                number(*value)
            );
            if w > 48.0 {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"white\">{share:.1}%</text>",
                    x + w / 2.0,
                    y + row_h / 2.0 + 4.0
                );
            }
            x += w;
        }
        if total == 0.0 {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#888\">none in this capture</text>",
                label_w + 14.0,
                y + row_h / 2.0 + 4.0
            );
        }
    }
    let legend_y = HEIGHT - 24.0;
    let mut x = label_w + 10.0;
    for (i, label) in legend.iter().enumerate() {
        let color = COLORS.get(i % COLORS.len()).copied().unwrap_or("#4e79a7");
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{legend_y:.1}\">{}</text>",
            legend_y - 10.0,
            x + 16.0,
            escape(label)
        );
        x += 24.0 + 7.0 * label.chars().count() as f64;
    }
    s.push_str("</svg>\n");
    s
}
