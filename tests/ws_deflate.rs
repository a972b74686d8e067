//! WebSocket permessage-deflate (RFC 7692, issue #24): real captures of xmpp.js
//! through a `ws` server that accepts the extension (captures/make/ws-deflate.sh),
//! with and without context takeover, checked against the relay's log of every
//! message; synthetic sessions cut at every byte; a compression bomb under an
//! address-space limit.

mod common;

use common::{capture_path, comparable, events_of, flow_end, stanzas, truth};
use flate2::{Compress, Compression, FlushCompress};
use std::process::Command;
use xmppdump::model::{Anomaly, Direction, DirectionBytes, Event, EventKind};
use xmppdump::synth::{websocket_frame, websocket_upgrade, Conversation, Link, Packet};

fn wire_dir(dir: Direction) -> &'static str {
    match dir {
        Direction::ToServer => "to_server",
        Direction::ToClient => "to_client",
    }
}

/// What the relay logged of one direction: its stanzas, and the bytes of all its
/// messages.
fn logged(truth: &serde_json::Value, dir: Direction) -> (Vec<(String, String)>, u64) {
    let messages: Vec<_> = truth["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["dir"] == wire_dir(dir))
        .collect();
    let stanzas = messages
        .iter()
        .filter(|m| ["message", "presence", "iq"].contains(&m["name"].as_str().unwrap()))
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let bytes = messages.iter().map(|m| m["bytes"].as_u64().unwrap()).sum();
    (stanzas, bytes)
}

/// Every message inflated: the relay's stanzas in order, each direction's XML
/// exactly the bytes the relay passed on, nothing skipped, every byte accounted for.
fn assert_real_deflate_session(name: &str) -> (DirectionBytes, DirectionBytes) {
    let events = events_of(name);
    let truth = truth(name);
    let anomalies: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Anomaly { .. }))
        .collect();
    assert!(anomalies.is_empty(), "{anomalies:#?}");
    let accepted = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::WebsocketAccept {
                extensions,
                deflate,
                ..
            } => {
                assert!(deflate, "the answer says permessage-deflate is followed");
                extensions.clone()
            }
            _ => None,
        })
        .expect("the server's answer names its extensions");
    let logged_header = truth["extensions"].as_str().unwrap();
    assert!(
        logged_header.ends_with(&accepted),
        "{accepted} vs {logged_header}"
    );
    let (c2s, s2c) = flow_end(&events);
    for (dir, b) in [(Direction::ToServer, c2s), (Direction::ToClient, s2c)] {
        let (expected, bytes) = logged(&truth, dir);
        assert!(!expected.is_empty());
        assert_eq!(stanzas(&events, dir), expected, "{name} {dir:?}");
        assert!(b.is_balanced(), "{b:?}");
        // The relay's ws compresses every message: all XML came inflated.
        assert_eq!((b.inflated, b.xml + b.whitespace), (bytes, bytes), "{b:?}");
        assert!(b.compressed > 0 && b.compressed < b.inflated, "{b:?}");
        assert_eq!(b.skipped + b.unfinished, 0, "{b:?}");
    }
    (c2s, s2c)
}

#[test]
fn real_session_with_context_takeover() {
    assert_real_deflate_session("ws_deflate.pcap");
}

#[test]
fn real_session_without_context_takeover() {
    let (c2s, s2c) = assert_real_deflate_session("ws_deflate_nctx.pcap");
    assert!(truth("ws_deflate_nctx.pcap")["nctx"].as_bool().unwrap());
    // Each message compressed alone saves less than with the messages before it.
    let (kept_c2s, kept_s2c) = flow_end(&events_of("ws_deflate.pcap"));
    assert_eq!(
        (c2s.inflated, s2c.inflated),
        (kept_c2s.inflated, kept_s2c.inflated)
    );
    assert!(c2s.compressed > kept_c2s.compressed, "{c2s:?} {kept_c2s:?}");
    assert!(s2c.compressed > kept_s2c.compressed, "{s2c:?} {kept_s2c:?}");
}

/// A sender's compressed messages (RFC 7692 §7.2.1): sync-flushed, tail stripped;
/// one compressor for all with `takeover`, a fresh one each time without.
fn deflate_messages(texts: &[&str], takeover: bool) -> Vec<Vec<u8>> {
    let mut c = Compress::new(Compression::default(), false);
    texts
        .iter()
        .map(|t| {
            if !takeover {
                c.reset();
            }
            let mut out = Vec::with_capacity(t.len() + 64);
            c.compress_vec(t.as_bytes(), &mut out, FlushCompress::Sync)
                .unwrap();
            out.truncate(out.len() - 4);
            out
        })
        .collect()
}

