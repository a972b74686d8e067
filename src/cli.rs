//! Command-line flags, mapped onto the library's `Config`. Nothing else lives here.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;
use xmppdump::limits::{Limits, MIN_BUFFER_BUDGET};
use xmppdump::output::color;
use xmppdump::pipeline::{Config, DEFAULT_PORTS, DIRECT_TLS_PORTS};
use xmppdump::transport::tls::KeyStore;

/// Read XMPP (Jabber) traffic from a capture file and print what happened in every
/// stream: headers, STARTTLS, SASL, stanzas, errors and anomalies.
#[derive(Debug, Parser)]
#[command(
    name = "xmppdump",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub dump: DumpArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Statistics over one or more captures: traffic by kind, presence overhead and
    /// redundancy, iq round trips, messages, sessions, top talkers.
    Stats(StatsArgs),
    /// Judge captures against rules for CI: exit 0 when all pass, 1 when any fails,
    /// 2 on error. Without rules, the built-in rules that need no number run.
    Check(CheckArgs),
    /// Generate a synthetic capture (deterministic for a seed) for benchmarks and
    /// tests; prints what it contains as JSON.
    Gen(GenArgs),
    /// Each XMPP connection as a dialogue (C:/S:), every element pretty-printed, in
    /// phases (stream open, STARTTLS, TLS, SASL, restart, binding, stanzas, close).
    Show(ShowArgs),
    /// Sequence diagram of the connections: Mermaid, PlantUML or SVG.
    Diagram(DiagramArgs),
    /// One self-contained HTML report: summary, sessions, statistics with charts, and
    /// each session's diagram and transcript.
    Report(ReportArgs),
    /// Print a shell completion script: `xmppdump completions bash > /etc/bash_completion.d/xmppdump`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `xmppdump man > /usr/local/share/man/man1/xmppdump.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Capture file (pcap or pcapng); `-` reads standard input. Several are read
    /// as one capture, merged by time as mergecap does.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// The HTML file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
    pub output: PathBuf,

    /// Also write each chart as an SVG file into DIR.
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,

    #[command(flatten)]
    pub select: Select,

    #[command(flatten)]
    pub common: Common,
}

/// Which connections a view shows.
#[derive(Debug, Args)]
pub struct Select {
    /// Only flow N (the `#N` of the event lines); repeatable.
    #[arg(long = "flow", value_name = "N")]
    pub flows: Vec<u32>,

    /// Only connections where this JID appears (bare: any resource).
    #[arg(long, value_name = "JID")]
    pub jid: Option<String>,

    /// Only connections where this display filter keeps at least one event
    /// (docs/filters.md).
    #[arg(short = 'Y', long = "display-filter", value_name = "EXPR")]
    pub display_filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Capture file (pcap or pcapng); `-` reads standard input. Several are read
    /// as one capture, merged by time as mergecap does.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub select: Select,

    /// One plain-language sentence per element, citing the RFC or XEP section.
    #[arg(long)]
    pub explain: bool,

    /// Long text and base64 payloads in full instead of elided with their size.
    #[arg(long)]
    pub full: bool,

    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Whether to colour standard output.
    pub fn for_stdout(self) -> bool {
        use std::io::IsTerminal;
        let when = match self {
            ColorWhen::Auto => color::When::Auto,
            ColorWhen::Always => color::When::Always,
            ColorWhen::Never => color::When::Never,
        };
        when.resolve(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    Mermaid,
    Plantuml,
    Svg,
}

#[derive(Debug, Args)]
pub struct DiagramArgs {
    /// Capture file (pcap or pcapng); `-` reads standard input. Several are read
    /// as one capture, merged by time as mergecap does.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub select: Select,

    /// Output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: DiagramFormat,

    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Approximate size of the capture: bytes, or with a K, M or G suffix (MB, GB …).
    #[arg(long, default_value = "10M", value_parser = parse_size)]
    pub size: u64,

    /// Where to write the capture.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Concurrent client-to-server connections.
    #[arg(long, default_value_t = 200)]
    pub c2s: usize,

    /// Concurrent server-to-server connections.
    #[arg(long, default_value_t = 40)]
    pub s2s: usize,

    /// Write pcapng instead of pcap.
    #[arg(long)]
    pub pcapng: bool,

    /// Concurrent not-XMPP connections (HTTP, TLS on 443, SSH; DNS over UDP) opened
    /// among the XMPP ones and left open, as on a busy link.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub background_flows: usize,

    /// Bytes of background data (server responses) spread over the capture: bytes,
    /// or with a K, M or G suffix.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub background_bytes: Option<u64>,

    /// XMPP's share of the capture's bytes, in (0, 1]: background data fills the
    /// rest (wins over --background-bytes).
    #[arg(long, value_name = "SHARE", value_parser = parse_share)]
    pub xmpp_share: Option<f64>,
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!("not a share in (0, 1]: {text:?}")),
    }
}

fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_suffix('B').unwrap_or(&t);
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("not a size: {text:?}"))?;
    let factor = match unit {
        "" => 1,
        "K" | "KI" => 1 << 10,
        "M" | "MI" => 1 << 20,
        "G" | "GI" => 1 << 30,
        _ => return Err(format!("unknown size unit in {text:?}")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("size too large: {text:?}"))
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Capture files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// TOML rules file: `rules = ["no_anomalies", "message.chat >= 10", ...]`.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// A rule: a built-in name (`iq_answered(5000)`) or an expectation
    /// (`presence.overhead_ratio[s2s] < 0.5`); repeatable.
    #[arg(long = "rule", value_name = "RULE")]
    pub rule: Vec<String>,

    /// Also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Print the result as JSON instead of the readable summary.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub common: Common,
}

/// The default job: one line (or JSON object) per event.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Capture file to read (pcap or pcapng); `-` reads standard input. Several
    /// (`-r a.pcap b.pcap` or `-r` repeated) are read as one capture, merged by time
    /// as mergecap does: frames numbered in merged order, connections numbered once.
    #[arg(short = 'r', long = "read", value_name = "FILE", num_args = 1..)]
    pub read: Vec<PathBuf>,

    /// Print one JSON object per event (NDJSON) instead of text lines.
    #[arg(long)]
    pub json: bool,

    /// Write the events to FILE as Apache Parquet (one row per event, the NDJSON keys
    /// as typed columns; docs/parquet.md) instead of listing them; the summary line
    /// is still printed. Not with live capture (-i): write the packets with -w and
    /// read them back.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["json", "write", "interface"])]
    pub parquet: Option<PathBuf>,

    /// After the events, print the statistics tables.
    #[arg(long)]
    pub stats: bool,

    /// Display filter: print only the events it keeps, e.g. `event == "presence" and
    /// from.domain == "example.org"` (fields are the NDJSON keys; docs/filters.md).
    #[arg(short = 'Y', long = "display-filter", value_name = "EXPR")]
    pub display_filter: Option<String>,

    /// Only flow N (the `#N` of the event lines), as in `show`; repeatable; with -Y,
    /// both must keep an event.
    #[arg(long = "flow", value_name = "N")]
    pub flows: Vec<u32>,

    /// Only connections where this JID appears (bare: any resource), as in `show`:
    /// as sender, recipient or bound address. Reads the capture twice.
    #[arg(long = "jid", value_name = "JID")]
    pub jid: Option<String>,

    /// Colour the event lines: auto (on a terminal, unless NO_COLOR is set), always,
    /// never.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,

    /// Quiet: print only the summary line (with --stats, also the tables).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Capture live on this interface (`any` for all; needs the `live` feature).
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        conflicts_with = "read"
    )]
    pub interface: Option<String>,

    /// List the interfaces live capture can use.
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,

    /// Live capture filter (BPF); default: TCP on the XMPP ports.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,

    /// Live capture: bytes kept of each packet.
    #[arg(
        short = 's',
        long = "snaplen",
        value_name = "BYTES",
        default_value_t = 262_144
    )]
    pub snaplen: i32,

    /// Live capture: do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,

    /// Live capture: stop after N packets.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Live capture: stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,

    /// Write packets to a pcapng FILE: with -i, every captured packet (replay it later
    /// with -r); with -r and -Y or --flow, the packets of the connections they select;
    /// with -r and --annotate, an annotated copy.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// With -r and -w: packet comments in the copy name the XMPP events of each
    /// packet, for Wireshark's frame.comment column and filter.
    #[arg(long, requires = "write")]
    pub annotate: bool,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Markdown,
    /// Apache Parquet, one file per table in --out-dir (docs/parquet.md).
    Parquet,
}

/// A compression whose saving `stats --what-if` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhatIf {
    /// XEP-0138 with ZLIB (RFC 1950), level 6, a sync flush after each element.
    Zlib,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Capture files (or, with --merge, stats JSON files written by --format json).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,

    /// Only this table (overview, traffic, presence, iq, iq_unmatched, messages,
    /// conversations, messages_per_minute, sessions, talkers, software, extensions,
    /// binary, and compression with --what-if zlib).
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,

    /// Also measure what stream compression would save: `zlib` compresses every
    /// stream's elements as XEP-0138 would (one compressor per direction, flushed
    /// after each element) into the `compression` table. Slower (every element's
    /// bytes are kept and compressed); not with -Y.
    #[arg(long = "what-if", value_enum, value_name = "METHOD")]
    pub what_if: Option<WhatIf>,

    /// With --what-if: most stream directions compressed at once (about 300 KB
    /// each); the elements of directions beyond are counted as unmeasured.
    #[arg(long, value_name = "N", default_value_t = xmppdump::analysis::compression::MAX_LIVE_DIRECTIONS)]
    pub what_if_directions: usize,

    /// Display filter: count only the stanzas it keeps (other events always pass;
    /// docs/filters.md).
    #[arg(short = 'Y', long = "display-filter", value_name = "EXPR")]
    pub display_filter: Option<String>,

    /// With --format csv or parquet: write every table to DIR/NAME.csv (.parquet).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// Also write the capture's events to FILE as Apache Parquet, in the same pass
    /// (one capture file; not with -Y or --merge).
    #[arg(long, value_name = "FILE")]
    pub parquet: Option<PathBuf>,

    /// The files are stats JSON documents to add up.
    #[arg(long)]
    pub merge: bool,

    #[command(flatten)]
    pub common: Common,
}

