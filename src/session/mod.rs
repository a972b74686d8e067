//! XMPP sessions: the two directions of one connection and the feedback between them.
//!
//! Input: reassembled deliveries tagged with their direction; output: events with
//! positions. Feedback crosses directions here and only here: the client's
//! `<starttls/>` and the server's `<proceed/>` switch both directions to TLS
//! (RFC 6120 §5.4.3.3; like Zeek's analyzer, a `<proceed/>` without a request is
//! flagged). Stream restarts (RFC 6120 §4.3.3, §6.4.6) are found by the framer itself.

pub mod classify;
pub mod detect;
pub mod sasl;
pub mod stream;

use crate::limits::Limits;
use crate::model::{Anomaly, Direction, DirectionBytes, EventKind, Position};
pub use stream::{At, Report, Stream};

/// Both directions of one XMPP connection.
#[derive(Debug)]
pub struct Session {
    streams: [Stream; 2],
    /// Content namespace assumed when the stream header was not captured.
    assumed_ns: &'static str,
    starttls_requested: bool,
    show_secrets: bool,
}

impl Session {
    pub fn new(
        limits: &Limits,
        show_secrets: bool,
        direct_tls: bool,
        assumed_ns: &'static str,
    ) -> Session {
        let mut streams = [Stream::new(limits), Stream::new(limits)];
        if direct_tls {
            for s in &mut streams {
                s.start_tls();
            }
        }
        Session {
            streams,
            assumed_ns,
            starttls_requested: false,
            show_secrets,
        }
    }

    fn stream(&mut self, dir: Direction) -> &mut Stream {
        match dir {
            Direction::ToServer => &mut self.streams[0],
            Direction::ToClient => &mut self.streams[1],
        }
    }

    /// The capture started inside this direction of the connection.
    pub fn start_midstream(&mut self, dir: Direction, offset: u64) {
        let ns = self.assumed_ns;
        self.stream(dir).start_midstream(offset, ns);
    }

    pub fn data(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut Vec<(Direction, Report)>,
    ) {
        let mut reports = Vec::new();
        let show = self.show_secrets;
        self.stream(dir)
            .feed(offset, bytes, at, limits, show, &mut reports);
        self.route(dir, reports, out);
    }

    pub fn gap(
        &mut self,
        dir: Direction,
        offset: u64,
        len: u64,
        at: At,
        out: &mut Vec<(Direction, Report)>,
    ) {
        let mut reports = Vec::new();
        self.stream(dir).gap(offset, len, at, &mut reports);
        self.route(dir, reports, out);
    }

    /// Applies cross-direction feedback, then passes reports on.
    fn route(&mut self, dir: Direction, reports: Vec<Report>, out: &mut Vec<(Direction, Report)>) {
        for (pos, kind) in reports {
            match (&kind, dir) {
                (EventKind::StartTls, Direction::ToServer) => self.starttls_requested = true,
                (EventKind::TlsProceed, Direction::ToClient) => {
                    if !self.starttls_requested {
                        out.push((dir, (pos, unexpected_proceed())));
                    }
                    self.stream(Direction::ToServer).start_tls();
                }
                _ => {}
            }
            out.push((dir, (pos, kind)));
        }
    }

    pub fn bytes(&self) -> (DirectionBytes, DirectionBytes) {
        (self.streams[0].bytes, self.streams[1].bytes)
    }
}

fn unexpected_proceed() -> EventKind {
    EventKind::Anomaly {
        anomaly: Anomaly::UnexpectedProceed,
        detail: "<proceed/> without a <starttls/> from the client".into(),
    }
}

/// Position helper for flow-level events.
pub fn flow_position(at: At) -> Position {
    Position {
        time: at.time,
        frame: at.frame,
        ..Position::default()
    }
}
