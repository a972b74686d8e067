//! A deterministic generator of big XMPP captures, for benchmarks and tests.
//!
//! Input: [`GenConfig`] (seed, size, flows, format); output: a capture written as it is
//! generated (memory does not grow with its size) and a [`Truth`] of what was sent, so
//! tests can compare it with what the analyzer reports. Hundreds of concurrent c2s
//! and s2s flows, mostly presence plus chat, groupchat and iq request/response pairs,
//! stanzas cut across segments and several stanzas per segment, pure ACKs, some
//! retransmissions and some out-of-order segments.

use super::background::Background;
use super::{client_header, Conversation, Flags, Link, Packet};
use crate::capture::write::{PcapWriter, PcapngWriter};
use crate::model::Timestamp;
use serde::Serialize;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    pub seed: u64,
    /// Stop once this many bytes of capture are written (then close every flow).
    pub target_bytes: u64,
    pub c2s_flows: usize,
    pub s2s_flows: usize,
    pub pcapng: bool,
    /// Concurrent not-XMPP connections opened among the XMPP ones
    /// ([`super::background`]); they stay open.
    pub background_flows: usize,
    /// Bytes of background data (server responses) spread over the capture, beyond
    /// the connections' openings; `xmpp_share` wins when both are set.
    pub background_bytes: u64,
    /// XMPP's share of the capture's bytes in (0, 1]: background data fills the rest.
    pub xmpp_share: Option<f64>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            target_bytes: 10 << 20,
            c2s_flows: 200,
            s2s_flows: 40,
            pcapng: false,
            background_flows: 0,
            background_bytes: 0,
            xmpp_share: None,
        }
    }
}

/// What the generator sent: the analyzer must report exactly this.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Truth {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub messages: u64,
    pub presences: u64,
    pub iqs: u64,
    pub stream_headers: u64,
    /// s2s presence broadcasts: copies of one presence from one sender to several
    /// contacts on the receiving domain (RFC 6121 §4.2.2), all copies counted.
    pub broadcast_copies: u64,
    /// Of those, the copies beyond the first of each broadcast: what `stats` must
    /// report as `per_domain` redundancy (docs/statistics.md).
    pub per_domain_copies: u64,
    /// Their bytes.
    pub per_domain_bytes: u64,
    pub retransmissions: u64,
    pub reordered: u64,
    /// Background (not-XMPP) connections, their packets and capture bytes.
    pub background_flows: u64,
    pub background_packets: u64,
    pub background_bytes: u64,
}

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

const WORDS: &[&str] = &[
    "hello",
    "world",
    "meeting",
    "at",
    "noon",
    "see",
    "you",
    "soon",
    "lunch",
    "ok",
    "thanks",
    "balcony",
    "wherefore",
    "art",
    "thou",
];
const SHOWS: &[&str] = &["away", "chat", "dnd", "xa"];

/// One generated connection.
struct GenFlow {
    conv: Conversation,
    s2s: bool,
    user: String,
    domain: String,
    iq_id: u64,
    /// Numbers the s2s presences, so each has a meaning of its own.
    broadcasts: u64,
    /// A segment held back to be sent after the next one (out of order).
    held: Option<Packet>,
    /// A segment to send again later (retransmission).
    repeat: Option<Packet>,
    /// iq results owed by the client and by the server, sent on their next turn.
    owed_by_client: String,
    owed_by_server: String,
}

enum Sink<W: Write> {
    Pcap(PcapWriter<W>),
    Pcapng(PcapngWriter<W>),
}

struct Writer<W: Write> {
    sink: Sink<W>,
    truth: Truth,
}

/// Where the background traffic stands.
struct Backdrop {
    flows: Background,
    /// Capture bytes of background data sent after the openings.
    data_bytes: u64,
}

impl<W: Write> Writer<W> {
    fn put(&mut self, p: &Packet) -> io::Result<()> {
        let len = u32::try_from(p.data.len()).unwrap_or(u32::MAX);
        match &mut self.sink {
            Sink::Pcap(w) => w.packet(p.time, &p.data, len)?,
            Sink::Pcapng(w) => w.packet(p.linktype, p.time, &p.data, len, None)?,
        }
        self.truth.packets += 1;
        self.truth.bytes += p.data.len() as u64 + 16;
        Ok(())
    }

