//! `-j N`: the same analysis on N threads, with output identical to one thread.
//!
//! Input: a capture reader; output: events to a sink in the order a single
//! [`Pipeline`] would produce them, and the same summary. A reader thread decodes
//! each packet only far enough to find its connection and sends it, in batches, to the
//! shard that owns the connection (by a hash of the address pair); each shard is an
//! ordinary pipeline over its own connections. This thread merges the shards' events
//! batch by batch, ordered by frame, and renumbers connections in order of first
//! packet, as the single pipeline numbers them.
//!
//! Global decisions stay global: the reader thread decides when the idle sweep runs
//! (every minute of capture time) and tells every shard at the same frame; events a
//! sweep or the end of the capture produces are ordered by connection number. The one
//! difference: each shard tracks at most `max_flows / N` connections.

use super::{Config, Pipeline, RunError};
use crate::capture::{Packet, Reader};
use crate::decode::decode;
use crate::model::{Event, EventKind, FlowId, FrameNo, Timestamp};
use crate::output::{Sink, Summary};
use crate::session::At;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, SyncSender};

/// Packets per batch sent to the shards.
const BATCH_PACKETS: usize = 2048;
/// Packet bytes per batch (all shards together): with the batches in flight this
/// bounds the memory `-j` adds to about 4 × 4 MiB.
const BATCH_BYTES: usize = 4 << 20;
/// Batches in flight per channel.
const IN_FLIGHT: usize = 2;

/// What a shard does next.
enum Work {
    /// A packet: its place in the batch's byte buffer.
    Packet {
        frame: FrameNo,
        time: Timestamp,
        linktype: u32,
        original_len: u32,
        start: usize,
        end: usize,
    },
    /// End the connections idle for too long (decided by the reader thread).
    Sweep(At),
    /// The capture ended.
    Finish(At),
}

struct Batch {
    id: u64,
    work: Vec<Work>,
    data: Vec<u8>,
}

/// When, relative to other output of the same frame, something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Sweep = 0,
    Packet = 1,
    Finish = 2,
}

enum Output {
    NewFlow(FlowId),
    Event(Box<Event>),
}

struct Item {
    frame: u64,
    phase: Phase,
    seq: u64,
    shard: usize,
    output: Output,
}

/// The shard that owns the connection between `a` and `b` (either order).
fn shard_of(a: SocketAddr, b: SocketAddr, shards: usize) -> usize {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    lo.hash(&mut h);
    hi.hash(&mut h);
    (h.finish() % shards.max(1) as u64) as usize
}

/// Runs the analysis on `jobs` threads; `jobs <= 1` is the ordinary pipeline.
pub fn run(
    config: Config,
    reader: &mut Reader,
    sink: &mut dyn Sink,
    jobs: usize,
) -> Result<Summary, RunError> {
    if jobs <= 1 {
        return Pipeline::new(config).run(reader, sink);
    }
    let mut shard_config = config.clone();
    shard_config.limits.max_flows = (config.limits.max_flows / jobs).max(1);
    std::thread::scope(|scope| {
        let (out_tx, out_rx) = mpsc::sync_channel::<(u64, usize, Vec<Item>)>(IN_FLIGHT * jobs);
        let mut work_txs = Vec::with_capacity(jobs);
        for shard in 0..jobs {
            let (tx, rx) = mpsc::sync_channel::<Batch>(IN_FLIGHT);
            work_txs.push(tx);
            let out = out_tx.clone();
            let cfg = shard_config.clone();
            scope.spawn(move || shard_loop(shard, cfg, &rx, &out));
        }
        drop(out_tx);
        let dispatcher = scope.spawn(move || dispatch(reader, &work_txs));
        let merged = merge(&out_rx, jobs, sink);
        // Drain what the shards still send if the sink failed, so they can finish.
        for _ in out_rx.iter() {}
        let (packets, undecoded, read_result) = dispatcher.join().unwrap_or((0, 0, Ok(())));
        let mut summary = merged?;
        summary.packets = packets;
        summary.undecoded_packets = undecoded;
        sink.summary(&summary)?;
        read_result?;
        Ok(summary)
    })
}

