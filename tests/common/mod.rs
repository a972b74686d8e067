//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Cursor;
use xmppdump::capture::Reader;
use xmppdump::model::{Event, EventKind};
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::sink::{Sink, Summary};
use xmppdump::synth::{self, Packet};

/// Every capture in `captures/` (a test checks the list is complete).
/// Captures too large for the per-event snapshots, each checked by its own test file.
pub const LARGE_CAPTURES: &[&str] = &["federation_prosody.pcap"];

pub const CAPTURES: &[&str] = &[
    "ndpi_jabber.pcap",
    "godpi_jabber.pcap",
    "zeek_xmpp-starttls.pcap",
    "zeek_xmpp-dialback-starttls.pcap",
    "xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap",
    "prosody_starttls.pcap",
    "prosody_starttls_tls12.pcap",
    "prosody_sasl2.pcap",
    "prosody_websocket.pcap",
    "prosody_bosh.pcap",
    "prosody_wss.pcap",
    "prosody_directtls.pcap",
    "prosody_bosh_https.pcap",
    "census_ejabberd.pcap",
    "ejabberd_zlib_clear.pcap",
    "ejabberd_zlib_tls.pcap",
    "ws_deflate.pcap",
    "ws_deflate_nctx.pcap",
];

#[derive(Default)]
pub struct Collect {
    pub events: Vec<Event>,
    pub summary: Option<Summary>,
}

impl Sink for Collect {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.events.push(event.clone());
        Ok(())
    }
    fn summary(&mut self, summary: &Summary) -> std::io::Result<()> {
        self.summary = Some(summary.clone());
        Ok(())
    }
}

/// Runs the pipeline over capture bytes.
pub fn run_bytes(bytes: Vec<u8>, config: Config) -> (Vec<Event>, Summary) {
    let mut reader = Reader::new(Cursor::new(bytes)).unwrap();
    let mut sink = Collect::default();
    Pipeline::new(config).run(&mut reader, &mut sink).unwrap();
    (sink.events, sink.summary.unwrap())
}

/// The statistics of synthetic packets written as pcapng, labelled `label`.
pub fn stats_of(packets: &[Packet], label: &str) -> xmppdump::analysis::Stats {
    let bytes = synth::write_pcapng(Vec::new(), packets).unwrap();
    let mut collector = xmppdump::analysis::Collector::new(label);
    Pipeline::new(Config::default())
        .run(
            &mut Reader::new(Cursor::new(bytes)).unwrap(),
            &mut collector,
        )
        .unwrap();
    collector.into_stats()
}

/// Runs the pipeline over synthetic packets written as pcapng.
pub fn run_packets(packets: &[Packet]) -> (Vec<Event>, Summary) {
    run_bytes(
        synth::write_pcapng(Vec::new(), packets).unwrap(),
        Config::default(),
    )
}

pub fn count(events: &[Event], pred: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.kind)).count()
}

/// Event kinds only (what happened, not where), for comparing runs.
pub fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind.clone()).collect()
}

/// One c2s session on port 5222: the client and server headers, then `lines`
/// ((from_client, xml)), then `</stream:stream>` both ways and FINs — or, with
/// `reset`, a RST instead of the closes. One segment per line, 1 ms apart.
pub fn session(client: &str, start_ns: i64, lines: &[(bool, &str)], reset: bool) -> Vec<Packet> {
    use xmppdump::model::Timestamp;
    use xmppdump::synth::{client_header, server_header, Conversation, Link};
    let client: std::net::SocketAddr = client.parse().unwrap();
    let server: std::net::SocketAddr = "10.0.0.100:5222".parse().unwrap();
    let mut c = Conversation::new(client, server, Link::Ethernet, Timestamp(start_ns));
    let mut packets = c.handshake();
    packets.extend(c.send(true, client_header("example.org").as_bytes()));
    packets.extend(c.send(false, server_header("example.org", "s1", "").as_bytes()));
    for (from_client, xml) in lines {
        packets.extend(c.send(*from_client, xml.as_bytes()));
    }
    if reset {
        packets.push(c.reset(true));
    } else {
        packets.extend(c.send(true, b"</stream:stream>"));
        packets.extend(c.send(false, b"</stream:stream>"));
        packets.extend(c.close());
    }
    packets
}

