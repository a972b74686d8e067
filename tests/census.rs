//! The traffic census (`stats --table software|extensions|binary`) on real and
//! synthetic sessions: software named with its evidence, caps verified against the
//! disco#info answer (XEP-0115 §5), namespaces mapped to XEPs, base64 costs.

mod common;

use common::{capture_path, config_for, session, xmppdump, CAPTURES, LARGE_CAPTURES};
use std::collections::BTreeMap;
use std::io::Cursor;
use xmppdump::analysis::census::{Census, SoftwareRow};
use xmppdump::analysis::compression::MAX_LIVE_DIRECTIONS;
use xmppdump::analysis::{tables, Class, Collector, Stats};
use xmppdump::capture::Reader;
use xmppdump::model::Direction;
use xmppdump::output::stats::render_csv;
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth;

fn stats_of(lines: &[(bool, &str)]) -> Stats {
    let packets = session("10.0.0.1:40000", 1_700_000_000_000_000_000, lines, false);
    let bytes = synth::write_pcapng(Vec::new(), &packets).unwrap();
    let mut collector = Collector::new("synthetic");
    Pipeline::new(Config::default())
        .run(
            &mut Reader::new(Cursor::new(bytes)).unwrap(),
            &mut collector,
        )
        .unwrap();
    collector.into_stats()
}

fn rows<'a>(census: &'a Census, product: &str) -> Vec<&'a SoftwareRow> {
    census
        .software
        .values()
        .filter(|r| r.product == product)
        .collect()
}

/// XEP-0115 §5.2's Exodus answer: the client announces caps, its contact asks
/// for node#ver, the answer verifies; the version answer names it with high
/// confidence.
#[test]
fn caps_verified_by_the_disco_answer_and_a_version_answer() {
    let stats = stats_of(&[
        (
            true,
            "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
             node='http://exodus.jabberstudio.org/caps' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
        ),
        (
            false,
            "<iq type='get' id='d1' from='romeo@example.org/orchard' to='juliet@example.org/balcony'>\
             <query xmlns='http://jabber.org/protocol/disco#info' \
             node='http://exodus.jabberstudio.org/caps#QgayPKawpkPSDYmwT/WM94uAlu0='/></iq>",
        ),
        (
            true,
            "<iq type='result' id='d1' to='romeo@example.org/orchard'>\
             <query xmlns='http://jabber.org/protocol/disco#info' \
             node='http://exodus.jabberstudio.org/caps#QgayPKawpkPSDYmwT/WM94uAlu0='>\
             <identity category='client' name='Exodus 0.9.1' type='pc'/>\
             <feature var='http://jabber.org/protocol/caps'/>\
             <feature var='http://jabber.org/protocol/disco#info'/>\
             <feature var='http://jabber.org/protocol/disco#items'/>\
             <feature var='http://jabber.org/protocol/muc'/></query></iq>",
        ),
        (
            true,
            "<iq type='result' id='v1' to='romeo@example.org/orchard'>\
             <query xmlns='jabber:iq:version'><name>Exodus</name><version>0.9.1</version>\
             <os>Windows-XP 5.01.2600</os></query></iq>",
        ),
    ]);
    let exodus = rows(&stats.census, "Exodus");
    let evidence: Vec<(&str, &str, &str)> = exodus
        .iter()
        .map(|r| {
            (
                r.evidence.as_str(),
                r.confidence.as_str(),
                r.version.as_str(),
            )
        })
        .collect();
    assert!(
        evidence.contains(&("caps node", "medium", "")),
        "{evidence:?}"
    );
    assert!(
        evidence.contains(&("disco#info verifies caps (sha-1)", "high", "")),
        "{evidence:?}"
    );
    assert!(
        evidence.contains(&(
            "XEP-0092 version answer (os: Windows-XP 5.01.2600)",
            "high",
            "0.9.1"
        )),
        "{evidence:?}"
    );
    assert!(exodus
        .iter()
        .all(|r| r.role == "client" && r.connections == 1));
    // The identity names the client too (Exodus is not in the name table: as is).
    assert_eq!(rows(&stats.census, "Exodus 0.9.1").len(), 1);
}

