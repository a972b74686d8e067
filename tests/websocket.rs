//! XMPP over WebSocket (RFC 7395) on synthetic connections: the upgrade, masked and
//! unmasked frames, fragmented messages with control frames between, faults, gaps
//! and any cutting of the bytes into segments.

mod common;

use common::run_bytes;
use proptest::prelude::*;
use xmppdump::model::{Anomaly, Direction, Event, EventKind, Timestamp};
use xmppdump::pipeline::Config;
use xmppdump::synth::{
    websocket_accept, websocket_frame, websocket_upgrade, write_pcap, Conversation, Link,
};
use xmppdump::transport::websocket::frame::{BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT};

const MASK: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

const CLIENT_OPEN: &str =
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.org' version='1.0'/>";
const SERVER_OPEN: &str = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='example.org' id='s1' version='1.0' xml:lang='en'/>";
const FEATURES: &str = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const AUTH: &str =
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABzZWNyZXQ=</auth>";
const SUCCESS: &str = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
const MESSAGE: &str = "<message xmlns='jabber:client' to='romeo@example.net' type='chat' id='m1'><body>Art thou not Romeo?</body></message>";
const CLOSE_XML: &str = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";

fn conversation() -> Conversation {
    Conversation::new(
        "10.0.0.1:50000".parse().unwrap(),
        // Not an XMPP port: found by the upgrade request.
        "10.0.0.2:8080".parse().unwrap(),
        Link::Raw,
        Timestamp(1_700_000_000_000_000_000),
    )
}

/// The client's bytes (upgrade, then masked frames) and the server's (answer, then
/// unmasked frames), message by message.
fn session_bytes() -> (Vec<u8>, Vec<u8>) {
    let text_c = |x: &str| websocket_frame(TEXT, true, x.as_bytes(), MASK);
    let text_s = |x: &str| websocket_frame(TEXT, true, x.as_bytes(), None);
    let mut client = websocket_upgrade("example.org", "/xmpp-websocket").into_bytes();
    for x in [CLIENT_OPEN, AUTH, CLIENT_OPEN, MESSAGE, CLOSE_XML] {
        client.extend(text_c(x));
    }
    client.extend(websocket_frame(CLOSE, true, &[0x03, 0xe8], MASK));
    let mut server = websocket_accept().into_bytes();
    for x in [SERVER_OPEN, FEATURES, SUCCESS, SERVER_OPEN, CLOSE_XML] {
        server.extend(text_s(x));
    }
    server.extend(websocket_frame(CLOSE, true, b"\x03\xe8bye", None));
    (client, server)
}

fn capture(client: &[u8], server: &[u8], cuts: &[usize]) -> Vec<u8> {
    common::capture_cut(conversation(), client, server, cuts)
}

fn events(client: &[u8], server: &[u8]) -> Vec<Event> {
    run_bytes(capture(client, server, &[]), Config::default()).0
}

fn kinds(events: &[Event]) -> Vec<&EventKind> {
    events.iter().map(|e| &e.kind).collect()
}

