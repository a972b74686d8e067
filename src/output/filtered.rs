//! Sinks that apply a display filter (`-Y`): [`Filtered`] passes on only the events
//! the filter keeps; [`MatchingFlows`] passes on everything and notes the connections
//! where the filter keeps at least one event.
//!
//! Input: events; output: events to the inner sink, and the summary unchanged (it
//! counts the capture, not the selection). Each event is judged on its NDJSON form
//! ([`crate::filter`]).

use super::ndjson;
use crate::filter::Filter;
use crate::model::{Event, EventKind};
use crate::sink::{Sink, Summary};
use std::collections::BTreeSet;
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

/// Judges events against a filter, on their NDJSON form.
struct Judge<'a> {
    filter: &'a Filter,
    scope: Scope,
    line: Vec<u8>,
    time: String,
}

impl<'a> Judge<'a> {
    fn new(filter: &'a Filter, scope: Scope) -> Self {
        Judge {
            filter,
            scope,
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
        if !self.filter.may_keep(event.kind.name()) {
            return Ok(false);
        }
        self.line.clear();
        ndjson::write_event(event, &mut self.line, &mut self.time)?;
        let object: serde_json::Value = serde_json::from_slice(&self.line)?;
        Ok(self.filter.matches(&object))
    }
}

/// Passes on only the events the filter keeps.
pub struct Filtered<'a> {
    judge: Judge<'a>,
    inner: &'a mut dyn Sink,
}

impl<'a> Filtered<'a> {
    pub fn new(filter: &'a Filter, scope: Scope, inner: &'a mut dyn Sink) -> Self {
        Filtered {
            judge: Judge::new(filter, scope),
            inner,
        }
    }
}

impl Sink for Filtered<'_> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if self.judge.keeps(event)? {
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

/// Passes on every event and notes the connections where the filter keeps at least
/// one: `show`, `diagram` and `report` select whole connections with `-Y`, as
/// Wireshark's "follow stream" does.
pub struct MatchingFlows<'a> {
    judge: Judge<'a>,
    inner: &'a mut dyn Sink,
    /// Flow numbers with at least one kept event.
    pub flows: BTreeSet<u32>,
}

impl<'a> MatchingFlows<'a> {
    pub fn new(filter: &'a Filter, inner: &'a mut dyn Sink) -> Self {
        MatchingFlows {
            judge: Judge::new(filter, Scope::Events),
            inner,
            flows: BTreeSet::new(),
        }
    }
}

impl Sink for MatchingFlows<'_> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if !self.flows.contains(&event.flow.0) && self.judge.keeps(event)? {
            self.flows.insert(event.flow.0);
        }
        self.inner.event(event)
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.inner.summary(summary)
    }
}
