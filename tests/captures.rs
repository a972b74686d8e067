//! Every capture in `captures/`: snapshots of both printers, and facts checked by hand
//! against the packets (see captures/README.md).

mod common;

use common::{config_for, Collect, CAPTURES};
use std::fs::File;
use xmppdump::analysis::Collector;
use xmppdump::capture::Reader;
use xmppdump::model::{Direction, Event, EventKind, FlowId, StreamKind};
use xmppdump::output::ndjson::Ndjson;
use xmppdump::output::text::Text;
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::sink::Summary;

fn open(name: &str) -> Reader {
    let path = format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    Reader::new(File::open(path).unwrap()).unwrap()
}

fn events(name: &str) -> (Vec<Event>, Summary) {
    let mut sink = Collect::default();
    // With the capture's key log, when it has one.
    Pipeline::new(config_for(name))
        .run(&mut open(name), &mut sink)
        .unwrap();
    (sink.events, sink.summary.unwrap())
}

fn printed(name: &str, json: bool) -> String {
    let mut reader = open(name);
    let out = if json {
        let mut sink = Ndjson::new(Vec::new());
        Pipeline::new(config_for(name))
            .run(&mut reader, &mut sink)
            .unwrap();
        sink.into_inner()
    } else {
        let mut sink = Text::new(Vec::new());
        Pipeline::new(config_for(name))
            .run(&mut reader, &mut sink)
            .unwrap();
        sink.into_inner()
    };
    String::from_utf8(out).unwrap()
}

#[test]
fn snapshots_of_every_capture() {
    for name in CAPTURES {
        insta::assert_snapshot!(format!("{name}.txt"), printed(name, false));
        insta::assert_snapshot!(format!("{name}.ndjson"), printed(name, true));
    }
}

#[test]
fn every_capture_in_the_folder_is_covered() {
    let dir = format!("{}/captures", env!("CARGO_MANIFEST_DIR"));
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    found.sort();
    let mut known: Vec<String> = CAPTURES
        .iter()
        .chain(common::LARGE_CAPTURES)
        .map(|s| s.to_string())
        .collect();
    known.sort();
    assert_eq!(found, known);
}

fn count(events: &[Event], pred: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.kind)).count()
}

#[test]
fn ndpi_clear_c2s_sessions() {
    let (events, summary) = events("ndpi_jabber.pcap");
    // Seven clear c2s flows on 5222, five on 5223 (not TLS: binary framing).
    let c2s_flows: std::collections::BTreeSet<_> = events
        .iter()
        .filter(
            |e| matches!(&e.kind, EventKind::FlowStart { server, .. } if server.ends_with(":5222")),
        )
        .map(|e| e.flow)
        .collect();
    assert_eq!(c2s_flows.len(), 7);
    assert_eq!(
        count(&events, |k| matches!(
            k,
            EventKind::Anomaly {
                anomaly: xmppdump::model::Anomaly::NotTls,
                ..
            }
        )),
        10
    );
    // SASL DIGEST-MD5 three times: two successes, one failure (not-authorized).
    assert_eq!(
        count(
            &events,
            |k| matches!(k, EventKind::SaslAuth { mechanism, .. } if mechanism == "DIGEST-MD5")
        ),
        3
    );
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::SaslSuccess { .. })),
        2
    );
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::SaslFailure { .. })),
        1
    );
    assert!(count(&events, |k| matches!(k, EventKind::SaslChallenge { .. })) >= 2);
    // The stream restart after SASL success (RFC 6120 §6.4.6), in both directions.
    assert_eq!(
        count(&events, |k| matches!(
            k,
            EventKind::StreamHeader { restart: true, .. }
        )),
        4
    );
    assert_eq!(
        (summary.iqs, summary.presences, summary.messages),
        (84, 9, 5)
    );
    assert_eq!(count(&events, |k| matches!(k, EventKind::StreamClose)), 4);
    // Resource binding returns the full JID.
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::Iq(s) if s.bound_jid() == Some("tom@cs-xmpp.lan/darkstar"))
    ));
    // Secrets are redacted by default.
    assert!(events.iter().all(
        |e| !matches!(&e.kind, EventKind::SaslResponse { data: Some(d), .. } if d != "REDACTED")
    ));
}