fn anomalies(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Anomaly {
                anomaly: Anomaly::WebsocketMalformed,
                detail,
            } => Some(detail.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_upgraded_connection_is_read_as_xmpp() {
    let (client, server) = session_bytes();
    let events = events(&client, &server);
    let kinds = kinds(&events);
    assert!(kinds.iter().any(|k| matches!(
        k,
        EventKind::FlowStart {
            detected_by: xmppdump::model::DetectedBy::Websocket,
            ..
        }
    )));
    assert!(kinds.iter().any(|k| matches!(k,
        EventKind::WebsocketUpgrade { path, host: Some(h), protocol: Some(p), .. }
            if path == "/xmpp-websocket" && h == "example.org" && p == "xmpp")));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::WebsocketAccept { status: 101, .. })));
    // Two opens per side, the second a restart (RFC 7395 §3.5); both closes.
    assert_eq!(
        common::stream_headers(&events),
        [
            (Direction::ToServer, false),
            (Direction::ToServer, true),
            (Direction::ToClient, false),
            (Direction::ToClient, true)
        ]
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| matches!(k, EventKind::StreamClose))
            .count(),
        2
    );
    assert!(kinds.iter().any(|k| matches!(k,
        EventKind::SaslAuth { username: Some(u), data: Some(d), .. } if u == "juliet" && d == "REDACTED")));
    let message = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Message(_)))
        .unwrap();
    // Offsets and sizes count message bytes (the element itself).
    assert_eq!(message.size, MESSAGE.len() as u64);
    assert!(kinds.iter().any(|k| matches!(
        k,
        EventKind::WebsocketClose {
            code: Some(1000),
            reason: None
        }
    )));
    assert!(kinds.iter().any(|k| matches!(k,
        EventKind::WebsocketClose { code: Some(1000), reason: Some(r) } if r == "bye")));
    assert!(anomalies(&events).is_empty(), "{:?}", anomalies(&events));
    // The XMPP bytes are the elements'; the rest (HTTP, frame headers) is framing.
    let Some(EventKind::FlowEnd { to_server, .. }) = kinds.last().copied() else {
        panic!("no flow end")
    };
    let xml: usize = [CLIENT_OPEN, AUTH, CLIENT_OPEN, MESSAGE, CLOSE_XML]
        .iter()
        .map(|x| x.len())
        .sum();
    assert_eq!(to_server.xml, xml as u64);
    assert_eq!(to_server.payload, client.len() as u64);
    assert_eq!(to_server.skipped, 0);
    // The rest is the carrier's: the HTTP request and the frame headers.
    let http = websocket_upgrade("example.org", "/xmpp-websocket").len() as u64;
    let frame_headers = 5 * (2 + 4) + (2 + 4 + 2);
    assert_eq!(to_server.framing, http + frame_headers);
}

#[test]
fn fragmented_messages_with_control_frames_between() {
    let (_, server) = session_bytes();
    let mut client = websocket_upgrade("example.org", "/").into_bytes();
    client.extend(websocket_frame(TEXT, true, CLIENT_OPEN.as_bytes(), MASK));
    // RFC 6455 §5.4: a message in three frames, a ping and a pong between them.
    let (a, rest) = MESSAGE.as_bytes().split_at(20);
    let (b, c) = rest.split_at(30);
    client.extend(websocket_frame(TEXT, false, a, MASK));
    client.extend(websocket_frame(PING, true, b"are you there", MASK));
    client.extend(websocket_frame(CONTINUATION, false, b, MASK));
    client.extend(websocket_frame(PONG, true, b"", MASK));
    client.extend(websocket_frame(CONTINUATION, true, c, MASK));
    let events = events(&client, &server);
    let message = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Message(_)))
        .expect("the message put together");
    assert_eq!(message.size, MESSAGE.len() as u64);
    assert!(anomalies(&events).is_empty(), "{:?}", anomalies(&events));
}

#[test]
fn binary_compressed_and_unmasked_frames_are_reported_and_reading_goes_on() {
    let (_, server) = session_bytes();
    let mut client = websocket_upgrade("example.org", "/").into_bytes();
    client.extend(websocket_frame(TEXT, true, CLIENT_OPEN.as_bytes(), MASK));
    client.extend(websocket_frame(BINARY, true, MESSAGE.as_bytes(), MASK));
    let mut compressed = websocket_frame(TEXT, true, b"\xf2\x48\xcd\xc9\xc9\x07\x00", MASK);
    compressed[0] |= 0x40; // RSV1: permessage-deflate (RFC 7692 §6)
    client.extend(compressed);
    client.extend(websocket_frame(TEXT, true, MESSAGE.as_bytes(), None));
    client.extend(websocket_frame(TEXT, true, MESSAGE.as_bytes(), MASK));
    let events = events(&client, &server);
    let found = anomalies(&events);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].contains("binary message"), "{found:?}");
    assert!(found[1].contains("compressed message"), "{found:?}");
    assert!(
        found[2].contains("unmasked frame from the client"),
        "{found:?}"
    );
    // The unmasked message and the last one are read.
    let messages = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Message(_)))
        .count();
    assert_eq!(messages, 2);
}

