//! Background traffic for the generator: the not-XMPP connections a busy link carries
//! around a few XMPP sessions.
//!
//! Input: a connection number and a size; output: its packets. Four kinds, by number:
//! HTTP on 80 (a GET, then the response's bytes), TLS on 443 (a ClientHello offering
//! `h2` and `http/1.1`, then application-data records), SSH on 22 (the version
//! banners, then binary packets) and DNS over UDP on 53 (a query and its answer, no
//! connection). Connections stay open (no FIN), as in a capture cut from a busy link.
//! Each connection keeps only the bytes each side sent so far, so a million of them
//! cost the generator 8 MB.

use super::{Conversation, Link, Packet};
use crate::model::Timestamp;
use etherparse::PacketBuilder;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// What a background connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    Tls,
    Ssh,
    Dns,
}

impl Kind {
    /// The kind of connection number `n`: HTTP and TLS twice as often as SSH and DNS.
    pub fn of(n: u32) -> Kind {
        match n % 6 {
            0 | 1 => Kind::Tls,
            2 | 3 => Kind::Http,
            4 => Kind::Ssh,
            _ => Kind::Dns,
        }
    }

    fn port(self) -> u16 {
        match self {
            Kind::Http => 80,
            Kind::Tls => 443,
            Kind::Ssh => 22,
            Kind::Dns => 53,
        }
    }
}

/// Bytes each side of a connection sent so far.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    client: u32,
    server: u32,
}

/// The background connections of one capture.
pub struct Background {
    sent: Vec<Sent>,
}

/// Client address of connection `n`: 100.64.0.0/10 (RFC 6598), a port per
/// connection, so none collides with the generator's XMPP addresses (10.0.0.0/8).
fn client(n: u32) -> SocketAddr {
    let host = 0x6440_0000 + (n >> 8);
    let port = 20_000 + (n & 0xff) as u16 * 100;
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(host)), port)
}

fn server(kind: Kind, n: u32) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1 + (n % 200) as u8)),
        kind.port(),
    )
}

/// Initial sequence numbers of connection `n`, spread over the space.
fn isns(n: u32) -> (u32, u32) {
    let c = n.wrapping_mul(0x9E37_79B9);
    (c, c ^ 0x5A5A_5A5A)
}

impl Background {
    pub fn new(flows: usize) -> Background {
        Background {
            sent: vec![Sent::default(); flows],
        }
    }

    pub fn len(&self) -> usize {
        self.sent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    /// The conversation of connection `n` as it stands.
    fn conversation(&self, n: u32, time: i64) -> Option<(Kind, Conversation)> {
        let sent = *self.sent.get(n as usize)?;
        let kind = Kind::of(n);
        let (c, s) = isns(n);
        let conv = Conversation::new(client(n), server(kind, n), Link::Ethernet, Timestamp(time))
            .with_isns(
                c.wrapping_add(1).wrapping_add(sent.client),
                s.wrapping_add(1).wrapping_add(sent.server),
            );
        Some((kind, conv))
    }

    /// Opens connection `n`: SYN, SYN-ACK and the client's first bytes (a DNS
    /// query and its answer for DNS).
    pub fn open(&mut self, n: u32, time: i64) -> Vec<Packet> {
        let Some((kind, mut conv)) = self.conversation(n, time) else {
            return Vec::new();
        };
        conv.step = 1_000;
        if kind == Kind::Dns {
            return vec![
                udp(conv.client, conv.server, time, &dns_query(n, false)),
                udp(conv.server, conv.client, time + 1_000, &dns_query(n, true)),
            ];
        }
        // SYN and SYN-ACK; the request carries the third packet's ACK.
        let mut packets = conv.handshake();
        packets.truncate(2);
        conv.now -= conv.step;
        let request = first_bytes(kind, n);
        let data = conv.send_one(true, &request);
        if let Some(sent) = self.sent.get_mut(n as usize) {
            sent.client = sent.client.wrapping_add(request.len() as u32);
        }
        packets.push(data);
        packets
    }

    /// `len` bytes from the server of connection `n` (at most one segment's worth);
    /// DNS answers another query instead.
    pub fn data(&mut self, n: u32, time: i64, len: usize) -> Vec<Packet> {
        let Some((kind, mut conv)) = self.conversation(n, time) else {
            return Vec::new();
        };
        if kind == Kind::Dns {
            return vec![udp(conv.server, conv.client, time, &dns_query(n, true))];
        }
        let len = len.clamp(1, 1448);
        let bytes = server_bytes(kind, len, self.sent.get(n as usize).map_or(0, |s| s.server));
        let p = conv.send_one(false, &bytes);
        if let Some(sent) = self.sent.get_mut(n as usize) {
            sent.server = sent.server.wrapping_add(bytes.len() as u32);
        }
        vec![p]
    }
}

/// What the client says first.
fn first_bytes(kind: Kind, n: u32) -> Vec<u8> {
    match kind {
        Kind::Http => format!(
            "GET /item/{n} HTTP/1.1\r\nHost: www{}.example.com\r\nUser-Agent: gen\r\nAccept: */*\r\n\r\n",
            n % 200
        )
        .into_bytes(),
        Kind::Tls => client_hello(n),
        Kind::Ssh => b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
        Kind::Dns => Vec::new(),
    }
}

/// `len` bytes of a server's stream at offset `at`: the HTTP status line first, TLS
/// application-data records, SSH's banner then binary packets.
fn server_bytes(kind: Kind, len: usize, at: u32) -> Vec<u8> {
    let mut out = match (kind, at) {
        (Kind::Http, 0) => b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n".to_vec(),
        (Kind::Ssh, 0) => b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(),
        (Kind::Tls, _) => {
            let body = len.saturating_sub(5).max(1);
            let mut r = vec![0x17, 0x03, 0x03];
            r.extend_from_slice(&u16::try_from(body).unwrap_or(u16::MAX).to_be_bytes());
            r
        }
        _ => Vec::new(),
    };
    let mut x = at.wrapping_mul(2_654_435_761) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(x as u8);
    }
    out.truncate(len.max(1));
    out
}

