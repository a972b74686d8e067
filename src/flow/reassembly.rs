//! TCP reassembly for one direction.
//!
//! Input: segments (sequence number, payload, bytes lost to the snap length, SYN/FIN)
//! in capture order; output: [`Delivery`] items in stream order, data borrowed from the
//! segment when it arrives in order and copied only when it must wait for a hole.
//!
//! Policy (documented in `docs/reassembly.md`):
//! - Sequence numbers compare modulo 2³² (RFC 9293 §3.4), so wrap-around is seamless.
//! - Overlaps: the bytes delivered first win; a retransmission only contributes bytes
//!   beyond what was delivered. Differing content is an anomaly (it can hide an
//!   attack: an IDS and the receiver may see different bytes) when we can tell:
//!   buffered out-of-order segments are compared byte for byte, and a retransmission
//!   of one of the last [`RECENT_SEGMENTS`] delivered segments (same range) is
//!   compared by hash, so no delivered bytes need to be kept.
//! - Holes: out-of-order segments wait, up to `max_reassembly_bytes` and
//!   `max_segments`. When the peer acknowledges data we never saw, or a limit is hit,
//!   or the flow ends, the hole becomes a [`Delivery::Gap`] and delivery goes on.
//! - A segment more than 2³⁰ bytes ahead is not buffered (a bogus jump).

use crate::limits::Limits;
use crate::model::{Anomaly, FrameNo, StreamOffset, Timestamp};
use std::collections::BTreeMap;

/// Largest forward jump in sequence space we accept as a hole rather than garbage.
pub const MAX_SEQ_JUMP: u64 = 1 << 30;

/// Delivered segments remembered (range and hash) to check retransmissions.
pub const RECENT_SEGMENTS: usize = 16;

/// A 64-bit hash of a segment, eight bytes at a time (multiply-xor-rotate): enough to
/// tell a changed retransmission from the original, and cheap on every byte.
fn fingerprint(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(31);
    }
    let mut tail = [0u8; 8];
    for (t, b) in tail.iter_mut().zip(words.remainder()) {
        *t = *b;
    }
    (h ^ u64::from_le_bytes(tail)).wrapping_mul(K)
}

/// What reassembly hands to the parser, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    Data {
        offset: StreamOffset,
        bytes: &'a [u8],
        frame: FrameNo,
        time: Timestamp,
    },
    Gap {
        offset: StreamOffset,
        len: u64,
        frame: FrameNo,
        time: Timestamp,
    },
    Anomaly {
        anomaly: Anomaly,
        detail: String,
        frame: FrameNo,
        time: Timestamp,
    },
}

/// One arriving segment, as the reassembler needs it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub payload: &'a [u8],
    /// Payload bytes beyond `payload` that the capture did not keep.
    pub missing: u32,
    pub frame: FrameNo,
    pub time: Timestamp,
}

#[derive(Debug)]
struct Waiting {
    data: Vec<u8>,
    missing: u32,
    frame: FrameNo,
    time: Timestamp,
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of the next byte to deliver, once known.
    next_seq: Option<u32>,
    /// Stream offset of `next_seq`.
    next_offset: u64,
    /// Out-of-order segments by stream offset.
    waiting: BTreeMap<u64, Waiting>,
    waiting_bytes: usize,
    fin_offset: Option<u64>,
    /// (offset, length, fingerprint) of recently delivered segments.
    recent: std::collections::VecDeque<(u64, usize, u64)>,
    /// Data arrived before any SYN: the capture started mid-connection.
    pub midstream: bool,
    pub saw_syn: bool,
}

impl Reassembler {
    /// True once a FIN has been seen and every byte before it delivered.
    pub fn is_finished(&self) -> bool {
        self.fin_offset.is_some_and(|fin| self.next_offset >= fin)
    }

    /// Bytes currently held while waiting for holes.
    pub fn waiting_bytes(&self) -> usize {
        self.waiting_bytes
    }

