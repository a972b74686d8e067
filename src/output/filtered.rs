//! A sink that passes on only the events a display filter keeps (`-Y`).
//!
//! Input: events; output: the matching ones, to the inner sink, and the summary
//! unchanged (it counts the capture, not the selection). Each event is judged on its
//! NDJSON form ([`crate::filter`]).

use super::{ndjson, Sink, Summary};
use crate::filter::Filter;
use crate::model::{Event, EventKind};
use std::io;

/// What a filter applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every event (the listing, `--json`).
    Events,
    /// Stanzas only; every other event passes, so statistics still know each
    /// connection's stream kind, session and end (`stats -Y`).
    Stanzas,
}

pub struct Filtered<'a> {
    filter: &'a Filter,
    scope: Scope,
    inner: &'a mut dyn Sink,
    line: Vec<u8>,
    time: String,
}

impl<'a> Filtered<'a> {
    pub fn new(filter: &'a Filter, scope: Scope, inner: &'a mut dyn Sink) -> Self {
        Filtered {
            filter,
            scope,
            inner,
            line: Vec::new(),
            time: String::new(),
        }
    }

    fn keeps(&mut self, event: &Event) -> io::Result<bool> {
        let stanza = matches!(
            event.kind,
            EventKind::Message(_) | EventKind::Presence(_) | EventKind::Iq(_)
        );
        if self.scope == Scope::Stanzas && !stanza {
            return Ok(true);
        }
        self.line.clear();
        ndjson::write_event(event, &mut self.line, &mut self.time)?;
        let object: serde_json::Value = serde_json::from_slice(&self.line)?;
        Ok(self.filter.matches(&object))
    }
}

impl Sink for Filtered<'_> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if self.keeps(event)? {
            self.inner.event(event)?;
        }
        Ok(())
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.inner.summary(summary)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
