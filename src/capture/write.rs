//! Writing captures: classic pcap (either byte order, µs or ns) and pcapng.
//!
//! Input: packets (link type, time, bytes); output: a capture file on any
//! `io::Write`. Used by the generator, tests, live capture (`-w`) and annotation.

use crate::model::Timestamp;
use std::io::{self, Write};

/// Classic pcap writer (one link type per file).
pub struct PcapWriter<W: Write> {
    out: W,
    big_endian: bool,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header (version 2.4, snap length 262144).
    pub fn new(mut out: W, linktype: u32, big_endian: bool, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
        let mut header = Vec::with_capacity(24);
        put32(&mut header, magic, big_endian);
        put16(&mut header, 2, big_endian);
        put16(&mut header, 4, big_endian);
        put32(&mut header, 0, big_endian);
        put32(&mut header, 0, big_endian);
        put32(&mut header, 262_144, big_endian);
        put32(&mut header, linktype, big_endian);
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            big_endian,
            nanos,
        })
    }

    /// Writes one record; `original_len` larger than `data` marks a snapped packet.
    pub fn packet(&mut self, time: Timestamp, data: &[u8], original_len: u32) -> io::Result<()> {
        let be = self.big_endian;
        let frac = if self.nanos {
            time.subsec_nanos()
        } else {
            time.subsec_nanos() / 1000
        };
        let mut header = Vec::with_capacity(16);
        put32(&mut header, u32::try_from(time.secs()).unwrap_or(0), be);
        put32(&mut header, frac, be);
        put32(
            &mut header,
            u32::try_from(data.len()).unwrap_or(u32::MAX),
            be,
        );
        put32(
            &mut header,
            original_len.max(u32::try_from(data.len()).unwrap_or(u32::MAX)),
            be,
        );
        self.out.write_all(&header)?;
        self.out.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// pcapng writer: one section, interfaces added on demand, nanosecond timestamps.
pub struct PcapngWriter<W: Write> {
    out: W,
    interfaces: Vec<u32>,
}

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
const OPT_COMMENT: u16 = 1;
const OPT_END: u16 = 0;
const IF_TSRESOL: u16 = 9;

impl<W: Write> PcapngWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut body = Vec::new();
        put32(&mut body, 0x1A2B_3C4D, false); // byte-order magic
        put16(&mut body, 1, false);
        put16(&mut body, 0, false);
        body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
        write_block(&mut out, SHB, &body)?;
        Ok(PcapngWriter {
            out,
            interfaces: Vec::new(),
        })
    }

    /// Interface id for a link type, declaring it (with ns resolution) on first use.
    fn interface(&mut self, linktype: u32) -> io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|&l| l == linktype) {
            return Ok(u32::try_from(i).unwrap_or(0));
        }
        let mut body = Vec::new();
        put16(
            &mut body,
            u16::try_from(linktype).unwrap_or(u16::MAX),
            false,
        );
        put16(&mut body, 0, false);
        put32(&mut body, 262_144, false);
        put_option(&mut body, IF_TSRESOL, &[9]);
        put_option(&mut body, OPT_END, &[]);
        write_block(&mut self.out, IDB, &body)?;
        self.interfaces.push(linktype);
        Ok(u32::try_from(self.interfaces.len() - 1).unwrap_or(0))
    }

    /// Writes one enhanced packet block, with an optional comment (`opt_comment`).
    pub fn packet(
        &mut self,
        linktype: u32,
        time: Timestamp,
        data: &[u8],
        original_len: u32,
        comment: Option<&str>,
    ) -> io::Result<()> {
        let if_id = self.interface(linktype)?;
        let ts = u64::try_from(time.0).unwrap_or(0);
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let mut body = Vec::with_capacity(data.len() + 32);
        put32(&mut body, if_id, false);
        put32(&mut body, (ts >> 32) as u32, false);
        put32(&mut body, ts as u32, false);
        put32(&mut body, caplen, false);
        put32(&mut body, original_len.max(caplen), false);
        body.extend_from_slice(data);
        pad4(&mut body);
        if let Some(text) = comment {
            put_option(&mut body, OPT_COMMENT, text.as_bytes());
            put_option(&mut body, OPT_END, &[]);
        }
        write_block(&mut self.out, EPB, &body)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

fn write_block<W: Write>(out: &mut W, kind: u32, body: &[u8]) -> io::Result<()> {
    let total = u32::try_from(body.len() + 12).unwrap_or(u32::MAX);
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&total.to_le_bytes())
}

fn put_option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    put16(body, code, false);
    put16(body, u16::try_from(value.len()).unwrap_or(u16::MAX), false);
    body.extend_from_slice(value);
    pad4(body);
}

fn pad4(body: &mut Vec<u8>) {
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
}

fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
