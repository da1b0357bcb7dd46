//! The command line, declared with clap: `--help` on each subcommand is the configuration
//! reference, and every flag can also come from the environment variable it names.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tracedojo_loadgen::instance::{INSTANCE_FORM, Instance};
use tracedojo_loadgen::limits;

use crate::ports::parse_port;

const OTEL_HELP: &str = "\
`up` starts the explorer (http://127.0.0.1:8090) and, unless OTEL_EXPORTER_OTLP_ENDPOINT is set,
sends it traces, metrics and logs. With a backend set, traces go to both (--no-explorer: only
the backend). Telemetry goes where the standard OpenTelemetry variables say:
  OTEL_EXPORTER_OTLP_ENDPOINT   base URL of an OTLP receiver (default: the explorer under `up`,
                                else http://localhost:4318)
  OTEL_EXPORTER_OTLP_PROTOCOL   http/protobuf (default, port 4318), grpc (port 4317) or http/json
  OTEL_EXPORTER_OTLP_HEADERS    key=value pairs sent with every export, e.g. an API key
  OTEL_EXPORTER_OTLP_COMPRESSION          gzip
  OTEL_EXPORTER_OTLP_CERTIFICATE          a CA (PEM) to trust besides the system's
  OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE   mutual TLS: certificate and key (PEM)
    and OTEL_EXPORTER_OTLP_CLIENT_KEY
  HTTPS_PROXY, NO_PROXY         honoured by OTLP/HTTP (not by the copy to the local explorer)
  OTEL_RESOURCE_ATTRIBUTES      extra resource attributes, e.g. service.namespace=alice
  OTEL_TRACES_SAMPLER(_ARG)     always_on, traceidratio + 0.25, ...
  OTEL_SDK_DISABLED=true        no telemetry at all
  TRACEDOJO_EXPLORER_ENDPOINT   an explorer's OTLP/HTTP URL that gets a copy of the spans
                                (without the headers above); `up` sets it itself
Or --to VENDOR (mackerel, newrelic, honeycomb, ...: see --to above), and check it first with
`tracedojo doctor --to VENDOR`.
Examples:
  Jaeger on this machine:  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 tracedojo up
  Mackerel:                MACKEREL_APIKEY=... tracedojo up --to mackerel
  A vendor (HTTPS + key):  OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.example.com \\
                           OTEL_EXPORTER_OTLP_HEADERS=api-key=YOUR_KEY tracedojo up";

#[derive(Debug, Parser)]
#[command(
    name = "tracedojo",
    version,
    about = "A traced demo shop for APM workshops and demos",
    long_about = "tracedojo runs a small online shop made of real microservices that send \
OpenTelemetry traces, metrics and logs over OTLP. Start everything with `tracedojo up`.",
    after_help = OTEL_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start every service of the shop, each as its own process, and supervise them.
    #[command(after_help = OTEL_HELP)]
    Up(UpArgs),
    /// Run one service of the shop in this process (what `up` and containers run).
    #[command(after_help = OTEL_HELP)]
    Service(Box<ServiceArgs>),
    /// Drive the shop with open-model traffic: user journeys at planned times, honest latency.
    #[command(after_help = LOAD_HELP)]
    Load(LoadArgs),
    /// List, set and clear faults (incidents) in a running shop, through its control API.
    #[command(after_help = FAULT_HELP)]
    Fault(FaultArgs),
    /// Run the explorer on its own: an OTLP receiver (gRPC and HTTP), a bounded trace store,
    /// and a web UI with a JSON API, for any application that speaks OTLP (`up` starts one).
    #[command(after_help = EXPLORE_HELP)]
    Explore(crate::explore::ExploreArgs),
    /// Check that the backend takes what the shop sends: one test span, metric point and log
    /// record to where the OTEL_* settings (or --to) point, and one line per signal saying
    /// what happened (delivered, key rejected, path wrong, TLS, timeout ...). Exits 0 only
    /// when every signal was delivered.
    #[command(after_help = DOCTOR_HELP)]
    Doctor(DoctorArgs),
    /// Hands-on lessons in Japanese and English: each sets its stage in the running shop and
    /// checks the participant's answer by reading the explorer, saying right or wrong and why.
    #[command(after_help = WORKSHOP_HELP)]
    Workshop(WorkshopArgs),
    /// Scripted demos for a booth: scenarios of acts (load, faults, captions and a talk track
    /// in Japanese and English) that loop on their own.
    #[command(after_help = SHOWCASE_HELP)]
    Showcase(Box<ShowcaseArgs>),
    /// The endpoints and queries most in need of work, ranked against latency and error
    /// objectives by their error-budget burn rates, each with why (example traces, where the
    /// time goes, database hints, first causes, the users hit, the handler's code); read from
    /// a running explorer, written as Markdown (ja/en) or JSON, posted to chat or a tracker.
    #[command(after_help = crate::report::REPORT_HELP)]
    Report(Box<crate::report::ReportArgs>),
    /// One trace in a few plain sentences (Japanese or English): what the user did, how long
    /// it took against its objective, where the time went, the first failure and its
    /// exception, who the user was, database hints; as text, Markdown, JSON or a chat post.
    #[command(after_help = crate::explain::EXPLAIN_HELP)]
    Explain(Box<crate::explain::ExplainArgs>),
}