/// Reads packets and sends each shard its share, batch by batch; returns the packet
/// counts and how reading ended.
fn dispatch(
    reader: &mut Reader,
    shards: &[SyncSender<Batch>],
) -> (u64, u64, Result<(), crate::capture::CaptureError>) {
    let n = shards.len();
    let new_batch = |id| Batch {
        id,
        work: Vec::new(),
        data: Vec::new(),
    };
    let mut batches: Vec<Batch> = (0..n).map(|_| new_batch(0)).collect();
    let mut batch_id = 0u64;
    let mut in_batch = 0usize;
    let mut batch_bytes = 0usize;
    let mut packets = 0u64;
    let mut undecoded = 0u64;
    let mut next_sweep = i64::MIN;
    let mut last = At {
        frame: FrameNo(0),
        time: Timestamp(0),
    };
    let send_all = |batches: &mut Vec<Batch>, next_id: u64| -> bool {
        for (shard, batch) in batches.iter_mut().enumerate() {
            let full = std::mem::replace(batch, new_batch(next_id));
            let Some(tx) = shards.get(shard) else {
                return false;
            };
            if tx.send(full).is_err() {
                return false;
            }
        }
        true
    };
    let result = loop {
        let packet = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        packets += 1;
        let at = At {
            frame: packet.frame,
            time: packet.time,
        };
        last = at;
        // The idle sweep, at the same frames a single pipeline would run it.
        let now = at.time.secs();
        if now >= next_sweep {
            next_sweep = now.saturating_add(super::SWEEP_INTERVAL_SECS);
            for batch in &mut batches {
                batch.work.push(Work::Sweep(at));
            }
        }
        let shard = match decode(packet.linktype, packet.data) {
            Ok(Some(segment)) => shard_of(segment.src, segment.dst, n),
            Ok(None) => continue,
            Err(_) => {
                undecoded += 1;
                continue;
            }
        };
        if let Some(batch) = batches.get_mut(shard) {
            let start = batch.data.len();
            batch.data.extend_from_slice(packet.data);
            batch.work.push(Work::Packet {
                frame: packet.frame,
                time: packet.time,
                linktype: packet.linktype,
                original_len: packet.original_len,
                start,
                end: batch.data.len(),
            });
        }
        in_batch += 1;
        batch_bytes += packet.data.len();
        if in_batch >= BATCH_PACKETS || batch_bytes >= BATCH_BYTES {
            in_batch = 0;
            batch_bytes = 0;
            batch_id += 1;
            if !send_all(&mut batches, batch_id) {
                return (packets, undecoded, Ok(()));
            }
        }
    };
    for batch in &mut batches {
        batch.work.push(Work::Finish(last));
    }
    send_all(&mut batches, batch_id + 1);
    (packets, undecoded, result)
}

/// One shard: an ordinary pipeline over the connections it owns.
fn shard_loop(
    shard: usize,
    config: Config,
    work: &Receiver<Batch>,
    out: &SyncSender<(u64, usize, Vec<Item>)>,
) {
    let mut pipeline = Pipeline::new(config);
    pipeline.shard = true;
    let mut seq = 0u64;
    for batch in work.iter() {
        let mut items = Vec::new();
        let mut push = |frame: u64, phase: Phase, output: Output, items: &mut Vec<Item>| {
            seq += 1;
            items.push(Item {
                frame,
                phase,
                seq,
                shard,
                output,
            });
        };
        for w in &batch.work {
            match w {
                Work::Sweep(at) => {
                    pipeline.sweep_expired(*at);
                    for e in pipeline.events.drain(..) {
                        push(
                            at.frame.0,
                            Phase::Sweep,
                            Output::Event(Box::new(e)),
                            &mut items,
                        );
                    }
                }
                Work::Packet {
                    frame,
                    time,
                    linktype,
                    original_len,
                    start,
                    end,
                } => {
                    let data = batch.data.get(*start..*end).unwrap_or_default();
                    pipeline.packet(&Packet {
                        frame: *frame,
                        time: *time,
                        linktype: *linktype,
                        original_len: *original_len,
                        data,
                    });
                    for id in pipeline.created.drain(..) {
                        push(frame.0, Phase::Packet, Output::NewFlow(id), &mut items);
                    }
                    for e in pipeline.events.drain(..) {
                        push(
                            frame.0,
                            Phase::Packet,
                            Output::Event(Box::new(e)),
                            &mut items,
                        );
                    }
                }
                Work::Finish(at) => {
                    pipeline.last = *at;
                    pipeline.finish();
                    for e in pipeline.events.drain(..) {
                        push(
                            u64::MAX,
                            Phase::Finish,
                            Output::Event(Box::new(e)),
                            &mut items,
                        );
                    }
                }
            }
        }
        if out.send((batch.id, shard, items)).is_err() {
            return;
        }
    }
}

