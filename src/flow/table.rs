//! The flow table: every TCP connection of the capture, bounded in bytes.
//!
//! Input: address pairs and the time of each packet; output: the connection a segment
//! belongs to, connections evicted to make room, connections expired by an idle sweep.
//!
//! Two kinds of entry share one hash index:
//! - a **tracked** connection owns a [`Flow`] (reassembly and the application state),
//!   boxed in a slab so the index entry stays small;
//! - a **passed** connection is one known to be of no interest (not XMPP, or already
//!   reported as ended): only its key, its last packet time and its FIN/RST flags are
//!   kept, 48 bytes in the index, and its packets cost one lookup (Suricata's flow
//!   bypass).
//!
//! The table is bounded in entries and in bytes (the index's real allocation plus an
//! estimate of each tracked connection). When an insertion would go over, the
//! entries least likely to matter go first ([`Class`]): passed, then undecided, then
//! XMPP connections that have sent nothing, then the XMPP connections idle longest;
//! ties go by last packet time, then by address, so which entries go never depends
//! on the hasher's order. Class and last packet time live in the index entry, so a
//! pass never visits the tracked connections' boxes. Evictions come in batches of a sixteenth
//! of the table, so finding them costs a few steps per insertion.

use super::Flow;
use crate::model::{FlowId, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

/// One end of a connection in the index: IPv4 addresses are stored as IPv4-mapped
/// IPv6 with a family flag, so both families take the same 19 bytes (20 with
/// alignment: an index entry stays 48 bytes).
///
/// The address is four big-endian 32-bit words, so the derived order is the order of
/// its bytes (eviction ties go by address, then port, then family), while comparing
/// and hashing it take a few word operations: as a byte array, building it from a
/// `SocketAddr` went byte by byte and comparing it through `memcmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Endpoint {
    ip: [u32; 4],
    port: u16,
    v6: bool,
}

impl Endpoint {
    fn of(addr: SocketAddr) -> Endpoint {
        let (ip, v6) = match addr {
            SocketAddr::V4(a) => ([0, 0, 0xffff, a.ip().to_bits()], false),
            SocketAddr::V6(a) => {
                let bits = a.ip().to_bits();
                let word = |shift: u32| (bits >> shift) as u32;
                ([word(96), word(64), word(32), word(0)], true)
            }
        };
        Endpoint {
            ip,
            port: addr.port(),
            v6,
        }
    }
}

/// Connection key independent of direction: the lower endpoint first. `-j` hashes it
/// to place a connection on a shard (`pipeline::parallel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    lo: Endpoint,
    hi: Endpoint,
}

impl Key {
    pub fn new(a: SocketAddr, b: SocketAddr) -> Key {
        let (a, b) = (Endpoint::of(a), Endpoint::of(b));
        if a <= b {
            Key { lo: a, hi: b }
        } else {
            Key { lo: b, hi: a }
        }
    }

    /// Whether `src` is the key's lower endpoint.
    fn is_lo(&self, src: SocketAddr) -> bool {
        Endpoint::of(src) == self.lo
    }
}

/// How much an entry matters, least first: the eviction order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Known to be of no interest (not XMPP, or already ended).
    Passed = 0,
    /// Not known yet (an unknown port, detection still looking).
    Undecided = 1,
    /// XMPP (by port or content) that has sent no payload yet.
    Quiet = 2,
    /// An XMPP connection under analysis.
    Active = 3,
}

// Flags of a passed entry, and the marker telling a passed slot from a tracked one.
const FIN_LO: u32 = 1;
const FIN_HI: u32 = 2;
const RST: u32 = 4;
/// Reported as ended (`flow_end` sent): kept so late packets open nothing.
const ENDED: u32 = 8;
const PASSED: u32 = 1 << 31;

/// An index entry: its last packet time (seconds after the table's epoch), and a
/// passed connection's flags or a tracked connection's slab position and class.
#[derive(Debug, Clone, Copy)]
struct Slot {
    last: u32,
    code: u32,
}

/// A tracked slot's code: the slab position below bit 29, the class in bits 29–30.
const CLASS_SHIFT: u32 = 29;
const POSITION_MASK: u32 = (1 << CLASS_SHIFT) - 1;
/// Most tracked connections at once (the slab positions a code can hold).
const MAX_TRACKED: usize = POSITION_MASK as usize;

