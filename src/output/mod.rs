//! Printers: format events, nothing else.
//!
//! Input: [`Event`]s in order and a final [`Summary`]; output: bytes on a writer.
//! `text` is one tcpdump-style line per event, `ndjson` one JSON object per line,
//! `parquet` one row per event (and the statistics tables) in an Apache Parquet file.

pub mod annotate;
pub mod check;
pub mod color;
pub mod filtered;
pub mod ndjson;
pub mod parquet;
pub mod stats;
pub mod text;
