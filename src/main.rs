//! The `xmppdump` binary: parse flags, run the library, map failures to exit codes
//! (0 ok, 1 checks failed, 2 error). A closed stdout (`| head`) ends quietly.

mod cli;

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use xmppdump::analysis::{tables, Collector, Stats};
use xmppdump::capture::Reader;
use xmppdump::check;
use xmppdump::filter::Filter;
use xmppdump::output::check as report_format;
use xmppdump::output::filtered::{Filtered, MatchingFlows, Scope};
use xmppdump::output::ndjson::Ndjson;
use xmppdump::output::parquet::events::EventColumns;
use xmppdump::output::stats as render;
use xmppdump::output::text::Text;
use xmppdump::pipeline::{Config, RunError};
use xmppdump::sink::{Sink, Summary, SummaryOnly, Tee};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match &cli.command {
        Some(cli::Command::Stats(args)) => stats(args).map(|()| true),
        Some(cli::Command::Check(args)) => check(args),
        Some(cli::Command::Gen(args)) => gen(args).map(|()| true),
        Some(cli::Command::Show(args)) => show(args).map(|()| true),
        Some(cli::Command::Diagram(args)) => diagram(args).map(|()| true),
        Some(cli::Command::Report(args)) => report(args).map(|()| true),
        Some(cli::Command::Completions(args)) => completions(args.shell).map(|()| true),
        Some(cli::Command::Man) => man().map(|()| true),
        None => dump(&cli.dump).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xmppdump: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Opens a capture (`-` is standard input), with a progress bar on a terminal.
fn open(path: &Path, progress: bool) -> anyhow::Result<Reader> {
    let input: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| anyhow!("cannot open {}: {e}", path.display()))?;
        let total = file.metadata().map(|m| m.len()).unwrap_or(0);
        if progress && io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            Box::new(bar.wrap_read(file))
        } else {
            Box::new(file)
        }
    };
    Reader::new(input).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The captures one run reads as one: a file, or several merged by time (as
/// mergecap merges them).
#[derive(Clone, Copy)]
struct Input<'a>(&'a [PathBuf]);

impl Input<'_> {
    fn open(self, progress: bool) -> anyhow::Result<Reader> {
        match self.0 {
            [one] => open(one, progress),
            several => {
                let mut readers = Vec::with_capacity(several.len());
                for path in several {
                    readers.push((path.display().to_string(), open(path, false)?));
                }
                Ok(Reader::merge(readers))
            }
        }
    }

    /// Whether it cannot be read twice.
    fn is_stdin(self) -> bool {
        self.0.iter().any(|p| p.as_os_str() == "-")
    }

    /// How it is named in statistics and reports: the file names, joined by `+`.
    fn label(self) -> String {
        let names: Vec<String> = self.0.iter().map(|p| label(p)).collect();
        names.join("+")
    }

    /// A capture error, named by its file (a merged input names its own).
    fn error(self, e: &xmppdump::capture::CaptureError) -> anyhow::Error {
        match self.0 {
            [one] => anyhow!("{}: {e}", one.display()),
            _ => anyhow!("{e}"),
        }
    }

    /// Opens it for a job that reads it more than once.
    fn opener(self) -> impl FnMut() -> Result<Reader, xmppdump::capture::CaptureError> + 'static {
        let paths = self.0.to_vec();
        move || {
            Input(&paths).open(false).map_err(|e| {
                xmppdump::capture::CaptureError::Io(io::Error::other(format!("{e:#}")))
            })
        }
    }
}

fn run(
    input: Input,
    config: Config,
    sink: &mut dyn Sink,
    progress: bool,
) -> anyhow::Result<Summary> {
    let mut reader = input.open(progress)?;
    let jobs = config.jobs;
    ran(
        &input,
        xmppdump::pipeline::parallel::run(config, &mut reader, sink, jobs),
    )
}

/// A run's summary, or its error said of `input`.
fn ran(input: &Input, result: Result<Summary, RunError>) -> anyhow::Result<Summary> {
    match result {
        Ok(summary) => Ok(summary),
        Err(RunError::Output(e)) => Err(e.into()),
        Err(RunError::Capture(e)) => Err(input.error(&e)),
    }
}

/// [`run`] for statistics alone: with `-j`, each thread collects its own connections'
/// statistics and `collector` merges them (`parallel::run_stats`).
fn run_stats(
    input: Input,
    config: Config,
    collector: &mut Collector,
    progress: bool,
) -> anyhow::Result<Summary> {
    let mut reader = input.open(progress)?;
    let jobs = config.jobs;
    let result = xmppdump::pipeline::parallel::run_stats(config, &mut reader, collector, jobs);
    ran(&input, result)
}

