//! `tracedojo explore`: the explorer (OTLP receiver, bounded trace store, web UI and JSON API)
//! on its own, for any application that speaks OTLP. `tracedojo up` runs the same explorer
//! inside the supervisor; what both share (reading sizes and addresses, and saying which flag
//! to change when a port is taken) lives here too.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};

use anyhow::bail;
use clap::Args;
use tracedojo_explorer::server::DEFAULT_CUSTOMER_ATTRIBUTE;
use tracedojo_explorer::{Explorer, ExplorerConfig, ExplorerError, Link, ReceiverError, Transport};

/// Spans kept unless `--max-spans` says otherwise.
pub const DEFAULT_MAX_SPANS: usize = 1_000_000;
/// Memory the store may take unless `--max-memory` says otherwise.
pub const DEFAULT_MAX_MEMORY: &str = "512MiB";
/// Largest OTLP request unless `--max-request-size` says otherwise.
pub const DEFAULT_MAX_REQUEST_SIZE: &str = "16MiB";
/// Below this no exporter's batch fits (512 spans take tens of KiB), so nothing would arrive.
const MIN_REQUEST_SIZE: usize = 64 * 1024;

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Where the OTLP/gRPC receiver listens, HOST:PORT (port 0 picks a free one).
    #[arg(long, env = "TRACEDOJO_EXPLORER_GRPC_ADDRESS", value_name = "HOST:PORT",
        default_value = "127.0.0.1:4317", value_parser = parse_address)]
    pub grpc_address: SocketAddr,
    /// Where the OTLP/HTTP receiver listens (protobuf or JSON bodies), HOST:PORT.
    #[arg(long, env = "TRACEDOJO_EXPLORER_HTTP_ADDRESS", value_name = "HOST:PORT",
        default_value = "127.0.0.1:4318", value_parser = parse_address)]
    pub http_address: SocketAddr,
    /// Where the web UI and the JSON API listen, HOST:PORT. On loopback they answer only
    /// requests addressed to localhost, 127.0.0.1 or [::1] (any port).
    #[arg(long, env = "TRACEDOJO_EXPLORER_UI_ADDRESS", value_name = "HOST:PORT",
        default_value = "127.0.0.1:8090", value_parser = parse_address)]
    pub ui_address: SocketAddr,
    /// Most spans kept; when full, the oldest traces go first (at least 1000).
    #[arg(long, env = "TRACEDOJO_EXPLORER_MAX_SPANS", value_name = "COUNT",
        default_value_t = DEFAULT_MAX_SPANS, value_parser = parse_count)]
    pub max_spans: usize,
    /// Most memory the stored spans take, e.g. 512MiB or 2GB (units B, KB, MB, GB, KiB, MiB,
    /// GiB); at least 1MiB. Metrics and logs are kept apart, each in a sixteenth of it.
    #[arg(long, env = "TRACEDOJO_EXPLORER_MAX_MEMORY", value_name = "SIZE",
        default_value = DEFAULT_MAX_MEMORY, value_parser = parse_size)]
    pub max_memory: usize,
    /// Largest OTLP request accepted (HTTP body or gRPC message); larger ones get 413.
    #[arg(long, env = "TRACEDOJO_EXPLORER_MAX_REQUEST_SIZE", value_name = "SIZE",
        default_value = DEFAULT_MAX_REQUEST_SIZE, value_parser = parse_size)]
    pub max_request_size: usize,
    /// A page the UI's header links to, NAME=URL (e.g. Shop=http://127.0.0.1:8080); repeat
    /// for several. In the environment variable, separate them with commas.
    #[arg(
        long = "link",
        env = "TRACEDOJO_EXPLORER_LINKS",
        value_name = "NAME=URL",
        value_delimiter = ','
    )]
    pub links: Vec<Link>,
    /// The attribute that names a request's customer, on the first SERVER span that handled
    /// it (or its resource, or any span of its trace): the Customers view groups requests by
    /// its value to say which customers were hit and how badly. Set it to the key your own
    /// application records its customers (tenants, organisations) under.
    #[arg(long, env = "TRACEDOJO_EXPLORER_CUSTOMER_ATTRIBUTE", value_name = "KEY",
        default_value = DEFAULT_CUSTOMER_ATTRIBUTE, value_parser = parse_attribute_key)]
    pub customer_attribute: String,
    /// Objectives (TOML, as `tracedojo report` reads them) whose latency thresholds the trace
    /// page's Explain compares each request with [default: none]
    #[arg(long, env = "TRACEDOJO_OBJECTIVES", value_name = "FILE")]
    pub objectives: Option<std::path::PathBuf>,
}

