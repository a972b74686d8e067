//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Cursor;
use xmppdump::capture::Reader;
use xmppdump::model::{Event, EventKind};
use xmppdump::output::{Sink, Summary};
use xmppdump::pipeline::{Config, Pipeline};
use xmppdump::synth::{self, Packet};

#[derive(Default)]
pub struct Collect {
    pub events: Vec<Event>,
    pub summary: Option<Summary>,
}

impl Sink for Collect {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.events.push(event.clone());
        Ok(())
    }
    fn summary(&mut self, summary: &Summary) -> std::io::Result<()> {
        self.summary = Some(summary.clone());
        Ok(())
    }
}

/// Runs the pipeline over capture bytes.
pub fn run_bytes(bytes: Vec<u8>, config: Config) -> (Vec<Event>, Summary) {
    let mut reader = Reader::new(Cursor::new(bytes)).unwrap();
    let mut sink = Collect::default();
    Pipeline::new(config).run(&mut reader, &mut sink).unwrap();
    (sink.events, sink.summary.unwrap())
}

/// Runs the pipeline over synthetic packets written as pcapng.
pub fn run_packets(packets: &[Packet]) -> (Vec<Event>, Summary) {
    run_bytes(
        synth::write_pcapng(Vec::new(), packets).unwrap(),
        Config::default(),
    )
}

pub fn count(events: &[Event], pred: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.kind)).count()
}

/// Event kinds only (what happened, not where), for comparing runs.
pub fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind.clone()).collect()
}
