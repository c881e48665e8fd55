//! The command line (clap derive only), turned into a plain [`Config`]. Also accepts
//! maillogconvert.pl's call, `maillogconv standard [YEAR] < maillog`.

use crate::config::{Config, Format, Mta, PartitionKey};
use crate::input::Input;
use clap::builder::PossibleValue;
use clap::{Parser, ValueEnum};
use std::path::PathBuf;

// The library's own enums are the values of `--format` and `--mta`: no mirror enums here.
impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        Format::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(self.help()))
    }
}

impl ValueEnum for Mta {
    fn value_variants<'a>() -> &'a [Self] {
        Mta::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Generate {
    /// The man page (roff), for `man -l -` or /usr/share/man/man1/maillogconv.1.
    Man,
    Bash,
    Zsh,
    Fish,
}

const EXAMPLES: &str = "\
Examples:
  # AWStats (LogType=M), as maillogconvert.pl: in awstats.mail.conf
  LogFile=\"maillogconv /var/log/maillog |\"

  # maillogconvert.pl's own call, unchanged
  maillogconv standard 2026 < /var/log/maillog > maillog.awstats

  # Nightly from cron: only new lines, each record once, into a Parquet dataset
  15 3 * * *  maillogconv --state /var/lib/maillogconv/state -o /srv/mail/records --partition-by date /var/log/maillog*

  # One-off: a rotated set to CSV, with a summary on stderr
  maillogconv --stats -o mail.csv /var/log/mail.log*";

/// Convert mail server logs (Postfix, Sendmail, Exim, qmail, OpenSMTPD, ...) into AWStats lines
/// or analysable data.
#[derive(Debug, Parser)]
#[command(
    name = "maillogconv",
    version,
    about,
    override_usage = "maillogconv [OPTIONS] [INPUTS]...\n       maillogconv standard [YEAR] [INPUTS]...   (maillogconvert.pl's call: AWStats lines)",
    after_help = EXAMPLES
)]
struct Cli {
    /// Log files, directories (their maillog/mail.log families) or glob patterns; plain, gzip,
    /// bzip2, xz or zstd (detected from content). Rotated sets are read oldest first.
    /// None or `-` reads stdin.
    inputs: Vec<PathBuf>,
    /// Output format [default: from -o's extension (.parquet, .csv, .jsonl, .clf), else awstats].
    #[arg(short, long, value_enum)]
    format: Option<Format>,
    /// Write to FILE (atomically: temporary file, then rename) instead of stdout; with
    /// --partition-by, the dataset directory.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Hive-partition Parquet output by `date` or `date,host` into the -o directory; each
    /// partition written is replaced atomically, others are left as they are.
    #[arg(long, value_name = "KEYS", value_parser = parse_partition)]
    partition_by: Option<Keys>,
    /// Year of the first line; later lines roll forward at each New Year.
    /// Without it, each file's year comes from its modification time (stdin: the clock).
    #[arg(long, value_name = "YYYY", value_parser = clap::value_parser!(i16).range(1970..=9999))]
    year: Option<i16>,
    /// Time zone of timestamps without an offset (IANA name, e.g. Europe/Berlin)
    /// [default: the system zone].
    #[arg(long, value_name = "ZONE", value_parser = parse_tz)]
    tz: Option<jiff::tz::TimeZone>,
    /// Threads [default: number of CPUs; never more]; 1 reads, parses and merges on one
    /// thread. The output is the same whatever the number.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Read every line as this MTA's, whatever its syslog tag (e.g. a Postfix whose
    /// syslog_name does not start with "postfix") [default: recognised per line].
    #[arg(long, value_enum)]
    mta: Option<Mta>,
    /// Print a summary (lines, records by status, open messages) on stderr.
    #[arg(long)]
    stats: bool,
    /// Fail (exit 1) when a line of a recognised MTA cannot be parsed, naming the input and the
    /// first such line; records are still written. Without it such lines are only counted.
    #[arg(long)]
    strict: bool,
    /// Forget a message that has had no line for this many days of log time (it will never see
    /// `removed`: the log began or ended mid-flight); its deliveries are already written.
    #[arg(long, value_name = "DAYS", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
    evict_after_days: u32,
    /// Remember in FILE what was read and what is still open (messages, the year, records
    /// waiting for time order), and go on from there the next time: every line is converted
    /// once across runs, whatever logrotate renamed, compressed or truncated. Only new records
    /// are written. Runs on one FILE wait for each other (a second exits 1).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Add to the -o file instead of replacing it (line formats; CSV writes its header only into
    /// a new file).
    #[arg(long, requires = "output")]
    append: bool,
    /// Lines longer than this are cut to their first BYTES (counted, and the first few named
    /// on stderr): memory stays bounded whatever the input.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u32).range(1024..))]
    max_line_length: u32,
    /// Replace each address's local part (sender, recipients, SASL user, addresses in replies)
    /// by a keyed hash (HMAC-SHA-256) of it, keeping the domain: the same key gives the same
    /// pseudonyms in every run and format. KEYFILE holds the key (at least 16 bytes; e.g.
    /// `head -c 32 /dev/urandom > KEYFILE`).
    #[arg(long, value_name = "KEYFILE")]
    pseudonymize: Option<PathBuf>,
    /// With --pseudonymize: client IPs too (as IPv6 addresses in fd00::/8), and the client's
    /// host name and HELO are left out.
    #[arg(long, requires = "pseudonymize")]
    pseudonymize_ips: bool,
    /// The mail server's name for logs whose lines name none (Exim's mainlog, qmail's
    /// multilog), as the `host` of their records; lines that name their host keep it. In a
    /// tree of hosts (a directory of per-host directories) each directory's name is used.
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// Read only this host's lines (one server of a central syslog file with many).
    #[arg(long, value_name = "NAME")]
    only_host: Option<String>,
    /// Show progress on stderr (bytes and lines read, records written, rate, time left) even
    /// when it is not a terminal [default: only on a terminal; cron stays quiet].
    #[arg(long, overrides_with = "no_progress")]
    progress: bool,
    /// Never show progress.
    #[arg(long)]
    no_progress: bool,
    /// Print the man page or a shell's completion script (generated from these options) and
    /// exit.
    #[arg(long, value_name = "KIND", value_enum)]
    generate: Option<Generate>,
    /// Write the lines of a recognised MTA that gave no record (connects, warnings, lines it
    /// cannot parse, bad timestamps) to FILE as they were read, to audit what was skipped.
    /// FILE appears when the run completes.
    #[arg(long, value_name = "FILE")]
    unparsed: Option<PathBuf>,
    /// With --unparsed: also the lines of no recognised MTA (other programs' syslog lines).
    #[arg(long, requires = "unparsed")]
    unparsed_all: bool,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// A conversion.
    Run(Box<Config>),
    /// Text to print on stdout, then exit 0 (`--generate`).
    Print(String),
}

