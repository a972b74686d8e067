//! Differential, for XMPP over BOSH (XEP-0124, XEP-0206): HTTP messages built from the
//! input (POSTs and 200 answers with `Content-Length` or chunked bodies, `<body/>`
//! wrappers around arbitrary content, GETs, error answers and raw bytes between them),
//! sent whole and cut into small segments, must give the same events (what, where in
//! the stream, how big). Exercises the HTTP message reader, chunked decoding across
//! cuts, the request/response pairing, the wrapper and the XMPP stream inside.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;
use xmppdump::model::{Direction, EventKind};

const CREATE: &[u8] = b"<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='example.org' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>";

fn http(start: &str, body: &[u8], chunk: Option<usize>) -> Vec<u8> {
    let mut out = start.as_bytes().to_vec();
    match chunk {
        None => {
            out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(body);
        }
        Some(size) => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for piece in body.chunks(size.max(1)) {
                out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                out.extend_from_slice(piece);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
    out
}

/// Both sides' bytes from the input: chunks `[kind, length, bytes…]`. Kind bit 7
/// sends it from the server; bits 0–1 choose a wrapped body, the bytes raw, a GET
/// (client) or a 404 (server); bit 2 chunks the body in pieces of `length % 16 + 1`;
/// bit 3 leaves the wrapper open.
fn sides(mut input: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut client = http("POST /http-bind HTTP/1.1\r\n", CREATE, None);
    let mut server = Vec::new();
    while let [kind, len, rest @ ..] = input {
        let n = usize::from(*len).min(rest.len());
        let (bytes, tail) = rest.split_at(n);
        input = tail;
        let from_server = kind & 0x80 != 0;
        let chunk = (kind & 0x04 != 0).then_some(usize::from(*len % 16) + 1);
        let mut wrapped = b"<body sid='s' xmlns='http://jabber.org/protocol/httpbind'>".to_vec();
        wrapped.extend_from_slice(bytes);
        if kind & 0x08 == 0 {
            wrapped.extend_from_slice(b"</body>");
        }
        let out = match (from_server, kind & 0x03) {
            (false, 0) => http("POST /http-bind HTTP/1.1\r\n", &wrapped, chunk),
            (true, 0) => http("HTTP/1.1 200 OK\r\n", &wrapped, chunk),
            (false, 1) => http("GET /x HTTP/1.1\r\n", b"", None),
            (true, 1) => http("HTTP/1.1 404 Not Found\r\n", bytes, chunk),
            _ => bytes.to_vec(),
        };
        if from_server {
            server.extend(out);
        } else {
            client.extend(out);
        }
    }
    (client, server)
}

/// The events when both sides' bytes come in segments of `mss` bytes.
fn events(client: &[u8], server: &[u8], mss: usize) -> Vec<(Direction, u64, u64, EventKind)> {
    let mut c = common::conversation(8080, mss);
    let mut packets = c.handshake();
    packets.extend(c.send(true, client));
    packets.extend(c.send(false, server));
    common::comparable(&packets)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mss, input)) = data.split_first() else {
        return;
    };
    let (client, server) = sides(input);
    let whole = events(&client, &server, 65_000);
    let cut = events(&client, &server, usize::from(mss % 32) + 1);
    assert_eq!(whole, cut);
});