/// `println!` that ignores a closed pipe instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub async fn run(args: ExploreArgs) -> anyhow::Result<()> {
    if args.max_request_size < MIN_REQUEST_SIZE {
        bail!(
            "--max-request-size {} is too small for one OTLP export; give at least 64KiB (the default is {DEFAULT_MAX_REQUEST_SIZE})",
            args.max_request_size
        );
    }
    let mut config = ExplorerConfig::default();
    config.receiver.grpc_addr = args.grpc_address;
    config.receiver.http_addr = args.http_address;
    config.receiver.max_spans = args.max_spans;
    config.receiver.max_bytes = args.max_memory;
    config.receiver.max_request_bytes = args.max_request_size;
    config.ui_addr = args.ui_address;
    config.links = args.links;
    config.customer_attribute = args.customer_attribute;
    if let Some(path) = &args.objectives {
        config.latency_objectives =
            tracedojo_report::objectives::Objectives::read(path)?.latency_objectives();
    }
    let explorer = Explorer::start(config)
        .await
        .map_err(|err| anyhow::anyhow!(start_error(&err, &Flags::EXPLORE)))?;

    let receiver = explorer.receiver();
    // Tests and the benchmark read these four lines: keep their shape.
    say!("tracedojo explorer");
    say!("  UI and API:  {}", explorer.ui_url());
    say!("  OTLP/gRPC:   {}", receiver.grpc_endpoint());
    say!("  OTLP/HTTP:   {}", receiver.http_endpoint());
    say!(
        "\nPoint an app at it:  OTEL_EXPORTER_OTLP_ENDPOINT={}",
        receiver.http_endpoint()
    );
    say!(
        "  (or over gRPC:     OTEL_EXPORTER_OTLP_ENDPOINT={} OTEL_EXPORTER_OTLP_PROTOCOL=grpc)",
        receiver.grpc_endpoint()
    );
    say!(
        "Keeps up to {} spans in {}; the oldest traces make room for new ones.",
        args.max_spans,
        format_size(args.max_memory)
    );
    say!("Press Ctrl-C to stop.");

    tracedojo_kit::shutdown::signal().await;
    explorer.shutdown().await?;
    say!("explorer stopped");
    Ok(())
}

/// The flags that choose each listener, as `explore` and `up` name them.
pub struct Flags {
    pub ui: &'static str,
    pub grpc: &'static str,
    pub http: &'static str,
    /// Said after the flag: how to choose a free port with it.
    pub free_port: &'static str,
    /// What else the person can do, e.g. turn the explorer off.
    pub otherwise: &'static str,
    /// The bounds of the store.
    pub max_spans: &'static str,
    pub max_memory: &'static str,
}

impl Flags {
    const EXPLORE: Flags = Flags {
        ui: "--ui-address",
        grpc: "--grpc-address",
        http: "--http-address",
        free_port: "HOST:0 picks a free port",
        otherwise: "or stop what uses it",
        max_spans: "--max-spans",
        max_memory: "--max-memory",
    };
}

/// ExplorerError's message, with the flag that changes the busy port: the library does not
/// know what its caller calls it.
pub fn start_error(err: &ExplorerError, flags: &Flags) -> String {
    let (what, flag, addr) = match err {
        ExplorerError::UiPortInUse { addr } => ("web UI", flags.ui, *addr),
        ExplorerError::Receiver(ReceiverError::PortInUse { addr, transport }) => match transport {
            Transport::Grpc => ("OTLP/gRPC receiver", flags.grpc, *addr),
            Transport::Http => ("OTLP/HTTP receiver", flags.http, *addr),
        },
        ExplorerError::UiBind { .. } => return format!("{err}; choose another with {}", flags.ui),
        ExplorerError::Receiver(ReceiverError::Bind { transport, .. }) => {
            let flag = match transport {
                Transport::Grpc => flags.grpc,
                Transport::Http => flags.http,
            };
            return format!("{err}; choose another with {flag}");
        }
        ExplorerError::TooFewSpans { .. } => return format!("{err} ({})", flags.max_spans),
        ExplorerError::TooFewBytes { .. } => return format!("{err} ({})", flags.max_memory),
        other => return other.to_string(),
    };
    let port = addr.port();
    format!(
        "port {port} for the explorer's {what} ({addr}) is already in use; choose another with {flag} ({}), {}",
        flags.free_port, flags.otherwise
    )
}

