//! `-j N`: the same analysis on N threads, with output identical to one thread.
//!
//! Input: a capture reader; output: events to a sink in the order a single
//! [`Pipeline`] would produce them, and the same summary. A reader thread decodes
//! each packet only far enough to find its connection and sends it, in batches, to the
//! shard that owns the connection (the least loaded when it was first seen,
//! [`Placement`]); each shard is an
//! ordinary pipeline over its own connections. This thread merges the shards' events
//! batch by batch, ordered by frame (each shard's already are: the shards' outputs are
//! walked side by side, [`Groups`], not sorted), and renumbers connections in order of
//! first packet, as the single pipeline numbers them.
//!
//! When the sink only prints, each shard also formats its events (text or NDJSON)
//! with the connection number left out, so the merging thread only fills in the
//! number and writes. When the sink is only statistics, each shard runs a collector
//! of its own over its events, which never leave the shard: the merging thread gets
//! the collectors' facts (what spans connections or is listed by connection number,
//! `analysis::collect`) in capture order and, at the end, their counts and the
//! summary's (the shards add up the streams, stanzas and anomalies). Otherwise
//! (checks, several sinks) the events cross to the merging thread and, once the sink
//! has seen them, go back to their shard to be freed there.
//!
//! Global decisions stay global: the reader thread decides when the idle sweep runs
//! (every minute of capture time) and tells every shard at the same frame; events a
//! sweep or the end of the capture produces are ordered by connection number. The one
//! difference: each shard tracks at most `max_flows / N` connections and holds at most
//! `max_buffered_bytes / N` bytes.

use super::{Config, Counts, Pipeline, RunError};
use crate::analysis::{Collector, Fact, Stats};
use crate::capture::{Packet, Reader};
use crate::decode::decode;
use crate::flow::table::Key;
use crate::model::At;
use crate::model::{Event, FlowId, FrameNo, Timestamp};
use crate::sink::{LineFormat, Sink, Summary};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
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
    /// An unformatted event: its index in the shard's batch events.
    Event(usize),
    /// A fact of the shard's collector: its index in the batch's facts; `flow` is
    /// the connection of the event it came from (or that it names).
    Fact {
        flow: FlowId,
        index: usize,
    },
    /// The end of a connection whose events the shard's collector consumed (the
    /// other counts of such events the shard adds up itself, [`ShardEnd::tally`]).
    Counted {
        flow: FlowId,
        counts: Counts,
    },
    /// An event the shard formatted: `text[head.0..head.1]`, the connection number,
    /// `text[tail.0..tail.1]` of the shard's batch text.
    Line {
        flow: FlowId,
        counts: Counts,
        head: (usize, usize),
        tail: (usize, usize),
    },
}

/// A batch's vectors once the merging thread is done with them, going back to the
/// shard that filled them: the events, to be freed where their strings were allocated
/// (freeing in the merging thread costs it more than the sink), and every vector, to
/// be filled again with the capacity it has (a fresh vector per batch grew by copying
/// in the shard and was freed in another thread: a third more CPU for `stats -j 2`).
struct Spent {
    events: Vec<Event>,
    items: Vec<Item>,
    text: Vec<u8>,
    facts: Vec<Option<Fact>>,
}

/// A vector handed back larger than this (in bytes of capacity) is freed instead.
const KEEP_SPENT_BYTES: usize = 16 << 20;

/// Empties `returned` and makes it `current` when `current` has no buffer yet and
/// `returned`'s is not too large.
fn reuse<T>(current: &mut Vec<T>, mut returned: Vec<T>) {
    returned.clear();
    let bytes = returned
        .capacity()
        .saturating_mul(std::mem::size_of::<T>().max(1));
    if current.capacity() == 0 && bytes <= KEEP_SPENT_BYTES {
        *current = returned;
    }
}

/// Global connection numbers by (shard, shard's number), looked up for every event:
/// foldhash (keys are our own numbers, not from the wire).
type Ids = HashMap<(usize, FlowId), FlowId, foldhash::fast::FixedState>;

