//! Writing review packages: one CSV and one self-contained HTML file per
//! reviewer, one XLSX workbook with a sheet per reviewer, and the whole
//! campaign as JSON.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use idaudit_store::{Campaign, CampaignItem, ItemOrder, Store};
use minijinja::{Environment, Value, context};

use crate::ReviewError;
use crate::chart::{self, Bar};

const PACKAGE_TEMPLATE: &str = include_str!("templates/package.html");

/// The files written for one reviewer.
#[derive(Clone, Debug)]
pub struct ReviewerPackage {
    pub reviewer_login: String,
    pub items: usize,
    pub csv: PathBuf,
    pub html: PathBuf,
}

/// Writes the packages of campaign `id` (the newest when `None`) into `out_dir`.
///
/// Items are read from the store in item order, which `start` numbers by
/// reviewer, and each reviewer's files are written before the next
/// reviewer's items are read. A campaign whose items are not numbered by
/// reviewer is read a second time, sorted by reviewer.
pub fn export_campaign(
    store: &Store,
    id: Option<i64>,
    out_dir: &Path,
) -> Result<(Campaign, Vec<ReviewerPackage>), ReviewError> {
    let campaign = store.campaign(id)?.ok_or(ReviewError::NoCampaign { id })?;
    std::fs::create_dir_all(out_dir).map_err(|source| ReviewError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut environment = Environment::new();
    environment
        .add_template("package.html", PACKAGE_TEMPLATE)
        .map_err(ReviewError::Template)?;
    let template = environment
        .get_template("package.html")
        .map_err(ReviewError::Template)?;
    let export = Export {
        store,
        files: ReviewerFiles {
            campaign: &campaign,
            campaign_value: Value::from_serialize(&campaign),
            template: &template,
            out_dir,
        },
    };

    let packages = match export.write_packages(ItemOrder::ItemNo) {
        Ok(packages) => packages,
        Err(PassError::NotByReviewer) => {
            let packages = match export.write_packages(ItemOrder::Reviewer) {
                Ok(packages) => packages,
                Err(PassError::Review(error)) => return Err(error),
                Err(PassError::NotByReviewer) => unreachable!("items sorted by reviewer"),
            };
            export.write_json_alone()?;
            packages
        }
        Err(PassError::Review(error)) => return Err(error),
    };
    Ok((campaign, packages))
}

/// The reason one pass over the items stopped.
enum PassError {
    Review(ReviewError),
    /// The items in item order are not grouped by reviewer in login order.
    NotByReviewer,
}

impl<E: Into<ReviewError>> From<E> for PassError {
    fn from(error: E) -> PassError {
        PassError::Review(error.into())
    }
}

/// The items of one reviewer.
struct ReviewerItems {
    login: String,
    items: Vec<CampaignItem>,
}

/// A message to the thread that writes the workbook and `campaign.json`.
enum ToWorkbook {
    Reviewer(Arc<ReviewerItems>),
    /// Every reviewer was sent: save the workbook.
    Save,
}

/// Threads that write reviewers' CSV and HTML files while the items are read.
const RENDER_THREADS: usize = 2;

/// A reviewer's items and their position in login order.
type Numbered = (usize, Arc<ReviewerItems>);

/// The store and the file writer that every pass over the items uses.
struct Export<'a> {
    store: &'a Store,
    files: ReviewerFiles<'a>,
}

/// The campaign, template and folder for each reviewer's CSV and HTML
/// file, shared by the render threads.
struct ReviewerFiles<'a> {
    campaign: &'a Campaign,
    /// The campaign as a template value, converted once for every reviewer.
    campaign_value: Value,
    template: &'a minijinja::Template<'a, 'a>,
    out_dir: &'a Path,
}