/// Writes the completion script for `shell` (clap_complete) to standard output.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = <cli::Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut command, "xmppdump", &mut io::stdout().lock());
    Ok(())
}

/// Writes the manual page (clap_mangen, roff) to standard output.
fn man() -> anyhow::Result<()> {
    let command = <cli::Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(command).render(&mut io::stdout().lock())?;
    Ok(())
}

/// Parses `-Y`; a malformed filter is an error showing where, as tshark does.
fn display_filter(text: Option<&str>) -> anyhow::Result<Option<Filter>> {
    text.map(|t| {
        xmppdump::filter::parse(t).map_err(|e| anyhow!("bad display filter:\n{}", e.pointed(t)))
    })
    .transpose()
}

/// The user's `-Y` filter and the connection numbers to keep, as one filter: every
/// given set must hold an event's connection (an empty one holds none). The user's
/// filter is parsed alone first, so its errors point into its own text.
fn selection(user: Option<&str>, flows: &[Option<&[u32]>]) -> anyhow::Result<Option<Filter>> {
    display_filter(user)?;
    let mut parts: Vec<String> = user.map(|t| format!("({t})")).into_iter().collect();
    for set in flows.iter().flatten() {
        let numbers: Vec<String> = set.iter().map(u32::to_string).collect();
        parts.push(if numbers.is_empty() {
            "flow == 0".to_owned() // `flow in {}` does not parse; no connection is 0
        } else {
            format!("flow in {{{}}}", numbers.join(" "))
        });
    }
    if parts.is_empty() {
        return Ok(None);
    }
    display_filter(Some(&parts.join(" and ")))
}

