//! TLS record handling with and without keys: one connection on port 5222 whose
//! segments come from the input as `[direction][length: u16][bytes]…`, analysed with
//! the key log of a prosody capture, the other one, or none (first byte). Seeds are
//! the segments of the prosody captures (fuzz/make-tls-seeds.sh), so mutations reach
//! the decrypted inner stream as well as the record and handshake parsers.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;
use std::sync::{Arc, OnceLock};
use xmppdump::model::Timestamp;
use xmppdump::pipeline::Config;
use xmppdump::synth::{Conversation, Link};
use xmppdump::transport::tls::{KeyLog, KeyStore};

const TLS13_KEYS: &[u8] = include_bytes!("../../captures/prosody_starttls.keylog");
const TLS12_KEYS: &[u8] = include_bytes!("../../captures/prosody_starttls_tls12.keylog");

fn store(bytes: &'static [u8], cell: &'static OnceLock<Arc<KeyStore>>) -> Arc<KeyStore> {
    cell.get_or_init(|| Arc::new(KeyStore::from_log(KeyLog::parse(bytes).unwrap())))
        .clone()
}

fuzz_target!(|data: &[u8]| {
    static K13: OnceLock<Arc<KeyStore>> = OnceLock::new();
    static K12: OnceLock<Arc<KeyStore>> = OnceLock::new();
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let keys = match mode % 3 {
        0 => None,
        1 => Some(store(TLS13_KEYS, &K13)),
        _ => Some(store(TLS12_KEYS, &K12)),
    };
    let mut c = Conversation::new(
        "127.0.0.1:52116".parse().unwrap(),
        "127.0.0.1:5222".parse().unwrap(),
        Link::Raw,
        Timestamp(0),
    );
    c.mss = 1 << 16;
    let mut packets = c.handshake();
    while let [dir, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        packets.extend(c.send(dir & 1 == 0, chunk));
        rest = next;
    }
    packets.extend(c.close());
    let config = Config {
        keys,
        ..Config::default()
    };
    common::analyse(&packets, config);
});
