//! Differential, for WebSocket permessage-deflate (RFC 7692): the server accepts the
//! extension (with or without context takeover, as the input says), then the client
//! sends frames built from the input: text compressed by a real compressor (one for
//! all messages, or a fresh one each, as negotiated), compressed frames of raw input
//! bytes (mostly invalid DEFLATE), plain frames and raw bytes between them. Sent
//! whole and cut into small segments, they must give the same events (as
//! `common::assert_inflation_agrees` compares them). Exercises
//! inflation across cuts and frames, errors with and without context takeover, and
//! the search for the next frame after garbage.
#![no_main]
use flate2::{Compress, Compression, FlushCompress};
use libfuzzer_sys::fuzz_target;

mod common;
use xmppdump::model::{Direction, EventKind};
use xmppdump::synth::{websocket_frame, websocket_upgrade};

fn accept(takeover: bool) -> String {
    let extensions = if takeover {
        "permessage-deflate"
    } else {
        "permessage-deflate; client_no_context_takeover"
    };
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n"
    )
}

/// The events when the client's frames come in segments of `mss` bytes.
fn events(client: &[u8], takeover: bool, mss: usize) -> Vec<(Direction, u64, u64, EventKind)> {
    let mut c = common::conversation(8080, mss);
    let mut packets = c.handshake();
    packets.extend(c.send(true, websocket_upgrade("example.org", "/xmpp-websocket").as_bytes()));
    packets.extend(c.send(false, accept(takeover).as_bytes()));
    packets.extend(c.send(true, client));
    common::comparable(&packets)
}

/// Frames from the input: each chunk is `[kind, length, bytes…]`. Kind's low two
/// bits: 0 text compressed by the compressor, 1 a compressed frame of the bytes as
/// they are, 2 a plain text frame, 3 the bytes raw; bit 2 clears FIN (a fragment,
/// continued by the next chunk as a continuation frame); bit 3 leaves it unmasked.
fn client_bytes(mut input: &[u8], takeover: bool) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::fast(), false);
    let mut out = Vec::new();
    let mut continuing = false;
    while let [kind, len, rest @ ..] = input {
        let n = usize::from(*len).min(rest.len());
        let (body, tail) = rest.split_at(n);
        input = tail;
        let mask = (kind & 0x08 == 0).then_some([0x37, 0xfa, 0x21, *len]);
        let fin = kind & 0x04 == 0;
        let opcode = if continuing { 0x0 } else { 0x1 };
        let (payload, rsv1) = match kind & 0x03 {
            0 => {
                if !takeover && !continuing {
                    compressor.reset();
                }
                let mut z = Vec::with_capacity(body.len() * 2 + 64);
                let _ = compressor.compress_vec(body, &mut z, FlushCompress::Sync);
                if fin && z.ends_with(&[0, 0, 0xff, 0xff]) {
                    z.truncate(z.len() - 4);
                }
                (z, !continuing)
            }
            1 => (body.to_vec(), !continuing),
            2 => (body.to_vec(), false),
            _ => {
                out.extend_from_slice(body);
                continue;
            }
        };
        let mut frame = websocket_frame(opcode, fin, &payload, mask);
        if rsv1 {
            frame[0] |= 0x40;
        }
        out.extend(frame);
        continuing = !fin;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let takeover = control & 0x80 == 0;
    let client = client_bytes(input, takeover);
    let whole = events(&client, takeover, 65_000);
    let cut = events(&client, takeover, usize::from(control % 32) + 1);
    common::assert_inflation_agrees(&whole, &cut);
});