/// The connections where `jid` appears as sender, recipient or bound address (bare:
/// any resource), from a first pass over the capture.
fn jid_flows(input: Input, args: &cli::DumpArgs, jid: &str) -> anyhow::Result<Vec<u32>> {
    if input.is_stdin() {
        bail!("--jid reads the capture twice: give a file, not standard input");
    }
    let quoted = serde_json::to_string(jid)?;
    let part = if jid.contains('/') { "" } else { ".bare" };
    let text = ["from", "to", "jid", "bound_jid"]
        .iter()
        .map(|f| format!("{f}{part} == {quoted}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let filter = display_filter(Some(&text))?.ok_or_else(|| anyhow!("no filter"))?;
    let mut ends = xmppdump::pipeline::Endpoints::default();
    let mut reader = input.open(false)?;
    let (_, flows) =
        xmppdump::pipeline::matching_flows(&mut reader, dump_config(args)?, &filter, &mut ends)
            .map_err(|e| match e {
                RunError::Output(e) => anyhow!("{e}"),
                RunError::Capture(e) => input.error(&e),
            })?;
    Ok(flows.into_iter().collect())
}

/// `-r FILE -Y EXPR -w OUT`: the packets of the selected connections into a pcapng.
fn extract(args: &cli::DumpArgs, input: Input, out: &Path) -> anyhow::Result<()> {
    let filter = match (args.display_filter.as_deref(), args.flows.is_empty()) {
        (None, true) => {
            bail!("-w with -r writes the connections -Y or --flow selects, or with --annotate an annotated copy")
        }
        (text, _) => selection(text, &[(!args.flows.is_empty()).then_some(&args.flows[..])])?
            .ok_or_else(|| anyhow!("no display filter"))?,
    };
    if input.is_stdin() {
        bail!("-w with -Y reads the capture twice: give a file, not standard input");
    }
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    match xmppdump::pipeline::extract(
        input.opener(),
        args.common.config()?,
        &filter,
        BufWriter::new(file),
    ) {
        Ok((_, written)) => {
            eprintln!("{written} packets written to {}", out.display());
            Ok(())
        }
        Err(RunError::Output(e)) => Err(anyhow!("cannot write {}: {e}", out.display())),
        Err(RunError::Capture(e)) => Err(input.error(&e)),
    }
}

fn dump(args: &cli::DumpArgs) -> anyhow::Result<()> {
    if args.list_interfaces || args.interface.is_some() {
        return live(args);
    }
    if args.read.is_empty() {
        bail!("nothing to read: give -r FILE, -i IFACE, or a subcommand (see --help)");
    }
    let input = Input(&args.read);
    if let (Some(out), false) = (&args.write, args.annotate) {
        return extract(args, input, out);
    }
    if let Some(out) = &args.write {
        if input.is_stdin() {
            bail!("--annotate reads the capture twice: give a file, not standard input");
        }
        let file = std::fs::File::create(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        return match xmppdump::pipeline::annotate(
            input.opener(),
            args.common.config()?,
            BufWriter::new(file),
        ) {
            Ok(_) => Ok(()),
            Err(RunError::Output(e)) => Err(anyhow!("cannot write {}: {e}", out.display())),
            Err(RunError::Capture(e)) => Err(input.error(&e)),
        };
    }
    let stdout = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut printer: Box<dyn Sink> = if args.json {
        Box::new(Ndjson::new(stdout))
    } else {
        Box::new(Text::new(stdout).colored(args.color.for_stdout()))
    };
    let mut parquet = match &args.parquet {
        Some(path) => Some(parquet_events(path)?),
        None => None,
    };
    let label = input.label();
    let mut collector = args.stats.then(|| Collector::new(&label));
    // --flow and --jid select connections; -q keeps no event at all.
    let jid_flows = match &args.jid {
        Some(jid) => jid_flows(input, args, jid)?,
        None => Vec::new(),
    };
    let sets = [
        (!args.flows.is_empty()).then_some(&args.flows[..]),
        args.jid.as_ref().map(|_| &jid_flows[..]),
    ];
    let filter = selection(args.display_filter.as_deref(), &sets)?;
    {
        // With --parquet the events go to the file and the printer only gets the
        // summary.
        let (mut summary_only, mut to_file);
        let events: &mut dyn Sink = match parquet.as_mut() {
            Some(file) => {
                summary_only = SummaryOnly(printer.as_mut());
                to_file = Tee {
                    first: file,
                    second: Some(&mut summary_only),
                };
                &mut to_file
            }
            None => printer.as_mut(),
        };
        let (mut filtered, mut quiet);
        let first: &mut dyn Sink = match &filter {
            _ if args.quiet && args.parquet.is_none() => {
                quiet = SummaryOnly(events);
                &mut quiet
            }
            Some(f) => {
                filtered = Filtered::new(f, Scope::Events, events);
                &mut filtered
            }
            None => events,
        };
        let mut tee = Tee {
            first,
            second: collector.as_mut().map(|c| c as &mut dyn Sink),
        };
        run(input, dump_config(args)?, &mut tee, false)?;
    }
    drop(printer);
    drop(parquet);
    if let Some(collector) = collector {
        let mut out = io::stdout().lock();
        writeln!(out)?;
        out.write_all(render::render_text(&tables::tables(&collector.into_stats())).as_bytes())?;
    }
    Ok(())
}

fn stats(args: &cli::StatsArgs) -> anyhow::Result<()> {
    let filter = display_filter(args.display_filter.as_deref())?;
    if filter.is_some() && args.merge {
        bail!("-Y filters captures, not stats JSON: give it to the runs that wrote them");
    }
    if args.what_if.is_some() && filter.is_some() {
        // The what-if compresses whole streams: a stanza left out by the filter
        // still shapes the compression of the ones after it.
        bail!("--what-if measures whole streams and cannot be combined with -Y");
    }
    if args.what_if.is_some() && args.merge {
        bail!("--what-if reads captures: give it to the runs that wrote the stats JSON");
    }
    if args.parquet.is_some() {
        if args.merge || args.files.len() != 1 {
            bail!("--parquet writes the events of one capture: give one file, without --merge");
        }
        if filter.is_some() || args.what_if.is_some() {
            bail!("--parquet writes every event: not with -Y or --what-if");
        }
    }
    let mut total: Option<Stats> = None;
    for path in &args.files {
        let one = if args.merge {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_slice::<Stats>(&bytes)
                .map_err(|e| anyhow!("{}: not a stats JSON document: {e}", path.display()))?
        } else {
            let mut collector = Collector::new(&label(path));
            let mut config = args.common.config()?;
            if args.what_if == Some(cli::WhatIf::Zlib) {
                config.keep_xml = true;
                collector = collector.with_zlib_what_if(args.what_if_directions);
            }
            match (&filter, &args.parquet) {
                (Some(f), _) => {
                    let mut filtered = Filtered::new(f, Scope::Stanzas, &mut collector);
                    run(one_file(path), config, &mut filtered, true)?;
                }
                (None, Some(events)) => {
                    let mut file = parquet_events(events)?;
                    let mut both = Tee {
                        first: &mut collector,
                        second: Some(&mut file),
                    };
                    run(one_file(path), config, &mut both, true)?;
                }
                (None, None) => {
                    run_stats(one_file(path), config, &mut collector, true)?;
                }
            }
            collector.into_stats()
        };
        match &mut total {
            Some(t) => t.merge(&one),
            None => total = Some(one),
        }
    }
    let stats = total.unwrap_or_default();
    let mut all = tables::tables(&stats);
    if let Some(name) = &args.table {
        all.retain(|t| t.name == name);
        if all.is_empty() && name == "stream_compression" {
            all.push(tables::stream_compression(&stats));
        }
        if all.is_empty() && name == "compression" {
            bail!("the compression table is measured with --what-if zlib");
        }
        if all.is_empty() {
            bail!(
                "no table named {name:?} (tables: {})",
                tables::TABLE_NAMES.join(", ")
            );
        }
    }
    let mut out = io::stdout().lock();
    match args.format {
        cli::Format::Table => out.write_all(render::render_text(&all).as_bytes())?,
        cli::Format::Markdown => out.write_all(render::render_markdown(&all).as_bytes())?,
        cli::Format::Json => {
            // The counts, and the ratios computed from them (not read back by
            // `--merge`, which recomputes them from the merged counts).
            let mut value = serde_json::to_value(&stats)?;
            if let Some(o) = value.as_object_mut() {
                o.insert(
                    "presence_ratios".into(),
                    serde_json::to_value(stats.presence_ratios())?,
                );
                o.insert(
                    "iq_error_share".into(),
                    serde_json::to_value(stats.iq_error_shares())?,
                );
            }
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
        cli::Format::Parquet => {
            let dir = args.out_dir.as_ref().ok_or_else(|| {
                anyhow!("--format parquet needs --out-dir DIR (one file per table)")
            })?;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for t in &all {
                let path = dir.join(format!("{}.parquet", t.name));
                let file = std::fs::File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                xmppdump::output::parquet::tables::write(t, BufWriter::new(file))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        cli::Format::Csv => match (&args.out_dir, args.table.is_some()) {
            (Some(dir), _) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                for t in &all {
                    let file = dir.join(format!("{}.csv", t.name));
                    std::fs::write(&file, render::render_csv(t))
                        .with_context(|| format!("cannot write {}", file.display()))?;
                }
            }
            (None, true) => {
                for t in &all {
                    out.write_all(render::render_csv(t).as_bytes())?;
                }
            }
            (None, false) => bail!(
                "--format csv needs --table NAME (to stdout) or --out-dir DIR (one file per table)"
            ),
        },
    }
    out.flush()?;
    Ok(())
}

#[cfg(not(feature = "live"))]
fn live(_: &cli::DumpArgs) -> anyhow::Result<()> {
    bail!("this xmppdump was built without live capture: rebuild with `cargo build --release --features live` (needs libpcap-dev)")
}

#[cfg(feature = "live")]
fn live(args: &cli::DumpArgs) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use xmppdump::live;
    if args.common.jobs > 1 {
        bail!("-j works on capture files; live capture runs on one thread");
    }
    if args.list_interfaces {
        let mut out = io::stdout().lock();
        for (i, (name, desc)) in live::interfaces()?.iter().enumerate() {
            let desc = if desc.is_empty() {
                String::new()
            } else {
                format!(" ({desc})")
            };
            writeln!(out, "{}.{name}{desc}", i + 1)?;
        }
        return Ok(());
    }
    let interface = args.interface.clone().unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
        .context("cannot catch Ctrl-C")?;
    let options = live::Options {
        interface,
        filter: args.filter.clone(),
        snaplen: args.snaplen,
        promiscuous: !args.no_promisc,
        count: args.count,
        duration: args.duration.map(std::time::Duration::from_secs_f64),
    };
    let mut copy = match &args.write {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let out: Box<dyn Write + Send> = Box::new(BufWriter::new(file));
            Some(xmppdump::capture::write::PcapngWriter::new(out)?)
        }
        None => None,
    };
    // Written as soon as each packet is analysed (the live loop flushes per packet),
    // without a system call per line.
    let stdout = BufWriter::with_capacity(1 << 16, io::stdout());
    let mut printer: Box<dyn Sink> = if args.json {
        Box::new(Ndjson::new(stdout))
    } else {
        Box::new(Text::new(stdout).colored(args.color.for_stdout()))
    };
    let mut collector = args.stats.then(|| Collector::new(&options.interface));
    let counts = {
        let mut tee = Tee {
            first: printer.as_mut(),
            second: collector.as_mut().map(|c| c as &mut dyn Sink),
        };
        let (_, counts) = live::run(&options, dump_config(args)?, &mut tee, copy.as_mut(), &stop)?;
        counts
    };
    drop(printer);
    if let Some(collector) = collector {
        let mut out = io::stdout().lock();
        writeln!(out)?;
        out.write_all(render::render_text(&tables::tables(&collector.into_stats())).as_bytes())?;
        out.flush()?;
    }
    eprintln!(
        "{} packets captured, {} received by filter, {} dropped by kernel, {} dropped by interface",
        counts.captured, counts.received, counts.dropped, counts.interface_dropped
    );
    Ok(())
}

/// Runs the rules over the captures; `Ok(false)` when a rule failed.
fn check(args: &cli::CheckArgs) -> anyhow::Result<bool> {
    let mut rules = Vec::new();
    if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        rules = check::parse_rules_file(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    for (i, text) in args.rule.iter().enumerate() {
        rules
            .push(check::parse_rule(text).map_err(|e| anyhow!("--rule #{} {text:?}: {e}", i + 1))?);
    }
    if rules.is_empty() {
        for text in check::rule::DEFAULT_RULES {
            rules.push(check::parse_rule(text).map_err(|e| anyhow!("{e}"))?);
        }
    }
    // iq_answered(N): responses slower than N ms are listed while collecting.
    let slow_us = rules
        .iter()
        .filter_map(|r| match r.rule {
            check::rule::Rule::Builtin {
                rule: check::rule::Builtin::IqAnswered,
                arg: Some(ms),
            } => Some((ms * 1000.0) as u64),
            _ => None,
        })
        .min();
    let mut stats: Option<Stats> = None;
    let mut found = std::collections::BTreeMap::new();
    for path in &args.files {
        let name = label(path);
        let mut collector = Collector::new(&name);
        if let Some(us) = slow_us {
            collector = collector.with_slow_threshold(us);
        }
        let mut checker = check::Checker::new(&name);
        let mut tee = Tee {
            first: &mut collector,
            second: Some(&mut checker),
        };
        run(one_file(path), args.common.config()?, &mut tee, false)?;
        let one = collector.into_stats();
        match &mut stats {
            Some(s) => s.merge(&one),
            None => stats = Some(one),
        }
        for (rule, (list, total)) in checker.into_found() {
            let entry: &mut (Vec<check::Violation>, u64) = found.entry(rule).or_default();
            entry.0.extend(list);
            entry.0.truncate(check::MAX_VIOLATIONS_LISTED);
            entry.1 += total;
        }
    }
    let report = check::evaluate(&rules, &found, &stats.unwrap_or_default());
    if let Some(path) = &args.junit {
        std::fs::write(path, report_format::render_junit(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = io::stdout().lock();
    let text = if args.json {
        report_format::render_json(&report)
    } else {
        report_format::render_text(&report)
    };
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(report.passed)
}

/// The dialogues of a capture, with the elements' bytes, filtered as asked.
fn dialogues(
    input: Input,
    common: &cli::Common,
    select: &cli::Select,
) -> anyhow::Result<Vec<xmppdump::story::Dialogue>> {
    let filter = display_filter(select.display_filter.as_deref())?;
    let mut recorder = xmppdump::story::Recorder::new();
    let mut config = common.config()?;
    config.keep_xml = true;
    let matching = match &filter {
        Some(f) => {
            let mut sink = MatchingFlows::new(f, &mut recorder);
            run(input, config, &mut sink, true)?;
            Some(sink.flows)
        }
        None => {
            run(input, config, &mut recorder, true)?;
            None
        }
    };
    select_dialogues(recorder.into_dialogues(), input, select, matching.as_ref())
}

/// `matching`: the connections a display filter selected, when one was given.
fn select_dialogues(
    mut dialogues: Vec<xmppdump::story::Dialogue>,
    input: Input,
    select: &cli::Select,
    matching: Option<&std::collections::BTreeSet<u32>>,
) -> anyhow::Result<Vec<xmppdump::story::Dialogue>> {
    if let Some(flows) = matching {
        dialogues.retain(|d| flows.contains(&d.flow.0));
    }
    if !select.flows.is_empty() {
        dialogues.retain(|d| select.flows.contains(&d.flow.0));
    }
    if let Some(jid) = &select.jid {
        dialogues.retain(|d| d.mentions(jid));
    }
    if dialogues.is_empty()
        && (!select.flows.is_empty() || select.jid.is_some() || matching.is_some())
    {
        bail!(
            "no XMPP connection in {} matches the selection",
            input.label()
        );
    }
    Ok(dialogues)
}

fn show(args: &cli::ShowArgs) -> anyhow::Result<()> {
    use xmppdump::story::{pretty::Show, transcript};
    let dialogues = dialogues(Input(&args.files), &args.common, &args.select)?;
    let stdout = io::stdout();
    let style = transcript::Style {
        explain: args.explain,
        color: args.color.for_stdout(),
        show: Show {
            full: args.full,
            secrets: args.common.show_secrets,
        },
    };
    let mut out = BufWriter::new(stdout.lock());
    transcript::write_all(&mut out, &dialogues, style)?;
    out.flush()?;
    Ok(())
}

fn report(args: &cli::ReportArgs) -> anyhow::Result<()> {
    let mut config = args.common.config()?;
    config.keep_xml = true;
    let input = Input(&args.files);
    let label = input.label();
    let filter = display_filter(args.select.display_filter.as_deref())?;
    let mut collector = Collector::new(&label);
    let mut recorder = xmppdump::story::Recorder::new();
    // With -Y: the sessions are the connections it selects, the statistics count the
    // stanzas it keeps (as `stats -Y`).
    let (summary, matching) = match &filter {
        Some(f) => {
            let mut stanzas = Filtered::new(f, Scope::Stanzas, &mut collector);
            let mut tee = Tee {
                first: &mut recorder,
                second: Some(&mut stanzas),
            };
            let mut sink = MatchingFlows::new(f, &mut tee);
            let summary = run(input, config, &mut sink, true)?;
            (summary, Some(sink.flows))
        }
        None => {
            let mut tee = Tee {
                first: &mut recorder,
                second: Some(&mut collector),
            };
            (run(input, config, &mut tee, true)?, None)
        }
    };
    let dialogues = select_dialogues(
        recorder.into_dialogues(),
        input,
        &args.select,
        matching.as_ref(),
    )?;
    let stats = collector.into_stats();
    let html = xmppdump::report::html(&label, &summary, &stats, &dialogues);
    std::fs::write(&args.output, html)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if let Some(dir) = &args.charts {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for chart in xmppdump::report::charts(&stats) {
            let path = dir.join(chart.file);
            std::fs::write(&path, chart.svg)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

fn diagram(args: &cli::DiagramArgs) -> anyhow::Result<()> {
    let dialogues = dialogues(Input(&args.files), &args.common, &args.select)?;
    let diagram = xmppdump::story::diagram::Diagram::build(&dialogues);
    let text = match args.format {
        cli::DiagramFormat::Mermaid => diagram.mermaid(),
        cli::DiagramFormat::Plantuml => diagram.plantuml(),
        cli::DiagramFormat::Svg => diagram.svg(),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

fn gen(args: &cli::GenArgs) -> anyhow::Result<()> {
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let config = xmppdump::synth::gen::GenConfig {
        seed: args.seed,
        target_bytes: args.size,
        c2s_flows: args.c2s,
        s2s_flows: args.s2s,
        pcapng: args.pcapng,
        background_flows: args.background_flows,
        background_bytes: args.background_bytes.unwrap_or(0),
        xmpp_share: args.xmpp_share,
    };
    let truth = xmppdump::synth::gen::generate(&config, BufWriter::with_capacity(1 << 20, file))
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &truth)?;
    writeln!(out)?;
    Ok(())
}

/// The configuration of the event listing: what only other outputs read is not
/// computed for the text lines. Presence digests only when something shows or counts
/// them (NDJSON, Parquet, `--stats`); stanzas' census details also when a display
/// filter may name them.
fn dump_config(args: &cli::DumpArgs) -> anyhow::Result<xmppdump::pipeline::Config> {
    let mut config = args.common.config()?;
    config.presence_digests = args.json || args.stats || args.parquet.is_some();
    config.stanza_details = config.presence_digests || args.display_filter.is_some();
    Ok(config)
}

/// How a file is named in statistics: its file name.
fn label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A Parquet file for the events at `path` (`--parquet`).
fn parquet_events(path: &Path) -> anyhow::Result<EventColumns<BufWriter<std::fs::File>>> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    EventColumns::new(BufWriter::with_capacity(1 << 20, file))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// One capture file as the input of a run.
fn one_file(path: &PathBuf) -> Input<'_> {
    Input(std::slice::from_ref(path))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
