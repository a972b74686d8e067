//! The packet decoder on arbitrary bytes and every link type: it never panics, and its
//! fast path for plain IPv4/TCP gives what the general decoder gives.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, packet)) = data.split_first() else {
        return;
    };
    let links = xmppdump::capture::SUPPORTED_LINKTYPES;
    let link = links[usize::from(selector) % links.len()];
    assert_eq!(
        xmppdump::decode::decode(link, packet),
        xmppdump::decode::decode_general(link, packet)
    );
});
