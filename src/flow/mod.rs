//! TCP connections: the flow table and per-direction reassembly.
//!
//! Input: decoded segments; output: for each segment, the flow it belongs to and which
//! of the flow's two endpoints sent it. The table knows nothing of XMPP; the per-flow
//! application state `T` is owned here so one lookup finds everything.

pub mod reassembly;
pub mod table;

use crate::model::{FlowId, RoleSource, Timestamp};
use std::net::SocketAddr;

pub use reassembly::{Arrival, Delivery, Reassembler};
pub use table::{Bounds, Class, Flags, Found, Table};

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
    /// Bytes the application state owns besides what it holds for data to come
    /// (parsers, decoders), as the pipeline estimates them for the flow table.
    pub resident: usize,
    /// The flow's place in the table's eviction order, as last told
    /// ([`Table::set_class`]).
    pub class: Class,
}

impl<T> Flow<T> {
    pub fn new(id: FlowId, endpoints: [SocketAddr; 2], time: Timestamp, app: T) -> Flow<T> {
        Flow {
            id,
            endpoints,
            client: None,
            sent: [Reassembler::default(), Reassembler::default()],
            fin: [false, false],
            rst: false,
            last_seen: time,
            app,
            held: 0,
            resident: 0,
            class: Class::Undecided,
        }
    }

    /// Bytes the flow takes in the table's estimate: its box and what its
    /// application state owns.
    pub fn cost(&self) -> usize {
        std::mem::size_of::<Flow<T>>() + self.resident
    }

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