const SHOWCASE_HELP: &str = "\
Examples:
  tracedojo showcase slow-payment          start the shop and play a built-in scenario for ever
  tracedojo showcase my.toml --attach      play a file of your own against a running `up`
  tracedojo showcase list                  the built-in scenarios and the length of a loop
  tracedojo showcase validate my.toml      check a scenario file of your own
While it plays, open the kiosk page it prints (full screen: F11). Presenter keys on the page:
space pauses and resumes, → or PageDown the next act, ← or PageUp the previous one, L switches
Japanese and English, T shows the talk track. Ctrl-C stops, clears the scenario's faults and
stops the shop it started.
`validate` exits 0 when the file is valid (a load this machine cannot give is a warning) and
2 when it is not, with one line naming the file, the line and the field.";

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ShowcaseArgs {
    #[command(subcommand)]
    pub action: Option<ShowcaseAction>,
    #[command(flatten)]
    pub play: PlayArgs,
    /// The language of titles, messages and the kiosk page: ja or en [default: from the
    /// locale (LANG)]
    #[arg(long, global = true, env = "TRACEDOJO_LANG")]
    pub lang: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ShowcaseAction {
    /// The built-in scenarios: name, title and how long one loop lasts.
    List,
    /// Check a scenario file: its shape, its acts' lengths, load, faults, where to look and
    /// both languages' texts.
    Validate {
        /// The scenario file (TOML).
        file: PathBuf,
    },
}

/// Playing a scenario: `tracedojo showcase SCENARIO`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// A built-in scenario (`tracedojo showcase list`) or a scenario file (TOML)
    #[arg(value_name = "SCENARIO|FILE")]
    pub scenario: Option<String>,
    /// Time compression: 4 plays every act in a quarter of its written length with four times
    /// its traffic (the same story, faster), from 0.1 to 100
    #[arg(long, default_value = "1", env = "TRACEDOJO_SHOWCASE_SPEED")]
    pub speed: f64,
    /// Stop after this many loops [default: play until stopped]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub loops: Option<u64>,
    /// Seeds the simulated shoppers, so every run plays the same traffic
    #[arg(long, default_value = "1", env = "TRACEDOJO_SHOWCASE_SEED")]
    pub seed: u64,
    /// Where the kiosk page listens; beyond loopback it needs --kiosk-token
    #[arg(long, default_value = "127.0.0.1:8097", env = "TRACEDOJO_KIOSK_LISTEN")]
    pub kiosk_listen: SocketAddr,
    /// A token (at least 16 characters) the kiosk page and its keys need, to listen beyond
    /// loopback; the page's printed URL carries it after `#`
    #[arg(long, env = "TRACEDOJO_KIOSK_TOKEN", hide_env_values = true)]
    pub kiosk_token: Option<String>,
    /// Play against a shop that is already running (`tracedojo up`), found through its data
    /// directory or --shop, --explorer and --control, instead of starting one
    #[arg(long)]
    pub attach: bool,
    /// Start from a clean state: empty the shop's databases first (the SQLite files in the
    /// data directory, or the shop's schemas in the PostgreSQL database of --database-url:
    /// the orders, the queue, carts and stock as new)
    #[arg(long, conflicts_with = "attach")]
    pub fresh: bool,
    /// With --attach: the shop's front door [default: what `up` wrote to its data directory]
    #[arg(long, requires = "attach", value_name = "URL")]
    pub shop: Option<String>,
    /// With --attach: the explorer [default: what `up` wrote to its data directory]
    #[arg(long, requires = "attach", value_name = "URL")]
    pub explorer: Option<String>,
    /// With --attach: the fault control API [default: what `up` wrote to its data directory]
    #[arg(long, requires = "attach", value_name = "URL")]
    pub control: Option<String>,
    /// The shop the showcase starts, with every flag of `tracedojo up` (its background load
    /// excepted: the acts give the traffic)
    #[command(flatten, next_help_heading = "The shop it starts (as `tracedojo up`)")]
    pub up: UpArgs,
}

const WORKSHOP_HELP: &str = "\
A lesson, start to end:
  tracedojo workshop list              the lessons, with your progress
  tracedojo workshop start 1           set lesson 1's stage and show it
  tracedojo workshop check 1 ANSWER    right or wrong, and where to look
  tracedojo workshop hint 1            one hint at a time
Run `tracedojo up` first (with --participant NAME when several people share one explorer or
backend); the workshop finds the shop, the explorer and the participant that `up` wrote to its
data directory, so the flags below are needed only to point elsewhere. Exit status of `check`:
0 right, 1 not right (yet), 2 the command could not run.
The facilitator's progress board:
  tracedojo workshop board --listen 0.0.0.0:8095 --board-token TOKEN     serve it; prints what to add
  tracedojo workshop check 1 ANSWER --board URL --board-code CODE  opt in: report to it
