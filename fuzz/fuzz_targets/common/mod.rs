//! Shared by the fuzz targets that build a connection from their input.

use xmppdump::output::text::Text;
use xmppdump::output::Sink;
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth;

/// Runs synthetic packets through the whole analysis and prints the events to nowhere.
#[allow(dead_code)] // each target compiles this module and uses one of the two
pub fn analyse(packets: &[synth::Packet], config: Config) {
    let mut sink = Text::new(std::io::sink());
    feed(packets, config, &mut sink);
}

/// Runs synthetic packets through the whole analysis into `sink`.
#[allow(dead_code)] // each target compiles this module and uses one of the two
pub fn feed(packets: &[synth::Packet], config: Config, sink: &mut dyn Sink) {
    let mut pipeline = Pipeline::new(config);
    for (i, p) in packets.iter().enumerate() {
        pipeline.packet(&p.as_read(i as u64 + 1));
    }
    pipeline.finish();
    let _ = pipeline.drain_into(sink);
}
