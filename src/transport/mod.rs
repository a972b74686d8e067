//! The layers that carry XMPP below the stream (issue #24's transport stack):
//! each takes one direction's bytes in order and hands on what it unwraps.
//!
//! [`layer`] is the one contract ([`layer::Layer`], [`layer::Out`]) and [`stack`] runs
//! a connection's layers bottom to top. One folder or file a layer: [`tls`] (records,
//! handshake, decryption), [`websocket`] (RFC 6455 frames for RFC 7395, over [`http`]
//! heads) with [`deflate`] (permessage-deflate, RFC 7692), [`bosh`] (XEP-0124/0206
//! bodies), [`sniff`] (what TLS carries: XMPP, WebSocket, BOSH or other HTTP), and
//! [`zlib`] (XEP-0138, which a session stream switches to after `<compressed/>`), with
//! [`inflate`], the bounded decompressor the two compressions share. [`detect`] tells
//! from the first bytes what a connection carries. None imports `session`, which
//! builds the stack and reads what comes out of its top (`docs/architecture.md`).

pub mod bosh;
pub mod deflate;
pub mod detect;
pub mod http;
pub mod inflate;
pub mod layer;
pub mod sniff;
pub mod stack;
pub mod tls;
pub mod websocket;
pub mod zlib;
