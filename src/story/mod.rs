//! The student view: each XMPP connection as a dialogue between named parties, in
//! phases, the way a protocol course lays a session out.
//!
//! Input: events (with the `xml` events a [`Recorder`] asks the pipeline for); output:
//! [`Dialogue`]s, which `transcript` prints as text and `diagram` draws as sequence
//! diagrams. Only what is printed later is kept, within fixed bounds.

pub mod diagram;
pub mod explain;
pub mod pretty;
pub mod transcript;

use crate::jid::Jid;
use crate::model::{
    DetectedBy, Direction, DirectionBytes, EndReason, Event, EventKind, FlowId, FrameNo,
    StreamKind, Timestamp,
};
use crate::session::Transport;
use crate::sink::{Sink, Summary};
use std::collections::BTreeMap;
use std::io;

/// Most entries kept over all dialogues; later ones are counted, not kept.
const MAX_ENTRIES: usize = 100_000;
/// Most element bytes kept over all dialogues.
const MAX_XML_BYTES: usize = 64 << 20;

/// One element (or TLS message, or anomaly) as one side sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub time: Timestamp,
    pub frame: FrameNo,
    pub dir: Direction,
    pub decrypted: bool,
    /// The element as received, when it was XML.
    pub xml: Option<String>,
    /// What the analyzer made of it (usually one event).
    pub kinds: Vec<EventKind>,
}

/// The phase an entry belongs to (RFC 6120 §9 session order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The HTTP upgrade to WebSocket (RFC 7395 §3.1).
    Websocket,
    StreamOpen,
    StartTls,
    Tls {
        decrypted: bool,
        summary: String,
    },
    Sasl {
        mechanism: String,
        outcome: String,
        /// XEP-0388's profile rather than RFC 6120's.
        sasl2: bool,
    },
    Restart,
    Dialback,
    ComponentHandshake,
    Binding,
    /// Enabling or resuming stream management (XEP-0198); acks stay in their phase.
    StreamManagement,
    Stanzas,
    Close,
    Anomaly,
}

impl Phase {
    pub fn title(&self) -> String {
        match self {
            Phase::Websocket => "WebSocket upgrade (RFC 6455 §4, RFC 7395 §3.1)".into(),
            Phase::StreamOpen => "stream open (RFC 6120 §4.7)".into(),
            Phase::StartTls => "STARTTLS (RFC 6120 §5.4)".into(),
            Phase::Tls { decrypted, summary } => {
                let how = if *decrypted {
                    "decrypted with the key log"
                } else {
                    "opaque: no keys"
                };
                if summary.is_empty() {
                    format!("TLS, {how} (RFC 8446)")
                } else {
                    format!("{summary}, {how} (RFC 8446)")
                }
            }
            Phase::Sasl {
                mechanism,
                outcome,
                sasl2: false,
            } => format!("SASL {mechanism}, {outcome} (RFC 6120 §6)"),
            Phase::Sasl {
                mechanism, outcome, ..
            } => format!("SASL2 {mechanism}, {outcome} (XEP-0388)"),
            Phase::Restart => "stream restart (RFC 6120 §4.3.3)".into(),
            Phase::Dialback => "server dialback (XEP-0220)".into(),
            Phase::ComponentHandshake => "component handshake (XEP-0114)".into(),
            Phase::Binding => "resource binding (RFC 6120 §7)".into(),
            Phase::StreamManagement => "stream management (XEP-0198)".into(),
            Phase::Stanzas => "stanzas (RFC 6120 §8, RFC 6121)".into(),
            Phase::Close => "stream close (RFC 6120 §4.4)".into(),
            Phase::Anomaly => "anomaly".into(),
        }
    }

    /// Short name for diagram groups.
    pub fn short(&self) -> String {
        match self {
            Phase::Websocket => "WebSocket upgrade".into(),
            Phase::StreamOpen => "stream open".into(),
            Phase::StartTls => "STARTTLS".into(),
            Phase::Tls { decrypted, .. } => {
                if *decrypted {
                    "TLS handshake".into()
                } else {
                    "TLS (opaque)".into()
                }
            }
            Phase::Sasl {
                mechanism,
                outcome,
                sasl2,
            } => {
                let word = if *sasl2 { "SASL2" } else { "SASL" };
                format!("{word} {mechanism}: {outcome}")
            }
            Phase::Restart => "stream restart".into(),
            Phase::Dialback => "dialback".into(),
            Phase::ComponentHandshake => "component handshake".into(),
            Phase::Binding => "resource binding".into(),
            Phase::StreamManagement => "stream management".into(),
            Phase::Stanzas => "stanzas".into(),
            Phase::Close => "close".into(),
            Phase::Anomaly => "anomaly".into(),
        }
    }
}