    /// Takes one segment; calls `deliver` for each item that becomes deliverable.
    pub fn feed(
        &mut self,
        seg: Arrival<'_>,
        limits: &Limits,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        let mut data_seq = seg.seq;
        if seg.syn {
            self.saw_syn = true;
            data_seq = seg.seq.wrapping_add(1);
            if self.next_seq.is_none() {
                self.next_seq = Some(data_seq);
            }
        }
        let total = seg.payload.len() as u64 + u64::from(seg.missing);
        let next_seq = match self.next_seq {
            Some(n) => n,
            None if total == 0 && !seg.fin => return,
            None => {
                self.midstream = true;
                self.next_seq = Some(data_seq);
                data_seq
            }
        };
        // Signed distance modulo 2^32 (RFC 9293 §3.4).
        let rel = i64::from(data_seq.wrapping_sub(next_seq) as i32);
        let start = self.next_offset as i64 + rel;
        if seg.fin {
            let fin = start + total as i64;
            if fin >= 0 && self.fin_offset.is_none() {
                self.fin_offset = Some(fin as u64);
            }
        }
        if total == 0 {
            return;
        }
        let end = start + total as i64;
        if end <= self.next_offset as i64 {
            if self.next_offset as i64 - start > MAX_SEQ_JUMP as i64 {
                deliver(Delivery::Anomaly {
                    anomaly: Anomaly::OutOfWindow,
                    detail: format!(
                        "segment {} bytes behind the stream ignored",
                        self.next_offset as i64 - start
                    ),
                    frame: seg.frame,
                    time: seg.time,
                });
                return;
            }
            // Retransmission of delivered bytes: the first copy wins.
            self.check_retransmission(start, seg, deliver);
            return;
        }
        if start > self.next_offset as i64 {
            let start = start as u64;
            if start - self.next_offset > MAX_SEQ_JUMP {
                deliver(Delivery::Anomaly {
                    anomaly: Anomaly::OutOfWindow,
                    detail: format!("segment {} bytes ahead ignored", start - self.next_offset),
                    frame: seg.frame,
                    time: seg.time,
                });
                return;
            }
            self.hold(start, seg, limits, deliver);
            return;
        }
        let skip = (self.next_offset as i64 - start) as u64;
        self.deliver_now(skip, seg.payload, seg.missing, seg.frame, seg.time, deliver);
        self.drain(deliver);
    }

    /// The peer acknowledged `ack`: bytes before it were received, so a hole before it
    /// will never be filled from this capture.
    pub fn peer_acked(
        &mut self,
        ack: u32,
        frame: FrameNo,
        time: Timestamp,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        let Some(next_seq) = self.next_seq else {
            return;
        };
        let rel = ack.wrapping_sub(next_seq) as i32;
        if rel <= 0 || self.waiting.is_empty() {
            return;
        }
        let acked = self.next_offset + rel as u64;
        while let Some((&first, _)) = self.waiting.first_key_value() {
            if first > acked {
                break;
            }
            self.skip_to(first, frame, time, deliver);
            self.drain(deliver);
        }
    }

    /// End of flow or capture: whatever waits is delivered after gaps.
    pub fn flush(
        &mut self,
        frame: FrameNo,
        time: Timestamp,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        while let Some((&first, _)) = self.waiting.first_key_value() {
            self.skip_to(first, frame, time, deliver);
            self.drain(deliver);
        }
    }

    /// The bytes held for all connections exceeded their budget
    /// (`Limits::max_buffered_bytes`): every hole becomes a gap, as at the flow's end,
    /// and what waited behind it is delivered.
    pub fn give_up_holes(
        &mut self,
        frame: FrameNo,
        time: Timestamp,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        if !self.waiting.is_empty() {
            deliver(Delivery::Anomaly {
                anomaly: Anomaly::BufferLimit,
                detail: format!(
                    "{} bytes in {} segments waited for a hole; giving up on it (buffer budget for all connections spent)",
                    self.waiting_bytes,
                    self.waiting.len()
                ),
                frame,
                time,
            });
            self.flush(frame, time, deliver);
        }
    }

