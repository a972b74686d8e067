//! Capture files: pcap (both byte orders, micro- and nanosecond) and pcapng (several
//! interfaces, several sections), chosen by magic number, never by file name.
//!
//! Input: any `io::Read` (a file or standard input); output: one [`Packet`] at a time,
//! numbered from 1, with its capture time and link type. Memory is one block buffer
//! that grows only up to [`MAX_BLOCK_BYTES`].

mod merge;
pub mod write;

use crate::model::{FrameNo, Timestamp};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};
use std::io::{self, Read};

/// The largest block (packet record) we accept; larger means a corrupt file.
pub const MAX_BLOCK_BYTES: usize = 64 << 20;
const INITIAL_BUFFER: usize = 1 << 20;
const PROBE_BYTES: usize = 16 << 10;

/// Link types we decode (see `decode.rs`), as numbered by tcpdump.org's LINKTYPE_ list.
pub const SUPPORTED_LINKTYPES: &[u32] = &[0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

/// Why a capture cannot be read. Traffic problems are anomalies, not these.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read capture: {0}")]
    Io(#[from] io::Error),
    #[error("empty file: not a capture")]
    Empty,
    #[error("not a pcap or pcapng file (starts with {0})")]
    NotCapture(String),
    #[error("truncated capture: file ends inside a record after frame {0}")]
    Truncated(u64),
    #[error("corrupt capture after frame {frame}: {detail}")]
    Corrupt { frame: u64, detail: String },
    #[error(
        "unsupported link type {0} (supported: Ethernet, Linux SLL/SLL2, raw IP, BSD loopback)"
    )]
    UnsupportedLinkType(u32),
    /// A problem in one of several merged inputs.
    #[error("{name}: {error}")]
    InInput {
        name: String,
        error: Box<CaptureError>,
    },
}

/// One captured packet; `data` may be shorter than `original_len` (snap length).
#[derive(Debug)]
pub struct Packet<'a> {
    pub frame: FrameNo,
    pub time: Timestamp,
    pub linktype: u32,
    pub original_len: u32,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    units_per_sec: u64,
    offset_secs: i64,
}

/// The length of the next pcapng block when it is below the 12 bytes of a block's
/// own header and trailer (pcapng §3.1), which the parser would underflow on; tracks
/// each section's byte order from its Section Header Block.
fn short_pcapng_block(data: &[u8], big_endian: &mut bool) -> Option<u32> {
    let word = |at: usize| -> Option<[u8; 4]> { data.get(at..at + 4)?.try_into().ok() };
    let block_type = word(0)?;
    if block_type == [0x0A, 0x0D, 0x0D, 0x0A] {
        match word(8)? {
            [0x4D, 0x3C, 0x2B, 0x1A] => *big_endian = false,
            [0x1A, 0x2B, 0x3C, 0x4D] => *big_endian = true,
            _ => return None, // the parser reports a bad byte-order magic
        }
    }
    let raw = word(4)?;
    let len = if *big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    };
    (len < 12).then_some(len)
}

/// Streaming reader over pcap or pcapng, or over several of them merged by time.
pub struct Reader {
    source: Source,
}

enum Source {
    File(FileReader),
    Merged(merge::Merge),
}

impl Reader {
    /// Detects the format from the first bytes and prepares to read packets.
    pub fn new<R: Read + Send + 'static>(input: R) -> Result<Reader, CaptureError> {
        Ok(Reader {
            source: Source::File(FileReader::new(input)?),
        })
    }

    /// Several captures read as one, merged by time as mergecap does: the earliest
    /// next packet first, the later input on equal times; frames renumbered from 1
    /// in the merged order. Each input is named in its errors.
    pub fn merge(inputs: Vec<(String, Reader)>) -> Reader {
        Reader {
            source: Source::Merged(merge::Merge::new(inputs)),
        }
    }

    /// Returns the next packet, `None` at the end of the input.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        match &mut self.source {
            Source::File(file) => file.next_packet(),
            Source::Merged(merged) => merged.next_packet(),
        }
    }

    /// The data of the packet [`Reader::next_packet`] returned last.
    fn current_data(&self) -> &[u8] {
        match &self.source {
            Source::File(file) => &file.state.data,
            Source::Merged(merged) => merged.current_data(),
        }
    }
}

/// Streaming reader over one pcap or pcapng.
struct FileReader {
    inner: Box<dyn PcapReaderIterator + Send>,
    state: State,
}

