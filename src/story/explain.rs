//! One plain-language sentence per element, citing the section that defines it, for
//! `show --explain`.
//!
//! Input: an event kind and who sent it; output: a sentence, or `None` when there is
//! nothing to teach (anomalies explain themselves).

use crate::model::{Direction, EventKind, Stanza};
use crate::session::Transport;
use crate::xml::ns;

/// A stream header carried by WebSocket (`<open/>`) or BOSH (the session's `<body/>`).
fn carried_header(transport: Transport, restart: bool, from_client: bool) -> &'static str {
    match (transport == Transport::Websocket, restart, from_client) {
        (true, true, _) => "After SASL the stream starts again with a new <open/>; the WebSocket connection stays — RFC 7395, RFC 6120 §4.3.3.",
        (true, false, true) => "Over WebSocket the client opens the stream with an <open/> element in its own message instead of <stream:stream>; every message holds whole elements — RFC 7395 §3.3.",
        (true, false, false) => "The server answers with its own <open/>, which carries the stream id — RFC 7395 §3.3.",
        (false, true, _) => "After SASL the client asks for a stream restart with xmpp:restart='true' on its <body/>; the BOSH session stays — XEP-0206 §5.",
        (false, false, true) => "The client asks for a BOSH session: an HTTP POST whose <body/> names the domain and how long requests may wait; the stream then lives inside the bodies — XEP-0124 §7.1.",
        (false, false, false) => "The server creates the session: its <body/> carries the session id (sid) and the stream id (authid) — XEP-0124 §7.2, XEP-0206 §3.",
    }
}