/// One connection's dialogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialogue {
    pub flow: FlowId,
    pub client_addr: String,
    pub server_addr: String,
    /// Why the flow is XMPP (its `flow_start`).
    pub detected_by: DetectedBy,
    pub start: Timestamp,
    pub entries: Vec<Entry>,
    /// Entries not kept because of the bounds.
    pub elided: usize,
    pub end: Option<EndReason>,
    /// Byte counters per direction from the flow's end (client to server, back).
    pub bytes: Option<(DirectionBytes, DirectionBytes)>,
}

impl Dialogue {
    /// The stream kind from the first stream header; without one (TLS not decrypted),
    /// from the ALPN protocol a direct TLS client asked for (XEP-0368 §4).
    pub fn stream_kind(&self) -> StreamKind {
        let header = self.kinds().find_map(|(_, k)| match k {
            EventKind::StreamHeader { stream_kind, .. } => Some(*stream_kind),
            _ => None,
        });
        let alpn = || {
            self.kinds().find_map(|(_, k)| match k {
                EventKind::TlsClientHello { alpn, .. } => StreamKind::from_alpn(alpn),
                _ => None,
            })
        };
        header.or_else(alpn).unwrap_or(StreamKind::Unknown)
    }

    /// What carries the XMPP stream: WebSocket or BOSH when the flow was found by
    /// them. Inside TLS (wss://, https://), WebSocket when the flow holds an upgrade,
    /// and BOSH when it has framing bytes without one (only those two carriers count
    /// framing); otherwise the TCP bytes.
    pub fn transport(&self) -> Transport {
        let upgraded = || {
            self.kinds()
                .any(|(_, k)| matches!(k, EventKind::WebsocketUpgrade { .. }))
        };
        let framed = || {
            self.bytes
                .is_some_and(|(up, down)| up.framing + down.framing > 0)
        };
        match self.detected_by {
            DetectedBy::Bosh => Transport::Bosh,
            DetectedBy::Websocket => Transport::Websocket,
            _ if upgraded() => Transport::Websocket,
            _ if framed() => Transport::Bosh,
            _ => Transport::Tcp,
        }
    }

    fn kinds(&self) -> impl Iterator<Item = (&Entry, &EventKind)> {
        self.entries
            .iter()
            .flat_map(|e| e.kinds.iter().map(move |k| (e, k)))
    }

    /// Header attribute `to` or `from` as sent by one side.
    fn header_attr(&self, dir: Direction, to: bool) -> Option<String> {
        self.kinds().find_map(|(e, k)| match k {
            EventKind::StreamHeader { to: t, from: f, .. } if e.dir == dir => {
                if to {
                    t.clone()
                } else {
                    f.clone()
                }
            }
            _ => None,
        })
    }

    /// The server's domain: what the client asked for, or what the server said it is.
    pub fn server_domain(&self) -> Option<String> {
        self.header_attr(Direction::ToServer, true)
            .or_else(|| self.header_attr(Direction::ToClient, false))
    }

    /// The client's address: the bound JID (iq bind, or Bind 2 in SASL2's success),
    /// else `user@domain` from SASL.
    pub fn client_jid(&self) -> Option<String> {
        let bound = self.kinds().find_map(|(_, k)| match k {
            EventKind::Iq(s) => s.bound_jid().map(str::to_owned),
            EventKind::SaslSuccess {
                jid, bound: true, ..
            } => jid.clone(),
            _ => None,
        });
        bound.or_else(|| {
            let user = self.kinds().find_map(|(_, k)| match k {
                EventKind::SaslAuth { username, .. } => username.clone(),
                _ => None,
            })?;
            Some(match self.server_domain() {
                Some(d) if !user.contains('@') => format!("{user}@{d}"),
                _ => user,
            })
        })
    }

