//! Differential, for the bounded decompressor of XEP-0138 and permessage-deflate
//! (`transport::inflate`): arbitrary bytes (mostly invalid deflate) fed whole and
//! cut at a point the input chooses must give the same bytes out, or an error at
//! the same place; no piece ever decodes to more than its bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xmppdump::transport::inflate::{Format, InflateError, Inflater, CHUNK};

/// The bytes out of `pieces` fed in turn, and the error it stopped with.
fn inflate(format: Format, pieces: &[&[u8]]) -> (Vec<u8>, Option<InflateError>) {
    let mut inflater = Inflater::new(format);
    let mut out = Vec::new();
    for piece in pieces {
        let before = out.len();
        let result = inflater.feed(piece, &mut out);
        assert!(out.len() - before <= Inflater::max_output(piece.len()) + CHUNK);
        if let Err(e) = result {
            return (out, Some(e));
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let format = if control & 1 == 0 { Format::Zlib } else { Format::Raw };
    let cut = usize::from(control >> 1) * input.len() / 128;
    let (whole, whole_error) = inflate(format, &[input]);
    let (first, rest) = input.split_at(cut.min(input.len()));
    let (pieces, pieces_error) = inflate(format, &[first, rest]);
    // The bomb bound is per piece: cut differently, a borderline input may pass
    // whole and not in pieces, or the other way round.
    let bomb = |e: &Option<InflateError>| matches!(e, Some(InflateError::Bomb { .. }));
    if bomb(&whole_error) || bomb(&pieces_error) {
        return;
    }
    assert_eq!(whole_error.is_some(), pieces_error.is_some());
    if whole_error.is_none() {
        assert_eq!(whole, pieces);
    } else {
        // Before the error, the same prefix came out.
        let n = whole.len().min(pieces.len());
        assert_eq!(whole[..n], pieces[..n]);
    }
});