/// One shard's output for one batch.
struct ShardOutput {
    batch: u64,
    shard: usize,
    items: Vec<Item>,
    text: Vec<u8>,
    events: Vec<Event>,
    facts: Vec<Option<Fact>>,
}

/// One piece of a shard's output. A shard makes its items in capture order, so
/// within one shard's batch `(frame, phase)` never decreases; the merging thread
/// walks the shards' items side by side instead of sorting them together.
struct Item {
    frame: u64,
    phase: Phase,
    output: Output,
}

impl Item {
    /// The group an item is written in: a packet's output, a sweep's or the end's.
    fn group(&self) -> (u64, Phase) {
        (self.frame, self.phase)
    }
}

/// The shards' items of one batch in output order, group by group: the items of the
/// smallest `(frame, phase)` not yet written, shard by shard, each shard's in the order
/// it made them — the order of sorting all items by (frame, phase, shard, place in
/// the shard) without moving any. Each shard's items must be in group order.
struct Groups<'a> {
    items: &'a [Vec<Item>],
    /// Each shard's first item not yet in a group.
    heads: Vec<usize>,
}

impl<'a> Groups<'a> {
    fn new(items: &'a [Vec<Item>]) -> Groups<'a> {
        Groups {
            items,
            heads: vec![0; items.len()],
        }
    }

    /// Fills `runs` with the next group as (shard, range of its items) in output
    /// order; false when every item has been in a group.
    fn next_into(&mut self, runs: &mut Vec<(usize, std::ops::Range<usize>)>) -> bool {
        runs.clear();
        let heads = self.items.iter().zip(&self.heads);
        let Some(group) = heads.filter_map(|(v, &h)| v.get(h)).map(Item::group).min() else {
            return false;
        };
        for (shard, (items, head)) in self.items.iter().zip(&mut self.heads).enumerate() {
            let start = *head;
            let rest = items.get(start..).unwrap_or_default();
            let len = rest.iter().take_while(|i| i.group() == group).count();
            if len > 0 {
                *head = start + len;
                runs.push((shard, start..start + len));
            }
        }
        true
    }
}

/// Connections placed when first seen: at most this many (a few MiB); later ones
/// go by hash.
const MAX_PLACED: usize = 1 << 16;

/// Which shard owns each connection. A connection seen for the first time goes to
/// the shard that has been sent the fewest bytes so far, and stays there: a hash of
/// the address pair spreads a few hundred busy connections unevenly (13 % apart on
/// the benchmark capture, so one core waited for the other), placing them by load
/// does not. Placements are kept by the pair's 64-bit hash, at most [`MAX_PLACED`];
/// once that is full, new connections go by the hash alone, as before. Any rule that
/// always sends a connection's packets to the same shard gives the same output
/// (tests/parallel.rs), and this one depends only on the capture, so runs repeat.
struct Placement {
    placed: HashMap<u64, u32, foldhash::fast::FixedState>,
    /// Packet bytes sent to each shard so far.
    load: Vec<u64>,
}

impl Placement {
    fn new(shards: usize) -> Placement {
        Placement {
            placed: HashMap::default(),
            load: vec![0; shards.max(1)],
        }
    }

