//! Shared identifiers and the event types every stage produces or consumes.
//!
//! Input: nothing; output: plain data types. An [`Event`] is what the analysis emits
//! for one stream event (one XML element, a flow boundary, or an anomaly); printers
//! only format events, and later stages (statistics, checks) only read them.

use serde::{Deserialize, Serialize};
use std::fmt;

pub mod detail;
mod stanza;
pub mod time;
pub use detail::Detail;
pub use stanza::{Field, Stanza, StanzaBox};

/// Connection number, in order of first packet, starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FlowId(pub u32);

/// Frame (packet) number in the capture, starting at 1 as in Wireshark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct FrameNo(pub u64);

/// Byte position within one direction of a TCP connection (0 = first payload byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct StreamOffset(pub u64);

/// Capture time in nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Builds a timestamp from seconds and a sub-second count at `units_per_sec`.
    pub fn from_parts(secs: i64, frac: u64, units_per_sec: u64) -> Timestamp {
        let units = units_per_sec.max(1);
        let nanos = if units >= 1_000_000_000 {
            frac / (units / 1_000_000_000)
        } else {
            frac.saturating_mul(1_000_000_000 / units)
        };
        let nanos = i64::try_from(nanos).unwrap_or(i64::MAX);
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    pub fn subsec_nanos(self) -> u32 {
        u32::try_from(self.0.rem_euclid(1_000_000_000)).unwrap_or(0)
    }
}

/// Which way bytes travel, relative to the side that opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the initiating side (client, or originating server for s2s).
    ToServer,
    /// From the receiving side.
    ToClient,
}

impl Direction {
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    /// This direction's half of a pair kept per direction, `[to server, to client]`.
    pub fn of<T>(self, pair: &[T; 2]) -> &T {
        let [c, s] = pair;
        match self {
            Direction::ToServer => c,
            Direction::ToClient => s,
        }
    }

    /// [`Direction::of`], to change it.
    pub fn of_mut<T>(self, pair: &mut [T; 2]) -> &mut T {
        let [c, s] = pair;
        match self {
            Direction::ToServer => c,
            Direction::ToClient => s,
        }
    }

    /// Short arrow used in text output: `C>S` or `S>C`.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ToServer => "C>S",
            Direction::ToClient => "S>C",
        }
    }
}

/// The stream's content namespace, which tells what kind of XMPP stream it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// `jabber:client` (RFC 6120 §4.8.2).
    C2s,
    /// `jabber:server` (RFC 6120 §4.8.2).
    S2s,
    /// `jabber:component:accept` or `:connect` (XEP-0114).
    Component,
    /// No or an unknown default namespace.
    Unknown,
}

impl StreamKind {
    /// The kind a direct TLS client asks for with ALPN (XEP-0368 §4), from the
    /// protocols of its ClientHello.
    pub fn from_alpn(protocols: &[String]) -> Option<StreamKind> {
        protocols.iter().find_map(|p| match p.as_str() {
            "xmpp-client" => Some(StreamKind::C2s),
            "xmpp-server" => Some(StreamKind::S2s),
            _ => None,
        })
    }

    pub fn from_namespace(ns: &str) -> StreamKind {
        match ns {
            crate::xml::ns::CLIENT => StreamKind::C2s,
            crate::xml::ns::SERVER => StreamKind::S2s,
            crate::xml::ns::COMPONENT_ACCEPT | crate::xml::ns::COMPONENT_CONNECT => {
                StreamKind::Component
            }
            _ => StreamKind::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::C2s => "c2s",
            StreamKind::S2s => "s2s",
            StreamKind::Component => "component",
            StreamKind::Unknown => "unknown",
        }
    }
}

/// One thing that happened in a capture, with where and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Capture time of the frame that completed the event.
    #[serde(serialize_with = "crate::model::time::serialize_rfc3339")]
    pub time: Timestamp,
    pub flow: FlowId,
    #[serde(rename = "dir")]
    pub direction: Direction,
    /// The frame that carried the event's last byte.
    pub frame: FrameNo,
    /// Offset of the event's first byte in its direction.
    pub offset: StreamOffset,
    /// Size of the event on the wire, in bytes (0 for flow-level events).
    pub size: u64,
    /// Set when the bytes came out of a decrypted TLS stream.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Which packet the bytes being fed came from: every layer stamps it on what it
