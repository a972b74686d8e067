//! Packet decoding: link layer → IPv4/IPv6 → TCP segment.
//!
//! Input: a packet's bytes and its link type; output: a borrowed [`Segment`] (or `None`
//! for packets that are not TCP). The link layers are read here (Ethernet with 802.1Q
//! tags, Linux SLL and SLL2, raw IP, BSD null/loopback); IP and TCP are sliced by
//! `etherparse`, which trims Ethernet padding by the IP length. A packet cut short by
//! the snap length yields the bytes captured plus the count of bytes missing.

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::{IpAddr, SocketAddr};

/// One TCP segment, borrowing its payload from the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: Option<u32>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload bytes the IP header announces but the capture lacks (snap length).
    pub missing: u32,
}

/// Why a packet could not be decoded (counted, never fatal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("link header truncated")]
    ShortLink,
    #[error("unsupported link type {0}")]
    LinkType(u32),
    #[error("malformed IP or TCP header: {0}")]
    Malformed(String),
}

// LINKTYPE_ numbers from tcpdump.org/linktypes.html.
const LINKTYPE_NULL: u32 = 0;
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW_OLD: u32 = 12;
const LINKTYPE_RAW_OPENBSD: u32 = 14;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LOOP: u32 = 108;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_IPV4: u32 = 228;
const LINKTYPE_IPV6: u32 = 229;
const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Decodes one packet; `Ok(None)` for anything that is not a TCP segment.
pub fn decode(linktype: u32, data: &[u8]) -> Result<Option<Segment<'_>>, DecodeError> {
    match plain(linktype, data) {
        Some(segment) => Ok(Some(segment)),
        None => sliced(linktype, data),
    }
}

/// The fast path: Ethernet or raw IP carrying plain IPv4 and TCP.
fn plain(linktype: u32, data: &[u8]) -> Option<Segment<'_>> {
    match linktype {
        LINKTYPE_ETHERNET if be16(data, 12) == Ok(ETHERTYPE_IPV4) => {
            plain_ipv4_tcp(data.get(14..)?)
        }
        LINKTYPE_LINUX_SLL if be16(data, 14) == Ok(ETHERTYPE_IPV4) => {
            plain_ipv4_tcp(data.get(16..)?)
        }
        LINKTYPE_LINUX_SLL2 if be16(data, 0) == Ok(ETHERTYPE_IPV4) => {
            plain_ipv4_tcp(data.get(20..)?)
        }
        LINKTYPE_RAW | LINKTYPE_IPV4 => plain_ipv4_tcp(data),
        _ => None,
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;

/// The common case read directly: an unfragmented IPv4 packet without options
/// problems, complete in the capture, carrying a TCP segment with a sound header.
/// `None` means only "not plainly so": [`sliced`] decides (and names any error), and
/// what this returns equals what [`sliced`] returns (tested on every capture and on
/// mutated packets).
fn plain_ipv4_tcp(ip: &[u8]) -> Option<Segment<'_>> {
    // RFC 791 §3.1: version, IHL, total length, flags and fragment offset, protocol.
    let [version_ihl] = bytes_at(ip, 0)?;
    let ihl = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || ihl < 20 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes(bytes_at(ip, 2)?));
    let flags_fragment = u16::from_be_bytes(bytes_at(ip, 6)?);
    let [protocol] = bytes_at(ip, 9)?;
    // More fragments, or an offset: a fragment (the DF bit, 0x4000, is fine).
    if flags_fragment & 0x3fff != 0 || protocol != 6 || total < ihl || total > ip.len() {
        return None;
    }
    let src = std::net::Ipv4Addr::from(bytes_at::<4>(ip, 12)?);
    let dst = std::net::Ipv4Addr::from(bytes_at::<4>(ip, 16)?);
    // Ethernet padding beyond the total length is not payload.
    let tcp = ip.get(ihl..total)?;
    // RFC 9293 §3.1: ports, sequence and acknowledgment numbers, data offset, flags.
    let data_offset = usize::from(*tcp.get(12)? >> 4) * 4;
    if data_offset < 20 || data_offset > tcp.len() {
        return None;
    }
    let word = |at| bytes_at(tcp, at).map(u32::from_be_bytes);
    let port = |at| bytes_at(tcp, at).map(u16::from_be_bytes);
    let flags = *tcp.get(13)?;
    Some(Segment {
        src: SocketAddr::new(IpAddr::V4(src), port(0)?),
        dst: SocketAddr::new(IpAddr::V4(dst), port(2)?),
        seq: word(4)?,
        ack: (flags & 0x10 != 0).then_some(word(8)?),
        syn: flags & 0x02 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        payload: tcp.get(data_offset..)?,
        missing: 0,
    })
}

/// Decodes one packet the general way (`etherparse`), without the fast path:
/// [`decode`] answers the same for every input (the `decode` fuzz target checks it).
pub fn decode_general(linktype: u32, data: &[u8]) -> Result<Option<Segment<'_>>, DecodeError> {
    sliced(linktype, data)
}

