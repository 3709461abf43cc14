//! Closing a campaign: the completion snapshot and the auditor package, a
//! folder and a zip of the same files, and its verification.
//!
//! The package's `manifest.json` lists every other file with its SHA-256 and
//! a chain hash. Each file's chain hash is the SHA-256 of the previous chain
//! hash, the file's path, its SHA-256 and its size, so the last one, the
//! root, covers every file in order. `verify` recomputes all of them, and an
//! edited, added or removed file, or an edited manifest, fails it. Someone who
//! edits a file and rewrites the whole manifest gets a new root: the store
//! keeps the root and the zip's SHA-256 from closing, and `close` prints the
//! root for the auditor to record beside the package.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use idaudit_store::{Campaign, CampaignDecision, CampaignItem, ItemOrder, Remediation, Store};
use minijinja::{Environment, Value, context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ReviewError;
use crate::chart::{self, Bar};
use crate::export::inert_cell;

const SUMMARY_TEMPLATE: &str = include_str!("templates/summary.html");
const MANIFEST: &str = "manifest.json";
const MANIFEST_FORMAT: &str = "idaudit-audit-package/1";

/// Returns the SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The auditor package of a closed campaign.
#[derive(Clone, Debug, Serialize)]
pub struct ClosedCampaign {
    pub campaign_id: i64,
    pub closed_at: String,
    pub folder: PathBuf,
    pub zip: PathBuf,
    /// The last chain hash of the manifest.
    pub root: String,
    pub zip_sha256: String,
    pub summary: Summary,
}

/// Counts of a campaign at closing.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub items: usize,
    pub reviewers: usize,
    pub flagged: usize,
    pub keep: usize,
    pub revoke: usize,
    pub undecided: usize,
    /// Remediation steps by status.
    pub remediation: BTreeMap<String, usize>,
    /// Items still assigned at completion although decided revoke.
    pub revoked_but_still_assigned: usize,
}

/// One file listed in the manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub chain: String,
}

/// The manifest of an auditor package.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub campaign_id: i64,
    pub closed_at: String,
    pub files: Vec<ManifestEntry>,
    pub root: String,
}

/// Returns the chain hash that starts the chain of a campaign's package.
fn chain_seed(campaign_id: i64) -> String {
    sha256_hex(format!("{MANIFEST_FORMAT}\ncampaign {campaign_id}\n").as_bytes())
}

/// Returns the chain hash of a file that follows `previous`.
fn chain_next(previous: &str, path: &str, sha256: &str, bytes: u64) -> String {
    sha256_hex(format!("{previous}\n{path}\n{sha256}\n{bytes}\n").as_bytes())
}

/// The SHA-256 (hex) and size of each file, by path.
type Digests = BTreeMap<String, (String, u64)>;

/// Builds the manifest of the files in `digests`, in path order.
fn build_manifest(campaign_id: i64, closed_at: &str, digests: &Digests) -> Manifest {
    let mut chain = chain_seed(campaign_id);
    let mut entries = Vec::new();
    for (path, (sha256, bytes)) in digests {
        chain = chain_next(&chain, path, sha256, *bytes);
        entries.push(ManifestEntry {
            path: path.clone(),
            bytes: *bytes,
            sha256: sha256.clone(),
            chain: chain.clone(),
        });
    }
    Manifest {
        format: MANIFEST_FORMAT.to_string(),
        campaign_id,
        closed_at: closed_at.to_string(),
        files: entries,
        root: chain,
    }
}

