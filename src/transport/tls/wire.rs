//! TLS wire structures read without keys: record headers, handshake message headers,
//! ClientHello, ServerHello, EncryptedExtensions, Certificate and Alert bodies.
//!
//! Input: byte slices; output: plain values. Every read is bounds-checked through
//! [`Cursor`]; a short or inconsistent message yields `None`, never a panic.

use crate::status::Status;

/// Record content types (RFC 8446 §5.1, RFC 5246 §6.2.1).
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
pub const HEARTBEAT: u8 = 24;

/// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
pub const NEW_SESSION_TICKET: u8 = 4;
pub const ENCRYPTED_EXTENSIONS: u8 = 8;
pub const CERTIFICATE: u8 = 11;
pub const FINISHED: u8 = 20;
pub const KEY_UPDATE: u8 = 24;

/// Extension types (RFC 6066 §3, RFC 7301 §3.1, RFC 8446 §4.2).
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_SESSION_TICKET: u16 = 35;
const EXT_PRE_SHARED_KEY: u16 = 41;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// TLS 1.3 on the wire (RFC 8446 §4.2.1).
pub const TLS13: u16 = 0x0304;

/// Bounds-checked reader over TLS's length-prefixed vectors (RFC 8446 §3.4).
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let head = self.buf.get(..n)?;
        self.buf = self.buf.get(n..)?;
        Some(head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    pub fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    pub fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(
            usize::from(*b.first()?) << 16 | usize::from(*b.get(1)?) << 8 | usize::from(*b.get(2)?),
        )
    }

    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub fn vec8(&mut self) -> Option<Cursor<'a>> {
        let n = usize::from(self.u8()?);
        self.take(n).map(Cursor::new)
    }

    pub fn vec16(&mut self) -> Option<Cursor<'a>> {
        let n = usize::from(self.u16()?);
        self.take(n).map(Cursor::new)
    }

    pub fn vec24(&mut self) -> Option<Cursor<'a>> {
        let n = self.u24()?;
        self.take(n).map(Cursor::new)
    }

    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }
}

/// What a ClientHello tells (RFC 8446 §4.1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// From supported_versions; empty means only `legacy_version`.
    pub versions: Vec<u16>,
    pub legacy_version: u16,
    /// A pre-shared key or a non-empty session ticket offers resumption.
    pub offers_resumption: bool,
}

/// What a ServerHello tells (RFC 8446 §4.1.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suite: u16,
    /// The negotiated version: supported_versions if present, else legacy_version.
    pub version: u16,
    pub alpn: Option<String>,
    /// TLS 1.3: the server accepted a pre-shared key.
    pub psk_accepted: bool,
    pub hello_retry: bool,
}

/// A handshake message's header (RFC 8446 §4): its type and body length, the header
/// taking [`HANDSHAKE_HEADER`] bytes; [`Status::Partial`] while fewer are at hand.
pub fn handshake_header(buf: &[u8]) -> Status<(u8, usize)> {
    let mut c = Cursor::new(buf);
    match (c.u8(), c.u24()) {
        (Some(msg_type), Some(len)) => Status::Complete((msg_type, len)),
        _ => Status::Partial,
    }
}

/// Bytes of a handshake message's header: type (1) and length (3).
pub const HANDSHAKE_HEADER: usize = 4;

pub fn client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut c = Cursor::new(body);
    let mut hello = ClientHello {
        legacy_version: c.u16()?,
        random: c.array()?,
        session_id: c.vec8()?.rest().to_vec(),
        ..ClientHello::default()
    };
    let mut suites = c.vec16()?;
    while let Some(s) = suites.u16() {
        hello.cipher_suites.push(s);
    }
    c.vec8()?; // compression methods
    let mut exts = if c.is_empty() {
        Cursor::new(&[])
    } else {
        c.vec16()?
    };
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let mut data = exts.vec16()?;
        match kind {
            EXT_SERVER_NAME => {
                let mut list = data.vec16()?;
                while !list.is_empty() {
                    let name_type = list.u8()?;
                    let name = list.vec16()?;
                    if name_type == 0 && hello.sni.is_none() {
                        hello.sni = Some(String::from_utf8_lossy(name.rest()).into_owned());
                    }
                }
            }
            EXT_ALPN => hello.alpn = protocol_names(&mut data)?,
            EXT_SUPPORTED_VERSIONS => {
                let mut list = data.vec8()?;
                while let Some(v) = list.u16() {
                    hello.versions.push(v);
                }
            }
            EXT_PRE_SHARED_KEY => hello.offers_resumption = true,
            EXT_SESSION_TICKET if !data.is_empty() => hello.offers_resumption = true,
            _ => {}
        }
    }
    Some(hello)
}

