//! The layer above TLS that tells what the decrypted bytes carry, then becomes it.
//!
//! Input: decrypted bytes per direction; output: the same bytes unchanged (XMPP itself,
//! direct TLS or after STARTTLS) or what the carrier found unwraps: wss:// and
//! https:// (RFC 7395 §3.1, XEP-0206) start with an HTTP request for WebSocket or
//! BOSH; other HTTP (file uploads, pages) is counted as skipped. An HTTP request's head
//! and body may come in separate TLS records (Python's `http.client` writes them
//! apart), so the client's first bytes are held ([`detect::Held`], the one sniffer)
//! until they tell, at most `Limits::max_detect_bytes`, or until the server speaks.

use crate::limits::Limits;
use crate::model::{At, Direction, DirectionBytes};
use crate::status::Status;
use crate::transport::detect::{self, Verdict};
use crate::transport::layer::{Layer, Out, Through};
use crate::transport::{bosh, http, websocket};

#[derive(Debug)]
pub enum Sniff {
    /// The client's first decrypted bytes (side 0), and the offset of the first.
    Waiting(detect::Held, u64),
    /// The carrier found, or `None`: the bytes are XMPP and pass as they are.
    Found(Option<Box<dyn Layer>>),
}

impl Default for Sniff {
    fn default() -> Self {
        Sniff::Waiting(detect::Held::default(), 0)
    }
}

/// The carrier a verdict on the client's first decrypted bytes names: one line per
/// protocol that can carry XMPP inside TLS.
fn carrier_for(verdict: Status<Verdict>, first: &[u8]) -> Option<Box<dyn Layer>> {
    match verdict {
        Status::Complete(Verdict::Websocket) => Some(Box::<websocket::Connection>::default()),
        Status::Complete(Verdict::Bosh) => Some(Box::<bosh::Connection>::default()),
        Status::Complete(Verdict::NotXmpp) if http::is_request(first) => {
            Some(Box::<Opaque>::default())
        }
        Status::Complete(Verdict::Xmpp | Verdict::DirectTls | Verdict::NotXmpp)
        | Status::Partial => None,
    }
}

impl Sniff {
    /// Decides on `verdict`, then replays what was held of the client (from `from`).
    fn decide(
        &mut self,
        verdict: Status<Verdict>,
        held: &[u8],
        from: u64,
        at: At,
        limits: &Limits,
        out: &mut dyn Out,
    ) {
        *self = Sniff::Found(carrier_for(verdict, held));
        if !held.is_empty() {
            self.pass(Direction::ToServer, from, held, at, limits, out);
        }
    }

    /// Bytes after the decision, to the carrier found or up as they are.
    fn pass(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Out,
    ) {
        match self {
            Sniff::Found(Some(carrier)) => carrier.feed(dir, offset, bytes, at, limits, out),
            Sniff::Found(None) | Sniff::Waiting(..) => out.bytes(dir, bytes, at),
        }
    }

    fn carrier(&self) -> Option<&dyn Layer> {
        match self {
            Sniff::Found(Some(carrier)) => Some(carrier.as_ref()),
            Sniff::Found(None) | Sniff::Waiting(..) => None,
        }
    }

    fn held(&self) -> Option<&[u8]> {
        match self {
            Sniff::Waiting(held, _) if !held.is_empty() => Some(held.of(0)),
            Sniff::Waiting(..) | Sniff::Found(_) => None,
        }
    }
}

impl Layer for Sniff {
    fn feed(
        &mut self,
        dir: Direction,
        offset: u64,
        bytes: &[u8],
        at: At,
        limits: &Limits,
        out: &mut dyn Out,
    ) {
        let Sniff::Waiting(held, from) = self else {
            return self.pass(dir, offset, bytes, at, limits, out);
        };
        let max = limits.max_detect_bytes;
        if dir == Direction::ToServer {
            if held.is_empty() {
                *from = offset;
            }
            let (verdict, taken) = held.push(0, bytes, max);
            if verdict == Status::Partial && taken == bytes.len() {
                return; // wait for the rest of the request
            }
            let [mut data, _] = held.take();
            let from = *from;
            data.extend_from_slice(bytes.get(taken..).unwrap_or_default());
            self.decide(verdict, &data, from, at, limits, out);
        } else {
            // The server speaks: what the client sent is all it will send first.
            let [data, _] = held.take();
            let from = *from;
            self.decide(detect::sniff(&data, max), &data, from, at, limits, out);
            self.pass(dir, offset, bytes, at, limits, out);
        }
    }

    fn gap(&mut self, dir: Direction, len: u64, out: &mut dyn Out) {
        if let Sniff::Found(Some(carrier)) = self {
            carrier.gap(dir, len, out);
        }
    }

    fn let_go(&mut self, dir: Direction, at: At, out: &mut dyn Out) {
        match self {
            // At most the detection limit, and only until the client's request is
            // whole: dropped, and what follows is taken as it is.
            Sniff::Waiting(held, _) if !held.is_empty() => *self = Sniff::Found(None),
            Sniff::Waiting(..) | Sniff::Found(None) => {}
            Sniff::Found(Some(carrier)) => carrier.let_go(dir, at, out),
        }
    }

    fn held_bytes(&self) -> usize {
        match self {
            Sniff::Waiting(held, _) => held.capacity(),
            Sniff::Found(carrier) => carrier.as_ref().map_or(0, |c| c.held_bytes()),
        }
    }

    fn resident_bytes(&self) -> usize {
        self.carrier().map_or(0, Layer::resident_bytes)
    }

    fn count(&self, dir: Direction, through: Through, b: &mut DirectionBytes) {
        if let Some(carrier) = self.carrier() {
            carrier.count(dir, through, b);
        } else if let (Some(held), Direction::ToServer) = (self.held(), dir) {
            b.unfinished += held.len() as u64;
        }
    }

    fn finish(&self, dir: Direction) -> Option<String> {
        if let Some(carrier) = self.carrier() {
            return carrier.finish(dir);
        }
        match (self.held(), dir) {
            (Some(held), Direction::ToServer) => Some(format!(
                "{} decrypted bytes too few to tell what they carry",
                held.len()
            )),
            _ => None,
        }
    }
}

/// HTTP that carries no XMPP (inside TLS on an XMPP server's HTTPS port): its bytes
/// are counted as skipped.
#[derive(Debug, Default)]
pub struct Opaque {
    skipped: [u64; 2],
}

impl Layer for Opaque {
    fn feed(&mut self, dir: Direction, _: u64, bytes: &[u8], _: At, _: &Limits, _: &mut dyn Out) {
        *dir.of_mut(&mut self.skipped) += bytes.len() as u64;
    }

    fn count(&self, dir: Direction, through: Through, b: &mut DirectionBytes) {
        let skipped = *dir.of(&self.skipped);
        crate::transport::layer::count_carried(through, skipped, 0, Default::default(), b);
    }
}
