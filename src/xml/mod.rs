//! XML for XMPP streams: an incremental framer that finds top-level boundaries, and an
//! element parser that turns one complete top-level element into a small tree that
//! borrows from the element's bytes (and, given bytes that hold more, finds where the
//! element ends, so a complete element needs one pass).
//!
//! Input: bytes of one direction; output: frames and parsed elements. Nothing here
//! knows XMPP semantics beyond namespaces; `session` gives elements their meaning.

pub mod blocks;
pub mod class;
pub mod element;
pub mod framer;
pub mod ns;

pub use element::{
    is_stream_name, parse_element, parse_element_prefix, parse_element_with, parse_start_tag, Attr,
    Element, ElementError, NsScope, ScanMode, Scratch, Tree,
};
pub use framer::{Frame, FrameKind, Framer, Status};
