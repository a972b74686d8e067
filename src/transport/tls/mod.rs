//! TLS inside XMPP connections: after `<proceed/>` (RFC 6120 §5.4.3.3) or from the
//! first byte (direct TLS, XEP-0368).
//!
//! Input: the TCP bytes of each direction once it is TLS; output: handshake
//! metadata events (ClientHello, ServerHello, certificates, alerts) and, with keys
//! from an NSS key log, the decrypted application bytes, which the session feeds to
//! a fresh XMPP stream. Without keys, or when a record fails authentication, the
//! direction stays opaque and analysis goes on.

pub mod cert;
pub mod conn;
pub mod crypto;
pub mod keylog;
pub mod wire;

pub use conn::Connection;
pub use keylog::{KeyLog, KeyStore};
