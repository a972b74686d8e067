//! Live capture through libpcap (feature `live`): `xmppdump -i IFACE`.
//!
//! Input: an interface and capture options; output: the same events as for a file,
//! printed as packets arrive, an optional pcapng copy of every packet (`-w`), and the
//! kernel's counts at the end. Stops after `count` packets, after `duration`, or when
//! `stop` is set (Ctrl-C, SIGTERM).

use crate::capture::write::PcapngWriter;
use crate::capture::Packet;
use crate::model::{FrameNo, Timestamp};
use crate::pipeline::{Config, Pipeline};
use crate::sink::{Sink, Summary};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Kernel capture buffer.
const BUFFER_BYTES: i32 = 64 << 20;

/// How to capture.
#[derive(Debug, Clone)]
pub struct Options {
    pub interface: String,
    /// BPF filter; `None` means the XMPP ports of the config.
    pub filter: Option<String>,
    pub snaplen: i32,
    pub promiscuous: bool,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
}

/// What the kernel and the capture saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub captured: u64,
    pub received: u64,
    pub dropped: u64,
    pub interface_dropped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot capture on {interface}: {detail}")]
    Open { interface: String, detail: String },
    #[error("bad capture filter {filter:?}: {detail}")]
    Filter { filter: String, detail: String },
    #[error("capture failed: {0}")]
    Capture(String),
    #[error("cannot write: {0}")]
    Io(#[from] io::Error),
}

/// The default filter: TCP on the XMPP ports of the config.
pub fn default_filter(config: &Config) -> String {
    let ports: Vec<String> = config.ports.iter().map(|p| format!("port {p}")).collect();
    format!("tcp and ({})", ports.join(" or "))
}

/// Interfaces libpcap can capture on: (name, description).
pub fn interfaces() -> Result<Vec<(String, String)>, LiveError> {
    let devices = pcap::Device::list().map_err(|e| LiveError::Capture(e.to_string()))?;
    Ok(devices
        .into_iter()
        .map(|d| (d.name, d.desc.unwrap_or_default()))
        .collect())
}

/// Captures and analyses until a stop condition; events go to `sink` as they happen.
pub fn run(
    options: &Options,
    config: Config,
    sink: &mut dyn Sink,
    mut copy: Option<&mut PcapngWriter<Box<dyn Write + Send>>>,
    stop: &AtomicBool,
) -> Result<(Summary, Counts), LiveError> {
    let open_error = |e: pcap::Error| LiveError::Open {
        interface: options.interface.clone(),
        detail: e.to_string(),
    };
    let inactive = pcap::Capture::from_device(options.interface.as_str()).map_err(open_error)?;
    let mut capture = inactive
        .promisc(options.promiscuous)
        .snaplen(options.snaplen)
        .immediate_mode(true)
        // A large kernel buffer rides out bursts while events are printed.
        .buffer_size(BUFFER_BYTES)
        .open()
        .map_err(open_error)?
        // Non-blocking: on Linux a blocking read can wait forever when no packet comes,
        // and stop conditions (Ctrl-C, --duration) must be checked.
        .setnonblock()
        .map_err(open_error)?;
    let filter = options
        .filter
        .clone()
        .unwrap_or_else(|| default_filter(&config));
    capture
        .filter(&filter, true)
        .map_err(|e| LiveError::Filter {
            filter: filter.clone(),
            detail: e.to_string(),
        })?;
    let linktype = u32::try_from(capture.get_datalink().0).unwrap_or(u32::MAX);
    let started = Instant::now();
    let mut pipeline = Pipeline::new(config);
    let mut counts = Counts::default();
    while !stop.load(Ordering::Relaxed)
        && options.count.is_none_or(|n| counts.captured < n)
        && options.duration.is_none_or(|d| started.elapsed() < d)
    {
        let packet = match capture.next_packet() {
            Ok(p) => p,
            Err(pcap::Error::TimeoutExpired) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Err(e) => return Err(LiveError::Capture(e.to_string())),
        };
        counts.captured += 1;
        let ts = packet.header.ts;
        let time =
            Timestamp::from_parts(ts.tv_sec, u64::try_from(ts.tv_usec).unwrap_or(0), 1_000_000);
        let ours = Packet {
            frame: FrameNo(counts.captured),
            time,
            linktype,
            original_len: packet.header.len,
            data: packet.data,
        };
        if let Some(w) = copy.as_deref_mut() {
            w.packet(linktype, time, packet.data, packet.header.len, None)?;
        }
        pipeline.packet(&ours);
        pipeline.drain_into(sink)?;
        sink.flush()?;
    }
    if let Ok(stat) = capture.stats() {
        counts.received = u64::from(stat.received);
        counts.dropped = u64::from(stat.dropped);
        counts.interface_dropped = u64::from(stat.if_dropped);
    }
    if let Some(w) = copy {
        w.flush()?;
    }
    let summary = pipeline.finish_into(sink)?;
    Ok((summary, counts))
}
