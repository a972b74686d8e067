//! Command-line flags, mapped onto the library's `Config`. Nothing else lives here.

use clap::Parser;
use std::path::PathBuf;
use xmppdump::limits::Limits;
use xmppdump::pipeline::{Config, DEFAULT_PORTS, DIRECT_TLS_PORTS};

/// Read XMPP (Jabber) traffic from a capture file and print what happened in every
/// stream: headers, STARTTLS, SASL, stanzas, errors and anomalies.
#[derive(Debug, Parser)]
#[command(name = "xmppdump", version, about)]
pub struct Args {
    /// Capture file to read (pcap or pcapng); `-` reads standard input.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: PathBuf,

    /// Print one JSON object per event (NDJSON) instead of text lines.
    #[arg(long)]
    pub json: bool,

    /// Also treat TCP port N as XMPP (repeatable); 5222, 5269, 5223, 5270, 5347 always are.
    #[arg(long = "port", value_name = "N")]
    pub ports: Vec<u16>,

    /// Show SASL payloads and other secrets instead of redacting them.
    #[arg(long)]
    pub show_secrets: bool,

    /// Most TCP connections tracked at once.
    #[arg(long, value_name = "N")]
    pub max_flows: Option<usize>,

    /// Most out-of-order bytes held per direction.
    #[arg(long, value_name = "BYTES")]
    pub max_reassembly_bytes: Option<usize>,

    /// Largest stanza parsed, in bytes; larger ones are skipped with an anomaly.
    #[arg(long, value_name = "BYTES")]
    pub max_stanza_bytes: Option<usize>,

    /// Deepest element nesting inside a stanza.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,

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

impl Args {
    pub fn config(&self) -> Config {
        let mut limits = Limits::default();
        if let Some(v) = self.max_flows {
            limits.max_flows = v;
        }
        if let Some(v) = self.max_reassembly_bytes {
            limits.max_reassembly_bytes = v;
        }
        if let Some(v) = self.max_stanza_bytes {
            limits.max_stanza_bytes = v;
        }
        if let Some(v) = self.max_depth {
            limits.max_depth = v;
        }
        if let Some(v) = self.max_segments {
            limits.max_segments = v;
        }
        if let Some(v) = self.max_attributes {
            limits.max_attributes = v;
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
        Config {
            ports,
            direct_tls_ports: DIRECT_TLS_PORTS.to_vec(),
            limits,
            show_secrets: self.show_secrets,
        }
    }
}
