//! XEP-0138 stream compression (issue #24): real captures of our zlib client
//! against a real ejabberd (captures/make/zlib.sh), clear and inside TLS, checked
//! against what the client logged; the same bytes cut at every position; and a
//! compression bomb under an address-space limit.

mod common;

use common::{comparable, events_of, flow_end, truth};
use flate2::write::ZlibEncoder;
use flate2::Compression;
use std::io::Write;
use xmppdump::model::{Anomaly, Direction, Event, EventKind};
use xmppdump::synth::{client_header, server_header, Conversation, Link, Packet};

/// (name, id) of each stanza after `<compressed/>` in one direction.
fn stanzas_after_compression(events: &[Event], dir: Direction) -> Vec<(String, String)> {
    let start = events
        .iter()
        .position(|e| e.kind == EventKind::Compressed)
        .expect("a <compressed/>");
    common::stanzas(&events[start..], dir)
}

fn logged(truth: &serde_json::Value, key: &str) -> Vec<(String, String)> {
    truth[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn assert_real_compressed_session(name: &str) {
    let events = events_of(name);
    let truth = truth(name);
    let anomalies: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Anomaly { .. }))
        .collect();
    assert!(anomalies.is_empty(), "{anomalies:#?}");
    // The refused method, then zlib (XEP-0138 §5).
    let negotiation: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Compress { method } => Some(format!("compress {}", method.as_deref()?)),
            EventKind::CompressFailure { condition } => {
                Some(format!("failure {}", condition.as_deref()?))
            }
            EventKind::Compressed => Some("compressed".to_owned()),
            _ => None,
        })
        .collect();
    let refused = truth["refused"].as_str().unwrap();
    assert_eq!(
        negotiation,
        [
            "compress lzw".to_owned(),
            format!("failure {refused}"),
            "compress zlib".to_owned(),
            "compressed".to_owned()
        ]
    );
    // Every stanza the client sent and received after compression, in order.
    assert_eq!(
        stanzas_after_compression(&events, Direction::ToServer),
        logged(&truth, "sent")
    );
    assert_eq!(
        stanzas_after_compression(&events, Direction::ToClient),
        logged(&truth, "received")
    );
    // The restart inside compression (XEP-0138 §6): a stream header each way.
    let start = events
        .iter()
        .position(|e| e.kind == EventKind::Compressed)
        .unwrap();
    let headers = events[start..]
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StreamHeader { .. }))
        .count();
    assert_eq!(headers, 2);
    // Inside TLS, everything from the compression on was decrypted first.
    let tls = truth["tls"].as_bool().unwrap();
    assert!(events[start..]
        .iter()
        .filter(|e| !matches!(e.kind, EventKind::FlowEnd { .. }))
        .all(|e| e.decrypted == tls));
    // Every byte accounted for; the bodies repeat, so zlib saves.
    let (c2s, s2c) = flow_end(&events);
    for b in [c2s, s2c] {
        assert!(b.is_balanced(), "{b:?}");
        assert!(b.compressed > 0 && b.inflated > 2 * b.compressed, "{b:?}");
        assert_eq!(b.skipped + b.unfinished, 0, "{b:?}");
        assert_eq!(b.decrypted > 0, tls, "{b:?}");
    }
}

#[test]
fn real_zlib_session_in_the_clear() {
    assert_real_compressed_session("ejabberd_zlib_clear.pcap");
}

#[test]
fn real_zlib_session_inside_tls() {
    assert_real_compressed_session("ejabberd_zlib_tls.pcap");
}

fn zlib(elements: &[&str]) -> Vec<u8> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    for e in elements {
        enc.write_all(e.as_bytes()).unwrap();
        enc.flush().unwrap();
    }
    enc.get_ref().clone()
}

