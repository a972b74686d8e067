//! WebSocket permessage-deflate (RFC 7692): the extension's parameters as the
//! server accepted them, and one direction's messages inflated.
//!
//! Input: the payload of each compressed message (RSV1 set on its first frame,
//! RFC 7692 §6), unmasked, in pieces cut anywhere, and the message's end; output:
//! the text it inflates to. The sender strips the 4-byte tail of its sync flush
//! from each message and the receiver appends it again (§7.2.2). With context
//! takeover (the default) a message may refer to earlier ones, so one
//! decompressor lives as long as the direction; without it each message starts
//! afresh (§7.1.1). Bounded like [`super::zlib`]: a bomb makes the direction
//! opaque.

use super::inflate::{
    inflate_counted, reset_scratch, Format, InflateError, Inflated, Inflater, Tally, SYNC_TAIL,
};

/// The extension as the server's `Sec-WebSocket-Extensions` accepted it (RFC 7692
/// §7.1). Window sizes do not matter for reading: a decompressor with the largest
/// window reads any smaller one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: Option<u8>,
    pub client_max_window_bits: Option<u8>,
}

impl Params {
    /// The first `permessage-deflate` in a `Sec-WebSocket-Extensions` value
    /// (RFC 6455 §9.1: `name *( ";" param )`, comma-separated, a parameter's
    /// value a token or a quoted string), or `None` if the server accepted none.
    pub fn from_header(value: &str) -> Option<Params> {
        let offer = value.split(',').find(|e| {
            e.split(';')
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("permessage-deflate"))
        })?;
        let mut params = Params::default();
        for param in offer.split(';').skip(1) {
            let (name, value) = match param.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (param.trim(), None),
            };
            let bits = || value.and_then(|v| v.parse::<u8>().ok());
            match name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" => params.server_no_context_takeover = true,
                "client_no_context_takeover" => params.client_no_context_takeover = true,
                "server_max_window_bits" => params.server_max_window_bits = bits(),
                "client_max_window_bits" => params.client_max_window_bits = bits(),
                _ => {}
            }
        }
        Some(params)
    }

    /// Whether the client's (`to_server`) or the server's messages keep the
    /// context from one message to the next.
    pub fn takeover(&self, to_server: bool) -> bool {
        if to_server {
            !self.client_no_context_takeover
        } else {
            !self.server_no_context_takeover
        }
    }
}

/// One direction's compressed messages.
#[derive(Debug)]
pub struct MessageInflater {
    /// Made at the first compressed message; dropped after each message when the
    /// sender does not keep its context.
    inflater: Option<Box<Inflater>>,
    takeover: bool,
    /// Why compressed messages of this direction can no longer be read (a bomb,
    /// or a lost or undecodable message whose window later messages need).
    broken: Option<&'static str>,
    scratch: Vec<u8>,
    pub tally: Tally,
}

impl MessageInflater {
    pub fn new(takeover: bool) -> MessageInflater {
        MessageInflater {
            inflater: None,
            takeover,
            broken: None,
            scratch: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Why compressed messages are no longer read, if they are not.
    pub fn broken(&self) -> Option<&'static str> {
        self.broken
    }

    /// Whether a message may start here without the ones before it: the sender
    /// keeps no context, so a fresh decompressor reads it.
    pub fn starts_afresh(&self) -> bool {
        !self.takeover && self.broken.is_none()
    }

    /// Inflates the next piece of the current message. An error ends the message
    /// (the caller skips its rest), and with context takeover the direction.
    pub fn feed(&mut self, piece: &[u8]) -> Inflated<'_> {
        self.tally.wire += piece.len() as u64;
        let error = self.inflate(piece).err();
        Inflated {
            text: &self.scratch,
            error,
        }
    }

