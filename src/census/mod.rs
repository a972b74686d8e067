//! The traffic census: which software speaks in a capture (XEP-0115 caps, XEP-0092
//! version answers, XEP-0030 identities), which extensions it uses (every namespace
//! mapped to its XEP), and what base64 costs.
//!
//! Data flows one way: [`extract`] reads a parsed stanza into the event's
//! [`crate::model::Detail`] (called by the classifier); the statistics collector
//! counts events with the tables here ([`namespaces`], [`software`]).

pub mod binary;
pub mod caps;
pub mod extract;
pub mod namespaces;
pub mod software;
pub mod zlib;
