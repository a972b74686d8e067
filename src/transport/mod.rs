//! The layers that carry XMPP below the stream (issue #24's transport stack):
//! each takes one direction's bytes in order and hands on what it unwraps.
//!
//! Today: [`inflate`], the bounded decompressor that XEP-0138 stream compression
//! and WebSocket permessage-deflate (RFC 7692) share, and [`zlib`], XEP-0138's
//! layer, which a session stream switches to after `<compressed/>`. TLS,
//! HTTP/WebSocket and BOSH still live in their own modules (`tls`, `websocket`,
//! `bosh`) behind `crate::carrier`.

pub mod deflate;
pub mod inflate;
pub mod zlib;
