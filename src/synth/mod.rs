//! Synthetic traffic: TCP conversations wrapped in any supported link layer.
//!
//! Input: what each side says; output: packets (link type, time, bytes) ready for a
//! capture writer or straight for the pipeline. Used by tests, the capture generator
//! and the adversarial captures; the generator knows the truth the analyzer must find.

use crate::capture::write::{PcapWriter, PcapngWriter};
use crate::model::Timestamp;
use etherparse::PacketBuilder;
use std::io;
use std::net::{IpAddr, SocketAddr};

pub mod adversarial;
pub mod background;
pub mod gen;

/// A link layer to wrap IP packets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    /// Ethernet with one 802.1Q tag.
    Vlan,
    LinuxSll,
    LinuxSll2,
    /// BSD loopback, address family in little-endian host order.
    Null,
    Raw,
}

impl Link {
    pub fn linktype(self) -> u32 {
        match self {
            Link::Ethernet | Link::Vlan => 1,
            Link::LinuxSll => 113,
            Link::LinuxSll2 => 276,
            Link::Null => 0,
            Link::Raw => 101,
        }
    }

    /// Wraps one IP packet.
    pub fn wrap(self, ip: &[u8]) -> Vec<u8> {
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
        let mut out = Vec::with_capacity(ip.len() + 24);
        match self {
            Link::Ethernet | Link::Vlan => {
                out.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]);
                if self == Link::Vlan {
                    out.extend_from_slice(&[0x81, 0x00, 0x00, 0x2a]);
                }
                out.extend_from_slice(&ethertype);
            }
            Link::LinuxSll => {
                out.extend_from_slice(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
                out.extend_from_slice(&ethertype);
            }
            Link::LinuxSll2 => {
                out.extend_from_slice(&ethertype);
                out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
            }
            Link::Null => out.extend_from_slice(&(if v6 { 30u32 } else { 2u32 }).to_le_bytes()),
            Link::Raw => {}
        }
        out.extend_from_slice(ip);
        out
    }
}

/// One synthetic packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub time: Timestamp,
    pub linktype: u32,
    pub data: Vec<u8>,
}

impl Packet {
    /// The packet as a capture reader hands it over, as frame number `frame`.
    pub fn as_read(&self, frame: u64) -> crate::capture::Packet<'_> {
        crate::capture::Packet {
            frame: crate::model::FrameNo(frame),
            time: self.time,
            linktype: self.linktype,
            original_len: u32::try_from(self.data.len()).unwrap_or(u32::MAX),
            data: &self.data,
        }
    }
}

/// Writes packets as classic pcap (all must share one link type).
pub fn write_pcap<W: io::Write>(
    out: W,
    packets: &[Packet],
    big_endian: bool,
    nanos: bool,
) -> io::Result<W> {
    let linktype = packets.first().map_or(1, |p| p.linktype);
    let mut w = PcapWriter::new(out, linktype, big_endian, nanos)?;
    for p in packets {
        let len = u32::try_from(p.data.len()).unwrap_or(u32::MAX);
        w.packet(p.time, &p.data, len)?;
    }
    Ok(w.into_inner())
}

/// Writes packets as pcapng.
pub fn write_pcapng<W: io::Write>(out: W, packets: &[Packet]) -> io::Result<W> {
    let mut w = PcapngWriter::new(out)?;
    for p in packets {
        let len = u32::try_from(p.data.len()).unwrap_or(u32::MAX);
        w.packet(p.linktype, p.time, &p.data, len, None)?;
    }
    Ok(w.into_inner())
}

/// A TCP connection between a client and a server, producing packets as they talk.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub link: Link,
    /// Next sequence number of each side.
    client_seq: u32,
    server_seq: u32,
    /// Time of the next packet, in nanoseconds; advanced by `step` per packet.
    pub now: i64,
    pub step: i64,
    /// Largest payload per segment.
    pub mss: usize,
}

impl Conversation {
    pub fn new(
        client: SocketAddr,
        server: SocketAddr,
        link: Link,
        start: Timestamp,
    ) -> Conversation {
        Conversation {
            client,
            server,
            link,
            client_seq: 0x1000_0000,
            server_seq: 0x8000_0000,
            now: start.0,
            step: 1_000_000,
            mss: 1400,
        }
    }

    /// Sets the initial sequence numbers (e.g. near 2³² to test wrap-around).
    pub fn with_isns(mut self, client: u32, server: u32) -> Self {
        self.client_seq = client;
        self.server_seq = server;
        self
    }

    fn seq_mut(&mut self, from_client: bool) -> &mut u32 {
        if from_client {
            &mut self.client_seq
        } else {
            &mut self.server_seq
        }
    }

