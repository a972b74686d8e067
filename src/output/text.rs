//! Readable output: one line per event, tcpdump-like.
//!
//! `TIME #FLOW DIR fFRAME what key=value…` — time of day in UTC, flow number,
//! `C>S` (from the initiator) or `S>C`, the frame that completed the event. Values
//! from the wire are escaped so one event is always one line.

use super::color::{self, BOLD, DIM, RESET};
use crate::model::time::push_time_of_day;
use crate::model::{Event, EventKind, Features, FlowId, Stanza};
use crate::sink::{LineFormat, Sink, Summary};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Longest free text (status, subject, error text) shown before eliding.
const MAX_TEXT_CHARS: usize = 60;

pub struct Text<W: Write> {
    out: W,
    /// The line being built, reused so printing does not allocate per event.
    line: String,
    /// ANSI colour ([`color`]): time dim, connection bold, event names by kind.
    color: bool,
}

impl<W: Write> Text<W> {
    pub fn new(out: W) -> Self {
        Text {
            out,
            line: String::with_capacity(256),
            color: false,
        }
    }

    /// The same lines with ANSI colour (`--color`).
    pub fn colored(mut self, on: bool) -> Self {
        self.color = on;
        self
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The line up to the connection number: `TIME #`.
fn push_head(line: &mut String, event: &Event, color: bool) {
    if color {
        line.push_str(DIM);
        push_time_of_day(line, event.time);
        line.push_str(RESET);
        line.push(' ');
        line.push_str(BOLD);
        line.push('#');
    } else {
        push_time_of_day(line, event.time);
        line.push_str(" #");
    }
}

/// The line after the connection number: ` DIR fFRAME what…` and the newline.
fn push_tail(line: &mut String, event: &Event, color: bool) {
    if color {
        line.push_str(RESET);
    }
    line.push(' ');
    line.push_str(event.direction.arrow());
    line.push_str(" f");
    push_number(line, event.frame.0);
    line.push(' ');
    let what = line.len();
    describe(&event.kind, line);
    if color {
        // The event's name (its first word) in its colour.
        let end = line[what..].find(' ').map_or(line.len(), |i| what + i);
        line.insert_str(end, RESET);
        line.insert_str(what, color::of_event(&event.kind));
    }
    if event.decrypted {
        if color {
            line.push_str(DIM);
            line.push_str(" [decrypted]");
            line.push_str(RESET);
        } else {
            line.push_str(" [decrypted]");
        }
    }
    line.push('\n');
}

/// [`Text`]'s lines, formatted on another thread.
struct TextFormat {
    line: String,
    color: bool,
}

impl LineFormat for TextFormat {
    fn format(&mut self, event: &Event, out: &mut Vec<u8>) -> io::Result<(usize, usize)> {
        let line = &mut self.line;
        line.clear();
        push_head(line, event, self.color);
        out.extend_from_slice(line.as_bytes());
        let at = out.len();
        line.clear();
        push_tail(line, event, self.color);
        out.extend_from_slice(line.as_bytes());
        Ok((at, at))
    }
}

impl<W: Write> Sink for Text<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        let line = &mut self.line;
        line.clear();
        push_head(line, event, self.color);
        push_number(line, u64::from(event.flow.0));
        push_tail(line, event, self.color);
        self.out.write_all(line.as_bytes())
    }

    fn line_format(&self) -> Option<Box<dyn LineFormat>> {
        Some(Box::new(TextFormat {
            line: String::with_capacity(256),
            color: self.color,
        }))
    }

    fn write_formatted(&mut self, head: &[u8], flow: FlowId, tail: &[u8]) -> io::Result<()> {
        self.out.write_all(head)?;
        self.out
            .write_all(itoa::Buffer::new().format(flow.0).as_bytes())?;
        self.out.write_all(tail)
    }