/// The sentence for one event, sent in direction `dir` on a connection whose XMPP
/// stream `transport` carries (the stream's opening and closing differ over
/// WebSocket and BOSH).
pub fn sentence(kind: &EventKind, dir: Direction, transport: Transport) -> Option<String> {
    let from_client = dir == Direction::ToServer;
    match (transport, kind) {
        (Transport::Websocket | Transport::Bosh, EventKind::StreamHeader { restart, .. }) => {
            return Some(carried_header(transport, *restart, from_client).into());
        }
        (Transport::Websocket, EventKind::StreamClose) => {
            return Some("This side closes its stream with <close/>, the WebSocket form of </stream:stream> — RFC 7395 §3.6.".into());
        }
        (Transport::Bosh, EventKind::StreamClose) => {
            return Some("This side ends the BOSH session with a <body type='terminate'/>, which also closes the stream — XEP-0124, XEP-0206.".into());
        }
        _ => {}
    }
    Some(match kind {
        EventKind::StreamHeader { restart: true, .. } => {
            "After TLS or SASL both sides start a new stream, forgetting the old one — RFC 6120 §4.3.3.".into()
        }
        EventKind::StreamHeader { .. } if from_client => {
            "The initiating side opens its XML stream; everything it sends lives inside this element — RFC 6120 §4.7.".into()
        }
        EventKind::StreamHeader { .. } => {
            "The receiving side answers with its own stream header and a stream id — RFC 6120 §4.7.".into()
        }
        EventKind::Features(f) => {
            if f.starttls.as_deref() == Some("required") {
                "The server requires STARTTLS before anything else — RFC 6120 §5.3.1.".into()
            } else if f.starttls.is_some() {
                "The server offers STARTTLS — RFC 6120 §5.4.1.".into()
            } else if !f.mechanisms.is_empty() {
                format!(
                    "The server lists the SASL mechanisms it accepts ({}) — RFC 6120 §6.4.1.",
                    f.mechanisms.join(", ")
                )
            } else if f.bind {
                "Authenticated: the server now offers resource binding — RFC 6120 §7.2.".into()
            } else if f.dialback {
                "The server offers server dialback — XEP-0220 §2.4.".into()
            } else {
                "The server lists the features of this stream — RFC 6120 §4.3.2.".into()
            }
        }
        EventKind::WebsocketUpgrade { .. } => {
            "The client asks the web server to turn this HTTP connection into a WebSocket carrying XMPP (subprotocol xmpp) — RFC 7395 §3.1.".into()
        }
        EventKind::WebsocketAccept {
            status: 101,
            deflate: true,
            ..
        } => {
            "The server agrees, with permessage-deflate: from now on both sides send WebSocket frames, one XML element per message, which each side may compress (xmppdump inflates them before reading) — RFC 7395 §3.1, RFC 7692 §5, §6.".into()
        }
        EventKind::WebsocketAccept { status: 101, .. } => {
            "The server agrees: from now on both sides send WebSocket frames, one XML element per message — RFC 7395 §3.1, §3.3.3.".into()
        }
        EventKind::WebsocketAccept { .. } => {
            "The server refuses the upgrade; no XMPP follows — RFC 6455 §4.2.2.".into()
        }
        EventKind::WebsocketClose { .. } => {
            "The WebSocket closing handshake, after the XMPP stream's <close/> — RFC 7395 §3.6, RFC 6455 §5.5.1.".into()
        }
        EventKind::StartTls => {
            "The client asks to upgrade the connection to TLS — RFC 6120 §5.4.2.1.".into()
        }
        EventKind::TlsProceed => {
            "The server agrees; the TLS handshake starts with the next byte — RFC 6120 §5.4.2.3.".into()
        }
        EventKind::Compress { .. } => {
            "The client asks to compress the stream with this method — XEP-0138 §5.".into()
        }
        EventKind::Compressed => {
            "The server agrees: from the next byte both directions are compressed, and the client opens a new stream — XEP-0138 §6.".into()
        }
        EventKind::CompressFailure { .. } => {
            "The server refuses compression (the condition says why); the stream goes on uncompressed — XEP-0138 §5.".into()
        }
        EventKind::TlsFailure => {
            "The server refuses TLS and will close the stream — RFC 6120 §5.4.2.2.".into()
        }
        EventKind::TlsClientHello { .. } => {
            "TLS handshake: the client offers versions, cipher suites and the server name — RFC 8446 §4.1.2.".into()
        }
        EventKind::TlsServerHello {
            hello_retry: true, ..
        } => "The server asks the client to retry with another key share — RFC 8446 §4.1.4.".into(),
        EventKind::TlsServerHello { .. } => {
            "The server picks the TLS version and cipher suite — RFC 8446 §4.1.3.".into()
        }
        EventKind::TlsEncryptedExtensions { .. } => {
            "Encrypted extensions, such as the agreed ALPN protocol — RFC 8446 §4.3.1.".into()
        }
        EventKind::TlsCertificate { .. } => {
            "The certificate chain that proves the sender's domain — RFC 6120 §13.7.".into()
        }
        EventKind::TlsFinished => {
            "This side's handshake is complete; application data follows — RFC 8446 §4.4.4.".into()
        }
        EventKind::TlsAlert { description, .. } if description == "close_notify" => {
            "TLS is closed cleanly — RFC 8446 §6.1.".into()
        }
        EventKind::TlsAlert { .. } => "A TLS alert — RFC 8446 §6.".into(),
        EventKind::SaslAuth {
            mechanism,
            sasl2: true,
            ..
        } => format!(
            "SASL2: the client picks mechanism {mechanism} and sends its first message, its software and what to set up once authenticated — XEP-0388 §2.3."
        ),
        EventKind::SaslAuth { mechanism, .. } => format!(
            "The client picks SASL mechanism {mechanism} and sends its first message — RFC 6120 §6.4.2."
        ),
        EventKind::SaslChallenge { sasl2: true, .. } => {
            "The server sends a SASL2 challenge — XEP-0388 §2.4.".into()
        }
        EventKind::SaslChallenge { .. } => {
            "The server sends a SASL challenge — RFC 6120 §6.4.3.".into()
        }
        EventKind::SaslResponse { sasl2: true, .. } => {
            "The client answers the SASL2 challenge — XEP-0388 §2.4.".into()
        }
        EventKind::SaslResponse { .. } => {
            "The client answers the challenge — RFC 6120 §6.4.3.".into()
        }
        EventKind::SaslSuccess {
            sasl2: true,
            bound: true,
            ..
        } => "SASL2 success with a resource bound at once (Bind 2): no stream restart, stanzas may follow — XEP-0388 §2.6.1, XEP-0386.".into(),
        EventKind::SaslSuccess { sasl2: true, .. } => {
            "SASL2 success: the stream goes on without a restart — XEP-0388 §2.6.1.".into()
        }
        EventKind::SaslSuccess { .. } => {
            "Authentication succeeded; the client must restart the stream — RFC 6120 §6.4.6.".into()
        }
        EventKind::SaslFailure { sasl2: true, .. } => {
            "SASL2 authentication failed — XEP-0388 §2.6.2.".into()
        }
        EventKind::SaslFailure { .. } => "Authentication failed — RFC 6120 §6.5.".into(),
        EventKind::SaslAbort => "The client gives up authenticating — RFC 6120 §6.4.4.".into(),
        EventKind::Dialback { verify: false, .. } => {
            "Server dialback: the sending server claims its domain with a key — XEP-0220 §2.1.".into()
        }
        EventKind::Dialback { verify: true, .. } => {
            "Server dialback: the key is checked with the authoritative server — XEP-0220 §2.3.".into()
        }
        EventKind::ComponentHandshake { digest_len: 0 } => {
            "The server accepts the component — XEP-0114 §3.".into()
        }
        EventKind::ComponentHandshake { .. } => {
            "The component proves it knows the shared secret — XEP-0114 §3.".into()
        }
        EventKind::Message(s) => message(s) + &extensions(s),
        EventKind::Presence(s) => presence(s, from_client) + &extensions(s),
        EventKind::Iq(s) => iq(s) + &extensions(s),
        EventKind::StreamError { .. } => {
            "A stream error: the stream is closed after it — RFC 6120 §4.9.".into()
        }
        EventKind::StreamClose => "This side closes its stream — RFC 6120 §4.4.".into(),
        EventKind::Sm { action, .. } => sm(action).into(),
        EventKind::Element { .. } => {
            "An element outside the core protocol (an extension) — RFC 6120 §8.4.".into()
        }
        _ => return None,
    })
}