/// A compressed text frame: RSV1 set on its first frame (RFC 7692 §6).
fn compressed_frame(payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut frame = websocket_frame(0x1, true, payload, mask);
    frame[0] |= 0x40;
    frame
}

fn accept_with(extensions: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: xmpp\r\n\
         Sec-WebSocket-Extensions: {extensions}\r\n\r\n"
    )
}

const CLIENT: [&str; 4] = [
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.org' version='1.0'/>",
    "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
    "<message to='juliet@example.org' id='m1'><body>hello hello hello</body></message>",
    "<message to='juliet@example.org' id='m2'><body>hello hello hello</body></message>",
];
const SERVER: [&str; 4] = [
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='example.org' id='s1' version='1.0'/>",
    "<iq type='result' id='b1'/>",
    "<presence from='juliet@example.org/balcony' id='p1'/>",
    "<presence from='juliet@example.org/balcony' id='p2'/>",
];

/// A connection upgraded to WebSocket, the server's answer accepting `extensions`.
fn upgraded(extensions: &str) -> (Conversation, Vec<Packet>) {
    let mut c = Conversation::new(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.100:5280".parse().unwrap(),
        Link::Ethernet,
        xmppdump::model::Timestamp(1_700_000_000_000_000_000),
    );
    let mut packets = c.handshake();
    packets.extend(c.send(
        true,
        websocket_upgrade("example.org", "/xmpp-websocket").as_bytes(),
    ));
    packets.extend(c.send(false, accept_with(extensions).as_bytes()));
    (c, packets)
}

/// An upgraded connection, then each side's compressed messages as one stream of
/// bytes, cut at `cut`.
fn ws_session(extensions: &str, client: &[u8], server: &[u8], cut: usize) -> Vec<Packet> {
    let (c, packets) = upgraded(extensions);
    common::send_cut(c, packets, client, server, cut)
}

fn frames(texts: &[&str], takeover: bool, mask: Option<[u8; 4]>) -> Vec<u8> {
    deflate_messages(texts, takeover)
        .iter()
        .flat_map(|m| compressed_frame(m, mask))
        .collect()
}

#[test]
fn compressed_frames_cut_at_every_position_give_the_same_events() {
    for (extensions, takeover) in [
        ("permessage-deflate", true),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            false,
        ),
    ] {
        let client = frames(&CLIENT, takeover, Some([1, 2, 3, 4]));
        let server = frames(&SERVER, takeover, None);
        let whole = common::run_packets(&ws_session(extensions, &client, &server, 0)).0;
        let names: Vec<_> = whole.iter().map(|e| e.kind.name()).collect();
        assert_eq!(
            names,
            [
                "flow_start",
                "websocket_upgrade",
                "websocket_accept",
                "stream_header",
                "iq",
                "message",
                "message",
                "stream_header",
                "iq",
                "presence",
                "presence",
                "flow_end",
            ],
            "{whole:#?}"
        );
        let (c2s, s2c) = flow_end(&whole);
        for (b, texts) in [(c2s, CLIENT), (s2c, SERVER)] {
            assert!(b.is_balanced(), "{b:?}");
            assert_eq!(b.inflated, texts.concat().len() as u64);
        }
        let whole = comparable(&whole);
        for cut in 1..client.len().max(server.len()) {
            let events =
                comparable(&common::run_packets(&ws_session(extensions, &client, &server, cut)).0);
            assert_eq!(events, whole, "{extensions} cut at {cut}");
        }
    }
}

fn compression_errors(events: &[Event]) -> Vec<(Direction, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Anomaly {
                anomaly: Anomaly::CompressionError,
                detail,
            } => Some((e.direction, detail.clone())),
            _ => None,
        })
        .collect()
}

/// A message that does not inflate: without context takeover only it is lost,
/// with takeover every later one of its direction (counted, not read).
#[test]
fn a_bad_message_costs_itself_or_its_direction() {
    for (extensions, takeover) in [
        ("permessage-deflate", true),
        ("permessage-deflate; server_no_context_takeover", false),
    ] {
        let mut server = compressed_frame(&[0xff, 0xff, 0xff, 0xff], None);
        server.extend(frames(&SERVER, takeover, None));
        let client = frames(&CLIENT, true, Some([9, 8, 7, 6]));
        let events = common::run_packets(&ws_session(extensions, &client, &server, 0)).0;
        let errors = compression_errors(&events);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, Direction::ToClient);
        let presences = stanzas(&events, Direction::ToClient).len();
        assert_eq!(presences, if takeover { 0 } else { 3 }, "{extensions}");
        assert_eq!(stanzas(&events, Direction::ToServer).len(), 3);
        let (c2s, s2c) = flow_end(&events);
        assert!(c2s.is_balanced() && s2c.is_balanced(), "{c2s:?} {s2c:?}");
        assert_eq!(s2c.skipped > 0, takeover, "{s2c:?}");
    }
}

