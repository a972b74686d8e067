//! The block scanner (16 bytes at a time, `xml::blocks`) against the byte scanner
//! (`xml::class`), its reference: the same positions for every class at every position
//! of arbitrary bytes and of XMPP text; the same parse (tree or error) of an element
//! starting at every split point of real and generated streams; the same events, byte
//! for byte, on every capture and on a generated one.

mod common;

use common::{capture_path, config_for, CAPTURES};
use proptest::prelude::*;
use std::io::Cursor;
use xmppdump::capture::Reader;
use xmppdump::output::ndjson::Ndjson;
use xmppdump::pipeline::{parallel, Config};
use xmppdump::xml::{self, blocks, class, NsScope, ScanMode, Scratch};

/// Every class at every position (and a little past the end).
fn scans_agree(bytes: &[u8]) {
    for at in 0..bytes.len() + 2 {
        for classes in class::ALL {
            assert_eq!(
                blocks::skip(bytes, at, classes),
                class::skip_while(bytes, at, classes),
                "skip {classes:#x} at {at}"
            );
            assert_eq!(
                blocks::find(bytes, at, classes),
                class::find(bytes, at, classes),
                "find {classes:#x} at {at}"
            );
        }
    }
}

/// The stream header's scope of a client stream.
fn client_scope() -> NsScope {
    let mut scope = NsScope::default();
    scope.bind("", "jabber:client");
    scope.bind("stream", "http://etherx.jabber.org/streams");
    scope
}

/// The element parse from every split point of `text`, with both scanners: the same
/// tree (names, namespaces, attributes, text, nesting) and length, or both nothing.
fn parses_agree(text: &str, scope: &NsScope) -> usize {
    let mut blocks = Scratch::scanning(ScanMode::Blocks);
    let mut bytes = Scratch::scanning(ScanMode::Bytes);
    let mut parsed = 0;
    for start in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
        let rest = text.get(start..).unwrap();
        let a = xml::parse_element_prefix(rest, scope, 64, 16, &mut blocks);
        let b = xml::parse_element_prefix(rest, scope, 64, 16, &mut bytes);
        assert_eq!(
            a.as_ref().map(|(tree, len)| (describe(tree), *len)),
            b.as_ref().map(|(tree, len)| (describe(tree), *len)),
            "split at {start}"
        );
        parsed += usize::from(a.is_some());
        if let Some((tree, _)) = a {
            blocks.keep(tree);
        }
        if let Some((tree, _)) = b {
            bytes.keep(tree);
        }
    }
    parsed
}

/// A tree written out: every element's namespace, name, attributes and text, nested.
fn describe(tree: &xml::Tree<'_>) -> String {
    fn walk(e: xml::Element<'_>, out: &mut String) {
        out.push_str(&format!("<{{{}}}{}", e.ns().unwrap_or("-"), e.name()));
        for a in e.attrs() {
            out.push_str(&format!(" {}={:?}", a.name, a.value));
        }
        out.push_str(&format!(">{:?}", e.text()));
        for child in e.children() {
            walk(child, out);
        }
        out.push_str("</>");
    }
    let mut out = String::new();
    if let Some(root) = tree.root() {
        walk(root, &mut out);
    }
    out
}

/// The NDJSON events of a capture scanned one way.
fn events(bytes: &[u8], mut config: Config, scan: ScanMode) -> Vec<u8> {
    config.xml_scan = scan;
    let mut reader = Reader::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut sink = Ndjson::new(Vec::new());
    parallel::run(config, &mut reader, &mut sink, 1).unwrap();
    sink.into_inner()
}

fn same_events(name: &str, bytes: &[u8], config: Config) {
    let by_blocks = events(bytes, config.clone(), ScanMode::Blocks);
    let by_bytes = events(bytes, config, ScanMode::Bytes);
    assert!(by_bytes.len() > 100, "{name}");
    if by_blocks != by_bytes {
        let a = String::from_utf8_lossy(&by_blocks);
        let b = String::from_utf8_lossy(&by_bytes);
        let line = a.lines().zip(b.lines()).position(|(x, y)| x != y);
        panic!("{name}: the scanners differ, first at line {line:?}");
    }
}

#[test]
fn the_same_events_on_every_capture() {
    for name in CAPTURES.iter().chain(common::LARGE_CAPTURES) {
        let bytes = std::fs::read(capture_path(name)).unwrap();
        same_events(name, &bytes, config_for(name));
    }
}

