//! Captures built to exhaust or confuse an analyzer (see docs/limits.md). Each
//! returns packets, or streams them to a writer when they are large.
//!
//! Input: sizes; output: hostile traffic on port 5222: a SYN flood, a stanza that
//! never closes, deep nesting, entity expansion, invalid UTF-8, huge attribute lists,
//! sequence jumps, retransmissions that change content, and many connections that
//! each leave a large element unfinished.

use super::{client_header, server_header, Conversation, Flags, Link, Packet};
use crate::capture::write::PcapWriter;
use crate::model::Timestamp;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const T0: i64 = 1_700_000_000_000_000_000;

fn server() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1)), 5222)
}

fn client(n: u32) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + n / 50_000)),
        10_000 + (n % 50_000) as u16,
    )
}

/// The `i`-th client's connection to the server, starting `i × spacing_ns` after T0.
fn nth_connection(i: u32, spacing_ns: i64) -> Conversation {
    Conversation::new(
        client(i),
        server(),
        Link::Raw,
        Timestamp(T0 + i64::from(i) * spacing_ns),
    )
}

/// An opened c2s connection: handshake and both stream headers.
fn opened() -> (Conversation, Vec<Packet>) {
    let mut c = Conversation::new(client(1), server(), Link::Raw, Timestamp(T0));
    let mut packets = c.handshake();
    packets.extend(c.send(true, client_header("example.org").as_bytes()));
    packets.extend(c.send(false, server_header("example.org", "x", "").as_bytes()));
    (c, packets)
}

/// `n` connection attempts (SYN only) to port 5222 from distinct addresses.
pub fn syn_flood<W: Write>(n: u32, out: W) -> io::Result<W> {
    let mut w = PcapWriter::new(out, Link::Raw.linktype(), false, false)?;
    syn_flood_into(&mut w, n, Link::Raw)?;
    Ok(w.into_inner())
}

/// [`syn_flood`] into a writer whose link type is `link`'s (so a capture of that
/// link type can follow).
pub fn syn_flood_into<W: Write>(w: &mut PcapWriter<W>, n: u32, link: Link) -> io::Result<()> {
    for i in 0..n {
        let mut c = nth_connection(i, 1000);
        c.link = link;
        let p = c.segment(
            true,
            1,
            Flags {
                syn: true,
                ..Flags::default()
            },
            b"",
        );
        w.packet(p.time, &p.data, p.data.len() as u32)?;
    }
    Ok(())
}

/// One connection whose `<message><body>` never closes: `bytes` of text.
pub fn endless_stanza<W: Write>(bytes: u64, out: W) -> io::Result<W> {
    let (mut c, opening) = opened();
    let mut w = PcapWriter::new(out, Link::Raw.linktype(), false, false)?;
    for p in &opening {
        w.packet(p.time, &p.data, p.data.len() as u32)?;
    }
    c.step = 0;
    let start = c.send_one(true, b"<message to='a@b'><body>");
    w.packet(start.time, &start.data, start.data.len() as u32)?;
    let chunk = vec![b'x'; 1400];
    let mut sent = 0;
    while sent < bytes {
        let p = c.send_one(true, &chunk);
        w.packet(p.time, &p.data, p.data.len() as u32)?;
        sent += chunk.len() as u64;
    }
    Ok(w.into_inner())
}

/// `connections` connections, one after another, each opening its streams and then a
/// `<message><body>` with `bytes_each` bytes of text that never closes: together they
/// ask to hold `connections × bytes_each` bytes at once.
pub fn many_unfinished_stanzas<W: Write>(
    connections: u32,
    bytes_each: usize,
    out: W,
) -> io::Result<W> {
    let mut w = PcapWriter::new(out, Link::Raw.linktype(), false, false)?;
    let chunk = vec![b'x'; 1400];
    for i in 0..connections {
        let mut c = nth_connection(i, 1_000_000_000);
        c.step = 1000;
        let mut packets = c.handshake();
        packets.extend(c.send(true, client_header("example.org").as_bytes()));
        packets.extend(c.send(false, server_header("example.org", "x", "").as_bytes()));
        packets.push(c.send_one(true, b"<message to='a@b'><body>"));
        for p in &packets {
            w.packet(p.time, &p.data, p.data.len() as u32)?;
        }
        let mut sent = 0;
        while sent < bytes_each {
            let n = chunk.len().min(bytes_each - sent);
            let p = c.send_one(true, chunk.get(..n).unwrap_or_default());
            w.packet(p.time, &p.data, p.data.len() as u32)?;
            sent += n;
        }
    }
    Ok(w.into_inner())
}

