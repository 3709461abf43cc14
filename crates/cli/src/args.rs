//! Command-line arguments, as clap parses them.
//!
//! These are raw values; `settings` turns them, the config file and the
//! environment into what the commands run with.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "idaudit",
    version,
    about = "Self-hosted identity audit agent for Okta",
    after_help = "Examples:\n  idaudit demo                      Run every stage on a built-in simulated org\n  idaudit sync                      Copy the directory of the configured org\n  idaudit logs pull --since 7d      Backfill a week of System Log\n  idaudit logs import events.jsonl  Import an exported System Log file\n  idaudit detect --format json      Run the rules and print alerts as JSON Lines"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file [default: ./idaudit.toml when it exists]
    #[arg(long, global = true, env = "IDAUDIT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Store file [default: `store` in the config, else ./idaudit.db]
    #[arg(long, global = true, env = "IDAUDIT_STORE")]
    pub store: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log output on stderr (errors only)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// When to use colour on stderr
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum Format {
    #[default]
    Table,
    /// JSON Lines, one object per line with a `type` field
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every stage on a built-in simulated org and write the results to a folder
    #[command(after_help = "Example:\n  idaudit demo --out ./idaudit-demo --seed 7")]
    Demo(DemoArgs),

    /// Serve a simulated Okta org on loopback for testing integrations
    #[command(after_help = "Example:\n  idaudit sim --port 8099 --users 5000")]
    Sim(SimArgs),

    /// Copy users, groups, memberships, apps, assignments, roles and factors into the store
    #[command(
        after_help = "The first sync of an org is full; later ones read only what changed, and a full\nsync runs again when the last is older than --reconcile-after.\n\nExamples:\n  idaudit sync\n  idaudit sync --full"
    )]
    Sync(SyncArgs),

    /// Show a user's current access: groups, apps and how each was granted, roles, factors
    #[command(
        after_help = "Examples:\n  idaudit access jdoe@example.com\n  idaudit access 00u1abcd --format json"
    )]
    Access(AccessArgs),

    /// List recorded entitlement changes: memberships, assignments, roles, factors, status
    #[command(
        after_help = "Examples:\n  idaudit changes --since 7d\n  idaudit changes --since 2026-11-01T00:00:00Z --user jdoe@example.com --format json"
    )]
    Changes(ChangesArgs),

    /// Check the connection to Okta: token, scopes, admin role, clock and rate limits
    Doctor(DoctorArgs),

    /// System Log: backfill from Okta or import exported files
    #[command(subcommand)]
    Logs(LogsCommand),

    /// Run the detection rules over stored events and print the alerts
    Detect(DetectArgs),

    /// Stored alerts: list, show, acknowledge, close
    #[command(subcommand)]
    Alerts(AlertsCommand),

    /// Detection rules: list them, or try one on a file of events
    #[command(subcommand)]
    Rules(RulesCommand),

    /// Access-certification campaigns
    #[command(subcommand)]
    Review(ReviewCommand),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the store, alerts and review packages
    #[arg(long, default_value = "idaudit-demo")]
    pub out: PathBuf,

    /// Seed of the simulated org; the same seed gives the same org
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Users in the simulated org
    #[arg(long, default_value_t = 2000)]
    pub users: usize,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 to listen on (0 picks a free one)
    #[arg(long, default_value_t = 8099)]
    pub port: u16,

    /// Seed of the generated org
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Users in the generated org
    #[arg(long, default_value_t = 2000)]
    pub users: usize,

    /// Groups in the generated org
    #[arg(long, default_value_t = 150)]
    pub groups: usize,

    /// Apps in the generated org
    #[arg(long, default_value_t = 40)]
    pub apps: usize,

    /// Days of System Log to generate
    #[arg(long, default_value_t = 30)]
    pub days: u32,

    /// Rate limits: Okta's Workforce limits per minute, the same per second, or none
    #[arg(long, value_enum, default_value_t = SimRateLimits::Okta)]
    pub rate_limits: SimRateLimits,

    /// Folder for the client keys, secrets and the scenario ground truth
    #[arg(long, default_value = "idaudit-sim")]
    pub out: PathBuf,

    /// Require DPoP from the service app, as Okta does for apps created since 2024
    #[arg(long)]
    pub dpop: bool,

    #[command(flatten)]
    pub faults: SimFaultArgs,

    /// Deliver new System Log events to this event-hook URL (loopback or HTTPS)
    #[arg(long)]
    pub hook_url: Option<String>,

    /// Environment variable holding the `Authorization` value sent to the hook
    #[arg(long, requires = "hook_url")]
    pub hook_secret_env: Option<String>,
}

/// Faults the simulator injects, all off by default.
#[derive(Debug, Args)]
#[command(next_help_heading = "Faults")]
pub struct SimFaultArgs {
    /// Reject this many requests from the start with 429
    #[arg(long, default_value_t = 0)]
    pub rate_limit_burst: u32,

    /// Reject requests with a concurrency 429 above this many in flight
    #[arg(long)]
    pub concurrency_limit: Option<usize>,

    /// Share of requests, from 0 to 1, that fail with 500
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,

    /// Added latency per request, up to this many milliseconds
    #[arg(long)]
    pub latency_ms: Option<u64>,

    /// Cut off the body of every Nth management API response
    #[arg(long)]
    pub drop_body_every: Option<u32>,