/// Entity Capabilities 2.0 (XEP-0390): the hash in the presence, the answer for
/// `urn:xmpp:caps#sha-256.<hash>` recomputed with §4.1's algorithm (the XEP's own
/// simple example, BombusMod), and the product named by the answer's identity.
#[test]
fn caps_2_verified_by_the_disco_answer() {
    let hash = "kzBZbkqJ3ADrj7v08reD1qcWUwNGHaidNUgD7nHpiw8=";
    let features = [
        "http://jabber.org/protocol/si",
        "http://jabber.org/protocol/bytestreams",
        "http://jabber.org/protocol/chatstates",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/disco#items",
        "urn:xmpp:ping",
        "jabber:iq:time",
        "jabber:iq:privacy",
        "jabber:iq:version",
        "http://jabber.org/protocol/rosterx",
        "urn:xmpp:time",
        "jabber:x:oob",
        "http://jabber.org/protocol/ibb",
        "http://jabber.org/protocol/si/profile/file-transfer",
        "urn:xmpp:receipts",
        "jabber:iq:roster",
        "jabber:iq:last",
    ]
    .map(|f| format!("<feature var='{f}'/>"))
    .concat();
    let presence = format!(
        "<presence><c xmlns='urn:xmpp:caps'><hash xmlns='urn:xmpp:hashes:2' \
         algo='sha-256'>{hash}</hash></c></presence>"
    );
    let answer = |h: &str| {
        format!(
            "<iq type='result' id='d1' to='romeo@example.org/orchard'>\
             <query xmlns='http://jabber.org/protocol/disco#info' \
             node='urn:xmpp:caps#sha-256.{h}'>\
             <identity category='client' name='BombusMod' type='mobile'/>{features}</query></iq>"
        )
    };
    let stats = stats_of(&[(true, &presence), (true, &answer(hash))]);
    let bombus = rows(&stats.census, "BombusMod");
    assert!(
        bombus
            .iter()
            .any(|r| r.evidence == "disco#info verifies caps 2.0 (sha-256)"
                && r.confidence == "high"
                && r.role == "client"),
        "{bombus:?}"
    );
    let wrong = "AAAAkqJ3ADrj7v08reD1qcWUwNGHaidNUgD7nHpiw8=";
    let stats = stats_of(&[(true, &presence), (true, &answer(wrong))]);
    let bombus = rows(&stats.census, "BombusMod");
    assert!(bombus
        .iter()
        .all(|r| !r.evidence.contains("verifies caps 2.0")));
    assert!(bombus.iter().any(
        |r| r.evidence == "disco#info does not verify caps (mismatch)" && r.confidence == "low"
    ));
}

/// A changed answer does not verify, and says so with low confidence.
#[test]
fn an_answer_that_does_not_match_its_caps_is_a_mismatch() {
    let stats = stats_of(&[(
        true,
        "<iq type='result' id='d1' to='romeo@example.org/orchard'>\
         <query xmlns='http://jabber.org/protocol/disco#info' \
         node='http://pidgin.im/#QgayPKawpkPSDYmwT/WM94uAlu0='>\
         <identity category='client' name='x' type='pc'/>\
         <feature var='urn:xmpp:ping'/></query></iq>",
    )]);
    let pidgin = rows(&stats.census, "Pidgin");
    assert_eq!(pidgin.len(), 1);
    assert_eq!(
        pidgin[0].evidence,
        "disco#info does not verify caps (mismatch)"
    );
    assert_eq!(pidgin[0].confidence, "low");
}

/// An in-band bytestream of a known size (XEP-0047): decoded bytes are the
/// file's, the overhead is what base64 adds.
#[test]
fn ibb_payloads_cost_what_base64_adds() {
    use base64::Engine as _;
    let file: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let encoded: Vec<String> = file
        .chunks(4096)
        .map(|chunk| base64::engine::general_purpose::STANDARD.encode(chunk))
        .collect();
    let chunks: Vec<String> = encoded
        .iter()
        .enumerate()
        .map(|(seq, data)| {
            format!(
                "<iq type='set' id='i{seq}' to='romeo@example.org/orchard'>\
                 <data xmlns='http://jabber.org/protocol/ibb' seq='{seq}' sid='s1'>{data}</data></iq>"
            )
        })
        .collect();
    let lines: Vec<(bool, &str)> = chunks.iter().map(|c| (true, c.as_str())).collect();
    let stats = stats_of(&lines);
    let ibb = stats.census.binary["ibb"];
    assert_eq!(ibb.payloads, 3);
    assert_eq!(ibb.decoded, file.len() as u64);
    let sent: usize = encoded.iter().map(String::len).sum();
    assert_eq!(ibb.encoded, sent as u64);
    // Four characters for every three bytes, and the padding of each chunk.
    assert_eq!(ibb.encoded - ibb.decoded, 3_340);
    let ext = &stats.census.extensions["http://jabber.org/protocol/ibb"];
    assert_eq!((ext.elements, ext.connections), (3, 1));
}