impl Slot {
    fn tracked(&self) -> Option<u32> {
        (self.code & PASSED == 0).then_some(self.code & POSITION_MASK)
    }

    fn tracked_code(position: u32, class: Class) -> u32 {
        (position & POSITION_MASK) | (class as u32) << CLASS_SHIFT
    }

    /// The entry's place in the eviction order: its class and last packet time,
    /// read from the index alone (no visit to the tracked connection's box).
    fn rank(&self) -> (Class, u32) {
        let class = if self.code & PASSED != 0 {
            Class::Passed
        } else {
            match (self.code >> CLASS_SHIFT) & 3 {
                0 => Class::Passed,
                1 => Class::Undecided,
                2 => Class::Quiet,
                _ => Class::Active,
            }
        };
        (class, self.last)
    }

    fn is_closed(&self) -> bool {
        let f = self.code;
        f & (RST | ENDED) != 0 || f & (FIN_LO | FIN_HI) == FIN_LO | FIN_HI
    }
}

/// Bounds of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Most entries, tracked and passed together.
    pub max_entries: usize,
    /// Most bytes: the index's allocation plus the tracked connections' estimate.
    pub max_bytes: usize,
}

/// What a packet's address pair finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A passed connection; its time and flags were updated.
    Passed,
    /// A passed connection that had ended (both FINs, a RST, or reported ended),
    /// and the packet is a new SYN: the caller starts a new connection on it.
    Reopened,
    /// A tracked connection, by slab position.
    Tracked(u32),
    Absent,
}

/// A packet's TCP flags, as a passed entry keeps them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// Bytes one index entry takes: key, slot, and hashbrown's control byte.
pub const INDEX_ENTRY_BYTES: usize = std::mem::size_of::<(Key, Slot)>() + 1;
// A passed connection costs 48 bytes in the index (the module's promise).
const _: () = assert!(std::mem::size_of::<(Key, Slot)>() == 48);

/// The connections of a capture.
pub struct Table<T> {
    index: HashMap<Key, Slot, foldhash::fast::RandomState>,
    slab: Vec<Option<Box<Flow<T>>>>,
    free: Vec<u32>,
    /// Estimated bytes of the tracked connections (boxes and what they own).
    tracked_bytes: usize,
    next_id: u32,
    /// Capture second that passed entries' times count from.
    epoch: Option<i64>,
    bounds: Bounds,
}

impl<T> Table<T> {
    pub fn new(bounds: Bounds) -> Table<T> {
        Table {
            index: HashMap::default(),
            slab: Vec::new(),
            free: Vec::new(),
            tracked_bytes: 0,
            next_id: 1,
            epoch: None,
            bounds,
        }
    }

    /// Entries, tracked and passed.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Tracked connections.
    pub fn tracked(&self) -> usize {
        self.slab.len() - self.free.len()
    }

    /// Bytes the table takes: the index's allocation, the slab, and the tracked
    /// connections' estimate.
    pub fn bytes(&self) -> usize {
        index_bytes(self.index.capacity())
            + self.slab.capacity() * std::mem::size_of::<Option<Box<Flow<T>>>>()
            + self.free.capacity() * 4
            + self.tracked_bytes
    }

    /// Share of the bounds in use, the larger of entries and bytes, in [0, 1+].
    pub fn usage(&self) -> f64 {
        let entries = self.len() as f64 / self.bounds.max_entries.max(1) as f64;
        let bytes = self.bytes() as f64 / self.bounds.max_bytes.max(1) as f64;
        entries.max(bytes)
    }

    /// Seconds after the epoch, as a passed entry stores them.
    /// [`Table::stamp_of`], the first time seen becoming the epoch.
    fn stamp(&mut self, time: Timestamp) -> u32 {
        self.epoch.get_or_insert(time.secs());
        self.stamp_of(time)
    }

    fn stamp_of(&self, time: Timestamp) -> u32 {
        let epoch = self.epoch.unwrap_or(time.secs());
        u32::try_from(time.secs().saturating_sub(epoch).max(0)).unwrap_or(u32::MAX)
    }