/// `HOST:PORT` with an IP address or `localhost` as the host.
pub fn parse_address(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bad = || {
        format!(
            "\"{text}\" is not HOST:PORT; write e.g. 127.0.0.1:4317, 0.0.0.0:4317 (every interface) or 127.0.0.1:0 (a free port)"
        )
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().map_err(|_| {
        format!("\"{text}\": \"{port}\" is not a port; use a number from 1 to 65535 (0 picks a free port)")
    })?;
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    Err(bad())
}

/// An attribute key: not empty, no spaces around it.
pub fn parse_attribute_key(text: &str) -> Result<String, String> {
    let key = text.trim();
    if key.is_empty() {
        return Err("the attribute key is empty; write one such as tracedojo.user.company".into());
    }
    Ok(key.to_owned())
}

pub fn parse_count(text: &str) -> Result<usize, String> {
    text.trim()
        .replace('_', "")
        .parse::<usize>()
        .map_err(|_| format!("\"{text}\" is not a whole number of spans, e.g. 1000000"))
}

const UNITS: [(&str, u64); 7] = [
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
];

/// A size with its unit, e.g. `512MiB`, `1.5GB`, `64 KiB` (units case-insensitive).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let allowed = "allowed units: B, KB, MB, GB (powers of 1000), KiB, MiB, GiB (powers of 1024)";
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    if number.is_empty() {
        return Err(format!(
            "\"{text}\" is not a size; write e.g. 512MiB ({allowed})"
        ));
    }
    if unit.is_empty() {
        return Err(format!(
            "\"{text}\" has no unit; write e.g. {number}MiB ({allowed})"
        ));
    }
    let Some((_, factor)) = UNITS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit))
    else {
        return Err(format!("\"{unit}\" in \"{text}\" is not a unit; {allowed}"));
    };
    let number: f64 = number
        .parse()
        .map_err(|_| format!("\"{number}\" in \"{text}\" is not a number"))?;
    let bytes = number * *factor as f64;
    if !bytes.is_finite() || bytes > usize::MAX as f64 {
        return Err(format!(
            "\"{text}\" is larger than this machine can address"
        ));
    }
    Ok(bytes as usize)
}

/// A size for people: the largest binary unit that keeps a whole number where possible.
pub fn format_size(bytes: usize) -> String {
    for (name, factor) in [("GiB", 1usize << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{} {name}", bytes / factor);
        }
    }
    if bytes >= 1 << 20 {
        return format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64);
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("2 gb"), Ok(2_000_000_000));
        assert_eq!(parse_size("1.5KB"), Ok(1500));
        assert_eq!(parse_size("100B"), Ok(100));
        let err = parse_size("12XB").unwrap_err();
        assert!(err.contains("\"XB\"") && err.contains("MiB"), "{err}");
        assert!(parse_size("512").unwrap_err().contains("no unit"));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("1.2.3MiB").is_err());
    }

    #[test]
    fn addresses_are_host_and_port() {
        assert_eq!(
            parse_address("127.0.0.1:4317"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 4317)))
        );
        assert_eq!(
            parse_address("localhost:0"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
        );
        assert!(parse_address("[::1]:4318").is_ok());
        assert!(parse_address("4317").unwrap_err().contains("HOST:PORT"));
        assert!(
            parse_address("127.0.0.1:99999")
                .unwrap_err()
                .contains("65535")
        );
        assert!(parse_address("example.com:80").is_err());
    }

    #[test]
    fn sizes_print_for_people() {
        assert_eq!(format_size(512 << 20), "512 MiB");
        assert_eq!(format_size(1 << 30), "1 GiB");
        assert_eq!(format_size(1_500_000), "1.4 MiB");
        assert_eq!(format_size(100), "100 bytes");
    }

    #[test]
    fn a_busy_port_names_the_flag() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 4317));
        let err = ExplorerError::Receiver(ReceiverError::PortInUse {
            addr,
            transport: Transport::Grpc,
        });
        let message = start_error(&err, &Flags::EXPLORE);
        assert!(
            message.contains("port 4317") && message.contains("--grpc-address"),
            "{message}"
        );
    }
}