impl Export<'_> {
    fn json_path(&self) -> PathBuf {
        self.files.out_dir.join("campaign.json")
    }

    /// Reads the items once in `order` and writes every package: each
    /// reviewer's CSV and HTML on [`RENDER_THREADS`] threads, and on one more
    /// thread the workbook and, when the order is item order, `campaign.json`.
    fn write_packages(&self, order: ItemOrder) -> Result<Vec<ReviewerPackage>, PassError> {
        let campaign = self.files.campaign;
        let workbook = self
            .files
            .out_dir
            .join(format!("campaign-{}.xlsx", campaign.id));
        let json = match order {
            ItemOrder::ItemNo => Some(JsonWriter::create(&self.json_path(), campaign)?),
            ItemOrder::Reviewer => None,
        };
        let spawn_error = |source| ReviewError::Write {
            path: workbook.clone(),
            source,
        };
        std::thread::scope(|scope| {
            // The channels live in this closure, so an early return drops the
            // senders and the threads end before the scope waits for them.
            // Two reviewers waiting per channel at most keep memory bounded
            // when the writing threads fall behind the reading.
            let (to_workbook, workbook_receiver) = std::sync::mpsc::sync_channel::<ToWorkbook>(2);
            let (to_renderers, render_receiver) = std::sync::mpsc::sync_channel::<Numbered>(2);
            // Each render thread owns a reference to the receiver, so sends
            // fail once all of them have stopped.
            let render_receiver = Arc::new(Mutex::new(render_receiver));
            let writer_thread = std::thread::Builder::new()
                .name("review-workbook".to_string())
                .spawn_scoped(scope, || {
                    write_workbook_and_json(campaign, workbook_receiver, &workbook, json)
                })
                .map_err(spawn_error)?;
            let mut render_threads = Vec::new();
            for number in 0..RENDER_THREADS {
                let receiver = Arc::clone(&render_receiver);
                let files = &self.files;
                let thread = std::thread::Builder::new()
                    .name(format!("review-render-{number}"))
                    .spawn_scoped(scope, move || files.write_from(&receiver))
                    .map_err(spawn_error)?;
                render_threads.push(thread);
            }
            drop(render_receiver);

            let read = self.read_items(order, &to_renderers, &to_workbook);
            if read.is_ok() {
                // A send fails only when the thread stopped on an error, which join returns.
                let _ = to_workbook.send(ToWorkbook::Save);
            }
            drop(to_workbook);
            drop(to_renderers);
            let mut packages = Vec::new();
            let mut thread_error = None;
            for thread in render_threads {
                match join(thread) {
                    Ok(written) => packages.extend(written),
                    Err(error) => thread_error = thread_error.or(Some(error)),
                }
            }
            if let Err(error) = join(writer_thread) {
                thread_error = thread_error.or(Some(error));
            }
            match (read, thread_error) {
                (Err(PassError::NotByReviewer), _) => Err(PassError::NotByReviewer),
                (_, Some(error)) => Err(PassError::Review(error)),
                (Err(error), None) => Err(error),
                (Ok(()), None) => {
                    packages.sort_by_key(|(number, _)| *number);
                    Ok(packages.into_iter().map(|(_, package)| package).collect())
                }
            }
        })
    }

    /// Streams the items, groups them by reviewer, and passes each group to
    /// the render threads and the workbook thread.
    ///
    /// NOTE: one reviewer's items are held together, so memory follows the
    /// largest reviewer: a campaign with `--reviewer user:LOGIN` holds every
    /// item at once, as export did before it streamed.
    fn read_items(
        &self,
        order: ItemOrder,
        renderers: &SyncSender<Numbered>,
        workbook: &SyncSender<ToWorkbook>,
    ) -> Result<(), PassError> {
        let mut current: Option<ReviewerItems> = None;
        let mut sent = 0;
        let mut finish = |reviewer: ReviewerItems| -> Result<(), PassError> {
            let reviewer = Arc::new(reviewer);
            let delivered = renderers.send((sent, Arc::clone(&reviewer))).is_ok()
                && workbook.send(ToWorkbook::Reviewer(reviewer)).is_ok();
            sent += 1;
            if delivered {
                Ok(())
            } else {
                // A writing thread stopped on an error, which its join returns.
                Err(PassError::Review(ReviewError::WriterStopped))
            }
        };
        self.store
            .for_each_campaign_item(self.files.campaign.id, order, |item| {
                match &mut current {
                    Some(reviewer) if reviewer.login == item.reviewer_login => {
                        reviewer.items.push(item);
                        return Ok(());
                    }
                    Some(reviewer) if reviewer.login.as_str() > item.reviewer_login.as_str() => {
                        return Err(PassError::NotByReviewer);
                    }
                    _ => {}
                }
                let next = ReviewerItems {
                    login: item.reviewer_login.clone(),
                    items: vec![item],
                };
                if let Some(done) = current.replace(next) {
                    finish(done)?;
                }
                Ok(())
            })?;
        if let Some(done) = current.take() {
            finish(done)?;
        }
        Ok(())
    }

    /// Writes `campaign.json` from a pass in item order.
    fn write_json_alone(&self) -> Result<(), ReviewError> {
        let campaign = self.files.campaign;
        let mut json = JsonWriter::create(&self.json_path(), campaign)?;
        self.store
            .for_each_campaign_item(campaign.id, ItemOrder::ItemNo, |item| {
                json.write_item(&item)
            })?;
        json.finish()
    }
}

