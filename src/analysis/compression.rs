//! The XEP-0138 what-if in the statistics (`stats --what-if zlib`): how many bytes
//! each kind of traffic would take if every stream were zlib-compressed, flushed
//! after each element ([`crate::census::zlib`]).
//!
//! Input: events, with the bytes of each element (`EventKind::Xml`, which comes
//! just before the element's own events at the same position) and the class the
//! collector gives the element; output: [`Compression`], rows by stream kind,
//! direction and class, mergeable like the rest of [`super::Stats`].
//!
//! Bounds: one compressor per live direction (about 300 KB each), at most
//! [`MAX_LIVE_DIRECTIONS`] at once unless asked otherwise; a direction that finds no
//! room is not measured and its elements are counted in
//! [`Compression::unmeasured`]. A compressor is dropped when its connection ends.

use super::{Class, Counter};
use crate::census::zlib::Deflater;
use crate::model::{Direction, Event, EventKind, FlowId, StreamKind, StreamOffset};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Most directions compressed at once by default (about 80 MB of deflate state).
pub const MAX_LIVE_DIRECTIONS: usize = 256;

/// One kind of traffic before and after compression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressionRow {
    pub stream: StreamKind,
    pub dir: Direction,
    pub class: Class,
    pub elements: u64,
    /// The elements' bytes as carried.
    pub xml_bytes: u64,
    /// The bytes they add to the compressed stream, flush included.
    pub zlib_bytes: u64,
}

/// The what-if of one capture (or of several, merged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compression {
    /// Whether the what-if ran (`stats --what-if zlib`).
    pub measured: bool,
    /// Sorted by stream kind, direction and class.
    pub rows: Vec<CompressionRow>,
    /// Directions compressed.
    pub directions: u64,
    /// Elements of directions that found no compressor (more directions live at
    /// once than allowed) or whose compressor failed.
    pub unmeasured: Counter,
}

type Key = (StreamKind, Direction, Class);

impl CompressionRow {
    fn empty((stream, dir, class): Key) -> CompressionRow {
        CompressionRow {
            stream,
            dir,
            class,
            elements: 0,
            xml_bytes: 0,
            zlib_bytes: 0,
        }
    }

    fn add(&mut self, elements: u64, xml_bytes: u64, zlib_bytes: u64) {
        self.elements += elements;
        self.xml_bytes += xml_bytes;
        self.zlib_bytes += zlib_bytes;
    }
}

impl Compression {
    pub fn is_unmeasured(&self) -> bool {
        !self.measured
    }

    /// Adds another run's what-if.
    pub fn merge(&mut self, other: &Compression) {
        self.measured |= other.measured;
        self.directions += other.directions;
        self.unmeasured.merge(&other.unmeasured);
        let mut rows: BTreeMap<Key, CompressionRow> = std::mem::take(&mut self.rows)
            .into_iter()
            .map(|r| ((r.stream, r.dir, r.class), r))
            .collect();
        for r in &other.rows {
            rows.entry((r.stream, r.dir, r.class))
                .and_modify(|m| m.add(r.elements, r.xml_bytes, r.zlib_bytes))
                .or_insert_with(|| r.clone());
        }
        self.rows = rows.into_values().collect();
    }
}

/// An element compressed, waiting for the event that tells its class.
#[derive(Debug)]
struct Pending {
    flow: FlowId,
    dir: Direction,
    offset: StreamOffset,
    /// The connection's stream kind as known at the element (its own header may
    /// change it: the class event's kind wins).
    stream: StreamKind,
    xml_bytes: u64,
    zlib_bytes: u64,
}

/// Hashed maps (foldhash), looked up per element.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Compresses streams while events stream past.
#[derive(Debug)]
pub struct ZlibWhatIf {
    /// Most directions compressed at once.
    max_live: usize,
    /// The compressor of each live direction; `None` for one that failed.
    live: Map<(FlowId, Direction), Option<Box<Deflater>>>,
    pending: Option<Pending>,
    rows: BTreeMap<Key, CompressionRow>,
    directions: u64,
    unmeasured: Counter,
    /// The compressed bytes of the last element (reused).
    out: Vec<u8>,
}

impl ZlibWhatIf {
    /// Compresses at most `max_live` directions at once.
    pub fn new(max_live: usize) -> ZlibWhatIf {
        ZlibWhatIf {
            max_live,
            live: Map::default(),
            pending: None,
            rows: BTreeMap::new(),
            directions: 0,
            unmeasured: Counter::default(),
            out: Vec::new(),
        }
    }

    /// An empty what-if with the same limit, for a shard of `-j` (each shard
    /// compresses at most `max_live` of its own directions at once).
    pub fn like(other: &ZlibWhatIf) -> ZlibWhatIf {
        ZlibWhatIf::new(other.max_live)
    }

    /// Counts one event of a connection of `stream` kind; `class` is the traffic
    /// class the collector gives it (none for events that are not an element).
    pub fn event(&mut self, e: &Event, stream: StreamKind, class: Option<Class>) {
        match &e.kind {
            EventKind::Xml { xml } => {
                self.settle(None, Class::Other);
                self.compress(e, stream, xml.as_bytes());
            }
            EventKind::FlowEnd { .. } => {
                self.settle(None, Class::Other);
                self.live.remove(&(e.flow, Direction::ToServer));
                self.live.remove(&(e.flow, Direction::ToClient));
            }
            _ => {
                let Some(class) = class else { return };
                let same = self
                    .pending
                    .as_ref()
                    .is_some_and(|p| (p.flow, p.dir, p.offset) == (e.flow, e.direction, e.offset));
                if same {
                    self.settle(Some(stream), class);
                }
            }
        }
    }

    pub fn finish(mut self) -> Compression {
        self.settle(None, Class::Other);
        Compression {
            measured: true,
            rows: self.rows.into_values().collect(),
            directions: self.directions,
            unmeasured: self.unmeasured,
        }
    }

    fn compress(&mut self, e: &Event, stream: StreamKind, xml: &[u8]) {
        let key = (e.flow, e.direction);
        if !self.live.contains_key(&key) {
            if self.live.len() >= self.max_live {
                self.unmeasured.add(xml.len() as u64);
                return;
            }
            self.directions += 1;
            self.live.insert(key, Some(Box::default()));
        }
        let Some(slot) = self.live.get_mut(&key) else {
            return;
        };
        let zlib = slot
            .as_mut()
            .and_then(|deflater| deflater.element(xml, &mut self.out));
        let Some(zlib_bytes) = zlib else {
            // Failed now or before: the rest of the direction is not measured.
            *slot = None;
            self.unmeasured.add(xml.len() as u64);
            return;
        };
        self.pending = Some(Pending {
            flow: e.flow,
            dir: e.direction,
            offset: e.offset,
            stream,
            xml_bytes: xml.len() as u64,
            zlib_bytes,
        });
    }

    /// Counts the pending element in `class`, of `stream` kind when known better
    /// than at the element.
    fn settle(&mut self, stream: Option<StreamKind>, class: Class) {
        if let Some(p) = self.pending.take() {
            let stream = stream.unwrap_or(p.stream);
            let key = (stream, p.dir, class);
            self.rows
                .entry(key)
                .or_insert_with(|| CompressionRow::empty(key))
                .add(1, p.xml_bytes, p.zlib_bytes);
        }
    }
}