/// Stream management (XEP-0198).
fn sm(action: &str) -> &'static str {
    match action {
        "enable" => "The client turns on stream management: both sides will count the stanzas they handle — XEP-0198 §3.",
        "enabled" => "Stream management is on; with an id the session can be resumed after a disconnection — XEP-0198 §3.",
        "r" => "A request for an acknowledgement: how many stanzas has the other side handled? — XEP-0198 §4.",
        "a" => "An acknowledgement: h stanzas handled so far; the sender may forget those it kept for resending — XEP-0198 §4.",
        "resume" => "The client resumes an earlier session instead of binding a new resource — XEP-0198 §5.",
        "resumed" => "The session is resumed; stanzas the other side missed are sent again — XEP-0198 §5.",
        _ => "Stream management failed: the session cannot be enabled or resumed — XEP-0198 §3, §5.",
    }
}

/// The specifications of the namespaces a stanza carries (its children's and those
/// below), from the XSF's registry (`data/xep-namespaces.tsv`): ` Namespaces:
/// XEP-0115 Entity Capabilities; …`. Empty when it carries none.
fn extensions(s: &Stanza) -> String {
    let mut named: Vec<String> = Vec::new();
    let nested = s
        .detail
        .iter()
        .flat_map(|d| d.nested.iter().map(String::as_str));
    for namespace in s.extensions().chain(nested) {
        let text = match crate::census::namespaces::lookup(namespace) {
            Some(spec) => format!("{} {} ({namespace})", spec.name(), spec.title),
            None => format!("{namespace} (not in the XEP registry)"),
        };
        if !named.contains(&text) {
            named.push(text);
        }
    }
    if named.is_empty() {
        String::new()
    } else {
        format!(" Namespaces: {}.", named.join("; "))
    }
}

fn message(s: &Stanza) -> String {
    match s.r#type() {
        Some("chat") => "A one-to-one chat message — RFC 6121 §5.2.2.".into(),
        Some("groupchat") => "A message to or from a chat room — XEP-0045 §7.4.".into(),
        Some("headline") => "A headline (an alert, not a conversation) — RFC 6121 §5.2.2.".into(),
        Some("error") => "An error returned for a message — RFC 6120 §8.3.".into(),
        _ => "A normal message, like an email — RFC 6121 §5.2.2.".into(),
    }
}

fn presence(s: &Stanza, from_client: bool) -> String {
    match s.r#type() {
        None if s.to().is_none() && from_client => {
            "The client announces it is available; the server broadcasts this to its contacts — RFC 6121 §4.2.".into()
        }
        None => "Presence: the sender is available — RFC 6121 §4.2.".into(),
        Some("unavailable") => "The sender goes offline — RFC 6121 §4.5.".into(),
        Some("subscribe") => "A request to see the recipient's presence — RFC 6121 §3.1.".into(),
        Some("subscribed") => "The subscription request is approved — RFC 6121 §3.1.5.".into(),
        Some("unsubscribe" | "unsubscribed") => {
            "A presence subscription is ended — RFC 6121 §3.3.".into()
        }
        Some("probe") => "The server asks for a contact's current presence — RFC 6121 §4.3.".into(),
        Some("error") => "An error returned for a presence — RFC 6120 §8.3.".into(),
        Some(_) => "Presence of an unknown type — RFC 6121 §4.7.1.".into(),
    }
}

fn iq(s: &Stanza) -> String {
    let payload = s.payload();
    match (s.r#type(), payload) {
        (Some("set"), Some(ns::BIND)) => {
            "The client asks to bind a resource to its connection — RFC 6120 §7.6.".into()
        }
        (Some("result"), _) if s.bound_jid().is_some() => {
            "The server returns the client's full JID — RFC 6120 §7.6.1.".into()
        }
        (Some("set"), Some(ns::SESSION)) => {
            "Legacy session establishment, kept for old servers — RFC 3921 §3.".into()
        }
        (Some("get"), Some("jabber:iq:roster")) => {
            "The client fetches its roster — RFC 6121 §2.2.".into()
        }
        (Some("result"), Some("jabber:iq:roster")) => {
            "The server sends the roster: the user's contacts — RFC 6121 §2.1.4.".into()
        }
        (Some("set"), Some("jabber:iq:roster")) => {
            "A roster change (push or update) — RFC 6121 §2.1.6.".into()
        }
        (Some("get"), Some("urn:xmpp:ping")) => "A ping to check the connection — XEP-0199.".into(),
        (Some("get"), Some("http://jabber.org/protocol/disco#info")) => {
            "Service discovery: what does the entity support? — XEP-0030 §3.".into()
        }
        (Some("get"), _) => {
            "A request for information; one result or error must answer it — RFC 6120 §8.2.3."
                .into()
        }
        (Some("set"), _) => {
            "A request to change something; one result or error must answer it — RFC 6120 §8.2.3."
                .into()
        }
        (Some("result"), _) => "The answer to the iq with the same id — RFC 6120 §8.2.3.".into(),
        (Some("error"), _) => "The iq with the same id failed — RFC 6120 §8.3.".into(),
        _ => "An iq without a valid type — RFC 6120 §8.2.3.".into(),
    }
}
