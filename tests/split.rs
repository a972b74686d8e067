//! Property: however a conversation's bytes are cut into TCP segments, duplicated and
//! reordered, the events are the same as for one contiguous stream.

use proptest::prelude::*;
use xmppdump::capture::Packet;
use xmppdump::model::{Anomaly, Direction, Event, EventKind, FrameNo, Timestamp};
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::sink::{Sink, Summary};

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

/// One TCP segment as a raw IPv4 packet (link type 101).
fn packet(from_client: bool, seq: u32, ack: u32, syn: bool, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sport, dport) = if from_client {
        (CLIENT, SERVER, 40000, 5222)
    } else {
        (SERVER, CLIENT, 5222, 40000)
    };
    let builder = etherparse::PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, seq, 65535);
    let builder = if syn { builder.syn() } else { builder.ack(ack) };
    let builder = if syn && !from_client {
        builder.ack(ack)
    } else {
        builder
    };
    let mut out = Vec::new();
    builder.write(&mut out, payload).unwrap();
    out
}

struct Collect(Vec<Event>);
impl Sink for Collect {
    fn event(&mut self, e: &Event) -> std::io::Result<()> {
        let mut e = e.clone();
        // Frame and time differ with segmentation by design; what happened must not.
        e.frame = FrameNo(0);
        e.time = Timestamp(0);
        self.0.push(e);
        Ok(())
    }
    fn summary(&mut self, _: &Summary) -> std::io::Result<()> {
        Ok(())
    }
}

fn conversation(stanzas: &[String]) -> (Vec<u8>, Vec<u8>) {
    let mut c = String::from("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>");
    let mut s = String::from("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.org' id='s1' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
    for (i, st) in stanzas.iter().enumerate() {
        if i % 2 == 0 {
            c.push_str(st)
        } else {
            s.push_str(st)
        }
        c.push(' ');
    }
    c.push_str("</stream:stream>");
    s.push_str("</stream:stream>");
    (c.into_bytes(), s.into_bytes())
}

/// Runs the handshake and then `segments` (from_client, start, end) of the two byte
/// streams, in the given order, through the pipeline.
fn run(c: &[u8], s: &[u8], segments: &[(bool, usize, usize)]) -> Vec<Event> {
    run_with(Config::default(), c, s, segments)
}

fn run_with(config: Config, c: &[u8], s: &[u8], segments: &[(bool, usize, usize)]) -> Vec<Event> {
    let mut pipeline = Pipeline::new(config);
    let (cisn, sisn) = (1000u32, 5000u32);
    let mut frames = vec![
        packet(true, cisn, 0, true, b""),
        packet(false, sisn, cisn + 1, true, b""),
    ];
    for &(from_client, start, end) in segments {
        let (data, isn, peer) = if from_client {
            (c, cisn, sisn)
        } else {
            (s, sisn, cisn)
        };
        // ACK only what the peer certainly sent already (its SYN): no premature gaps.
        frames.push(packet(
            from_client,
            isn + 1 + start as u32,
            peer + 1,
            false,
            &data[start..end],
        ));
    }
    for (i, bytes) in frames.iter().enumerate() {
        pipeline.packet(&Packet {
            frame: FrameNo(i as u64 + 1),
            time: Timestamp(i as i64),
            linktype: 101,
            original_len: bytes.len() as u32,
            data: bytes,
        });
    }
    pipeline.finish();
    let mut sink = Collect(Vec::new());
    // Drain through run() is not possible without a reader; use the public flush path.
    pipeline.drain_into(&mut sink).unwrap();
    sink.0
}

#[test]
fn an_oversized_stanza_is_skipped_whole_though_its_inside_looks_like_stanzas() {
    // RFC 6120 §13.12: a stanza over the limit is scanned to its end without being kept.
    // Its children here are `<presence/>` elements, and the segments start at each of
    // them: none may be taken for a top-level stanza once the start was dropped.
    let inner = "<presence/>".repeat(40);
    let big = format!("<message to='a@b'><body>x</body>{inner}</message>");
    let (c, s) = conversation(&[
        big.clone(),
        "<presence/>".into(),
        "<iq type='get' id='after'/>".into(),
    ]);
    let text = String::from_utf8(c.clone()).unwrap();
    let start = text.find("<message").unwrap();
    let mut points: Vec<usize> = vec![start + 30];
    points.extend(text.match_indices("<presence/>").map(|(i, _)| i));
    let segs: Vec<(bool, usize, usize)> = client_cut_at(&c, &s, &points);
    let mut config = Config::default();
    config.limits.max_stanza_bytes = 200;
    let events = run_with(config, &c, &s, &segs);
    let client: Vec<&Event> = events
        .iter()
        .filter(|e| e.direction == Direction::ToServer)
        .collect();
    let presences = client
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Presence(_)))
        .count();
    assert_eq!(presences, 0, "{client:#?}");
    let too_large = client
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Anomaly {
                    anomaly: xmppdump::model::Anomaly::StanzaTooLarge,
                    ..
                }
            )
        })
        .count();
    assert_eq!(too_large, 1, "{client:#?}");
    assert!(client.iter().any(|e| matches!(&e.kind,
        EventKind::Iq(s) if s.id() == Some("after"))));
}

