//! xmppdump: a protocol analyzer for XMPP (RFC 6120/6121) captures.
//!
//! Data flows one way: `capture` (pcap/pcapng packets) → `decode` (TCP segments) →
//! `flow` (connections, reassembly: bytes in order per direction, and gaps) →
//! `session` (XMPP: stream framing and parsing with `xml`, classification, SASL, the
//! negotiation in `session::fsm`). A stream that hands its bytes off (after
//! `<proceed/>` or `<compressed/>`, or on a WebSocket or BOSH connection) gives them to
//! a stack of `transport` layers (one `transport::layer::Layer` trait: TLS, then what
//! TLS carries, WebSocket with permessage-deflate, BOSH, XEP-0138 zlib), and what the
//! top layer unwraps feeds a fresh XMPP stream one level up → events → a
//! [`sink::Sink`]: `output` (text, NDJSON, Parquet), `analysis` (statistics), `check` (rules),
//! `story` (the student view). `pipeline` is the only module that knows every stage.
//! `docs/architecture.md` follows one packet through.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod analysis;
pub mod capture;
pub mod census;
pub mod check;
pub mod decode;
pub mod filter;
pub mod flow;
pub mod fnv;
pub mod jid;
pub mod lanes;
pub mod limits;
#[cfg(feature = "live")]
pub mod live;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod report;
pub mod session;
pub mod sink;
pub mod status;
pub mod story;
pub mod synth;
pub mod transport;
pub mod xml;
