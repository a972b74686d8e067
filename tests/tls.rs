//! TLS sessions made by a real TLS stack (rustls, client and server in memory, with
//! its key log hook), written to pcap and decrypted by xmppdump: the XMPP events
//! inside TLS must equal those of the same conversation in the clear.

mod common;
mod tls_harness;

use common::{kinds, run_bytes};
use rustls::crypto::ring as provider;
use std::sync::Arc;
use tls_harness::{peers, session_with, setup, Peers, Setup};
use xmppdump::model::{Anomaly, Event, EventKind, Timestamp};
use xmppdump::pipeline::Config;
use xmppdump::synth::{self, client_header, Conversation, Link, Packet};
use xmppdump::transport::tls::{KeyLog, KeyStore};

/// One session carrying [`inner_dialogue`].
fn session(peers: &Peers, starttls: bool, port: u16, mss: usize) -> Vec<Packet> {
    session_with(peers, &inner_dialogue(), starttls, port, mss, false)
}

/// The XMPP dialogue that runs inside TLS (and, for comparison, in the clear).
fn inner_dialogue() -> Vec<(bool, String)> {
    let mut lines = vec![
        (true, client_header("example.org")),
        (
            false,
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s2' from='example.org' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>".to_string(),
        ),
        (
            true,
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABzZWNyZXQ=</auth>".to_string(),
        ),
        (false, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".to_string()),
        (true, client_header("example.org")),
        (
            false,
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s3' from='example.org' version='1.0'><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>".to_string(),
        ),
        (
            true,
            "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>".to_string(),
        ),
        (
            false,
            "<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.org/balcony</jid></bind></iq>".to_string(),
        ),
        (true, "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>".to_string()),
        (
            false,
            "<iq type='result' id='r1' to='juliet@example.org/balcony'><query xmlns='jabber:iq:roster'><item jid='romeo@example.net' subscription='both'/></query></iq>".to_string(),
        ),
        (true, "<presence><show>chat</show></presence>".to_string()),
    ];
    // A message longer than one TLS record (2^14 bytes) so records span segments.
    let long_body = "wherefore art thou ".repeat(1200);
    lines.push((
        true,
        format!("<message to='romeo@example.net' type='chat' id='m1'><body>{long_body}</body></message>"),
    ));
    for i in 0..20 {
        lines.push((
            i % 2 == 0,
            format!("<message to='romeo@example.net' type='chat' id='n{i}'><body>line {i}</body></message>"),
        ));
    }
    lines.push((true, "<presence type='unavailable'/>".to_string()));
    lines.push((true, "</stream:stream>".to_string()));
    lines.push((false, "</stream:stream>".to_string()));
    lines
}

/// A STARTTLS session on port 5222 through rustls, and the key log it wrote.
fn starttls_session(setup: &Setup) -> (Vec<Packet>, String) {
    let peers = peers(setup);
    let packets = session(&peers, true, 5222, setup.mss);
    let keylog = peers.log.0.lock().unwrap().clone();
    (packets, keylog)
}

/// The same inner dialogue in the clear.
fn clear_session() -> Vec<Packet> {
    let mut conv = Conversation::new(
        "192.0.2.1:40001".parse().unwrap(),
        "192.0.2.2:5222".parse().unwrap(),
        Link::Ethernet,
        Timestamp(1_700_000_000_000_000_000),
    );
    let mut packets = conv.handshake();
    for (from_client, xml) in inner_dialogue() {
        packets.extend(conv.send(from_client, xml.as_bytes()));
    }
    packets.extend(conv.close());
    packets
}

fn analyse(packets: &[Packet], keylog: Option<&str>) -> Vec<Event> {
    let keys =
        keylog.map(|text| Arc::new(KeyStore::from_log(KeyLog::parse(text.as_bytes()).unwrap())));
    let pcap = synth::write_pcap(Vec::new(), packets, false, false).unwrap();
    let config = Config {
        keys,
        ..Config::default()
    };
    run_bytes(pcap, config).0
}

/// XMPP events only: what the stream parser reported, with direction.
fn xmpp_events(events: &[Event], decrypted: bool) -> Vec<(xmppdump::model::Direction, EventKind)> {
    events
        .iter()
        .filter(|e| e.decrypted == decrypted)
        .filter(|e| {
            !e.kind.is_tls_layer()
                && !matches!(
                    e.kind,
                    EventKind::FlowStart { .. } | EventKind::FlowEnd { .. }
                )
        })
        .map(|e| (e.direction, e.kind.clone()))
        .collect()
}

fn check_suite(setup: Setup, suite_name: &str, version: &str) {
    let (packets, keylog) = starttls_session(&setup);
    // XMPPDUMP_TLS_SAMPLES=DIR keeps each session and its key log (fuzz seeds, demos).
    if let Some(dir) = std::env::var_os("XMPPDUMP_TLS_SAMPLES") {
        let dir = std::path::Path::new(&dir);
        let pcap = synth::write_pcap(Vec::new(), &packets, false, false).unwrap();
        std::fs::write(dir.join(format!("{suite_name}.pcap")), pcap).unwrap();
        std::fs::write(dir.join(format!("{suite_name}.keylog")), &keylog).unwrap();
    }
    let events = analyse(&packets, Some(&keylog));
    let anomalies: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Anomaly { .. }))
        .collect();
    assert!(anomalies.is_empty(), "{anomalies:#?}");
    // The decrypted XMPP equals the clear conversation, event for event.
    let clear = analyse(&clear_session(), None);
    let inside = xmpp_events(&events, true);
    assert_eq!(inside, xmpp_events(&clear, false));
    assert!(inside.len() > 30, "{}", inside.len());
    // The handshake metadata is what rustls negotiated.
    let server_hello = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::TlsServerHello {
                version: v,
                cipher_suite,
                ..
            } => Some((v.clone(), cipher_suite.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(server_hello, (version.to_string(), suite_name.to_string()));
    let hello = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::TlsClientHello { .. }))
        .unwrap();
    let EventKind::TlsClientHello { sni, alpn, .. } = &hello.kind else {
        unreachable!()
    };
    assert_eq!(sni.as_deref(), Some("example.org"));
    assert_eq!(alpn, &["xmpp-client".to_string()]);
    // Both sides finished; the server's certificate chain was read (decrypted in 1.3).
    assert_eq!(
        kinds(&events)
            .iter()
            .filter(|k| **k == EventKind::TlsFinished)
            .count(),
        2
    );
    let certs = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::TlsCertificate { certificates } => Some(certificates.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0].subject, "CN=example.org");
    assert_eq!(certs[0].issuer, "CN=xmppdump test CA");
    assert_eq!(certs[0].san, ["DNS:example.org", "xmppAddr:example.org"]);
    // The close_notify alerts were decrypted.
    let alerts = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::TlsAlert { description, .. } if description == "close_notify"))
        .count();
    assert_eq!(alerts, 2);
    // Counters at the flow's end.
    let Some(EventKind::FlowEnd {
        to_server,
        to_client,
        ..
    }) = events.last().map(|e| &e.kind)
    else {
        panic!("no flow end")
    };
    let sent: usize = inner_dialogue()
        .iter()
        .filter(|(c, _)| *c)
        .map(|(_, x)| x.len())
        .sum();
    assert_eq!(to_server.decrypted, sent as u64);
    assert!(to_server.tls_records > 3 && to_client.tls_records > 3);
    assert!(to_client.decrypted > 0);

    // Without keys: the same handshake metadata, nothing decrypted, no anomaly.
    let opaque = analyse(&packets, None);
    assert!(opaque.iter().all(|e| !e.decrypted));
    assert!(xmpp_events(&opaque, false)
        .iter()
        .all(|(_, k)| !matches!(k, EventKind::Message(_) | EventKind::Anomaly { .. })));
    assert!(opaque
        .iter()
        .any(|e| matches!(e.kind, EventKind::TlsServerHello { .. })));
}

