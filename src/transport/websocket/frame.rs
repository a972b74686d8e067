//! WebSocket frame headers (RFC 6455 §5.2) and unmasking (§5.3).
//!
//! Input: the bytes at a frame's start; output: its header, or why it cannot be one.

use crate::status::Status;

pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// Longest frame header: 2 bytes, 8 of extended length, 4 of masking key.
pub const MAX_HEADER: usize = 14;
/// Longest control frame payload (RFC 6455 §5.5).
pub const MAX_CONTROL: u64 = 125;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub fin: bool,
    /// RSV1: set on a compressed message (permessage-deflate, RFC 7692 §6).
    pub compressed: bool,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub len: u64,
    /// Bytes of the header itself.
    pub header_len: usize,
}

impl Header {
    pub fn is_control(&self) -> bool {
        self.opcode >= CLOSE
    }
}

/// Not a frame RFC 6455 allows: why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

/// A frame header from the start of `b`: [`Status::Partial`] while it is longer
/// than the bytes at hand; complete, its `header_len` is the bytes it took.
pub fn parse(b: &[u8]) -> Result<Status<Header>, Invalid> {
    let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else {
        return Ok(Status::Partial);
    };
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0f;
    // RSV2 and RSV3 belong to no extension XMPP uses (RFC 6455 §5.2).
    if b0 & 0x30 != 0 {
        return Err(Invalid("reserved bits RSV2/RSV3 set"));
    }
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(Invalid("unknown opcode"));
    }
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7f {
        126 => match (b.get(2), b.get(3)) {
            (Some(&x), Some(&y)) => (u64::from(u16::from_be_bytes([x, y])), 4),
            _ => return Ok(Status::Partial),
        },
        127 => match b.get(2..10).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
            Some(bytes) => (u64::from_be_bytes(bytes), 10),
            None => return Ok(Status::Partial),
        },
        n => (u64::from(n), 2),
    };
    if len >> 63 != 0 {
        return Err(Invalid("payload length with its top bit set"));
    }
    let header = Header {
        fin,
        compressed: b0 & 0x40 != 0,
        opcode,
        mask: None,
        len,
        header_len: 0,
    };
    if header.is_control() && (len > MAX_CONTROL || !fin) {
        return Err(Invalid("control frame fragmented or longer than 125 bytes"));
    }
    let mask = if masked {
        match b.get(at..at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()) {
            Some(key) => {
                at += 4;
                Some(key)
            }
            None => return Ok(Status::Partial),
        }
    } else {
        None
    };
    Ok(Status::Complete(Header {
        mask,
        header_len: at,
        ..header
    }))
}

/// Unmasks `data` in place; `pos` is the offset of `data[0]` in the payload.
pub fn unmask(data: &mut [u8], mask: [u8; 4], pos: u64) {
    for (i, byte) in data.iter_mut().enumerate() {
        let key = mask
            .get(((pos + i as u64) % 4) as usize)
            .copied()
            .unwrap_or(0);
        *byte ^= key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_examples() {
        // §5.7: a single-frame unmasked text message "Hello".
        let unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let Ok(Status::Complete(h)) = parse(&unmasked) else {
            panic!()
        };
        assert_eq!(
            (h.fin, h.opcode, h.len, h.header_len, h.mask),
            (true, TEXT, 5, 2, None)
        );
        // §5.7: the same, masked.
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let Ok(Status::Complete(h)) = parse(&masked) else {
            panic!()
        };
        assert_eq!(h.header_len, 6);
        let mut payload = masked[6..].to_vec();
        unmask(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
        // Unmasking in pieces gives the same bytes.
        let mut a = masked[6..8].to_vec();
        let mut b = masked[8..].to_vec();
        unmask(&mut a, h.mask.unwrap(), 0);
        unmask(&mut b, h.mask.unwrap(), 2);
        assert_eq!([a, b].concat(), b"Hello");
        // §5.7: 256 bytes and 64 KiB binary messages in one unmasked frame.
        assert!(matches!(
            parse(&[0x82, 0x7e, 0x01, 0x00]),
            Ok(Status::Complete(Header {
                len: 256,
                header_len: 4,
                ..
            }))
        ));
        let big = [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
        assert!(matches!(
            parse(&big),
            Ok(Status::Complete(Header {
                len: 65536,
                header_len: 10,
                ..
            }))
        ));
    }

    #[test]
    fn incomplete_and_invalid_headers() {
        assert_eq!(parse(&[0x81]), Ok(Status::Partial));
        assert_eq!(parse(&[0x81, 0xfe, 0x01]), Ok(Status::Partial));
        assert_eq!(parse(&[0x81, 0x85, 0x37]), Ok(Status::Partial));
        assert!(parse(&[0x83, 0x00]).is_err());
        assert!(parse(&[0xa1, 0x00]).is_err());
        assert!(parse(&[0x09, 0x00]).is_err(), "fragmented ping");
        assert!(parse(&[0x88, 0x7e, 0x00, 0x80]).is_err());
        let top = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert!(parse(&top).is_err());
        assert!(matches!(
            parse(&[0xc1, 0x00]),
            Ok(Status::Complete(Header {
                compressed: true,
                ..
            }))
        ));
    }
}
