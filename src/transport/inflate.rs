//! Bounded inflation of a compressed stream direction: the decoding half that
//! XEP-0138 stream compression (ZLIB, RFC 1950) and WebSocket permessage-deflate
//! (RFC 7692, raw DEFLATE of RFC 1951) share.
//!
//! Input: compressed bytes in order, in pieces cut anywhere; output: the bytes
//! they decode to so far (a sender's flush makes everything sent decodable,
//! XEP-0138 §6.1, RFC 7692 §7.2.1). Bounded: one piece may not decode to more than
//! [`Inflater::max_output`] bytes — a compression bomb (deflate reaches about
//! 1000:1) is an error, and the caller makes the direction opaque. State is the
//! decompressor's 32 KiB window and a few KiB of tables.

use flate2::{Decompress, FlushDecompress, Status};

/// The empty stored block a sync flush ends with, which RFC 7692 §7.2.1 strips
/// from each message and the receiver appends again (§7.2.2).
pub const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Output allowed per input byte before a piece counts as a bomb.
pub const MAX_RATIO: usize = 256;
/// Output always allowed for one piece, whatever its size.
pub const MIN_OUTPUT: usize = 1 << 20;
/// About the heap memory of one decompressor: its 32 KiB window and its Huffman
/// tables (miniz_oxide's `InflateState`), for memory estimates.
pub const STATE_BYTES: usize = 44 * 1024;
/// Bytes decoded at a time.
pub const CHUNK: usize = 16 * 1024;

/// The compressed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 1950: a 2-byte header, then DEFLATE (XEP-0138's `zlib` method).
    Zlib,
    /// RFC 1951 without a wrapper (permessage-deflate).
    Raw,
}

/// Why inflation stopped; the direction cannot be read further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    #[error("not a valid {0} stream: {1}")]
    Corrupt(&'static str, String),
    #[error("{input} compressed bytes inflate to more than {limit} bytes (a compression bomb?)")]
    Bomb { input: usize, limit: usize },
    #[error("data after the end of the compressed stream")]
    AfterEnd,
}

/// A direction's running totals, and the bound they keep: many pieces each
/// under [`Inflater::max_output`] add up to a bomb as well.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Compressed bytes taken.
    pub wire: u64,
    /// Bytes they inflated to (and were passed on).
    pub inflated: u64,
}

impl Tally {
    /// Counts `n` more bytes inflated from the `wire` bytes so far; past the bound
    /// for the direction as a whole they are an error, and not counted.
    pub fn add(&mut self, n: usize) -> Result<(), InflateError> {
        let wire = usize::try_from(self.wire).unwrap_or(usize::MAX);
        let limit = Inflater::max_output(wire);
        if self.inflated + n as u64 > limit as u64 {
            return Err(InflateError::Bomb { input: wire, limit });
        }
        self.inflated += n as u64;
        Ok(())
    }
}

/// What one piece gave a layer: the bytes it decoded, and the error that stopped
/// it. Bytes decoded before an error are good and are passed on, so the output
/// does not depend on where the pieces were cut; after a bomb nothing is.
#[derive(Debug, PartialEq, Eq)]
pub struct Inflated<'a> {
    pub text: &'a [u8],
    pub error: Option<InflateError>,
}

/// Output kept between pieces below this size (more is given back).
const KEEP_SCRATCH: usize = 64 * 1024;

/// Empties a layer's output buffer for the next piece, giving it back when an
/// earlier piece made it grow large.
pub fn reset_scratch(scratch: &mut Vec<u8>) {
    scratch.clear();
    if scratch.capacity() > KEEP_SCRATCH {
        *scratch = Vec::new();
    }
}

/// One piece of a layer's direction: `bytes` inflated into `scratch` (emptied
/// first) and counted in `tally`; the error that stopped it, if any. What decoded
/// before an error stays in `scratch` to be passed on; after a bomb nothing does.
pub fn inflate_counted(
    inflater: &mut Inflater,
    bytes: &[u8],
    scratch: &mut Vec<u8>,
    tally: &mut Tally,
) -> Option<InflateError> {
    reset_scratch(scratch);
    let error = match inflater.feed(bytes, scratch) {
        // The piece's own bound.
        Err(bomb @ InflateError::Bomb { .. }) => Err(bomb),
        // The direction's bound; what came before another error is good.
        other => tally.add(scratch.len()).map(|()| other.err()),
    };
    error.unwrap_or_else(|bomb| {
        *scratch = Vec::new();
        Some(bomb)
    })
}

/// One direction's decompressor.
pub struct Inflater {
    decompress: Decompress,
    format: Format,
    ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("format", &self.format)
            .field("total_in", &self.decompress.total_in())
            .field("total_out", &self.decompress.total_out())
            .finish()
    }
}