Nothing is reported anywhere without --board.";

#[derive(Debug, Args)]
pub struct WorkshopArgs {
    #[command(subcommand)]
    pub action: WorkshopAction,
    /// The language of lessons and messages: ja or en [default: from the locale (LANG)]
    #[arg(long, global = true, env = "TRACEDOJO_LANG")]
    pub lang: Option<String>,
    /// The running shop's explorer [default: what `up` wrote to the data directory, else
    /// http://127.0.0.1:8090]
    #[arg(long, global = true, env = "TRACEDOJO_EXPLORER_URL")]
    pub explorer: Option<String>,
    /// The running shop's fault control API [default: from `up`, else http://127.0.0.1:8089]
    #[arg(long, global = true, env = "TRACEDOJO_CONTROL_URL")]
    pub control: Option<String>,
    /// The control API's token, when it was started with one.
    #[arg(
        long,
        global = true,
        env = "TRACEDOJO_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The shop (its frontend) [default: from `up`, else http://127.0.0.1:8080]
    #[arg(long, global = true, env = "TRACEDOJO_TARGET")]
    pub shop: Option<String>,
    /// Your name, as given to `up --participant`: the checks read only your namespace's
    /// traces, and your stages differ from your neighbours' [default: from `up`]
    #[arg(long, global = true, env = "TRACEDOJO_PARTICIPANT")]
    pub participant: Option<String>,
    /// Where `up` keeps its data; the workshop keeps your progress there too.
    #[arg(
        long,
        global = true,
        env = "TRACEDOJO_DATA_DIR",
        default_value = "tracedojo-data"
    )]
    pub data_dir: std::path::PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum WorkshopAction {
    /// The lessons, with your progress.
    List,
    /// A lesson's text: goal, commands, where to look, the task and how to answer.
    Show { lesson: String },
    /// Set a lesson's stage in the running shop (faults, some traffic) and show the lesson.
    Start {
        lesson: String,
        #[command(flatten)]
        board: BoardReportArgs,
    },
    /// Check your answer (or, for the code lessons, your change).
    Check {
        lesson: String,
        /// The answer, in the form the lesson gives (several words need no quotes).
        answer: Vec<String>,
        #[command(flatten)]
        board: BoardReportArgs,
    },
    /// The lesson's next hint.
    Hint {
        lesson: String,
        #[command(flatten)]
        board: BoardReportArgs,
    },
    /// Forget your progress and clear the faults a stage set.
    Reset,
    /// Your progress: lessons passed, checks and hints used.
    Status,
    /// For the facilitator: serve a progress board for the room's screen, showing who is on
    /// which lesson and who has been stuck longest, fed by the participants who opt in
    /// (`--board URL --board-code CODE` on start, check and hint). Kept in memory only.
    Board {
        /// Address to listen on, HOST:PORT; 0.0.0.0:8095 lets participants' laptops reach it,
        /// and needs a token.
        #[arg(long, default_value = "127.0.0.1:8095", value_parser = listen_address)]
        listen: SocketAddr,
        /// The token the board's page needs to read it (at least 16 characters, e.g. from
        /// `openssl rand -hex 16`); required beyond loopback. Participants do not need it.
        #[arg(long, env = "TRACEDOJO_BOARD_TOKEN", hide_env_values = true)]
        board_token: Option<String>,
        /// The join code participants give with --board-code [default: six characters made
        /// up at start]
        #[arg(long)]
        code: Option<String>,
    },
}

/// Opting in to the facilitator's progress board: without `--board` nothing is sent anywhere.
#[derive(Debug, Args, Clone, Default)]
pub struct BoardReportArgs {
    /// Report this command's outcome (your name, the lesson, started, passed, wrong or hint)
    /// to the facilitator's progress board at URL, which `tracedojo workshop board` prints.
    #[arg(
        long = "board",
        env = "TRACEDOJO_BOARD",
        value_name = "URL",
        requires = "board_code"
    )]
    pub board: Option<String>,
    /// The board's join code, shown on the board.
    #[arg(
        long,
        env = "TRACEDOJO_BOARD_CODE",
        value_name = "CODE",
        hide_env_values = true
    )]
    pub board_code: Option<String>,
}

const DOCTOR_HELP: &str = "\
Examples:
  MACKEREL_APIKEY=... tracedojo doctor --to mackerel
  NEW_RELIC_LICENSE_KEY=... tracedojo doctor --to newrelic:eu
  OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.example.com OTEL_EXPORTER_OTLP_HEADERS=api-key=... tracedojo doctor