    fn summary(&mut self, s: &Summary) -> io::Result<()> {
        writeln!(
            self.out,
            "summary: {} packets ({} undecoded), {} TCP flows, {} XMPP flows, {} streams, {} stanzas ({} message, {} presence, {} iq), {} anomalies",
            s.packets, s.undecoded_packets, s.tcp_flows, s.xmpp_flows, s.streams, s.stanzas, s.messages, s.presences, s.iqs, s.anomalies
        )?;
        if s.evicted_flows > 0 || s.emergencies > 0 {
            writeln!(
                self.out,
                "flow table: {} connections evicted to make room, emergency mode entered {} times",
                s.evicted_flows, s.emergencies
            )?;
        }
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A value from the wire, quoted and escaped when it would break the line.
fn value(s: &str) -> Cow<'_, str> {
    let needs_quotes = s.is_empty()
        || if s.is_ascii() {
            // The same test on bytes: ASCII whitespace and controls are ≤ ' ' or DEL.
            !plain_bytes(s.as_bytes())
        } else {
            s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"')
        };
    // Byte length bounds the character count: only long values are counted.
    let shown: Cow<'_, str> = if s.len() > MAX_TEXT_CHARS && s.chars().count() > MAX_TEXT_CHARS {
        Cow::Owned(format!(
            "{}…",
            s.chars().take(MAX_TEXT_CHARS).collect::<String>()
        ))
    } else {
        Cow::Borrowed(s)
    };
    if needs_quotes {
        Cow::Owned(format!("{:?}", shown.as_ref()))
    } else {
        shown
    }
}

