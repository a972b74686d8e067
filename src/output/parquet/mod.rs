//! Apache Parquet files: the events (`--parquet FILE`) and the statistics tables
//! (`stats --format parquet --out-dir DIR`) as columns that query engines (DuckDB,
//! Spark, pyarrow) read natively.
//!
//! Input: rows, one value per column; output: a Parquet file. [`Columns`] buffers a
//! row group's values per column and writes the group when it holds
//! [`MAX_GROUP_ROWS`] rows or [`MAX_GROUP_BYTES`] bytes of text, so memory is bounded
//! whatever the capture's size. Written with the `parquet` crate's column writers
//! (no Arrow in between), ZSTD-compressed, dictionary-encoded where it pays.
//! Schemas are documented in `docs/parquet.md`.

pub mod events;
pub mod tables;

use bytes::Bytes;
use parquet::basic::{
    Compression, Encoding, LogicalType, Repetition, TimeUnit, Type as Physical, ZstdLevel,
};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnPath, Type};
use std::io::{self, Write};
use std::sync::Arc;

/// A row group is written once it holds this many rows…
pub const MAX_GROUP_ROWS: usize = 65_536;
/// …or this many bytes of text values, whichever comes first.
pub const MAX_GROUP_BYTES: usize = 16 << 20;
/// ZSTD level: level 3 is zstd's default, fast to write and a good ratio.
const ZSTD_LEVEL: i32 = 3;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Nanoseconds since the epoch, stored as a UTC timestamp in microseconds
    /// (`TIMESTAMP(MICROS, true)`: what Spark, DuckDB and pyarrow all read).
    Timestamp,
    Int64,
    Int32,
    Bool,
    Double,
    /// UTF-8 text (`BYTE_ARRAY` annotated `STRING`).
    Text,
    /// A list of texts (the three-level `LIST` of the Parquet format).
    TextList,
}

/// One column: its name, what it holds, and whether every row has a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub kind: Kind,
    pub required: bool,
    /// Values rarely repeat (times, frame numbers, ids): no dictionary, and
    /// integers delta-encoded (`DELTA_BINARY_PACKED`), which their rising values
    /// suit.
    pub nearly_unique: bool,
}

impl Spec {
    pub fn new(name: &str, kind: Kind, required: bool) -> Spec {
        Spec {
            name: name.to_owned(),
            kind,
            required,
            nearly_unique: false,
        }
    }

    /// See [`Spec::nearly_unique`].
    pub fn nearly_unique(mut self) -> Spec {
        self.nearly_unique = true;
        self
    }

    fn schema_type(&self) -> Result<Type, ParquetError> {
        let repetition = if self.required {
            Repetition::REQUIRED
        } else {
            Repetition::OPTIONAL
        };
        let primitive = |name: &str, physical, logical| {
            Type::primitive_type_builder(name, physical)
                .with_logical_type(logical)
                .with_repetition(repetition)
                .build()
        };
        match self.kind {
            Kind::Timestamp => primitive(
                &self.name,
                Physical::INT64,
                Some(LogicalType::timestamp(true, TimeUnit::MICROS)),
            ),
            Kind::Int64 => primitive(&self.name, Physical::INT64, None),
            Kind::Int32 => primitive(&self.name, Physical::INT32, None),
            Kind::Bool => primitive(&self.name, Physical::BOOLEAN, None),
            Kind::Double => primitive(&self.name, Physical::DOUBLE, None),
            Kind::Text => primitive(&self.name, Physical::BYTE_ARRAY, Some(LogicalType::String)),
            Kind::TextList => {
                // parquet-format LogicalTypes.md, "Lists": <list> (LIST) { repeated
                // group list { <element> } }.
                let element = Type::primitive_type_builder("element", Physical::BYTE_ARRAY)
                    .with_logical_type(Some(LogicalType::String))
                    .with_repetition(Repetition::REQUIRED)
                    .build()?;
                let list = Type::group_type_builder("list")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![Arc::new(element)])
                    .build()?;
                Type::group_type_builder(&self.name)
                    .with_repetition(repetition)
                    .with_logical_type(Some(LogicalType::List))
                    .with_fields(vec![Arc::new(list)])
                    .build()
            }
        }
    }
}

/// A column's buffered values of the row group being filled.
#[derive(Debug)]
enum Values {
    Int64(Vec<i64>),
    Int32(Vec<i32>),
    Bool(Vec<bool>),
    Double(Vec<f64>),
    /// Texts back to back, and where each ends: one buffer a column, not an
    /// allocation a value; the values are slices of it when the group is written.
    Text {
        data: Vec<u8>,
        ends: Vec<usize>,
    },
}