    /// The shard of the connection between `a` and `b` (either order), which is
    /// sent `bytes` more.
    fn shard(&mut self, a: SocketAddr, b: SocketAddr, bytes: usize) -> usize {
        let pair = pair_hash(a, b);
        let shards = self.load.len();
        let shard = match self.placed.get(&pair) {
            Some(&shard) => shard as usize,
            None if self.placed.len() < MAX_PLACED => {
                let lightest = (0..shards)
                    .min_by_key(|&i| self.load.get(i).copied().unwrap_or(u64::MAX))
                    .unwrap_or(0);
                self.placed.insert(pair, lightest as u32);
                lightest
            }
            None => (pair % shards as u64) as usize,
        };
        if let Some(load) = self.load.get_mut(shard) {
            *load += bytes as u64;
        }
        shard
    }
}

/// A fixed hash of the address pair, the same in either order: the flow table's
/// connection key (the lower endpoint first, addresses as integers), hashed with
/// foldhash, a fraction of SipHash's cost on the reading thread, which every packet
/// passes.
fn pair_hash(a: SocketAddr, b: SocketAddr) -> u64 {
    foldhash::fast::FixedState::with_seed(0).hash_one(Key::new(a, b))
}

/// Where the merged output goes: any sink, or statistics that each shard collects
/// on its own ([`run_stats`]).
enum Target<'s> {
    Sink(&'s mut dyn Sink),
    Stats(&'s mut Collector),
}

impl Target<'_> {
    fn sink(&mut self) -> &mut dyn Sink {
        match self {
            Target::Sink(sink) => &mut **sink,
            Target::Stats(collector) => &mut **collector,
        }
    }

    /// The collector that takes the shards' facts and counts.
    fn collector(&mut self) -> Option<&mut Collector> {
        match self {
            Target::Sink(_) => None,
            Target::Stats(collector) => Some(&mut **collector),
        }
    }
}

/// Runs the analysis on `jobs` threads; `jobs <= 1` is the ordinary pipeline.
pub fn run(
    config: Config,
    reader: &mut Reader,
    sink: &mut dyn Sink,
    jobs: usize,
) -> Result<Summary, RunError> {
    run_to(config, reader, Target::Sink(sink), jobs)
}

/// Statistics on `jobs` threads: each shard runs a collector like `collector` over
/// its own connections' events, and `collector` takes their facts in capture order
/// and their counts at the end; the result equals one thread's (`tests/parallel.rs`).
pub fn run_stats(
    config: Config,
    reader: &mut Reader,
    collector: &mut Collector,
    jobs: usize,
) -> Result<Summary, RunError> {
    run_to(config, reader, Target::Stats(collector), jobs)
}

fn run_to(
    config: Config,
    reader: &mut Reader,
    mut target: Target<'_>,
    jobs: usize,
) -> Result<Summary, RunError> {
    if jobs <= 1 {
        return Pipeline::new(config).run(reader, target.sink());
    }
    let mut shard_config = config.clone();
    shard_config.limits.max_flows = (config.limits.max_flows / jobs).max(1);
    shard_config.limits.max_buffered_bytes = (config.limits.max_buffered_bytes / jobs).max(1);
    shard_config.limits.max_flow_table_bytes = (config.limits.max_flow_table_bytes / jobs).max(1);
    std::thread::scope(|scope| {
        let (out_tx, out_rx) = mpsc::sync_channel::<ShardOutput>(IN_FLIGHT * jobs);
        let mut work_txs = Vec::with_capacity(jobs);
        let mut spent_txs = Vec::with_capacity(jobs);
        // Shards hand their batches back emptied, so the reader reuses the buffers.
        let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
        let mut shards = Vec::with_capacity(jobs);
        for shard in 0..jobs {
            let (tx, rx) = mpsc::sync_channel::<Batch>(IN_FLIGHT);
            work_txs.push(tx);
            let out = out_tx.clone();
            let cfg = shard_config.clone();
            let format = target.sink().line_format();
            let (spent_tx, spent_rx) = mpsc::channel::<Spent>();
            spent_txs.push(spent_tx);
            let empty = empty_tx.clone();
            let shard_sink = ShardSink {
                format,
                collector: target.collector().map(|c| c.for_shard()),
            };
            shards.push(
                scope.spawn(move || {
                    shard_loop(shard, cfg, shard_sink, &rx, &spent_rx, &out, &empty)
                }),
            );
        }
        drop(empty_tx);
        drop(out_tx);
        let dispatcher = scope.spawn(move || dispatch(reader, &work_txs, &empty_rx));
        let merged = merge(&out_rx, jobs, &mut target, &spent_txs);
        // Drain what the shards still send if the sink failed, so they can finish.
        for _ in out_rx.iter() {}
        let (packets, undecoded, read_result) = dispatcher.join().unwrap_or((0, 0, Ok(())));
        let mut summary = merged?;
        for shard in shards {
            if let Ok(end) = shard.join() {
                summary.evicted_flows += end.table.evicted_flows;
                summary.emergencies += end.table.emergencies;
                summary.add_event_counts(&end.tally);
                if let (Some(collector), Some(stats)) = (target.collector(), end.stats) {
                    collector.absorb(&stats);
                }
            }
        }
        summary.packets = packets;
        summary.undecoded_packets = undecoded;
        target.sink().summary(&summary)?;
        read_result?;
        Ok(summary)
    })
}

/// Reads packets and sends each shard its share, batch by batch; returns the packet
/// counts and how reading ended.
fn dispatch(
    reader: &mut Reader,
    shards: &[SyncSender<Batch>],
    emptied: &Receiver<Batch>,
) -> (u64, u64, Result<(), crate::capture::CaptureError>) {
    let n = shards.len();
    // At most the batches in flight plus one per shard ever exist, so the buffers
    // handed back stay bounded too.
    let new_batch = |id| match emptied.try_recv() {
        Ok(mut batch) => {
            batch.id = id;
            batch.work.clear();
            batch.data.clear();
            batch
        }
        Err(_) => Batch {
            id,
            work: Vec::new(),
            data: Vec::new(),
        },
    };
    let mut batches: Vec<Batch> = (0..n).map(|_| new_batch(0)).collect();
    let mut placement = Placement::new(n);
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
            Ok(Some(segment)) => placement.shard(segment.src, segment.dst, packet.data.len()),
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

/// What a shard produces for one batch, in order.
struct ShardWriter {
    shard: usize,
    format: Option<Box<dyn LineFormat>>,
    items: Vec<Item>,
    text: Vec<u8>,
    /// Unformatted events of the batch, in one vector (not a box each).
    events: Vec<Event>,
    /// The shard's statistics, when the sink is only that: events stop here.
    collector: Option<Collector>,
    /// The collector's facts of the batch.
    facts: Vec<Option<Fact>>,
    /// The facts of one event, between the collector and `facts` (reused).
    made: Vec<Fact>,
    /// With a collector: the summary's counts of the shard's events.
    tally: Summary,
}

/// How a shard hands on its events: formatted, counted by its own collector, or as
/// they are.
struct ShardSink {
    format: Option<Box<dyn LineFormat>>,
    collector: Option<Collector>,
}

impl ShardWriter {
    fn push(&mut self, frame: u64, phase: Phase, output: Output) {
        self.items.push(Item {
            frame,
            phase,
            output,
        });
    }

    /// The event, formatted when the sink only prints, counted here when it is only
    /// statistics.
    fn event(&mut self, frame: u64, phase: Phase, event: Event) {
        if let Some(collector) = &mut self.collector {
            // A collector never fails to take an event.
            let _ = Sink::event(collector, &event);
            let mut made = std::mem::take(&mut self.made);
            made.extend(collector.take_facts());
            for fact in made.drain(..) {
                self.fact(frame, phase, event.flow, fact);
            }
            self.made = made;
            match Counts::of(&event.kind) {
                Counts::Nothing => {}
                // In capture order after the connection's last facts: the merging
                // thread then forgets its presence pairs and its number.
                Counts::FlowEnd => {
                    let (flow, counts) = (event.flow, Counts::FlowEnd);
                    self.push(frame, phase, Output::Counted { flow, counts });
                }
                // Only a number of the summary: added up here, sent once at the end
                // (half the items a shard sent were these).
                counts => counts.add_to(&mut self.tally),
            }
            return;
        }
        let start = self.text.len();
        let formatted = self
            .format
            .as_mut()
            .map(|f| f.format(&event, &mut self.text));
        let output = match formatted {
            Some(Ok((flow_at, resume_at))) => Output::Line {
                flow: event.flow,
                counts: Counts::of(&event.kind),
                head: (start, flow_at),
                tail: (resume_at, self.text.len()),
            },
            // Unformatted (or the formatter failed: the sink formats it again and
            // reports the error).
            Some(Err(_)) | None => {
                self.text.truncate(start);
                self.events.push(event);
                Output::Event(self.events.len() - 1)
            }
        };
        self.push(frame, phase, output);
    }

    /// A fact of the shard's collector, placed where the event that made it is.
    fn fact(&mut self, frame: u64, phase: Phase, flow: FlowId, fact: Fact) {
        self.facts.push(Some(fact));
        let index = self.facts.len() - 1;
        self.push(frame, phase, Output::Fact { flow, index });
    }

    /// The end of the capture for the shard's collector: facts of the connections
    /// still open, and its counts.
    fn finish(&mut self) -> Option<Stats> {
        let (stats, facts) = self.collector.take()?.finish_shard();
        for fact in facts {
            let flow = fact.flow().unwrap_or(FlowId(0));
            self.fact(u64::MAX, Phase::Finish, flow, fact);
        }
        Some(stats)
    }

    fn take(&mut self, batch: u64) -> ShardOutput {
        ShardOutput {
            batch,
            shard: self.shard,
            items: std::mem::take(&mut self.items),
            text: std::mem::take(&mut self.text),
            events: std::mem::take(&mut self.events),
            facts: std::mem::take(&mut self.facts),
        }
    }
}

/// One shard: an ordinary pipeline over the connections it owns; with a format, its
/// events leave it formatted; with a collector, counted. Returns what the merging
/// thread adds up at the end ([`ShardEnd`]).
fn shard_loop(
    shard: usize,
    config: Config,
    sink: ShardSink,
    work: &Receiver<Batch>,
    spent: &Receiver<Spent>,
    out: &SyncSender<ShardOutput>,
    emptied: &mpsc::Sender<Batch>,
) -> ShardEnd {
    let mut pipeline = Pipeline::new(config);
    pipeline.shard = true;
    let mut writer = ShardWriter {
        shard,
        format: sink.format,
        items: Vec::new(),
        text: Vec::new(),
        events: Vec::new(),
        collector: sink.collector,
        facts: Vec::new(),
        made: Vec::new(),
        tally: Summary::default(),
    };
    let mut counted = None;
    for batch in work.iter() {
        // The vectors of batches the merging thread is done with come back: their
        // events are freed here, where their strings were allocated, and the vectors
        // are filled again ([`Spent`]).
        while let Ok(returned) = spent.try_recv() {
            reuse(&mut writer.events, returned.events);
            reuse(&mut writer.items, returned.items);
            reuse(&mut writer.text, returned.text);
            reuse(&mut writer.facts, returned.facts);
        }
        for w in &batch.work {
            match w {
                Work::Sweep(at) => {
                    pipeline.sweep_expired(*at);
                    for e in pipeline.events.drain(..) {
                        writer.event(at.frame.0, Phase::Sweep, e);
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
                        writer.push(frame.0, Phase::Packet, Output::NewFlow(id));
                    }
                    for e in pipeline.events.drain(..) {
                        writer.event(frame.0, Phase::Packet, e);
                    }
                }
                Work::Finish(at) => {
                    pipeline.last = *at;
                    pipeline.finish();
                    for e in pipeline.events.drain(..) {
                        writer.event(u64::MAX, Phase::Finish, e);
                    }
                    counted = writer.finish();
                }
            }
        }
        if out.send(writer.take(batch.id)).is_err() {
            break;
        }
        // The reader may have ended already; then the batch is simply freed.
        let _ = emptied.send(batch);
    }
    ShardEnd {
        table: pipeline.summary,
        tally: writer.tally,
        stats: counted,
    }
}

/// What a shard hands back when it ends.
struct ShardEnd {
    /// Its pipeline's summary: the flow table's counters are the part the merging
    /// thread does not count from events.
    table: Summary,
    /// With a collector: the summary's counts of its events ([`ShardWriter::tally`]).
    tally: Summary,
    /// Its collector's counts.
    stats: Option<Stats>,
}

/// Merges the shards' output batch by batch and sends it to the sink in order.
fn merge(
    out: &Receiver<ShardOutput>,
    shards: usize,
    target: &mut Target<'_>,
    spent: &[mpsc::Sender<Spent>],
) -> Result<Summary, RunError> {
    let mut waiting: BTreeMap<u64, Vec<ShardOutput>> = BTreeMap::new();
    let mut next = 0u64;
    let mut ids: Ids = Ids::default();
    let mut next_id = 1u32;
    let mut summary = Summary::default();
    // The group being written and its runs, kept across batches to reuse their
    // allocations.
    let mut ready = Vec::new();
    let mut runs = Vec::new();
    for part in out.iter() {
        waiting.entry(part.batch).or_default().push(part);
        while waiting.get(&next).is_some_and(|p| p.len() == shards) {
            let Some(parts) = waiting.remove(&next) else {
                break;
            };
            next += 1;
            let mut texts: Vec<Vec<u8>> = (0..shards).map(|_| Vec::new()).collect();
            let mut events: Vec<Vec<Event>> = (0..shards).map(|_| Vec::new()).collect();
            let mut facts: Vec<Vec<Option<Fact>>> = (0..shards).map(|_| Vec::new()).collect();
            let mut shard_items: Vec<Vec<Item>> = (0..shards).map(|_| Vec::new()).collect();
            for part in parts {
                if let Some(slot) = texts.get_mut(part.shard) {
                    *slot = part.text;
                }
                if let Some(slot) = events.get_mut(part.shard) {
                    *slot = part.events;
                }
                if let Some(slot) = facts.get_mut(part.shard) {
                    *slot = part.facts;
                }
                if let Some(slot) = shard_items.get_mut(part.shard) {
                    *slot = part.items;
                }
            }
            let mut merger = Merger {
                ids: &mut ids,
                next_id: &mut next_id,
                summary: &mut summary,
                texts: &texts,
                events: &mut events,
                facts: &mut facts,
                target: &mut *target,
                ready: std::mem::take(&mut ready),
            };
            // A shard's work comes in frame order (a sweep before the packet it was
            // decided at, the end last): its items are in group order by construction.
            debug_assert!(shard_items.iter().all(|v| v.is_sorted_by_key(Item::group)));
            let mut groups = Groups::new(&shard_items);
            while groups.next_into(&mut runs) {
                for (shard, range) in runs.drain(..) {
                    let run = shard_items.get(shard).and_then(|v| v.get(range));
                    for item in run.unwrap_or_default() {
                        merger.take(shard, item)?;
                    }
                }
                merger.write_group()?;
            }
            ready = std::mem::take(&mut merger.ready);
            let returned = events.into_iter().zip(shard_items).zip(texts).zip(facts);
            for ((((events, items), text), facts), tx) in returned.zip(spent) {
                // A shard that has finished takes nothing more: dropped here then.
                let _ = tx.send(Spent {
                    events,
                    items,
                    text,
                    facts,
                });
            }
        }
    }
    Ok(summary)
}

/// The merging thread's state while it writes one batch.
struct Merger<'m, 't> {
    ids: &'m mut Ids,
    next_id: &'m mut u32,
    summary: &'m mut Summary,
    /// Each shard's formatted text of this batch.
    texts: &'m [Vec<u8>],
    /// Each shard's unformatted events of this batch.
    events: &'m mut [Vec<Event>],
    /// Each shard's collector facts of this batch.
    facts: &'m mut [Vec<Option<Fact>>],
    target: &'m mut Target<'t>,
    /// The sweep or end group being gathered (kept to reuse its allocation).
    ready: Vec<(FlowId, Counts, Ready)>,
}

/// An event ready to write: unformatted, or the shard's bytes.
enum Ready {
    /// Its index in the events of the shard that made it.
    Event { shard: usize, index: usize },
    Line {
        shard: usize,
        head: (usize, usize),
        tail: (usize, usize),
    },
    /// Its index in the facts of the shard that made it.
    Fact { shard: usize, index: usize },
    /// Nothing to write: only counts.
    Counted,
}

impl Merger<'_, '_> {
    /// Takes one item of a group (same frame and phase). A packet's output is
    /// written as it comes, in order; a sweep's or the end's waits for
    /// [`Merger::write_group`], which orders it by connection number, as a single
    /// pipeline does.
    fn take(&mut self, shard: usize, item: &Item) -> Result<(), RunError> {
        let (flow, counts, event) = match item.output {
            Output::NewFlow(local) => {
                self.ids.insert((shard, local), FlowId(*self.next_id));
                *self.next_id = self.next_id.saturating_add(1);
                self.summary.tcp_flows += 1;
                return Ok(());
            }
            Output::Event(index) => {
                let Some(e) = self.events.get(shard).and_then(|v| v.get(index)) else {
                    return Ok(());
                };
                (e.flow, Counts::of(&e.kind), Ready::Event { shard, index })
            }
            Output::Fact { flow, index } => (flow, Counts::Nothing, Ready::Fact { shard, index }),
            Output::Counted { flow, counts } => (flow, counts, Ready::Counted),
            Output::Line {
                flow,
                counts,
                head,
                tail,
            } => (flow, counts, Ready::Line { shard, head, tail }),
        };
        let local = (shard, flow);
        let global = if flow.0 == 0 {
            flow
        } else {
            self.ids.get(&local).copied().unwrap_or(flow)
        };
        if counts == Counts::FlowEnd {
            self.ids.remove(&local);
        }
        if item.phase == Phase::Packet {
            self.write(global, counts, event)
        } else {
            self.ready.push((global, counts, event));
            Ok(())
        }
    }

    /// Writes what a sweep or the end of the capture produced, by connection number
    /// (stable: one connection's events keep their order).
    fn write_group(&mut self) -> Result<(), RunError> {
        let mut ready = std::mem::take(&mut self.ready);
        ready.sort_by_key(|(flow, ..)| *flow);
        for (flow, counts, event) in ready.drain(..) {
            self.write(flow, counts, event)?;
        }
        self.ready = ready;
        Ok(())
    }

    /// Counts one piece of output and sends it to the sink or the collector.
    fn write(&mut self, flow: FlowId, counts: Counts, event: Ready) -> Result<(), RunError> {
        counts.add_to(self.summary);
        match event {
            Ready::Event { shard, index } => {
                let event = self.events.get_mut(shard).and_then(|v| v.get_mut(index));
                if let Some(e) = event {
                    e.flow = flow;
                    self.target.sink().event(e)?;
                }
            }
            Ready::Line { shard, head, tail } => {
                let text = self.texts.get(shard).map(Vec::as_slice).unwrap_or_default();
                let head = text.get(head.0..head.1).unwrap_or_default();
                let tail = text.get(tail.0..tail.1).unwrap_or_default();
                self.target.sink().write_formatted(head, flow, tail)?;
            }
            Ready::Fact { shard, index } => {
                let slot = self.facts.get_mut(shard).and_then(|v| v.get_mut(index));
                if let (Some(mut fact), Some(collector)) =
                    (slot.and_then(Option::take), self.target.collector())
                {
                    fact.renumber(flow);
                    collector.apply(fact);
                }
            }
            Ready::Counted if counts == Counts::FlowEnd => {
                if let Some(collector) = self.target.collector() {
                    collector.connection_ended(flow);
                }
            }
            Ready::Counted => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr(host: u8, port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, host], port))
    }

    /// A connection keeps its shard in both directions; a new one goes to the shard
    /// sent the fewest bytes so far.
    #[test]
    fn connections_go_to_the_lightest_shard_and_stay() {
        let mut placement = Placement::new(3);
        let server = addr(1, 5222);
        let a = placement.shard(addr(2, 4000), server, 1000);
        let b = placement.shard(addr(3, 4000), server, 10);
        let c = placement.shard(addr(4, 4000), server, 10);
        assert_eq!(vec![a, b, c], vec![0, 1, 2]);
        // Shard 1 and 2 hold 10 bytes each, shard 0 1000: the next goes to 1.
        assert_eq!(placement.shard(addr(5, 4000), server, 500), 1);
        // The same connections, either direction, whatever the loads now.
        assert_eq!(placement.shard(server, addr(2, 4000), 1), a);
        assert_eq!(placement.shard(addr(4, 4000), server, 1), c);
        assert_eq!(placement.load, vec![1001, 510, 11]);
    }

    /// Past `MAX_PLACED` connections, new ones go by the hash of their pair (still
    /// the same shard every time), and the placed ones keep theirs.
    #[test]
    fn beyond_the_placement_table_connections_go_by_hash() {
        let mut placement = Placement::new(2);
        let server = addr(1, 5222);
        let client = |i: usize| SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 4000));
        let first = placement.shard(client(0), server, 1);
        for i in 1..MAX_PLACED {
            placement.shard(client(i), server, 1);
        }
        assert_eq!(placement.placed.len(), MAX_PLACED);
        for port in [1u16, 2, 3] {
            let late = SocketAddr::from(([10, 0, 1, 9], port));
            let by_hash = (pair_hash(late, server) % 2) as usize;
            assert_eq!(placement.shard(late, server, 1), by_hash);
            assert_eq!(placement.shard(server, late, 1), by_hash);
        }
        assert_eq!(placement.placed.len(), MAX_PLACED);
        assert_eq!(placement.shard(server, client(0), 1), first);
    }

    /// Every shard's items, each shard's in group order, as (frame, phase) lists.
    fn shard_items() -> impl Strategy<Value = Vec<Vec<(u64, u8)>>> {
        let one = proptest::collection::vec((0u64..6, 0u8..3), 0..12).prop_map(|mut v| {
            v.sort();
            v
        });
        proptest::collection::vec(one, 1..5)
    }

    proptest! {
        /// Walking the shards' items group by group gives exactly the order of
        /// sorting them all by (frame, phase, shard, place in the shard) — the order
        /// the merging thread wrote before it stopped sorting — and every group is
        /// one (frame, phase).
        #[test]
        fn groups_walk_in_the_order_of_the_sort(shards in shard_items()) {
            let phase = |p: u8| [Phase::Sweep, Phase::Packet, Phase::Finish][usize::from(p % 3)];
            let items: Vec<Vec<Item>> = shards
                .iter()
                .map(|v| {
                    v.iter()
                        .enumerate()
                        .map(|(place, &(frame, p))| Item {
                            frame,
                            phase: phase(p),
                            output: Output::Event(place),
                        })
                        .collect()
                })
                .collect();
            let mut sorted: Vec<(u64, Phase, usize, usize)> = Vec::new();
            for (shard, v) in shards.iter().enumerate() {
                for (place, &(frame, p)) in v.iter().enumerate() {
                    sorted.push((frame, phase(p), shard, place));
                }
            }
            sorted.sort();
            let mut walked = Vec::new();
            let mut groups = Groups::new(&items);
            let mut runs = Vec::new();
            while groups.next_into(&mut runs) {
                prop_assert!(!runs.is_empty());
                let mut keys = Vec::new();
                for (shard, range) in runs.drain(..) {
                    for item in &items[shard][range] {
                        let Output::Event(place) = item.output else { unreachable!() };
                        keys.push(item.group());
                        walked.push((item.frame, item.phase, shard, place));
                    }
                }
                keys.dedup();
                prop_assert_eq!(keys.len(), 1);
            }
            prop_assert_eq!(walked, sorted);
        }
    }
}
