//! One TLS connection: record framing per direction, the handshake as far as it can
//! be read, and the key schedule that follows it.
//!
//! Input: in-order TCP bytes per direction; output: events and plaintext through an
//! [`Out`] (decrypted application data as [`Out::bytes`]). Cross-direction state lives here: the ClientHello's random and the
//! ServerHello's choices decide how both directions are decrypted.
//!
//! - TLS 1.2 (RFC 5246 §7.1): a direction is encrypted from the record after its
//!   ChangeCipherSpec, with keys from the `CLIENT_RANDOM` master secret.
//! - TLS 1.3 (RFC 8446 §2, §7.3): both directions are encrypted from the record after
//!   the ServerHello with handshake traffic secrets, then with application traffic
//!   secrets after each side's Finished; KeyUpdate moves to the next secret.

use super::crypto::{suite, suite_name, Decrypter, OpenError, Suite};
use super::keylog::{KeyStore, Secret};
use super::{cert, wire};
use crate::limits::Limits;
use crate::model::At;
use crate::model::{Anomaly, Direction, DirectionBytes, EventKind, Position, StreamOffset};
use crate::status::Status;
use crate::transport::layer::{anomaly, flow_position, Layer, Out, Through};
use std::sync::Arc;

/// Which keys protect a direction's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Epoch {
    Tls12,
    Handshake13,
    Application13,
}

#[derive(Debug)]
enum Protection {
    Clear,
    /// Encrypted; keys are derived at the first record that needs them.
    Pending(Epoch),
    Keys(Box<Decrypter>, Epoch),
    /// Encrypted with keys we do not have.
    Opaque,
}

/// Per-direction record and handshake state.
#[derive(Debug)]
struct Half {
    /// Bytes of the unfinished record.
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    buf_offset: u64,
    /// Bytes of unfinished handshake messages.
    handshake: Vec<u8>,
    protection: Protection,
    /// Framing lost (gap, not TLS, oversized record): bytes are only counted.
    dead: bool,
    /// Handshake messages are no longer parsed (one exceeded its limit).
    handshake_dead: bool,
    started: bool,
    records: u64,
    plaintext: u64,
    saw_certificate: bool,
}

impl Half {
    fn new() -> Half {
        Half {
            buf: Vec::new(),
            buf_offset: 0,
            handshake: Vec::new(),
            protection: Protection::Clear,
            dead: false,
            handshake_dead: false,
            started: false,
            records: 0,
            plaintext: 0,
            saw_certificate: false,
        }
    }
}

/// What the hellos settled.
#[derive(Debug, Clone, Copy)]
struct Negotiated {
    version: u16,
    suite_id: u16,
    suite: Option<Suite>,
}

/// Counters of one direction, for the flow's end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HalfCounts {
    pub records: u64,
    pub plaintext: u64,
}

/// Both directions of one TLS connection.
#[derive(Debug)]
pub struct Connection {
    halves: [Half; 2],
    keys: Option<Arc<KeyStore>>,
    client_random: Option<[u8; 32]>,
    client_session_id: Vec<u8>,
    server_random: Option<[u8; 32]>,
    negotiated: Option<Negotiated>,
    /// A missing key or unsupported suite is reported once per connection.
    key_problem_reported: bool,
    scratch: Vec<u8>,
}

/// Where the record being handled sits.
#[derive(Debug, Clone, Copy)]
struct RecordAt {
    dir: Direction,
    pos: Position,
    at: At,
}

impl Layer for Connection {
    fn feed(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Out,
    ) {
        self.read(dir, offset, bytes, at, limits, out);
    }

    /// Record boundaries and sequence numbers are gone: the direction is only
    /// counted from here.
    fn gap(&mut self, dir: Direction, _: u64, _: &mut dyn Out) {
        self.lose(dir);
    }

    fn let_go(&mut self, dir: Direction, at: At, out: &mut dyn Out) {
        let detail = match self.drop_held(dir) {
            (0, 0) => return,
            (0, n) => format!("{n} bytes of an unfinished TLS handshake message dropped (buffer budget for all connections spent); handshake not parsed further in this direction"),
            (n, _) => format!("{n} bytes of an unfinished TLS record dropped (buffer budget for all connections spent); TLS of this direction is only counted from here"),
        };
        out.event(
            dir,
            flow_position(at),
            anomaly(Anomaly::BufferLimit, detail),
        );
    }

    fn held_bytes(&self) -> usize {
        self.held()
    }

    fn resident_bytes(&self) -> usize {
        std::mem::size_of::<Connection>()
    }

