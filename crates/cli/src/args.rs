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
    #[command(
        after_help = "Examples:\n  idaudit sim --port 8099 --users 5000\n  idaudit sim --scenarios brute_force,password_spray\n  idaudit sim --users 50000 --groups 5000 --apps 1000 --memberships 500000 --rate-limits off"
    )]
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

    /// System Log: backfill, follow continuously, or import exported files
    #[command(subcommand)]
    Logs(LogsCommand),

    /// Write stored System Log events to the Parquet archive, then apply the local retention
    #[command(
        after_help = "The archive is set in the `[archive]` section of `idaudit.toml`: `location` is a\nfolder or `s3://bucket/prefix`, `keep_days` deletes archived events older than\nthat from the store. S3 credentials come from the standard AWS environment\nvariables.\n\nExamples:\n  idaudit archive\n  idaudit archive --to ./archive --keep-days 90\n  idaudit archive --to s3://audit-bucket/okta --format json"
    )]
    Archive(ArchiveArgs),

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

    /// Identity posture checks over the synced store
    #[command(subcommand)]
    Audit(AuditCommand),

    /// Serve the Okta event-hook endpoint and health check, optionally polling the System Log too
    #[command(
        after_help = "The hook secret is the value Okta sends in the hook's authorization header. It is
read from `hook_secret_file` in the `[server]` section of `idaudit.toml`, or from
IDAUDIT_HOOK_SECRET; without one the hook endpoint is off. Okta only calls HTTPS
URLs, so put a TLS reverse proxy in front of this server.

Examples:
  idaudit serve --bind 127.0.0.1:8080
  IDAUDIT_HOOK_SECRET=\"$(cat hook-secret)\" idaudit serve --follow"
    )]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: `bind` in `[server]`, else 127.0.0.1:8080]
    #[arg(long)]
    pub bind: Option<String>,

    /// Also poll the System Log, as `idaudit logs follow` does
    #[arg(long)]
    pub follow: bool,

    #[command(flatten)]
    pub stream: StreamArgs,
}

/// Settings shared by `logs follow` and `serve`.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Time between System Log requests once caught up (`15s`, `500ms`) [default: `poll_interval` in `[logs]`, else 15s]
    #[arg(long)]
    pub poll_interval: Option<String>,

    /// How far back the first run starts, at most `90d` [default: `backfill` in `[logs]`, else 7d]
    #[arg(long)]
    pub backfill: Option<String>,

    /// Folder of extra Sigma rules (`.yml`), added to the built-in pack; repeatable
    #[arg(long = "rules")]
    pub rule_dirs: Vec<PathBuf>,

    /// Store events without running detection on them, except the events of workflows with a `detect` action
    #[arg(long)]
    pub no_detect: bool,
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

    /// Group memberships to aim for; resizes the team and project groups [default: 4 to
    /// 20 members per team group, 5 to 30 per project group]
    #[arg(long)]
    pub memberships: Option<usize>,

    /// Labelled scenarios to inject, comma-separated [default: all]
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        value_parser = scenario_names(),
        conflicts_with = "no_scenarios"
    )]
    pub scenarios: Vec<String>,

    /// Inject no labelled scenarios: benign traffic only
    #[arg(long)]
    pub no_scenarios: bool,

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

/// Accepts the scenario kinds of the simulator by name; `--help` and errors list them.
fn scenario_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        idaudit_okta_sim::ScenarioKind::ALL.map(idaudit_okta_sim::ScenarioKind::as_str),
    )
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

    /// Poll the System Log continuously, storing each page with its `next` link
    #[command(
        after_help = "The first run of an org reads back the backfill window; later runs resume from
the saved position, so a restart neither skips nor repeats events. Detection runs
on each stored page and alerts go to the configured sinks. Stops cleanly on
Ctrl-C or SIGTERM.

Examples:
  idaudit logs follow
  idaudit logs follow --backfill 30d --poll-interval 30s -v"
    )]
    Follow(StreamArgs),
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
pub struct ArchiveArgs {
    /// Archive location, a folder or `s3://bucket/prefix` [default: `location` in `[archive]`]
    #[arg(long, value_name = "LOCATION")]
    pub to: Option<String>,

    /// Delete archived events published more than this many days ago from the store
    /// [default: `keep_days` in `[archive]`, else keep them]
    #[arg(long, value_name = "DAYS")]
    pub keep_days: Option<u32>,

