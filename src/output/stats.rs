//! Renders statistics tables: terminal tables (comfy-table, 80 columns), Markdown,
//! and CSV (RFC 4180). JSON is the serialized `Stats` itself.

use crate::analysis::tables::Table;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ColumnConstraint, ContentArrangement, Width};
use std::fmt::Write as _;

/// Rows shown per table on a terminal or in Markdown before eliding.
pub const MAX_SHOWN_ROWS: usize = 25;
/// Columns at most this wide are never wrapped.
const NARROW: usize = 9;
/// Width the terminal tables fit.
pub const WIDTH: u16 = 80;

fn shown(t: &Table) -> (&[Vec<String>], usize) {
    let n = t.rows.len().min(MAX_SHOWN_ROWS);
    (t.rows.get(..n).unwrap_or_default(), t.rows.len() - n)
}

/// Well-known namespace prefixes shortened in tables meant for reading.
const SHORT_PREFIXES: &[(&str, &str)] = &[
    ("urn:ietf:params:xml:ns:xmpp-", "xmpp-"),
    ("http://jabber.org/protocol/", "jabber.org/protocol/"),
];

/// A cell for reading: well-known namespace prefixes shortened.
fn readable(cell: &str) -> String {
    for (long, short) in SHORT_PREFIXES {
        if let Some(rest) = cell.strip_prefix(long) {
            return format!("{short}{rest}");
        }
        if let Some((head, rest)) = cell.split_once(' ') {
            if let Some(tail) = rest.strip_prefix(long) {
                return format!("{head} {short}{tail}");
            }
        }
    }
    cell.to_owned()
}

/// Terminal tables, each under its title; long tables end with "… N more rows".
/// Namespaces `urn:ietf:params:xml:ns:xmpp-X` show as `xmpp-X`.
pub fn render_text(tables: &[Table]) -> String {
    let mut out = String::new();
    for t in tables {
        let _ = writeln!(out, "{}", t.title);
        if t.rows.is_empty() {
            out.push_str("  (none)\n\n");
            continue;
        }
        let columns: Vec<usize> = t
            .terminal_columns
            .clone()
            .unwrap_or_else(|| (0..t.headers.len()).collect());
        let pick = |row: &[String]| -> Vec<String> {
            columns
                .iter()
                .map(|&i| row.get(i).map_or_else(String::new, |c| readable(c)))
                .collect()
        };
        let headers = pick(&t.headers);
        let mut ct = comfy_table::Table::new();
        ct.load_style(UTF8_FULL_CONDENSED)
            .force_no_tty()
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(WIDTH)
            .set_header(&headers);
        let (rows, more) = shown(t);
        let cells: Vec<Vec<String>> = rows.iter().map(|row| pick(row)).collect();
        for row in &cells {
            ct.add_row(row);
        }
        // Narrow columns (numbers) keep their width; wide text columns share the rest.
        let constraints: Vec<ColumnConstraint> = (0..headers.len())
            .map(|i| {
                let widest = std::iter::once(headers.get(i).map_or(0, |h| h.chars().count()))
                    .chain(
                        cells
                            .iter()
                            .map(|r| r.get(i).map_or(0, |c| c.chars().count())),
                    )
                    .max()
                    .unwrap_or(0);
                if widest <= NARROW {
                    ColumnConstraint::ContentWidth
                } else {
                    ColumnConstraint::LowerBoundary(Width::Fixed(NARROW as u16))
                }
            })
            .collect();
        ct.set_constraints(constraints);
        let _ = writeln!(out, "{ct}");
        if more > 0 {
            let _ = writeln!(out, "… {more} more rows (all in --format csv or json)");
        }
        out.push('\n');
    }
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// GitHub-flavoured Markdown tables under `###` headings.
pub fn render_markdown(tables: &[Table]) -> String {
    let mut out = String::new();
    for t in tables {
        let _ = writeln!(out, "### {}\n", t.title);
        if t.rows.is_empty() {
            out.push_str("(none)\n\n");
            continue;
        }
        let _ = writeln!(
            out,
            "| {} |",
            t.headers
                .iter()
                .map(|h| md_cell(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(out, "|{}", "---|".repeat(t.headers.len()));
        let (rows, more) = shown(t);
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| md_cell(&readable(c))).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        if more > 0 {
            let _ = writeln!(out, "\n… {more} more rows");
        }
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// One table as CSV with a header line, every row.
pub fn render_csv(t: &Table) -> String {
    let mut out = String::new();
    for line in std::iter::once(&t.headers).chain(t.rows.iter()) {
        out.push_str(
            &line
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_per_rfc4180() {
        let t = Table {
            name: "x",
            title: "X".into(),
            headers: vec!["a".into(), "b".into()],
            rows: vec![vec!["1,2".into(), "say \"hi\"".into()]],
            terminal_columns: None,
        };
        assert_eq!(render_csv(&t), "a,b\r\n\"1,2\",\"say \"\"hi\"\"\"\r\n");
    }

    #[test]
    fn text_fits_80_columns() {
        let t = Table {
            name: "x",
            title: "X".into(),
            headers: vec!["a".into(), "b".into()],
            rows: vec![vec!["x".repeat(200), "y".into()]],
            terminal_columns: None,
        };
        for line in render_text(&[t]).lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
    }
}