Without a backend it checks the local explorer (http://localhost:4318) that `up` would use.
Honours HTTPS_PROXY / NO_PROXY, OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY
and _COMPRESSION, as the services do.";

/// Where telemetry goes, by vendor name.
#[derive(Debug, Args, Clone, Default)]
pub struct BackendArgs {
    /// Send telemetry to a vendor's OTLP endpoint: mackerel, newrelic[:us|eu|jp],
    /// honeycomb[:us|eu], grafana-cloud, datadog, dynatrace, elastic, signoz:REGION, jaeger,
    /// tempo, otel-collector. Fills OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL and _HEADERS; the
    /// key is read from the vendor's own variable (e.g. MACKEREL_APIKEY), never from a flag.
    /// The README's "Vendor presets" table lists each vendor's variables.
    #[arg(long = "to", env = "TRACEDOJO_TO", value_name = "VENDOR")]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Longest wait for each signal's answer, in seconds.
    #[arg(long, default_value = "10", value_parser = clap::value_parser!(u64).range(1..=120))]
    pub timeout: u64,
}

const EXPLORE_HELP: &str = "\
Examples:
  tracedojo explore                                   UI on http://127.0.0.1:8090, OTLP on 4317/4318
  tracedojo explore --ui-address 127.0.0.1:0 --grpc-address 127.0.0.1:0 --http-address 127.0.0.1:0
  tracedojo explore --max-memory 2GiB --link Shop=http://127.0.0.1:8080
Then point any app at it: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
Listening beyond loopback (0.0.0.0:PORT) lets anyone who can reach this machine read the traces.";

const FAULT_HELP: &str = "\
Examples:
  tracedojo fault presets                      the named incidents
  tracedojo fault set slow-payment-gateway     start one
  tracedojo fault set gold-tier-errors --expires-in 600
  tracedojo fault set --spec '{\"fault\": {\"kind\": \"latency\", \"service\": \"cart\",
      \"distribution\": {\"type\": \"fixed\", \"ms\": 200}}}' --tier gold --probability 0.5
  tracedojo fault list
  tracedojo fault clear 3                      or: tracedojo fault clear --all
A spec is the JSON the control API takes (POST /api/faults); kinds: latency,
downstream_latency, query_latency, errors, retry_storm, unreachable, missing_index,
n_plus_one, lock_contention, cpu_burn, memory_leak, cache_failure, bad_release, async_backlog.
A spec targets users by baggage, e.g. \"target\": {\"attributes\": {\"tracedojo.user.tier\": \"gold\"}};
keys: tracedojo.user.tier, tracedojo.user.region, tracedojo.user.device, tracedojo.user.locale, tracedojo.user.company, user.id
(--tier, --region and --device set the first three).";

#[derive(Debug, Args)]
pub struct FaultArgs {
    #[command(subcommand)]
    pub action: FaultAction,
    /// The control API of the running shop (`tracedojo up` prints it).
    #[arg(
        long,
        global = true,
        env = "TRACEDOJO_CONTROL_URL",
        default_value = "http://127.0.0.1:8089"
    )]
    pub control: String,
    /// The control API's token, when it was started with one.
    #[arg(
        long,
        global = true,
        env = "TRACEDOJO_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FaultAction {
    /// The faults in force.
    List,
    /// The named incidents `set` accepts.
    Presets,
    /// Start a preset by name, or a fault from a JSON spec; targeting flags narrow it.
    Set(FaultSetArgs),
    /// Turn the reveal switch on (spans a fault touches say so from now on) or off.
    Reveal {
        #[arg(value_parser = ["on", "off"])]
        switch: String,
    },
    /// Serve the control API on its own (for services started one by one, e.g. in
    /// containers: give each `--faults-url` pointing here). `up` serves one itself.
    Serve {
        /// Address to listen on, HOST:PORT; beyond loopback it needs a token (--token).
        #[arg(long, default_value = "127.0.0.1:8089", value_parser = listen_address)]
        listen: std::net::SocketAddr,
        /// Mark spans that a fault touched with `tracedojo.fault.kind`.
        #[arg(long)]
        reveal_faults: bool,
    },
    /// Clear one fault by id, or every fault with --all.
    Clear {
        /// The id `list` shows.
        id: Option<u64>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct FaultSetArgs {
    /// A preset name (see `tracedojo fault presets`).
    #[arg(required_unless_present = "spec", conflicts_with = "spec")]
    pub preset: Option<String>,
    /// A fault spec in JSON, or @FILE to read it from a file.
    #[arg(long)]
    pub spec: Option<String>,
    /// Only requests of users in this tier (baggage `tracedojo.user.tier`: free, silver, gold,
    /// platinum).
    #[arg(long)]
    pub tier: Option<String>,
    /// Only requests of users in this region (baggage `tracedojo.user.region`, e.g. eu-west-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Only requests from this device (baggage `tracedojo.user.device`: desktop, mobile, tablet).
    #[arg(long)]
    pub device: Option<String>,
    /// Only requests to this route of the faulty service (e.g. /checkout).
    #[arg(long)]
    pub route: Option<String>,
    /// Only while the service runs this service.version.
    #[arg(long)]
    pub version: Option<String>,
    /// The share of targeted requests hit, from 0 to 1.
    #[arg(long, alias = "rate", value_parser = probability, allow_negative_numbers = true)]
    pub probability: Option<f64>,
    /// Clear it by itself after this many seconds (1 to 604800, a week).
    #[arg(long, value_name = "SECONDS", value_parser = expires_in, allow_negative_numbers = true)]
    pub expires_in: Option<u64>,
}

const LOAD_HELP: &str = "\
Examples:
  tracedojo load --rate 20 --duration 60                          20 journeys/s for a minute
  tracedojo load --file profile.toml --json run.json              settings from a file; figures kept
Several load generators, each playing its own share of the users (the same --seed and --users):
  tracedojo load --instance 1/2 --rate 50 --seed 7 --json a.json  on one host,
  tracedojo load --instance 2/2 --rate 50 --seed 7 --json b.json  on another: 100/s in all
  tracedojo load merge a.json b.json                              one summary of both";

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LoadArgs {
    #[command(subcommand)]
    pub action: Option<LoadAction>,
    /// A TOML profile file (profile, rate, duration_s, poisson, seed, users, instance, [mix]
    /// ...); flags given here win over it.
    #[arg(long, value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,
    /// The shop to drive (its frontend), local or remote [default: http://127.0.0.1:8080].
    #[arg(long, env = "TRACEDOJO_TARGET")]
    pub target: Option<String>,
    /// Shape of the load: constant, ramp, steps, diurnal or spike, around --rate
    /// [default: constant].
    #[arg(long)]
    pub profile: Option<String>,
    /// Journeys started per second (the profile's peak), 0.001 to 1000000 [default: 5].
    #[arg(long, allow_negative_numbers = true, value_parser = limits::parse_rate)]
    pub rate: Option<f64>,
    /// How long to run, in seconds, up to 31536000 (a year); 0 runs until --journeys have
    /// started [default: 60].
    #[arg(long, allow_negative_numbers = true, value_parser = duration)]
    pub duration: Option<u64>,
    /// Stop after this many journeys (whichever of this and --duration comes first).
    #[arg(long)]
    pub journeys: Option<u64>,
    /// Random (Poisson) arrivals instead of evenly spaced ones.
    #[arg(long)]
    pub poisson: bool,
    /// Seed for arrivals, users and journeys: the same seed gives the same plan [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Size of the simulated user population, 1 to 1000000 [default: 1000].
    #[arg(long, allow_negative_numbers = true, value_parser = users)]
    pub users: Option<u64>,
    /// Most journeys in flight at once, 1 to 100000; one that cannot start within 5 s is
    /// dropped [default: 1000].
    #[arg(long, allow_negative_numbers = true, value_parser = max_in_flight)]
    pub max_in_flight: Option<u64>,
    /// Threads sending requests, each with its own connections, 1 to 256 [default: one per
    /// core].
    #[arg(long, env = "TRACEDOJO_LOAD_WORKERS", allow_negative_numbers = true, value_parser = workers)]
    pub workers: Option<u64>,
    /// Longest think time between two steps of a journey, in milliseconds, 0 to 60000
    /// [default: 2000].
    #[arg(long, allow_negative_numbers = true, value_parser = think_max_ms)]
    pub think_max_ms: Option<u64>,
    /// Purchases paid with the declined test card, per thousand (0 to 1000); 0 gives a run
    /// without errors [default: 0].
    #[arg(long, allow_negative_numbers = true, value_parser = declined_per_mille)]
    pub declined_per_mille: Option<u32>,
    /// Send no trace context: no `loadgenerator` spans, only the user's baggage header.
    #[arg(long)]
    pub no_trace: bool,
    /// No progress line and no summary (for background use, as `up` runs it).
    #[arg(long)]
    pub quiet: bool,
    /// Write every figure of the run to this file as JSON (checked before the run starts),
    /// with the latency histograms themselves, so that `tracedojo load merge` can merge it.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Run as instance I of N load generators (e.g. 2/4, with 1 <= I <= N): each plays its own
    /// share of the seeded users (every Nth one), so N instances with the same --seed and
    /// --users together play the whole population, each user in one instance only, at arrival
    /// times and with journeys of their own. --rate stays this process's own: N instances at
    /// --rate R send N×R together. N may not exceed --users [default: 1/1, all the users].
    #[arg(long, value_name = "I/N", env = "TRACEDOJO_LOAD_INSTANCE", value_parser = instance)]
    pub instance: Option<Instance>,
}

#[derive(Debug, Subcommand)]
pub enum LoadAction {
    /// Merge the --json reports of several load generators (--instance I/N) into one.
    ///
    /// The reports must be instances of one run (the same --seed, --users and N): counts are
    /// summed, latency histograms added and percentiles taken from the sums (never averaged),
    /// and rates are over the span from the earliest start to the latest end. Prints the
    /// summary `tracedojo load` prints. Refuses reports of other runs and an instance given
    /// twice; warns when instances are missing and merges the rest.
    Merge(LoadMergeArgs),
}

#[derive(Debug, Args)]
pub struct LoadMergeArgs {
    /// The reports to merge, as `tracedojo load --json` (or an earlier merge) wrote them.
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<std::path::PathBuf>,
    /// Write the merged report to this file, in the same JSON shape, so merges can be merged.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
}

// clap value parsers for the numbers of `load`, with the ranges its profile files share.

fn duration(text: &str) -> Result<u64, String> {
    limits::DURATION_S.parse(text)
}

fn users(text: &str) -> Result<u64, String> {
    limits::USERS.parse(text)
}

fn max_in_flight(text: &str) -> Result<u64, String> {
    limits::MAX_IN_FLIGHT.parse(text)
}

fn workers(text: &str) -> Result<u64, String> {
    limits::WORKERS.parse(text)
}

fn think_max_ms(text: &str) -> Result<u64, String> {
    limits::THINK_MAX_MS.parse(text)
}

fn instance(text: &str) -> Result<Instance, String> {
    text.parse()
        .map_err(|_| format!("--instance takes {INSTANCE_FORM}"))
}

fn declined_per_mille(text: &str) -> Result<u32, String> {
    // In range, so at most 1000: it fits.
    limits::DECLINED_PER_MILLE.parse(text).map(|v| v as u32)
}

/// `up --load-rate`: the range of `load --rate`, and the way to have no load at all.
fn background_rate(text: &str) -> Result<f64, String> {
    limits::parse_rate(text).map_err(|why| format!("{why} (--no-load for none)"))
}

/// An IP address given without a port. `0.0.0.0:9109` is an easy slip where the port has a
/// flag of its own, so the error names that flag and the port to give it.
fn ip_without_port(text: &str, flag: &str, port_flag: &str) -> Result<IpAddr, String> {
    let text = text.trim();
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(ip);
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Err(format!(
            "{flag} takes an IP address without a port; give {flag} {} and the port with \
             {port_flag} {}",
            address.ip(),
            address.port()
        ));
    }
    Err(format!(
        "not an IP address; give one such as 127.0.0.1 (this machine only) or 0.0.0.0 (every \
         network interface), and the port with {port_flag}"
    ))
}