/// Decodes one packet with `etherparse`, whatever its shape.
fn sliced(linktype: u32, data: &[u8]) -> Result<Option<Segment<'_>>, DecodeError> {
    let sliced = match linktype {
        LINKTYPE_ETHERNET => LaxSlicedPacket::from_ethernet(data)
            .map_err(|e| DecodeError::Malformed(e.to_string()))?,
        LINKTYPE_LINUX_SLL => {
            // SLL header: 16 bytes, protocol (ethertype) in the last two.
            let proto = be16(data, 14)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(16..).unwrap_or_default())
        }
        LINKTYPE_LINUX_SLL2 => {
            // SLL2 header: 20 bytes, protocol (ethertype) in the first two.
            let proto = be16(data, 0)?;
            let rest = data.get(20..).ok_or(DecodeError::ShortLink)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), rest)
        }
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            // 4-byte address family, in the writer's byte order for NULL and network
            // order for LOOP; the IP version nibble tells us what follows anyway.
            let rest = data.get(4..).ok_or(DecodeError::ShortLink)?;
            from_ip(rest)?
        }
        LINKTYPE_RAW | LINKTYPE_RAW_OLD | LINKTYPE_RAW_OPENBSD | LINKTYPE_IPV4 | LINKTYPE_IPV6 => {
            from_ip(data)?
        }
        other => return Err(DecodeError::LinkType(other)),
    };
    segment_from(&sliced)
}

fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, DecodeError> {
    LaxSlicedPacket::from_ip(data).map_err(|e| DecodeError::Malformed(e.to_string()))
}

fn be16(data: &[u8], at: usize) -> Result<u16, DecodeError> {
    bytes_at(data, at)
        .map(u16::from_be_bytes)
        .ok_or(DecodeError::ShortLink)
}

/// The `N` bytes of `data` from `at`, if it has them.
fn bytes_at<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..)?.first_chunk::<N>().copied()
}

fn segment_from<'a>(sliced: &LaxSlicedPacket<'a>) -> Result<Option<Segment<'a>>, DecodeError> {
    let (src_ip, dst_ip, ip_payload, expected_len): (IpAddr, IpAddr, _, usize) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let header = v4.header();
            let expected = usize::from(header.total_len()).saturating_sub(header.slice().len());
            (
                header.source_addr().into(),
                header.destination_addr().into(),
                v4.payload(),
                expected,
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let header = v6.header();
            let expected =
                usize::from(header.payload_length()).saturating_sub(v6.extensions().slice().len());
            (
                header.source_addr().into(),
                header.destination_addr().into(),
                v6.payload(),
                expected,
            )
        }
        _ => return Ok(None),
    };
    if ip_payload.ip_number != etherparse::IpNumber::TCP || ip_payload.fragmented {
        return Ok(None);
    }
    let tcp = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        _ => {
            return match &sliced.stop_err {
                Some((err, _)) => Err(DecodeError::Malformed(err.to_string())),
                None => Ok(None),
            }
        }
    };
    let payload = tcp.payload();
    let header_len = tcp.header_slice().len();
    let missing = if ip_payload.incomplete {
        expected_len
            .saturating_sub(header_len)
            .saturating_sub(payload.len())
    } else {
        0
    };
    Ok(Some(Segment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload,
        missing: u32::try_from(missing).unwrap_or(u32::MAX),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The fast path agrees with `etherparse` wherever it answers.
    fn agrees(linktype: u32, data: &[u8]) -> bool {
        match plain(linktype, data) {
            Some(fast) => {
                assert_eq!(Ok(Some(fast)), sliced(linktype, data), "{data:02x?}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn plain_path_equals_etherparse_on_every_captured_packet() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let mut taken = 0;
        let mut packets = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng")
            {
                continue;
            }
            let mut reader =
                crate::capture::Reader::new(std::fs::File::open(&path).unwrap()).unwrap();
            while let Some(p) = reader.next_packet().unwrap() {
                packets += 1;
                taken += usize::from(agrees(p.linktype, p.data));
            }
        }
        // Most captured packets are plain IPv4 TCP: the fast path must take them.
        assert!(taken * 2 > packets, "{taken} of {packets}");
    }

    /// Ethernet, IPv4 (20 bytes, DF) and TCP (20 bytes, ACK|PSH) with a payload.
    fn packet(payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 12];
        p.extend_from_slice(&[0x08, 0x00]);
        let total = 40 + payload.len() as u16;
        p.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(&[0x9c, 0x40, 0x14, 0x66, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x18]);
        p.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn a_plain_packet_takes_the_fast_path() {
        let p = packet(b"<presence/>");
        assert!(agrees(LINKTYPE_ETHERNET, &p));
        assert!(agrees(LINKTYPE_RAW, p.get(14..).unwrap()));
        let segment = plain(LINKTYPE_ETHERNET, &p).unwrap();
        assert_eq!(segment.payload, b"<presence/>");
        assert_eq!(segment.ack, Some(2));
    }

    proptest! {
        /// Damaged headers (any byte of the first 60 changed, lengths cut or padded):
        /// the fast path declines or gives what `etherparse` gives.
        #[test]
        fn damaged_packets_agree(
            edits in proptest::collection::vec((0usize..60, any::<u8>()), 0..6),
            cut in 0usize..80,
            pad in 0usize..8,
            raw in any::<bool>(),
        ) {
            let mut p = packet(b"<message><body>hi</body></message>");
            for (at, byte) in edits {
                if let Some(b) = p.get_mut(at) {
                    *b = byte;
                }
            }
            p.truncate(p.len().saturating_sub(cut.saturating_sub(40)));
            p.extend(std::iter::repeat_n(0, pad));
            if raw {
                agrees(LINKTYPE_RAW, p.get(14..).unwrap_or_default());
            } else {
                agrees(LINKTYPE_ETHERNET, &p);
            }
        }
    }
}
