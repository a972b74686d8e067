//! The XML framer fed in arbitrary chunks: the frames found do not depend on how the
//! bytes are split, and the consumed counts always add up.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xmppdump::xml::{FrameKind, Framer, Status};

fn frames(data: &[u8], step: usize) -> Vec<(FrameKind, usize)> {
    let mut framer = Framer::new(16);
    let mut pending: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for chunk in data.chunks(step.max(1)) {
        pending.extend_from_slice(chunk);
        while let Status::Complete(frame) =
            framer.advance(&pending, |t| t.starts_with(b"<stream:stream"))
        {
            assert!(frame.len <= pending.len());
            if frame.len == 0 {
                break;
            }
            pending.drain(..frame.len);
            out.push((frame.kind, frame.len));
            if matches!(frame.kind, FrameKind::Restricted | FrameKind::Malformed) {
                return out; // the session stops or resynchronizes here
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, xml)) = data.split_first() else {
        return;
    };
    let whole = frames(xml, xml.len());
    let split = frames(xml, usize::from(step % 32) + 1);
    // Whitespace and text frames may split differently; compare the rest.
    let keep = |v: Vec<(FrameKind, usize)>| -> Vec<(FrameKind, usize)> {
        v.into_iter()
            .filter(|(k, _)| !matches!(k, FrameKind::Whitespace | FrameKind::Text))
            .collect()
    };
    assert_eq!(keep(whole), keep(split));
});