impl ReviewerFiles<'_> {
    /// Writes the files of each reviewer that `receiver` yields until it is
    /// closed, and returns the packages with their positions.
    fn write_from(
        &self,
        receiver: &Mutex<Receiver<Numbered>>,
    ) -> Result<Vec<(usize, ReviewerPackage)>, ReviewError> {
        let mut written = Vec::new();
        loop {
            let next = receiver
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .recv();
            let Ok((number, reviewer)) = next else {
                return Ok(written);
            };
            written.push((number, self.write(&reviewer)?));
        }
    }

    /// Writes the CSV and HTML file of one reviewer.
    fn write(&self, reviewer: &ReviewerItems) -> Result<ReviewerPackage, ReviewError> {
        let items = &reviewer.items;
        let stem = file_stem(&reviewer.login);
        let csv = self.out_dir.join(format!("{stem}.csv"));
        let html = self.out_dir.join(format!("{stem}.html"));
        write_file(&csv, &render_csv(items)?)?;

        let flagged = items.iter().filter(|item| !item.flags.is_empty()).count();
        let revocations = items
            .iter()
            .filter(|item| item.suggestion == "revoke")
            .count();
        let (granted, undated) = granted_per_month(items);
        let page = self
            .template
            .render(context! {
                campaign => self.campaign_value.clone(),
                reviewer_login => reviewer.login,
                reviewer_name => items[0].reviewer_name,
                items => items,
                flagged => flagged,
                revocations => revocations,
                granted_chart => Value::from_safe_string(chart::columns(
                    "Access granted per month",
                    &granted,
                )),
                undated => undated,
                flags_chart => Value::from_safe_string(chart::horizontal_bars(
                    "Flagged items per flag",
                    &items_per_flag(items),
                )),
            })
            .map_err(ReviewError::Template)?;
        write_file(&html, page.as_bytes())?;

        Ok(ReviewerPackage {
            reviewer_login: reviewer.login.clone(),
            items: items.len(),
            csv,
            html,
        })
    }
}

/// Writes the workbook, and `json` when given, from the reviewers that
/// `receiver` yields in order, and saves both on [`ToWorkbook::Save`].
/// Returns without saving when the sender is dropped first.
fn write_workbook_and_json(
    campaign: &Campaign,
    receiver: Receiver<ToWorkbook>,
    path: &Path,
    mut json: Option<JsonWriter>,
) -> Result<(), ReviewError> {
    let xlsx_error = |source| ReviewError::Xlsx {
        path: path.to_path_buf(),
        source,
    };
    let mut workbook = crate::xlsx::ReviewWorkbook::new(campaign).map_err(xlsx_error)?;
    for message in receiver {
        match message {
            ToWorkbook::Reviewer(reviewer) => {
                workbook
                    .add_reviewer(&reviewer.login, &reviewer.items)
                    .map_err(xlsx_error)?;
                if let Some(json) = &mut json {
                    for item in &reviewer.items {
                        json.write_item(item)?;
                    }
                }
            }
            ToWorkbook::Save => {
                if let Some(json) = json {
                    json.finish()?;
                }
                return workbook.save(path).map_err(xlsx_error);
            }
        }
    }
    Ok(())
}

