//! The NSS key log parser on arbitrary bytes, then a lookup of a client random taken
//! from the input: never a panic, and parse errors name a line.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xmppdump::transport::tls::{KeyLog, KeyStore};

fuzz_target!(|data: &[u8]| {
    match KeyLog::parse(data) {
        Ok(log) => {
            let mut random = [0u8; 32];
            for (r, d) in random.iter_mut().zip(data.iter().rev()) {
                *r = *d;
            }
            let store = KeyStore::from_log(log);
            let _ = store.lookup(&random);
        }
        Err(e) => assert!(e.line >= 1),
    }
});