fn up_host(text: &str) -> Result<IpAddr, String> {
    ip_without_port(text, "--host", "--base-port")
}

fn control_address(text: &str) -> Result<IpAddr, String> {
    ip_without_port(text, "--control-address", "--control-port")
}

fn service_host(text: &str) -> Result<IpAddr, String> {
    ip_without_port(text, "--host", "--port")
}

/// `fault serve --listen`: an address with its port, the other way round from the flags above.
fn listen_address(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    match unbracketed.parse::<IpAddr>() {
        Ok(ip) => Err(format!(
            "--listen takes HOST:PORT; give a port too, e.g. --listen {}",
            SocketAddr::new(ip, 8089)
        )),
        Err(_) => {
            Err("not an address; give HOST:PORT such as 127.0.0.1:8089 (this machine only)".into())
        }
    }
}

/// `fault set --probability`: a share, so from 0 to 1.
fn probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("give the share of requests hit, from 0 to 1 (0.25 is one in four)".into()),
    }
}

/// `fault set --expires-in`: what the control API accepts.
fn expires_in(text: &str) -> Result<u64, String> {
    let max = tracedojo_faults::spec::MAX_EXPIRY_S;
    match text.trim().parse::<u64>() {
        Ok(seconds) if (1..=max).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "give whole seconds from 1 to {max} (a week); leave it out for no end"
        )),
    }
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Address every service listens on. Use 0.0.0.0 to reach the shop from other machines.
    #[arg(long, env = "TRACEDOJO_HOST", default_value = "127.0.0.1", value_parser = up_host)]
    pub host: IpAddr,
    /// First port: frontend gets it, the other services the next seven
    /// (catalog +1, cart +2, inventory +3, payment +4, checkout +5, shipping +6, recommendation +7).
    /// 0 picks free ports.
    #[arg(long, env = "TRACEDOJO_BASE_PORT", default_value = "8080", value_parser = parse_port)]
    pub base_port: u16,
    /// Directory for the SQLite databases (one file per service) and the shop's address
    /// book; created if missing.
    #[arg(long, env = "TRACEDOJO_DATA_DIR", default_value = "tracedojo-data")]
    pub data_dir: PathBuf,
    /// Run the shop on PostgreSQL instead of SQLite: postgres://USER:PASSWORD@HOST:5432/DATABASE.
    /// Every service keeps its tables in a schema named after it (catalog, cart, checkout,
    /// inventory, shipping, queue), so the shop's spans say db.system.name=postgresql. The
    /// database must exist; `up` waits up to 30 s for the server to take connections.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Use an already running service instead of starting ours, e.g. `--external payment=http://10.0.0.5:9000`.
    /// Repeat for several. Your own service then joins the shop's traces.
    #[arg(long = "external", value_name = "NAME=URL")]
    pub external: Vec<String>,
    /// Do not start the gentle background load (by default simulated users shop a little, so
    /// traces appear without anyone clicking).
    #[arg(long, env = "TRACEDOJO_NO_LOAD")]
    pub no_load: bool,
    /// Journeys per second of the background load, 0.001 to 1000000.
    #[arg(long, default_value = "1", env = "TRACEDOJO_LOAD_RATE",
        allow_negative_numbers = true, value_parser = background_rate)]
    pub load_rate: f64,
    /// Show each service's info-level logs (by default only warnings and errors).
    #[arg(long, short)]
    pub verbose: bool,
    /// Address of the fault control API (its port: --control-port); it listens on loopback
    /// unless you give a token.
    #[arg(long, env = "TRACEDOJO_CONTROL_ADDRESS", default_value = "127.0.0.1",
        value_parser = control_address)]
    pub control_address: IpAddr,
    /// Port of the fault control API [default: base port + 9, or a free one with --base-port 0].
    #[arg(long, env = "TRACEDOJO_CONTROL_PORT", value_parser = parse_port)]
    pub control_port: Option<u16>,
    /// Token the control API requires (`Authorization: Bearer TOKEN`); needed to listen
    /// beyond loopback. At least 16 characters.
    #[arg(long, env = "TRACEDOJO_CONTROL_TOKEN", hide_env_values = true)]
    pub control_token: Option<String>,
    /// Mark spans that a fault touched with `tracedojo.fault.kind` (for a facilitator's reveal;
    /// by default faults show only through their symptoms).
    #[arg(long, env = "TRACEDOJO_REVEAL_FAULTS")]
    pub reveal_faults: bool,
    /// Do not start the explorer (the built-in trace store and web UI). Traces then go only
    /// to OTEL_EXPORTER_OTLP_ENDPOINT, or to the standard http://localhost:4318 when unset.
    #[arg(long, env = "TRACEDOJO_NO_EXPLORER")]
    pub no_explorer: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Do not check the backend before starting (by default, when a backend is set, `up`
    /// sends it one test span, metric point and log record first, as `tracedojo doctor` does,
    /// and says in one line whether it took them).
    #[arg(long, env = "TRACEDOJO_SKIP_DOCTOR")]
    pub skip_doctor: bool,
    /// Port of the explorer's web UI and JSON API [default: base port + 10, i.e. 8090, or a
    /// free one with --base-port 0].
    #[arg(long, env = "TRACEDOJO_EXPLORER_PORT", value_name = "PORT", value_parser = parse_port)]
    pub explorer_port: Option<u16>,
    /// Port of the explorer's OTLP/gRPC receiver, for other apps [default: 4317, or a free one
    /// with --base-port 0 or when 4317 is busy and OTEL_EXPORTER_OTLP_ENDPOINT is set].
    #[arg(long, env = "TRACEDOJO_EXPLORER_GRPC_PORT", value_name = "PORT", value_parser = parse_port)]
    pub explorer_grpc_port: Option<u16>,
    /// Port of the explorer's OTLP/HTTP receiver, where the services send [default: 4318, or
    /// a free one as for --explorer-grpc-port].
    #[arg(long, env = "TRACEDOJO_EXPLORER_HTTP_PORT", value_name = "PORT", value_parser = parse_port)]
    pub explorer_http_port: Option<u16>,
    /// Most spans the explorer keeps; when full, the oldest traces go first (at least 1000).
    #[arg(long, env = "TRACEDOJO_EXPLORER_MAX_SPANS", value_name = "COUNT",
        default_value_t = crate::explore::DEFAULT_MAX_SPANS, value_parser = crate::explore::parse_count)]
    pub explorer_max_spans: usize,
    /// Most memory the explorer's stored spans take, e.g. 512MiB or 2GB; a booth demo running
    /// for days stays within it.
    #[arg(long, env = "TRACEDOJO_EXPLORER_MAX_MEMORY", value_name = "SIZE",
        default_value = crate::explore::DEFAULT_MAX_MEMORY, value_parser = crate::explore::parse_size)]
    pub explorer_max_memory: usize,
    /// The attribute that names a request's customer, for the explorer's Customers view (the
    /// shop's users carry their company in it); the same as `tracedojo explore
    /// --customer-attribute`.
    #[arg(long, env = "TRACEDOJO_EXPLORER_CUSTOMER_ATTRIBUTE", value_name = "KEY",
        default_value = tracedojo_explorer::server::DEFAULT_CUSTOMER_ATTRIBUTE,
        value_parser = crate::explore::parse_attribute_key)]
    pub explorer_customer_attribute: String,
    /// Rows of finished work each service keeps per table (orders, reservations, shipments,
    /// cart lines); older ones are deleted about once a minute, so a booth running for days
    /// keeps a data directory of bounded size. At least 1000.
    #[arg(long, env = "TRACEDOJO_KEEP_ROWS", value_name = "ROWS",
        default_value_t = tracedojo_kit::db::retention::DEFAULT_KEEP_ROWS,
        value_parser = tracedojo_kit::db::retention::parse_keep_rows)]
    pub keep_rows: u64,
    /// Your name in a workshop where many people send to one backend account: every
    /// service reports it as `service.namespace`, so you can filter to your own run (`up`
    /// prints how). 1 to 32 ASCII letters, digits, '-', '_' or '.', starting and ending with
    /// a letter or digit. It wins over service.namespace in OTEL_RESOURCE_ATTRIBUTES.
    // Checked by `up` itself, not by clap: clap's message would repeat the whole value
    // first, and a name pasted wrong can be long.
    #[arg(long, env = tracedojo_kit::participant::ENV, value_name = "NAME")]
    pub participant: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The service to run: frontend, catalog, cart, checkout, payment, inventory, recommendation or shipping.
    pub name: String,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Address to listen on (its port: --port).
    #[arg(long, env = "TRACEDOJO_HOST", default_value = "127.0.0.1", value_parser = service_host)]
    pub host: IpAddr,
    /// Port to listen on (default: the service's own, e.g. 8081 for catalog; 0 picks a free one).
    #[arg(long, env = "PORT", value_parser = parse_port)]
    pub port: Option<u16>,
    /// Directory for the SQLite databases; created if missing.
    #[arg(long, env = "TRACEDOJO_DATA_DIR", default_value = "tracedojo-data")]
    pub data_dir: PathBuf,
    /// This service's database (default: sqlite://DATA_DIR/NAME.db). A PostgreSQL URL,
    /// postgres://USER:PASSWORD@HOST:5432/DATABASE, keeps the service's tables in a schema
    /// named after it, so every service can be given the same URL; add ?sslmode=require for
    /// a server reached over TLS (a managed database).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The order queue shared by checkout and shipping (default: the PostgreSQL database of
    /// --database-url, schema `queue`; else sqlite://DATA_DIR/queue.db).
    #[arg(long, env = "QUEUE_URL", hide_env_values = true)]
    pub queue_url: Option<String>,
    /// Median latency of the simulated payment gateway, in milliseconds (payment only).
    #[arg(long, env = "PAYMENT_MEDIAN_LATENCY_MS", default_value = "25")]
    pub payment_median_latency_ms: u64,
    /// How often the inventory's supplier refills products running low, in milliseconds
    /// (inventory only).
    #[arg(long, env = "INVENTORY_RESTOCK_INTERVAL_MS", default_value = "10000", value_parser = clap::value_parser!(u64).range(10..))]
    pub restock_interval_ms: u64,
    /// Rows of finished work kept per table: orders (checkout), reservations (inventory),
    /// shipments (shipping) and cart lines (cart). Older rows are deleted, oldest first, about
    /// once a minute, so a shop running for days (a booth) keeps a data directory of bounded
    /// size. At least 1000.
    #[arg(long, env = "TRACEDOJO_KEEP_ROWS", value_name = "ROWS",
        default_value_t = tracedojo_kit::db::retention::DEFAULT_KEEP_ROWS,
        value_parser = tracedojo_kit::db::retention::parse_keep_rows)]
    pub keep_rows: u64,
    /// How often rows beyond --keep-rows are deleted, in milliseconds; shorter only for tests
    /// and benchmarks.
    #[arg(long, env = "TRACEDOJO_PRUNE_EVERY_MS", value_name = "MS", default_value = "60000",
        value_parser = clap::value_parser!(u64).range(10..))]
    pub prune_every_ms: u64,
    /// The fault control API to follow (`tracedojo up` passes its own); none: no faults.
    #[arg(long, env = "TRACEDOJO_FAULTS_URL")]
    pub faults_url: Option<String>,
    /// The explorer's web UI, which the shop page links to for its traces (frontend only;
    /// `up` passes its own). None: no links.
    #[arg(long, env = "TRACEDOJO_EXPLORER_URL")]
    pub explorer_url: Option<String>,
    /// The `service.version` this process reports (a new one is a new release).
    #[arg(long, env = "TRACEDOJO_SERVICE_VERSION", default_value = env!("CARGO_PKG_VERSION"))]
    pub service_version: String,
    /// Let a newer process of this service listen on the same port while this one finishes
    /// its requests (SO_REUSEPORT; Unix only, ignored elsewhere). `up` sets it, so that a
    /// redeploy (a bad_release fault, and its rollback) refuses no connection.
    #[arg(long, env = "TRACEDOJO_SHARE_PORT")]
    pub share_port: bool,
    #[command(flatten)]
    pub peers: PeerUrls,
}

/// Where each service is reached. Every service reads only the ones it calls.
#[derive(Debug, Args, Clone)]
pub struct PeerUrls {
    #[arg(long, env = "CATALOG_URL", default_value = "http://127.0.0.1:8081")]
    pub catalog_url: String,
    #[arg(long, env = "CART_URL", default_value = "http://127.0.0.1:8082")]
    pub cart_url: String,
    #[arg(long, env = "INVENTORY_URL", default_value = "http://127.0.0.1:8083")]
    pub inventory_url: String,
    #[arg(long, env = "PAYMENT_URL", default_value = "http://127.0.0.1:8084")]
    pub payment_url: String,
    #[arg(long, env = "CHECKOUT_URL", default_value = "http://127.0.0.1:8085")]
    pub checkout_url: String,
    #[arg(long, env = "SHIPPING_URL", default_value = "http://127.0.0.1:8086")]
    pub shipping_url: String,
    #[arg(
        long,
        env = "RECOMMENDATION_URL",
        default_value = "http://127.0.0.1:8087"
    )]
    pub recommendation_url: String,
}