    fn put_background(&mut self, packets: &[Packet]) -> io::Result<u64> {
        let mut bytes = 0;
        for p in packets {
            self.put(p)?;
            self.truth.background_packets += 1;
            bytes += p.data.len() as u64 + 16;
        }
        self.truth.background_bytes += bytes;
        Ok(bytes)
    }
}

/// Generates a capture into `out` and returns what it contains.
pub fn generate<W: Write>(config: &GenConfig, out: W) -> io::Result<Truth> {
    let mut rng = Rng(config.seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let sink = if config.pcapng {
        Sink::Pcapng(PcapngWriter::new(out)?)
    } else {
        Sink::Pcap(PcapWriter::new(out, 1, false, false)?)
    };
    let mut w = Writer {
        sink,
        truth: Truth::default(),
    };
    let start = 1_700_000_000_000_000_000i64;
    let mut flows: Vec<GenFlow> = Vec::new();
    for i in 0..config.c2s_flows + config.s2s_flows {
        let s2s = i >= config.c2s_flows;
        let n = u32::try_from(i).unwrap_or(0);
        let client = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + 2 + n)),
            30000 + (i % 30000) as u16,
        );
        let server = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1)),
            if s2s { 5269 } else { 5222 },
        );
        let mut conv = Conversation::new(
            client,
            server,
            Link::Ethernet,
            Timestamp(start + i as i64 * 1000),
        );
        conv.step = 0;
        conv.mss = 1448;
        let isn = rng.next() as u32;
        let conv = conv.with_isns(isn, isn ^ 0x5555_5555);
        flows.push(GenFlow {
            conv,
            s2s,
            user: format!("user{i}"),
            domain: if s2s {
                format!("remote{i}.example")
            } else {
                "example.org".into()
            },
            iq_id: 0,
            broadcasts: 0,
            held: None,
            repeat: None,
            owed_by_client: String::new(),
            owed_by_server: String::new(),
        });
    }
    let mut now = start;
    let mut backdrop = Backdrop {
        flows: Background::new(config.background_flows),
        data_bytes: 0,
    };
    w.truth.background_flows = config.background_flows as u64;
    let per_flow = config.background_flows / flows.len().max(1);
    let mut opened = 0u32;
    for f in flows.iter_mut() {
        // Background connections open among the XMPP ones: a share before each.
        let until = opened as usize + per_flow;
        while (opened as usize) < until {
            now += 1_000;
            let packets = backdrop.flows.open(opened, now);
            w.put_background(&packets)?;
            opened += 1;
        }
        now += 1_000;
        f.conv.now = now;
        for p in f.conv.handshake() {
            w.put(&p)?;
        }
        let opening = opening(f);
        w.truth.stream_headers += 2 + u64::from(!f.s2s) * 2;
        send(&mut w, &mut rng, f, true, opening.0.as_bytes())?;
        send(&mut w, &mut rng, f, false, opening.1.as_bytes())?;
        if !f.s2s {
            send(&mut w, &mut rng, f, true, opening.2.as_bytes())?;
            send(&mut w, &mut rng, f, false, opening.3.as_bytes())?;
            w.truth.iqs += 2; // bind request and result
        }
        now += 10_000;
    }
    while (opened as usize) < backdrop.flows.len() {
        now += 1_000;
        let packets = backdrop.flows.open(opened, now);
        w.put_background(&packets)?;
        opened += 1;
    }
    w.truth.flows = flows.len() as u64;
    while w.truth.bytes < config.target_bytes && !flows.is_empty() {
        fill_background(&mut w, &mut rng, &mut backdrop, config, &mut now)?;
        let i = usize::try_from(rng.below(flows.len() as u64)).unwrap_or(0);
        now += 1000 + rng.below(20_000) as i64;
        let Some(f) = flows.get_mut(i) else { break };
        f.conv.now = now;
        let (from_client, batch) = stanzas(&mut rng, f, &mut w.truth);
        send(&mut w, &mut rng, f, from_client, batch.as_bytes())?;
        if rng.chance(30) {
            // A pure ACK from the other side.
            let seq = f.conv.next_seq(!from_client);
            let p = f.conv.segment(!from_client, seq, Flags::ACK, b"");
            w.put(&p)?;
        }
    }
    for f in flows.iter_mut() {
        now += 1000;
        f.conv.now = now;
        flush_held(&mut w, f)?;
        let owed_client = std::mem::take(&mut f.owed_by_client);
        let owed_server = std::mem::take(&mut f.owed_by_server);
        send(&mut w, &mut rng, f, true, owed_client.as_bytes())?;
        send(&mut w, &mut rng, f, false, owed_server.as_bytes())?;
        send(&mut w, &mut rng, f, true, b"</stream:stream>")?;
        send(&mut w, &mut rng, f, false, b"</stream:stream>")?;
        flush_held(&mut w, f)?;
        for p in f.conv.close() {
            w.put(&p)?;
        }
    }
    match w.sink {
        Sink::Pcap(p) => p.into_inner().flush()?,
        Sink::Pcapng(mut p) => p.flush()?,
    }
    Ok(w.truth)
}

