//! Differential: one client stream of arbitrary bytes, sent whole and cut into small
//! segments, must give the same events (what, where in the stream, how big). Whole
//! elements take the one-pass parse, cut ones the framer, so the two must agree on
//! everything, however hostile the bytes, too-deep and too-large elements included.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;
use xmppdump::model::{Direction, EventKind};

/// The events when the client's bytes come in segments of `mss` bytes.
fn events(payload: &[u8], mss: usize) -> Vec<(Direction, u64, u64, EventKind)> {
    let mut c = common::conversation(5222, mss);
    let mut packets = c.handshake();
    packets.extend(c.send(true, payload));
    common::comparable(&packets)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mss, payload)) = data.split_first() else {
        return;
    };
    // A stream header first, so the bytes are read as XMPP content.
    let mut stream = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x'>".to_vec();
    stream.extend_from_slice(payload);
    let whole = events(&stream, 65_000);
    let cut = events(&stream, usize::from(mss % 32) + 1);
    assert_eq!(whole, cut);
});