/// Closes campaign `id` (the newest when `None`): takes the completion
/// snapshot from the synced directory, writes the auditor package into
/// `out_dir` as a folder and a zip, and records the package's hashes.
pub fn close_campaign(
    store: &Store,
    id: Option<i64>,
    out_dir: &Path,
) -> Result<ClosedCampaign, ReviewError> {
    let campaign = store.campaign(id)?.ok_or(ReviewError::NoCampaign { id })?;
    if let Some(closed_at) = &campaign.closed_at {
        return Err(ReviewError::Closed {
            id: campaign.id,
            closed_at: closed_at.clone(),
        });
    }
    let decisions: HashMap<i64, CampaignDecision> = store
        .campaign_decisions(campaign.id)?
        .into_iter()
        .map(|decision| (decision.item_no, decision))
        .collect();
    let remediations = store.campaign_remediations(campaign.id)?;
    let closed_at = idaudit_store::format_time(chrono::Utc::now());
    let last_sync = store.last_sync_finished(&campaign.org)?;
    let current = current_assignments(store, &campaign.org)?;

    // Each file goes to disk as soon as it is rendered, so that only one
    // is held in memory at a time.
    let name = format!("campaign-{}-audit", campaign.id);
    let folder = out_dir.join(&name);
    std::fs::create_dir_all(&folder).map_err(|source| ReviewError::Write {
        path: folder.clone(),
        source,
    })?;
    let mut digests = Digests::new();
    let mut csv = |path: &str, digest: (String, u64)| {
        digests.insert(path.to_string(), digest);
    };
    let file = |path: &str| folder.join(path);
    // The items are read once, in item order, and each goes to the three
    // item files and the counts, so they are never all in memory.
    let completion = Completion {
        current: &current,
        closed_at: &closed_at,
        last_sync: last_sync.as_deref(),
    };
    let remediation_of = remediation_by_item(&remediations);
    let mut items_file = CsvFile::create(&file("items.csv"), ITEMS_HEADER)?;
    let mut launch_file = CsvFile::create(&file("launch-snapshot.csv"), LAUNCH_HEADER)?;
    let mut completion_file = CsvFile::create(&file("completion-snapshot.csv"), COMPLETION_HEADER)?;
    let mut tally = Tally::default();
    store.for_each_campaign_item(campaign.id, ItemOrder::ItemNo, |item| {
        items_file.write_row(&items_row(&item, &decisions, &remediation_of))?;
        launch_file.write_row(&launch_row(&campaign, &item))?;
        completion_file.write_row(&completion_row(&item, &decisions, &completion))?;
        tally.add(&item, &decisions, &current);
        Ok::<_, ReviewError>(())
    })?;
    csv("items.csv", items_file.finish()?);
    csv("launch-snapshot.csv", launch_file.finish()?);
    csv("completion-snapshot.csv", completion_file.finish()?);
    csv(
        "remediation.csv",
        remediation_csv(&file("remediation.csv"), &remediations)?,
    );
    let mut put = |path: &str, content: Vec<u8>| -> Result<(), ReviewError> {
        crate::export::write_file(&folder.join(path), &content)?;
        digests.insert(
            path.to_string(),
            (sha256_hex(&content), content.len() as u64),
        );
        Ok(())
    };
    put(
        "remediation.json",
        serde_json::to_vec_pretty(&remediations).map_err(ReviewError::Json)?,
    )?;

    let (summary, per_reviewer) = tally.finish(&remediations);
    let summary_json = serde_json::json!({
        "campaign": &campaign,
        "closed_at": &closed_at,
        "last_sync": &last_sync,
        "summary": &summary,
    });
    put(
        "summary.json",
        serde_json::to_vec_pretty(&summary_json).map_err(ReviewError::Json)?,
    )?;
    put(
        "summary.html",
        render_summary(
            &campaign,
            &summary,
            &per_reviewer,
            &closed_at,
            last_sync.as_deref(),
        )?,
    )?;

    let manifest = build_manifest(campaign.id, &closed_at, &digests);
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(ReviewError::Json)?;
    crate::export::write_file(&folder.join(MANIFEST), &manifest_bytes)?;
    let mut paths: Vec<String> = digests.into_keys().collect();
    paths.push(MANIFEST.to_string());
    paths.sort();

    let zip = out_dir.join(format!("{name}.zip"));
    zip_folder(&folder, &name, &paths, &zip)?;
    let zip_sha256 = hash_file(&zip)?.0;

    store.close_campaign(campaign.id, &closed_at, &manifest.root, &zip_sha256)?;
    Ok(ClosedCampaign {
        campaign_id: campaign.id,
        closed_at,
        folder,
        zip,
        root: manifest.root,
        zip_sha256,
        summary,
    })
}