    /// Names of the two sides, as the transcript labels them: `C`/`S` for c2s, the two
    /// domains for s2s, the component's name and `server` for components.
    pub fn speakers(&self) -> (String, String) {
        match self.stream_kind() {
            StreamKind::S2s => (
                self.header_attr(Direction::ToServer, false)
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| self.client_addr.clone()),
                self.header_attr(Direction::ToServer, true)
                    .or_else(|| self.header_attr(Direction::ToClient, false))
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| self.server_addr.clone()),
            ),
            StreamKind::Component => (
                self.header_attr(Direction::ToServer, true)
                    .unwrap_or_else(|| "component".into()),
                "server".into(),
            ),
            _ => ("C".into(), "S".into()),
        }
    }

    /// The lifeline names of the two sides for diagrams.
    pub fn parties(&self) -> (String, String) {
        match self.stream_kind() {
            StreamKind::C2s | StreamKind::Unknown => (
                self.client_jid()
                    .unwrap_or_else(|| format!("client {}", self.client_addr)),
                self.server_domain()
                    .unwrap_or_else(|| format!("server {}", self.server_addr)),
            ),
            StreamKind::Component => {
                let (component, _) = self.speakers();
                let server = self
                    .header_attr(Direction::ToClient, false)
                    .filter(|d| *d != component)
                    .unwrap_or_else(|| format!("server {}", self.server_addr));
                (component, server)
            }
            StreamKind::S2s => self.speakers(),
        }
    }

    /// Whether `jid` (bare, or full with a resource) appears in this dialogue.
    pub fn mentions(&self, jid: &str) -> bool {
        let wanted = Jid::parse(jid);
        let matches = |candidate: &str| match (&wanted, Jid::parse(candidate)) {
            (Ok(w), Ok(c)) => {
                if w.is_full() {
                    w.as_str() == c.as_str()
                } else {
                    w.bare() == c.bare()
                }
            }
            _ => candidate == jid,
        };
        if self.client_jid().is_some_and(|c| matches(&c)) {
            return true;
        }
        self.kinds().any(|(_, k)| match k {
            EventKind::Message(s) | EventKind::Presence(s) | EventKind::Iq(s) => {
                [s.from(), s.to(), s.bound_jid()]
                    .into_iter()
                    .flatten()
                    .any(&matches)
            }
            _ => false,
        })
    }

    /// The phase of every entry, with TLS and SASL summaries looked up ahead.
    pub fn phases(&self) -> Vec<Phase> {
        let mut phases: Vec<Phase> = Vec::with_capacity(self.entries.len());
        let mut after_auth = false;
        for (i, entry) in self.entries.iter().enumerate() {
            // The phase an element continues: the last one that is not an anomaly.
            let current = phases.iter().rev().find(|p| **p != Phase::Anomaly).cloned();
            let phase = match entry.kinds.first() {
                Some(EventKind::StreamHeader { restart, .. }) => {
                    if *restart || after_auth {
                        Phase::Restart
                    } else {
                        Phase::StreamOpen
                    }
                }
                Some(EventKind::Features(_)) => current.unwrap_or(Phase::StreamOpen),
                Some(EventKind::StartTls | EventKind::TlsProceed | EventKind::TlsFailure) => {
                    Phase::StartTls
                }
                Some(
                    EventKind::TlsClientHello { .. }
                    | EventKind::TlsServerHello { .. }
                    | EventKind::TlsEncryptedExtensions { .. }
                    | EventKind::TlsCertificate { .. }
                    | EventKind::TlsFinished,
                ) => {
                    // The stream after TLS starts afresh (RFC 6120 §5.4.3.3).
                    after_auth = true;
                    match current.as_ref() {
                        Some(p @ Phase::Tls { .. }) => p.clone(),
                        _ => self.tls_phase(i),
                    }
                }
                Some(EventKind::TlsAlert { .. } | EventKind::WebsocketClose { .. }) => Phase::Close,
                Some(EventKind::WebsocketUpgrade { .. } | EventKind::WebsocketAccept { .. }) => {
                    Phase::Websocket
                }
                Some(
                    EventKind::SaslAuth { .. }
                    | EventKind::SaslChallenge { .. }
                    | EventKind::SaslResponse { .. }
                    | EventKind::SaslSuccess { .. }
                    | EventKind::SaslFailure { .. }
                    | EventKind::SaslAbort,
                ) => {
                    after_auth = true;
                    match current.as_ref() {
                        Some(p @ Phase::Sasl { .. }) => p.clone(),
                        _ => self.sasl_phase(i),
                    }
                }
                Some(EventKind::Dialback { .. }) => Phase::Dialback,
                Some(EventKind::ComponentHandshake { .. }) => Phase::ComponentHandshake,
                Some(EventKind::Iq(s))
                    if s.payload() == Some(crate::xml::ns::BIND) || s.bound_jid().is_some() =>
                {
                    Phase::Binding
                }
                Some(EventKind::Iq(_) | EventKind::Message(_) | EventKind::Presence(_)) => {
                    Phase::Stanzas
                }
                Some(EventKind::Sm { action, .. }) if !matches!(action.as_str(), "r" | "a") => {
                    Phase::StreamManagement
                }
                Some(EventKind::StreamClose | EventKind::StreamError { .. }) => Phase::Close,
                Some(EventKind::Anomaly { .. }) => Phase::Anomaly,
                _ => current.unwrap_or(Phase::Stanzas),
            };
            phases.push(phase);
        }
        phases
    }

    fn tls_phase(&self, from: usize) -> Phase {
        let mut summary = String::new();
        let mut decrypted = false;
        for entry in self.entries.iter().skip(from) {
            decrypted |= entry.decrypted;
            for kind in &entry.kinds {
                if let EventKind::TlsServerHello {
                    version,
                    cipher_suite,
                    hello_retry: false,
                    ..
                } = kind
                {
                    summary = format!("{version} {cipher_suite}");
                }
            }
            if decrypted && !summary.is_empty() {
                break;
            }
        }
        Phase::Tls { decrypted, summary }
    }

    fn sasl_phase(&self, from: usize) -> Phase {
        let mut mechanism = String::from("?");
        let mut outcome = String::from("no outcome seen");
        let mut sasl2 = false;
        for kind in self.entries.iter().skip(from).flat_map(|e| &e.kinds) {
            match kind {
                EventKind::SaslAuth {
                    mechanism: m,
                    sasl2: two,
                    ..
                } => {
                    mechanism = m.clone();
                    sasl2 = *two;
                }
                EventKind::SaslSuccess { .. } => {
                    outcome = "success".into();
                    break;
                }
                EventKind::SaslFailure { condition, .. } => {
                    outcome = format!("failure ({})", condition.as_deref().unwrap_or("?"));
                    break;
                }
                EventKind::SaslAbort => {
                    outcome = "aborted".into();
                    break;
                }
                _ => {}
            }
        }
        Phase::Sasl {
            mechanism,
            outcome,
            sasl2,
        }
    }
}

