//! One synthetic TCP connection on port 5222 carrying arbitrary bytes, cut into
//! arbitrary segments: exercises reassembly, framing, parsing and classification
//! without having to find a valid capture first.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;
use xmppdump::model::Timestamp;
use xmppdump::pipeline::Config;
use xmppdump::synth::{Conversation, Link};

fuzz_target!(|data: &[u8]| {
    let Some((&mss, payload)) = data.split_first() else {
        return;
    };
    let mut c = Conversation::new(
        "10.0.0.1:4000".parse().unwrap(),
        "10.0.0.2:5222".parse().unwrap(),
        Link::Raw,
        Timestamp(0),
    );
    c.mss = usize::from(mss % 64) + 1;
    let mut packets = c.handshake();
    let (client, server) = payload.split_at(payload.len() / 2);
    packets.extend(c.send(true, client));
    packets.extend(c.send(false, server));
    packets.extend(c.close());
    common::analyse(&packets, Config::default());
});