/// Returns the synced assignments of `org`: (app id, user id) to scope.
fn current_assignments(
    store: &Store,
    org: &str,
) -> Result<HashMap<(String, String), String>, ReviewError> {
    Ok(store
        .all_app_users(org)?
        .into_iter()
        .map(|row| ((row.app_id, row.user_id), row.scope))
        .collect())
}

/// The counts of a campaign at closing, gathered one item at a time.
#[derive(Default)]
struct Tally {
    summary: Summary,
    per_reviewer: BTreeMap<String, ReviewerTally>,
}

impl Tally {
    fn add(
        &mut self,
        item: &CampaignItem,
        decisions: &HashMap<i64, CampaignDecision>,
        current: &HashMap<(String, String), String>,
    ) {
        let summary = &mut self.summary;
        summary.items += 1;
        if !item.flags.is_empty() {
            summary.flagged += 1;
        }
        let decision = decisions
            .get(&item.item_no)
            .map(|decision| decision.decision.as_str());
        match decision {
            Some("keep") => summary.keep += 1,
            Some("revoke") => summary.revoke += 1,
            _ => summary.undecided += 1,
        }
        if decision == Some("revoke")
            && current.contains_key(&(item.app_id.clone(), item.user_id.clone()))
        {
            summary.revoked_but_still_assigned += 1;
        }

        let reviewer = match self.per_reviewer.get_mut(&item.reviewer_login) {
            Some(reviewer) => reviewer,
            None => self
                .per_reviewer
                .entry(item.reviewer_login.clone())
                .or_default(),
        };
        reviewer.items += 1;
        if matches!(decision, Some("keep" | "revoke")) {
            reviewer.decided += 1;
        }
    }

    /// Returns the summary, with the remediation steps counted by status,
    /// and each reviewer's counts.
    fn finish(self, remediations: &[Remediation]) -> (Summary, BTreeMap<String, ReviewerTally>) {
        let mut summary = self.summary;
        summary.reviewers = self.per_reviewer.len();
        for step in remediations {
            *summary.remediation.entry(step.status.clone()).or_default() += 1;
        }
        (summary, self.per_reviewer)
    }
}