/// Writes packets to a pcapng file in the temp folder and returns its path.
pub fn temp_capture(name: &str, packets: &[Packet]) -> String {
    let dir = std::env::temp_dir().join(format!("xmppdump-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, synth::write_pcapng(Vec::new(), packets).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs the binary; returns (exit code, stdout, stderr).
pub fn xmppdump(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xmppdump"))
        .args(args)
        .env_remove("SSLKEYLOGFILE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn capture_path(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The configuration a user would pass: the capture's key log when it has one.
pub fn config_for(name: &str) -> Config {
    let stem = name.trim_end_matches(".pcap").trim_end_matches(".pcapng");
    let keylog = std::path::PathBuf::from(capture_path(&format!("{stem}.keylog")));
    Config {
        keys: keylog.exists().then(|| {
            std::sync::Arc::new(xmppdump::transport::tls::KeyStore::open(&keylog).unwrap())
        }),
        ..Config::default()
    }
}

/// The session a protocol course draws: juliet logs in, binds, announces presence,
/// fetches her roster, chats with romeo, goes offline and closes.
pub fn course_session() -> Vec<u8> {
    use xmppdump::model::Timestamp;
    use xmppdump::synth::{client_header, server_header, Conversation, Link};
    let mut c = Conversation::new(
        "192.0.2.10:50000".parse().unwrap(),
        "192.0.2.1:5222".parse().unwrap(),
        Link::Ethernet,
        Timestamp(1_700_000_000_000_000_000),
    );
    let sasl = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>";
    let bind = "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>";
    let lines: Vec<(bool, String)> = vec![
        (true, client_header("example.org")),
        (false, server_header("example.org", "s1", sasl)),
        (true, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMA==</auth>".into()),
        (false, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".into()),
        (true, client_header("example.org")),
        (false, server_header("example.org", "s2", bind)),
        (true, "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>".into()),
        (false, "<iq type='result' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.org/balcony</jid></bind></iq>".into()),
        (true, "<presence/>".into()),
        (true, "<iq type='get' id='roster_1'><query xmlns='jabber:iq:roster'/></iq>".into()),
        (false, "<iq type='result' id='roster_1' to='juliet@example.org/balcony'><query xmlns='jabber:iq:roster'><item jid='romeo@example.net' name='Romeo' subscription='both'><group>Friends</group></item></query></iq>".into()),
        (false, "<presence from='romeo@example.net/orchard' to='juliet@example.org/balcony'><show>away</show><status>In the orchard</status></presence>".into()),
        (true, "<message to='romeo@example.net' type='chat' id='m1'><body>Art thou not Romeo, and a Montague?</body></message>".into()),
        (false, "<message from='romeo@example.net/orchard' to='juliet@example.org/balcony' type='chat' id='m2'><body>Neither, fair saint, if either thee dislike.</body></message>".into()),
        (true, "<presence type='unavailable'/>".into()),
        (true, "</stream:stream>".into()),
        (false, "</stream:stream>".into()),
    ];
    let mut packets = c.handshake();
    for (from_client, xml) in &lines {
        packets.extend(c.send(*from_client, xml.as_bytes()));
    }
    packets.extend(c.close());
    synth::write_pcapng(Vec::new(), &packets).unwrap()
}

/// The session of `captures/make/prosody-sasl2.sh`, whatever its ids and times: SASL2
/// (XEP-0388) SCRAM-SHA-1 with Bind 2 (XEP-0386); SASL2 PLAIN, then stream management
/// (XEP-0198) enabled and the connection dropped; SASL2 PLAIN, then that session resumed.
pub fn assert_sasl2_session(events: &[Event]) {
    let of = |flow: u32| -> Vec<&EventKind> {
        events
            .iter()
            .filter(|e| e.flow.0 == flow)
            .map(|e| &e.kind)
            .collect()
    };
    let any =
        |kinds: &[&EventKind], pred: &dyn Fn(&EventKind) -> bool| kinds.iter().any(|k| pred(k));
    let count = |kinds: &[&EventKind], pred: &dyn Fn(&EventKind) -> bool| {
        kinds.iter().filter(|k| pred(k)).count()
    };
    let all: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
    // Everything top-level is understood, and nothing is amiss.
    assert_eq!(count(&all, &|k| matches!(k, EventKind::Element { .. })), 0);
    assert_eq!(count(&all, &|k| matches!(k, EventKind::Anomaly { .. })), 0);
    // XEP-0388 §2.1: mechanisms offered for SASL2 (in prosody's hash order), Bind 2
    // inline (XEP-0386 §2).
    assert!(any(
        &all,
        &|k| matches!(k, EventKind::Features(f) if f.bind2 && {
            let mut offered = f.sasl2.clone();
            offered.sort();
            offered == ["PLAIN", "SCRAM-SHA-1"]
        })
    ));

    let first = of(1);
    assert!(any(&first, &|k| matches!(k,
        EventKind::SaslAuth { mechanism, username: Some(u), sasl2: true, .. }
            if mechanism == "SCRAM-SHA-1" && u == "juliet")));
    assert!(any(&first, &|k| matches!(
        k,
        EventKind::SaslChallenge { sasl2: true, .. }
    )));
    assert!(any(&first, &|k| matches!(
        k,
        EventKind::SaslResponse { sasl2: true, .. }
    )));
    assert!(any(&first, &|k| matches!(k,
        EventKind::SaslSuccess { sasl2: true, bound: true, jid: Some(j), .. }
            if j.starts_with("juliet@localhost/xmppdump~"))));
    // No stream restart after SASL2 (XEP-0388 §2.6.1): one header per direction.
    assert_eq!(
        count(&first, &|k| matches!(k, EventKind::StreamHeader { .. })),
        2
    );

    let second = of(2);
    assert!(any(&second, &|k| matches!(k,
        EventKind::SaslAuth { mechanism, sasl2: true, .. } if mechanism == "PLAIN")));
    assert!(any(&second, &|k| matches!(k,
        EventKind::Sm { action, resume: true, .. } if action == "enable")));
    let enabled = second.iter().find_map(|k| match k {
        EventKind::Sm {
            action,
            id: Some(id),
            resume: true,
            max: Some(_),
            ..
        } if action == "enabled" => Some(id.clone()),
        _ => None,
    });
    let enabled = enabled.expect("stream management enabled with an id");
    assert!(any(&second, &|k| matches!(k,
        EventKind::Sm { action, h: Some(2), .. } if action == "a")));
    assert_eq!(count(&second, &|k| matches!(k, EventKind::StreamClose)), 0);

    let third = of(3);
    assert!(any(&third, &|k| matches!(k,
        EventKind::SaslSuccess { sasl2: true, bound: false, jid: Some(j), .. } if j == "juliet@localhost")));
    assert!(any(&third, &|k| matches!(k,
        EventKind::Sm { action, id: Some(id), h: Some(0), .. } if action == "resume" && *id == enabled)));
    assert!(any(&third, &|k| matches!(k,
        EventKind::Sm { action, id: Some(id), h: Some(2), .. } if action == "resumed" && *id == enabled)));
}

/// The session of `captures/make/prosody-websocket.sh`, whatever its ids and times:
/// xmpp.js upgrades to WebSocket (RFC 7395), logs in with SCRAM-SHA-1, restarts,
/// binds, sends presence, a message and a ping, closes.
/// With `wss`, the same inside TLS on prosody's HTTPS port, decrypted with the key log
/// Node.js wrote.
pub fn assert_websocket_session(events: &[Event], wss: bool) {
    use xmppdump::model::DetectedBy;
    let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
    let any = |pred: &dyn Fn(&EventKind) -> bool| kinds.iter().any(|k| pred(k));
    let by = if wss {
        DetectedBy::Port
    } else {
        DetectedBy::Websocket
    };
    assert!(any(
        &|k| matches!(k, EventKind::FlowStart { detected_by, .. } if *detected_by == by)
    ));
    // Inside TLS, everything from the upgrade on was decrypted.
    for e in events {
        let carried = matches!(
            e.kind,
            EventKind::WebsocketUpgrade { .. }
                | EventKind::StreamHeader { .. }
                | EventKind::Message(_)
        );
        if carried {
            assert_eq!(e.decrypted, wss, "{e:?}");
        }
    }
    assert!(any(&|k| matches!(k,
        EventKind::WebsocketUpgrade { path, protocol: Some(p), .. } if path == "/xmpp-websocket" && p == "xmpp")));
    assert!(any(&|k| matches!(k,
        EventKind::WebsocketAccept { status: 101, protocol: Some(p), .. } if p == "xmpp")));
    let headers = stream_headers(events);
    assert_eq!(headers.len(), 4);
    assert_eq!(headers.iter().filter(|(_, restart)| *restart).count(), 2);
    assert!(any(&|k| matches!(k,
        EventKind::SaslAuth { mechanism, username: Some(u), .. } if mechanism == "SCRAM-SHA-1" && u == "juliet")));
    assert!(any(&|k| matches!(k, EventKind::SaslSuccess { .. })));
    assert!(any(&|k| matches!(k,
        EventKind::Iq(s) if s.bound_jid() == Some("juliet@localhost/browser"))));
    assert!(any(&|k| matches!(k,
        EventKind::Message(s) if s.to() == Some("romeo@localhost") && s.body_len == Some(20))));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| matches!(k, EventKind::StreamClose))
            .count(),
        2
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| matches!(
                k,
                EventKind::WebsocketClose {
                    code: Some(1000),
                    ..
                }
            ))
            .count(),
        2
    );
    if wss {
        assert_page_passed_over(events);
    }
}

/// Over TLS the WebSocket client also loads a page from the same HTTPS port: that
/// connection is decrypted, and every byte of it counted as skipped (HTTP that is not
/// XMPP), with no stream, element or anomaly read from it.
fn assert_page_passed_over(events: &[Event]) {
    let ends: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::FlowEnd {
                to_server,
                to_client,
                ..
            } => Some((e.flow, to_server, to_client)),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 2, "the wss connection and the page's");
    let (page, to_server, to_client) = ends
        .iter()
        .find(|(_, up, _)| up.framing == 0)
        .expect("a connection without WebSocket framing");
    for bytes in [to_server, to_client] {
        assert!(bytes.decrypted > 0, "{bytes:?}");
        assert_eq!(bytes.skipped, bytes.decrypted, "{bytes:?}");
        assert_eq!(bytes.xml, 0, "{bytes:?}");
    }
    for e in events.iter().filter(|e| e.flow == *page) {
        assert!(
            !matches!(
                e.kind,
                EventKind::StreamHeader { .. }
                    | EventKind::Element { .. }
                    | EventKind::Anomaly { .. }
                    | EventKind::WebsocketUpgrade { .. }
            ),
            "{e:?}"
        );
    }
}

/// The session of `captures/make/prosody-directtls.sh`, decrypted, whatever its ids
/// and times: slixmpp speaks TLS from the first byte to prosody on a port xmppdump
/// does not know as XMPP, offering ALPN `xmpp-client` (XEP-0368 §4), which is what
/// makes the flow XMPP; inside, a whole session.
pub fn assert_directtls_session(events: &[Event]) {
    use xmppdump::model::DetectedBy;
    let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
    let count = |pred: &dyn Fn(&EventKind) -> bool| kinds.iter().filter(|k| pred(k)).count();
    assert_eq!(
        count(&|k| matches!(
            k,
            EventKind::FlowStart {
                detected_by: DetectedBy::Alpn,
                ..
            }
        )),
        1
    );
    assert_eq!(
        count(
            &|k| matches!(k, EventKind::TlsClientHello { alpn, .. } if alpn.iter().any(|p| p == "xmpp-client"))
        ),
        1
    );
    let headers = stream_headers(events);
    assert_eq!(headers.len(), 4);
    assert_eq!(headers.iter().filter(|(_, restart)| *restart).count(), 2);
    for e in events {
        if matches!(
            e.kind,
            EventKind::StreamHeader { .. } | EventKind::Message(_)
        ) {
            assert!(e.decrypted, "{e:?}");
        }
    }
    assert_eq!(
        count(
            &|k| matches!(k, EventKind::SaslAuth { mechanism, username: Some(u), .. } if mechanism == "SCRAM-SHA-1" && u == "juliet")
        ),
        1
    );
    assert_eq!(count(&|k| matches!(k, EventKind::SaslSuccess { .. })), 1);
    assert_eq!(
        count(
            &|k| matches!(k, EventKind::Iq(s) if s.bound_jid() == Some("juliet@localhost/balcony"))
        ),
        1
    );
    assert_eq!(
        count(
            &|k| matches!(k, EventKind::Message(s) if s.to() == Some("romeo@localhost") && s.body_len == Some(13))
        ),
        3
    );
    assert_eq!(count(&|k| matches!(k, EventKind::StreamClose)), 2);
    assert_eq!(count(&|k| matches!(k, EventKind::Anomaly { .. })), 0);
}

/// The session of `captures/make/prosody-bosh.sh`, whatever its ids and times: BOSH
/// session creation, SASL PLAIN, restart, bind, three stanzas in one `<body/>`, and
/// the session terminated. With `https`, the same inside TLS on an HTTPS port,
/// decrypted: the flow is XMPP by its port and every BOSH event was decrypted.
pub fn assert_bosh_session(events: &[Event], https: bool) {
    use xmppdump::model::{DetectedBy, Direction};
    let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
    let any = |pred: &dyn Fn(&EventKind) -> bool| kinds.iter().any(|k| pred(k));
    let by = if https {
        DetectedBy::Port
    } else {
        DetectedBy::Bosh
    };
    assert!(any(
        &|k| matches!(k, EventKind::FlowStart { detected_by, .. } if *detected_by == by)
    ));
    for e in events {
        if matches!(
            e.kind,
            EventKind::StreamHeader { .. } | EventKind::Message(_)
        ) {
            assert_eq!(e.decrypted, https, "{e:?}");
        }
    }
    let headers: Vec<(Direction, bool, Option<&str>)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StreamHeader { restart, id, .. } => {
                Some((e.direction, *restart, id.as_deref()))
            }
            _ => None,
        })
        .collect();
    // The session request, the creation response (authid as the stream id, XEP-0206
    // §3), and the client's restart (XEP-0206 §5).
    assert_eq!(headers.len(), 3, "{headers:?}");
    assert_eq!((headers[0].0, headers[0].1), (Direction::ToServer, false));
    assert!(headers[1].0 == Direction::ToClient && headers[1].2.is_some());
    assert_eq!((headers[2].0, headers[2].1), (Direction::ToServer, true));
    assert!(any(&|k| matches!(k,
        EventKind::SaslAuth { mechanism, username: Some(u), data: Some(d), .. }
            if mechanism == "PLAIN" && u == "juliet" && d == "REDACTED")));
    assert!(any(&|k| matches!(k,
        EventKind::Iq(s) if s.bound_jid() == Some("juliet@localhost/bosh"))));
    // Presence, message and ping came in one <body/>: three events, each its own size.
    let batch: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.direction == Direction::ToServer
                && matches!(&e.kind, EventKind::Presence(s) if s.r#type().is_none())
                || matches!(&e.kind, EventKind::Message(s) if s.id() == Some("bosh1"))
                || matches!(&e.kind, EventKind::Iq(s) if s.id() == Some("ping1") && s.r#type() == Some("get"))
        })
        .collect();
    assert_eq!(batch.len(), 3, "{batch:?}");
    assert!(batch.iter().all(|e| e.frame == batch[0].frame));
    let sizes: std::collections::BTreeSet<u64> = batch.iter().map(|e| e.size).collect();
    assert_eq!(sizes.len(), 3);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| matches!(k, EventKind::StreamClose))
            .count(),
        2
    );
    assert!(!any(&|k| matches!(k, EventKind::Anomaly { .. })));
}