/// Waits for a writing thread and returns its result, resuming its panic.
fn join<T>(
    thread: std::thread::ScopedJoinHandle<'_, Result<T, ReviewError>>,
) -> Result<T, ReviewError> {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Writes `campaign.json` one item at a time, byte for byte as
/// `serde_json::to_writer_pretty` writes `{"campaign": ..., "items": [...]}`.
struct JsonWriter {
    path: PathBuf,
    writer: BufWriter<File>,
    items: usize,
    /// The pretty JSON of the item being written, reused between items.
    buffer: Vec<u8>,
    /// The same JSON indented to its depth in the file.
    indented: Vec<u8>,
}

impl JsonWriter {
    fn create(path: &Path, campaign: &Campaign) -> Result<JsonWriter, ReviewError> {
        let file = File::create(path).map_err(|source| ReviewError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let mut json = JsonWriter {
            path: path.to_path_buf(),
            writer: BufWriter::new(file),
            items: 0,
            buffer: Vec::new(),
            indented: Vec::new(),
        };
        json.buffer = serde_json::to_vec_pretty(campaign).map_err(ReviewError::Json)?;
        json.write(b"{\n  \"campaign\": ")?;
        json.write_indented(1)?;
        json.write(b",\n  \"items\": [")?;
        Ok(json)
    }

    fn write_item(&mut self, item: &CampaignItem) -> Result<(), ReviewError> {
        self.buffer.clear();
        serde_json::to_writer_pretty(&mut self.buffer, item).map_err(ReviewError::Json)?;
        let separator: &[u8] = if self.items == 0 {
            b"\n    "
        } else {
            b",\n    "
        };
        self.write(separator)?;
        self.write_indented(2)?;
        self.items += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<(), ReviewError> {
        if self.items > 0 {
            self.write(b"\n  ")?;
        }
        self.write(b"]\n}")?;
        let path = self.path.clone();
        self.writer
            .flush()
            .map_err(|source| ReviewError::Write { path, source })
    }

    /// Writes the buffer with every line after the first indented by
    /// `levels` times two spaces. Pretty JSON escapes newlines inside
    /// strings, so each newline byte ends a line.
    fn write_indented(&mut self, levels: usize) -> Result<(), ReviewError> {
        let indent = &b"        "[..2 * levels];
        self.indented.clear();
        for (index, line) in self.buffer.split(|byte| *byte == b'\n').enumerate() {
            if index > 0 {
                self.indented.push(b'\n');
                self.indented.extend_from_slice(indent);
            }
            self.indented.extend_from_slice(line);
        }
        let indented = std::mem::take(&mut self.indented);
        let written = self.write(&indented);
        self.indented = indented;
        written
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ReviewError> {
        self.writer
            .write_all(bytes)
            .map_err(|source| ReviewError::Write {
                path: self.path.clone(),
                source,
            })
    }
}

/// Counts the items granted in each month from the first to the last month
/// of their "since" dates, months without a grant included, and the items
/// without a date.
fn granted_per_month(items: &[CampaignItem]) -> (Vec<Bar>, usize) {
    let mut per_month: BTreeMap<(i32, u32), u32> = BTreeMap::new();
    let mut undated = 0;
    for item in items {
        match item.details.since.as_deref().and_then(year_and_month) {
            Some(month) => *per_month.entry(month).or_default() += 1,
            None => undated += 1,
        }
    }
    let (Some(&first), Some(&last)) = (per_month.keys().next(), per_month.keys().next_back())
    else {
        return (Vec::new(), undated);
    };
    let mut bars = Vec::new();
    let (mut year, mut month) = first;
    while (year, month) <= last {
        let count = per_month.get(&(year, month)).copied().unwrap_or(0);
        bars.push(Bar::new(format!("{year}-{month:02}"), count));
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    (bars, undated)
}

/// Reads the year and month of a date such as `2026-03-14T09:30:00.000Z`.
fn year_and_month(date: &str) -> Option<(i32, u32)> {
    let year = date.get(0..4)?.parse().ok()?;
    let month = date.get(5..7)?.parse().ok()?;
    (date.as_bytes().get(4) == Some(&b'-') && (1..=12).contains(&month)).then_some((year, month))
}

/// Counts the items that carry each flag, most frequent first.
fn items_per_flag(items: &[CampaignItem]) -> Vec<Bar> {
    let mut per_flag: BTreeMap<&str, u32> = BTreeMap::new();
    for flag in items.iter().flat_map(|item| &item.flags) {
        *per_flag.entry(flag).or_default() += 1;
    }
    let mut counts: Vec<(&str, u32)> = per_flag.into_iter().collect();
    counts.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(right.0)));
    counts
        .into_iter()
        .map(|(flag, count)| Bar::new(flag, count))
        .collect()
}

/// The CSV columns, in order.
const CSV_HEADER: &[&str] = &[
    "item",
    "reviewer",
    "user_login",
    "user_name",
    "user_status",
    "app",
    "granted",
    "granting_groups",
    "flags",
    "suggestion",
    "reason",
    "since",
    "last_sign_in",
    "last_sso",
    "decision",
];

/// Returns an item's cells as every package format lists them: number,
/// user login, name and status, app, how granted, granting groups (with the
/// group rules that fill them), flags, suggestion, reason, since when, last
/// sign-in and last SSO into the app.
pub(crate) fn item_cells(item: &CampaignItem) -> [String; 13] {
    let granted = if item.grant_type == "GROUP" {
        "group"
    } else {
        "direct"
    };
    [
        item.item_no.to_string(),
        item.user_login.clone(),
        item.user_name.clone(),
        item.user_status.clone(),
        item.app_label.clone(),
        granted.to_string(),
        granting_text(item),
        item.flags.join("; "),
        item.suggestion.clone(),
        item.reason.clone(),
        item.details.since.clone().unwrap_or_default(),
        item.details.last_sign_in.clone().unwrap_or_default(),
        item.details.last_sso.clone().unwrap_or_default(),
    ]
}

/// Returns the granting groups, followed by the group rules that fill them.
fn granting_text(item: &CampaignItem) -> String {
    let mut text = item.granting_groups.join("; ");
    if !item.details.group_rules.is_empty() {
        text.push_str(&format!(
            " (by group rule {})",
            item.details.group_rules.join("; ")
        ));
    }
    text
}

fn render_csv(items: &[CampaignItem]) -> Result<Vec<u8>, ReviewError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER).map_err(ReviewError::Csv)?;
    for item in items {
        let mut row = vec![item.item_no.to_string(), item.reviewer_login.clone()];
        row.extend(item_cells(item).into_iter().skip(1));
        row.push(String::new());
        writer
            .write_record(row.iter().map(|cell| inert_cell(cell)))
            .map_err(ReviewError::Csv)?;
    }
    writer
        .into_inner()
        .map_err(|error| ReviewError::Csv(error.into_error().into()))
}

/// Prefixes a cell that a spreadsheet would run as a formula with `'`, so a
/// profile value such as `=HYPERLINK(...)` stays text.
pub fn inert_cell(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// Turns a reviewer login into a safe file name.
fn file_stem(login: &str) -> String {
    let stem: String = login
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '_' | '@') {
                character
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_start_matches('.');
    if stem.is_empty() {
        "reviewer".to_string()
    } else {
        stem.to_string()
    }
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReviewError> {
    std::fs::write(path, bytes).map_err(|source| ReviewError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use idaudit_store::{CampaignItem, ItemDetails};

    use super::{file_stem, granted_per_month, inert_cell};

    #[test]
    fn formula_cells_made_inert() {
        assert_eq!(inert_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(inert_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(inert_cell("Jane"), "Jane");
    }

    #[test]
    fn months_without_grants_filled() {
        let item = |since: Option<&str>| CampaignItem {
            details: ItemDetails {
                since: since.map(str::to_string),
                ..ItemDetails::default()
            },
            ..item_template()
        };
        let items = [
            item(Some("2025-11-03T10:00:00.000Z")),
            item(Some("2026-02-20T10:00:00.000Z")),
            item(Some("2026-02-21")),
            item(None),
            item(Some("not a date")),
        ];
        let (bars, undated) = granted_per_month(&items);
        let labels: Vec<&str> = bars.iter().map(|bar| bar.label.as_str()).collect();
        assert_eq!(labels, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        let values: Vec<f64> = bars.iter().map(|bar| bar.value).collect();
        assert_eq!(values, [1.0, 0.0, 0.0, 2.0]);
        assert_eq!(undated, 2);
    }

    fn item_template() -> CampaignItem {
        CampaignItem {
            item_no: 1,
            reviewer_id: None,
            reviewer_login: "boss@example.com".to_string(),
            reviewer_name: "Boss".to_string(),
            user_id: "00u1".to_string(),
            user_login: "amy@example.com".to_string(),
            user_name: "Amy".to_string(),
            user_status: "ACTIVE".to_string(),
            app_id: "0oa1".to_string(),
            app_label: "Payroll".to_string(),
            grant_type: "USER".to_string(),
            granting_groups: Vec::new(),
            flags: Vec::new(),
            suggestion: "keep".to_string(),
            reason: String::new(),
            details: ItemDetails::default(),
        }
    }

    #[test]
    fn reviewer_file_names_safe() {
        assert_eq!(file_stem("jane.doe@example.com"), "jane.doe@example.com");
        assert_eq!(file_stem("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_stem(""), "reviewer");
    }
}