/// A sink that keeps dialogues for the views, within bounds.
#[derive(Debug, Default)]
pub struct Recorder {
    dialogues: BTreeMap<FlowId, Dialogue>,
    entries: usize,
    xml_bytes: usize,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// The dialogues in flow order.
    pub fn into_dialogues(self) -> Vec<Dialogue> {
        self.dialogues.into_values().collect()
    }

    fn add(&mut self, event: &Event) {
        if let EventKind::FlowStart {
            client,
            server,
            detected_by,
            ..
        } = &event.kind
        {
            self.dialogues.insert(
                event.flow,
                Dialogue {
                    flow: event.flow,
                    client_addr: client.clone(),
                    server_addr: server.clone(),
                    detected_by: *detected_by,
                    start: event.time,
                    entries: Vec::new(),
                    elided: 0,
                    end: None,
                    bytes: None,
                },
            );
            return;
        }
        let Some(dialogue) = self.dialogues.get_mut(&event.flow) else {
            return;
        };
        if let EventKind::FlowEnd {
            reason,
            to_server,
            to_client,
        } = &event.kind
        {
            dialogue.end = Some(*reason);
            dialogue.bytes = Some((*to_server, *to_client));
            return;
        }
        // An element's events follow its `xml` event at the same place; anomalies
        // about it may come between, as entries of their own.
        let open = dialogue
            .entries
            .iter_mut()
            .rev()
            .take_while(|e| {
                e.xml.is_some() || matches!(e.kinds.first(), Some(EventKind::Anomaly { .. }))
            })
            .find(|e| e.xml.is_some());
        if let Some(open) = open {
            let same_place = open.dir == event.direction
                && open.frame == event.frame
                && open.decrypted == event.decrypted
                && !matches!(
                    event.kind,
                    EventKind::Xml { .. } | EventKind::Anomaly { .. }
                );
            if same_place && (open.kinds.is_empty() || is_companion(&event.kind)) {
                open.kinds.push(event.kind.clone());
                return;
            }
        }
        if self.entries >= MAX_ENTRIES {
            dialogue.elided += 1;
            return;
        }
        self.entries += 1;
        let (xml, kinds) = match &event.kind {
            EventKind::Xml { xml } if self.xml_bytes + xml.len() <= MAX_XML_BYTES => {
                self.xml_bytes += xml.len();
                (Some(xml.clone()), Vec::new())
            }
            EventKind::Xml { .. } => (Some(String::new()), Vec::new()),
            kind => (None, vec![kind.clone()]),
        };
        dialogue.entries.push(Entry {
            time: event.time,
            frame: event.frame,
            dir: event.direction,
            decrypted: event.decrypted,
            xml,
            kinds,
        });
    }
}

/// A second event from the same element (a header's features, an anomaly about it).
fn is_companion(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Features(_))
}

impl Sink for Recorder {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.add(event);
        Ok(())
    }

    fn summary(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}
