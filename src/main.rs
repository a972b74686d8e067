//! The `xmppdump` binary: parse flags, run the pipeline, map failures to exit codes
//! (0 ok, 1 checks failed, 2 error). A closed stdout (`| head`) ends quietly.

mod cli;

use clap::Parser;
use std::io::{self, BufWriter, Read};
use std::process::ExitCode;
use xmppdump::capture::Reader;
use xmppdump::output::ndjson::Ndjson;
use xmppdump::output::text::Text;
use xmppdump::output::Sink;
use xmppdump::pipeline::{Pipeline, RunError};

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xmppdump: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &cli::Args) -> anyhow::Result<()> {
    let input: Box<dyn Read + Send> = if args.read.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        let file = std::fs::File::open(&args.read)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.read.display()))?;
        Box::new(file)
    };
    let mut reader =
        Reader::new(input).map_err(|e| anyhow::anyhow!("{}: {e}", args.read.display()))?;
    let stdout = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut sink: Box<dyn Sink> = if args.json {
        Box::new(Ndjson::new(stdout))
    } else {
        Box::new(Text::new(stdout))
    };
    let pipeline = Pipeline::new(args.config());
    match pipeline.run(&mut reader, sink.as_mut()) {
        Ok(_) => Ok(()),
        Err(RunError::Output(e)) => Err(e.into()),
        Err(RunError::Capture(e)) => Err(anyhow::anyhow!("{}: {e}", args.read.display())),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
