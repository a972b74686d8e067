//! Every bound on memory in one place.
//!
//! Input: nothing; output: a [`Limits`] value the pipeline hands to each stage.
//! Exceeding a limit never grows memory: the stage emits an anomaly and drops data.
//! Defaults are documented in `docs/limits.md`; each is overridable from the CLI.

/// Resource bounds for one analysis run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most TCP connections in the flow table at once, passed (not XMPP, ended) and
    /// tracked together; beyond it entries are evicted (`flow::Class` order).
    pub max_flows: usize,
    /// Most bytes the flow table takes: its index (about 49 bytes per entry, in
    /// power-of-two steps) plus an estimate of each tracked connection.
    pub max_flow_table_bytes: usize,
    /// Most out-of-order bytes held per direction while waiting for a hole to fill.
    pub max_reassembly_bytes: usize,
    /// Most out-of-order segments held per direction.
    pub max_segments: usize,
    /// Largest depth-1 element (stanza) buffered for parsing, in bytes.
    pub max_stanza_bytes: usize,
    /// Deepest element nesting inside a stanza.
    pub max_depth: u32,
    /// Most attributes on one element.
    pub max_attributes: usize,
    /// Largest TLS record accepted, header excluded: 2¹⁴ + 2048 (RFC 5246 §6.2.3;
    /// TLS 1.3 allows 2¹⁴ + 256, RFC 8446 §5.2). Larger ends the TLS analysis.
    pub max_tls_record: usize,
    /// Largest TLS handshake message reassembled (certificate chains).
    pub max_tls_handshake: usize,
    /// Bytes looked at to decide whether a flow on an unknown port is XMPP (an HTTP
    /// upgrade request must fit: browsers send 0.5–2 KiB, more with cookies).
    pub max_detect_bytes: usize,
    /// Seconds of capture time without a packet after which a flow is expired.
    pub flow_idle_timeout_secs: u64,
    /// In emergency mode (the flow table [`EMERGENCY_ENTER`] full), the idle timeout
    /// of connections not known to be XMPP and of XMPP connections that sent nothing.
    pub emergency_idle_timeout_secs: u64,
    /// In emergency mode, the idle timeout of XMPP connections under analysis.
    pub emergency_xmpp_idle_timeout_secs: u64,
    /// Most bytes held for all connections together: out-of-order segments,
    /// unfinished elements, TLS records and handshake messages, bytes sniffed on
    /// unknown ports. Above it the connections holding the most let theirs go
    /// (`buffer_limit`), so memory is bounded whatever the capture holds. The CLI
    /// takes no value below [`MIN_BUFFER_BUDGET`].
    pub max_buffered_bytes: usize,
}

impl Limits {
    /// The budget for the bytes held by all connections (`max_buffered_bytes`, at
    /// least 1).
    pub fn buffer_budget(&self) -> usize {
        self.max_buffered_bytes.max(1)
    }
}

/// Share of the flow table's bounds in use at which emergency mode starts: idle
/// sweeps every [`EMERGENCY_SWEEP_SECS`] with the emergency timeouts (as Suricata's
/// and Zeek's flow managers do under pressure).
pub const EMERGENCY_ENTER: f64 = 0.9;
/// Share below which emergency mode ends.
pub const EMERGENCY_LEAVE: f64 = 0.7;
/// Seconds of capture time between idle sweeps in emergency mode.
pub const EMERGENCY_SWEEP_SECS: i64 = 5;

/// Smallest budget the CLI accepts for the bytes held by all connections: each time
/// the budget is spent every connection is looked at, at most once per quarter of the
/// budget of new bytes, so a tiny budget with many connections would make that
/// happen for nearly every packet.
pub const MIN_BUFFER_BUDGET: usize = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 4_000_000,
            max_flow_table_bytes: 128 << 20,
            max_reassembly_bytes: 1 << 20,
            max_segments: 256,
            max_stanza_bytes: 1 << 20,
            max_depth: 64,
            max_attributes: 256,
            max_tls_record: (1 << 14) + 2048,
            max_tls_handshake: 1 << 18,
            max_detect_bytes: 4096,
            flow_idle_timeout_secs: 3600,
            emergency_idle_timeout_secs: 30,
            emergency_xmpp_idle_timeout_secs: 300,
            max_buffered_bytes: 128 << 20,
        }
    }
}
