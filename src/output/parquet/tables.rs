//! A statistics table as a Parquet file (`stats --format parquet --out-dir DIR`
//! writes `DIR/NAME.parquet` for each).
//!
//! Input: a [`Table`] of text cells, as CSV writes it; output: the same columns and
//! rows, typed. A column whose every cell is an integer (or `-`, or empty) is
//! `INT64`; one whose cells are numbers or percentages is `DOUBLE`, a percentage as
//! its fraction (`12.5%` is 0.125); any other is text, as written. `-` and empty
//! cells of number columns are null. A header that repeats gets `_2`, `_3`… as its
//! column name.

use super::{Cell, Columns, Kind, Spec};
use crate::analysis::tables::Table;
use std::io::{self, Write};

/// The version of the tables' layout, in the footer as `xmppdump.schema`
/// (`stats/1`), following the stats JSON `schema`.
pub const SCHEMA_VERSION: u32 = crate::analysis::SCHEMA_VERSION;

fn is_blank(cell: &str) -> bool {
    cell.is_empty() || cell == "-"
}

/// A cell as a number: a percentage as its fraction.
fn number(cell: &str) -> Option<f64> {
    // A percentage is read as its digits times 10^-2, so that `86.9%` is the double
    // nearest 0.869 (dividing by 100 would round twice).
    let value: f64 = match cell.strip_suffix('%') {
        Some(digits) if !digits.contains(['e', 'E']) => format!("{digits}e-2").parse().ok()?,
        Some(_) => return None,
        None => cell.parse().ok()?,
    };
    value.is_finite().then_some(value)
}

/// The kind a column's cells fit.
fn kind_of<'a>(mut cells: impl Iterator<Item = &'a str> + Clone) -> Kind {
    if cells
        .clone()
        .all(|c| is_blank(c) || c.parse::<i64>().is_ok())
    {
        Kind::Int64
    } else if cells.all(|c| is_blank(c) || number(c).is_some()) {
        Kind::Double
    } else {
        Kind::Text
    }
}

/// The headers as column names, each unique: the second `jid` of the
/// conversations table is `jid_2` (query engines refuse duplicate names).
fn column_names(headers: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(headers.len());
    for header in headers {
        let mut name = header.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{header}_{n}");
        }
        names.push(name);
    }
    names
}

/// Writes `table` to `out` as Parquet.
pub fn write<W: Write + Send>(table: &Table, out: W) -> io::Result<()> {
    let column = |i: usize| {
        table
            .rows
            .iter()
            .map(move |row| row.get(i).map_or("", String::as_str))
    };
    let kinds: Vec<Kind> = (0..table.headers.len())
        .map(|i| kind_of(column(i)))
        .collect();
    let specs = column_names(&table.headers)
        .iter()
        .zip(&kinds)
        .map(|(name, kind)| Spec::new(name, *kind, false))
        .collect();
    let metadata = vec![
        (
            "xmppdump.schema".to_owned(),
            format!("stats/{SCHEMA_VERSION}"),
        ),
        ("xmppdump.table".to_owned(), table.name.to_owned()),
        ("xmppdump.title".to_owned(), table.title.clone()),
    ];
    let mut columns = Columns::new(out, "xmppdump_stats", specs, metadata)?;
    for row in &table.rows {
        for (i, kind) in kinds.iter().enumerate() {
            let cell = row.get(i).map_or("", String::as_str);
            let value = match kind {
                Kind::Text => Cell::Text(cell),
                _ if is_blank(cell) => Cell::Null,
                Kind::Int64 => cell.parse().map_or(Cell::Null, Cell::Int),
                _ => number(cell).map_or(Cell::Null, Cell::Double),
            };
            columns.set(i, value)?;
        }
        columns.end_row()?;
    }
    columns.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_take_the_kind_every_cell_fits() {
        assert_eq!(kind_of(["1", "-", "", "20"].into_iter()), Kind::Int64);
        assert_eq!(kind_of(["1", "2.5", "-"].into_iter()), Kind::Double);
        assert_eq!(kind_of(["12.5%", "-", "3"].into_iter()), Kind::Double);
        assert_eq!(kind_of(["1", "c2s"].into_iter()), Kind::Text);
        assert_eq!(number("12.5%"), Some(0.125));
        assert_eq!(number("86.9%"), Some(0.869));
        assert_eq!(number("inf"), None);
        let headers: Vec<String> = ["jid", "jid", "n"]
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        assert_eq!(column_names(&headers), ["jid", "jid_2", "n"]);
    }
}
