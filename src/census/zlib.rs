//! What XEP-0138 stream compression would make of a stream: its elements fed to
//! one zlib compressor per direction, flushed after each.
//!
//! XEP-0138 §4 makes ZLIB (RFC 1950) the mandatory method, and §6.1 has the sender
//! flush "when its current send is complete" — after each stanza when stanzas go out
//! one by one, as in a capture. The flush is a sync flush (what ejabberd's and
//! prosody's zlib bindings do): the bytes so far decode at once, the dictionary of
//! everything before stays, so later stanzas compress against earlier ones. The
//! compressor is flate2's pure-Rust deflate (miniz_oxide) at zlib's default
//! level 6.
//!
//! Input: one direction's elements in order; output: the bytes each adds to the
//! compressed stream (the 2-byte zlib header counts with the first).

use flate2::{Compress, Compression, FlushCompress};

/// zlib's default compression level (`Z_DEFAULT_COMPRESSION`).
const LEVEL: u32 = 6;
/// Room added to the output buffer at a time, at least.
const MIN_ROOM: usize = 256;

/// The compressor of one direction.
pub struct Deflater {
    compress: Compress,
}

impl Default for Deflater {
    fn default() -> Self {
        Deflater::new()
    }
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("total_in", &self.compress.total_in())
            .field("total_out", &self.compress.total_out())
            .finish()
    }
}

impl Deflater {
    pub fn new() -> Deflater {
        Deflater {
            // `true`: the zlib wrapper (RFC 1950), as XEP-0138's `zlib` method names.
            compress: Compress::new(Compression::new(LEVEL), true),
        }
    }

    /// Compresses `xml` and flushes; `out` receives exactly the bytes this adds to
    /// the stream (its old content is dropped). `None` when deflate fails or stops
    /// making progress; the compressor is then unusable.
    pub fn element(&mut self, xml: &[u8], out: &mut Vec<u8>) -> Option<u64> {
        out.clear();
        let start = self.compress.total_in();
        loop {
            let used = usize::try_from(self.compress.total_in() - start).ok()?;
            let rest = xml.get(used..)?;
            if out.capacity() - out.len() < MIN_ROOM {
                out.reserve(MIN_ROOM.max(rest.len() / 2).max(out.capacity()));
            }
            let (before_in, before_out) = (self.compress.total_in(), out.len());
            self.compress
                .compress_vec(rest, out, FlushCompress::Sync)
                .ok()?;
            let all_in = self.compress.total_in() - start == xml.len() as u64;
            // A flush is complete when deflate returns with output room to spare
            // (zlib's rule for `avail_out != 0`).
            if all_in && out.len() < out.capacity() {
                return Some(out.len() as u64);
            }
            if self.compress.total_in() == before_in && out.len() == before_out {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    /// Inflates `compressed` (a zlib stream so far) to what it decodes to.
    fn inflate(decompress: &mut Decompress, compressed: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(compressed.len() * 20 + 1024);
        decompress
            .decompress_vec(compressed, &mut out, FlushDecompress::Sync)
            .unwrap();
        out
    }

    /// The property XEP-0138 relies on: after each flush, the receiver decodes
    /// exactly the element sent, with nothing held back.
    #[test]
    fn each_flushed_element_decodes_at_once_and_whole() {
        let elements: Vec<String> = (0..200)
            .map(|i| {
                format!(
                    "<presence from='user{}@example.org/res' to='room@muc.example.org/nick{}'>\
                     <show>away</show><status>meeting {}</status>\
                     <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
                     node='https://gajim.org' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>",
                    i % 7,
                    i,
                    i * i
                )
            })
            .collect();
        let mut deflater = Deflater::new();
        let mut decompress = Decompress::new(true);
        let mut out = Vec::new();
        let (mut raw, mut compressed) = (0, 0);
        for e in &elements {
            let n = deflater.element(e.as_bytes(), &mut out).unwrap();
            assert_eq!(n, out.len() as u64);
            // A sync flush ends with the empty stored block 00 00 FF FF.
            assert!(out.ends_with(&[0, 0, 0xff, 0xff]), "{out:?}");
            assert_eq!(inflate(&mut decompress, &out), e.as_bytes());
            raw += e.len() as u64;
            compressed += n;
        }
        // Repetitive presences compress well against the shared dictionary.
        assert!(compressed * 3 < raw, "{compressed} of {raw}");
    }

    /// An element larger than any first guess of the output room (random base64
    /// barely compresses) still comes out whole.
    #[test]
    fn a_large_incompressible_element_comes_out_whole() {
        let mut x: u32 = 12345;
        let text: String = (0..300_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                alphabet[(x >> 16) as usize % 64] as char
            })
            .collect();
        let xml = format!(
            "<iq type='set'><data xmlns='http://jabber.org/protocol/ibb'>{text}</data></iq>"
        );
        let mut deflater = Deflater::new();
        let mut out = Vec::new();
        let n = deflater.element(xml.as_bytes(), &mut out).unwrap();
        // 6 bits of entropy per 8-bit character: about three quarters remain.
        assert!(n > xml.len() as u64 * 7 / 10 && n < xml.len() as u64, "{n}");
        let mut decompress = Decompress::new(true);
        assert_eq!(inflate(&mut decompress, &out), xml.as_bytes());
    }

    #[test]
    fn an_empty_element_adds_only_the_flush_marker() {
        let mut deflater = Deflater::new();
        let mut out = Vec::new();
        deflater.element(b"<a/>", &mut out).unwrap();
        let n = deflater.element(b"", &mut out).unwrap();
        assert!(n <= 6, "{n}: {out:?}");
    }
}
