//! The capture reader on arbitrary bytes: never panics, always ends.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut reader) = xmppdump::capture::Reader::new(std::io::Cursor::new(data.to_vec())) {
        for _ in 0..100_000 {
            match reader.next_packet() {
                Ok(Some(_)) => {}
                _ => break,
            }
        }
    }
});