/// Parses `args` (including the program name); clap prints usage errors.
pub fn parse(args: Vec<std::ffi::OsString>) -> Result<Parsed, clap::Error> {
    if let Some(cfg) = legacy(&args) {
        return cfg.map(|c| Parsed::Run(Box::new(c)));
    }
    let cli = Cli::try_parse_from(args)?;
    if let Some(kind) = cli.generate {
        return Ok(Parsed::Print(generate(kind)?));
    }
    let pseudonymize = match &cli.pseudonymize {
        Some(path) => Some(pseudonymizer(path, cli.pseudonymize_ips)?),
        None => None,
    };
    let mut inputs: Vec<Input> = cli
        .inputs
        .into_iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::Path(p)
            }
        })
        .collect();
    if inputs.is_empty() {
        inputs.push(Input::Stdin);
    }
    let partition_by = cli.partition_by.map(|k| k.0).unwrap_or_default();
    let by_extension = cli
        .output
        .as_ref()
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .and_then(Format::from_extension);
    let implied = (!partition_by.is_empty()).then_some(Format::Parquet);
    let format = cli
        .format
        .or(by_extension)
        .or(implied)
        .unwrap_or(Format::Awstats);
    let usage =
        |msg: &str| clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, format!("{msg}\n"));
    if !partition_by.is_empty() {
        if format != Format::Parquet {
            return Err(usage("--partition-by writes Parquet: use --format parquet"));
        }
        if cli.output.is_none() {
            return Err(usage("--partition-by needs -o DIR"));
        }
    }
    if cli.append && (format == Format::Parquet || !partition_by.is_empty()) {
        return Err(usage(
            "--append adds lines to a file: use a line format (awstats, csv, jsonl, clf)",
        ));
    }
    if format == Format::Parquet
        && cli.output.is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
    {
        return Err(usage(
            "Parquet is binary: give -o FILE (or redirect stdout)",
        ));
    }
    Ok(Parsed::Run(Box::new(Config {
        inputs,
        format,
        partition_by,
        output: cli.output,
        year: cli.year,
        threads: cli.threads.map_or_else(default_threads, usize::from),
        stats: cli.stats,
        strict: cli.strict,
        state: cli.state,
        append: cli.append,
        max_line_length: cli.max_line_length as usize,
        unparsed: cli.unparsed,
        unparsed_all: cli.unparsed_all,
        pseudonymize,
        host: cli.host,
        only_host: cli.only_host,
        progress: (!cli.no_progress
            && (cli.progress || std::io::IsTerminal::is_terminal(&std::io::stderr())))
        .then(std::sync::Arc::default),
        max_age_secs: i64::from(cli.evict_after_days) * 86_400,
        mta: cli.mta,
        tz: cli.tz.unwrap_or_else(jiff::tz::TimeZone::system),
        ..Config::default()
    })))
}

