//! XMPP over BOSH (XEP-0124, XEP-0206) on synthetic connections: keep-alive and
//! pipelined requests, chunked responses, requests that are not BOSH, HTTP errors,
//! lost bytes, and any cutting of the bytes into segments.

mod common;

use common::run_bytes;
use proptest::prelude::*;
use xmppdump::model::{Anomaly, Direction, Event, EventKind, Timestamp};
use xmppdump::pipeline::Config;
use xmppdump::synth::{write_pcap, Conversation, Link};

const NS: &str = "xmlns='http://jabber.org/protocol/httpbind'";
const MESSAGE: &str = "<message xmlns='jabber:client' to='romeo@example.net' type='chat' id='m1'><body>Art thou not Romeo?</body></message>";
const PRESENCE: &str = "<presence xmlns='jabber:client'><show>away</show></presence>";

fn post(body: &str) -> String {
    format!(
        "POST /http-bind HTTP/1.1\r\nHost: example.org\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A response whose body comes in chunks of `size` bytes (RFC 9112 §7.1).
fn chunked(body: &str, size: usize) -> String {
    let mut out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned();
    for piece in body.as_bytes().chunks(size) {
        out.push_str(&format!("{:x}\r\n", piece.len()));
        out.push_str(std::str::from_utf8(piece).unwrap());
        out.push_str("\r\n");
    }
    out.push_str("0\r\n\r\n");
    out
}

fn conversation() -> Conversation {
    Conversation::new(
        "10.0.0.1:50000".parse().unwrap(),
        "10.0.0.2:8080".parse().unwrap(),
        Link::Raw,
        Timestamp(1_700_000_000_000_000_000),
    )
}

/// The client's requests and the server's responses of a short session.
fn session() -> (String, String) {
    let create = format!("<body rid='1' {NS} to='example.org' xml:lang='en' wait='60' hold='1' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>");
    let created = format!("<body sid='s1' authid='a1' from='example.org' wait='60' {NS} xmlns:stream='http://etherx.jabber.org/streams'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features></body>");
    let batch = format!("<body rid='2' sid='s1' {NS}>{PRESENCE}{MESSAGE}</body>");
    let end = format!("<body rid='3' sid='s1' type='terminate' {NS}/>");
    let client = [post(&create), post(&batch), post(&end)].concat();
    let server = [
        ok(&created),
        chunked(&format!("<body {NS}/>"), 7),
        ok(&format!("<body type='terminate' {NS}/>")),
    ]
    .concat();
    (client, server)
}

fn capture(client: &[u8], server: &[u8], cuts: &[usize]) -> Vec<u8> {
    common::capture_cut(conversation(), client, server, cuts)
}

fn events(client: &str, server: &str) -> Vec<Event> {
    run_bytes(
        capture(client.as_bytes(), server.as_bytes(), &[]),
        Config::default(),
    )
    .0
}

fn anomalies(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Anomaly { anomaly, detail } => Some(format!("{anomaly}: {detail}")),
            _ => None,
        })
        .collect()
}

#[test]
fn a_session_in_keep_alive_requests_and_a_chunked_response() {
    let (client, server) = session();
    let events = events(&client, &server);
    assert!(anomalies(&events).is_empty(), "{:?}", anomalies(&events));
    let headers: Vec<(Direction, Option<&str>)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StreamHeader { id, .. } => Some((e.direction, id.as_deref())),
            _ => None,
        })
        .collect();
    assert_eq!(
        headers,
        [
            (Direction::ToServer, None),
            (Direction::ToClient, Some("a1"))
        ]
    );
    let features = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Features(_)))
        .unwrap();
    assert_eq!(features.direction, Direction::ToClient);
    // Two stanzas in one body: two events, each as big as its element.
    let presence = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Presence(_)))
        .unwrap();
    let message = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Message(_)))
        .unwrap();
    assert_eq!(
        (presence.size, message.size),
        (PRESENCE.len() as u64, MESSAGE.len() as u64)
    );
    assert_eq!(presence.offset.0 + presence.size, message.offset.0);
    let closes: Vec<Direction> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StreamClose))
        .map(|e| e.direction)
        .collect();
    assert_eq!(closes, [Direction::ToServer, Direction::ToClient]);
    // Everything but the two stanzas was HTTP and <body/> wrappers.
    let Some(EventKind::FlowEnd { to_server, .. }) = events.last().map(|e| &e.kind) else {
        panic!("no flow end")
    };
    assert_eq!(to_server.xml, (PRESENCE.len() + MESSAGE.len()) as u64);
    assert_eq!(to_server.framing, client.len() as u64 - to_server.xml);
}

