//! Check reports: a readable summary, JUnit XML for CI systems, and JSON.

use crate::check::{Outcome, Report};
use std::fmt::Write as _;

/// Places shown per failed rule in the readable summary.
const SHOWN: usize = 10;

/// `PASS`/`FAIL` per rule, failures with where they happened, then a total line.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for o in &report.rules {
        let verdict = if o.passed { "PASS" } else { "FAIL" };
        let _ = write!(out, "{verdict} {}", o.rule);
        if o.kind != "expect" {
            let _ = write!(out, " — {}", o.explanation);
        }
        if let Some(m) = &o.measured {
            let _ = write!(out, " (measured: {m})");
        }
        out.push('\n');
        for v in o.violations.iter().take(SHOWN) {
            let _ = writeln!(
                out,
                "     {} flow {} frame {} {}: {}",
                v.file, v.flow, v.frame, v.time, v.detail
            );
        }
        let listed = o.violations.len().min(SHOWN) as u64;
        if o.violations_total > listed && !o.violations.is_empty() {
            let _ = writeln!(out, "     … and {} more", o.violations_total - listed);
        }
    }
    let failed = report.rules.iter().filter(|o| !o.passed).count();
    let _ = writeln!(
        out,
        "check: {} rules, {} passed, {} failed ({} files)",
        report.rules.len(),
        report.rules.len() - failed,
        failed,
        report.files.len()
    );
    out
}

/// XML text escaping (XML 1.0 §2.4); control characters XML cannot carry become '?'.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

fn failure_text(o: &Outcome) -> String {
    let mut body = String::new();
    if let Some(m) = &o.measured {
        let _ = writeln!(body, "measured: {m}");
    }
    for v in &o.violations {
        let _ = writeln!(
            body,
            "{} flow {} frame {} {}: {}",
            v.file, v.flow, v.frame, v.time, v.detail
        );
    }
    if o.violations_total > o.violations.len() as u64 && !o.violations.is_empty() {
        let _ = writeln!(
            body,
            "… and {} more",
            o.violations_total - o.violations.len() as u64
        );
    }
    body
}

/// JUnit XML as Jenkins, GitLab and GitHub reporters read it: one test case per rule.
pub fn render_junit(report: &Report) -> String {
    let tests = report.rules.len();
    let failures = report.rules.iter().filter(|o| !o.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"xmppdump check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"0\">");
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\">",
        escape(&format!("xmppdump check: {}", report.files.join(", ")))
    );
    for o in &report.rules {
        let _ = write!(
            out,
            "    <testcase classname=\"xmppdump.check.{}\" name=\"{}\" time=\"0\"",
            escape(&o.kind),
            escape(&o.rule)
        );
        if o.passed {
            out.push_str("/>\n");
            continue;
        }
        let message = match (&o.measured, o.violations_total) {
            (Some(m), _) if o.violations.is_empty() => format!("{}: measured {m}", o.explanation),
            (_, n) => format!("{}: {n} violation(s)", o.explanation),
        };
        let _ = writeln!(
            out,
            ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
            escape(&message),
            escape(&o.kind),
            escape(&failure_text(o))
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

pub fn render_json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}