/// reports.
#[derive(Debug, Clone, Copy)]
pub struct At {
    pub frame: FrameNo,
    pub time: Timestamp,
}

/// Where an event sits; the pipeline stamps this on what a stage reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub time: Timestamp,
    pub frame: FrameNo,
    pub offset: StreamOffset,
    pub size: u64,
    /// Inside a decrypted TLS stream: offset and size count decrypted bytes.
    pub decrypted: bool,
}

/// How the client and server sides of a connection were told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleSource {
    /// The side that sent the SYN is the client.
    Syn,
    /// The side on a well-known XMPP port is the server.
    Port,
    /// The side that sent the first stream header is the client.
    StreamHeader,
    /// The side that sent the HTTP upgrade request is the client (RFC 7395 §3.1).
    HttpRequest,
    /// The side that sent the TLS ClientHello is the client (RFC 8446 §2).
    ClientHello,
}

/// Why a flow is considered XMPP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectedBy {
    Port,
    Content,
    /// An HTTP upgrade to WebSocket asking for the `xmpp` subprotocol (RFC 7395 §3.1).
    Websocket,
    /// An HTTP POST whose body is a BOSH `<body/>` (XEP-0124, XEP-0206).
    Bosh,
    /// A TLS ClientHello offering the ALPN protocol `xmpp-client` or `xmpp-server`
    /// (XEP-0368 §4): direct TLS on a port not known as XMPP, e.g. 443.
    Alpn,
}

/// Why a flow's report ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Both sides sent FIN.
    Fin,
    /// A side reset the connection.
    Rst,
    /// The capture ended with the connection still open.
    CaptureEnd,
    /// No packet for longer than the idle timeout.
    Idle,
    /// Evicted from a full flow table to make room for another connection.
    Evicted,
}

/// Byte counters of one direction, reported when a flow ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DirectionBytes {
    /// All payload bytes delivered in order (gaps excluded).
    pub payload: u64,
    /// Bytes of XML elements, headers and closes.
    pub xml: u64,
    /// Whitespace between top-level elements (keepalives, RFC 6120 §4.6.1).
    pub whitespace: u64,
    /// Bytes after the TLS hand-off (or on a direct-TLS port) left encrypted.
    pub tls: u64,
    /// Bytes missing from the capture (lost or truncated segments).
    pub missing: u64,
    /// Bytes skipped as unparseable (after a gap or an error).
    pub skipped: u64,
    /// TLS records seen (RFC 8446 §5.1).
    #[serde(skip_serializing_if = "is_zero")]
    pub tls_records: u64,
    /// Application bytes recovered by decryption; their XML is counted in `xml`.
    #[serde(skip_serializing_if = "is_zero")]
    pub decrypted: u64,
    /// Bytes of the protocol carrying XMPP over HTTP: HTTP heads, WebSocket frame
    /// headers, BOSH `<body/>` wrappers and chunk lines.
    #[serde(skip_serializing_if = "is_zero")]
    pub framing: u64,
    /// Bytes of an element, TLS record or HTTP message begun and never finished
    /// when the connection's analysis ended (`unfinished_at_end`). Per direction:
    /// `payload + decrypted + inflated = xml + whitespace + tls + compressed + framing
    /// + skipped + unfinished`, and `payload + missing` is every TCP payload byte.
    #[serde(skip_serializing_if = "is_zero")]
    pub unfinished: u64,
    /// Bytes after the switch to stream compression (XEP-0138 §6): the compressed
    /// bytes on the wire (or inside TLS).
    #[serde(skip_serializing_if = "is_zero")]
    pub compressed: u64,
    /// What the compressed bytes inflated to; their XML is counted in `xml`.
    #[serde(skip_serializing_if = "is_zero")]
    pub inflated: u64,
}