#[test]
fn zeek_starttls_c2s() {
    let (events, _) = events("zeek_xmpp-starttls.pcap");
    let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::Features(f) if f.starttls.as_deref() == Some("required"))));
    let starttls = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::StartTls))
        .unwrap();
    let proceed = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::TlsProceed))
        .unwrap();
    assert!(starttls < proceed);
    assert_eq!(events[starttls].direction, Direction::ToServer);
    assert_eq!(events[proceed].direction, Direction::ToClient);
    // After <proceed/> everything is TLS: no XML events, bytes counted as TLS.
    let end = events.iter().find_map(|e| match &e.kind {
        EventKind::FlowEnd {
            to_server,
            to_client,
            ..
        } => Some((*to_server, *to_client)),
        _ => None,
    });
    let (to_server, to_client) = end.unwrap();
    assert!(to_server.tls > 0 && to_client.tls > 0);
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::Anomaly { .. })),
        0
    );
    // The TLS handshake after <proceed/>: TLS 1.2, the server's certificate in the clear.
    let (hello, certs) = tls_after(&events, proceed);
    assert_eq!(
        hello,
        (
            "TLS 1.2".into(),
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into()
        )
    );
    assert_eq!(certs.len(), 1, "only the server sends a certificate in c2s");
    let (dir, chain) = &certs[0];
    assert_eq!(*dir, Direction::ToClient);
    assert_eq!(chain.len(), 2);
    assert!(
        chain[0].subject.ends_with("CN=jabber.ccc.de"),
        "{}",
        chain[0].subject
    );
    assert!(chain[0]
        .san
        .contains(&"DNS:conference.jabber.ccc.de".to_string()));
    assert!(
        chain[0].issuer.contains("CA Cert Signing Authority"),
        "{}",
        chain[0].issuer
    );
    assert!(to_server.tls_records > 0 && to_client.tls_records > 0);
}

type Chain = Vec<xmppdump::model::CertificateInfo>;

/// The ServerHello (version, suite) and the certificate chains after event `from`.
fn tls_after(events: &[Event], from: usize) -> ((String, String), Vec<(Direction, Chain)>) {
    let after = &events[from..];
    let hello = after
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::TlsServerHello {
                version,
                cipher_suite,
                ..
            } => Some((version.clone(), cipher_suite.clone())),
            _ => None,
        })
        .unwrap();
    assert!(after
        .iter()
        .any(|e| matches!(e.kind, EventKind::TlsClientHello { .. })));
    let certs = after
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TlsCertificate { certificates } => Some((e.direction, certificates.clone())),
            _ => None,
        })
        .collect();
    (hello, certs)
}

#[test]
fn zeek_dialback_s2s_with_client_port_1193() {
    let (events, _) = events("zeek_xmpp-dialback-starttls.pcap");
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::FlowStart { client, server, .. }
        if client.ends_with(":1193") && server.ends_with(":5269"))
    ));
    let headers: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StreamHeader {
                stream_kind,
                dialback,
                ..
            } => Some((*stream_kind, *dialback)),
            _ => None,
        })
        .collect();
    assert_eq!(
        headers,
        vec![(StreamKind::S2s, true), (StreamKind::S2s, true)]
    );
    assert_eq!(count(&events, |k| matches!(k, EventKind::StartTls)), 1);
    assert_eq!(count(&events, |k| matches!(k, EventKind::TlsProceed)), 1);
    // s2s TLS: both servers show a certificate (the initiator authenticates too).
    let proceed = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::TlsProceed))
        .unwrap();
    let (hello, certs) = tls_after(&events, proceed);
    assert_eq!(hello.0, "TLS 1.2");
    let subjects: Vec<(Direction, &str)> = certs
        .iter()
        .map(|(d, chain)| (*d, chain[0].subject.as_str()))
        .collect();
    assert_eq!(
        subjects,
        [
            (
                Direction::ToClient,
                "OU=Domain Control Validated, OU=Free SSL, CN=www.0xxon.net"
            ),
            (
                Direction::ToServer,
                "OU=Domain Control Validated, CN=*.hosted.im"
            ),
        ]
    );
    // Only one connection: packets after the FINs do not open a second flow.
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::FlowStart { .. })),
        1
    );
}

#[test]
fn xmpptrace_component_on_port_7400_found_by_content() {
    let (events, _) = events("xmpptrace_testWx2RequestMessageXMPPtoWx2.pcap");
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::FlowStart { server, detected_by: xmppdump::model::DetectedBy::Content, .. } if server.ends_with(":7400"))));
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::StreamHeader {
            stream_kind: StreamKind::Component,
            ..
        }
    )));
    assert!(
        count(&events, |k| matches!(
            k,
            EventKind::ComponentHandshake { digest_len: 40 }
        )) >= 1
    );
    assert!(
        count(&events, |k| matches!(
            k,
            EventKind::ComponentHandshake { digest_len: 0 }
        )) >= 1
    );
}

#[test]
fn godpi_half_stream_without_server_header() {
    let (events, _) = events("godpi_jabber.pcap");
    let first_flow = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::FlowStart { .. }))
        .unwrap()
        .flow;
    let of_flow: Vec<_> = events.iter().filter(|e| e.flow == first_flow).collect();
    assert!(of_flow
        .iter()
        .any(|e| matches!(e.kind, EventKind::StreamHeader { .. })
            && e.direction == Direction::ToServer));
    assert!(!of_flow
        .iter()
        .any(|e| matches!(e.kind, EventKind::StreamHeader { .. })
            && e.direction == Direction::ToClient));
    assert!(of_flow
        .iter()
        .any(|e| matches!(e.kind, EventKind::StreamClose) && e.direction == Direction::ToServer));
}