#[test]
fn an_oversized_xml_declaration_is_one_however_cut() {
    // The framer tells a declaration from another processing instruction by its first
    // bytes; when the declaration is over the stanza limit and arrives in pieces, those
    // bytes are dropped before its end: the answer must not change.
    let decl = format!("<?xml version='1.0' note='{}'?>", "n".repeat(300));
    let (c, s) = conversation(&[
        decl,
        "<presence/>".into(),
        "<iq type='get' id='after'/>".into(),
    ]);
    let client = oversized_same_however_cut(&c, &s, &[7, 50, 120]);
    assert!(client
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Iq(s) if s.id() == Some("after"))));
}

#[test]
fn an_oversized_restart_header_is_one_however_cut() {
    // A restart header (RFC 6120 §4.3.3) over the stanza limit: whole, it is reported
    // as too large; in pieces, its start (and its name) is dropped before its `>`
    // arrives. Either way it is one too-large header, and the stanzas after it are
    // parsed (it once swallowed the rest of the stream as an element never closed).
    let header = format!(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' note='{}'>",
        "n".repeat(300)
    );
    // Even entries are sent by the client, odd ones by the server.
    let (c, s) = conversation(&[
        "<presence/>".into(),
        String::new(),
        header,
        String::new(),
        "<iq type='get' id='after'/>".into(),
    ]);
    let client = oversized_same_however_cut(&c, &s, &[7, 50, 120]);
    assert!(client.iter().any(|e| matches!(
        &e.kind,
        EventKind::Anomaly {
            anomaly: xmppdump::model::Anomaly::StanzaTooLarge,
            ..
        }
    )));
    assert!(client
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Iq(s) if s.id() == Some("after"))));
}

#[test]
fn a_start_tag_named_past_the_stanza_limit_is_the_same_however_cut() {
    // Found by the `segmentation` fuzz target: whether an oversized first tag is a
    // restart header is decided from its name, which must be read the same way from
    // the tag's first bytes (in pieces) and from the whole tag. A name ends at the
    // first byte that cannot be in a name, and a name as long as the limit is never a
    // stream header's (in pieces its end may not have arrived).
    let junk = "\u{1f}".repeat(300);
    let long_name = format!("<{}:stream>", "a".repeat(300));
    let junk_then_stream = format!("<message{junk}amstream:stream>");
    for tag in [long_name, junk_then_stream] {
        let (c, s) = conversation(&[
            tag.clone(),
            String::new(),
            "<iq type='get' id='after'/>".into(),
        ]);
        // Neither tag is a header, and neither element ever closes: what matters is
        // that both ways agree.
        oversized_same_however_cut(&c, &s, &[7, 50, 120]);
    }
}

