//! Terminal colour for the readable outputs (the event listing, `show`): ANSI SGR
//! codes, chosen by `--color auto|always|never`; `auto` colours a terminal unless
//! the `NO_COLOR` environment variable is set to anything non-empty (no-color.org).

use crate::model::{EventKind, StanzaBox};

pub const BOLD: &str = "\x1b[1m";
pub const DIM: &str = "\x1b[2m";
pub const RED: &str = "\x1b[31m";
pub const GREEN: &str = "\x1b[32m";
pub const YELLOW: &str = "\x1b[33m";
pub const BLUE: &str = "\x1b[34m";
pub const MAGENTA: &str = "\x1b[35m";
pub const CYAN: &str = "\x1b[36m";
pub const BOLD_RED: &str = "\x1b[1;31m";
pub const RESET: &str = "\x1b[0m";

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum When {
    #[default]
    Auto,
    Always,
    Never,
}

impl When {
    /// Whether to colour output going to a terminal (`is_terminal`) with the given
    /// `NO_COLOR` value.
    pub fn resolve(self, is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
        match self {
            When::Always => true,
            When::Never => false,
            When::Auto => is_terminal && no_color.is_none_or(|v| v.is_empty()),
        }
    }
}

/// `text` in `code`, or as it is when `on` is false.
pub fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("{code}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

/// The colour of an event's name in the listing: stanzas by kind (errors red),
/// security negotiation blue and magenta, failures and anomalies red.
pub fn of_event(kind: &EventKind) -> &'static str {
    let stanza = |s: &StanzaBox, normal: &'static str| {
        if s.r#type() == Some("error") {
            RED
        } else {
            normal
        }
    };
    match kind {
        EventKind::Message(s) => stanza(s, GREEN),
        EventKind::Presence(s) => stanza(s, CYAN),
        EventKind::Iq(s) => stanza(s, YELLOW),
        EventKind::StartTls
        | EventKind::TlsProceed
        | EventKind::TlsClientHello { .. }
        | EventKind::TlsServerHello { .. }
        | EventKind::TlsEncryptedExtensions { .. }
        | EventKind::TlsCertificate { .. }
        | EventKind::TlsFinished => BLUE,
        EventKind::SaslAuth { .. }
        | EventKind::SaslChallenge { .. }
        | EventKind::SaslResponse { .. }
        | EventKind::SaslSuccess { .. }
        | EventKind::Dialback { .. }
        | EventKind::ComponentHandshake { .. } => MAGENTA,
        EventKind::TlsFailure
        | EventKind::TlsAlert { .. }
        | EventKind::SaslFailure { .. }
        | EventKind::SaslAbort
        | EventKind::StreamError { .. } => RED,
        EventKind::Anomaly { .. } => BOLD_RED,
        _ => BOLD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn auto_colours_a_terminal_unless_no_color_is_set() {
        assert!(When::Auto.resolve(true, None));
        assert!(When::Auto.resolve(true, Some(OsStr::new(""))));
        assert!(!When::Auto.resolve(true, Some(OsStr::new("1"))));
        assert!(!When::Auto.resolve(false, None));
        assert!(When::Always.resolve(false, Some(OsStr::new("1"))));
        assert!(!When::Never.resolve(true, None));
    }
}