/// Everything but the block parser, so a borrowed block can update it.
struct State {
    legacy: Option<Interface>,
    interfaces: Vec<Interface>,
    frame: u64,
    last_time: Timestamp,
    data: Vec<u8>,
    saw_supported: bool,
    unsupported: Option<u32>,
    /// pcapng: blocks are checked before parsing; byte order of the current section.
    pcapng: bool,
    big_endian: bool,
}

impl FileReader {
    fn new<R: Read + Send + 'static>(mut input: R) -> Result<FileReader, CaptureError> {
        let mut probe = vec![0u8; PROBE_BYTES];
        let filled = read_up_to(&mut input, &mut probe)?;
        probe.truncate(filled);
        let magic: [u8; 4] =
            probe
                .get(..4)
                .and_then(|m| m.try_into().ok())
                .ok_or(if filled == 0 {
                    CaptureError::Empty
                } else {
                    CaptureError::NotCapture(hex_prefix(&probe))
                })?;
        let magic = u32::from_le_bytes(magic);
        let chained = io::Cursor::new(probe.clone()).chain(input);
        let inner: Box<dyn PcapReaderIterator + Send> = match magic {
            0x0A0D_0D0A => Box::new(
                PcapNGReader::new(INITIAL_BUFFER, chained).map_err(|e| header_error(&e, &probe))?,
            ),
            0xA1B2_C3D4 | 0xD4C3_B2A1 | 0xA1B2_3C4D | 0x4D3C_B2A1 => Box::new(
                LegacyPcapReader::new(INITIAL_BUFFER, chained)
                    .map_err(|e| header_error(&e, &probe))?,
            ),
            _ => return Err(CaptureError::NotCapture(hex_prefix(&probe))),
        };
        Ok(FileReader {
            inner,
            state: State {
                legacy: None,
                interfaces: Vec::new(),
                frame: 0,
                last_time: Timestamp::default(),
                data: Vec::new(),
                saw_supported: false,
                unsupported: None,
                pcapng: magic == 0x0A0D_0D0A,
                // The first Section Header Block's byte-order magic (pcapng §4.1).
                big_endian: probe.get(8..12) == Some(&[0x1A, 0x2B, 0x3C, 0x4D][..]),
            },
        })
    }

    /// Returns the next packet, `None` at the end of the file.
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            match self.next_block()? {
                Step::Packet(linktype, time, original_len) => {
                    let state = &mut self.state;
                    state.frame += 1;
                    state.last_time = time;
                    return Ok(Some(Packet {
                        frame: FrameNo(state.frame),
                        time,
                        linktype,
                        original_len,
                        data: &state.data,
                    }));
                }
                Step::Other => continue,
                Step::End => {
                    return match (self.state.saw_supported, self.state.unsupported) {
                        (false, Some(link)) => Err(CaptureError::UnsupportedLinkType(link)),
                        _ => Ok(None),
                    }
                }
            }
        }
    }

    fn next_block(&mut self) -> Result<Step, CaptureError> {
        loop {
            if self.state.pcapng {
                let data = self.inner.data();
                if let Some(len) = short_pcapng_block(data, &mut self.state.big_endian) {
                    return Err(CaptureError::Corrupt {
                        frame: self.state.frame,
                        detail: format!("pcapng block of {len} bytes (at least 12)"),
                    });
                }
            }
            let outcome = match self.inner.next() {
                Ok((consumed, block)) => {
                    let step = self.state.absorb(block)?;
                    Ok((consumed, step))
                }
                Err(PcapError::Eof) => return Ok(Step::End),
                Err(PcapError::Incomplete(_)) => Err(Refill::More),
                Err(PcapError::BufferTooSmall) => Err(Refill::Grow),
                Err(PcapError::UnexpectedEof) => {
                    return Err(CaptureError::Truncated(self.state.frame))
                }
                Err(e) => {
                    return Err(CaptureError::Corrupt {
                        frame: self.state.frame,
                        detail: e.to_string(),
                    })
                }
            };
            match outcome {
                Ok((consumed, step)) => {
                    // Without moving the rest of the buffer to its start (which `consume`
                    // does past half its capacity: a copy of the whole file, 512 KiB at a
                    // time); `refill` moves only the partial record left at its end.
                    self.inner.consume_noshift(consumed);
                    return Ok(step);
                }
                Err(Refill::More) => {
                    if !self.refill()? {
                        return Ok(Step::End);
                    }
                }
                Err(Refill::Grow) => {
                    let size = self
                        .inner
                        .data()
                        .len()
                        .saturating_mul(2)
                        .max(INITIAL_BUFFER * 2);
                    if size > MAX_BLOCK_BYTES || !self.inner.grow(size) {
                        return Err(CaptureError::Corrupt {
                            frame: self.state.frame,
                            detail: format!("record larger than {MAX_BLOCK_BYTES} bytes"),
                        });
                    }
                    if !self.refill()? {
                        return Ok(Step::End);
                    }
                }
            }
        }
    }

    /// Reads more input; `Ok(false)` at a clean end of file (no partial record left).
    fn refill(&mut self) -> Result<bool, CaptureError> {
        let before = self.inner.data().len();
        self.inner.refill().map_err(|e| CaptureError::Corrupt {
            frame: self.state.frame,
            detail: e.to_string(),
        })?;
        if self.inner.reader_exhausted() && self.inner.data().len() == before {
            if before == 0 {
                return Ok(false);
            }
            return Err(CaptureError::Truncated(self.state.frame));
        }
        Ok(true)
    }
}