impl Values {
    fn of(kind: Kind) -> Values {
        match kind {
            Kind::Timestamp | Kind::Int64 => Values::Int64(Vec::new()),
            Kind::Int32 => Values::Int32(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Double => Values::Double(Vec::new()),
            Kind::Text | Kind::TextList => Values::Text {
                data: Vec::new(),
                ends: Vec::new(),
            },
        }
    }

    fn clear(&mut self) {
        match self {
            Values::Int64(v) => v.clear(),
            Values::Int32(v) => v.clear(),
            Values::Bool(v) => v.clear(),
            Values::Double(v) => v.clear(),
            Values::Text { data, ends } => {
                data.clear();
                ends.clear();
            }
        }
    }

    fn push_text(&mut self, text: &str) -> bool {
        let Values::Text { data, ends } = self else {
            return false;
        };
        data.extend_from_slice(text.as_bytes());
        ends.push(data.len());
        true
    }
}

/// The texts of a column as Parquet values: slices of one shared buffer.
fn byte_arrays(data: &[u8], ends: &[usize]) -> Vec<ByteArray> {
    let shared = Bytes::copy_from_slice(data);
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let value = ByteArray::from(shared.slice(start..end));
            start = end;
            value
        })
        .collect()
}

#[derive(Debug)]
struct Column {
    spec: Spec,
    values: Values,
    /// Definition levels (optional columns and lists).
    def: Vec<i16>,
    /// Repetition levels (lists).
    rep: Vec<i16>,
    /// Rows of the group that have their value (or null) already; the rows
    /// between this and the current one are nulls, written when the column is
    /// next set or the group is written (a row costs only its cells that have
    /// values).
    filled: usize,
}

impl Column {
    /// Nulls up to row `rows` (exclusive).
    fn pad(&mut self, rows: usize) {
        let Some(missing) = rows.checked_sub(self.filled).filter(|&n| n > 0) else {
            return;
        };
        if self.spec.kind == Kind::TextList {
            // Level 0: a null list, or the empty one when it is required.
            self.def.resize(self.def.len() + missing, 0);
            self.rep.resize(self.rep.len() + missing, 0);
        } else if !self.spec.required {
            self.def.resize(self.def.len() + missing, 0);
        } else {
            // A required column left empty gets its kind's zero.
            for _ in 0..missing {
                push_zero(&mut self.values);
            }
        }
        self.filled = rows;
    }
}

/// A value for one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Double(f64),
    Text(&'a str),
}

/// Error for a value given to a column of another kind (a bug of ours, reported
/// rather than panicking).
fn mismatch(column: &str) -> io::Error {
    io::Error::other(format!("parquet column {column}: value of the wrong kind"))
}

fn to_io(e: ParquetError) -> io::Error {
    io::Error::other(format!("parquet: {e}"))
}

/// A Parquet file being written row by row, a row group at a time.
pub struct Columns<W: Write + Send> {
    file: Option<SerializedFileWriter<W>>,
    columns: Vec<Column>,
    rows: usize,
    text_bytes: usize,
}