pub fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut c = Cursor::new(body);
    let legacy_version = c.u16()?;
    let random: [u8; 32] = c.array()?;
    let mut hello = ServerHello {
        hello_retry: random == HELLO_RETRY_RANDOM,
        random,
        session_id: c.vec8()?.rest().to_vec(),
        cipher_suite: c.u16()?,
        version: legacy_version,
        ..ServerHello::default()
    };
    c.u8()?; // compression method
    if c.is_empty() {
        return Some(hello); // TLS 1.2 and below may omit extensions
    }
    let mut exts = c.vec16()?;
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let mut data = exts.vec16()?;
        match kind {
            EXT_SUPPORTED_VERSIONS => hello.version = data.u16()?,
            EXT_ALPN => hello.alpn = protocol_names(&mut data)?.into_iter().next(),
            EXT_PRE_SHARED_KEY => hello.psk_accepted = true,
            _ => {}
        }
    }
    Some(hello)
}

/// EncryptedExtensions (RFC 8446 §4.3.1): the ALPN choice in TLS 1.3.
pub fn encrypted_extensions_alpn(body: &[u8]) -> Option<Option<String>> {
    let mut exts = Cursor::new(body).vec16()?;
    let mut alpn = None;
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let mut data = exts.vec16()?;
        if kind == EXT_ALPN {
            alpn = protocol_names(&mut data)?.into_iter().next();
        }
    }
    Some(alpn)
}

/// ALPN ProtocolNameList (RFC 7301 §3.1).
fn protocol_names(data: &mut Cursor<'_>) -> Option<Vec<String>> {
    let mut list = data.vec16()?;
    let mut names = Vec::new();
    while !list.is_empty() {
        names.push(String::from_utf8_lossy(list.vec8()?.rest()).into_owned());
    }
    Some(names)
}

/// The DER certificates of a Certificate message: RFC 5246 §7.4.2 layout, or with
/// `tls13` the RFC 8446 §4.4.2 layout (request context, per-entry extensions).
pub fn certificates(body: &[u8], tls13: bool) -> Option<Vec<&[u8]>> {
    let mut c = Cursor::new(body);
    if tls13 {
        c.vec8()?;
    }
    let mut list = c.vec24()?;
    let mut certs = Vec::new();
    while !list.is_empty() {
        certs.push(list.vec24()?.rest());
        if tls13 {
            list.vec16()?;
        }
    }
    Some(certs)
}

/// Protocol version name as users know it.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        TLS13 => "TLS 1.3".into(),
        v if v & 0x0f0f == 0x0a0a => "GREASE".into(),
        v => format!("0x{v:04x}"),
    }
}

/// Alert level and description names (RFC 8446 §6).
pub fn alert_names(level: u8, description: u8) -> (String, String) {
    let level = match level {
        1 => "warning".to_string(),
        2 => "fatal".to_string(),
        n => format!("level {n}"),
    };
    let description = match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        n => return (level, format!("alert {n}")),
    };
    (level, description.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_rejects_lengths_past_the_end() {
        let mut c = Cursor::new(&[0, 5, 1, 2]);
        assert!(c.vec16().is_none());
        assert!(certificates(&[0, 0, 9, 0, 0, 1], false).is_none());
        assert_eq!(
            certificates(&[0, 0, 4, 0, 0, 1, 7], false),
            Some(vec![&[7u8][..]])
        );
    }

    #[test]
    fn grease_and_known_versions_are_named() {
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x3a3a), "GREASE");
        assert_eq!(alert_names(1, 0), ("warning".into(), "close_notify".into()));
    }
}