/// Base64 payloads at any depth: a vCard photo and OMEMO's payload and keys.
#[test]
fn vcard_photos_and_omemo_are_counted_by_kind() {
    let stats = stats_of(&[
        (
            true,
            "<iq type='set' id='v'><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE>\
             <BINVAL>iVBORw0KGgo=</BINVAL></PHOTO></vCard></iq>",
        ),
        (
            true,
            "<message to='romeo@example.org' type='chat'>\
             <encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'>\
             <key rid='2'>QUJDRA==</key><iv>AAAAAAAAAAAAAAAA</iv></header>\
             <payload>SGVsbG8=</payload></encrypted></message>",
        ),
        (
            true,
            "<message to='romeo@example.org'><x xmlns='urn:example:private'/></message>",
        ),
    ]);
    let b = &stats.census.binary;
    assert_eq!(
        (b["vcard_photo"].encoded, b["vcard_photo"].decoded),
        (12, 8)
    );
    assert_eq!(
        (b["omemo_key"].payloads, b["omemo_key"].decoded),
        (2, 4 + 12)
    );
    assert_eq!(
        (b["omemo_payload"].encoded, b["omemo_payload"].decoded),
        (8, 5)
    );
    // The OMEMO namespace counts once for the message, found below the first level
    // too; an unknown namespace is listed as it is.
    assert_eq!(
        stats.census.extensions["eu.siacs.conversations.axolotl"].elements,
        1
    );
    let table = xmppdump::analysis::tables::tables(&stats)
        .into_iter()
        .find(|t| t.name == "extensions")
        .unwrap();
    let private = table
        .rows
        .iter()
        .find(|row| row[4] == "urn:example:private")
        .unwrap();
    assert_eq!(
        (private[0].as_str(), private[1].as_str()),
        ("unknown", "unknown")
    );
    let omemo = table
        .rows
        .iter()
        .find(|row| row[4] == "eu.siacs.conversations.axolotl")
        .unwrap();
    assert_eq!(
        (omemo[0].as_str(), omemo[1].as_str()),
        ("security", "XEP-0384")
    );
}

/// The federation capture: every slixmpp client and both prosody servers are
/// named; prosody's caps verify against its disco#info answers.
#[test]
fn the_federation_capture_names_its_clients_and_servers() {
    let name = "federation_prosody.pcap";
    let mut collector = Collector::new(name);
    Pipeline::new(config_for(name))
        .run(
            &mut Reader::new(std::fs::File::open(capture_path(name)).unwrap()).unwrap(),
            &mut collector,
        )
        .unwrap();
    let census = collector.into_stats().census;
    let clients: Vec<_> = rows(&census, "slixmpp")
        .into_iter()
        .filter(|r| r.role == "client")
        .collect();
    assert_eq!(clients.len(), 1);
    assert_eq!(
        (clients[0].version.as_str(), clients[0].connections),
        ("1.17.0", 400)
    );
    let verified = rows(&census, "Prosody")
        .into_iter()
        .find(|r| r.evidence == "disco#info verifies caps (sha-1)")
        .unwrap();
    assert_eq!(
        (verified.role.as_str(), verified.confidence.as_str()),
        ("server", "high")
    );
    assert_eq!(verified.connections, 400);
}

