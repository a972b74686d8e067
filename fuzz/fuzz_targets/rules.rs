//! The check rule parser and the TOML rules-file parser on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = xmppdump::check::parse_rule(text);
        let _ = xmppdump::check::parse_rules_file(text);
    }
});