/// `--partition-by` keys (one argument, comma-separated).
#[derive(Debug, Clone)]
struct Keys(Vec<PartitionKey>);

fn parse_partition(s: &str) -> Result<Keys, String> {
    let keys: Result<Vec<PartitionKey>, String> = s
        .split(',')
        .map(|k| match k.trim() {
            "date" => Ok(PartitionKey::Date),
            "host" => Ok(PartitionKey::Host),
            other => Err(format!("unknown partition key {other:?} (date, host)")),
        })
        .collect();
    let keys = keys?;
    if keys.first() != Some(&PartitionKey::Date) {
        return Err("partitions start with date: `date` or `date,host`".into());
    }
    Ok(Keys(keys))
}

/// A time zone by name (`Europe/Berlin`, `UTC`), with an error that says which.
pub fn parse_tz(s: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(s).map_err(|e| format!("unknown time zone {s:?}: {e}"))
}

/// The key in `path`, as a pseudonymiser; a usage error names the file.
fn pseudonymizer(
    path: &std::path::Path,
    ips: bool,
) -> Result<crate::pseudo::Pseudonymizer, clap::Error> {
    let usage = |msg: String| clap::Error::raw(clap::error::ErrorKind::InvalidValue, msg + "\n");
    let key = std::fs::read(path).map_err(|e| {
        usage(format!(
            "--pseudonymize {}: cannot read the key: {e}",
            path.display()
        ))
    })?;
    crate::pseudo::Pseudonymizer::new(&key, ips).ok_or_else(|| {
        usage(format!(
            "--pseudonymize {}: the key is {} bytes; at least {} are needed (head -c 32 /dev/urandom > KEYFILE)",
            path.display(),
            key.len(),
            crate::pseudo::MIN_KEY_BYTES
        ))
    })
}

/// The man page or a completion script, from the same definition as `--help`.
fn generate(kind: Generate) -> Result<String, clap::Error> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    match kind {
        Generate::Man => clap_mangen::Man::new(cmd).render(&mut out)?,
        Generate::Bash => clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut cmd,
            "maillogconv",
            &mut out,
        ),
        Generate::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "maillogconv", &mut out)
        }
        Generate::Fish => clap_complete::generate(
            clap_complete::Shell::Fish,
            &mut cmd,
            "maillogconv",
            &mut out,
        ),
    }
    String::from_utf8(out).map_err(|e| {
        clap::Error::raw(
            clap::error::ErrorKind::Io,
            format!("generated text is not UTF-8: {e}\n"),
        )
    })
}

/// Workers when none are asked for: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `maillogconv standard [YEAR] [INPUT]...`: maillogconvert.pl's call (stdin to stdout, AWStats
/// lines), and files after it if given.
fn legacy(args: &[std::ffi::OsString]) -> Option<Result<Config, clap::Error>> {
    if args.get(1)?.to_str()? != "standard" || std::path::Path::new("standard").exists() {
        return None;
    }
    let mut rest = args.get(2..).unwrap_or_default();
    let mut year = None;
    if let Some(first) = rest.first() {
        match first.to_str().and_then(|y| y.parse::<i16>().ok()) {
            Some(y) => {
                year = Some(y);
                rest = &rest[1..];
            }
            None if !std::path::Path::new(first).exists() => {
                return Some(Err(clap::Error::raw(
                    clap::error::ErrorKind::InvalidValue,
                    format!(
                        "maillogconvert.pl's form is `standard [YEAR] [INPUT]...`: {} is neither a year nor a file\n",
                        first.to_string_lossy()
                    ),
                )));
            }
            None => {}
        }
    }
    let mut inputs: Vec<Input> = rest
        .iter()
        .map(|p| {
            if p == "-" {
                Input::Stdin
            } else {
                Input::Path(p.into())
            }
        })
        .collect();
    if inputs.is_empty() {
        inputs.push(Input::Stdin);
    }
    Some(Ok(Config {
        year,
        inputs,
        threads: default_threads(),
        ..Config::default()
    }))
}