/// Every address in a capture's NDJSON (`from`, `to`, and the JIDs a stream or bind
/// names), and each of its prefixes: the JID check 16 bytes at a time answers what the
/// byte walk answers.
fn jid_checks_agree(name: &str, ndjson: &[u8]) -> usize {
    let mut checked = 0;
    for line in ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let event: serde_json::Value = serde_json::from_slice(line).unwrap();
        let Some(fields) = event.as_object() else {
            continue;
        };
        for key in ["from", "to", "jid", "bound_jid"] {
            let Some(jid) = fields.get(key).and_then(|v| v.as_str()) else {
                continue;
            };
            for end in 0..=jid.len() {
                let prefix = &jid.as_bytes()[..end];
                assert_eq!(
                    xmppdump::jid::plain_bare_end(prefix),
                    xmppdump::jid::plain_bare_end_bytes(prefix),
                    "{name}: {:?}",
                    String::from_utf8_lossy(prefix)
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn jid_checks_agree_on_every_capture_and_generated_ones() {
    let mut checked = 0;
    for name in CAPTURES.iter().chain(common::LARGE_CAPTURES) {
        let bytes = std::fs::read(capture_path(name)).unwrap();
        checked += jid_checks_agree(name, &events(&bytes, config_for(name), ScanMode::Blocks));
    }
    let generated = events(&generated(3), Config::default(), ScanMode::Blocks);
    assert!(jid_checks_agree("generated", &generated) > 10_000);
    assert!(checked > 1_000, "{checked}");
}

/// A generated capture: thousands of stanzas of every kind, cut across segments.
fn generated(seed: u64) -> Vec<u8> {
    let config = xmppdump::synth::gen::GenConfig {
        target_bytes: 2 << 20,
        seed,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    xmppdump::synth::gen::generate(&config, &mut bytes).unwrap();
    bytes
}

#[test]
fn the_same_events_on_generated_captures() {
    for seed in [1, 2] {
        same_events("generated", &generated(seed), Config::default());
    }
}

/// XMPP text with what the scanners must stop at: entities, line ends, tabs, both
/// quotes, non-ASCII names and text, CDATA, namespaces declared inside, long values.
const STANZAS: &str = "<message xmlns='jabber:client' from='jülia@example.org/Ünïcode' \
     to=\"bob@example.net\" type='chat' id='a&amp;b'>\r\n\t<body>Hi &lt;3 &#x1F600; \
     all\r\nthe\rbest</body><thread parent=\"x'y\">t1</thread>\
     <x:data xmlns:x='urn:example:data' x:key='v\tw\nz'><![CDATA[<raw> & ]]></x:data>\
     <ns2:é xmlns:ns2='urn:é'/></message>\
     <presence from='averyveryverylongnodepart.with.dots-and-dashes@a-long-domain.example.org/a-resource-longer-than-sixteen-bytes'>\
     <show>away</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
     node='https://example.org/gen' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>\
     <iq type='get' id='q1'><query xmlns='jabber:iq:roster'/></iq>\
     <bad attr=noquote/><bad a='1' a='2'/><bad a='<'/><x y='&bogus;'/><u:x/>\
     <iq><unclosed></iq>";

#[test]
fn scans_agree_on_xmpp_text() {
    scans_agree(STANZAS.as_bytes());
    scans_agree(b"");
}

#[test]
fn parses_agree_at_every_split_point_of_xmpp_text() {
    let parsed = parses_agree(STANZAS, &client_scope());
    // The three good stanzas and their children parse from their starts.
    assert!(parsed >= 8, "{parsed}");
}

/// Every split point of the client streams of a generated capture: the XML of its
/// first packets (stream headers, features, SASL, binding, stanzas) as one text.
#[test]
fn parses_agree_at_every_split_point_of_a_generated_stream() {
    let bytes = generated(3);
    let mut reader = Reader::new(Cursor::new(bytes)).unwrap();
    let mut text = Vec::new();
    while let Some(packet) = reader.next_packet().unwrap() {
        if let Ok(Some(segment)) = xmppdump::decode::decode(packet.linktype, packet.data) {
            text.extend_from_slice(segment.payload);
        }
        if text.len() > 24_000 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&text);
    let parsed = parses_agree(&text, &client_scope());
    assert!(parsed > 100, "{parsed}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Arbitrary bytes: every class at every position.
    #[test]
    fn scans_agree_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        scans_agree(&bytes);
    }

    /// Bytes drawn mostly from what XML is made of, so that names, values and text
    /// runs of every length meet every kind of stop.
    #[test]
    fn scans_and_parses_agree_on_xml_like_text(
        text in "([a-z:_.-]{0,20}|[ \t\r\n]{0,3}|[<>/='\"&;#!?\\[\\]]|&amp;|&#x41;|é|ü){0,80}"
    ) {
        scans_agree(text.as_bytes());
        parses_agree(&text, &client_scope());
    }
}