    /// The message is complete: what its sync tail releases. A message whose
    /// last block was final (BFINAL, RFC 7692 §7.2.3.4) needs no tail; the next
    /// one starts a fresh stream, which a reader can follow only without context
    /// takeover (the window of the one before is not carried over here).
    pub fn end_message(&mut self) -> Inflated<'_> {
        let ended = self.inflater.as_ref().is_some_and(|i| i.is_ended());
        let out = if ended {
            self.scratch.clear();
            self.inflater = None;
            if self.takeover {
                self.broken =
                    Some("a message ended its DEFLATE stream while the sender keeps context");
            }
            Ok(())
        } else {
            self.inflate(&SYNC_TAIL)
        };
        if !self.takeover {
            self.inflater = None;
        }
        Inflated {
            text: &self.scratch,
            error: out.err(),
        }
    }

    /// Bytes of the current message were lost or not read: it ends here, and with
    /// context takeover every later message with it.
    pub fn lose(&mut self) {
        self.inflater = None;
        if self.takeover && self.broken.is_none() {
            self.broken = Some("bytes of a compressed message were lost");
        }
    }

    /// Bytes of memory held for output being passed on.
    pub fn held_bytes(&self) -> usize {
        self.scratch.capacity()
    }

    /// Bytes of memory the decompressor takes while one lives.
    pub fn resident_bytes(&self) -> usize {
        self.inflater
            .as_ref()
            .map_or(0, |_| super::inflate::STATE_BYTES)
    }

    /// Inflates `bytes` into the scratch; what came before an error stays there,
    /// except after a bomb.
    fn inflate(&mut self, bytes: &[u8]) -> Result<(), InflateError> {
        if self.broken.is_some() {
            reset_scratch(&mut self.scratch);
            return Ok(());
        }
        let inflater = self
            .inflater
            .get_or_insert_with(|| Box::new(Inflater::new(Format::Raw)));
        let Some(error) = inflate_counted(inflater, bytes, &mut self.scratch, &mut self.tally)
        else {
            return Ok(());
        };
        if matches!(error, InflateError::Bomb { .. }) {
            self.broken = Some("a compression bomb");
        }
        self.lose();
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// A sender's messages (RFC 7692 §7.2.1): each sync-flushed, its tail
    /// stripped; with `takeover` one compressor for all.
    fn messages(texts: &[String], takeover: bool) -> Vec<Vec<u8>> {
        let mut c = Compress::new(Compression::new(6), false);
        texts
            .iter()
            .map(|t| {
                if !takeover {
                    c.reset();
                }
                let mut out = Vec::with_capacity(t.len() + 1024);
                c.compress_vec(t.as_bytes(), &mut out, FlushCompress::Sync)
                    .unwrap();
                assert!(out.ends_with(&SYNC_TAIL));
                out.truncate(out.len() - 4);
                out
            })
            .collect()
    }

    fn texts() -> Vec<String> {
        (0..20)
            .map(|i| {
                format!(
                    "<message id='m{i}'><body>{}</body></message>",
                    "hi ".repeat(i)
                )
            })
            .collect()
    }

    fn read(m: &mut MessageInflater, wire: &[u8], cut: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for step in [&wire[..cut], &wire[cut..]] {
            let inflated = m.feed(step);
            assert_eq!(inflated.error, None);
            out.extend_from_slice(inflated.text);
        }
        let end = m.end_message();
        assert_eq!(end.error, None);
        out.extend_from_slice(end.text);
        out
    }

    #[test]
    fn the_answer_names_the_parameters() {
        let p = Params::from_header(
            "x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover; client_max_window_bits=\"10\"",
        )
        .unwrap();
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (None, Some(10))
        );
        assert!(p.takeover(true) && !p.takeover(false));
        assert_eq!(Params::from_header("x-webkit-deflate-frame"), None);
        assert_eq!(
            Params::from_header("PerMessage-Deflate"),
            Some(Params::default())
        );
    }

    /// Every message cut at every byte, with and without context takeover.
    #[test]
    fn messages_cut_anywhere_inflate_to_their_text() {
        let texts = texts();
        for takeover in [true, false] {
            let wire = messages(&texts, takeover);
            let longest = wire.iter().map(Vec::len).max().unwrap();
            for cut in 0..=longest {
                let mut m = MessageInflater::new(takeover);
                for (w, t) in wire.iter().zip(&texts) {
                    let out = read(&mut m, w, cut.min(w.len()));
                    assert_eq!(out, t.as_bytes(), "takeover {takeover} cut {cut}");
                }
                let plain: usize = texts.iter().map(String::len).sum();
                assert_eq!(m.tally.inflated, plain as u64);
                assert_eq!(
                    m.tally.wire,
                    wire.iter().map(Vec::len).sum::<usize>() as u64
                );
            }
        }
    }

    /// Without context takeover a lost message costs only itself; with it, every
    /// later message.
    #[test]
    fn a_lost_message_ends_the_direction_only_with_context_takeover() {
        let texts = texts();
        for takeover in [true, false] {
            let wire = messages(&texts, takeover);
            let mut m = MessageInflater::new(takeover);
            assert_eq!(m.feed(&wire[0][..3]).error, None);
            m.lose();
            assert_eq!(m.starts_afresh(), !takeover);
            let out = read(&mut m, &wire[1], 0);
            if takeover {
                assert!(m.broken().is_some());
                assert!(out.is_empty());
            } else {
                assert_eq!(out, texts[1].as_bytes());
            }
        }
    }

    /// A final block ends the message's stream; the next starts a new one.
    #[test]
    fn a_final_block_needs_no_tail() {
        let mut c = Compress::new(Compression::new(6), false);
        let mut out = Vec::with_capacity(1024);
        c.compress_vec(b"<presence/>", &mut out, FlushCompress::Finish)
            .unwrap();
        let mut m = MessageInflater::new(false);
        assert_eq!(read(&mut m, &out, 4), b"<presence/>");
        assert_eq!(read(&mut m, &out, 2), b"<presence/>");
        let mut m = MessageInflater::new(true);
        assert_eq!(read(&mut m, &out, 4), b"<presence/>");
        assert!(m.broken().is_some());
    }

    #[test]
    fn garbage_ends_the_message_not_the_reader() {
        let mut m = MessageInflater::new(false);
        assert!(m.feed(&[0xff, 0xff, 0xff]).error.is_some());
        let wire = messages(&texts(), false);
        assert_eq!(read(&mut m, &wire[2], 1), texts()[2].as_bytes());
    }
}