    /// Looks up the connection of `src → dst`. A passed connection is updated here
    /// (time, FIN/RST), so its packets need nothing else.
    pub fn find(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        time: Timestamp,
        flags: Flags,
    ) -> Found {
        let now = self.stamp(time);
        let key = Key::new(src, dst);
        let Some(slot) = self.index.get_mut(&key) else {
            return Found::Absent;
        };
        if let Some(i) = slot.tracked() {
            slot.last = slot.last.max(now);
            return Found::Tracked(i);
        }
        if flags.syn && !flags.ack && slot.is_closed() {
            self.index.remove(&key);
            return Found::Reopened;
        }
        slot.last = slot.last.max(now);
        if flags.fin {
            slot.code |= if key.is_lo(src) { FIN_LO } else { FIN_HI };
        }
        if flags.rst {
            slot.code |= RST;
        }
        Found::Passed
    }

    /// The tracked connection at slab position `i`.
    pub fn flow_mut(&mut self, i: u32) -> Option<&mut Flow<T>> {
        self.slab.get_mut(i as usize).and_then(|f| f.as_deref_mut())
    }

    /// Whether a new tracked connection estimated at `cost` bytes fits as things are.
    pub fn has_room(&self, cost: usize) -> bool {
        if self.len() >= self.bounds.max_entries || self.tracked() >= MAX_TRACKED {
            return false;
        }
        let grow = if self.index.len() >= self.index.capacity() {
            index_bytes(grown_capacity(self.index.capacity())) - index_bytes(self.index.capacity())
        } else {
            0
        };
        let slab_grow = if self.free.is_empty() && self.slab.len() >= self.slab.capacity() {
            self.slab.capacity().max(4) * std::mem::size_of::<Option<Box<Flow<T>>>>()
        } else {
            0
        };
        self.bytes() + grow + slab_grow + cost <= self.bounds.max_bytes
    }

