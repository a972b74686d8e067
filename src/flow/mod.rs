//! TCP connections: the flow table and per-direction reassembly.
//!
//! Input: decoded segments; output: for each segment, the flow it belongs to and which
//! of the flow's two endpoints sent it. The table knows nothing of XMPP; the per-flow
//! application state `T` is owned here so one lookup finds everything.

pub mod reassembly;

use crate::model::{FlowId, RoleSource, Timestamp};
use std::collections::hash_map::{Entry, HashMap};
use std::net::SocketAddr;

pub use reassembly::{Arrival, Delivery, Reassembler};

/// Connection key independent of direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key(SocketAddr, SocketAddr);

impl Key {
    fn new(a: SocketAddr, b: SocketAddr) -> Key {
        if a <= b {
            Key(a, b)
        } else {
            Key(b, a)
        }
    }
}

/// One TCP connection. Endpoint 0 is the source of the first packet seen.
#[derive(Debug)]
pub struct Flow<T> {
    pub id: FlowId,
    pub endpoints: [SocketAddr; 2],
    /// Index of the client endpoint once known, and how it was decided.
    pub client: Option<(usize, RoleSource)>,
    /// Reassembly of the bytes each endpoint sends.
    pub sent: [Reassembler; 2],
    pub fin: [bool; 2],
    pub rst: bool,
    pub last_seen: Timestamp,
    pub app: T,
    /// Bytes of memory the flow held after its last packet, as counted by the
    /// pipeline against its budget for all connections.
    pub held: usize,
}

impl<T> Flow<T> {
    /// Which endpoint index sent a segment from `src`.
    pub fn sender_index(&self, src: SocketAddr) -> usize {
        usize::from(self.endpoints[0] != src)
    }

    /// Endpoint `side` (0 or 1; anything else means 1).
    pub fn endpoint(&self, side: usize) -> SocketAddr {
        let [a, b] = self.endpoints;
        if side == 0 {
            a
        } else {
            b
        }
    }

    /// Reassembly of what endpoint `side` sends.
    pub fn reassembler(&mut self, side: usize) -> &mut Reassembler {
        let [a, b] = &mut self.sent;
        if side == 0 {
            a
        } else {
            b
        }
    }

    /// Endpoint `side` sent a FIN.
    pub fn mark_fin(&mut self, side: usize) {
        let [a, b] = &mut self.fin;
        *(if side == 0 { a } else { b }) = true;
    }

    /// True once both sides closed or one reset.
    pub fn is_closed(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }
}

/// Flows by connection, with a bound on how many are tracked. The hasher is
/// foldhash, seeded per process: several times faster than SipHash on socket addresses
/// and still keyed, so a capture cannot be crafted to make every flow collide. Nothing
/// depends on the table's iteration order (see `drain_where`).
pub struct Table<T> {
    flows: HashMap<Key, Flow<T>, foldhash::fast::RandomState>,
    next_id: u32,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            flows: HashMap::default(),
            next_id: 1,
        }
    }
}

/// Result of looking a segment up.
pub enum Lookup<'a, T> {
    Existing(&'a mut Flow<T>),
    Created(&'a mut Flow<T>),
    /// The table is full.
    Full,
}

impl<T> Table<T> {
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Finds the flow of `src → dst` or creates it with `make` if below `max_flows`.
    pub fn lookup(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        time: Timestamp,
        max_flows: usize,
        make: impl FnOnce() -> T,
    ) -> Lookup<'_, T> {
        let full = self.flows.len() >= max_flows;
        let slot = match self.flows.entry(Key::new(src, dst)) {
            Entry::Occupied(existing) => return Lookup::Existing(existing.into_mut()),
            Entry::Vacant(_) if full => return Lookup::Full,
            Entry::Vacant(slot) => slot,
        };
        let id = FlowId(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        let flow = Flow {
            id,
            endpoints: [src, dst],
            client: None,
            sent: [Reassembler::default(), Reassembler::default()],
            fin: [false, false],
            rst: false,
            last_seen: time,
            app: make(),
            held: 0,
        };
        Lookup::Created(slot.insert(flow))
    }

    /// Every flow, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Flow<T>> {
        self.flows.values()
    }

    /// The flow of `a ↔ b`, if tracked.
    pub fn get_mut(&mut self, a: SocketAddr, b: SocketAddr) -> Option<&mut Flow<T>> {
        self.flows.get_mut(&Key::new(a, b))
    }

    /// Removes and returns the flow of `a ↔ b`.
    pub fn remove(&mut self, a: SocketAddr, b: SocketAddr) -> Option<Flow<T>> {
        self.flows.remove(&Key::new(a, b))
    }

    /// Removes every flow matching `pred`, in flow-id order (deterministic output).
    pub fn drain_where(&mut self, mut pred: impl FnMut(&Flow<T>) -> bool) -> Vec<Flow<T>> {
        let keys: Vec<Key> = self
            .flows
            .iter()
            .filter(|(_, f)| pred(f))
            .map(|(k, _)| *k)
            .collect();
        let mut out: Vec<Flow<T>> = keys.iter().filter_map(|k| self.flows.remove(k)).collect();
        out.sort_by_key(|f| f.id);
        out
    }
}