/// A capture of one connection: the client's bytes, then the server's, each cut into
/// segments at `cuts` (positions past the end are ignored), then the close.
pub fn capture_cut(
    mut c: synth::Conversation,
    client: &[u8],
    server: &[u8],
    cuts: &[usize],
) -> Vec<u8> {
    let mut packets: Vec<Packet> = c.handshake();
    for (from_client, bytes) in [(true, client), (false, server)] {
        let mut at = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            let cut = cut.clamp(at, bytes.len());
            if let Some(piece) = bytes.get(at..cut).filter(|p| !p.is_empty()) {
                packets.push(c.send_one(from_client, piece));
                at = cut;
            }
        }
    }
    packets.extend(c.close());
    synth::write_pcap(Vec::new(), &packets, false, false).unwrap()
}

/// Events as they compare across different cuts of the same bytes: without frame
/// numbers and times, and without the flow's end (its frame).
pub fn comparable(events: &[Event]) -> Vec<(xmppdump::model::Direction, u64, u64, EventKind)> {
    events
        .iter()
        .filter(|e| !matches!(e.kind, EventKind::FlowEnd { .. }))
        .map(|e| (e.direction, e.offset.0, e.size, e.kind.clone()))
        .collect()
}

/// Each stream header's direction, and whether it was a restart.
pub fn stream_headers(events: &[Event]) -> Vec<(xmppdump::model::Direction, bool)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StreamHeader { restart, .. } => Some((e.direction, *restart)),
            _ => None,
        })
        .collect()
}

