//! Shared by the fuzz targets that build a connection from their input.

use xmppdump::capture::Packet;
use xmppdump::model::FrameNo;
use xmppdump::output::text::Text;
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth;

/// Runs synthetic packets through the whole analysis and prints the events to nowhere.
pub fn analyse(packets: &[synth::Packet], config: Config) {
    let mut pipeline = Pipeline::new(config);
    for (i, p) in packets.iter().enumerate() {
        pipeline.packet(&Packet {
            frame: FrameNo(i as u64 + 1),
            time: p.time,
            linktype: p.linktype,
            original_len: p.data.len() as u32,
            data: &p.data,
        });
    }
    pipeline.finish();
    let mut sink = Text::new(std::io::sink());
    let _ = pipeline.drain_into(&mut sink);
}