    /// The bytes taken as TLS, records and plaintext; an unfinished record is
    /// unfinished, not TLS carried.
    fn count(&self, dir: Direction, through: Through, b: &mut DirectionBytes) {
        let counts = self.counts(dir);
        b.tls_records = counts.records;
        b.decrypted = counts.plaintext;
        let partial = self.unfinished(dir);
        b.tls += through.input.saturating_sub(partial);
        b.unfinished += partial;
    }

    fn finish(&self, dir: Direction) -> Option<String> {
        let n = self.unfinished(dir);
        (n > 0).then(|| format!("{n} bytes of an unfinished TLS record"))
    }

    fn decrypts(&self) -> bool {
        true
    }
}

impl Connection {
    pub fn new(keys: Option<Arc<KeyStore>>) -> Connection {
        Connection {
            halves: [Half::new(), Half::new()],
            keys,
            client_random: None,
            client_session_id: Vec::new(),
            server_random: None,
            negotiated: None,
            key_problem_reported: false,
            scratch: Vec::new(),
        }
    }

    fn half(&mut self, dir: Direction) -> &mut Half {
        let [a, b] = &mut self.halves;
        match dir {
            Direction::ToServer => a,
            Direction::ToClient => b,
        }
    }

    fn counts(&self, dir: Direction) -> HalfCounts {
        let [a, b] = &self.halves;
        let h = match dir {
            Direction::ToServer => a,
            Direction::ToClient => b,
        };
        HalfCounts {
            records: h.records,
            plaintext: h.plaintext,
        }
    }

    /// Bytes of an unfinished record of `dir` (RFC 8446 §5.1: its header says more
    /// is to come).
    fn unfinished(&self, dir: Direction) -> u64 {
        let [a, b] = &self.halves;
        let h = match dir {
            Direction::ToServer => a,
            Direction::ToClient => b,
        };
        h.buf.len() as u64
    }

    /// Bytes were lost: record boundaries and sequence numbers are gone.
    fn lose(&mut self, dir: Direction) {
        let half = self.half(dir);
        half.dead = true;
        half.buf = Vec::new();
        half.handshake = Vec::new();
    }

    /// Bytes of memory held for records and handshake messages still to come.
    fn held(&self) -> usize {
        let [a, b] = &self.halves;
        self.scratch.capacity()
            + [a, b]
                .iter()
                .map(|h| h.buf.capacity() + h.handshake.capacity())
                .sum::<usize>()
    }

    /// The bytes held for all connections exceeded their budget
    /// (`Limits::max_buffered_bytes`): the buffers of `dir` are freed. An unfinished
    /// record loses that direction its record boundaries (as a gap does), an unfinished
    /// handshake message its handshake parsing. Returns the bytes of record and of
    /// handshake data dropped.
    fn drop_held(&mut self, dir: Direction) -> (usize, usize) {
        let half = self.half(dir);
        let dropped = (half.buf.len(), half.handshake.len());
        if !half.buf.is_empty() {
            half.dead = true;
        }
        if !half.handshake.is_empty() {
            half.handshake_dead = true;
        }
        half.buf = Vec::new();
        half.handshake = Vec::new();
        self.scratch = Vec::new();
        dropped
    }

    /// Takes in-order bytes of one direction starting at TCP stream offset `offset`.
    fn read(
        &mut self,
        dir: Direction,
        offset: u64,
        data: &[u8],
        at: At,
        limits: &Limits,
        rx: &mut dyn Out,
    ) {
        let half = self.half(dir);
        if half.dead {
            return;
        }
        if half.buf.is_empty() {
            half.buf_offset = offset;
        }
        half.buf.extend_from_slice(data);
        let mut used = 0;
        loop {
            let half = self.half(dir);
            let Some(&[content_type, major, minor, len_hi, len_lo]) = half.buf.get(used..used + 5)
            else {
                break;
            };
            let record_offset = half.buf_offset + used as u64;
            let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
            let pos = Position {
                time: at.time,
                frame: at.frame,
                offset: StreamOffset(record_offset),
                size: 5 + len as u64,
                decrypted: false,
            };
            let first = !half.started;
            half.started = true;
            if let Some((anomaly, detail)) = bad_header(content_type, major, first) {
                half.dead = true;
                half.buf = Vec::new();
                let pos = Position { size: 0, ..pos };
                rx.event(dir, pos, EventKind::Anomaly { anomaly, detail });
                return;
            }
            if len > limits.max_tls_record {
                half.dead = true;
                half.buf = Vec::new();
                let detail = format!(
                    "record of {len} bytes exceeds the {}-byte limit (RFC 8446 §5.2); TLS not followed further",
                    limits.max_tls_record
                );
                rx.event(dir, pos, too_large(detail));
                return;
            }
            if half.buf.len() < used + 5 + len {
                break;
            }
            let mut record = std::mem::take(&mut self.scratch);
            record.clear();
            let half = self.half(dir);
            record.extend_from_slice(half.buf.get(used + 5..used + 5 + len).unwrap_or_default());
            used += 5 + len;
            self.half(dir).records += 1;
            let here = RecordAt { dir, pos, at };
            self.record(
                [content_type, major, minor, len_hi, len_lo],
                &mut record,
                here,
                limits,
                rx,
            );
            self.scratch = record;
            if self.half(dir).dead {
                return;
            }
        }
        let half = self.half(dir);
        half.buf.drain(..used.min(half.buf.len()));
        half.buf_offset += used as u64;
    }