/// The byte counters of the first connection's `flow_end`.
#[allow(dead_code)] // each test binary compiles this module and uses part of it
pub fn flow_end(
    events: &[Event],
) -> (
    xmppdump::model::DirectionBytes,
    xmppdump::model::DirectionBytes,
) {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::FlowEnd {
                to_server,
                to_client,
                ..
            } => Some((*to_server, *to_client)),
            _ => None,
        })
        .expect("a flow end")
}

/// Runs `xmppdump -r PATH --json` under a 512 MiB address-space limit (a
/// compression bomb must stay far below it) and asserts it succeeds with exactly
/// one `compression_error`, a bomb; returns the first `flow_end` as JSON.
#[allow(dead_code)] // each test binary compiles this module and uses part of it
pub fn assert_one_bomb_within_address_limit(path: &str) -> serde_json::Value {
    let out = std::process::Command::new("prlimit")
        .arg(format!("--as={}", 512u64 << 20))
        .arg(env!("CARGO_BIN_EXE_xmppdump"))
        .args(["-r", path, "--json"])
        .output()
        .expect("prlimit (util-linux) runs the binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bombs: Vec<_> = stdout
        .lines()
        .filter(|l| l.contains("\"anomaly\":\"compression_error\""))
        .collect();
    assert_eq!(bombs.len(), 1, "{stdout}");
    assert!(bombs[0].contains("compression bomb"), "{}", bombs[0]);
    stdout
        .lines()
        .filter(|l| l.contains("\"event\":\"flow_end\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .next()
        .expect("a flow end")
}

/// How many bytes `compressed` (zlib with its header, or raw DEFLATE) inflates to,
/// counted by flate2 directly, 1 MiB at a time: the test's own measure of a bomb.
#[allow(dead_code)] // each test binary compiles this module and uses part of it
pub fn inflated_len(compressed: &[u8], zlib_header: bool) -> u64 {
    let mut d = flate2::Decompress::new(zlib_header);
    let mut out = vec![0u8; 1 << 20];
    let (mut total, mut at) = (0u64, 0);
    while at < compressed.len() {
        let before = (d.total_in(), d.total_out());
        d.decompress(&compressed[at..], &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        at += (d.total_in() - before.0) as usize;
        total += d.total_out() - before.1;
    }
    total
}

/// The events of a bundled capture (with its key log, if it has one).
#[allow(dead_code)] // each test binary compiles this module and uses part of it
pub fn events_of(name: &str) -> Vec<Event> {
    let bytes = std::fs::read(capture_path(name)).unwrap();
    run_bytes(bytes, config_for(name)).0
}

/// A bundled capture's ground truth, `NAME.truth.json` beside `NAME.pcap`.
#[allow(dead_code)] // each test binary compiles this module and uses part of it
pub fn truth(name: &str) -> serde_json::Value {
    let path = capture_path(&name.replace(".pcap", ".truth.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (name, id) of each stanza of one direction, in order.
#[allow(dead_code)] // each test binary compiles this module and uses part of it
pub fn stanzas(events: &[Event], dir: xmppdump::model::Direction) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e.direction == dir)
        .filter_map(|e| match &e.kind {
            EventKind::Message(s) => Some(("message", s)),
            EventKind::Presence(s) => Some(("presence", s)),
            EventKind::Iq(s) => Some(("iq", s)),
            _ => None,
        })
        .map(|(name, s)| (name.to_owned(), s.id().unwrap_or_default().to_owned()))
        .collect()
}

/// After `packets`, the client's `client` and the server's `server` bytes, each
/// sent as two segments cut at `cut`, then the close.
#[allow(dead_code)] // each test binary compiles this module and uses part of it
pub fn send_cut(
    mut c: synth::Conversation,
    mut packets: Vec<Packet>,
    client: &[u8],
    server: &[u8],
    cut: usize,
) -> Vec<Packet> {
    for (from_client, bytes) in [(true, client), (false, server)] {
        let cut = cut.min(bytes.len());
        for piece in [&bytes[..cut], &bytes[cut..]] {
            if !piece.is_empty() {
                packets.push(c.send_one(from_client, piece));
            }
        }
    }
    packets.extend(c.close());
    packets
}
