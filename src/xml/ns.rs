//! Namespace URIs we match on (RFC 6120 and the XEPs cited). Elements are always
//! matched by (namespace, local name), never by the prefix text.

pub const STREAMS: &str = "http://etherx.jabber.org/streams";
pub const CLIENT: &str = "jabber:client";
pub const SERVER: &str = "jabber:server";
pub const COMPONENT_ACCEPT: &str = "jabber:component:accept";
pub const COMPONENT_CONNECT: &str = "jabber:component:connect";
pub const DIALBACK: &str = "jabber:server:dialback";
pub const DIALBACK_FEATURE: &str = "urn:xmpp:features:dialback";
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
pub const STANZA_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// XMPP over WebSocket's `<open/>` and `<close/>` (RFC 7395 §3.3.1).
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
pub const SASL2: &str = "urn:xmpp:sasl:2";
pub const BIND2: &str = "urn:xmpp:bind:0";
pub const SM: &str = "urn:xmpp:sm:3";
/// XEP-0198's earlier namespace, still sent by some servers.
pub const SM2: &str = "urn:xmpp:sm:2";
pub const COMPRESS_FEATURE: &str = "http://jabber.org/features/compress";
/// Stream compression negotiation (XEP-0138 §5).
pub const COMPRESS: &str = "http://jabber.org/protocol/compress";
pub const CAPS: &str = "http://jabber.org/protocol/caps";
/// The `xml:` prefix is bound by definition (Namespaces in XML §3).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// True for the content namespaces whose stanzas are message/presence/iq.
pub fn is_stanza_namespace(ns: &str) -> bool {
    matches!(ns, CLIENT | SERVER | COMPONENT_ACCEPT | COMPONENT_CONNECT)
}
