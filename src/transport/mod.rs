//! The layers that carry XMPP below the stream (issue #24's transport stack):
//! each takes one direction's bytes in order and hands on what it unwraps.
//!
//! One folder or file a layer: [`tls`] (records, handshake, decryption), [`http`]
//! (HTTP/1.1 messages), [`websocket`] (RFC 6455 frames for RFC 7395) with
//! [`deflate`] (permessage-deflate, RFC 7692), [`bosh`] (XEP-0124/0206 bodies),
//! [`zlib`] (XEP-0138, which a session stream switches to after `<compressed/>`),
//! and [`inflate`], the bounded decompressor the two compressions share.
//! [`detect`] tells from the first bytes what a connection carries; [`carrier`] is
//! what WebSocket and BOSH hand on. None imports `session`, which drives them
//! (`docs/architecture.md`).

pub mod bosh;
pub mod carrier;
pub mod deflate;
pub mod detect;
pub mod http;
pub mod inflate;
pub mod tls;
pub mod websocket;
pub mod zlib;