/// Options shared by every job that reads captures.
#[derive(Debug, Args)]
pub struct Common {
    /// Also treat TCP port N as XMPP (repeatable); 5222, 5269, 5223, 5270, 5347, 5281
    /// and 5443 always are.
    #[arg(long = "port", value_name = "N")]
    pub ports: Vec<u16>,

    /// Show SASL payloads and other secrets instead of redacting them.
    #[arg(long)]
    pub show_secrets: bool,

    /// Decrypt TLS with the secrets in this NSS key log (SSLKEYLOGFILE format);
    /// without it, the SSLKEYLOGFILE environment variable is used if set.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,

    /// Analyse on N threads, each connection on the least loaded when first seen; the
    /// output is the same as with one (files only).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 1)]
    pub jobs: usize,

    /// Largest TLS record accepted, in bytes (default 2^14 + 2048).
    #[arg(long, value_name = "BYTES")]
    pub max_tls_record: Option<usize>,

    /// Largest TLS handshake message reassembled, in bytes (default 256 KiB).
    #[arg(long, value_name = "BYTES")]
    pub max_tls_handshake: Option<usize>,

    /// Most connections in the flow table at once, tracked and passed (default
    /// 4,000,000); beyond it the least important are evicted.
    #[arg(long, value_name = "N")]
    pub max_flows: Option<usize>,

    /// Most bytes the flow table takes (default 128 MiB); beyond it the least
    /// important connections are evicted (docs/limits.md).
    #[arg(long, value_name = "BYTES")]
    pub max_flow_table_bytes: Option<usize>,

    /// Most out-of-order bytes held per direction.
    #[arg(long, value_name = "BYTES")]
    pub max_reassembly_bytes: Option<usize>,

    /// Largest stanza parsed, in bytes; larger ones are skipped with an anomaly.
    #[arg(long, value_name = "BYTES")]
    pub max_stanza_bytes: Option<usize>,

    /// Deepest element nesting inside a stanza.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,

    /// Most bytes held for all connections together (default 128 MiB, at least 1 MiB);
    /// above it the connections holding the most drop what they hold.
    #[arg(long, value_name = "BYTES")]
    pub max_buffered_bytes: Option<usize>,

    /// Most out-of-order segments held per direction.
    #[arg(long, value_name = "N")]
    pub max_segments: Option<usize>,

    /// Most attributes on one element.
    #[arg(long, value_name = "N")]
    pub max_attributes: Option<usize>,

    /// Seconds (of capture time) without packets after which a flow is ended.
    #[arg(long, value_name = "SECS")]
    pub flow_timeout: Option<u64>,
}

impl Common {
    /// The analysis configuration; fails if the key log cannot be read.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut limits = Limits::default();
        let set = |slot: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut limits.max_flows, self.max_flows);
        set(&mut limits.max_flow_table_bytes, self.max_flow_table_bytes);
        set(&mut limits.max_reassembly_bytes, self.max_reassembly_bytes);
        set(&mut limits.max_stanza_bytes, self.max_stanza_bytes);
        set(&mut limits.max_segments, self.max_segments);
        set(
            &mut limits.max_buffered_bytes,
            self.max_buffered_bytes.map(|v| v.max(MIN_BUFFER_BUDGET)),
        );
        set(&mut limits.max_attributes, self.max_attributes);
        set(&mut limits.max_tls_record, self.max_tls_record);
        set(&mut limits.max_tls_handshake, self.max_tls_handshake);
        if let Some(v) = self.max_depth {
            limits.max_depth = v;
        }
        if let Some(v) = self.flow_timeout {
            limits.flow_idle_timeout_secs = v;
        }
        let mut ports = DEFAULT_PORTS.to_vec();
        ports.extend(
            self.ports
                .iter()
                .copied()
                .filter(|p| !DEFAULT_PORTS.contains(p)),
        );
        let keylog = self.keylog.clone().or_else(|| {
            std::env::var_os("SSLKEYLOGFILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        let keys = match keylog {
            Some(path) => Some(Arc::new(
                KeyStore::open(&path).map_err(|e| anyhow::anyhow!("key log {e}"))?,
            )),
            None => None,
        };
        Ok(Config {
            ports,
            direct_tls_ports: DIRECT_TLS_PORTS.to_vec(),
            limits,
            show_secrets: self.show_secrets,
            keys,
            keep_xml: false,
            jobs: self.jobs.max(1),
            presence_digests: true,
            ..Config::default()
        })
    }
}