    /// Builds one segment (flags as given) from `from_client`'s side at `seq`.
    pub fn segment(&mut self, from_client: bool, seq: u32, flags: Flags, payload: &[u8]) -> Packet {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let ack = if from_client {
            self.server_seq
        } else {
            self.client_seq
        };
        let builder = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
            (s, d) => {
                let to6 = |ip: IpAddr| match ip {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                    IpAddr::V6(v6) => v6.octets(),
                };
                PacketBuilder::ipv6(to6(s), to6(d), 64)
            }
        };
        let mut tcp = builder.tcp(src.port(), dst.port(), seq, 65535);
        if flags.syn {
            tcp = tcp.syn();
        }
        if flags.ack {
            tcp = tcp.ack(ack);
        }
        if flags.fin {
            tcp = tcp.fin();
        }
        if flags.rst {
            tcp = tcp.rst();
        }
        if !payload.is_empty() {
            tcp = tcp.psh();
        }
        let mut ip = Vec::with_capacity(payload.len() + 60);
        // Writing into a Vec cannot fail; a failure would only drop this packet.
        let _ = tcp.write(&mut ip, payload);
        let packet = Packet {
            time: Timestamp(self.now),
            linktype: self.link.linktype(),
            data: self.link.wrap(&ip),
        };
        self.now += self.step;
        packet
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> Vec<Packet> {
        let (c, s) = (self.client_seq, self.server_seq);
        let syn = self.segment(
            true,
            c.wrapping_sub(1),
            Flags {
                syn: true,
                ..Flags::default()
            },
            b"",
        );
        let synack = self.segment(
            false,
            s.wrapping_sub(1),
            Flags {
                syn: true,
                ack: true,
                ..Flags::default()
            },
            b"",
        );
        let ack = self.segment(true, c, Flags::ACK, b"");
        vec![syn, synack, ack]
    }

    /// Sends `bytes` from one side in segments of at most `mss` bytes.
    pub fn send(&mut self, from_client: bool, bytes: &[u8]) -> Vec<Packet> {
        let mut out = Vec::new();
        for chunk in bytes.chunks(self.mss.max(1)) {
            out.push(self.send_one(from_client, chunk));
        }
        out
    }

    /// The sequence number `from_client`'s side sends next.
    pub fn next_seq(&self, from_client: bool) -> u32 {
        if from_client {
            self.client_seq
        } else {
            self.server_seq
        }
    }

    /// A segment that is not sent in order: the caller places it where it likes.
    /// Advances the sender's sequence as if it had been sent.
    pub fn send_one(&mut self, from_client: bool, bytes: &[u8]) -> Packet {
        let seq = *self.seq_mut(from_client);
        let p = self.segment(from_client, seq, Flags::ACK, bytes);
        *self.seq_mut(from_client) = seq.wrapping_add(bytes.len() as u32);
        p
    }

    /// FIN from each side, then the last ACK.
    pub fn close(&mut self) -> Vec<Packet> {
        let fin_flags = Flags {
            fin: true,
            ack: true,
            ..Flags::default()
        };
        let c = self.segment(true, self.client_seq, fin_flags, b"");
        self.client_seq = self.client_seq.wrapping_add(1);
        let s = self.segment(false, self.server_seq, fin_flags, b"");
        self.server_seq = self.server_seq.wrapping_add(1);
        let a = self.segment(true, self.client_seq, Flags::ACK, b"");
        vec![c, s, a]
    }

    /// A reset from one side.
    pub fn reset(&mut self, from_client: bool) -> Packet {
        let seq = *self.seq_mut(from_client);
        self.segment(
            from_client,
            seq,
            Flags {
                rst: true,
                ack: true,
                ..Flags::default()
            },
            b"",
        )
    }
}

/// TCP flags of a synthetic segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

impl Flags {
    pub const ACK: Flags = Flags {
        syn: false,
        ack: true,
        fin: false,
        rst: false,
    };
}

/// Opening of a c2s stream from the client (RFC 6120 §4.2).
pub fn client_header(domain: &str) -> String {
    format!("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='{domain}' version='1.0'>")
}

/// Opening of a c2s stream from the server, with the given features.
pub fn server_header(domain: &str, id: &str, features: &str) -> String {
    format!("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='{domain}' id='{id}' version='1.0'><stream:features>{features}</stream:features>")
}

/// The client's HTTP request upgrading to XMPP over WebSocket (RFC 7395 §3.1).
pub fn websocket_upgrade(host: &str, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: xmpp\r\n\r\n"
    )
}

/// The server's answer accepting it (RFC 6455 §4.2.2).
pub fn websocket_accept() -> String {
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
     Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
        .to_owned()
}

/// One WebSocket frame (RFC 6455 §5.2): final, of `opcode`, masked with `mask` (what
/// a client must do) or not (a server).
pub fn websocket_frame(opcode: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (opcode & 0x0f)];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            let mut body = payload.to_vec();
            crate::transport::websocket::frame::unmask(&mut body, key, 0);
            out.extend_from_slice(&body);
        }
        None => out.extend_from_slice(payload),
    }
    out
}