    fn record(
        &mut self,
        header: [u8; 5],
        body: &mut [u8],
        here: RecordAt,
        limits: &Limits,
        rx: &mut dyn Out,
    ) {
        let [content_type, ..] = header;
        let tls13 = self.is_tls13();
        if content_type == wire::CHANGE_CIPHER_SPEC {
            // TLS 1.3 keeps ChangeCipherSpec only for middleboxes (RFC 8446 §D.4).
            if !tls13 {
                self.half(here.dir).protection = Protection::Pending(Epoch::Tls12);
            }
            return;
        }
        let encrypted = match self.half(here.dir).protection {
            Protection::Clear => false,
            // In TLS 1.3 only application_data records are protected (§5.2).
            _ => !tls13 || content_type == wire::APPLICATION_DATA,
        };
        if !encrypted {
            self.content(content_type, body, here, limits, rx);
            return;
        }
        self.resolve_keys(here, rx);
        let Protection::Keys(decrypter, _) = &mut self.half(here.dir).protection else {
            return;
        };
        match decrypter.open(header, body) {
            Ok((inner_type, plain)) => {
                let here = RecordAt {
                    pos: Position {
                        decrypted: true,
                        ..here.pos
                    },
                    ..here
                };
                self.content(inner_type, plain, here, limits, rx);
            }
            Err(e) => {
                self.half(here.dir).protection = Protection::Opaque;
                let detail = match e {
                    OpenError::Authentication => {
                        "record failed authentication (wrong key, lost record or altered bytes); direction left opaque"
                    }
                    OpenError::TooShort => "record shorter than its nonce and tag; direction left opaque",
                };
                rx.event(
                    here.dir,
                    here.pos,
                    EventKind::Anomaly {
                        anomaly: Anomaly::TlsDecryptFailed,
                        detail: detail.into(),
                    },
                );
            }
        }
    }

    fn is_tls13(&self) -> bool {
        self.negotiated.is_some_and(|n| n.version == wire::TLS13)
    }

    /// A record's content, clear or decrypted.
    fn content(
        &mut self,
        content_type: u8,
        body: &[u8],
        here: RecordAt,
        limits: &Limits,
        rx: &mut dyn Out,
    ) {
        match content_type {
            wire::HANDSHAKE => self.handshake_bytes(body, here, limits, rx),
            wire::ALERT => {
                if let [level, description, ..] = body {
                    let (level, description) = wire::alert_names(*level, *description);
                    rx.event(
                        here.dir,
                        here.pos,
                        EventKind::TlsAlert { level, description },
                    );
                }
            }
            wire::APPLICATION_DATA if here.pos.decrypted => {
                self.half(here.dir).plaintext += body.len() as u64;
                rx.bytes(here.dir, body, here.at);
            }
            _ => {}
        }
    }

    /// Reassembles handshake messages across records (RFC 8446 §5.1).
    fn handshake_bytes(&mut self, body: &[u8], here: RecordAt, limits: &Limits, rx: &mut dyn Out) {
        let half = self.half(here.dir);
        if half.handshake_dead {
            return;
        }
        half.handshake.extend_from_slice(body);
        let mut buf = std::mem::take(&mut half.handshake);
        let mut used = 0;
        while let Status::Complete((msg_type, len)) =
            wire::handshake_header(buf.get(used..).unwrap_or_default())
        {
            if len > limits.max_tls_handshake {
                let half = self.half(here.dir);
                half.handshake_dead = true;
                buf.clear();
                used = 0;
                let detail = format!(
                    "handshake message of {len} bytes exceeds the {}-byte limit; handshake not parsed further",
                    limits.max_tls_handshake
                );
                rx.event(here.dir, here.pos, malformed(detail));
                break;
            }
            let start = used + wire::HANDSHAKE_HEADER;
            let Some(msg) = buf.get(start..start + len) else {
                break;
            };
            self.handshake_message(msg_type, msg, here, rx);
            used = start + len;
        }
        buf.drain(..used.min(buf.len()));
        let half = self.half(here.dir);
        if !half.handshake_dead {
            half.handshake = buf;
        }
    }

