//! Differential, for XMPP over WebSocket (RFC 7395): after the upgrade, a client sends
//! frames built from the input (well-formed ones of any opcode, mask, fragmentation
//! and content, and raw bytes between them); sent whole and cut into small segments,
//! they must give the same events (what, where in the stream, how big). Exercises the
//! frame decoder, unmasking across cuts, the search for the next frame after garbage,
//! and the XMPP stream inside.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;
use xmppdump::model::{Direction, EventKind};
use xmppdump::synth::{websocket_accept, websocket_frame, websocket_upgrade};

/// The events when the client's frames come in segments of `mss` bytes.
fn events(client: &[u8], mss: usize) -> Vec<(Direction, u64, u64, EventKind)> {
    let mut c = common::conversation(8080, mss);
    let mut packets = c.handshake();
    // The client speaks first: an answer first would make the port's flow not XMPP.
    packets.extend(c.send(true, websocket_upgrade("example.org", "/xmpp-websocket").as_bytes()));
    packets.extend(c.send(false, websocket_accept().as_bytes()));
    packets.extend(c.send(true, client));
    common::comparable(&packets)
}

/// Frames from the input: each chunk is `[kind, length, bytes…]`; kind's low nibble is
/// the opcode, bit 4 clears FIN, bit 5 leaves the frame unmasked, bit 6 sets RSV1,
/// bit 7 sends the bytes raw instead of as a frame.
fn client_bytes(mut input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let [kind, len, rest @ ..] = input {
        let n = usize::from(*len).min(rest.len());
        let (body, tail) = rest.split_at(n);
        if kind & 0x80 != 0 {
            out.extend_from_slice(body);
        } else {
            let mask = (kind & 0x20 == 0).then_some([0x37, 0xfa, 0x21, *len]);
            let mut frame = websocket_frame(kind & 0x0f, kind & 0x10 == 0, body, mask);
            if kind & 0x40 != 0 {
                frame[0] |= 0x40;
            }
            out.extend(frame);
        }
        input = tail;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mss, input)) = data.split_first() else {
        return;
    };
    let client = client_bytes(input);
    let whole = events(&client, 65_000);
    let cut = events(&client, usize::from(mss % 32) + 1);
    assert_eq!(whole, cut);
});