    fn check_retransmission(
        &self,
        start: i64,
        seg: Arrival<'_>,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        let Ok(start) = u64::try_from(start) else {
            return;
        };
        let len = seg.payload.len();
        let known = self
            .recent
            .iter()
            .find(|&&(s, l, _)| s == start && l == len);
        if let Some(&(_, _, hash)) = known {
            if seg.missing == 0 && hash != fingerprint(seg.payload) {
                deliver(Delivery::Anomaly {
                    anomaly: Anomaly::OverlapMismatch,
                    detail: format!("retransmission of {len} bytes at offset {start} differs from the bytes first seen"),
                    frame: seg.frame,
                    time: seg.time,
                });
            }
        }
    }

    fn hold(
        &mut self,
        start: u64,
        seg: Arrival<'_>,
        limits: &Limits,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        if let Some(existing) = self.waiting.get(&start) {
            let n = existing.data.len().min(seg.payload.len());
            if existing.data.get(..n) != seg.payload.get(..n) {
                deliver(Delivery::Anomaly {
                    anomaly: Anomaly::OverlapMismatch,
                    detail: format!("retransmission at offset {start} differs from the first copy"),
                    frame: seg.frame,
                    time: seg.time,
                });
            }
            if existing.data.len() >= seg.payload.len() {
                return;
            }
        }
        let over_bytes = self.waiting_bytes + seg.payload.len() > limits.max_reassembly_bytes;
        let over_count = self.waiting.len() >= limits.max_segments;
        if over_bytes || over_count {
            deliver(Delivery::Anomaly {
                anomaly: Anomaly::ReassemblyLimit,
                detail: format!(
                    "{} bytes in {} segments wait for a hole; giving up on it",
                    self.waiting_bytes,
                    self.waiting.len()
                ),
                frame: seg.frame,
                time: seg.time,
            });
            // Give up on the oldest hole: skip to the first waiting data (or this one).
            let target = self
                .waiting
                .first_key_value()
                .map_or(start, |(&k, _)| k.min(start));
            self.skip_to(target, seg.frame, seg.time, deliver);
            self.drain(deliver);
            if start <= self.next_offset {
                let skip = self.next_offset - start;
                self.deliver_now(skip, seg.payload, seg.missing, seg.frame, seg.time, deliver);
                self.drain(deliver);
                return;
            }
        }
        if let Some(old) = self.waiting.insert(
            start,
            Waiting {
                data: seg.payload.to_vec(),
                missing: seg.missing,
                frame: seg.frame,
                time: seg.time,
            },
        ) {
            self.waiting_bytes -= old.data.len();
        }
        self.waiting_bytes += seg.payload.len();
    }

    fn skip_to(
        &mut self,
        offset: u64,
        frame: FrameNo,
        time: Timestamp,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        if offset <= self.next_offset {
            return;
        }
        let len = offset - self.next_offset;
        deliver(Delivery::Gap {
            offset: StreamOffset(self.next_offset),
            len,
            frame,
            time,
        });
        self.advance(len);
    }

    /// Delivers `payload[skip..]` then the missing tail as a gap.
    fn deliver_now(
        &mut self,
        skip: u64,
        payload: &[u8],
        missing: u32,
        frame: FrameNo,
        time: Timestamp,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        let skip_data = usize::try_from(skip)
            .unwrap_or(usize::MAX)
            .min(payload.len());
        let bytes = payload.get(skip_data..).unwrap_or_default();
        if !bytes.is_empty() {
            if self.recent.len() == RECENT_SEGMENTS {
                self.recent.pop_front();
            }
            self.recent
                .push_back((self.next_offset, bytes.len(), fingerprint(bytes)));
            deliver(Delivery::Data {
                offset: StreamOffset(self.next_offset),
                bytes,
                frame,
                time,
            });
            self.advance(bytes.len() as u64);
        }
        let missing_left =
            (u64::from(missing)).min(payload.len() as u64 + u64::from(missing) - skip);
        if missing_left > 0 {
            deliver(Delivery::Gap {
                offset: StreamOffset(self.next_offset),
                len: missing_left,
                frame,
                time,
            });
            self.advance(missing_left);
        }
    }

    fn drain(&mut self, deliver: &mut impl FnMut(Delivery<'_>)) {
        while let Some(entry) = self.waiting.first_entry() {
            let start = *entry.key();
            if start > self.next_offset {
                break;
            }
            let waiting = entry.remove();
            self.waiting_bytes -= waiting.data.len();
            let end = start + waiting.data.len() as u64 + u64::from(waiting.missing);
            if end <= self.next_offset {
                continue;
            }
            let skip = self.next_offset - start;
            self.deliver_now(
                skip,
                &waiting.data,
                waiting.missing,
                waiting.frame,
                waiting.time,
                deliver,
            );
        }
    }

    fn advance(&mut self, len: u64) {
        self.next_offset += len;
        if let Some(seq) = self.next_seq.as_mut() {
            *seq = seq.wrapping_add(len as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(seq: u32, payload: &[u8]) -> Arrival<'_> {
        Arrival {
            seq,
            syn: false,
            fin: false,
            payload,
            missing: 0,
            frame: FrameNo(1),
            time: Timestamp(0),
        }
    }

    fn run(r: &mut Reassembler, segs: &[Arrival<'_>]) -> (Vec<u8>, u64) {
        let limits = Limits::default();
        let mut out = Vec::new();
        let mut gaps = 0;
        for seg in segs {
            r.feed(*seg, &limits, &mut |d| match d {
                Delivery::Data { bytes, .. } => out.extend_from_slice(bytes),
                Delivery::Gap { len, .. } => gaps += len,
                Delivery::Anomaly { .. } => {}
            });
        }
        (out, gaps)
    }

    #[test]
    fn reorders_and_drops_retransmissions_across_wraparound() {
        let mut r = Reassembler::default();
        let base = u32::MAX - 2;
        let syn = Arrival {
            syn: true,
            ..arrival(base.wrapping_sub(1), b"")
        };
        let (out, gaps) = run(
            &mut r,
            &[
                syn,
                arrival(base.wrapping_add(4), b"efg"),
                arrival(base, b"abcd"),
                arrival(base, b"abcd"),
                arrival(base.wrapping_add(2), b"cdefgh"),
            ],
        );
        assert_eq!(out, b"abcdefgh");
        assert_eq!(gaps, 0);
    }

    #[test]
    fn ack_beyond_a_hole_turns_it_into_a_gap() {
        let mut r = Reassembler::default();
        let (out, _) = run(&mut r, &[arrival(100, b"ab"), arrival(110, b"xy")]);
        assert_eq!(out, b"ab");
        let mut gaps = Vec::new();
        let mut data = Vec::new();
        r.peer_acked(112, FrameNo(3), Timestamp(0), &mut |d| match d {
            Delivery::Gap { offset, len, .. } => gaps.push((offset.0, len)),
            Delivery::Data { bytes, .. } => data.extend_from_slice(bytes),
            Delivery::Anomaly { .. } => {}
        });
        assert_eq!(gaps, vec![(2, 8)]);
        assert_eq!(data, b"xy");
    }

    #[test]
    fn truncated_segment_is_data_then_gap() {
        let mut r = Reassembler::default();
        let seg = Arrival {
            missing: 5,
            ..arrival(1, b"abc")
        };
        let (out, gaps) = run(&mut r, &[seg, arrival(9, b"z")]);
        assert_eq!((out.as_slice(), gaps), (&b"abcz"[..], 5));
    }

    #[test]
    fn changed_retransmission_is_an_anomaly_identical_one_is_not() {
        let limits = Limits::default();
        let mut r = Reassembler::default();
        let mut anomalies = Vec::new();
        let mut data = Vec::new();
        for seg in [
            arrival(1, b"hello"),
            arrival(6, b"world"),
            arrival(1, b"hello"),
            arrival(6, b"w0rld"),
        ] {
            r.feed(seg, &limits, &mut |d| match d {
                Delivery::Anomaly { anomaly, .. } => anomalies.push(anomaly),
                Delivery::Data { bytes, .. } => data.extend_from_slice(bytes),
                Delivery::Gap { .. } => {}
            });
        }
        assert_eq!(data, b"helloworld", "the first copy wins");
        assert_eq!(anomalies, vec![Anomaly::OverlapMismatch]);
    }

    #[test]
    fn limits_bound_waiting_bytes() {
        let limits = Limits {
            max_reassembly_bytes: 10,
            ..Limits::default()
        };
        let mut r = Reassembler::default();
        let mut anomalies = 0;
        r.feed(arrival(0, b"a"), &limits, &mut |_| {});
        for i in 0..100u32 {
            r.feed(arrival(10 + i * 8, b"12345"), &limits, &mut |d| {
                if matches!(d, Delivery::Anomaly { .. }) {
                    anomalies += 1;
                }
            });
            assert!(r.waiting_bytes() <= 10);
        }
        assert!(anomalies > 0);
    }
}