    /// Output format of the summary on stdout
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
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
        after_help = "Examples:\n  idaudit review start --name \"Q4 Salesforce\" --app Salesforce\n  idaudit review start --name \"Q4 all apps\" --due 2026-12-31\n  idaudit review start --name \"Finance\" --groups Finance --reviewer user:cfo@example.com \\\n      --sod-conflict \"Payroll=Vendor Payments\""
    )]
    Start(ReviewStartArgs),

    /// Write a campaign's packages: CSV and HTML per reviewer, and JSON
    Export(ReviewExportArgs),

    /// Import decisions from an edited workbook (XLSX) or CSV package
    #[command(
        after_help = "Every row is checked first: an unknown item, a changed user or app, an item listed\ntwice, a decision on another reviewer's item or a value other than keep or revoke\nrejects the whole file, with the row of each problem, and nothing is stored.\n\nExamples:\n  idaudit review decide --file review-packages/campaign-1.xlsx\n  idaudit review decide --file boss@example.com.csv --reviewer boss@example.com"
    )]
    Decide(ReviewDecideArgs),

    /// Plan the revocations of the decisions, and make them with --apply
    #[command(
        after_help = "A direct assignment is unassigned from the user; an app that comes through a group\nis revoked by removing the user from the group. Without --apply nothing is sent to\nOkta. --apply needs the scopes okta.groups.manage and okta.apps.manage; each change\nis read back to verify it, and the proof is recorded.\n\nExit status is 1 when a step failed.\n\nExamples:\n  idaudit review remediate\n  idaudit review remediate --apply"
    )]
    Remediate(ReviewRemediateArgs),

    /// Close a campaign and write its auditor package, a folder and a zip
    #[command(
        after_help = "Run `idaudit sync` after remediation and before closing: the completion snapshot\nis taken from the synced directory.\n\nExample:\n  idaudit review close --out audit"
    )]
    Close(ReviewCloseArgs),

    /// Compare an Okta app assignment report (CSV) with the synced entitlements
    #[command(
        after_help = "Reads the CSV of the Admin Console's Current Assignments or User App Access report\nand lists assignments only in Okta, only in the report, or granted differently\n(directly or through another group). Exit status is 1 when there are differences.\n\nExample:\n  idaudit review compare --report current-assignments.csv --format json"
    )]
    Compare(ReviewCompareArgs),

    /// Check that an auditor package (folder or zip) is unchanged since closing
    #[command(
        after_help = "Exit status is 1 when any file, the manifest, or the recorded hashes do not match.\n\nExamples:\n  idaudit review verify audit/campaign-1-audit\n  idaudit review verify audit/campaign-1-audit.zip --root 3f2a…"
    )]
    Verify(ReviewVerifyArgs),
}

#[derive(Debug, Args)]
pub struct ReviewDecideArgs {
    /// Edited workbook (`.xlsx`) or CSV package
    #[arg(long)]
    pub file: PathBuf,

    /// Campaign id [default: the newest]
    #[arg(long)]
    pub campaign: Option<i64>,

    /// Accept only decisions on this reviewer's items
    #[arg(long, value_name = "LOGIN")]
    pub reviewer: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReviewRemediateArgs {
    /// Campaign id [default: the newest]
    #[arg(long)]
    pub campaign: Option<i64>,

    /// Make the planned changes in Okta; without it, only print the plan
    #[arg(long)]
    pub apply: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ReviewCloseArgs {
    /// Campaign id [default: the newest]
    #[arg(long)]
    pub campaign: Option<i64>,

    /// Folder to write the auditor package into
    #[arg(long, default_value = "audit-packages")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReviewCompareArgs {
    /// Report export (CSV)
    #[arg(long)]
    pub report: PathBuf,

    /// Org to compare with [default: the configured org, or the only synced one]
    #[arg(long)]
    pub org: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ReviewVerifyArgs {
    /// Auditor package: its folder or its zip
    pub package: PathBuf,

    /// Root hash recorded at closing [default: the one in the store, if it has the campaign]
    #[arg(long)]
    pub root: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReviewStartArgs {
    /// Campaign name
    #[arg(long)]
    pub name: String,

    /// App id or label to review; repeat or separate with commas [default: every app]
    #[arg(long = "app", visible_alias = "apps", value_delimiter = ',')]
    pub apps: Vec<String>,

    /// Only access granted through these groups (ids or names); repeat or separate with commas
    #[arg(long = "group", visible_alias = "groups", value_delimiter = ',')]
    pub groups: Vec<String>,

    /// Who reviews: `manager`, `group-owner` (the manager for direct assignments), `app-owner`
    /// (from `[review.app_owners]` in the config), or `user:LOGIN`
    #[arg(long, default_value = "manager")]
    pub reviewer: String,

    /// Date by which reviewers should decide (`YYYY-MM-DD`), shown in the packages
    #[arg(long)]
    pub due: Option<String>,

    /// Flag users with no sign-in for this many days as inactive
    #[arg(long, default_value_t = 90)]
    pub inactive_days: i64,

    /// Two apps one user should not hold together, as `App A=App B`; repeatable
    #[arg(long = "sod-conflict", value_name = "APP=APP")]
    pub sod_conflicts: Vec<String>,

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

    /// Sync only this org, by its name in `[[orgs]]` or its host [default: every configured org]
    #[arg(long)]
    pub org: Option<String>,
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
    /// Check only this org, by its name in `[[orgs]]` or its host [default: every configured org]
    #[arg(long)]
    pub org: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Report MFA coverage, inactive users, admins, users without a manager and unused apps
    #[command(
        after_help = "Reads the synced directory and the stored `user.authentication.sso` events; run\n`idaudit sync` and `idaudit logs pull` first.\n\nExamples:\n  idaudit audit posture\n  idaudit audit posture --inactive-days 60 --out ./posture\n  idaudit audit posture --format csv > posture.csv"
    )]
    Posture(AuditPostureArgs),

    /// List users deactivated or suspended in a window who kept access past the deadline
    #[command(
        after_help = "A leaver comes from a `user.lifecycle.deactivate` or `user.lifecycle.suspend`\nevent, or from a status change recorded by `idaudit sync`. A violation is access\nstill held after the deadline, or removed only after it. The policy decides\nwhether memberships and suspended users count (by default neither does, as Okta\nkeeps both by design) and whether a deactivation long after the last sign-in is\na violation; see docs/examples/policy.toml.\n\nExamples:\n  idaudit audit leavers --since 30d\n  idaudit audit leavers --since 30d --policy policy.toml --out ./leavers\n  idaudit audit leavers --since 2026-11-01T00:00:00Z --deadline-hours 8 --format json"
    )]
    Leavers(AuditLeaversArgs),