    /// Adds a tracked connection of `src → dst` (endpoint 0 is `src`) and returns
    /// its slab position. The caller made room first ([`Table::has_room`],
    /// [`Table::evict`]).
    pub fn insert(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        time: Timestamp,
        class: Class,
        app: T,
    ) -> u32 {
        let now = self.stamp(time);
        let id = FlowId(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        let mut flow = Box::new(Flow::new(id, [src, dst], time, app));
        flow.class = class;
        self.tracked_bytes += flow.cost();
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(place) = self.slab.get_mut(i as usize) {
                    *place = Some(flow);
                }
                i
            }
            None => {
                self.slab.push(Some(flow));
                u32::try_from(self.slab.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let code = Slot::tracked_code(i, class);
        self.index
            .insert(Key::new(src, dst), Slot { last: now, code });
        i
    }

    /// The tracked connection at `i` is now of `class` (kept in its index entry,
    /// where eviction reads it).
    pub fn set_class(&mut self, i: u32, class: Class) {
        let Some(flow) = self.slab.get_mut(i as usize).and_then(|f| f.as_deref_mut()) else {
            return;
        };
        // Most packets change nothing: no index lookup then.
        if flow.class == class {
            return;
        }
        flow.class = class;
        let key = Key::new(flow.endpoints[0], flow.endpoints[1]);
        if let Some(slot) = self.index.get_mut(&key) {
            slot.code = Slot::tracked_code(i, class);
        }
    }

    /// The tracked connection at `i` changed what it owns: its estimate is taken
    /// again (`Flow::resident` is the caller's part of it).
    pub fn recount(&mut self, i: u32, resident: usize) {
        if let Some(flow) = self.slab.get_mut(i as usize).and_then(|f| f.as_deref_mut()) {
            let before = flow.cost();
            flow.resident = resident;
            self.tracked_bytes = self.tracked_bytes.saturating_sub(before) + flow.cost();
        }
    }

    /// Turns the tracked connection at `i` into a passed entry: everything it owns is
    /// freed. `ended`: it was reported as ended (a new SYN may reopen the pair).
    pub fn pass(&mut self, i: u32, ended: bool) {
        let Some(flow) = self.take(i) else { return };
        let key = Key::new(flow.endpoints[0], flow.endpoints[1]);
        let lo_first = key.is_lo(flow.endpoints[0]);
        let [fin0, fin1] = flow.fin;
        let (fin_lo, fin_hi) = if lo_first { (fin0, fin1) } else { (fin1, fin0) };
        let mut code = PASSED;
        code |= if fin_lo { FIN_LO } else { 0 };
        code |= if fin_hi { FIN_HI } else { 0 };
        code |= if flow.rst { RST } else { 0 };
        code |= if ended { ENDED } else { 0 };
        let last = self.stamp_of(flow.last_seen);
        // In place: `HashMap::insert` makes room for a new entry before it looks
        // for the key, so replacing could grow a full index.
        if let Some(slot) = self.index.get_mut(&key) {
            *slot = Slot { last, code };
        }
    }

    /// Removes the tracked connection at `i` from the slab (not from the index).
    fn take(&mut self, i: u32) -> Option<Box<Flow<T>>> {
        let flow = self.slab.get_mut(i as usize)?.take()?;
        self.tracked_bytes = self.tracked_bytes.saturating_sub(flow.cost());
        self.free.push(i);
        Some(flow)
    }

    /// Every tracked connection.
    pub fn iter(&self) -> impl Iterator<Item = &Flow<T>> {
        self.slab.iter().flatten().map(|f| &**f)
    }

    /// Slab positions of the tracked connections, with what they hold.
    pub fn positions(&self) -> impl Iterator<Item = (u32, &Flow<T>)> {
        self.slab
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((u32::try_from(i).ok()?, f.as_deref()?)))
    }

    /// Removes the entries whose last packet is older than their class's timeout
    /// (`timeout(class)` in seconds, `None` for never); returns the tracked ones in
    /// connection order.
    pub fn expire(
        &mut self,
        now: Timestamp,
        timeout: impl Fn(Class) -> Option<u64>,
    ) -> Vec<Box<Flow<T>>> {
        let now = i64::from(self.stamp_of(now));
        let mut expired_tracked = Vec::new();
        self.index.retain(|_, slot| {
            let (class, last) = slot.rank();
            let gone = timeout(class).is_some_and(|t| idle_for(now, i64::from(last)) > t);
            if gone {
                if let Some(i) = slot.tracked() {
                    expired_tracked.push(i);
                }
            }
            !gone
        });
        self.take_all(expired_tracked)
    }

    /// Removes every tracked connection (end of capture), in connection order.
    pub fn drain(&mut self) -> Vec<Box<Flow<T>>> {
        let all: Vec<u32> = self.positions().map(|(i, _)| i).collect();
        for flow in self.slab.iter().flatten() {
            self.index
                .remove(&Key::new(flow.endpoints[0], flow.endpoints[1]));
        }
        self.take_all(all)
    }

    fn take_all(&mut self, positions: Vec<u32>) -> Vec<Box<Flow<T>>> {
        let mut out: Vec<Box<Flow<T>>> =
            positions.into_iter().filter_map(|i| self.take(i)).collect();
        out.sort_by_key(|f| f.id);
        out
    }

    /// Makes room by evicting entries of class at most `up_to`, least first
    /// ([`Class`], then longest idle, then addresses): a sixteenth
    /// of the table, at least one. Returns how many entries went and the tracked
    /// connections among them, in connection order; passed entries go silently.
    pub fn evict(&mut self, up_to: Class) -> (usize, Vec<Box<Flow<T>>>) {
        let need = (self.len() / 16).max(1);
        // Pass 1: how many entries each (class, last time) holds.
        let mut counts: BTreeMap<(Class, u32), usize> = BTreeMap::new();
        for slot in self.index.values() {
            let rank = slot.rank();
            if rank.0 <= up_to {
                *counts.entry(rank).or_default() += 1;
            }
        }
        // The (class, time) where the evicted run ends, and how many go there.
        let mut cum = 0;
        let mut cutoff = None;
        for (rank, n) in &counts {
            if cum + n >= need {
                cutoff = Some((*rank, need - cum));
                break;
            }
            cum += n;
        }
        let (cutoff, at_cutoff) = match cutoff {
            Some(c) => c,
            None => match counts.keys().next_back() {
                // Fewer candidates than wanted: all of them go.
                Some(last) => (*last, usize::MAX),
                None => return (0, Vec::new()),
            },
        };
        // Pass 2: everything below the cutoff goes; at the cutoff, the first few by
        // addresses.
        let mut boundary: Vec<(Key, Option<u32>)> = Vec::new();
        let mut gone_tracked = Vec::new();
        let mut removed = Vec::new();
        for (key, slot) in &self.index {
            let rank = slot.rank();
            if rank > cutoff || rank.0 > up_to {
                continue;
            }
            if rank < cutoff {
                removed.push(*key);
                if let Some(i) = slot.tracked() {
                    gone_tracked.push(i);
                }
            } else {
                boundary.push((*key, slot.tracked()));
            }
        }
        // Only which ones go matters here (their events come out in connection
        // order): a selection, not a sort, of the boundary.
        if at_cutoff < boundary.len() {
            boundary.select_nth_unstable_by_key(at_cutoff, |b| b.0);
        }
        for (key, tracked) in boundary.into_iter().take(at_cutoff) {
            removed.push(key);
            if let Some(i) = tracked {
                gone_tracked.push(i);
            }
        }
        for key in &removed {
            self.index.remove(key);
        }
        (removed.len(), self.take_all(gone_tracked))
    }
}

fn idle_for(now: i64, last: i64) -> u64 {
    u64::try_from(now.saturating_sub(last)).unwrap_or(0)
}

/// Bytes hashbrown allocates for `capacity` entries: a power of two of buckets (at
/// least 8/7 of the capacity), each an entry and a control byte.
fn index_bytes(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity.saturating_mul(8) / 7).next_power_of_two()
    };
    buckets.saturating_mul(INDEX_ENTRY_BYTES)
}