/// Facts of the real prosody session (captures/make/prosody-sasl2.sh and its client
/// script say what was sent; each value below was read off the packets). The live test
/// checks the same facts on a session made afresh.
#[test]
fn prosody_sasl2_bind2_and_stream_management() {
    let (events, summary) = events("prosody_sasl2.pcap");
    assert_eq!(summary.xmpp_flows, 3);
    common::assert_sasl2_session(&events);
    // The lengths of this run's SCRAM messages.
    let first: Vec<&EventKind> = events
        .iter()
        .filter(|e| e.flow.0 == 1)
        .map(|e| &e.kind)
        .collect();
    assert!(first.iter().any(|k| matches!(k,
        EventKind::SaslAuth { data_len: 56, data: Some(d), .. } if d == "REDACTED")));
    assert!(first
        .iter()
        .any(|k| matches!(k, EventKind::SaslChallenge { data_len: 168, .. })));
    assert!(first.iter().any(|k| matches!(k,
        EventKind::SaslResponse { data_len: 140, data: Some(d), .. } if d == "REDACTED")));
    assert!(first
        .iter()
        .any(|k| matches!(k, EventKind::SaslSuccess { data_len: 40, .. })));
}

/// XMPP over WebSocket between prosody and xmpp.js (captures/make/prosody-websocket.sh);
/// tests/wireshark.rs checks the messages against tshark's WebSocket dissector.
#[test]
fn prosody_websocket_with_xmppjs() {
    let (events, summary) = events("prosody_websocket.pcap");
    assert_eq!((summary.xmpp_flows, summary.anomalies), (1, 0));
    common::assert_websocket_session(&events, false);
}

/// The same over TLS (wss:// on prosody's HTTPS port 5281), decrypted with the key log
/// Node.js wrote (`--tls-keylog`): the HTTP upgrade inside TLS starts the carrier. A
/// second connection loads a page from the same port: decrypted and passed over.
#[test]
fn prosody_wss_decrypted_with_the_key_log_of_nodejs() {
    let (events, summary) = events("prosody_wss.pcap");
    // Both connections are on an XMPP port; only the first carries XMPP.
    assert_eq!((summary.xmpp_flows, summary.anomalies), (2, 0));
    common::assert_websocket_session(&events, true);
    let Some(EventKind::FlowEnd { to_server, .. }) = events
        .iter()
        .find(|e| e.flow == FlowId(1) && matches!(e.kind, EventKind::FlowEnd { .. }))
        .map(|e| &e.kind)
    else {
        panic!("no flow end")
    };
    // Of the decrypted bytes, what was not XMPP was HTTP and frame headers.
    assert_eq!(to_server.decrypted, to_server.xml + to_server.framing);
}

/// XMPP over direct TLS on port 443 (XEP-0368) between prosody and slixmpp, found by
/// the ALPN protocol `xmpp-client` of the ClientHello and read with the key log
/// (captures/make/prosody-directtls.sh).
#[test]
fn prosody_directtls_on_443_found_by_alpn() {
    let (events, summary) = events("prosody_directtls.pcap");
    assert_eq!((summary.xmpp_flows, summary.anomalies), (1, 0));
    common::assert_directtls_session(&events);
}

/// Without the key log the same flow is still XMPP (the ClientHello is in the clear),
/// and the statistics count it as c2s from its ALPN protocol: no stream header says so.
#[test]
fn prosody_directtls_without_keys_is_c2s_by_alpn() {
    let bytes = std::fs::read(common::capture_path("prosody_directtls.pcap")).unwrap();
    let (events, summary) = common::run_bytes(bytes.clone(), Config::default());
    assert_eq!((summary.xmpp_flows, summary.streams), (1, 0));
    assert!(events.iter().all(|e| !e.decrypted));
    let mut collector = Collector::new("prosody_directtls.pcap");
    let mut reader = Reader::new(std::io::Cursor::new(bytes)).unwrap();
    Pipeline::new(Config::default())
        .run(&mut reader, &mut collector)
        .unwrap();
    let stats = collector.into_stats();
    assert_eq!(stats.sessions.len(), 1);
    assert_eq!(stats.sessions[0].stream, Some(StreamKind::C2s));
}

/// XMPP over BOSH between prosody and a scripted client (captures/make/prosody-bosh.sh);
/// tests/wireshark.rs checks the bodies against tshark's HTTP dissector.
#[test]
fn prosody_bosh() {
    let (events, summary) = events("prosody_bosh.pcap");
    assert_eq!(summary.xmpp_flows, 1);
    common::assert_bosh_session(&events, false);
}

/// The same over https:// on prosody's HTTPS port, decrypted with the key log of
/// Python's ssl module. Python's http.client writes a request's head and body in two
/// TLS records: the carrier is still found (the client's first decrypted bytes are
/// held until they tell what they carry).
#[test]
fn prosody_bosh_https_decrypted_with_its_key_log() {
    let (events, summary) = events("prosody_bosh_https.pcap");
    assert_eq!((summary.xmpp_flows, summary.anomalies), (1, 0));
    common::assert_bosh_session(&events, true);
}