    /// Check users created or activated in a window against the birthright policy
    #[command(
        after_help = "For each joiner: the timeline, the groups and apps the policy expects of the\nprofile against what the user holds, the hours from activation to that access,\nand violations. Okta's active group rules are evaluated too. Reads the synced\ndirectory and the stored System Log; run `idaudit sync` and `idaudit logs pull`\nfirst. docs/examples/policy.toml is a policy for the simulated org.\n\nExamples:\n  idaudit audit joiners --since 30d --policy policy.toml\n  idaudit audit joiners --since 30d --policy policy.toml --out ./joiners\n  idaudit audit joiners --policy policy.toml --format html > joiners.html"
    )]
    Joiners(AuditAccessArgs),

    /// Check users whose profile changed in a window against the birthright policy
    #[command(
        after_help = "A mover is the target of a `user.account.update_profile` event in the window.\nViolations are birthright access missing for the current profile, and access\nthat a birthright rule grants but no rule matching the current profile does\n(`kept-old-access`). Okta's active group rules are evaluated too.\n\nExamples:\n  idaudit audit movers --since 30d --policy policy.toml\n  idaudit audit movers --since 30d --policy policy.toml --format xlsx > movers.xlsx"
    )]
    Movers(AuditAccessArgs),
}

#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum AuditFormat {
    #[default]
    Table,
    /// One JSON object with every finding
    Json,
    /// One row per finding
    Csv,
    /// A self-contained HTML page with charts
    Html,
    /// An XLSX workbook; stdout must be redirected to a file
    Xlsx,
}

#[derive(Debug, Args)]
pub struct AuditPostureArgs {
    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,

    /// Folder to also write `posture.html`, `posture.csv` and `posture.json` into
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Count active users with no sign-in for this many days as inactive
    #[arg(long, default_value_t = 90)]
    pub inactive_days: i64,

    /// Org to read [default: the configured org, or the only synced one]
    #[arg(long)]
    pub org: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditLeaversArgs {
    /// Start of the window: RFC 3339 time or a duration back from now (`30d`, `12h`)
    #[arg(long, default_value = "30d")]
    pub since: String,

    /// Hours after leaving by which every counted access must be gone [default:
    /// `leaver_deadline_hours` of the policy, else 24]
    #[arg(long)]
    pub deadline_hours: Option<i64>,

    /// Audit policy (TOML) with the leaver rules
    #[arg(long)]
    pub policy: Option<PathBuf>,

    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,

    /// Folder to also write `leavers.html`, `.xlsx`, `.csv` and `.json` into
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Org to read [default: the configured org, or the only synced one]
    #[arg(long)]
    pub org: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditAccessArgs {
    /// Start of the window: RFC 3339 time or a duration back from now (`30d`, `12h`)
    #[arg(long, default_value = "30d")]
    pub since: String,

    /// Audit policy (TOML) with the birthright rules
    #[arg(long)]
    pub policy: PathBuf,

    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,

    /// Folder to also write the HTML, XLSX, CSV and JSON files into
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Org to read [default: the configured org, or the only synced one]
    #[arg(long)]
    pub org: Option<String>,
}
