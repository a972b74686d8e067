//! The whole pipeline on arbitrary capture bytes, with small limits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xmppdump::analysis::Collector;
use xmppdump::limits::Limits;
use xmppdump::pipeline::{Config, Pipeline};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = xmppdump::capture::Reader::new(std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    let limits = Limits {
        // Small, so the flow table evicts (by entries and by bytes).
        max_flows: 64,
        max_flow_table_bytes: 24 << 10,
        max_reassembly_bytes: 4096,
        max_segments: 16,
        max_stanza_bytes: 4096,
        max_depth: 16,
        max_attributes: 16,
        // Small, so connections often have to let go of what they hold.
        max_buffered_bytes: 8192,
        ..Limits::default()
    };
    let config = Config {
        limits,
        ..Config::default()
    };
    let mut sink = Collector::new("fuzz");
    let _ = Pipeline::new(config).run(&mut reader, &mut sink);
    let _ = sink.into_stats();
});