/// A message nested `depth` elements deep.
pub fn deep_nesting(depth: usize) -> Vec<Packet> {
    let (mut c, mut packets) = opened();
    let xml = format!(
        "<message>{}{}</message><presence/>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    packets.extend(c.send(true, xml.as_bytes()));
    packets
}

/// "Billion laughs": a DTD with nested entities before the stream, and an entity
/// reference inside a stanza on a second connection.
pub fn billion_laughs() -> Vec<Packet> {
    let mut dtd = String::from("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol0 'lol'>");
    for i in 1..10 {
        dtd.push_str(&format!(
            "<!ENTITY lol{i} '{}'>",
            format!("&lol{};", i - 1).repeat(10)
        ));
    }
    dtd.push_str("]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><message><body>&lol9;</body></message>");
    let mut c = Conversation::new(client(1), server(), Link::Raw, Timestamp(T0));
    let mut packets = c.handshake();
    packets.extend(c.send(true, dtd.as_bytes()));
    let (mut c2, opening) = {
        let mut c2 = Conversation::new(
            client(2),
            server(),
            Link::Raw,
            Timestamp(T0 + 1_000_000_000),
        );
        let mut p = c2.handshake();
        p.extend(c2.send(true, client_header("example.org").as_bytes()));
        (c2, p)
    };
    packets.extend(opening);
    packets.extend(c2.send(true, b"<message><body>&lol9;</body></message><presence/>"));
    packets
}

/// Invalid UTF-8 in an element name, in text, and in an attribute value.
pub fn invalid_utf8() -> Vec<Packet> {
    let (mut c, mut packets) = opened();
    packets.extend(c.send(true, b"<mess\xffage/><message><body>\xc3\x28</body></message><presence to='\xed\xa0\x80'/><presence/>"));
    packets
}

/// One element with `n` attributes.
pub fn many_attributes(n: usize) -> Vec<Packet> {
    let (mut c, mut packets) = opened();
    let mut xml = String::from("<presence");
    for i in 0..n {
        xml.push_str(&format!(" a{i}='x'"));
    }
    xml.push_str("/><presence/>");
    packets.extend(c.send(true, xml.as_bytes()));
    packets
}

/// Segments whose sequence numbers jump by 2³¹ (and 2³¹ − 1), between normal ones.
pub fn sequence_jumps() -> Vec<Packet> {
    let (mut c, mut packets) = opened();
    packets.extend(c.send(true, b"<presence/>"));
    let seq = c.next_seq(true);
    packets.push(c.segment(
        true,
        seq.wrapping_add(1 << 31),
        Flags::ACK,
        b"<message><body>jump</body></message>",
    ));
    packets.push(c.segment(
        true,
        seq.wrapping_add((1 << 31) - 1),
        Flags::ACK,
        b"<message><body>jump</body></message>",
    ));
    packets.extend(c.send(true, b"<presence/>"));
    packets
}

/// A segment retransmitted with different bytes (first copy is what counts).
pub fn conflicting_retransmission() -> Vec<Packet> {
    let (mut c, mut packets) = opened();
    let seq = c.next_seq(true);
    let first = c.send_one(true, b"<message><body>good</body></message>");
    packets.push(first);
    packets.push(c.segment(
        true,
        seq,
        Flags::ACK,
        b"<message><body>evil</body></message>",
    ));
    packets.extend(c.send(true, b"<presence/>"));
    packets
}

/// A STARTTLS connection up to `<proceed/>`; TLS bytes follow.
fn after_proceed() -> (Conversation, Vec<Packet>) {
    let (mut c, mut packets) = opened();
    packets.extend(c.send(true, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    packets.extend(c.send(false, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    (c, packets)
}

/// A TLS record header claiming 65,535 bytes (over 2¹⁴ + 2048, RFC 8446 §5.2),
/// followed by that many bytes, then XMPP-looking text that must not be parsed.
pub fn oversized_tls_record() -> Vec<Packet> {
    let (mut c, mut packets) = after_proceed();
    let mut record = vec![0x16, 0x03, 0x01, 0xff, 0xff];
    record.extend(std::iter::repeat_n(0x41, 0xffff));
    packets.extend(c.send(true, &record));
    packets.extend(c.send(true, b"<message><body>not TLS</body></message>"));
    packets
}

/// A ClientHello claiming 16 MiB, sent as `records` full-size handshake records (each
/// valid on its own): the handshake buffer must stay bounded.
pub fn endless_tls_handshake<W: Write>(records: u32, out: W) -> io::Result<W> {
    let (mut c, opening) = after_proceed();
    let mut w = PcapWriter::new(out, Link::Raw.linktype(), false, false)?;
    for p in &opening {
        w.packet(p.time, &p.data, p.data.len() as u32)?;
    }
    let mut first = vec![0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff];
    first.resize(5 + 0x4000, 0x42);
    let mut rest = vec![0x16, 0x03, 0x03, 0x40, 0x00];
    rest.resize(5 + 0x4000, 0x43);
    for i in 0..records {
        let record = if i == 0 { &first } else { &rest };
        for p in c.send(true, record) {
            w.packet(p.time, &p.data, p.data.len() as u32)?;
        }
    }
    Ok(w.into_inner())
}
