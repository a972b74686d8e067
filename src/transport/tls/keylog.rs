//! The NSS key log format that SSLKEYLOGFILE makes browsers, curl, OpenSSL, Python
//! and rustls write: `LABEL <client random, 64 hex digits> <secret in hex>` per line,
//! `#` comments (NSS "Key Log Format" as documented by Mozilla and
//! draft-ietf-tls-keylogfile).
//!
//! Input: the file's bytes; output: secrets by client random. Secrets never reach
//! `Debug` or any printer. A live capture's key log grows while we read, so
//! [`KeyStore`] re-reads the file's new lines when a key is missing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Most secret length accepted (SHA-384 is 48 bytes; the TLS 1.2 master secret 48).
const MAX_SECRET: usize = 64;

/// A secret from the key log; its `Debug` output hides the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// The secrets logged for one client random.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 and below: `CLIENT_RANDOM`.
    pub master: Option<Secret>,
    pub client_handshake: Option<Secret>,
    pub server_handshake: Option<Secret>,
    pub client_traffic: Option<Secret>,
    pub server_traffic: Option<Secret>,
}

/// Parsed key log lines.
#[derive(Debug, Default, Clone)]
pub struct KeyLog {
    entries: HashMap<[u8; 32], Secrets>,
    /// Lines that are neither comments, blank, nor `LABEL HEX HEX`.
    pub malformed: usize,
}

/// A key log file that is not one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: not a key log line (expected LABEL <64 hex digits> <hex secret>)")]
pub struct NotAKeyLog {
    pub line: usize,
}

impl KeyLog {
    /// Parses a whole file. A file none of whose lines is a key log line is an error.
    pub fn parse(text: &[u8]) -> Result<KeyLog, NotAKeyLog> {
        let mut log = KeyLog::default();
        let mut first_bad = None;
        let mut good = 0usize;
        for (n, line) in text.split(|b| *b == b'\n').enumerate() {
            match log.add_line(line) {
                Line::Entry => good += 1,
                Line::Skip => {}
                Line::Malformed => {
                    log.malformed += 1;
                    first_bad.get_or_insert(n + 1);
                }
            }
        }
        match first_bad {
            Some(line) if good == 0 => Err(NotAKeyLog { line }),
            _ => Ok(log),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.entries.get(client_random)
    }

    fn add_line(&mut self, line: &[u8]) -> Line {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Line::Skip;
        }
        let mut fields = text.split_ascii_whitespace();
        let (Some(label), Some(random), Some(secret), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Line::Malformed;
        };
        let (Some(random), Some(secret)) = (unhex(random), unhex(secret)) else {
            return Line::Malformed;
        };
        let Ok(random) = <[u8; 32]>::try_from(random.as_slice()) else {
            return Line::Malformed;
        };
        if secret.is_empty() || secret.len() > MAX_SECRET {
            return Line::Malformed;
        }
        let entry = self.entries.entry(random).or_default();
        let slot = match label {
            "CLIENT_RANDOM" => &mut entry.master,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut entry.client_handshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut entry.server_handshake,
            "CLIENT_TRAFFIC_SECRET_0" => &mut entry.client_traffic,
            "SERVER_TRAFFIC_SECRET_0" => &mut entry.server_traffic,
            // Exporter and early-data secrets are valid lines we do not use.
            _ => return Line::Entry,
        };
        *slot = Some(Secret(secret));
        Line::Entry
    }
}

enum Line {
    Entry,
    Skip,
    Malformed,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 2 * MAX_SECRET {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            let [hi, lo] = pair else { return None };
            Some(u8::try_from(digit(*hi)? << 4 | digit(*lo)?).unwrap_or(0))
        })
        .collect()
}

/// A key log shared by every connection of a run, re-read when it grows.
#[derive(Debug, Default)]
pub struct KeyStore {
    path: Option<PathBuf>,
    state: Mutex<(KeyLog, u64)>,
}

impl KeyStore {
    /// Reads `path`; unreadable or not a key log is an error for the CLI.
    pub fn open(path: &Path) -> Result<KeyStore, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let log = KeyLog::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(KeyStore {
            path: Some(path.to_path_buf()),
            state: Mutex::new((log, bytes.len() as u64)),
        })
    }

    /// Keys given directly (tests, fuzzing); never re-read.
    pub fn from_log(log: KeyLog) -> KeyStore {
        KeyStore {
            path: None,
            state: Mutex::new((log, 0)),
        }
    }

    /// The secrets for a client random, re-reading the file once if it grew.
    pub fn lookup(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        let mut state = self.state.lock().ok()?;
        if let Some(found) = state.0.get(client_random) {
            return Some(found.clone());
        }
        let path = self.path.as_ref()?;
        let size = std::fs::metadata(path).ok()?.len();
        if size == state.1 {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        let log = KeyLog::parse(&bytes).ok()?;
        *state = (log, bytes.len() as u64);
        state.0.get(client_random).cloned()
    }

    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.0.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "0102030405060708091011121314151617181920212223242526272829303132";

    #[test]
    fn parses_labels_comments_and_crlf() {
        let text = format!(
            "# comment\r\n\nCLIENT_RANDOM {RANDOM} {}\r\nSERVER_TRAFFIC_SECRET_0 {RANDOM} {}\nEXPORTER_SECRET {RANDOM} ab\n",
            "aa".repeat(48),
            "bb".repeat(32)
        );
        let log = KeyLog::parse(text.as_bytes()).unwrap();
        let random: [u8; 32] = unhex(RANDOM).unwrap().try_into().unwrap();
        let s = log.get(&random).unwrap();
        assert_eq!(s.master.as_ref().unwrap().bytes(), &[0xaa; 48][..]);
        assert_eq!(s.server_traffic.as_ref().unwrap().bytes(), &[0xbb; 32][..]);
        assert!(s.client_traffic.is_none());
        assert_eq!(log.malformed, 0);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let text = format!("CLIENT_RANDOM {RANDOM} {}\n", "c3".repeat(48));
        let log = KeyLog::parse(text.as_bytes()).unwrap();
        let shown = format!("{log:?}");
        assert!(!shown.contains("c3c3") && !shown.contains("195"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn a_file_without_key_lines_is_rejected_with_its_line() {
        assert_eq!(
            KeyLog::parse(b"# only a comment\nhello world\n").unwrap_err(),
            NotAKeyLog { line: 2 }
        );
        let mixed = format!(
            "junk\nCLIENT_RANDOM {RANDOM} {}\nCLIENT_RANDOM zz zz\n",
            "aa".repeat(48)
        );
        assert_eq!(KeyLog::parse(mixed.as_bytes()).unwrap().malformed, 2);
        assert!(KeyLog::parse(b"").unwrap().is_empty());
    }

    #[test]
    fn wrong_lengths_are_malformed() {
        let short_random = format!("CLIENT_RANDOM {} {}\n", "ab".repeat(31), "aa".repeat(48));
        let odd = format!("CLIENT_RANDOM {RANDOM} abc\n");
        for line in [short_random, odd] {
            assert!(KeyLog::parse(line.as_bytes()).is_err(), "{line}");
        }
    }
}
