//! Every supported file format and link type carries the same conversation to the
//! same events; snapped packets are gaps, Ethernet padding is trimmed.

mod common;

use common::{count, kinds, run_bytes, run_packets};
use std::net::SocketAddr;
use xmppdump::model::{Anomaly, EventKind, Timestamp};
use xmppdump::pipeline::Config;
use xmppdump::synth::{self, client_header, server_header, Conversation, Link, Packet};

fn conversation(link: Link, client: &str, server: &str) -> Vec<Packet> {
    let client: SocketAddr = client.parse().unwrap();
    let server: SocketAddr = server.parse().unwrap();
    let mut c = Conversation::new(client, server, link, Timestamp(1_600_000_000_123_456_789));
    let mut packets = c.handshake();
    packets.extend(c.send(true, client_header("example.org").as_bytes()));
    packets.extend(
        c.send(
            false,
            server_header(
                "example.org",
                "s1",
                "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>",
            )
            .as_bytes(),
        ),
    );
    packets.extend(c.send(
        true,
        b"<message to='romeo@example.net' type='chat'><body>hello</body></message>",
    ));
    packets.extend(c.send(true, b"</stream:stream>"));
    packets.extend(c.send(false, b"</stream:stream>"));
    packets.extend(c.close());
    packets
}

fn expected_shape(events: &[EventKind]) {
    assert_eq!(
        events
            .iter()
            .filter(|k| matches!(k, EventKind::StreamHeader { .. }))
            .count(),
        2
    );
    assert!(events
        .iter()
        .any(|k| matches!(k, EventKind::Message(s) if s.body_len == Some(5))));
    assert_eq!(
        events
            .iter()
            .filter(|k| matches!(k, EventKind::StreamClose))
            .count(),
        2
    );
    assert!(events.iter().any(|k| matches!(
        k,
        EventKind::FlowEnd {
            reason: xmppdump::model::EndReason::Fin,
            ..
        }
    )));
    assert!(!events
        .iter()
        .any(|k| matches!(k, EventKind::Anomaly { .. })));
}

#[test]
fn all_links_and_formats_agree() {
    let reference = kinds(
        &run_packets(&conversation(
            Link::Ethernet,
            "10.0.0.1:40000",
            "10.0.0.2:5222",
        ))
        .0,
    );
    expected_shape(&reference);
    let strip_addresses = |mut ks: Vec<EventKind>| {
        for k in &mut ks {
            if let EventKind::FlowStart { client, server, .. } = k {
                client.clear();
                server.clear();
            }
        }
        ks
    };
    for link in [
        Link::Ethernet,
        Link::Vlan,
        Link::LinuxSll,
        Link::LinuxSll2,
        Link::Null,
        Link::Raw,
    ] {
        for (client, server) in [
            ("10.0.0.1:40000", "10.0.0.2:5222"),
            ("[2001:db8::1]:40000", "[2001:db8::2]:5222"),
        ] {
            let packets = conversation(link, client, server);
            let via_ng = kinds(&run_packets(&packets).0);
            assert_eq!(
                strip_addresses(via_ng.clone()),
                strip_addresses(reference.clone()),
                "{link:?} {client}"
            );
            for big_endian in [false, true] {
                for nanos in [false, true] {
                    let bytes = synth::write_pcap(Vec::new(), &packets, big_endian, nanos).unwrap();
                    let (events, _) = run_bytes(bytes, Config::default());
                    assert_eq!(
                        kinds(&events),
                        via_ng,
                        "{link:?} pcap be={big_endian} ns={nanos}"
                    );
                    let t = events[0].time;
                    let expected = if nanos {
                        1_600_000_000_123_456_789
                    } else {
                        1_600_000_000_123_456_000
                    };
                    assert_eq!(t, Timestamp(expected));
                }
            }
        }
    }
}

#[test]
fn several_sections_and_interfaces() {
    let a = conversation(Link::Ethernet, "10.0.0.1:40000", "10.0.0.2:5222");
    let b = conversation(Link::LinuxSll, "10.0.0.3:40001", "10.0.0.4:5222");
    // Two interfaces in one section, interleaved.
    let mut mixed: Vec<Packet> = a
        .iter()
        .cloned()
        .zip(b.iter().cloned())
        .flat_map(|(x, y)| [x, y])
        .collect();
    mixed.sort_by_key(|p| p.time);
    let (events, summary) = run_packets(&mixed);
    assert_eq!(summary.xmpp_flows, 2);
    assert_eq!(count(&events, |k| matches!(k, EventKind::Message(_))), 2);
    // Two sections: pcapng files concatenated.
    let mut bytes = synth::write_pcapng(Vec::new(), &a).unwrap();
    bytes.extend(synth::write_pcapng(Vec::new(), &b).unwrap());
    let (events, summary) = run_bytes(bytes, Config::default());
    assert_eq!(summary.xmpp_flows, 2);
    assert_eq!(count(&events, |k| matches!(k, EventKind::Message(_))), 2);
}

#[test]
fn snapped_packets_are_gaps_and_parsing_resumes() {
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:5222".parse().unwrap();
    let mut c = Conversation::new(
        client,
        server,
        Link::Ethernet,
        Timestamp(1_600_000_000_123_456_789),
    );
    let mut packets = c.handshake();
    packets.extend(c.send(true, client_header("example.org").as_bytes()));
    packets.extend(c.send(false, server_header("example.org", "s1", "").as_bytes()));
    // A long message whose packet the snap length cuts to 80 bytes.
    let long = format!("<message><body>{}</body></message>", "x".repeat(500));
    let snapped = c.send_one(true, long.as_bytes());
    packets.extend(c.send(true, b"<presence/>"));
    let mut file = xmppdump::capture::write::PcapWriter::new(Vec::new(), 1, false, false).unwrap();
    let insert_at = 5;
    for (i, p) in packets.iter().enumerate() {
        if i == insert_at {
            file.packet(snapped.time, &snapped.data[..80], snapped.data.len() as u32)
                .unwrap();
        }
        file.packet(p.time, &p.data, p.data.len() as u32).unwrap();
    }
    let (events, _) = run_bytes(file.into_inner(), Config::default());
    let gap = events
        .iter()
        .find(|e| {
            matches!(
                e.kind,
                EventKind::Anomaly {
                    anomaly: Anomaly::Gap,
                    ..
                }
            )
        })
        .unwrap();
    // 80 captured bytes minus 54 bytes of headers were delivered; the rest is missing.
    assert_eq!(gap.size, long.len() as u64 - (80 - 54));
    assert_eq!(
        count(&events, |k| matches!(k, EventKind::Presence(_))),
        1,
        "parsing resumed after the gap"
    );
    assert_eq!(count(&events, |k| matches!(k, EventKind::Message(_))), 0);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut packets = conversation(Link::Ethernet, "10.0.0.1:40000", "10.0.0.2:5222");
    for p in &mut packets {
        if p.data.len() < 60 {
            p.data.resize(60, 0); // minimum Ethernet frame, zero padding
        }
        p.data.extend_from_slice(&[0xde, 0xad]); // trailer junk after the IP packet
    }
    let (events, _) = run_packets(&packets);
    expected_shape(&kinds(&events));
}