/// With a 200-byte stanza limit, the client's events when its bytes arrive whole;
/// asserts they are the same when those bytes are cut every `steps` bytes.
fn oversized_same_however_cut(c: &[u8], s: &[u8], steps: &[usize]) -> Vec<Event> {
    let mut config = Config::default();
    config.limits.max_stanza_bytes = 200;
    let whole = run_with(config.clone(), c, s, &whole_streams(c, s));
    for &step in steps {
        let segs = client_cut_at(c, s, &(0..c.len()).step_by(step).collect::<Vec<_>>());
        let split = run_with(config.clone(), c, s, &segs);
        assert_eq!(
            direction(&split, true),
            direction(&whole, true),
            "step {step}"
        );
    }
    direction(&whole, true)
}

/// One direction's events without the flow's start and end (frame numbers and times
/// are already zeroed by [`Collect`]: they depend on the cuts, what happened must not).
fn direction(events: &[Event], to_server: bool) -> Vec<Event> {
    events
        .iter()
        .filter(|e| (e.direction == Direction::ToServer) == to_server)
        .filter(|e| {
            !matches!(
                e.kind,
                EventKind::FlowStart { .. } | EventKind::FlowEnd { .. }
            )
        })
        .cloned()
        .collect()
}

/// Both byte streams in one segment each.
fn whole_streams(c: &[u8], s: &[u8]) -> [(bool, usize, usize); 2] {
    [(true, 0, c.len()), (false, 0, s.len())]
}

/// The client's bytes cut at `points`, then the server's in one segment.
fn client_cut_at(c: &[u8], s: &[u8], points: &[usize]) -> Vec<(bool, usize, usize)> {
    cuts(c.len(), points)
        .into_iter()
        .map(|(a, b)| (true, a, b))
        .chain(std::iter::once((false, 0, s.len())))
        .collect()
}

fn cuts(len: usize, points: &[usize]) -> Vec<(usize, usize)> {
    let mut p: Vec<usize> = points.iter().map(|x| x % (len + 1)).collect();
    p.push(0);
    p.push(len);
    p.sort();
    p.dedup();
    p.windows(2).map(|w| (w[0], w[1])).collect()
}