/// Like [`value`], never elided: names a user must see whole (certificate fields).
fn whole(s: &str) -> Cow<'_, str> {
    let needs_quotes = s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"');
    if needs_quotes {
        Cow::Owned(format!("{s:?}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Free text of ours that may quote the wire: control characters escaped.
fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// Appends [`value`]`(s)`, without building it when `s` needs neither quotes nor
/// eliding (nearly every value: names, JIDs, ids).
fn push_value(line: &mut String, s: &str) {
    let plain = !s.is_empty() && s.len() <= MAX_TEXT_CHARS && plain_bytes(s.as_bytes());
    if plain {
        line.push_str(s);
    } else {
        line.push_str(&value(s));
    }
}

/// Appends [`value`] of the items joined by commas, without joining them when the
/// result needs neither quotes nor eliding.
fn push_joined<'a>(line: &mut String, items: impl Iterator<Item = &'a str> + Clone) {
    // The joined length plus one.
    let len = items.clone().map(|i| i.len() + 1).sum::<usize>();
    let plain =
        (2..=MAX_TEXT_CHARS + 1).contains(&len) && items.clone().all(|i| plain_bytes(i.as_bytes()));
    if plain {
        for (n, item) in items.enumerate() {
            if n > 0 {
                line.push(',');
            }
            line.push_str(item);
        }
    } else {
        line.push_str(&value(&items.collect::<Vec<_>>().join(",")));
    }
}

/// True when every byte is printable ASCII other than `"` (0x21..=0x7e): shown as is.
/// Eight bytes at a time with the word tricks of Anderson's "Bit Twiddling Hacks"
/// (each test tells exactly whether some byte of the word matches).
fn plain_bytes(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let (words, tail) = bytes.as_chunks::<8>();
    let words_plain = words.iter().all(|word| {
        let x = u64::from_ne_bytes(*word);
        // A byte below 0x21 (space and controls).
        let low = x.wrapping_sub(ONES * 0x21) & !x & HIGHS;
        // A byte above 0x7e (DEL and non-ASCII): adding 127 − 0x7e = 1 to each byte
        // sets its high bit.
        let high = (x.wrapping_add(ONES) | x) & HIGHS;
        // A `"` byte.
        let q = x ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q & HIGHS;
        low | high | quote == 0
    });
    words_plain && tail.iter().all(|&b| b > b' ' && b != b'"' && b < 0x7f)
}

fn push_number(line: &mut String, n: u64) {
    line.push_str(itoa::Buffer::new().format(n));
}

fn kv(line: &mut String, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        line.push(' ');
        line.push_str(key);
        line.push('=');
        push_value(line, v);
    }
}

/// What happened, as the text printer shows it after the time, flow and frame.
pub fn describe(kind: &EventKind, line: &mut String) {
    match kind {
        EventKind::FlowStart {
            client,
            server,
            detected_by,
            roles_by,
            midstream,
        } => {
            let _ = write!(
                line,
                "flow {client} > {server} (xmpp by {detected_by:?}, roles by {roles_by:?}"
            );
            line.push_str(if *midstream {
                ", joined mid-stream)"
            } else {
                ")"
            });
        }
        EventKind::StreamHeader {
            stream_kind,
            from,
            to,
            id,
            version,
            lang,
            namespace: _,
            dialback,
            restart,
        } => {
            let _ = write!(line, "stream open {}", stream_kind.as_str());
            kv(line, "from", from.as_deref());
            kv(line, "to", to.as_deref());
            kv(line, "id", id.as_deref());
            kv(line, "version", version.as_deref());
            kv(line, "lang", lang.as_deref());
            if *dialback {
                line.push_str(" dialback");
            }
            if *restart {
                line.push_str(" (restart)");
            }
        }
        EventKind::Features(f) => features(f, line),
        EventKind::StartTls => line.push_str("starttls"),
        EventKind::TlsProceed => line.push_str("proceed (TLS starts)"),
        EventKind::TlsFailure => line.push_str("starttls failure"),
        EventKind::Compress { method } => {
            line.push_str("compress");
            kv(line, "method", method.as_deref());
        }
        EventKind::Compressed => line.push_str("compressed (compression starts)"),
        EventKind::CompressFailure { condition } => {
            line.push_str("compress failure");
            kv(line, "condition", condition.as_deref());
        }
        EventKind::TlsClientHello {
            sni,
            alpn,
            versions,
            cipher_suites,
            resumption,
        } => {
            line.push_str("tls client_hello");
            kv(line, "sni", sni.as_deref());
            if !alpn.is_empty() {
                let _ = write!(line, " alpn={}", value(&alpn.join(",")));
            }
            if !versions.is_empty() {
                let _ = write!(line, " versions={}", value(&versions.join(",")));
            }
            let _ = write!(line, " suites={cipher_suites}");
            if *resumption {
                line.push_str(" resumption");
            }
        }
        EventKind::TlsServerHello {
            version,
            cipher_suite,
            alpn,
            resumed,
            hello_retry,
        } => {
            line.push_str(if *hello_retry {
                "tls hello_retry_request"
            } else {
                "tls server_hello"
            });
            let _ = write!(
                line,
                " version={} suite={}",
                value(version),
                value(cipher_suite)
            );
            kv(line, "alpn", alpn.as_deref());
            if *resumed {
                line.push_str(" resumed");
            }
        }
        EventKind::TlsEncryptedExtensions { alpn } => {
            line.push_str("tls encrypted_extensions");
            kv(line, "alpn", alpn.as_deref());
        }
        EventKind::TlsCertificate { certificates } => {
            line.push_str("tls certificate");
            if let Some(leaf) = certificates.first() {
                let _ = write!(line, " subject={}", whole(&leaf.subject));
                if !leaf.issuer.is_empty() {
                    let _ = write!(line, " issuer={}", whole(&leaf.issuer));
                }
                if !leaf.san.is_empty() {
                    let _ = write!(line, " san={}", whole(&leaf.san.join(",")));
                }
                kv(
                    line,
                    "not_after",
                    Some(leaf.not_after.as_str()).filter(|t| !t.is_empty()),
                );
            }
            let _ = write!(line, " chain={}", certificates.len());
        }
        EventKind::TlsFinished => line.push_str("tls finished"),
        EventKind::TlsAlert { level, description } => {
            let _ = write!(line, "tls alert {} {}", value(level), value(description));
        }
        EventKind::SaslAuth {
            mechanism,
            username,
            data_len,
            data,
            sasl2,
        } => {
            let _ = write!(
                line,
                "{} auth mechanism={}",
                sasl_word(*sasl2),
                value(mechanism)
            );
            kv(line, "user", username.as_deref());
            let _ = write!(line, " data={data_len}B");
            kv(line, "payload", data.as_deref());
        }
        EventKind::SaslChallenge {
            data_len, sasl2, ..
        } => {
            let _ = write!(line, "{} challenge data={data_len}B", sasl_word(*sasl2));
        }
        EventKind::SaslResponse {
            data_len,
            data,
            sasl2,
        } => {
            let _ = write!(line, "{} response data={data_len}B", sasl_word(*sasl2));
            kv(line, "payload", data.as_deref());
        }
        EventKind::SaslSuccess {
            sasl2, jid, bound, ..
        } => {
            let _ = write!(line, "{} success", sasl_word(*sasl2));
            kv(line, "jid", jid.as_deref());
            if *bound {
                line.push_str(" bound");
            }
        }
        EventKind::SaslFailure {
            condition,
            text,
            sasl2,
        } => {
            let _ = write!(line, "{} failure", sasl_word(*sasl2));
            kv(line, "condition", condition.as_deref());
            kv(line, "text", text.as_deref());
        }
        EventKind::SaslAbort => line.push_str("sasl abort"),
        EventKind::Dialback {
            verify,
            r#type,
            from,
            to,
            id,
            key_len,
        } => {
            line.push_str(if *verify {
                "dialback verify"
            } else {
                "dialback result"
            });
            kv(line, "type", r#type.as_deref());
            kv(line, "from", from.as_deref());
            kv(line, "to", to.as_deref());
            kv(line, "id", id.as_deref());
            if *key_len > 0 {
                let _ = write!(line, " key={key_len}B");
            }
        }
        EventKind::ComponentHandshake { digest_len } => {
            if *digest_len == 0 {
                line.push_str("component handshake accepted");
            } else {
                let _ = write!(line, "component handshake digest={digest_len}B");
            }
        }
        EventKind::Message(s) => stanza("message", s, line),
        EventKind::Presence(s) => stanza("presence", s, line),
        EventKind::Iq(s) => stanza("iq", s, line),
        EventKind::StreamError { condition, text } => {
            line.push_str("stream error");
            kv(line, "condition", condition.as_deref());
            kv(line, "text", text.as_deref());
        }
        EventKind::StreamClose => line.push_str("stream close"),
        EventKind::WebsocketUpgrade {
            path,
            host,
            protocol,
            extensions,
        } => {
            let _ = write!(line, "websocket upgrade GET {}", value(path));
            kv(line, "host", host.as_deref());
            kv(line, "protocol", protocol.as_deref());
            kv(line, "extensions", extensions.as_deref());
        }
        EventKind::WebsocketAccept {
            status,
            protocol,
            extensions,
            ..
        } => {
            if *status == 101 {
                line.push_str("websocket accepted 101");
            } else {
                let _ = write!(line, "websocket refused {status}");
            }
            kv(line, "protocol", protocol.as_deref());
            kv(line, "extensions", extensions.as_deref());
        }
        EventKind::WebsocketClose { code, reason } => {
            line.push_str("websocket close");
            if let Some(code) = code {
                let _ = write!(line, " code={code}");
            }
            kv(line, "reason", reason.as_deref());
        }
        EventKind::Sm {
            action,
            h,
            id,
            resume,
            max,
            condition,
        } => {
            let _ = write!(line, "sm {}", value(action));
            if let Some(h) = h {
                let _ = write!(line, " h={h}");
            }
            kv(line, "id", id.as_deref());
            if *resume {
                line.push_str(" resume");
            }
            if let Some(max) = max {
                let _ = write!(line, " max={max}s");
            }
            kv(line, "condition", condition.as_deref());
        }
        EventKind::Element { name, namespace } => {
            let _ = write!(line, "element {}", value(name));
            kv(line, "xmlns", namespace.as_deref());
        }
        EventKind::Xml { xml } => {
            let _ = write!(line, "xml {}", value(xml));
        }
        EventKind::Anomaly { anomaly, detail } => {
            let _ = write!(line, "ANOMALY {anomaly}: {}", one_line(detail));
        }
        EventKind::FlowEnd {
            reason,
            to_server,
            to_client,
        } => {
            let _ = write!(line, "flow end ({reason:?})");
            for (arrow, b) in [("C>S", to_server), ("S>C", to_client)] {
                let _ = write!(
                    line,
                    " {arrow} {}B xml={} ws={} tls={}",
                    b.payload, b.xml, b.whitespace, b.tls
                );
                if b.tls_records > 0 {
                    let _ = write!(line, " tls_records={}", b.tls_records);
                }
                if b.decrypted > 0 {
                    let _ = write!(line, " decrypted={}", b.decrypted);
                }
                if b.framing > 0 {
                    let _ = write!(line, " framing={}", b.framing);
                }
                if b.compressed > 0 {
                    // XEP-0138: what the compressed bytes inflated to, and the ratio.
                    let _ = write!(
                        line,
                        " compressed={} inflated={} ({:.1}x)",
                        b.compressed,
                        b.inflated,
                        b.inflated as f64 / b.compressed as f64
                    );
                }
                if b.missing > 0 {
                    let _ = write!(line, " missing={}", b.missing);
                }
                if b.skipped > 0 {
                    let _ = write!(line, " skipped={}", b.skipped);
                }
                if b.unfinished > 0 {
                    let _ = write!(line, " unfinished={}", b.unfinished);
                }
            }
        }
    }
}

/// `sasl` (RFC 6120 §6) or `sasl2` (XEP-0388).
fn sasl_word(sasl2: bool) -> &'static str {
    if sasl2 {
        "sasl2"
    } else {
        "sasl"
    }
}

fn features(f: &Features, line: &mut String) {
    line.push_str("features");
    kv(line, "starttls", f.starttls.as_deref());
    if !f.mechanisms.is_empty() {
        let _ = write!(line, " mechanisms={}", value(&f.mechanisms.join(",")));
    }
    if !f.sasl2.is_empty() {
        let _ = write!(line, " sasl2={}", value(&f.sasl2.join(",")));
    }
    for (on, name) in [
        (f.bind2, "bind2"),
        (f.bind, "bind"),
        (f.session, "session"),
        (f.sm, "sm"),
        (f.dialback, "dialback"),
    ] {
        if on {
            let _ = write!(line, " {name}");
        }
    }
    if !f.compression.is_empty() {
        let _ = write!(line, " compression={}", value(&f.compression.join(",")));
    }
    kv(line, "caps", f.caps.as_deref());
    for other in &f.other {
        let _ = write!(line, " +{}", value(other));
    }
}

fn stanza(name: &str, s: &Stanza, line: &mut String) {
    line.push_str(name);
    let default_type = match name {
        "presence" => "available",
        "message" => "normal",
        _ => "",
    };
    let kind = s.r#type().unwrap_or(default_type);
    if !kind.is_empty() {
        line.push(' ');
        push_value(line, kind);
    }
    kv(line, "id", s.id());
    kv(line, "from", s.from());
    kv(line, "to", s.to());
    if let Some(payload) = s.payload() {
        line.push_str(" payload=");
        push_value(line, payload);
        if let Some(name) = s.payload_name() {
            line.push(':');
            push_value(line, name);
        }
    }
    kv(line, "resource", s.bind_resource());
    kv(line, "jid", s.bound_jid());
    kv(line, "show", s.show());
    if let Some(p) = s.priority {
        line.push_str(" priority=");
        line.push_str(itoa::Buffer::new().format(p));
    }
    kv(line, "status", s.status());
    if let Some(len) = s.body_len {
        line.push_str(" body=");
        push_number(line, len as u64);
        line.push('B');
    }
    kv(line, "subject", s.subject());
    kv(line, "thread", s.thread());
    kv(line, "error", s.error());
    kv(line, "via", s.wrapper());
    if s.has_extensions() {
        line.push_str(" ext=");
        push_joined(line, s.extensions());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time test equals the byte-at-a-time one, at every alignment.
    #[test]
    fn plain_bytes_equals_the_byte_test() {
        let byte_test = |s: &[u8]| s.iter().all(|&b| b > b' ' && b != b'"' && b < 0x7f);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let interesting = [
            0x00, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x7e, 0x7f, 0x80, 0xff, b'a',
        ];
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| b'a' + (next() % 26) as u8).collect();
            if len > 0 && next() % 4 != 0 {
                let at = (next() % len as u64) as usize;
                bytes[at] = interesting[(next() % interesting.len() as u64) as usize];
            }
            assert_eq!(plain_bytes(&bytes), byte_test(&bytes), "{bytes:02x?}");
        }
        for b in 0..=255u8 {
            for at in 0..16 {
                let mut bytes = vec![b'x'; 16];
                bytes[at] = b;
                assert_eq!(plain_bytes(&bytes), byte_test(&bytes), "{b:#x} at {at}");
            }
        }
    }

    fn samples() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            "a",
            "juliet@example.com/balcony",
            "with space",
            "quote\"d",
            "tab\there",
            "del\u{7f}",
            "ünïcödé",
            "line\nbreak",
            "urn:xmpp:ping",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for n in [59, 60, 61, 200] {
            v.push("x".repeat(n));
            v.push("é".repeat(n));
        }
        v
    }

    #[test]
    fn fast_value_writers_match_value() {
        for s in samples() {
            let mut line = String::new();
            push_value(&mut line, &s);
            assert_eq!(line, value(&s), "{s:?}");
        }
        let all = samples();
        for a in &all {
            for b in &all {
                for items in [vec![], vec![a.clone()], vec![a.clone(), b.clone()]] {
                    let mut line = String::new();
                    push_joined(&mut line, items.iter().map(String::as_str));
                    assert_eq!(line, value(&items.join(",")), "{items:?}");
                }
            }
        }
    }
}