/// Merges the shards' output batch by batch and sends it to the sink in order.
fn merge(
    out: &Receiver<(u64, usize, Vec<Item>)>,
    shards: usize,
    sink: &mut dyn Sink,
) -> Result<Summary, RunError> {
    let mut waiting: BTreeMap<u64, Vec<Vec<Item>>> = BTreeMap::new();
    let mut next = 0u64;
    let mut ids: HashMap<(usize, FlowId), FlowId> = HashMap::new();
    let mut next_id = 1u32;
    let mut summary = Summary::default();
    for (batch, _, items) in out.iter() {
        let parts = waiting.entry(batch).or_default();
        parts.push(items);
        while waiting.get(&next).is_some_and(|p| p.len() == shards) {
            let Some(parts) = waiting.remove(&next) else {
                break;
            };
            next += 1;
            let mut items: Vec<Item> = parts.into_iter().flatten().collect();
            items.sort_by_key(|i| (i.frame, i.phase, i.shard, i.seq));
            let mut group: Vec<Item> = Vec::new();
            for item in items {
                let same = group
                    .first()
                    .is_some_and(|g| g.frame == item.frame && g.phase == item.phase);
                if !same {
                    emit(&mut group, &mut ids, &mut next_id, &mut summary, sink)?;
                }
                group.push(item);
            }
            emit(&mut group, &mut ids, &mut next_id, &mut summary, sink)?;
        }
    }
    summary.stanzas = summary.messages + summary.presences + summary.iqs;
    Ok(summary)
}

/// Sends one group of output (same frame and phase): a packet's output in order; a
/// sweep's or the end's by connection number, as a single pipeline orders them.
fn emit(
    group: &mut Vec<Item>,
    ids: &mut HashMap<(usize, FlowId), FlowId>,
    next_id: &mut u32,
    summary: &mut Summary,
    sink: &mut dyn Sink,
) -> Result<(), RunError> {
    let mut events = Vec::with_capacity(group.len());
    for item in group.drain(..) {
        match item.output {
            Output::NewFlow(local) => {
                ids.insert((item.shard, local), FlowId(*next_id));
                *next_id = next_id.saturating_add(1);
                summary.tcp_flows += 1;
            }
            Output::Event(mut e) => {
                let local = (item.shard, e.flow);
                if e.flow.0 != 0 {
                    e.flow = ids.get(&local).copied().unwrap_or(e.flow);
                }
                if matches!(e.kind, EventKind::FlowEnd { .. }) {
                    ids.remove(&local);
                }
                events.push((item.phase, *e));
            }
        }
    }
    if events.first().is_some_and(|(p, _)| *p != Phase::Packet) {
        // Stable: one connection's events keep their order.
        events.sort_by_key(|(_, e)| e.flow);
    }
    for (_, e) in events {
        match &e.kind {
            EventKind::StreamHeader { .. } => summary.streams += 1,
            EventKind::Message(_) => summary.messages += 1,
            EventKind::Presence(_) => summary.presences += 1,
            EventKind::Iq(_) => summary.iqs += 1,
            EventKind::Anomaly { .. } => summary.anomalies += 1,
            EventKind::FlowStart { .. } => summary.xmpp_flows += 1,
            _ => {}
        }
        sink.event(&e)?;
    }
    Ok(())
}