#[test]
fn a_refused_upgrade_is_reported_and_nothing_after_it_is_read() {
    let mut c = conversation();
    let mut packets = c.handshake();
    packets.extend(c.send(
        true,
        websocket_upgrade("example.org", "/xmpp-websocket").as_bytes(),
    ));
    packets.extend(c.send(
        false,
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nForbidden",
    ));
    packets.extend(c.send(
        true,
        &websocket_frame(TEXT, true, CLIENT_OPEN.as_bytes(), MASK),
    ));
    packets.extend(c.close());
    let bytes = write_pcap(Vec::new(), &packets, false, false).unwrap();
    let (events, _) = run_bytes(bytes, Config::default());
    let kinds = kinds(&events);
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::WebsocketAccept { status: 403, .. })));
    assert!(!kinds
        .iter()
        .any(|k| matches!(k, EventKind::StreamHeader { .. })));
    let Some(EventKind::FlowEnd {
        to_server,
        to_client,
        ..
    }) = kinds.last().copied()
    else {
        panic!("no flow end")
    };
    // The refusal's body and the client's frame are counted, not read.
    assert_eq!(to_client.skipped, 9);
    assert_eq!(to_server.skipped, CLIENT_OPEN.len() as u64 + 6);
}

#[test]
fn an_http_request_that_is_not_an_xmpp_upgrade_is_not_xmpp() {
    let client = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
    let events = events(client, b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    assert!(!events
        .iter()
        .any(|e| matches!(e.kind, EventKind::FlowStart { .. })));
}

#[test]
fn after_a_lost_segment_the_next_frame_is_found() {
    let (_, server) = session_bytes();
    let mut c = conversation();
    let mut packets = c.handshake();
    let mut client = websocket_upgrade("example.org", "/").into_bytes();
    client.extend(websocket_frame(TEXT, true, CLIENT_OPEN.as_bytes(), MASK));
    packets.extend(c.send(true, &client));
    // A message whose middle segment is lost: its frame is cut.
    let cut = websocket_frame(TEXT, true, MESSAGE.as_bytes(), MASK);
    packets.push(c.send_one(true, &cut[..30]));
    drop(c.send_one(true, &cut[30..60]));
    let mut after = cut[60..].to_vec();
    after.extend(websocket_frame(TEXT, true, MESSAGE.as_bytes(), MASK));
    packets.push(c.send_one(true, &after));
    packets.extend(c.send(false, &server));
    packets.extend(c.close());
    let bytes = write_pcap(Vec::new(), &packets, false, false).unwrap();
    let (events, _) = run_bytes(bytes, Config::default());
    assert!(events.iter().any(|e| matches!(
        e.kind,
        EventKind::Anomaly {
            anomaly: Anomaly::Gap,
            ..
        }
    )));
    // The cut message is lost; the one after it is read.
    let messages: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Message(_)) && e.direction == Direction::ToServer)
        .collect();
    assert_eq!(messages.len(), 1, "{events:#?}");
    assert!(!events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Anomaly {
            anomaly: Anomaly::MalformedXml,
            ..
        }
    )));
}

#[test]
fn garbage_between_frames_is_skipped_to_the_next_frame() {
    let (_, server) = session_bytes();
    let mut client = websocket_upgrade("example.org", "/").into_bytes();
    client.extend(websocket_frame(TEXT, true, CLIENT_OPEN.as_bytes(), MASK));
    client.extend(b"\x83\x05junk!");
    client.extend(websocket_frame(TEXT, true, MESSAGE.as_bytes(), MASK));
    let events = events(&client, &server);
    let found = anomalies(&events);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("undecodable frame"), "{found:?}");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Message(_)))
            .count(),
        1
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However the client's bytes are cut into segments, the events are the same.
    #[test]
    fn the_same_events_however_the_bytes_are_cut(
        cuts in proptest::collection::vec(0usize..1200, 0..40)
    ) {
        let (client, server) = session_bytes();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = run_bytes(capture(&client, &server, &[]), Config::default()).0;
        let pieces = run_bytes(capture(&client, &server, &cuts), Config::default()).0;
        prop_assert_eq!(common::comparable(&whole), common::comparable(&pieces));
    }
}