impl DirectionBytes {
    /// Whether every byte of the direction is accounted for (the identity above).
    pub fn is_balanced(&self) -> bool {
        self.payload + self.decrypted + self.inflated
            == self.xml
                + self.whitespace
                + self.tls
                + self.compressed
                + self.framing
                + self.skipped
                + self.unfinished
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A certificate from a TLS Certificate message (RFC 5280 fields).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    /// Subject alternative names as `DNS:…`, `xmppAddr:…`, `SRVName:…`, `IP:…`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub san: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub not_before: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub not_after: String,
}

/// A parsed JID field with its validity (RFC 7622).
pub type JidText = String;

/// What happened. Serialized with an `event` tag and snake_case fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A TCP connection recognised as XMPP.
    FlowStart {
        client: String,
        server: String,
        detected_by: DetectedBy,
        roles_by: RoleSource,
        /// The connection was already open when the capture started.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        midstream: bool,
    },
    /// `<stream:stream>` opened (RFC 6120 §4.7).
    StreamHeader {
        stream_kind: StreamKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<JidText>,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<JidText>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        lang: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        /// `xmlns:db` declared: the sender supports dialback (XEP-0220).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        dialback: bool,
        /// A header after the first in this direction (RFC 6120 §4.3.3).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        restart: bool,
    },
    /// `<stream:features>` (RFC 6120 §4.3.2).
    Features(Features),
    /// `<starttls/>` (RFC 6120 §5.4.2.1).
    StartTls,
    /// `<proceed/>`: TLS starts on the next byte (RFC 6120 §5.4.2.3).
    TlsProceed,
    /// `<failure/>` in the TLS namespace (RFC 6120 §5.4.2.2).
    TlsFailure,
    /// `<compress/>`: the client asks for stream compression (XEP-0138 §5).
    Compress {
        #[serde(skip_serializing_if = "Option::is_none")]
        method: Option<String>,
    },
    /// `<compressed/>`: both directions are compressed from the next byte, and the
    /// client restarts the stream (XEP-0138 §6).
    Compressed,
    /// `<failure/>` in the compression namespace, with its condition
    /// (`setup-failed`, `unsupported-method`, `processing-failed`; XEP-0138 §5, §7).
    CompressFailure {
        #[serde(skip_serializing_if = "Option::is_none")]
        condition: Option<String>,
    },
    /// A TLS ClientHello (RFC 8446 §4.1.2): what the client offers.
    TlsClientHello {
        /// server_name (RFC 6066 §3): the XMPP domain asked for.
        #[serde(skip_serializing_if = "Option::is_none")]
        sni: Option<String>,
        /// ALPN protocols (RFC 7301); XEP-0368 uses `xmpp-client`/`xmpp-server`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        alpn: Vec<String>,
        /// supported_versions, GREASE left out (RFC 8446 §4.2.1).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        versions: Vec<String>,
        cipher_suites: usize,
        /// A session ID, ticket or pre-shared key offered for resumption.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        resumption: bool,
    },
    /// A TLS ServerHello (RFC 8446 §4.1.3): what was negotiated.
    TlsServerHello {
        version: String,
        cipher_suite: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        alpn: Option<String>,
        /// An earlier session was resumed (session ID echoed, or PSK accepted).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        resumed: bool,
        /// A HelloRetryRequest (RFC 8446 §4.1.4), not the final ServerHello.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        hello_retry: bool,
    },
    /// TLS 1.3 EncryptedExtensions (RFC 8446 §4.3.1), seen only when decrypted.
    TlsEncryptedExtensions {
        #[serde(skip_serializing_if = "Option::is_none")]
        alpn: Option<String>,
    },
    /// The certificate chain a side sent (RFC 8446 §4.4.2, RFC 5246 §7.4.2).
    TlsCertificate {
        certificates: Vec<CertificateInfo>,
    },
    /// The Finished message: this side's handshake is complete (RFC 8446 §4.4.4).
    TlsFinished,
    /// A TLS alert (RFC 8446 §6).
    TlsAlert {
        level: String,
        description: String,
    },
    /// `<auth mechanism=…>` (RFC 6120 §6.4.2), or SASL2's `<authenticate>` (XEP-0388
    /// §2.3) with its `<initial-response>`.
    SaslAuth {
        mechanism: String,
        /// Authentication identity, where the mechanism shows it (PLAIN, SCRAM, HT-*).
        #[serde(skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        data_len: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<String>,
        /// The Extensible SASL Profile (XEP-0388, namespace `urn:xmpp:sasl:2`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        sasl2: bool,
    },
    /// `<challenge>` (RFC 6120 §6.4.3, XEP-0388 §2.4).
    SaslChallenge {
        data_len: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<String>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        sasl2: bool,
    },
    /// `<response>` (RFC 6120 §6.4.3, XEP-0388 §2.4).
    SaslResponse {
        data_len: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<String>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        sasl2: bool,
    },
    /// `<success>` (RFC 6120 §6.4.6; XEP-0388 §2.6.1: no stream restart follows).
    SaslSuccess {
        /// Additional data with success (SASL2: `<additional-data>`).
        data_len: usize,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        sasl2: bool,
        /// SASL2's `<authorization-identifier>`: the account, or the full JID when a
        /// resource was bound inline.
        #[serde(skip_serializing_if = "Option::is_none")]
        jid: Option<JidText>,
        /// A resource was bound inline (Bind 2, XEP-0386 `<bound/>`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        bound: bool,
    },
    /// `<failure>` in the SASL namespace (RFC 6120 §6.5, XEP-0388 §2.6.2).
    SaslFailure {
        #[serde(skip_serializing_if = "Option::is_none")]
        condition: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        sasl2: bool,
    },
    /// `<abort/>` (RFC 6120 §6.4.4).
    SaslAbort,
    /// `<db:result>` or `<db:verify>` (XEP-0220).
    Dialback {
        verify: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        r#type: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<JidText>,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<JidText>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Length of the dialback key (the key itself is a secret).
        key_len: usize,
    },
    /// `<handshake>` of a component (XEP-0114 §3): a digest from the component,
    /// empty from the server as acceptance.
    ComponentHandshake {
        digest_len: usize,
    },
    // Boxed (and the boxes recycled): a stanza is large, and events are moved from
    // stage to stage.
    Message(StanzaBox),
    Presence(StanzaBox),
    Iq(StanzaBox),
    /// `<stream:error>` (RFC 6120 §4.9).
    StreamError {
        #[serde(skip_serializing_if = "Option::is_none")]
        condition: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// `</stream:stream>` (RFC 6120 §4.4).
    StreamClose,
    /// The client's HTTP request to upgrade the connection to WebSocket (RFC 6455 §4.1)
    /// for XMPP (RFC 7395 §3.1).
    WebsocketUpgrade {
        path: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// `Sec-WebSocket-Protocol`: the subprotocols asked for (`xmpp`).
        #[serde(skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        /// `Sec-WebSocket-Extensions` offered (e.g. `permessage-deflate`).
        #[serde(skip_serializing_if = "Option::is_none")]
        extensions: Option<String>,
    },
    /// The server's answer (RFC 6455 §4.2.2): 101 switches to WebSocket frames.
    WebsocketAccept {
        status: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        extensions: Option<String>,
        /// The server accepted permessage-deflate (RFC 7692 §5): the messages that
        /// say so are inflated before they are read.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        deflate: bool,
    },
    /// A WebSocket Close frame (RFC 6455 §5.5.1), after XMPP's `<close/>`.
    WebsocketClose {
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A stream management element (XEP-0198): `enable`, `enabled`, `resume`,
    /// `resumed`, `failed`, `r` (request) or `a` (ack).
    Sm {
        action: String,
        /// Stanzas handled so far (`h`, XEP-0198 §4).
        #[serde(skip_serializing_if = "Option::is_none")]
        h: Option<u32>,
        /// The stream's id (`enabled`), or the one resumed (`previd`).
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Resumption asked for (`enable`) or allowed (`enabled`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        resume: bool,
        /// Seconds the server keeps the session for resumption (`max`).
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
        /// Why `failed` (a stanza error condition).
        #[serde(skip_serializing_if = "Option::is_none")]
        condition: Option<String>,
    },
    /// Any other top-level element (compression, wrappers, extensions).
    Element {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
    /// The bytes of the element the events after it describe (same position), as
    /// received; only when a transcript asks for them (`show`, `diagram`).
    Xml {
        xml: String,
    },
    /// Traffic that breaks the protocol or a limit; analysis goes on.
    Anomaly {
        anomaly: Anomaly,
        detail: String,
    },
    /// The end of a flow's report, with byte counters per direction.
    FlowEnd {
        reason: EndReason,
        to_server: DirectionBytes,
        to_client: DirectionBytes,
    },
}

impl EventKind {
    /// The event's name, as the NDJSON `event` key writes it (its serde tag).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::FlowStart { .. } => "flow_start",
            EventKind::StreamHeader { .. } => "stream_header",
            EventKind::Features(_) => "features",
            EventKind::StartTls => "start_tls",
            EventKind::TlsProceed => "tls_proceed",
            EventKind::TlsFailure => "tls_failure",
            EventKind::Compress { .. } => "compress",
            EventKind::Compressed => "compressed",
            EventKind::CompressFailure { .. } => "compress_failure",
            EventKind::TlsClientHello { .. } => "tls_client_hello",
            EventKind::TlsServerHello { .. } => "tls_server_hello",
            EventKind::TlsEncryptedExtensions { .. } => "tls_encrypted_extensions",
            EventKind::TlsCertificate { .. } => "tls_certificate",
            EventKind::TlsFinished => "tls_finished",
            EventKind::TlsAlert { .. } => "tls_alert",
            EventKind::SaslAuth { .. } => "sasl_auth",
            EventKind::SaslChallenge { .. } => "sasl_challenge",
            EventKind::SaslResponse { .. } => "sasl_response",
            EventKind::SaslSuccess { .. } => "sasl_success",
            EventKind::SaslFailure { .. } => "sasl_failure",
            EventKind::SaslAbort => "sasl_abort",
            EventKind::Dialback { .. } => "dialback",
            EventKind::ComponentHandshake { .. } => "component_handshake",
            EventKind::Message(_) => "message",
            EventKind::Presence(_) => "presence",
            EventKind::Iq(_) => "iq",
            EventKind::StreamError { .. } => "stream_error",
            EventKind::StreamClose => "stream_close",
            EventKind::WebsocketUpgrade { .. } => "websocket_upgrade",
            EventKind::WebsocketAccept { .. } => "websocket_accept",
            EventKind::WebsocketClose { .. } => "websocket_close",
            EventKind::Sm { .. } => "sm",
            EventKind::Element { .. } => "element",
            EventKind::Xml { .. } => "xml",
            EventKind::Anomaly { .. } => "anomaly",
            EventKind::FlowEnd { .. } => "flow_end",
        }
    }
}

impl EventKind {
    /// Events about the TLS layer itself (RFC 8446 handshake messages and alerts),
    /// not XMPP traffic.
    pub fn is_tls_layer(&self) -> bool {
        matches!(
            self,
            EventKind::TlsClientHello { .. }
                | EventKind::TlsServerHello { .. }
                | EventKind::TlsEncryptedExtensions { .. }
                | EventKind::TlsCertificate { .. }
                | EventKind::TlsFinished
                | EventKind::TlsAlert { .. }
        )
    }
}

/// What `<stream:features>` offered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Features {
    /// `offered` or `required` (RFC 6120 §5.4.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mechanisms: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bind: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub session: bool,
    /// SASL2 mechanisms (XEP-0388 `<authentication>`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sasl2: Vec<String>,
    /// Bind 2 offered inline with SASL2 (XEP-0386).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bind2: bool,
    /// Stream management (XEP-0198).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sm: bool,
    /// Compression methods (XEP-0138).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compression: Vec<String>,
    /// Entity capabilities node (XEP-0115).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caps: Option<String>,
    /// Dialback offered as a feature (XEP-0220 §2.4).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dialback: bool,
    /// Namespaces of the other features, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<String>,
}

/// Named faults in traffic, the way Suricata and Zeek name "weirds".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Anomaly {
    /// Bytes missing from a direction; parsing resumes at the next element.
    Gap,
    /// Retransmitted bytes that differ from the bytes first seen.
    OverlapMismatch,
    /// A segment far outside the window (a sequence jump of 2³⁰ or more); ignored.
    OutOfWindow,
    /// Out-of-order data exceeded the reassembly limit and was dropped.
    ReassemblyLimit,
    /// The bytes held for all connections together exceeded their budget
    /// (`Limits::max_buffered_bytes`): this connection's held bytes were let go.
    BufferLimit,
    /// The flow table is full of XMPP connections; a new connection is not tracked.
    FlowLimit,
    /// An XMPP connection was evicted from the full flow table to make room; its
    /// report ends here (`flow_end` with reason `evicted`).
    FlowEvicted,
    /// A connection's analysis ended (capture end, FIN, reset, idle timeout or
    /// eviction) with bytes of an unfinished element, record or HTTP message that
    /// never completed.
    UnfinishedAtEnd,
    /// An element exceeded the stanza size limit and was skipped.
    StanzaTooLarge,
    /// Elements nested deeper than the limit; the element was skipped.
    TooDeep,
    /// An element has more attributes than the limit.
    TooManyAttributes,
    /// XML that is not well-formed.
    MalformedXml,
    /// Comment, processing instruction or DTD (forbidden by RFC 6120 §11.1).
    RestrictedXml,
    /// Character data at the top level of a stream.
    TextAtTopLevel,
    /// A stream that does not begin with a stream header.
    MissingStreamHeader,
    /// Bytes after the stream was closed.
    DataAfterClose,
    /// `<proceed/>` without a preceding `<starttls/>`.
    UnexpectedProceed,
    /// A JID that fails RFC 7622 validation.
    InvalidJid,
    /// A packet whose headers could not be decoded.
    BadPacket,
    /// A direct-TLS flow whose bytes are not TLS records.
    NotTls,
    /// A TLS record longer than the protocol allows (RFC 8446 §5.2) or the limit.
    TlsRecordTooLarge,
    /// A TLS handshake message that could not be parsed.
    TlsMalformed,
    /// A key log was given but holds no key for this connection's client random.
    TlsNoKey,
    /// The negotiated cipher suite is one xmppdump cannot decrypt.
    TlsUnsupportedSuite,
    /// A record failed authentication: wrong key, lost record or altered bytes.
    TlsDecryptFailed,
    /// XMPP over WebSocket that breaks RFC 6455 or RFC 7395: a bad upgrade, a frame
    /// that cannot be decoded, a binary or compressed message.
    WebsocketMalformed,
    /// XMPP over BOSH that breaks XEP-0124 or HTTP/1.1: an HTTP error status, a body
    /// that is not a `<body/>` wrapper, HTTP that cannot be followed.
    BoshMalformed,
    /// A compressed stream (XEP-0138) that cannot be inflated, or that inflates to
    /// more than the limit allows (a compression bomb): that direction is only
    /// counted from here.
    CompressionError,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&text)
    }
}

/// `d` as 16 lowercase hex digits: how digests are shown (the NDJSON writer uses it
/// for its `\u00XX` escapes too).
pub fn hex16(d: u64) -> [u8; 16] {
    let mut out = [b'0'; 16];
    for (i, digit) in out.iter_mut().enumerate() {
        let nibble = (d >> (60 - 4 * i)) & 0xf;
        *digit = b"0123456789abcdef"
            .get(nibble as usize)
            .copied()
            .unwrap_or(b'0');
    }
    out
}