/// A session that compresses after SASL: headers, `<compress/>` and
/// `<compressed/>` in the clear, then `client` and `server` (compressed bytes),
/// each cut at `cut`.
fn compressed_session(client: &[u8], server: &[u8], cut: usize) -> Vec<Packet> {
    let (c, packets) = negotiated();
    common::send_cut(c, packets, client, server, cut)
}

#[test]
fn compressed_bytes_cut_at_every_position_give_the_same_events() {
    let client = zlib(&[
        &client_header("example.org"),
        "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
        "<message to='juliet@example.org' id='m1'><body>hello hello hello</body></message>",
        "</stream:stream>",
    ]);
    let server = zlib(&[
        &server_header("example.org", "s2", ""),
        "<iq type='result' id='b1'/>",
        "<presence from='juliet@example.org/balcony' id='p1'/>",
        "</stream:stream>",
    ]);
    let whole = comparable(&common::run_packets(&compressed_session(&client, &server, 0)).0);
    let names: Vec<_> = whole.iter().map(|(_, _, _, k)| k.name()).collect();
    assert_eq!(
        names,
        [
            "flow_start",
            "stream_header",
            "stream_header",
            "features",
            "compress",
            "compressed",
            "stream_header",
            "iq",
            "message",
            "stream_close",
            "stream_header",
            "features",
            "iq",
            "presence",
            "stream_close",
        ],
        "{whole:#?}"
    );
    for cut in 1..client.len().max(server.len()) {
        let events = comparable(&common::run_packets(&compressed_session(&client, &server, cut)).0);
        assert_eq!(events, whole, "cut at {cut}");
    }
}

#[test]
fn a_stream_that_does_not_inflate_is_an_anomaly_and_counted() {
    let client = zlib(&[&client_header("example.org")]);
    // The server says <compressed/> but goes on in plain XML.
    let server = server_header("example.org", "s2", "").into_bytes();
    let events = common::run_packets(&compressed_session(&client, &server, 0)).0;
    let errors: Vec<_> = events
        .iter()
        .filter(|e| {
            matches!(
                &e.kind,
                EventKind::Anomaly {
                    anomaly: Anomaly::CompressionError,
                    ..
                }
            )
        })
        .map(|e| e.direction)
        .collect();
    assert_eq!(errors, [Direction::ToClient]);
    let (c2s, s2c) = flow_end(&events);
    assert!(c2s.is_balanced() && s2c.is_balanced(), "{c2s:?} {s2c:?}");
    assert_eq!((s2c.compressed, s2c.inflated), (server.len() as u64, 0));
    assert!(c2s.inflated > 0);
}

/// 1 GiB of zeros as a zlib stream of about 1 MB: one sync-flushed block of 1 MiB of
/// zeros, repeated (every back-reference still points at zeros).
fn gigabyte_bomb() -> Vec<u8> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
    enc.write_all(&vec![0u8; 1 << 20]).unwrap();
    enc.flush().unwrap();
    let first = enc.get_ref().clone();
    let (header, block) = first.split_at(2);
    let mut bomb = header.to_vec();
    for _ in 0..1024 {
        bomb.extend_from_slice(block);
    }
    bomb
}

#[test]
fn the_bomb_really_inflates_to_a_gigabyte() {
    let bomb = gigabyte_bomb();
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    assert_eq!(common::inflated_len(&bomb, true), 1 << 30);
}

#[test]
fn a_compression_bomb_stays_within_an_address_space_limit() {
    let client = zlib(&[&client_header("example.org")]);
    let bomb = gigabyte_bomb();
    // The bomb in segments of 1,400 bytes, as a sender would write it.
    let path = common::temp_capture("bomb.pcapng", &bomb_session(&client, &bomb));
    let end = common::assert_one_bomb_within_address_limit(&path);
    // The direction is counted to its end, not inflated.
    assert_eq!(end["to_client"]["compressed"], bomb.len() as u64);
    assert!(end["to_client"]["inflated"].as_u64().unwrap_or(0) < 4 << 20);
}

