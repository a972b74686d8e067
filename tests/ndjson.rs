//! The hand-written NDJSON lines of stanza events are the lines serde's serialization
//! of the event (derived, flattened, with the stanza's `Serialize`) gives, on every
//! event of every capture and on arbitrary stanzas. The key order itself is pinned by
//! the NDJSON snapshots of `tests/captures.rs`.

mod common;

use proptest::prelude::*;
use xmppdump::model::{
    Direction, Event, EventKind, Field, FlowId, FrameNo, Stanza, StanzaBox, StreamOffset, Timestamp,
};
use xmppdump::output::ndjson::write_event;
use xmppdump::pipeline::Config;
use xmppdump::synth::gen::{generate, GenConfig};

fn by_serde(event: &Event) -> String {
    serde_json::to_string(event).unwrap()
}

fn by_hand(event: &Event) -> String {
    let mut out = Vec::new();
    write_event(event, &mut out, &mut String::new()).unwrap();
    String::from_utf8(out).unwrap()
}

fn stanzas(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Message(_) | EventKind::Presence(_) | EventKind::Iq(_)
            )
        })
        .count()
}

#[test]
fn every_event_of_every_capture_is_written_as_serde_writes_it() {
    let mut checked = 0;
    for name in common::CAPTURES {
        let bytes = std::fs::read(common::capture_path(name)).unwrap();
        let (events, _) = common::run_bytes(bytes, common::config_for(name));
        for event in &events {
            assert_eq!(by_hand(event), by_serde(event), "{name}");
        }
        checked += stanzas(&events);
    }
    let mut capture = Vec::new();
    let config = GenConfig {
        target_bytes: 2 << 20,
        ..GenConfig::default()
    };
    generate(&config, &mut capture).unwrap();
    let (events, _) = common::run_bytes(capture, Config::default());
    for event in &events {
        assert_eq!(by_hand(event), by_serde(event));
    }
    checked += stanzas(&events);
    assert!(checked > 5_000, "{checked} stanzas compared");
}

/// Strings with the characters JSON escapes: quotes, backslashes, control characters,
/// and non-ASCII text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z@./]{0,12}",
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                (0u8..0x20).prop_map(char::from),
                Just('\u{7f}'),
                Just('é'),
                Just('😀'),
                Just('a')
            ],
            0..12
        )
        .prop_map(|c| c.into_iter().collect()),
    ]
}

fn stanza() -> impl Strategy<Value = Stanza> {
    let strings = proptest::collection::vec(proptest::option::of(text()), 14);
    let numbers = (
        proptest::option::of(any::<usize>()),
        proptest::option::of(any::<i16>()),
        proptest::option::of(any::<u64>()),
    );
    let extensions = proptest::collection::vec(text(), 0..4);
    (strings, numbers, extensions).prop_map(|(s, (body_len, priority, digest), extensions)| {
        let mut stanza = Stanza::new();
        let fields = [
            Field::Type,
            Field::Id,
            Field::From,
            Field::To,
            Field::Payload,
            Field::PayloadName,
            Field::Subject,
            Field::Thread,
            Field::Show,
            Field::Status,
            Field::BindResource,
            Field::BoundJid,
            Field::Error,
        ];
        for (field, value) in fields.into_iter().zip(s) {
            stanza.set_opt(field, value.as_deref());
        }
        for ns in &extensions {
            stanza.add_extension(ns);
        }
        stanza.body_len = body_len;
        stanza.priority = priority;
        stanza.digest = digest;
        stanza
    })
}

proptest! {
    #[test]
    fn arbitrary_stanzas_are_written_as_serde_writes_them(
        stanza in stanza(),
        wrapper in proptest::option::of(text()),
        kind in 0u8..3,
        time in any::<i64>(),
        flow in any::<u32>(),
        to_server in any::<bool>(),
        frame in any::<u64>(),
        offset in any::<u64>(),
        size in any::<u64>(),
        decrypted in any::<bool>(),
    ) {
        let mut stanza = StanzaBox::from(stanza);
        stanza.set_opt(Field::Wrapper, wrapper.as_deref());
        let kind = match kind {
            0 => EventKind::Message(stanza),
            1 => EventKind::Presence(stanza),
            _ => EventKind::Iq(stanza),
        };
        let event = Event {
            time: Timestamp(time),
            flow: FlowId(flow),
            direction: if to_server { Direction::ToServer } else { Direction::ToClient },
            frame: FrameNo(frame),
            offset: StreamOffset(offset),
            size,
            decrypted,
            kind,
        };
        prop_assert_eq!(by_hand(&event), by_serde(&event));
    }
}