/// The tables in every format, through the binary; unknown namespaces named so.
#[test]
fn the_census_tables_in_every_format() {
    let path = capture_path("ndpi_jabber.pcap");
    for table in ["software", "extensions", "binary"] {
        let (code, out, err) = xmppdump(&["stats", &path, "--table", table, "--format", "csv"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.lines().count() > 1, "{table}: {out}");
    }
    let (_, out, _) = xmppdump(&["stats", &path, "--table", "extensions", "--format", "csv"]);
    assert!(
        out.contains("XEP-0115") || out.contains("XEP-0030"),
        "{out}"
    );
}

/// `show --explain` names the specification of every namespace a stanza carries.
#[test]
fn explain_names_the_xep_of_each_namespace() {
    let path = capture_path("ndpi_jabber.pcap");
    let (code, out, err) = xmppdump(&["show", &path, "--explain", "--flow", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "Namespaces: XEP-0030 Service Discovery (http://jabber.org/protocol/disco#info)."
        ),
        "{out}"
    );
    assert!(out.contains("XEP-0115 Entity Capabilities (http://jabber.org/protocol/caps)"));
}

/// Census metrics in `check`: OMEMO absent, Prosody the only server, caps used;
/// a failing rule is exit 1.
#[test]
fn check_rules_on_the_census() {
    let path = capture_path("federation_prosody.pcap");
    let (code, out, err) = xmppdump(&[
        "check",
        &path,
        "--rule",
        "extension[XEP-0115] > 0",
        "--rule",
        "extension[XEP-0384] == 0",
        "--rule",
        "software.product[server] == \"Prosody\"",
        "--rule",
        "extension.connections[urn:xmpp:delay] >= 1",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = xmppdump(&[
        "check",
        &path,
        "--rule",
        "software.product[client] == \"Conversations\"",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"slixmpp\""), "{out}");
}

/// The census of a capture in `captures/`, through the library.
fn census_of(name: &str) -> Census {
    let mut collector = Collector::new(name);
    Pipeline::new(config_for(name))
        .run(
            &mut Reader::new(std::fs::File::open(capture_path(name)).unwrap()).unwrap(),
            &mut collector,
        )
        .unwrap();
    collector.into_stats().census
}

/// What the observer of `captures/make/census.sh` logged the peers answering.
fn census_truth() -> serde_json::Value {
    let path = capture_path("census_ejabberd.truth.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Profanity and mcabber (Debian's packages) on ejabberd (Debian's package), from
/// `captures/make/census.sh`: each named by the name and version it answered the
/// observer (the capture's `.truth.json`), its caps verified wherever slixmpp
/// verified them, and the server named by its version answer and verified caps.
#[test]
fn real_clients_and_ejabberd_are_named_by_name_and_version() {
    let truth = census_truth();
    let census = census_of("census_ejabberd.pcap");
    let clients = truth["clients"].as_object().unwrap();
    assert_eq!(clients.len(), 2);
    for client in clients.values() {
        let name = client["version"]["name"].as_str().unwrap();
        let version = client["version"]["version"].as_str().unwrap();
        let jid = client["jid"].as_str().unwrap();
        let own: Vec<_> = rows(&census, name)
            .into_iter()
            .filter(|r| r.role == "client")
            .collect();
        let answer = own
            .iter()
            .find(|r| r.evidence.starts_with("XEP-0092 version answer"))
            .unwrap_or_else(|| panic!("{name}: {own:?}"));
        assert_eq!(
            (answer.version.as_str(), answer.confidence.as_str()),
            (version, "high")
        );
        assert_eq!(answer.entity, jid);
        // The caps node alone names the product (data/software.tsv).
        let by_node = own.iter().find(|r| r.evidence == "caps node").unwrap();
        assert_eq!(by_node.entity, jid);
        assert_eq!(
            client["caps_verified_by_slixmpp"].as_bool(),
            Some(
                own.iter()
                    .any(|r| r.evidence == "disco#info verifies caps (sha-1)")
            ),
            "{name}"
        );
    }
    let server = &truth["server"]["version"];
    let ejabberd = rows(&census, server["name"].as_str().unwrap());
    assert!(ejabberd.iter().all(|r| r.role == "server"));
    assert!(ejabberd
        .iter()
        .any(|r| r.evidence.starts_with("XEP-0092")
            && r.version == server["version"].as_str().unwrap()));
    assert!(ejabberd
        .iter()
        .any(|r| r.evidence == "disco#info verifies caps (sha-1)" && r.entity == "localhost"));
}

/// Profanity 0.13.1 changes its features after login and announces a second
/// verification string, but answers a query for its first one with the new
/// features: that answer cannot verify (XEP-0115 §5.4), and the census says so
/// with low confidence while the later string verifies.
#[test]
fn a_stale_verification_string_is_a_mismatch_in_a_real_capture() {
    let census = census_of("census_ejabberd.pcap");
    let profanity = rows(&census, "Profanity");
    let mismatch = profanity
        .iter()
        .find(|r| r.role == "client" && r.evidence.contains("does not verify caps (mismatch)"))
        .unwrap();
    assert_eq!(mismatch.confidence, "low");
    let verified = profanity
        .iter()
        .find(|r| r.role == "client" && r.evidence == "disco#info verifies caps (sha-1)")
        .unwrap();
    assert_eq!(verified.entity, mismatch.entity);
}

/// A real in-band bytestream (slixmpp's XEP-0047) of a file of known size: the
/// sender's data stanzas decode to exactly the file, in `ceil(size / block)`
/// payloads, and the overhead is what base64 adds (encoded − decoded). The server
/// delivers every data stanza to the receiver's connection too, so the whole
/// capture carries the file twice.
#[test]
fn a_real_in_band_bytestream_decodes_to_the_file_size() {
    let truth = census_truth();
    let size = truth["ibb"]["file_size"].as_u64().unwrap();
    let block = truth["ibb"]["block_size"].as_u64().unwrap();
    assert_eq!(truth["ibb"]["received"].as_u64(), Some(size));
    let path = capture_path("census_ejabberd.pcap");
    let ibb = |filter: Option<&str>| -> [u64; 4] {
        let mut args = vec!["stats", &path, "--table", "binary", "--format", "csv"];
        if let Some(f) = filter {
            args.extend(["-Y", f]);
        }
        let (code, out, err) = xmppdump(&args);
        assert_eq!(code, 0, "{err}");
        let line = out.lines().find(|l| l.starts_with("ibb,")).unwrap();
        let v: Vec<u64> = line
            .split(',')
            .skip(1)
            .take(4)
            .map(|n| n.parse().unwrap())
            .collect();
        [v[0], v[1], v[2], v[3]]
    };
    let [payloads, encoded, decoded, overhead] = ibb(Some("dir == \"to_server\""));
    assert_eq!(payloads, size.div_ceil(block));
    assert_eq!(decoded, size);
    assert_eq!(overhead, encoded - decoded);
    // Base64 (RFC 4648 §4): four characters per started group of three bytes.
    let full = (size / block) * (block.div_ceil(3) * 4);
    assert_eq!(encoded, full + (size % block).div_ceil(3) * 4);
    let [_, _, decoded, _] = ibb(None);
    assert_eq!(decoded, 2 * size);
}

/// The stats of a bundled capture, with the XEP-0138 what-if or without.
fn capture_stats(name: &str, what_if: bool) -> Stats {
    let mut collector = Collector::new(name);
    let mut config = config_for(name);
    if what_if {
        collector = collector.with_zlib_what_if(MAX_LIVE_DIRECTIONS);
        config.keep_xml = true;
    }
    let file = std::fs::File::open(capture_path(name)).unwrap();
    Pipeline::new(config)
        .run(&mut Reader::new(file).unwrap(), &mut collector)
        .unwrap();
    collector.into_stats()
}

/// The what-if compresses every element the traffic table counts, once: per
/// stream kind, direction and class its bytes are the traffic table's (whitespace,
/// undecrypted TLS and HTTP framing are not XML and not compressed, nor BOSH's
/// wrappers), unless some
/// directions found no compressor, and then measured and unmeasured bytes add up
/// to them. Asking for it changes no other number. A snapshot of the table for
/// every capture.
#[test]
fn the_zlib_what_if_compresses_every_xml_byte_once() {
    for name in CAPTURES.iter().chain(LARGE_CAPTURES) {
        let mut with = capture_stats(name, true);
        let what_if = std::mem::take(&mut with.census.compression);
        assert_eq!(with, capture_stats(name, false), "{name}");
        assert!(what_if.measured);
        let mut traffic: BTreeMap<_, u64> = BTreeMap::new();
        for (k, c) in &with.traffic {
            if !matches!(k.class, Class::Whitespace | Class::Tls | Class::Framing) {
                *traffic.entry((k.stream, k.dir, k.class)).or_default() += c.bytes;
            }
        }
        let compressed: BTreeMap<_, u64> = what_if
            .rows
            .iter()
            .map(|r| ((r.stream, r.dir, r.class), r.xml_bytes))
            .collect();
        if what_if.unmeasured.count == 0 {
            for (k, bytes) in &traffic {
                // BOSH's `<body/>` wrappers count as headers and closes but are
                // HTTP payload, not stream elements (XEP-0206 §3).
                let wrapper = matches!(k.2, Class::Header | Class::Close);
                match compressed.get(k) {
                    Some(c) => assert_eq!(c, bytes, "{name}: {k:?}"),
                    None => assert!(wrapper && name.contains("bosh"), "{name}: {k:?}"),
                }
            }
            assert!(compressed.keys().all(|k| traffic.contains_key(k)));
        } else {
            assert!(what_if.directions >= MAX_LIVE_DIRECTIONS as u64, "{name}");
            let measured: u64 = compressed.values().sum();
            let all: u64 = traffic.values().sum();
            assert_eq!(measured + what_if.unmeasured.bytes, all, "{name}");
        }
        for r in &what_if.rows {
            // Deflate's worst case: 5 bytes per stored block, 4 for the flush's
            // empty block, the zlib header once per direction.
            assert!(
                r.zlib_bytes <= r.xml_bytes + r.elements * 12 + 2 * what_if.directions,
                "{name}: {r:?}"
            );
        }
        if LARGE_CAPTURES.contains(name) {
            continue;
        }
        let table = tables::tables(&capture_stats(name, true))
            .into_iter()
            .find(|t| t.name == "compression")
            .unwrap();
        insta::assert_snapshot!(format!("{name}.compression.csv"), render_csv(&table));
    }
}

/// Random bytes do not compress: zlib takes back base64's overhead on a real
/// in-band bytestream but cannot go below the file itself.
#[test]
fn zlib_takes_back_base64_but_not_the_random_file() {
    let size = census_truth()["ibb"]["file_size"].as_u64().unwrap();
    let what_if = capture_stats("census_ejabberd.pcap", true)
        .census
        .compression;
    let iq = what_if
        .rows
        .iter()
        .find(|r| r.dir == Direction::ToServer && r.class == Class::Iq)
        .unwrap();
    // The sender's iqs carry the file's 40,020 base64 characters.
    assert!(iq.xml_bytes > size * 4 / 3, "{iq:?}");
    assert!(iq.zlib_bytes > size, "{iq:?}");
    assert!(iq.zlib_bytes < size + size / 5, "{iq:?}");
}

/// `--what-if zlib` through the binary: the table in CSV, and clear errors for
/// the table without the what-if and for the what-if with -Y.
#[test]
fn the_what_if_through_the_binary() {
    let path = capture_path("census_ejabberd.pcap");
    let (code, out, err) = xmppdump(&[
        "stats",
        &path,
        "--what-if",
        "zlib",
        "--table",
        "compression",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l.starts_with("c2s,C>S,all,")), "{out}");
    let (code, out, err) = xmppdump(&["stats", &path, "--what-if", "zlib"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("What XEP-0138 zlib would make of the streams"));
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    let (code, _, err) = xmppdump(&["stats", &path, "--table", "compression"]);
    assert_eq!(code, 2);
    assert!(err.contains("--what-if zlib"), "{err}");
    let (code, _, err) = xmppdump(&["stats", &path, "--what-if", "zlib", "-Y", "presence"]);
    assert_eq!(code, 2);
    assert!(err.contains("-Y"), "{err}");
}

/// "No client older than": `software.version[PRODUCT]` compares every version
/// identified of the product, number by number, on the real ejabberd capture
/// whose versions the capture's ground truth records.
#[test]
fn minimum_versions_in_check_rules() {
    let truth = census_truth();
    let profanity = truth["clients"]["alice@localhost"]["version"]["version"]
        .as_str()
        .unwrap();
    let path = capture_path("census_ejabberd.pcap");
    let judge = |rule: &str| {
        let (code, out, err) = xmppdump(&["check", &path, "--rule", rule]);
        assert!(code == 0 || code == 1, "{rule}: {err}");
        (code == 0, out)
    };
    assert!(judge(&format!("software.version[profanity] == \"{profanity}\"")).0);
    assert!(judge("software.version[Profanity] >= \"0.9\"").0);
    assert!(judge("software.version[Profanity] > \"0.13\"").0);
    let (passed, out) = judge("software.version[Profanity] >= \"0.14\"");
    assert!(!passed);
    assert!(out.contains(&format!("\"{profanity}\"")), "{out}");
    assert!(judge("software.version[ejabberd] < \"23.10\"").0);
    assert!(judge("software.version[mcabber] >= \"1.1.2\"").0);
    // A product that is not there is not older than anything, nor equal to it.
    assert!(judge("software.version[Pidgin] >= \"2.14\"").0);
    assert!(!judge("software.version[Pidgin] == \"2.14\"").0);
    let (code, _, err) = xmppdump(&["check", &path, "--rule", "software.product[client] > \"a\""]);
    assert_eq!(code, 2, "{err}");
}