use provider::cipher_suite as cs;

#[test]
fn tls13_aes_128_gcm_sha256() {
    check_suite(
        setup(cs::TLS13_AES_128_GCM_SHA256, true, 1400),
        "TLS_AES_128_GCM_SHA256",
        "TLS 1.3",
    );
}

#[test]
fn tls13_aes_256_gcm_sha384() {
    check_suite(
        setup(cs::TLS13_AES_256_GCM_SHA384, true, 1400),
        "TLS_AES_256_GCM_SHA384",
        "TLS 1.3",
    );
}

#[test]
fn tls13_chacha20_poly1305_sha256_in_tiny_segments() {
    // 7-byte segments: every record header and handshake message is split.
    check_suite(
        setup(cs::TLS13_CHACHA20_POLY1305_SHA256, true, 7),
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS 1.3",
    );
}

#[test]
fn tls12_ecdhe_ecdsa_aes_128_gcm_sha256() {
    check_suite(
        setup(cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false, 1400),
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS 1.2",
    );
}

#[test]
fn tls12_ecdhe_ecdsa_aes_256_gcm_sha384_in_big_segments() {
    // 64 KiB segments: several records per segment.
    check_suite(
        setup(cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, false, 65_000),
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS 1.2",
    );
}

#[test]
fn tls12_ecdhe_ecdsa_chacha20_poly1305_sha256() {
    check_suite(
        setup(
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            false,
            1400,
        ),
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS 1.2",
    );
}