    fn handshake_message(&mut self, msg_type: u8, msg: &[u8], here: RecordAt, rx: &mut dyn Out) {
        let dir = here.dir;
        let bad = |what: &str| malformed(format!("{what} could not be parsed"));
        match (msg_type, dir) {
            (wire::CLIENT_HELLO, Direction::ToServer) => match wire::client_hello(msg) {
                Some(hello) => {
                    self.client_random = Some(hello.random);
                    self.client_session_id = hello.session_id.clone();
                    let versions = hello
                        .versions
                        .iter()
                        .map(|v| wire::version_name(*v))
                        .filter(|v| v != "GREASE")
                        .collect();
                    let kind = EventKind::TlsClientHello {
                        sni: hello.sni,
                        alpn: hello.alpn,
                        versions,
                        cipher_suites: hello.cipher_suites.len(),
                        // A TLS 1.3 client sends a random legacy session ID (RFC 8446 §D.4):
                        // only a TLS 1.2-only client's session ID asks for resumption.
                        resumption: hello.offers_resumption
                            || (!hello.session_id.is_empty()
                                && !hello.versions.contains(&wire::TLS13)),
                    };
                    rx.event(dir, here.pos, kind);
                }
                None => rx.event(dir, here.pos, bad("ClientHello")),
            },
            (wire::SERVER_HELLO, Direction::ToClient) => match wire::server_hello(msg) {
                Some(hello) => self.server_hello(hello, here, rx),
                None => rx.event(dir, here.pos, bad("ServerHello")),
            },
            (wire::ENCRYPTED_EXTENSIONS, _) => match wire::encrypted_extensions_alpn(msg) {
                Some(alpn) => rx.event(dir, here.pos, EventKind::TlsEncryptedExtensions { alpn }),
                None => rx.event(dir, here.pos, bad("EncryptedExtensions")),
            },
            (wire::CERTIFICATE, _) => {
                self.half(dir).saw_certificate = true;
                match wire::certificates(msg, self.is_tls13()) {
                    Some(ders) => {
                        let certificates = ders.into_iter().map(cert::describe).collect();
                        rx.event(dir, here.pos, EventKind::TlsCertificate { certificates });
                    }
                    None => rx.event(dir, here.pos, bad("Certificate")),
                }
            }
            (wire::FINISHED, _) => {
                rx.event(dir, here.pos, EventKind::TlsFinished);
                if self.is_tls13() {
                    self.half(dir).protection = Protection::Pending(Epoch::Application13);
                }
            }
            (wire::KEY_UPDATE, _) if self.is_tls13() => {
                let half = self.half(dir);
                if let Protection::Keys(decrypter, epoch) = &half.protection {
                    half.protection = match decrypter.updated() {
                        Some(next) => Protection::Keys(Box::new(next), *epoch),
                        None => Protection::Opaque,
                    };
                }
            }
            _ => {} // NewSessionTicket, key exchange, CertificateVerify: nothing to show
        }
    }

    fn server_hello(&mut self, hello: wire::ServerHello, here: RecordAt, rx: &mut dyn Out) {
        let tls13 = hello.version == wire::TLS13;
        let resumed = if tls13 {
            hello.psk_accepted
        } else {
            !hello.session_id.is_empty() && hello.session_id == self.client_session_id
        };
        let kind = EventKind::TlsServerHello {
            version: wire::version_name(hello.version),
            cipher_suite: suite_name(hello.cipher_suite),
            alpn: hello.alpn.clone(),
            resumed,
            hello_retry: hello.hello_retry,
        };
        rx.event(here.dir, here.pos, kind);
        // A HelloRetryRequest already fixes TLS 1.3 (so ChangeCipherSpec is ignored);
        // a second ClientHello and the real ServerHello follow (RFC 8446 §4.1.4).
        self.negotiated = Some(Negotiated {
            version: hello.version,
            suite_id: hello.cipher_suite,
            suite: suite(hello.cipher_suite),
        });
        if hello.hello_retry {
            return;
        }
        self.server_random = Some(hello.random);
        if tls13 {
            for half in &mut self.halves {
                half.protection = Protection::Pending(Epoch::Handshake13);
            }
        }
    }

