//! The one incremental-parse contract (httparse's `Status`): a parser given the bytes
//! at hand either needs more of them, or completes a value that says how many it took.
//!
//! Used as `Result<Status<T>, E>` where a parser can also fail: needing more bytes is
//! never an error. The XML framer ([`crate::xml::Framer`]), WebSocket frame headers
//! ([`crate::transport::websocket::frame::parse`]), HTTP heads
//! ([`crate::transport::http::HeadReader`]), content detection
//! ([`crate::transport::detect::sniff`]) and TLS handshake message headers
//! ([`crate::transport::tls::wire::handshake_header`]) answer this way. (TLS body
//! parsers read complete messages only: their `None` means malformed. The one-pass
//! element parser's `None` sends the bytes to the framer, which answers this way.)

/// What a parser made of the bytes at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The bytes at hand end before the thing parsed does: give more.
    Partial,
    /// The thing is complete (its value says how many bytes it took).
    Complete(T),
}
