//! `xmppdump show`: each connection as a dialogue, `C:`/`S:` (or the two domains for
//! s2s, the component's name for components), every element pretty-printed, with a
//! heading for each phase and, with `--explain`, one sentence per element.
//!
//! Input: dialogues; output: text. Colour only when asked (`--color`; by default on
//! a terminal without `NO_COLOR`).

use super::pretty::{self, Show};
use super::{explain, Dialogue, Phase};
use crate::model::time::rfc3339;
use crate::model::{Direction, EventKind};
use crate::output::color::{paint, BOLD, CYAN, DIM, RED, YELLOW};
use crate::output::text::describe;
use std::fmt::Write as _;
use std::io::{self, Write};

/// How the transcript looks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub explain: bool,
    pub color: bool,
    pub show: Show,
}

/// Writes every dialogue, blank line between them.
pub fn write_all<W: Write>(out: &mut W, dialogues: &[Dialogue], style: Style) -> io::Result<()> {
    for (i, d) in dialogues.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        out.write_all(render(d, style).as_bytes())?;
    }
    Ok(())
}

/// One dialogue as text.
pub fn render(d: &Dialogue, style: Style) -> String {
    let mut s = String::new();
    let (client, server) = d.speakers();
    let (client_party, server_party) = d.parties();
    let kind = d.stream_kind().as_str();
    let _ = writeln!(
        s,
        "{}",
        paint(
            style.color,
            BOLD,
            &format!(
                "Flow #{}  {} -> {}  {kind}",
                d.flow.0, d.client_addr, d.server_addr
            )
        )
    );
    let _ = writeln!(s, "  {client} = {client_party}, {server} = {server_party}");
    let ended = match d.end {
        Some(reason) => format!("ended by {}", format!("{reason:?}").to_lowercase()),
        None => "still open".into(),
    };
    let _ = writeln!(s, "  started {}, {ended}", rfc3339(d.start));
    let width = client.chars().count().max(server.chars().count());
    let phases = d.phases();
    let transport = d.transport();
    let mut last_phase: Option<&Phase> = None;
    for (entry, phase) in d.entries.iter().zip(&phases) {
        if last_phase != Some(phase) && *phase != Phase::Anomaly {
            let _ = writeln!(
                s,
                "\n{}",
                paint(style.color, BOLD, &format!("── {} ──", phase.title()))
            );
            last_phase = Some(phase);
        }
        let seconds = (entry.time.0 - d.start.0) as f64 / 1e9;
        let time = format!("{seconds:+9.3}s");
        let speaker = match entry.dir {
            Direction::ToServer => &client,
            Direction::ToClient => &server,
        };
        let color = match entry.dir {
            Direction::ToServer => CYAN,
            Direction::ToClient => YELLOW,
        };
        let lead = format!("{time}  {speaker:>width$}: ");
        let pad = " ".repeat(lead.chars().count());
        let body: Vec<String> = match (&entry.xml, entry.kinds.first()) {
            (_, Some(EventKind::Anomaly { anomaly, detail })) => {
                let line = format!("!! {anomaly}: {detail}");
                let _ = writeln!(s, "{lead}{}", paint(style.color, RED, &line));
                continue;
            }
            (Some(xml), _) if !xml.is_empty() => pretty::lines(xml, style.show),
            (Some(_), _) => vec!["(element not kept: transcript size limit)".into()],
            (None, Some(kind)) => {
                let mut line = String::new();
                describe(kind, &mut line);
                vec![format!("[{line}]")]
            }
            (None, None) => continue,
        };
        for (i, line) in body.iter().enumerate() {
            let prefix = if i == 0 { &lead } else { &pad };
            let _ = writeln!(s, "{prefix}{}", paint(style.color, color, line));
        }
        if style.explain {
            for kind in &entry.kinds {
                if let Some(sentence) = explain::sentence(kind, entry.dir, transport) {
                    let _ = writeln!(
                        s,
                        "{pad}{}",
                        paint(style.color, DIM, &format!("↳ {sentence}"))
                    );
                }
            }
        }
    }
    if let (
        Some((c, srv)),
        Some(Phase::Tls {
            decrypted: false, ..
        }),
    ) = (
        d.bytes,
        phases.iter().rev().find(|p| matches!(p, Phase::Tls { .. })),
    ) {
        let _ = writeln!(
            s,
            "\n  ({} and {} bytes of TLS records not decrypted; give --keylog FILE to see inside)",
            c.tls, srv.tls
        );
    }
    if d.elided > 0 {
        let _ = writeln!(
            s,
            "\n  ({} more entries not kept: transcript size limit)",
            d.elided
        );
    }
    s
}