/// A TLS 1.2/1.3 ClientHello (RFC 8446 §4.1.2) with a server name and an ALPN
/// offer of `h2` and `http/1.1`: TLS, but not XMPP (XEP-0368 §4 would offer
/// `xmpp-client`).
fn client_hello(n: u32) -> Vec<u8> {
    let name = format!("www{}.example.com", n % 200);
    let mut ext = Vec::new();
    // server_name (0)
    let sni_len = name.len() as u16;
    ext.extend_from_slice(&[0, 0]);
    ext.extend_from_slice(&(sni_len + 5).to_be_bytes());
    ext.extend_from_slice(&(sni_len + 3).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&sni_len.to_be_bytes());
    ext.extend_from_slice(name.as_bytes());
    // application_layer_protocol_negotiation (16)
    let protocols: &[&[u8]] = &[b"h2", b"http/1.1"];
    let list: Vec<u8> = protocols
        .iter()
        .flat_map(|p| std::iter::once(p.len() as u8).chain(p.iter().copied()))
        .collect();
    ext.extend_from_slice(&[0, 16]);
    ext.extend_from_slice(&(list.len() as u16 + 2).to_be_bytes());
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
    let mut hello = vec![0x03, 0x03];
    let mut random = [0u8; 32];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (n.wrapping_mul(31).wrapping_add(i as u32 * 7)) as u8;
    }
    hello.extend_from_slice(&random);
    hello.push(0); // no session id
    hello.extend_from_slice(&[0, 2, 0x13, 0x01]); // TLS_AES_128_GCM_SHA256
    hello.extend_from_slice(&[1, 0]); // null compression
    hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    hello.extend_from_slice(&ext);
    let mut handshake = vec![1];
    handshake.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// A DNS query for an A record (RFC 1035 §4.1), or its answer.
fn dns_query(n: u32, answer: bool) -> Vec<u8> {
    let id = (n as u16).to_be_bytes();
    let mut m = vec![id[0], id[1]];
    m.extend_from_slice(if answer { &[0x81, 0x80] } else { &[0x01, 0x00] });
    m.extend_from_slice(&[0, 1, 0, u8::from(answer), 0, 0, 0, 0]);
    for label in ["www", "example", "com"] {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if answer {
        m.extend_from_slice(&[
            0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 198, 51, 100, 7,
        ]);
    }
    m
}

fn udp(src: SocketAddr, dst: SocketAddr, time: i64, payload: &[u8]) -> Packet {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
        return Packet {
            time: Timestamp(time),
            linktype: Link::Ethernet.linktype(),
            data: Vec::new(),
        };
    };
    let builder = PacketBuilder::ipv4(s.octets(), d.octets(), 64).udp(src.port(), dst.port());
    let mut ip = Vec::with_capacity(payload.len() + 28);
    let _ = builder.write(&mut ip, payload);
    Packet {
        time: Timestamp(time),
        linktype: Link::Ethernet.linktype(),
        data: Link::Ethernet.wrap(&ip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    #[test]
    fn every_kind_decodes_and_tcp_kinds_continue_in_sequence() {
        let mut bg = Background::new(12);
        for n in 0..12 {
            let opened = bg.open(n, 1_000_000);
            let more = bg.data(n, 2_000_000, 500);
            for p in opened.iter().chain(&more) {
                let decoded = decode(p.linktype, &p.data).unwrap();
                match Kind::of(n) {
                    Kind::Dns => assert!(decoded.is_none(), "UDP is no TCP segment"),
                    _ => assert!(decoded.is_some()),
                }
            }
            if Kind::of(n) != Kind::Dns {
                let request = decode(opened[2].linktype, &opened[2].data)
                    .unwrap()
                    .unwrap();
                let response = decode(more[0].linktype, &more[0].data).unwrap().unwrap();
                let (c, s) = isns(n);
                assert_eq!(request.seq, c.wrapping_add(1));
                assert_eq!(response.seq, s.wrapping_add(1));
                assert_eq!(response.payload.len(), 500);
            }
        }
    }

    #[test]
    fn addresses_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..100_000 {
            assert!(seen.insert((client(n), server(Kind::of(n), n))));
        }
    }
}