/// A writer that hashes and counts what it passes on.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buffer)?;
        self.hasher.update(&buffer[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A CSV file being written, every cell made inert for spreadsheets, with
/// its SHA-256 and size counted as it is written.
struct CsvFile {
    path: PathBuf,
    writer: csv::Writer<HashingWriter<std::io::BufWriter<std::fs::File>>>,
}

impl CsvFile {
    fn create(path: &Path, header: &[&str]) -> Result<CsvFile, ReviewError> {
        let file = std::fs::File::create(path).map_err(|source| ReviewError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let mut writer = csv::Writer::from_writer(HashingWriter {
            inner: std::io::BufWriter::new(file),
            hasher: Sha256::new(),
            bytes: 0,
        });
        writer.write_record(header).map_err(ReviewError::Csv)?;
        Ok(CsvFile {
            path: path.to_path_buf(),
            writer,
        })
    }

    fn write_row(&mut self, row: &[String]) -> Result<(), ReviewError> {
        self.writer
            .write_record(row.iter().map(|cell| inert_cell(cell)))
            .map_err(ReviewError::Csv)
    }

    /// Flushes the file and returns its SHA-256 and size.
    fn finish(self) -> Result<(String, u64), ReviewError> {
        let mut hashing = self
            .writer
            .into_inner()
            .map_err(|error| ReviewError::Csv(error.into_error().into()))?;
        hashing.flush().map_err(|source| ReviewError::Write {
            path: self.path,
            source,
        })?;
        Ok((hex(&hashing.hasher.finalize()), hashing.bytes))
    }
}

/// Writes rows as CSV to `path`, every cell made inert for spreadsheets,
/// and returns the file's SHA-256 and size.
fn write_csv(
    path: &Path,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(String, u64), ReviewError> {
    let mut file = CsvFile::create(path, header)?;
    for row in rows {
        file.write_row(&row)?;
    }
    file.finish()
}

/// Returns, for each item, the remediation steps that revoke it, as text.
fn remediation_by_item(remediations: &[Remediation]) -> HashMap<i64, Vec<String>> {
    let mut remediation_of: HashMap<i64, Vec<String>> = HashMap::new();
    for step in remediations {
        for item_no in &step.item_nos {
            remediation_of.entry(*item_no).or_default().push(format!(
                "{} {}: {}",
                step.action, step.target_id, step.status
            ));
        }
    }
    remediation_of
}

/// Columns of `items.csv`: each item with its decision and remediation.
const ITEMS_HEADER: &[&str] = &[
    "item",
    "reviewer",
    "user_id",
    "user_login",
    "user_name",
    "user_status",
    "app_id",
    "app",
    "granted",
    "granting_groups",
    "flags",
    "suggestion",
    "reason",
    "decision",
    "decided_by",
    "decided_at",
    "decision_source",
    "remediation",
];

fn items_row(
    item: &CampaignItem,
    decisions: &HashMap<i64, CampaignDecision>,
    remediation_of: &HashMap<i64, Vec<String>>,
) -> Vec<String> {
    let decision = decisions.get(&item.item_no);
    let text = |value: Option<&str>| value.unwrap_or_default().to_string();
    vec![
        item.item_no.to_string(),
        item.reviewer_login.clone(),
        item.user_id.clone(),
        item.user_login.clone(),
        item.user_name.clone(),
        item.user_status.clone(),
        item.app_id.clone(),
        item.app_label.clone(),
        item.grant_type.clone(),
        item.granting_groups.join("; "),
        item.flags.join("; "),
        item.suggestion.clone(),
        item.reason.clone(),
        text(decision.map(|decision| decision.decision.as_str())),
        text(decision.map(|decision| decision.reviewer_login.as_str())),
        text(decision.map(|decision| decision.decided_at.as_str())),
        text(decision.map(|decision| decision.source.as_str())),
        remediation_of
            .get(&item.item_no)
            .map(|steps| steps.join("; "))
            .unwrap_or_default(),
    ]
}

/// Columns of `launch-snapshot.csv`: the entitlements under review as the
/// campaign recorded them at launch.
const LAUNCH_HEADER: &[&str] = &[
    "taken_at",
    "item",
    "user_id",
    "user_login",
    "user_status",
    "app_id",
    "app",
    "grant_type",
    "granting_group_ids",
];

fn launch_row(campaign: &Campaign, item: &CampaignItem) -> Vec<String> {
    vec![
        campaign.created_at.clone(),
        item.item_no.to_string(),
        item.user_id.clone(),
        item.user_login.clone(),
        item.user_status.clone(),
        item.app_id.clone(),
        item.app_label.clone(),
        item.grant_type.clone(),
        item.details.granting_group_ids.join("; "),
    ]
}

/// The directory state that the completion snapshot compares items with.
struct Completion<'a> {
    /// (app id, user id) to the assignment's scope, from the last sync.
    current: &'a HashMap<(String, String), String>,
    closed_at: &'a str,
    last_sync: Option<&'a str>,
}

/// Columns of `completion-snapshot.csv`: the same entitlements as the last
/// sync shows them at closing.
const COMPLETION_HEADER: &[&str] = &[
    "taken_at",
    "synced_at",
    "item",
    "user_id",
    "user_login",
    "app_id",
    "app",
    "at_launch",
    "at_completion",
    "decision",
];

fn completion_row(
    item: &CampaignItem,
    decisions: &HashMap<i64, CampaignDecision>,
    completion: &Completion<'_>,
) -> Vec<String> {
    let now = completion
        .current
        .get(&(item.app_id.clone(), item.user_id.clone()))
        .cloned();
    let decision = decisions
        .get(&item.item_no)
        .map(|decision| decision.decision.clone())
        .unwrap_or_default();
    vec![
        completion.closed_at.to_string(),
        completion.last_sync.unwrap_or_default().to_string(),
        item.item_no.to_string(),
        item.user_id.clone(),
        item.user_login.clone(),
        item.app_id.clone(),
        item.app_label.clone(),
        item.grant_type.clone(),
        now.unwrap_or_else(|| "removed".to_string()),
        decision,
    ]
}

fn remediation_csv(
    path: &Path,
    remediations: &[Remediation],
) -> Result<(String, u64), ReviewError> {
    let header = [
        "items",
        "action",
        "target_id",
        "user_id",
        "status",
        "detail",
        "request_id",
        "requested_at",
        "verified_at",
        "updated_at",
    ];
    let rows = remediations.iter().map(|step| {
        let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_string();
        vec![
            step.item_nos
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            step.action.clone(),
            step.target_id.clone(),
            step.user_id.clone(),
            step.status.clone(),
            step.detail.clone(),
            text(&step.proof["request"]["request_id"]),
            text(&step.proof["request"]["at"]),
            text(&step.proof["verification"]["at"]),
            step.updated_at.clone(),
        ]
    });
    write_csv(path, &header, rows)
}

/// Maximum number of reviewers drawn in the per-reviewer charts of `summary.html`.
const CHART_REVIEWERS: usize = 30;

/// Items and decided items of one reviewer.
#[derive(Clone, Debug, Default)]
struct ReviewerTally {
    items: usize,
    decided: usize,
}

/// Draws the charts of `summary.html`: the decisions, then the items and the
/// decided items of the reviewers with the most items, in the same order so
/// that the two charts line up.
fn summary_charts(
    summary: &Summary,
    per_reviewer: &BTreeMap<String, ReviewerTally>,
) -> (String, String, String, String) {
    let decisions = chart::horizontal_bars(
        "Decisions",
        &[
            Bar::new("Kept", summary.keep as f64),
            Bar::new("Revoked", summary.revoke as f64),
            Bar::new("Undecided", summary.undecided as f64),
        ],
    );
    let mut largest: Vec<(&String, &ReviewerTally)> = per_reviewer.iter().collect();
    largest.sort_by(|left, right| right.1.items.cmp(&left.1.items).then(left.0.cmp(right.0)));
    largest.truncate(CHART_REVIEWERS);
    let caption = if per_reviewer.len() > largest.len() {
        format!(
            "the {} of {} reviewers with the most items",
            largest.len(),
            per_reviewer.len()
        )
    } else {
        "every reviewer".to_string()
    };
    let bars = |count: fn(&ReviewerTally) -> usize| -> Vec<Bar> {
        largest
            .iter()
            .map(|(login, tally)| Bar::new(login.as_str(), count(tally) as f64))
            .collect()
    };
    let items = chart::horizontal_bars("Items per reviewer", &bars(|tally| tally.items));
    let decided = chart::horizontal_bars("Decisions per reviewer", &bars(|tally| tally.decided));
    (decisions, items, decided, caption)
}

fn render_summary(
    campaign: &Campaign,
    summary: &Summary,
    per_reviewer: &BTreeMap<String, ReviewerTally>,
    closed_at: &str,
    last_sync: Option<&str>,
) -> Result<Vec<u8>, ReviewError> {
    let (decisions_chart, items_chart, decided_chart, reviewers_shown) =
        summary_charts(summary, per_reviewer);
    let mut environment = Environment::new();
    environment
        .add_template("summary.html", SUMMARY_TEMPLATE)
        .map_err(ReviewError::Template)?;
    let page = environment
        .get_template("summary.html")
        .and_then(|template| {
            template.render(context! {
                campaign => campaign,
                summary => summary,
                closed_at => closed_at,
                last_sync => last_sync,
                decisions_chart => Value::from_safe_string(decisions_chart),
                items_chart => Value::from_safe_string(items_chart),
                decided_chart => Value::from_safe_string(decided_chart),
                reviewers_shown => reviewers_shown,
            })
        })
        .map_err(ReviewError::Template)?;
    Ok(page.into_bytes())
}

/// Zips the files `paths` of `folder` below the folder `name` into `zip`.
/// Entries carry no timestamps of the moment, so the same files always give
/// the same zip.
fn zip_folder(folder: &Path, name: &str, paths: &[String], zip: &Path) -> Result<(), ReviewError> {
    let write_error = |source| ReviewError::Write {
        path: zip.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(zip).map_err(write_error)?;
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    for path in paths {
        writer
            .start_file(format!("{name}/{path}"), options)
            .map_err(ReviewError::Zip)?;
        let source = folder.join(path);
        let mut input = std::fs::File::open(&source).map_err(|error| ReviewError::Read {
            path: source.clone(),
            source: error,
        })?;
        std::io::copy(&mut input, &mut writer).map_err(write_error)?;
    }
    let mut buffered = writer.finish().map_err(ReviewError::Zip)?;
    buffered.flush().map_err(write_error)?;
    Ok(())
}

/// Hashes what `reader` yields: its SHA-256 as hex and its size.
fn hash_reader(mut reader: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    let mut total = 0;
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        total += read as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

fn hash_file(path: &Path) -> Result<(String, u64), ReviewError> {
    std::fs::File::open(path)
        .and_then(hash_reader)
        .map_err(|source| ReviewError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// The outcome of verifying an auditor package.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub campaign_id: Option<i64>,
    pub files: usize,
    pub root: Option<String>,
    /// Everything that does not match; empty when the package is intact.
    pub problems: Vec<String>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The hashes a package must match, from the store or from the auditor's record.
#[derive(Clone, Debug, Default)]
pub struct Expected {
    pub root: Option<String>,
    pub zip_sha256: Option<String>,
}

/// Verifies the auditor package at `path`, a folder or a zip.
pub fn verify_package(path: &Path, expected: &Expected) -> Result<Verification, ReviewError> {
    let mut problems = Vec::new();
    let read = if path.is_dir() {
        digest_folder(path)?
    } else {
        if let Some(expected) = &expected.zip_sha256 {
            let actual = hash_file(path)?.0;
            if &actual != expected {
                problems.push(format!(
                    "the zip's SHA-256 is {actual}, but {expected} was recorded at closing"
                ));
            }
        }
        match digest_zip(path) {
            Ok(read) => read,
            Err(problem) => {
                problems.push(problem);
                (Digests::new(), None)
            }
        }
    };
    let (digests, manifest_bytes) = read;
    let unverified = |problems| Verification {
        campaign_id: None,
        files: digests.len(),
        root: None,
        problems,
    };
    let Some(manifest_bytes) = manifest_bytes else {
        problems.push(format!("`{MANIFEST}` is missing"));
        return Ok(unverified(problems));
    };
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(manifest) => manifest,
        Err(error) => {
            problems.push(format!("`{MANIFEST}` is not a valid manifest: {error}"));
            return Ok(unverified(problems));
        }
    };
    check_manifest(&manifest, &digests, expected, &mut problems);
    Ok(Verification {
        campaign_id: Some(manifest.campaign_id),
        files: manifest.files.len(),
        root: Some(manifest.root),
        problems,
    })
}

fn check_manifest(
    manifest: &Manifest,
    digests: &Digests,
    expected: &Expected,
    problems: &mut Vec<String>,
) {
    if manifest.format != MANIFEST_FORMAT {
        problems.push(format!("unknown manifest format `{}`", manifest.format));
    }
    let mut chain = chain_seed(manifest.campaign_id);
    for entry in &manifest.files {
        chain = chain_next(&chain, &entry.path, &entry.sha256, entry.bytes);
        if chain != entry.chain {
            problems.push(format!(
                "`{}`: the manifest's chain hash does not match",
                entry.path
            ));
        }
        match digests.get(&entry.path) {
            None => problems.push(format!("`{}` is missing", entry.path)),
            Some((sha256, bytes)) => {
                if *sha256 != entry.sha256 || *bytes != entry.bytes {
                    problems.push(format!(
                        "`{}` was changed: SHA-256 {sha256}, {bytes} bytes; the manifest lists {}, {} bytes",
                        entry.path, entry.sha256, entry.bytes
                    ));
                }
            }
        }
    }
    if chain != manifest.root {
        problems.push("the manifest's root does not match its chain".to_string());
    }
    let listed: std::collections::HashSet<&str> = manifest
        .files
        .iter()
        .map(|entry| entry.path.as_str())
        .collect();
    for path in digests.keys() {
        if !listed.contains(path.as_str()) {
            problems.push(format!("`{path}` is not in the manifest"));
        }
    }
    if let Some(root) = &expected.root
        && root != &manifest.root
    {
        problems.push(format!(
            "the manifest's root is {}, but {root} was recorded at closing",
            manifest.root
        ));
    }
}

/// Hashes every file below `folder` but the manifest, keyed by its path
/// relative to the folder with `/`, and reads the manifest.
fn digest_folder(folder: &Path) -> Result<(Digests, Option<Vec<u8>>), ReviewError> {
    let mut digests = Digests::new();
    let mut manifest = None;
    let mut pending = vec![folder.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let read_error = |source| ReviewError::Read {
            path: directory.clone(),
            source,
        };
        for entry in std::fs::read_dir(&directory).map_err(read_error)? {
            let path = entry.map_err(read_error)?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(folder)
                .unwrap_or(&path)
                .components()
                .map(|component| component.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if relative == MANIFEST {
                manifest = Some(std::fs::read(&path).map_err(|source| ReviewError::Read {
                    path: path.clone(),
                    source,
                })?);
            } else {
                digests.insert(relative, hash_file(&path)?);
            }
        }
    }
    Ok((digests, manifest))
}

/// Hashes the files of a package zip, keyed by their path below its top
/// folder, and reads the manifest.
fn digest_zip(path: &Path) -> Result<(Digests, Option<Vec<u8>>), String> {
    let file =
        std::fs::File::open(path).map_err(|error| format!("the zip cannot be read: {error}"))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|error| format!("the zip cannot be read: {error}"))?;
    let mut digests = Digests::new();
    let mut manifest = None;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|error| format!("zip entry {index} cannot be read: {error}"))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map_err(|error| format!("zip entry {index} has an invalid name: {error}"))?
            .to_string();
        let relative = name
            .split_once('/')
            .map_or(name.as_str(), |(_, rest)| rest)
            .to_string();
        if relative == MANIFEST {
            let mut content = Vec::new();
            entry
                .read_to_end(&mut content)
                .map_err(|error| format!("zip entry `{name}` cannot be read: {error}"))?;
            manifest = Some(content);
        } else {
            let digest = hash_reader(&mut entry)
                .map_err(|error| format!("zip entry `{name}` cannot be read: {error}"))?;
            digests.insert(relative, digest);
        }
    }
    Ok((digests, manifest))
}

#[cfg(test)]
mod tests {
    use super::{Digests, Expected, build_manifest, check_manifest, sha256_hex};

    fn digests(files: &[(&str, &[u8])]) -> Digests {
        files
            .iter()
            .map(|(path, content)| {
                (
                    path.to_string(),
                    (sha256_hex(content), content.len() as u64),
                )
            })
            .collect()
    }

    const CLOSED_AT: &str = "2026-12-01T00:00:00.000Z";

    #[test]
    fn intact_manifest_passes() {
        let files = digests(&[("a.csv", b"one"), ("b.csv", b"two")]);
        let manifest = build_manifest(1, CLOSED_AT, &files);
        let mut problems = Vec::new();
        check_manifest(&manifest, &files, &Expected::default(), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn edited_file_fails() {
        let manifest = build_manifest(
            1,
            CLOSED_AT,
            &digests(&[("a.csv", b"one"), ("b.csv", b"two")]),
        );
        let edited = digests(&[("a.csv", b"one"), ("b.csv", b"twp")]);
        let mut problems = Vec::new();
        check_manifest(&manifest, &edited, &Expected::default(), &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("`b.csv` was changed"));
    }

    #[test]
    fn added_file_fails() {
        let manifest = build_manifest(1, CLOSED_AT, &digests(&[("a.csv", b"one")]));
        let added = digests(&[("a.csv", b"one"), ("extra.csv", b"x")]);
        let mut problems = Vec::new();
        check_manifest(&manifest, &added, &Expected::default(), &mut problems);
        assert_eq!(
            problems,
            vec!["`extra.csv` is not in the manifest".to_string()]
        );
    }

    #[test]
    fn rewritten_manifest_fails_against_recorded_root() {
        let recorded = build_manifest(1, CLOSED_AT, &digests(&[("a.csv", b"one")])).root;
        let edited = digests(&[("a.csv", b"forged")]);
        let forged = build_manifest(1, CLOSED_AT, &edited);
        let expected = Expected {
            root: Some(recorded),
            zip_sha256: None,
        };
        let mut problems = Vec::new();
        check_manifest(&forged, &edited, &expected, &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
    }
}