fn stanza() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}".prop_map(|b| format!(
            "<message to='a@b/c' type='chat'><body>{b} &amp; &lt;x&gt;</body></message>"
        )),
        Just("<presence><show>away</show><priority>5</priority></presence>".to_string()),
        "[0-9]{1,4}".prop_map(|id| format!(
            "<iq type='get' id='{id}'><query xmlns='jabber:iq:roster'/></iq>"
        )),
        Just("<iq type='result' id='x' a='&quot;/>'/>".to_string()),
        Just("<message><body><![CDATA[</message>]]></body></message>".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn segmentation_duplication_and_reordering_do_not_change_events(
        stanzas in proptest::collection::vec(stanza(), 1..12),
        c_points in proptest::collection::vec(0usize..4000, 0..30),
        s_points in proptest::collection::vec(0usize..4000, 0..30),
        swaps in proptest::collection::vec((0usize..64, 0usize..64), 0..10),
        dups in proptest::collection::vec(0usize..64, 0..5),
    ) {
        let (c, s) = conversation(&stanzas);
        let whole = run(&c, &s, &whole_streams(&c, &s));
        let mut segs: Vec<(bool, usize, usize)> = cuts(c.len(), &c_points).into_iter().map(|(a, b)| (true, a, b))
            .chain(cuts(s.len(), &s_points).into_iter().map(|(a, b)| (false, a, b))).collect();
        for (a, b) in swaps {
            let n = segs.len();
            // Reorder only within one direction, so each side's events keep their order.
            let (i, j) = (a % n, b % n);
            if segs[i].0 == segs[j].0 { segs.swap(i, j); }
        }
        for d in dups {
            let seg = segs[d % segs.len()];
            segs.insert((d * 7) % segs.len(), seg);
        }
        let split = run(&c, &s, &segs);
        prop_assert_eq!(direction(&split, true), direction(&whole, true));
        prop_assert_eq!(direction(&split, false), direction(&whole, false));
        let clean = whole.iter().all(|e| !matches!(e.kind, EventKind::Anomaly { .. }));
        prop_assert!(clean, "the contiguous stream has no anomalies");
    }

    /// Elements the one-pass parse must leave to the framer (not well-formed, nested
    /// too deep, restricted XML, a restart, an element named like a stream header)
    /// give the same events however the bytes are cut, so the two paths agree.
    #[test]
    fn awkward_elements_give_the_same_events_however_cut(
        stanzas in proptest::collection::vec(prop_oneof![stanza(), awkward()], 1..10),
        c_points in proptest::collection::vec(0usize..4000, 0..30),
    ) {
        let (c, s) = conversation(&stanzas);
        let whole = run(&c, &s, &whole_streams(&c, &s));
        let segs: Vec<(bool, usize, usize)> = client_cut_at(&c, &s, &c_points);
        let split = run(&c, &s, &segs);
        prop_assert_eq!(direction(&split, true), direction(&whole, true));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// RFC 6120 §13.12: an element over the stanza limit is reported as too large
    /// whether it came in one segment or in many.
    #[test]
    fn oversized_elements_are_reported_the_same_however_cut(
        stanzas in proptest::collection::vec(prop_oneof![
            stanza(),
            "[a-z ]{150,400}".prop_map(|b| format!("<message><body>{b}</body><x/><y>z</y></message>")),
        ], 1..8),
        c_points in proptest::collection::vec(0usize..4000, 0..30),
    ) {
        let (c, s) = conversation(&stanzas);
        let mut config = Config::default();
        config.limits.max_stanza_bytes = 160;
        let whole = run_with(config.clone(), &c, &s, &whole_streams(&c, &s));
        let segs: Vec<(bool, usize, usize)> = client_cut_at(&c, &s, &c_points);
        let split = run_with(config, &c, &s, &segs);
        prop_assert_eq!(direction(&split, true), direction(&whole, true));
    }
}

fn awkward() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<message><body>a</bod></message>".to_string()),
        Just("<message><body>&nbsp;</body></message>".to_string()),
        Just("<presence a='1' a='2'/>".to_string()),
        Just("<p:presence/>".to_string()),
        Just("<message><!-- note --></message>".to_string()),
        Just("<x:stream xmlns:x='urn:not-streams'><a/></x:stream>".to_string()),
        Just("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>".to_string()),
        (60usize..70).prop_map(|d| format!("<iq>{}{}</iq>", "<a>".repeat(d), "</a>".repeat(d))),
        Just("<message to='a@b'><body>\u{e9}t\u{e9}</body></message>".to_string()),
        Just("<iq type='get' id='z'><query xmlns=''/></iq>".to_string()),
    ]
}

#[test]
fn a_handshake_byte_skipped_after_starttls_is_skipped_however_cut() {
    // Found by the `segmentation` fuzz target: after `<starttls/>` the next frame
    // decides whether the client speaks TLS (RFC 6120 §5.4.3.3). Text there is
    // skipped up to the next element; a segment that happened to begin with a TLS
    // handshake byte (0x16) inside that text switched the direction to TLS, which
    // the same bytes arriving whole never did.
    let mut c = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>junk".to_vec();
    let handshake_at = c.len();
    c.extend_from_slice(b"\x16\x16\x16\x16\x16 more junk<presence/>");
    let s = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='x' id='s1'>".to_vec();
    // Top-level text ends where the bytes at hand end, by design: its size is left out.
    let client_side = |segments: &[(bool, usize, usize)]| {
        let mut events = direction(&run(&c, &s, segments), true);
        for e in &mut events {
            if let EventKind::Anomaly {
                anomaly: Anomaly::TextAtTopLevel,
                detail,
            } = &mut e.kind
            {
                detail.clear();
                e.size = 0;
            }
        }
        events
    };
    let client = client_side(&whole_streams(&c, &s));
    assert_eq!(client_side(&client_cut_at(&c, &s, &[handshake_at])), client);
    assert!(
        client
            .iter()
            .any(|e| matches!(e.kind, EventKind::Presence(_))),
        "the element after the skipped text is parsed: {client:?}"
    );
}