#[test]
fn requests_that_are_not_bosh_are_skipped_and_errors_reported() {
    let (client, server) = session();
    // A GET for a file, then the session; its answer is HTML, not a <body/>.
    let get = "GET /favicon.ico HTTP/1.1\r\nHost: example.org\r\n\r\n";
    let html = "<html><body>not here</body></html>";
    let not_found = format!(
        "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{html}",
        html.len()
    );
    let events = events(&format!("{client}{get}"), &format!("{server}{not_found}"));
    assert!(anomalies(&events).is_empty(), "{:?}", anomalies(&events));
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Message(_))));
    // A BOSH request answered with an error status (XEP-0124 §17.1).
    let events = events_of_refused();
    let found = anomalies(&events);
    assert_eq!(
        found,
        ["bosh_malformed: HTTP status 404: the BOSH request failed"]
    );
}

fn events_of_refused() -> Vec<Event> {
    let body = format!("<body rid='9' sid='gone' {NS}>{MESSAGE}</body>");
    events(
        &post(&body),
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    )
}

#[test]
fn a_post_whose_body_is_not_a_bosh_body_is_reported() {
    let first = post(&format!("<body rid='1' {NS} to='example.org'/>"));
    let second = post("<iq type='get'/>");
    let events = events(&format!("{first}{second}"), "");
    let found = anomalies(&events);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("not a BOSH <body/>"), "{found:?}");
}

#[test]
fn a_lost_segment_drops_its_message_and_the_next_one_is_read() {
    let (client, server) = session();
    let mut c = conversation();
    let mut packets = c.handshake();
    // The second request's body is cut in three; its middle is lost.
    let second_at = client.find("POST /http-bind HTTP/1.1\r\nHost: example.org\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: 2").unwrap();
    let body_at = second_at + client[second_at..].find("\r\n\r\n").unwrap() + 4;
    let bytes = client.as_bytes();
    packets.push(c.send_one(true, &bytes[..body_at + 10]));
    drop(c.send_one(true, &bytes[body_at + 10..body_at + 40]));
    packets.push(c.send_one(true, &bytes[body_at + 40..]));
    packets.extend(c.send(false, server.as_bytes()));
    packets.extend(c.close());
    let (events, _) = run_bytes(
        write_pcap(Vec::new(), &packets, false, false).unwrap(),
        Config::default(),
    );
    assert!(events.iter().any(|e| matches!(
        e.kind,
        EventKind::Anomaly {
            anomaly: Anomaly::Gap,
            ..
        }
    )));
    // The batch is lost; the terminate after it is read.
    assert!(!events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Message(_))));
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, EventKind::StreamClose) && e.direction == Direction::ToServer));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However the bytes of either side are cut into segments (chunked bodies and
    /// heads included), the events are the same.
    #[test]
    fn the_same_events_however_the_bytes_are_cut(
        cuts in proptest::collection::vec(0usize..900, 0..40)
    ) {
        let (client, server) = session();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = run_bytes(capture(client.as_bytes(), server.as_bytes(), &[]), Config::default()).0;
        let pieces = run_bytes(capture(client.as_bytes(), server.as_bytes(), &cuts), Config::default()).0;
        prop_assert_eq!(common::comparable(&whole), common::comparable(&pieces));
    }
}

#[test]
fn empty_lines_between_requests_are_ignored() {
    // RFC 9112 §2.2: some clients end a body with an extra CRLF.
    let create = post(&format!("<body rid='1' {NS} to='example.org'/>"));
    let batch = post(&format!("<body rid='2' sid='s1' {NS}>{MESSAGE}</body>"));
    let events = events(&format!("{create}\r\n{batch}"), "");
    assert!(anomalies(&events).is_empty(), "{:?}", anomalies(&events));
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Message(_))));
}
