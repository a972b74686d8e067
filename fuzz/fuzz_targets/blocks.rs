//! The block scanner against the byte scanner on arbitrary bytes: the same position
//! for every class at every position, and the same element parse (tree shape and
//! length, or nothing) from every split point of the input; and the JID check 16
//! bytes at a time against the byte walk on every suffix of the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xmppdump::xml::{self, blocks, class, NsScope, ScanMode, Scratch};

/// Names, attribute values and text of a tree, in document order.
fn shape(tree: &xml::Tree<'_>) -> Vec<String> {
    fn walk(e: xml::Element<'_>, out: &mut Vec<String>) {
        out.push(format!("{:?} {} {}", e.ns(), e.name(), e.text()));
        for a in e.attrs() {
            out.push(format!("{}={}", a.name, a.value));
        }
        for child in e.children() {
            walk(child, out);
        }
        out.push("/".to_owned());
    }
    let mut out = Vec::new();
    if let Some(root) = tree.root() {
        walk(root, &mut out);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(4096)];
    for at in 0..=data.len() {
        for classes in class::ALL {
            assert_eq!(blocks::skip(data, at, classes), class::skip_while(data, at, classes));
            assert_eq!(blocks::find(data, at, classes), class::find(data, at, classes));
        }
    }
    for start in 0..=data.len() {
        let rest = &data[start..];
        assert_eq!(
            xmppdump::jid::plain_bare_end(rest),
            xmppdump::jid::plain_bare_end_bytes(rest)
        );
    }
    let text = String::from_utf8_lossy(data);
    let mut scope = NsScope::default();
    scope.bind("", "jabber:client");
    let mut by_blocks = Scratch::scanning(ScanMode::Blocks);
    let mut by_bytes = Scratch::scanning(ScanMode::Bytes);
    for start in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
        let rest = &text[start..];
        let a = xml::parse_element_prefix(rest, &scope, 64, 16, &mut by_blocks);
        let b = xml::parse_element_prefix(rest, &scope, 64, 16, &mut by_bytes);
        assert_eq!(
            a.as_ref().map(|(tree, len)| (shape(tree), *len)),
            b.as_ref().map(|(tree, len)| (shape(tree), *len)),
            "split at {start}"
        );
    }
});