/// Anomalies of one kind.
fn anomalies(events: &[Event], kind: Anomaly) -> usize {
    events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Anomaly { anomaly, .. } if *anomaly == kind))
        .count()
}

#[test]
fn a_key_log_for_other_sessions_is_a_missing_key() {
    let (packets, _) = starttls_session(&setup(cs::TLS13_AES_128_GCM_SHA256, true, 1400));
    let (_, other_log) = starttls_session(&setup(cs::TLS13_AES_128_GCM_SHA256, true, 1400));
    let events = analyse(&packets, Some(&other_log));
    assert_eq!(anomalies(&events, Anomaly::TlsNoKey), 1);
    assert!(events.iter().all(|e| !e.decrypted));
}

#[test]
fn wrong_secrets_for_the_right_session_fail_authentication() {
    let setup = setup(cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false, 1400);
    let (packets, keylog) = starttls_session(&setup);
    // Same client random, another master secret.
    let wrong: String = keylog
        .lines()
        .map(|l| {
            let mut f = l.split(' ');
            let (label, random) = (f.next().unwrap(), f.next().unwrap());
            format!("{label} {random} {}\n", "11".repeat(48))
        })
        .collect();
    let events = analyse(&packets, Some(&wrong));
    // One failure per direction, then each stays opaque.
    assert_eq!(anomalies(&events, Anomaly::TlsDecryptFailed), 2);
    assert!(events.iter().all(|e| !e.decrypted));
}

#[test]
fn a_flipped_ciphertext_byte_fails_that_direction_only() {
    let setup = setup(cs::TLS13_AES_256_GCM_SHA384, true, 1400);
    let (mut packets, keylog) = starttls_session(&setup);
    // Flip a byte in the last data segment the server sent (its close_notify or a message).
    let index = packets
        .iter()
        .rposition(|p| p.data.len() > 80 && p.data[34..36] == 5222u16.to_be_bytes())
        .unwrap();
    let last = packets[index].data.len() - 3;
    packets[index].data[last] ^= 0x40;
    let events = analyse(&packets, Some(&keylog));
    assert_eq!(anomalies(&events, Anomaly::TlsDecryptFailed), 1);
    // Everything the client sent is still decrypted.
    let clear = analyse(&clear_session(), None);
    let client_side = |e: &[(xmppdump::model::Direction, EventKind)]| {
        e.iter()
            .filter(|(d, _)| *d == xmppdump::model::Direction::ToServer)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        client_side(&xmpp_events(&events, true)),
        client_side(&xmpp_events(&clear, false))
    );
}