impl<W: Write + Send> Columns<W> {
    /// Starts a file with these columns under the schema name `message`; `metadata`
    /// goes into the footer's key-value metadata.
    pub fn new(
        out: W,
        message: &str,
        specs: Vec<Spec>,
        metadata: Vec<(String, String)>,
    ) -> io::Result<Self> {
        let fields = specs
            .iter()
            .map(|s| s.schema_type().map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(to_io)?;
        let schema = Type::group_type_builder(message)
            .with_fields(fields)
            .build()
            .map_err(to_io)?;
        let level = ZstdLevel::try_new(ZSTD_LEVEL).map_err(to_io)?;
        let metadata = metadata
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        let mut properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_created_by(format!("xmppdump version {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(metadata));
        for spec in specs.iter().filter(|s| s.nearly_unique) {
            let path = ColumnPath::from(spec.name.as_str());
            properties = properties.set_column_dictionary_enabled(path.clone(), false);
            if matches!(spec.kind, Kind::Int64 | Kind::Timestamp) {
                properties = properties.set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
            }
        }
        let properties = properties.build();
        let file = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(properties))
            .map_err(to_io)?;
        let columns = specs
            .into_iter()
            .map(|spec| Column {
                values: Values::of(spec.kind),
                spec,
                def: Vec::new(),
                rep: Vec::new(),
                filled: 0,
            })
            .collect();
        Ok(Columns {
            file: Some(file),
            columns,
            rows: 0,
            text_bytes: 0,
        })
    }

    /// Sets column `index` of the current row; a column set twice keeps its first
    /// value, one never set is null.
    pub fn set(&mut self, index: usize, cell: Cell<'_>) -> io::Result<()> {
        let rows = self.rows;
        let Some(column) = self.columns.get_mut(index) else {
            return Err(io::Error::other(format!("no parquet column {index}")));
        };
        if column.filled > rows {
            return Ok(());
        }
        column.pad(rows);
        if matches!(cell, Cell::Null) {
            column.pad(rows + 1);
            return Ok(());
        }
        column.filled = rows + 1;
        let optional = !column.spec.required;
        let is_list = column.spec.kind == Kind::TextList;
        match (cell, &mut column.values) {
            (Cell::Int(n), Values::Int64(v)) => v.push(n),
            (Cell::Int(n), Values::Int32(v)) => v.push(
                i32::try_from(n).map_err(|_| io::Error::other("parquet: int32 out of range"))?,
            ),
            (Cell::Bool(b), Values::Bool(v)) => v.push(b),
            (Cell::Double(d), Values::Double(v)) => v.push(d),
            (Cell::Text(t), values @ Values::Text { .. }) if !is_list => {
                self.text_bytes += t.len();
                values.push_text(t);
            }
            _ => return Err(mismatch(&column.spec.name)),
        }
        if optional {
            column.def.push(1);
        }
        Ok(())
    }

    /// Sets list column `index` of the current row to `items` (an empty list is
    /// not null).
    pub fn set_list<'a>(
        &mut self,
        index: usize,
        items: impl Iterator<Item = &'a str>,
    ) -> io::Result<()> {
        let rows = self.rows;
        let Some(column) = self.columns.get_mut(index) else {
            return Err(io::Error::other(format!("no parquet column {index}")));
        };
        if column.filled > rows {
            return Ok(());
        }
        if column.spec.kind != Kind::TextList {
            return Err(mismatch(&column.spec.name));
        }
        column.pad(rows);
        column.filled = rows + 1;
        // Levels: 0 = null list, 1 = empty list, 2 = an element (one more than the
        // optional list's own level); repetition 1 = another element of this row.
        let base = i16::from(!column.spec.required);
        let mut first = true;
        for item in items {
            self.text_bytes += item.len();
            if !column.values.push_text(item) {
                return Err(mismatch(&column.spec.name));
            }
            column.def.push(base + 1);
            column.rep.push(if first { 0 } else { 1 });
            first = false;
        }
        if first {
            column.def.push(base);
            column.rep.push(0);
        }
        Ok(())
    }

    /// Ends the current row: columns not set are null; a full row group is written.
    pub fn end_row(&mut self) -> io::Result<()> {
        self.rows += 1;
        if self.rows >= MAX_GROUP_ROWS || self.text_bytes >= MAX_GROUP_BYTES {
            self.write_group()?;
        }
        Ok(())
    }

    /// Adds a key-value pair to the footer (written by [`Columns::finish`]).
    pub fn add_metadata(&mut self, key: &str, value: String) {
        if let Some(file) = self.file.as_mut() {
            file.append_key_value_metadata(KeyValue::new(key.to_owned(), value));
        }
    }

    fn write_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("parquet file already finished"));
        };
        let mut group = file.next_row_group().map_err(to_io)?;
        for column in &mut self.columns {
            column.pad(self.rows);
            let mut writer = group
                .next_column()
                .map_err(to_io)?
                .ok_or_else(|| io::Error::other("parquet: fewer columns than the schema"))?;
            let is_list = column.spec.kind == Kind::TextList;
            let def = (is_list || !column.spec.required).then_some(&column.def[..]);
            let rep = is_list.then_some(&column.rep[..]);
            let written = match (writer.untyped(), &column.values) {
                (ColumnWriter::Int64ColumnWriter(w), Values::Int64(v)) => {
                    w.write_batch(v, def, rep)
                }
                (ColumnWriter::Int32ColumnWriter(w), Values::Int32(v)) => {
                    w.write_batch(v, def, rep)
                }
                (ColumnWriter::BoolColumnWriter(w), Values::Bool(v)) => w.write_batch(v, def, rep),
                (ColumnWriter::DoubleColumnWriter(w), Values::Double(v)) => {
                    w.write_batch(v, def, rep)
                }
                (ColumnWriter::ByteArrayColumnWriter(w), Values::Text { data, ends }) => {
                    w.write_batch(&byte_arrays(data, ends), def, rep)
                }
                _ => return Err(mismatch(&column.spec.name)),
            };
            written.map_err(to_io)?;
            writer.close().map_err(to_io)?;
            column.values.clear();
            column.def.clear();
            column.rep.clear();
            column.filled = 0;
        }
        group.close().map_err(to_io)?;
        self.rows = 0;
        self.text_bytes = 0;
        Ok(())
    }

    /// Writes what is buffered and the footer; the file is complete. Idempotent.
    pub fn finish(&mut self) -> io::Result<()> {
        self.write_group()?;
        if let Some(mut file) = self.file.take() {
            file.finish().map_err(to_io)?;
            file.flush()?;
        }
        Ok(())
    }
}

fn push_zero(values: &mut Values) {
    match values {
        Values::Int64(v) => v.push(0),
        Values::Int32(v) => v.push(0),
        Values::Bool(v) => v.push(false),
        Values::Double(v) => v.push(0.0),
        values @ Values::Text { .. } => {
            values.push_text("");
        }
    }
}