    /// Repeat the last event of a full System Log polling page on the next page
    #[arg(long)]
    pub duplicate_events: bool,

    /// Store every Nth System Log event late, out of `published` order
    #[arg(long)]
    pub late_events_every: Option<usize>,

    /// Send unknown enum values and "null" strings in some objects
    #[arg(long)]
    pub odd_values: bool,

    /// Send a `next` link after the last page of the groups listing
    #[arg(long)]
    pub groups_next_after_last_page: bool,

    /// Seconds added to the server clock in `Date` and `X-Rate-Limit-Reset`
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub clock_skew: i64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SimRateLimits {
    /// Okta's Workforce limits over 60-second windows
    Okta,
    /// The same limits over 1-second windows
    Fast,
    /// No rate limits
    Off,
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Backfill System Log events published in a time range
    #[command(
        after_help = "Examples:\n  idaudit logs pull --since 30d\n  idaudit logs pull --since 2026-11-01T00:00:00Z --until 2026-11-02T00:00:00Z"
    )]
    Pull(PullArgs),

    /// Import exported System Log files (JSON array, JSON Lines, API pages, gzip)
    #[command(
        after_help = "Exit status is 1 when any record was rejected.\n\nExamples:\n  idaudit logs import export.json\n  zcat events.jsonl.gz | idaudit logs import -"
    )]
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Start: RFC 3339 time or a duration back from now (`7d`, `12h`, `30m`)
    #[arg(long)]
    pub since: String,

    /// End: RFC 3339 time or a duration back from now [default: now]
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import; `-` reads standard input
    #[arg(required = true)]
    pub files: Vec<PathBuf>,

    /// Org the events belong to [default: the configured org, else `imported`]
    #[arg(long)]
    pub org: Option<String>,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Only events published at or after this time (RFC 3339 or `7d`)
    #[arg(long)]
    pub since: Option<String>,

    /// Only events published before this time (RFC 3339 or `7d`)
    #[arg(long)]
    pub until: Option<String>,

    /// Folder of extra Sigma rules (`.yml`), added to the built-in pack; repeatable
    #[arg(long = "rules")]
    pub rule_dirs: Vec<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// List stored alerts, oldest first
    List(AlertsListArgs),
    /// Show one alert with its details and evidence
    Show(AlertIdArgs),
    /// Mark an alert as acknowledged
    Ack(AlertIdArgs),
    /// Mark an alert as closed
    Close(AlertIdArgs),
}

#[derive(Debug, Args)]
pub struct AlertIdArgs {
    /// Alert id, or a unique prefix of it
    pub id: String,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules that `detect` runs
    List(RulesListArgs),
    /// Validate a rule file (or folder) and run it over a file of events
    #[command(
        after_help = "EVENTS is a JSON array of LogEvents or JSON Lines.\n\nExample:\n  idaudit rules test my-rule.yml events.jsonl"
    )]
    Test(RulesTestArgs),
}

#[derive(Debug, Args)]
pub struct RulesListArgs {
    /// Folder of extra Sigma rules to list with the built-in pack; repeatable
    #[arg(long = "rules")]
    pub rule_dirs: Vec<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct RulesTestArgs {
    /// Sigma rule file, or a folder of them
    pub rule: PathBuf,
    /// Events file: a JSON array or JSON Lines
    pub events: PathBuf,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct AlertsListArgs {
    /// Only alerts with this status
    #[arg(long, value_enum)]
    pub status: Option<AlertStatusArg>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AlertStatusArg {
    Open,
    Acknowledged,
    Closed,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Snapshot app assignments into a new campaign, one reviewer per user's manager
    #[command(
        after_help = "Examples:\n  idaudit review start --name \"Q4 Salesforce\" --app Salesforce\n  idaudit review start --name \"Q4 all apps\""
    )]
    Start(ReviewStartArgs),

    /// Write a campaign's packages: CSV and HTML per reviewer, and JSON
    Export(ReviewExportArgs),
}

#[derive(Debug, Args)]
pub struct ReviewStartArgs {
    /// Campaign name
    #[arg(long)]
    pub name: String,

    /// App id or label to review; repeat for several [default: every app]
    #[arg(long = "app")]
    pub apps: Vec<String>,

    /// Org to review [default: the configured org, or the only synced one]
    #[arg(long)]
    pub org: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReviewExportArgs {
    /// Campaign id [default: the newest]
    #[arg(long)]
    pub campaign: Option<i64>,

    /// Folder to write the packages into
    #[arg(long, default_value = "review-packages")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Run a full sync even when an incremental one would do
    #[arg(long)]
    pub full: bool,

    /// Run a full sync when the last one is older than this (`7d`, `36h`), to find deletions
    #[arg(long, env = "IDAUDIT_SYNC_RECONCILE_AFTER", default_value = "7d")]
    pub reconcile_after: String,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// User id or login
    pub user: String,

    /// Org to read [default: the configured org, or the only synced one]
    #[arg(long)]
    pub org: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ChangesArgs {
    /// Start: RFC 3339 time or a duration back from now (`7d`, `12h`, `30m`)
    #[arg(long, default_value = "7d")]
    pub since: String,

    /// End: RFC 3339 time or a duration back from now [default: now]
    #[arg(long)]
    pub until: Option<String>,

    /// Only changes of this user (id or login)
    #[arg(long)]
    pub user: Option<String>,

    /// Org to read [default: the configured org, or every org]
    #[arg(long)]
    pub org: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}