#[test]
fn a_capture_cut_inside_a_record_ends_quietly() {
    let setup = setup(cs::TLS13_AES_128_GCM_SHA256, true, 300);
    let (packets, keylog) = starttls_session(&setup);
    for cut in [packets.len() / 3, packets.len() / 2, packets.len() - 5] {
        let events = analyse(&packets[..cut], Some(&keylog));
        assert_eq!(
            anomalies(&events, Anomaly::TlsDecryptFailed),
            0,
            "cut at {cut}"
        );
        assert!(matches!(
            events.last().unwrap().kind,
            EventKind::FlowEnd { .. }
        ));
    }
}

fn decrypted_messages(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| e.decrypted && matches!(e.kind, EventKind::Message(_)))
        .count()
}

#[test]
fn direct_tls_on_5223_and_by_client_hello_on_5222() {
    let setup = setup(cs::TLS13_AES_128_GCM_SHA256, true, 1400);
    let peers = peers(&setup);
    let clear = analyse(&clear_session(), None);
    for port in [5223, 5222] {
        let packets = session(&peers, false, port, 1400);
        let keylog = peers.log.0.lock().unwrap().clone();
        let events = analyse(&packets, Some(&keylog));
        assert_eq!(
            xmpp_events(&events, true),
            xmpp_events(&clear, false),
            "port {port}"
        );
        assert!(xmpp_events(&events, false).is_empty(), "port {port}");
    }
}

#[test]
fn hello_retry_request_is_shown_and_decryption_follows_the_second_hello() {
    let mut setup = setup(cs::TLS13_AES_256_GCM_SHA384, true, 1400);
    // The client's first key share is X25519; a server that only takes P-256 retries.
    setup.server_groups = vec![provider::kx_group::SECP256R1];
    let (packets, keylog) = starttls_session(&setup);
    let events = analyse(&packets, Some(&keylog));
    let hellos: Vec<bool> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::TlsServerHello { hello_retry, .. } => Some(hello_retry),
            _ => None,
        })
        .collect();
    assert_eq!(hellos, [true, false]);
    assert_eq!(
        count_kind(&events, |k| matches!(k, EventKind::TlsClientHello { .. })),
        2
    );
    assert_eq!(decrypted_messages(&events), 21);
}

fn count_kind(events: &[Event], pred: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.kind)).count()
}

#[test]
fn resumed_sessions_are_marked_and_decrypted() {
    for tls13 in [true, false] {
        let suite = if tls13 {
            cs::TLS13_AES_128_GCM_SHA256
        } else {
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        };
        let peers = peers(&setup(suite, tls13, 1400));
        let _first = session(&peers, true, 5222, 1400);
        let second = session(&peers, true, 5222, 1400);
        let keylog = peers.log.0.lock().unwrap().clone();
        let events = analyse(&second, Some(&keylog));
        let resumed = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::TlsServerHello { resumed: true, .. }));
        assert!(resumed, "tls13={tls13}");
        // No certificate in an abbreviated handshake, yet everything decrypts.
        assert_eq!(
            count_kind(&events, |k| matches!(k, EventKind::TlsCertificate { .. })),
            0
        );
        assert_eq!(decrypted_messages(&events), 21, "tls13={tls13}");
        assert_eq!(anomalies(&events, Anomaly::TlsDecryptFailed), 0);
    }
}

#[test]
fn key_updates_move_both_directions_to_the_next_secret() {
    let peers = peers(&setup(cs::TLS13_CHACHA20_POLY1305_SHA256, true, 1400));
    let packets = session_with(&peers, &inner_dialogue(), true, 5222, 1400, true);
    let keylog = peers.log.0.lock().unwrap().clone();
    let events = analyse(&packets, Some(&keylog));
    let clear = analyse(&clear_session(), None);
    assert_eq!(xmpp_events(&events, true), xmpp_events(&clear, false));
    assert_eq!(anomalies(&events, Anomaly::TlsDecryptFailed), 0);
}