impl Inflater {
    pub fn new(format: Format) -> Inflater {
        Inflater {
            decompress: Decompress::new(format == Format::Zlib),
            format,
            ended: false,
        }
    }

    /// The most a piece of `input` bytes may decode to.
    pub fn max_output(input: usize) -> usize {
        input.saturating_mul(MAX_RATIO).max(MIN_OUTPUT)
    }

    /// Decodes `input`, appending what it yields to `out`; returns the bytes
    /// appended. Pieces may be cut anywhere: bytes that do not yet complete a
    /// code are kept inside the decompressor.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, InflateError> {
        if self.ended {
            return if input.is_empty() {
                Ok(0)
            } else {
                Err(InflateError::AfterEnd)
            };
        }
        let limit = Inflater::max_output(input.len());
        let start_len = out.len();
        let start_in = self.decompress.total_in();
        let mut chunk = [0u8; CHUNK];
        loop {
            let used = usize::try_from(self.decompress.total_in() - start_in).unwrap_or(usize::MAX);
            let rest = input.get(used..).unwrap_or_default();
            let produced = out.len() - start_len;
            if produced > limit {
                return Err(InflateError::Bomb {
                    input: input.len(),
                    limit,
                });
            }
            let before_in = self.decompress.total_in();
            let before_out = self.decompress.total_out();
            let status = self
                .decompress
                .decompress(rest, &mut chunk, FlushDecompress::Sync);
            // What the call decoded before meeting an error is good output too.
            let wrote = usize::try_from(self.decompress.total_out() - before_out).unwrap_or(CHUNK);
            out.extend_from_slice(chunk.get(..wrote).unwrap_or_default());
            let status =
                status.map_err(|e| InflateError::Corrupt(self.format_name(), e.to_string()))?;
            if status == Status::StreamEnd {
                self.ended = true;
                let used = self.decompress.total_in() - start_in;
                if used < input.len() as u64 {
                    return Err(InflateError::AfterEnd);
                }
                return Ok(out.len() - start_len);
            }
            // Until a call moves nothing: miniz_oxide may stop short of the room
            // it has (at the end of its window), so zlib's rule that output room
            // left means done does not hold. No progress means every byte that can
            // be decoded is out, and the rest (if any) is an incomplete code.
            if self.decompress.total_in() == before_in && wrote == 0 {
                return Ok(out.len() - start_len);
            }
        }
    }

    /// Decodes one permessage-deflate message (RFC 7692 §7.2.2): its payload with
    /// the stripped sync tail appended.
    pub fn message(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<usize, InflateError> {
        let n = self.feed(payload, out)?;
        Ok(n + self.feed(&SYNC_TAIL, out)?)
    }

    /// The compressed stream ended (a final block, RFC 1951 §3.2.3): nothing more
    /// may follow.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    fn format_name(&self) -> &'static str {
        match self.format {
            Format::Zlib => "zlib",
            Format::Raw => "deflate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// A sender's elements, each followed by a sync flush (XEP-0138 §6.1).
    fn compressed(format: Format, elements: &[String]) -> Vec<u8> {
        let mut c = Compress::new(Compression::new(6), format == Format::Zlib);
        let mut out = Vec::new();
        for e in elements {
            let start = c.total_in();
            loop {
                out.reserve(e.len() + 1024);
                let used = (c.total_in() - start) as usize;
                c.compress_vec(&e.as_bytes()[used..], &mut out, FlushCompress::Sync)
                    .unwrap();
                if c.total_in() - start == e.len() as u64 && out.len() < out.capacity() {
                    break;
                }
            }
        }
        out
    }

    fn stanzas() -> Vec<String> {
        (0..50)
            .map(|i| {
                format!(
                    "<message to='juliet@example.org' id='m{i}'><body>{}</body></message>",
                    "wherefore art thou ".repeat(i % 5 + 1)
                )
            })
            .collect()
    }

    /// Cut at every byte: the same bytes come out, whatever the pieces.
    #[test]
    fn pieces_cut_anywhere_decode_to_the_same_bytes() {
        for format in [Format::Zlib, Format::Raw] {
            let elements = stanzas();
            let plain: Vec<u8> = elements.concat().into_bytes();
            let z = compressed(format, &elements);
            let mut whole = Vec::new();
            Inflater::new(format).feed(&z, &mut whole).unwrap();
            assert_eq!(whole, plain);
            for cut in 0..z.len() {
                let mut inflater = Inflater::new(format);
                let mut out = Vec::new();
                inflater.feed(&z[..cut], &mut out).unwrap();
                inflater.feed(&z[cut..], &mut out).unwrap();
                assert_eq!(out, plain, "{format:?} cut at {cut}");
            }
            let mut inflater = Inflater::new(format);
            let mut out = Vec::new();
            for b in &z {
                inflater.feed(std::slice::from_ref(b), &mut out).unwrap();
            }
            assert_eq!(out, plain, "{format:?} byte by byte");
        }
    }

    /// After each flush the elements so far are out, nothing held back.
    #[test]
    fn each_flush_releases_its_element() {
        let elements = stanzas();
        let mut c = Compress::new(Compression::new(6), true);
        let mut inflater = Inflater::new(Format::Zlib);
        for e in &elements {
            let mut z = Vec::with_capacity(e.len() + 1024);
            c.compress_vec(e.as_bytes(), &mut z, FlushCompress::Sync)
                .unwrap();
            let mut out = Vec::new();
            inflater.feed(&z, &mut out).unwrap();
            assert_eq!(out, e.as_bytes());
        }
    }

    /// RFC 7692 §7.2.3.1's example: "Hello" as one compressed message, its sync
    /// tail stripped, and §7.2.3.2's second message with context takeover.
    #[test]
    fn rfc_7692_examples() {
        let mut inflater = Inflater::new(Format::Raw);
        let mut out = Vec::new();
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        inflater.message(&hello, &mut out).unwrap();
        assert_eq!(out, b"Hello");
        // The same message again, referring to the first one's window.
        out.clear();
        inflater
            .message(&[0xf2, 0x00, 0x11, 0x00, 0x00], &mut out)
            .unwrap();
        assert_eq!(out, b"Hello");
    }

    /// 64 KiB or so that inflates to 64 MiB: an error after at most the limit
    /// (256 bytes per input byte), never the whole.
    #[test]
    fn a_compression_bomb_is_stopped_at_the_limit() {
        let mut c = Compress::new(Compression::new(9), true);
        let zeros = vec![0u8; 1 << 20];
        let mut bomb = Vec::new();
        for _ in 0..64 {
            bomb.reserve(4096);
            c.compress_vec(&zeros, &mut bomb, FlushCompress::None)
                .unwrap();
        }
        bomb.reserve(4096);
        c.compress_vec(&[], &mut bomb, FlushCompress::Sync).unwrap();
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        let mut inflater = Inflater::new(Format::Zlib);
        let mut out = Vec::new();
        let err = inflater.feed(&bomb, &mut out).unwrap_err();
        assert!(matches!(err, InflateError::Bomb { .. }), "{err}");
        let limit = Inflater::max_output(bomb.len());
        assert!(limit < 64 << 20);
        assert!(out.len() <= limit + CHUNK, "{}", out.len());
    }

    /// Found by the fuzz target (its seed `window-end`): output that crosses the
    /// end of the decompressor's 32 KiB window comes in two calls, and the second
    /// must be asked for even when the first left room.
    #[test]
    fn output_across_the_window_end_is_all_read() {
        let seed = include_bytes!("../../fuzz/seeds/inflate/window-end");
        let input = &seed[1..];
        let mut whole = Vec::new();
        Inflater::new(Format::Zlib).feed(input, &mut whole).unwrap();
        assert!(whole.len() > 32 * 1024, "{}", whole.len());
        for cut in 0..input.len() {
            let mut inflater = Inflater::new(Format::Zlib);
            let mut out = Vec::new();
            inflater.feed(&input[..cut], &mut out).unwrap();
            inflater.feed(&input[cut..], &mut out).unwrap();
            assert_eq!(out, whole, "cut at {cut}");
        }
    }

    /// A layer's piece past its bound passes nothing on and counts nothing,
    /// whichever bound (the piece's or the direction's) caught it.
    #[test]
    fn a_bomb_in_a_layer_passes_nothing_on() {
        let mut c = Compress::new(Compression::new(9), true);
        let mut bomb = Vec::with_capacity(64 * 1024);
        c.compress_vec(&vec![0u8; 8 << 20], &mut bomb, FlushCompress::Sync)
            .unwrap();
        let mut inflater = Inflater::new(Format::Zlib);
        let mut scratch = b"last piece".to_vec();
        let mut tally = Tally {
            wire: bomb.len() as u64,
            inflated: 0,
        };
        let error = inflate_counted(&mut inflater, &bomb, &mut scratch, &mut tally);
        assert!(
            matches!(error, Some(InflateError::Bomb { .. })),
            "{error:?}"
        );
        assert!(scratch.is_empty());
        assert_eq!(tally.inflated, 0);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        let err = Inflater::new(Format::Zlib)
            .feed(b"<stream:stream>", &mut out)
            .unwrap_err();
        assert!(matches!(err, InflateError::Corrupt("zlib", _)), "{err}");
    }
}