    /// Turns a pending epoch into keys, or into opaque with one anomaly.
    fn resolve_keys(&mut self, here: RecordAt, rx: &mut dyn Out) {
        let Protection::Pending(epoch) = self.half(here.dir).protection else {
            return;
        };
        let outcome = self.derive(here.dir, epoch);
        self.half(here.dir).protection = match outcome {
            Ok(d) => Protection::Keys(Box::new(d), epoch),
            Err(None) => Protection::Opaque,
            Err(Some((anomaly, detail))) => {
                if !self.key_problem_reported {
                    self.key_problem_reported = true;
                    rx.event(here.dir, here.pos, EventKind::Anomaly { anomaly, detail });
                }
                Protection::Opaque
            }
        };
    }

    /// Keys for one direction and epoch; `Err(None)` when no key log was given.
    fn derive(&self, dir: Direction, epoch: Epoch) -> Result<Decrypter, Option<(Anomaly, String)>> {
        let keys = self.keys.as_ref().ok_or(None)?;
        let (Some(negotiated), Some(client_random)) = (self.negotiated, self.client_random) else {
            let detail = "encrypted records before a ClientHello and ServerHello were seen".into();
            return Err(Some((Anomaly::TlsNoKey, detail)));
        };
        let Some(suite) = negotiated.suite else {
            let detail = format!(
                "cannot decrypt {} (supported: TLS 1.3 AES-GCM and ChaCha20-Poly1305, TLS 1.2 AEAD suites)",
                suite_name(negotiated.suite_id)
            );
            return Err(Some((Anomaly::TlsUnsupportedSuite, detail)));
        };
        let random_hex: String = client_random.iter().map(|b| format!("{b:02x}")).collect();
        let secrets = keys.lookup(&client_random).unwrap_or_default();
        let client = dir == Direction::ToServer;
        let (label, secret): (&str, Option<&Secret>) = match (epoch, client) {
            (Epoch::Tls12, _) => ("CLIENT_RANDOM", secrets.master.as_ref()),
            (Epoch::Handshake13, true) => (
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                secrets.client_handshake.as_ref(),
            ),
            (Epoch::Handshake13, false) => (
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                secrets.server_handshake.as_ref(),
            ),
            (Epoch::Application13, true) => {
                ("CLIENT_TRAFFIC_SECRET_0", secrets.client_traffic.as_ref())
            }
            (Epoch::Application13, false) => {
                ("SERVER_TRAFFIC_SECRET_0", secrets.server_traffic.as_ref())
            }
        };
        let missing = || {
            Some((
                Anomaly::TlsNoKey,
                format!("the key log has no {label} line for client random {random_hex}"),
            ))
        };
        let secret = secret.ok_or_else(missing)?;
        let decrypter = match epoch {
            Epoch::Tls12 => {
                let server_random = self.server_random.ok_or_else(missing)?;
                Decrypter::tls12(
                    suite,
                    secret.bytes(),
                    &client_random,
                    &server_random,
                    client,
                )
            }
            Epoch::Handshake13 | Epoch::Application13 => Decrypter::tls13(suite, secret.bytes()),
        };
        decrypter.ok_or_else(|| {
            Some((
                Anomaly::TlsNoKey,
                format!(
                    "the {label} secret has the wrong length for {}",
                    suite_name(negotiated.suite_id)
                ),
            ))
        })
    }
}

/// A record header that is not TLS (RFC 8446 §5.1): unknown type or major version.
fn bad_header(content_type: u8, major: u8, first: bool) -> Option<(Anomaly, String)> {
    let known = (wire::CHANGE_CIPHER_SPEC..=wire::HEARTBEAT).contains(&content_type) && major == 3;
    if first && (content_type != wire::HANDSHAKE || major != 3) {
        return Some((
            Anomaly::NotTls,
            format!(
                "expected a TLS handshake record (bytes 16 03), got {content_type:02x} {major:02x}"
            ),
        ));
    }
    (!known).then(|| {
        (
            Anomaly::TlsMalformed,
            format!("record header type {content_type} version major {major} is not TLS; TLS not followed further"),
        )
    })
}

fn malformed(detail: String) -> EventKind {
    EventKind::Anomaly {
        anomaly: Anomaly::TlsMalformed,
        detail,
    }
}

fn too_large(detail: String) -> EventKind {
    EventKind::Anomaly {
        anomaly: Anomaly::TlsRecordTooLarge,
        detail,
    }
}
