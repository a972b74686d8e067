//! xmppdump: a protocol analyzer for XMPP (RFC 6120/6121) captures.
//!
//! Data flows one way: `capture` (pcap/pcapng packets) → `decode` (TCP segments) →
//! `flow` (connections, reassembly) → `xml` (framing, parsing) → `session` (XMPP
//! meaning, STARTTLS hand-off) → `output` (printers). `pipeline` is the only module
//! that knows every stage.

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
pub mod bosh;
pub mod capture;
pub mod carrier;
pub mod census;
pub mod check;
pub mod decode;
pub mod filter;
pub mod flow;
pub mod fnv;
pub mod http;
pub mod jid;
pub mod limits;
#[cfg(feature = "live")]
pub mod live;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod report;
pub mod session;
pub mod sink;
pub mod story;
pub mod synth;
pub mod tls;
pub mod transport;
pub mod websocket;
pub mod xml;
