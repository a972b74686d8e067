//! The negotiation between a connection's two directions as one pure transition
//! function (after tls-parser's `tls_state_transition`): which event of one
//! direction switches the other, and which comes out of order.
//!
//! Input: the state so far, an event and its direction; output: the next state, the
//! switch the session makes, and the anomaly it reports. Each direction's own switch
//! (to TLS after its `<proceed/>` or `<starttls/>`, to compression after its
//! `<compressed/>`) is its stream's; what crosses directions is here:
//! - RFC 6120 §5.4.3.3: the client's bytes after the server's `<proceed/>` are TLS;
//!   a `<proceed/>` the client did not ask for is flagged (as Zeek's analyzer does).
//! - XEP-0138 §6: the client compresses from its next byte after the server's
//!   `<compressed/>` (it waits for that answer before it does).

use crate::model::{Anomaly, Direction, EventKind};

/// What the negotiation has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// The client sent `<starttls/>`.
    pub starttls_requested: bool,
}

/// A switch of the client's direction, made once the server's bytes at hand are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// The client's next bytes are TLS.
    ClientToTls,
    /// The client's next bytes are compressed (when the server's direction did
    /// switch: a stream compresses only from plain XML, once).
    ClientToCompressed,
}

/// The outcome of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub state: State,
    pub switch: Option<Switch>,
    /// Reported just before the event.
    pub anomaly: Option<Anomaly>,
}

/// The transition on `kind` seen in direction `dir`.
#[rustfmt::skip]
pub fn next(state: State, dir: Direction, kind: &EventKind) -> Transition {
    use Direction::{ToClient, ToServer};
    let stay = Transition { state, switch: None, anomaly: None };
    match (dir, kind) {
        (ToServer, EventKind::StartTls) => Transition { state: State { starttls_requested: true }, ..stay },
        (ToClient, EventKind::TlsProceed) if state.starttls_requested => Transition { switch: Some(Switch::ClientToTls), ..stay },
        (ToClient, EventKind::TlsProceed) => Transition { switch: Some(Switch::ClientToTls), anomaly: Some(Anomaly::UnexpectedProceed), ..stay },
        (ToClient, EventKind::Compressed) => Transition { switch: Some(Switch::ClientToCompressed), ..stay },
        _ => stay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(events: &[(Direction, EventKind)]) -> Vec<Transition> {
        let mut state = State::default();
        events
            .iter()
            .map(|(dir, kind)| {
                let t = next(state, *dir, kind);
                state = t.state;
                t
            })
            .collect()
    }

    #[test]
    fn proceed_after_starttls_switches_the_client() {
        let steps = run(&[
            (Direction::ToServer, EventKind::StartTls),
            (Direction::ToClient, EventKind::TlsProceed),
        ]);
        assert_eq!(steps[0].switch, None);
        assert_eq!(steps[1].switch, Some(Switch::ClientToTls));
        assert_eq!(steps[1].anomaly, None);
    }

    #[test]
    fn proceed_without_starttls_is_flagged_and_still_followed() {
        let steps = run(&[(Direction::ToClient, EventKind::TlsProceed)]);
        assert_eq!(steps[0].switch, Some(Switch::ClientToTls));
        assert_eq!(steps[0].anomaly, Some(Anomaly::UnexpectedProceed));
    }

    #[test]
    fn only_the_server_switches_the_client() {
        // A client's own `<proceed/>` or `<compressed/>` is not an answer.
        let steps = run(&[
            (Direction::ToServer, EventKind::TlsProceed),
            (Direction::ToServer, EventKind::Compressed),
            (Direction::ToClient, EventKind::StartTls),
        ]);
        assert!(steps
            .iter()
            .all(|t| t.switch.is_none() && t.anomaly.is_none()));
        assert!(!steps[2].state.starttls_requested);
    }

    #[test]
    fn compressed_from_the_server_switches_the_client() {
        let steps = run(&[(Direction::ToClient, EventKind::Compressed)]);
        assert_eq!(steps[0].switch, Some(Switch::ClientToCompressed));
    }
}