/// Background data until its share is reached: `xmpp_share` of all bytes so far is
/// XMPP, or `background_bytes` in proportion to the capture written.
fn fill_background<W: Write>(
    w: &mut Writer<W>,
    rng: &mut Rng,
    backdrop: &mut Backdrop,
    config: &GenConfig,
    now: &mut i64,
) -> io::Result<()> {
    if backdrop.flows.is_empty() {
        return Ok(());
    }
    let want = |w: &Writer<W>, backdrop: &Backdrop| -> bool {
        match config.xmpp_share {
            Some(share) if share > 0.0 && share < 1.0 => {
                let xmpp = w.truth.bytes - w.truth.background_bytes;
                (w.truth.background_bytes as f64) < xmpp as f64 * (1.0 - share) / share
            }
            Some(_) => false,
            None => {
                let progress = w.truth.bytes as f64 / config.target_bytes.max(1) as f64;
                (backdrop.data_bytes as f64) < config.background_bytes as f64 * progress.min(1.0)
            }
        }
    };
    while want(w, backdrop) {
        let n = u32::try_from(rng.below(backdrop.flows.len() as u64)).unwrap_or(0);
        *now += 100;
        let len = 64 + rng.below(1400) as usize;
        let packets = backdrop.flows.data(n, *now, len);
        if packets.is_empty() {
            break;
        }
        backdrop.data_bytes += w.put_background(&packets)?;
    }
    Ok(())
}

fn opening(f: &GenFlow) -> (String, String, String, String) {
    if f.s2s {
        let header = |from: &str, to: &str, id: &str| {
            format!("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='{from}' to='{to}'{id} version='1.0'>")
        };
        let c = format!("{}<db:result from='{}' to='example.org'>b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>", header(&f.domain, "example.org", ""), f.domain);
        let s = format!(
            "{}<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features><db:result from='example.org' to='{}' type='valid'/>",
            header("example.org", &f.domain, " id='s2s1'"),
            f.domain
        );
        return (c, s, String::new(), String::new());
    }
    let c = format!(
        "{}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM</auth>",
        client_header("example.org")
    );
    let s = format!(
        "{}<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9</success>",
        super::server_header("example.org", "c2s1", "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>")
    );
    let c2 = format!("{}<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>gen</resource></bind></iq>", client_header("example.org"));
    let s2 = format!(
        "{}<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>{}@example.org/gen</jid></bind></iq>",
        super::server_header("example.org", "c2s2", "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"),
        f.user
    );
    (c, s, c2, s2)
}

