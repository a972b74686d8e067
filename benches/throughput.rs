//! Throughput benchmarks: the XML framer on in-memory XML, and the whole pipeline on
//! a generated capture. Run `cargo bench`; CI runs them once as a smoke test
//! (`cargo bench --bench throughput -- --test`). Results: docs/performance.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Cursor;
use xmppdump::capture::Reader;
use xmppdump::output::text::Text;
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth::gen::{generate, GenConfig};
use xmppdump::xml::{Framer, Status};

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

criterion_group!(benches, framer, pipeline);
criterion_main!(benches);