impl State {
    /// Turns one parsed block into a packet (copied into `self.data`) or state.
    fn absorb(&mut self, block: PcapBlockOwned<'_>) -> Result<Step, CaptureError> {
        match block {
            PcapBlockOwned::LegacyHeader(header) => {
                let linktype = u32::try_from(header.network.0).unwrap_or(u32::MAX);
                if !SUPPORTED_LINKTYPES.contains(&linktype) {
                    return Err(CaptureError::UnsupportedLinkType(linktype));
                }
                self.saw_supported = true;
                let units_per_sec = if header.is_nanosecond_precision() {
                    1_000_000_000
                } else {
                    1_000_000
                };
                self.legacy = Some(Interface {
                    linktype,
                    units_per_sec,
                    offset_secs: i64::from(header.thiszone),
                });
                Ok(Step::Other)
            }
            PcapBlockOwned::Legacy(record) => {
                let Some(iface) = self.legacy else {
                    return Ok(Step::Other);
                };
                let time = Timestamp::from_parts(
                    i64::from(record.ts_sec) + iface.offset_secs,
                    u64::from(record.ts_usec),
                    iface.units_per_sec,
                );
                let len = usize::try_from(record.caplen).unwrap_or(usize::MAX);
                let data = record.data.get(..len).unwrap_or(record.data);
                self.data.clear();
                self.data.extend_from_slice(data);
                Ok(Step::Packet(iface.linktype, time, record.origlen))
            }
            PcapBlockOwned::NG(block) => Ok(self.absorb_ng(&block)),
        }
    }

    fn absorb_ng(&mut self, block: &Block<'_>) -> Step {
        match block {
            Block::SectionHeader(_) => {
                self.interfaces.clear();
                Step::Other
            }
            Block::InterfaceDescription(idb) => {
                let linktype = u32::try_from(idb.linktype.0).unwrap_or(u32::MAX);
                if SUPPORTED_LINKTYPES.contains(&linktype) {
                    self.saw_supported = true;
                } else {
                    self.unsupported.get_or_insert(linktype);
                }
                self.interfaces.push(Interface {
                    linktype,
                    units_per_sec: idb.ts_resolution().unwrap_or(1_000_000),
                    offset_secs: idb.ts_offset(),
                });
                Step::Other
            }
            Block::EnhancedPacket(epb) => {
                let iface = usize::try_from(epb.if_id)
                    .ok()
                    .and_then(|i| self.interfaces.get(i).copied());
                let Some(iface) = iface else {
                    return Step::Other;
                };
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let units = iface.units_per_sec.max(1);
                let secs = i64::try_from(raw / units).unwrap_or(i64::MAX);
                let time = Timestamp::from_parts(
                    secs.saturating_add(iface.offset_secs),
                    raw % units,
                    units,
                );
                self.data.clear();
                self.data.extend_from_slice(epb.packet_data());
                Step::Packet(iface.linktype, time, epb.origlen)
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = self.interfaces.first().copied() else {
                    return Step::Other;
                };
                self.data.clear();
                self.data.extend_from_slice(spb.packet_data());
                Step::Packet(iface.linktype, self.last_time, spb.origlen)
            }
            _ => Step::Other,
        }
    }
}

enum Step {
    Packet(u32, Timestamp, u32),
    Other,
    End,
}

enum Refill {
    More,
    Grow,
}

fn header_error(e: &PcapError<&[u8]>, probe: &[u8]) -> CaptureError {
    match e {
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
            CaptureError::Truncated(0)
        }
        _ => CaptureError::NotCapture(hex_prefix(probe)),
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("0x{}", shown.concat())
}

/// Reads until `buf` is full or the input ends; a pipe may return short reads.
fn read_up_to<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