#[test]
fn proceed_without_starttls_is_flagged_and_tls_still_followed() {
    let peers = peers(&setup(cs::TLS13_AES_128_GCM_SHA256, true, 1400));
    let mut client =
        rustls::ClientConnection::new(peers.client.clone(), "example.org".try_into().unwrap())
            .unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    let mut conv = Conversation::new(
        "192.0.2.1:40000".parse().unwrap(),
        "192.0.2.2:5222".parse().unwrap(),
        Link::Ethernet,
        Timestamp(1_700_000_000_000_000_000),
    );
    let mut packets = conv.handshake();
    packets.extend(conv.send(true, client_header("example.org").as_bytes()));
    packets.extend(conv.send(false, tls_harness::SERVER_OPEN.as_bytes()));
    packets.extend(conv.send(false, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    packets.extend(conv.send(true, &hello));
    packets.extend(conv.close());
    let events = analyse(&packets, None);
    assert_eq!(anomalies(&events, Anomaly::UnexpectedProceed), 1);
    assert_eq!(
        count_kind(
            &events,
            |k| matches!(k, EventKind::TlsClientHello { sni: Some(s), .. } if s == "example.org")
        ),
        1
    );
}

/// A hand-built TLS 1.2 handshake record: `msg_type`, then `body`.
fn handshake_record(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut msg = vec![msg_type, 0, (body.len() >> 8) as u8, body.len() as u8];
    msg.extend_from_slice(body);
    let mut record = vec![0x16, 3, 3, (msg.len() >> 8) as u8, msg.len() as u8];
    record.extend(msg);
    record
}

#[test]
fn a_cbc_suite_is_named_as_unsupported_once() {
    let mut client_hello = vec![3, 3];
    client_hello.extend([0x11; 32]);
    client_hello.extend([0, 0, 2, 0xC0, 0x13, 1, 0]);
    let mut server_hello = vec![3, 3];
    server_hello.extend([0x22; 32]);
    server_hello.extend([0, 0xC0, 0x13, 0]);
    let mut conv = Conversation::new(
        "192.0.2.1:40000".parse().unwrap(),
        "192.0.2.2:5223".parse().unwrap(),
        Link::Ethernet,
        Timestamp(1_700_000_000_000_000_000),
    );
    let mut packets = conv.handshake();
    packets.extend(conv.send(true, &handshake_record(1, &client_hello)));
    let mut flight = handshake_record(2, &server_hello);
    flight.extend([0x14, 3, 3, 0, 1, 1]); // ChangeCipherSpec
    flight.extend([0x16, 3, 3, 0, 40]); // encrypted Finished
    flight.extend([0x5a; 40]);
    flight.extend([0x17, 3, 3, 0, 40]); // application data
    flight.extend([0x5b; 40]);
    packets.extend(conv.send(false, &flight));
    packets.extend(conv.close());
    let keylog = format!("CLIENT_RANDOM {} {}\n", "11".repeat(32), "33".repeat(48));
    let events = analyse(&packets, Some(&keylog));
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::TlsServerHello { cipher_suite, .. } if cipher_suite == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")));
    assert_eq!(anomalies(&events, Anomaly::TlsUnsupportedSuite), 1);
    assert_eq!(anomalies(&events, Anomaly::TlsDecryptFailed), 0);
    let Some(EventKind::FlowEnd { to_client, .. }) = events.last().map(|e| &e.kind) else {
        panic!("no flow end")
    };
    assert_eq!(to_client.tls_records, 4);
    // Without a key log the same capture is quiet.
    assert_eq!(
        anomalies(&analyse(&packets, None), Anomaly::TlsUnsupportedSuite),
        0
    );
}
