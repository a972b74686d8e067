//! Throughput benchmarks: the XML framer on in-memory XML (and reference points on the
//! same bytes: memchr, the UTF-8 check, quick-xml, our element parser), the whole pipeline on a
//! generated capture, and the pipeline decrypting a TLS 1.3 and a TLS 1.2 session made
//! by rustls (with and without the key log). Run `cargo bench`; CI runs them once as a smoke test
//! (`cargo bench --bench throughput -- --test`). Results: docs/performance.md.

#[path = "../tests/tls_harness/mod.rs"]
mod tls_harness;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::io::Cursor;
use std::sync::Arc;
use xmppdump::capture::Reader;
use xmppdump::output::text::Text;
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth::gen::{generate, GenConfig};
use xmppdump::transport::tls::{KeyLog, KeyStore};
use xmppdump::xml::{parse_element_prefix, parse_start_tag, Framer, NsScope, Scratch, Status};

fn stream_bytes() -> Vec<u8> {
    let mut s = String::from(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
    );
    for i in 0..20_000 {
        s.push_str(&format!(
            "<presence from='user{i}@example.org/res'><show>away</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>\
             <message to='a@b' type='chat'><body>hello number {i}</body></message>"
        ));
    }
    s.into_bytes()
}

fn framer(c: &mut Criterion) {
    let bytes = stream_bytes();
    let mut group = c.benchmark_group("framer");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("scan", |b| {
        b.iter(|| {
            let mut framer = Framer::new(64);
            let mut rest = bytes.as_slice();
            let mut frames = 0;
            while let Status::Complete(f) = framer.advance(rest, |_| false) {
                rest = &rest[f.len..];
                frames += 1;
            }
            frames
        })
    });
    group.finish();
}

/// Reference points for the framer and parser on the same bytes (docs/performance.md,
/// "how far can XML scanning go"): one pass that only finds `<`, the UTF-8 check every
/// byte gets, a widely used XML tokenizer (quick-xml, start tags with their attributes
/// parsed, no tree), and our one-pass element parser (tree with namespaces resolved).
fn reference(c: &mut Criterion) {
    let bytes = stream_bytes();
    let text = std::str::from_utf8(&bytes).unwrap();
    let mut group = c.benchmark_group("reference");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("memchr_lt", |b| {
        b.iter(|| memchr::memchr_iter(b'<', black_box(&bytes)).count())
    });
    group.bench_function("utf8_check", |b| {
        b.iter(|| std::str::from_utf8(black_box(&bytes)).map(str::len))
    });
    group.bench_function("quick_xml_tokens", |b| {
        b.iter(|| {
            let mut reader = quick_xml::Reader::from_str(black_box(text));
            let mut attributes = 0usize;
            loop {
                match reader.read_event().unwrap() {
                    quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                        for a in e.attributes() {
                            attributes += a.unwrap().value.len();
                        }
                    }
                    quick_xml::events::Event::Eof => break,
                    _ => {}
                }
            }
            attributes
        })
    });
    group.bench_function("xmppdump_elements", |b| {
        let header_end = text.find('>').unwrap() + 1;
        let (_, scope) = parse_start_tag(&bytes[..header_end], &NsScope::default(), 64).unwrap();
        let mut scratch = Scratch::default();
        b.iter(|| {
            let mut rest = black_box(&text[header_end..]);
            let mut nodes = 0usize;
            while let Some((tree, len)) = parse_element_prefix(rest, &scope, 64, 16, &mut scratch) {
                nodes += tree.len();
                scratch.keep(tree);
                rest = &rest[len..];
            }
            assert!(rest.is_empty());
            nodes
        })
    });
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    let config = GenConfig {
        target_bytes: 8 << 20,
        ..GenConfig::default()
    };
    let mut capture = Vec::new();
    generate(&config, &mut capture).unwrap();
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(capture.len() as u64));
    group.bench_function("events_text", |b| {
        b.iter(|| {
            let mut reader = Reader::new(Cursor::new(capture.clone())).unwrap();
            let mut sink = Text::new(std::io::sink());
            Pipeline::new(Config::default())
                .run(&mut reader, &mut sink)
                .unwrap()
        })
    });
    group.finish();
}

/// One c2s session with 8 MiB of chat messages inside TLS.
fn tls_capture(tls13: bool) -> (Vec<u8>, String) {
    use rustls::crypto::ring::cipher_suite as cs;
    let suite = if tls13 {
        cs::TLS13_AES_128_GCM_SHA256
    } else {
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    };
    let peers = tls_harness::peers(&tls_harness::setup(suite, tls13, 1448));
    let mut dialogue = vec![(true, xmppdump::synth::client_header("example.org"))];
    dialogue.push((
        false,
        tls_harness::SERVER_OPEN.replace(
            "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>",
            "",
        ),
    ));
    let body = "x".repeat(200);
    let mut size = 0;
    let mut i = 0;
    while size < 8 << 20 {
        let m = format!(
            "<message to='romeo@example.net' type='chat' id='m{i}'><body>{body}</body></message>"
        );
        size += m.len();
        dialogue.push((i % 2 == 0, m));
        i += 1;
    }
    let packets = tls_harness::session_with(&peers, &dialogue, true, 5222, 1448, false);
    let pcap = xmppdump::synth::write_pcap(Vec::new(), &packets, false, false).unwrap();
    (pcap, peers.keylog())
}

fn tls(c: &mut Criterion) {
    let mut group = c.benchmark_group("tls");
    group.sample_size(10);
    for tls13 in [true, false] {
        let (capture, keylog) = tls_capture(tls13);
        let keys = Arc::new(KeyStore::from_log(
            KeyLog::parse(keylog.as_bytes()).unwrap(),
        ));
        group.throughput(Throughput::Bytes(capture.len() as u64));
        let name = if tls13 {
            "tls13_aes128gcm"
        } else {
            "tls12_aes128gcm"
        };
        for decrypt in [true, false] {
            let id = format!("{name}_{}", if decrypt { "decrypt" } else { "opaque" });
            group.bench_function(id, |b| {
                b.iter(|| {
                    let mut reader = Reader::new(Cursor::new(capture.clone())).unwrap();
                    let mut sink = Text::new(std::io::sink());
                    let config = Config {
                        keys: decrypt.then(|| keys.clone()),
                        ..Config::default()
                    };
                    Pipeline::new(config).run(&mut reader, &mut sink).unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, framer, reference, pipeline, tls);
criterion_main!(benches);