/// Compressed frames the server never accepted are an anomaly and skipped.
#[test]
fn compression_without_the_extension_is_not_read() {
    let client = frames(&CLIENT, true, Some([1, 1, 1, 1]));
    // The server's answer names another extension only.
    let events = common::run_packets(&ws_session("x-other", &client, &[], 0)).0;
    let anomalies: Vec<_> = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Anomaly { detail, .. } if detail.contains("not accepted")))
        .collect();
    assert_eq!(anomalies.len(), CLIENT.len(), "{events:#?}");
    assert!(events.iter().any(|e| matches!(
        e.kind,
        EventKind::WebsocketAccept {
            status: 101,
            deflate: false,
            ..
        }
    )));
    let (c2s, _) = flow_end(&events);
    assert!(c2s.is_balanced(), "{c2s:?}");
    assert_eq!(c2s.inflated, 0);
}

/// 1 GiB of zeros as one server message of about 1 MB (raw DEFLATE: a 1 MiB block
/// of zeros, sync-flushed, repeated).
fn gigabyte_bomb_message() -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let mut block = Vec::with_capacity(1 << 16);
    c.compress_vec(&vec![0u8; 1 << 20], &mut block, FlushCompress::Sync)
        .unwrap();
    let mut bomb = Vec::with_capacity(block.len() * 1024);
    for _ in 0..1024 {
        bomb.extend_from_slice(&block);
    }
    bomb.truncate(bomb.len() - 4);
    bomb
}

#[test]
fn the_bomb_message_really_inflates_to_a_gigabyte() {
    let mut bomb = gigabyte_bomb_message();
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    bomb.extend_from_slice(&[0, 0, 0xff, 0xff]);
    assert_eq!(common::inflated_len(&bomb, false), 1 << 30);
}

#[test]
fn a_compression_bomb_stays_within_an_address_space_limit() {
    let client = frames(&CLIENT[..1], true, Some([1, 2, 3, 4]));
    let server = compressed_frame(&gigabyte_bomb_message(), None);
    let (mut c, mut packets) = upgraded("permessage-deflate");
    packets.extend(c.send(true, &client));
    for piece in server.chunks(1400) {
        packets.push(c.send_one(false, piece));
    }
    packets.extend(c.close());
    let path = common::temp_capture("ws-bomb.pcapng", &packets);
    let end = common::assert_one_bomb_within_address_limit(&path);
    assert!(end["to_client"]["inflated"].as_u64().unwrap_or(0) < 4 << 20);
    assert!(end["to_client"]["compressed"].as_u64().unwrap() > 0);
}

/// `stats --table stream_compression`: one row per compressed session and
/// direction with the flow end's counts, for both methods; a header alone when no
/// session compressed.
#[test]
fn the_stream_compression_table_shows_each_sessions_bytes() {
    for (name, method) in [
        ("ws_deflate.pcap", "permessage-deflate"),
        ("ws_deflate_nctx.pcap", "permessage-deflate"),
        ("ejabberd_zlib_clear.pcap", "zlib"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
            .arg("stats")
            .arg(capture_path(name))
            .args(["--table", "stream_compression", "--format", "csv"])
            .output()
            .unwrap();
        assert!(out.status.success());
        // CSV lines end in CRLF (RFC 4180).
        let csv = String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n");
        let (c2s, s2c) = flow_end(&events_of(name));
        let row = |dir: &str, b: DirectionBytes| {
            let ratio = b.inflated as f64 / b.compressed as f64;
            let saved = 100.0 * (1.0 - b.compressed as f64 / b.inflated as f64);
            format!(
                "#1,c2s,{method},{dir},{},{},{ratio:.2},{saved:.1}%",
                b.compressed, b.inflated
            )
        };
        let expected = format!(
            "flow,stream,method,dir,compressed bytes,inflated bytes,ratio,saved\n{}\n{}\n",
            row("C>S", c2s),
            row("S>C", s2c)
        );
        assert_eq!(csv, expected, "{name}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .arg("stats")
        .arg(capture_path("prosody_websocket.pcap"))
        .args(["--table", "stream_compression", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "flow,stream,method,dir,compressed bytes,inflated bytes,ratio,saved\r\n"
    );
}