/// One to three stanzas from one side of a flow.
fn stanzas(rng: &mut Rng, f: &mut GenFlow, truth: &mut Truth) -> (bool, String) {
    let from_client = rng.chance(450);
    let owed = if from_client {
        &mut f.owed_by_client
    } else {
        &mut f.owed_by_server
    };
    let mut out = std::mem::take(owed);
    for _ in 0..=rng.below(3) {
        let roll = rng.below(100);
        let peer = format!(
            "user{}@{}",
            rng.below(5000),
            if f.s2s { "example.org" } else { "example.net" }
        );
        let me = format!("{}@{}", f.user, f.domain);
        let (from, to) = if from_client {
            (me.clone(), peer.clone())
        } else {
            (peer.clone(), me.clone())
        };
        if f.s2s && roll < 8 {
            // A broadcast: one presence to 2 to 8 contacts on the receiving domain, in
            // one batch, so all copies fall in the one-second fan-out window.
            let copies = 2 + rng.below(7);
            truth.presences += copies;
            truth.broadcast_copies += copies;
            truth.per_domain_copies += copies - 1;
            f.broadcasts += 1;
            let (sender, domain) = if from_client {
                (me.clone(), "example.org")
            } else {
                (peer.clone(), f.domain.as_str())
            };
            for c in 0..copies {
                let copy = format!(
                    "<presence from='{sender}/res' to='contact{c}@{domain}'><show>dnd</show><status>broadcast {}</status></presence>",
                    f.broadcasts
                );
                if c > 0 {
                    truth.per_domain_bytes += copy.len() as u64;
                }
                out.push_str(&copy);
            }
        } else if roll < 60 {
            truth.presences += 1;
            let show = SHOWS.get(rng.below(4) as usize).copied().unwrap_or("away");
            // On s2s every single presence has a meaning of its own (a numbered status), so
            // the only per-domain copies are the broadcasts'.
            let status = if f.s2s {
                f.broadcasts += 1;
                format!("<status>single {}</status>", f.broadcasts)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "<presence from='{from}/res' to='{to}'><show>{show}</show>{status}<priority>{}</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.org/gen' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
                rng.below(50)
            ));
        } else if roll < 85 {
            truth.messages += 1;
            let words: Vec<&str> = (0..1 + rng.below(20))
                .map(|_| {
                    WORDS
                        .get(rng.below(WORDS.len() as u64) as usize)
                        .copied()
                        .unwrap_or("x")
                })
                .collect();
            let kind = if rng.chance(300) { "groupchat" } else { "chat" };
            out.push_str(&format!(
                "<message from='{from}/res' to='{to}' type='{kind}' id='m{}'><body>{}</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
                rng.next() % 100_000,
                words.join(" ")
            ));
        } else {
            // A request now; its result from the other side on that side's next turn.
            truth.iqs += 2;
            f.iq_id += 1;
            let id = f.iq_id;
            out.push_str(&format!(
                "<iq type='get' id='q{id}' to='{to}'><query xmlns='jabber:iq:version'/></iq>"
            ));
            let result = format!(
                "<iq type='result' id='q{id}' from='{to}'><query xmlns='jabber:iq:version'><name>gen</name><version>1.0</version></query></iq>"
            );
            if from_client {
                f.owed_by_server.push_str(&result);
            } else {
                f.owed_by_client.push_str(&result);
            }
        }
    }
    (from_client, out)
}

/// Sends bytes as segments cut at random points, with occasional reordering and
/// retransmission.
fn send<W: Write>(
    w: &mut Writer<W>,
    rng: &mut Rng,
    f: &mut GenFlow,
    from_client: bool,
    bytes: &[u8],
) -> io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let max = rest.len().min(f.conv.mss);
        let take = if rng.chance(300) {
            1 + rng.below(max as u64) as usize
        } else {
            max
        };
        let (chunk, tail) = rest.split_at(take.min(rest.len()));
        rest = tail;
        let p = f.conv.send_one(from_client, chunk);
        if f.held.is_none() && rng.chance(5) && !rest.is_empty() {
            f.held = Some(p); // goes out after the next segment
            w.truth.reordered += 1;
            continue;
        }
        w.put(&p)?;
        if let Some(held) = f.held.take() {
            w.put(&held)?;
        }
        if let Some(old) = f.repeat.take() {
            w.put(&old)?;
            w.truth.retransmissions += 1;
        } else if rng.chance(10) {
            f.repeat = Some(p);
        }
    }
    flush_held(w, f)
}

fn flush_held<W: Write>(w: &mut Writer<W>, f: &mut GenFlow) -> io::Result<()> {
    if let Some(held) = f.held.take() {
        w.put(&held)?;
    }
    Ok(())
}