/// The capacity after hashbrown grows a full table of `capacity` entries.
fn grown_capacity(capacity: usize) -> usize {
    if capacity < 3 {
        3
    } else if capacity < 7 {
        7
    } else {
        capacity.saturating_mul(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Address bytes: arbitrary, or an IPv4-mapped address (half the time).
    fn address() -> impl Strategy<Value = [u8; 16]> {
        (any::<[u8; 16]>(), any::<bool>()).prop_map(|(mut ip, mapped)| {
            if mapped {
                ip[..12].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
            }
            ip
        })
    }

    proptest! {
        /// Endpoints compare as the tuple of their address bytes (IPv4 as
        /// IPv4-mapped IPv6), port and family: the order eviction ties go by.
        #[test]
        fn endpoints_order_by_address_bytes_then_port_then_family(
            a in (address(), any::<u16>(), any::<bool>()),
            b in (address(), any::<u16>(), any::<bool>()),
            same_ip in any::<bool>(),
            same_port in any::<bool>(),
        ) {
            let b = (if same_ip { a.0 } else { b.0 }, if same_port { a.1 } else { b.1 }, b.2);
            let socket = |(ip, port, v6): ([u8; 16], u16, bool)| {
                let v6addr = std::net::Ipv6Addr::from(ip);
                match v6addr.to_ipv4_mapped() {
                    Some(v4) if !v6 => SocketAddr::from((v4, port)),
                    _ => SocketAddr::from((v6addr, port)),
                }
            };
            // What an address is stored as: the bytes, and whether it is IPv6.
            let stored = |t: ([u8; 16], u16, bool)| {
                let s = socket(t);
                let ip = match s {
                    SocketAddr::V4(a) => a.ip().to_ipv6_mapped().octets(),
                    SocketAddr::V6(a) => a.ip().octets(),
                };
                (ip, s.port(), s.is_ipv6())
            };
            let (ea, eb) = (Endpoint::of(socket(a)), Endpoint::of(socket(b)));
            prop_assert_eq!(ea.cmp(&eb), stored(a).cmp(&stored(b)));
            prop_assert_eq!(ea == eb, stored(a) == stored(b));
        }
    }

    fn addr(i: u32, port: u16) -> SocketAddr {
        SocketAddr::from((std::net::Ipv4Addr::from(0x0a00_0000 + i), port))
    }

    fn server() -> SocketAddr {
        addr(1, 5222)
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp(secs * 1_000_000_000)
    }

    fn big() -> Bounds {
        Bounds {
            max_entries: 1 << 20,
            max_bytes: 1 << 30,
        }
    }

    /// Inserts a tracked connection whose app value is its class.
    fn add(t: &mut Table<Class>, client: SocketAddr, secs: i64, class: Class) -> u32 {
        t.insert(client, server(), at(secs), class, class)
    }

    /// Key (38 bytes) and slot (8), aligned to 48, and a control byte: a passed
    /// connection costs 49 bytes per bucket.
    const _: () = assert!(INDEX_ENTRY_BYTES <= 49);

    #[test]
    fn passed_entries_keep_flags_and_reopen_after_close() {
        let mut t: Table<Class> = Table::new(big());
        let (c, s) = (addr(2, 40000), server());
        let i = t.insert(c, s, at(0), Class::Undecided, Class::Undecided);
        t.pass(i, false);
        assert_eq!(t.tracked(), 0);
        assert_eq!(t.len(), 1);
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        // Not closed yet: a SYN is just another packet.
        assert_eq!(t.find(c, s, at(1), syn), Found::Passed);
        let fin = Flags {
            fin: true,
            ack: true,
            ..Flags::default()
        };
        assert_eq!(t.find(c, s, at(2), fin), Found::Passed);
        assert_eq!(t.find(c, s, at(2), syn), Found::Passed);
        assert_eq!(t.find(s, c, at(3), fin), Found::Passed);
        assert_eq!(t.find(c, s, at(4), syn), Found::Reopened);
        assert!(t.is_empty());
    }

    #[test]
    fn eviction_order_is_class_then_idle_time_then_number() {
        let mut t: Table<Class> = Table::new(big());
        // Sixteen entries, so a pass evicts one.
        let plan = [
            (Class::Active, 0),
            (Class::Quiet, 5),
            (Class::Undecided, 9),
            (Class::Active, 1),
        ];
        let mut ids = Vec::new();
        for n in 0..16u32 {
            let (class, secs) = plan[(n % 4) as usize];
            let i = add(&mut t, addr(100 + n, 40000), secs, class);
            ids.push((class, secs, t.flow_mut(i).unwrap().id));
        }
        // Passed entries would go first; there are none, so: undecided ones, oldest
        // (all at 9 s), lowest number first.
        let (_, gone) = t.evict(Class::Active);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].id, FlowId(3));
        // Undecided, up to Undecided only: the next undecided goes.
        let (_, gone) = t.evict(Class::Undecided);
        assert_eq!(gone[0].id, FlowId(7));
        // Only Active and Quiet left beside two undecided; evict up to Quiet
        // repeatedly: undecided first, then quiet.
        let mut order = Vec::new();
        for _ in 0..6 {
            order.extend(t.evict(Class::Quiet).1.into_iter().map(|f| f.app));
        }
        assert_eq!(
            order,
            vec![
                Class::Undecided,
                Class::Undecided,
                Class::Quiet,
                Class::Quiet,
                Class::Quiet,
                Class::Quiet
            ]
        );
        // Nothing at or below Quiet is left: nothing goes.
        assert_eq!(t.evict(Class::Quiet).0, 0);
        // Active ones: the longest idle (0 s) before those seen at 1 s.
        let (_, gone) = t.evict(Class::Active);
        assert_eq!(gone[0].last_seen, at(0));
    }

    #[test]
    fn passed_entries_go_before_any_tracked_one() {
        let mut t: Table<Class> = Table::new(big());
        for n in 0..32u32 {
            let i = add(&mut t, addr(100 + n, 40000), i64::from(n), Class::Undecided);
            if n >= 16 {
                t.pass(i, false); // newer than every tracked one
            }
        }
        let before = t.tracked();
        let (_, gone) = t.evict(Class::Active);
        assert!(
            gone.is_empty(),
            "tracked evicted while passed entries remain"
        );
        assert_eq!(t.tracked(), before);
        assert_eq!(t.len(), 30);
    }

    #[test]
    fn expiry_uses_the_timeout_of_each_class() {
        let mut t: Table<Class> = Table::new(big());
        let a = add(&mut t, addr(2, 1), 0, Class::Active);
        let _q = add(&mut t, addr(3, 1), 0, Class::Quiet);
        let p = add(&mut t, addr(4, 1), 0, Class::Undecided);
        t.pass(p, false);
        let timeout = |c: Class| match c {
            Class::Active => Some(100),
            _ => Some(10),
        };
        let gone = t.expire(at(50), timeout);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].app, Class::Quiet);
        assert_eq!(t.len(), 1, "the passed entry expired too");
        assert!(t.flow_mut(a).is_some());
        assert_eq!(t.expire(at(101), timeout).len(), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn room_is_bounded_in_bytes() {
        let bounds = Bounds {
            max_entries: 1 << 20,
            max_bytes: 64 << 10,
        };
        let mut t: Table<Class> = Table::new(bounds);
        let mut n = 0u32;
        while t.has_room(0) {
            let i = add(&mut t, addr(n, 1), 0, Class::Undecided);
            t.pass(i, false);
            n += 1;
        }
        assert!(
            t.bytes() <= bounds.max_bytes,
            "{} > {}",
            t.bytes(),
            bounds.max_bytes
        );
        assert!(n > 500, "only {n} passed entries in 64 KiB");
        assert!(t.evict(Class::Active).0 > 0);
        assert!(t.has_room(0));
    }
}
