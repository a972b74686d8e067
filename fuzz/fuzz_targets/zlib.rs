//! Differential, for XEP-0138 stream compression (the zlib layer): a c2s stream
//! negotiates compression, then the client sends bytes built from the input — XML
//! compressed by a real compressor with a sync flush after each chunk (XEP-0138 §6.1),
//! and raw input bytes among them (mostly invalid zlib). Sent whole and cut into
//! small segments, they must give the same events (as
//! `common::assert_inflation_agrees` compares them). Exercises inflation across cuts,
//! the restart inside compression, and a direction turning opaque.
#![no_main]
use flate2::{Compress, Compression, FlushCompress};
use libfuzzer_sys::fuzz_target;

mod common;
use xmppdump::model::{Direction, EventKind};
use xmppdump::synth::{client_header, server_header};

/// The events when the client's compressed bytes come in segments of `mss` bytes.
fn events(client: &[u8], mss: usize) -> Vec<(Direction, u64, u64, EventKind)> {
    let mut c = common::conversation(5222, mss);
    let mut packets = c.handshake();
    packets.extend(c.send(true, client_header("example.org").as_bytes()));
    let features = "<compression xmlns='http://jabber.org/features/compress'><method>zlib</method></compression>";
    packets.extend(c.send(false, server_header("example.org", "s1", features).as_bytes()));
    packets.extend(c.send(
        true,
        b"<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress>",
    ));
    packets.extend(c.send(false, b"<compressed xmlns='http://jabber.org/protocol/compress'/>"));
    packets.extend(c.send(true, client));
    common::comparable(&packets)
}

/// The client's bytes after `<compressed/>`: each chunk is `[kind, length, bytes…]`;
/// kind's low bit sends the bytes raw, else they are compressed and flushed. A
/// stream header comes first (the restart, XEP-0138 §6).
fn client_bytes(mut input: &[u8]) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::fast(), true);
    let mut out = Vec::new();
    let mut compress = |bytes: &[u8], out: &mut Vec<u8>| {
        out.reserve(bytes.len() * 2 + 64);
        let _ = compressor.compress_vec(bytes, out, FlushCompress::Sync);
    };
    compress(client_header("example.org").as_bytes(), &mut out);
    while let [kind, len, rest @ ..] = input {
        let n = usize::from(*len).min(rest.len());
        let (body, tail) = rest.split_at(n);
        input = tail;
        if kind & 1 == 1 {
            out.extend_from_slice(body);
        } else {
            compress(body, &mut out);
        }
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
    common::assert_inflation_agrees(&whole, &cut);
});
