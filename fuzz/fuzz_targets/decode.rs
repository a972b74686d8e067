//! The packet decoder on arbitrary bytes and every link type.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, packet)) = data.split_first() else {
        return;
    };
    let links = xmppdump::capture::SUPPORTED_LINKTYPES;
    let link = links[usize::from(selector) % links.len()];
    let _ = xmppdump::decode::decode(link, packet);
});