fn bomb_session(client: &[u8], bomb: &[u8]) -> Vec<Packet> {
    let (mut c, mut packets) = negotiated();
    packets.extend(c.send(true, client));
    for piece in bomb.chunks(1400) {
        packets.push(c.send_one(false, piece));
    }
    packets.extend(c.close());
    packets
}

/// A c2s connection up to `<compressed/>`: handshake, headers with the compression
/// feature, `<compress/>` for zlib and the server's yes, all in the clear.
fn negotiated() -> (Conversation, Vec<Packet>) {
    let mut c = Conversation::new(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.100:5222".parse().unwrap(),
        Link::Ethernet,
        xmppdump::model::Timestamp(1_700_000_000_000_000_000),
    );
    let mut packets = c.handshake();
    packets.extend(c.send(true, client_header("example.org").as_bytes()));
    let features = "<compression xmlns='http://jabber.org/features/compress'><method>zlib</method></compression>";
    packets.extend(c.send(
        false,
        server_header("example.org", "s1", features).as_bytes(),
    ));
    packets.extend(c.send(
        true,
        b"<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress>",
    ));
    packets.extend(c.send(
        false,
        b"<compressed xmlns='http://jabber.org/protocol/compress'/>",
    ));
    (c, packets)
}

/// Found by the `zlib` fuzz target: bytes that inflate, then bytes that do not, in
/// one segment. What decoded before the error is read (as it is when the two come
/// in separate segments), then the error is reported.
#[test]
fn what_inflates_before_an_error_is_read() {
    let mut client = zlib(&[
        &client_header("example.org"),
        "<message to='juliet@example.org' id='m1'><body>hello</body></message>",
    ]);
    client.extend_from_slice(b"\xff\xfe not zlib");
    for cut in [0, client.len() - 11] {
        let events = common::run_packets(&compressed_session(&client, &[], cut)).0;
        let after: Vec<_> = stanzas_after_compression(&events, Direction::ToServer);
        assert_eq!(
            after,
            [("message".to_owned(), "m1".to_owned())],
            "cut {cut}"
        );
        let errors = events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::Anomaly {
                        anomaly: Anomaly::CompressionError,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(errors, 1, "cut {cut}");
        let (c2s, _) = flow_end(&events);
        assert!(c2s.is_balanced(), "{c2s:?}");
    }
}

/// STARTTLS inside a compressed stream (odd, but nothing forbids it): the inflated
/// client stream hands its TLS records to a TLS layer one level up, where they are
/// read and counted. The inflated stream used to keep them as a tail nobody took,
/// unbounded and counted nowhere.
#[test]
fn tls_inside_compression_is_read_one_level_up_and_every_byte_counted() {
    let mut records = Vec::new();
    for _ in 0..200 {
        // Handshake records with a body that is no handshake message we know.
        records.extend_from_slice(&[0x16, 0x03, 0x03, 0x01, 0x00]);
        records.extend_from_slice(&[0xfe; 256]);
    }
    let client_text = format!(
        "{}<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        client_header("example.org")
    );
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    enc.write_all(client_text.as_bytes()).unwrap();
    enc.flush().unwrap();
    enc.write_all(&records).unwrap();
    enc.flush().unwrap();
    let client = enc.get_ref().clone();
    let server = zlib(&[
        &server_header("example.org", "s2", ""),
        "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    ]);
    for cut in [0, client.len() / 2] {
        let events = common::run_packets(&compressed_session(&client, &server, cut)).0;
        let (c2s, s2c) = flow_end(&events);
        assert!(c2s.is_balanced() && s2c.is_balanced(), "{c2s:?} {s2c:?}");
        assert_eq!(c2s.tls, records.len() as u64, "cut {cut}");
        assert_eq!(c2s.tls_records, 200, "cut {cut}");
        assert_eq!(c2s.inflated, (client_text.len() + records.len()) as u64);
    }
}
