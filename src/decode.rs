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
    match data.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(DecodeError::ShortLink),
    }
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
