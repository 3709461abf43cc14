//! The System Log archive: stored events written as Parquet objects, kept
//! past Okta's 90-day retention, in a local folder or an S3 bucket.
//!
//! Objects are partitioned Hive-style by org and by the UTC day of each
//! event's `published`: `org=<org>/date=YYYY-MM-DD/part-<store id>-<batch>.parquet`,
//! zstd-compressed. `docs/archive.md` documents the columns.
//!
//! Each event is archived exactly once. The store assigns it to a batch and
//! names the batch's object in one transaction; the object is written next,
//! and the batch is marked written only after that. A batch left unmarked by a
//! crash is written again under the same name with the same events, which
//! replaces the object if it was written. Object stores replace an object
//! whole (S3 by a single `PUT`, the local folder by renaming a temporary file),
//! so a reader never sees half an object.
//!
//! [`archive_pending`] runs every step. `idaudit archive` calls it with
//! [`ArchivePolicy::on_demand`], and a continuous collector calls it after
//! each stored page with [`ArchivePolicy::continuous`], which waits for a
//! day to end or for a full batch so that objects do not stay small.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    Int64Builder, ListBuilder, OffsetBufferBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use idaudit_store::{ArchiveBatch, ArchiveRow, ArchiveRowRef, ArchiveRows, Store};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use projection::KeyFields;

mod projection;

/// Version of the column layout, stored in each object's key-value metadata
/// under [`SCHEMA_VERSION_KEY`].
pub const SCHEMA_VERSION: &str = "1";

/// Parquet key-value metadata key that holds [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "idaudit.archive.schema_version";

/// State key of the random id that makes this store's object names unique
/// among stores writing to the same archive.
const STORE_ID_KEY: &str = "archive.store_id";

/// zstd level of every column. On simulator events, level 1 encoded about
/// 20% faster than zstd's default of 3, for files about 1% larger
/// (`bench/src/bin/archive_rate.rs`).
const ZSTD_LEVEL: i32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("failed to read or update the archive state in the store")]
    Store(#[from] idaudit_store::Error),
    #[error("failed to encode archive batch {batch} as Parquet")]
    Encode {
        batch: i64,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("failed to write archive object `{object}` to {location}")]
    Write {
        object: String,
        location: String,
        #[source]
        source: object_store::Error,
    },
    #[error("invalid archive location `{location}`: {reason}")]
    InvalidLocation { location: String, reason: String },
    #[error("failed to open the archive at {location}")]
    Open {
        location: String,
        #[source]
        source: object_store::Error,
    },
    #[error("an archive encoding task stopped unexpectedly")]
    Task(#[from] tokio::task::JoinError),
}

/// The destination of archive objects: a local folder or an S3 bucket and prefix.
#[derive(Clone, Debug)]
pub struct ArchiveTarget {
    objects: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    location: String,
}

/// An S3 bucket, or a bucket of an S3-compatible service, to archive to.
///
/// Credentials and any setting left `None` are read from the standard AWS
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT` and the others that
/// `object_store` reads), then from the instance or container credentials.
#[derive(Clone, Debug, Default)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix below which the partitions are written, without slashes at the ends.
    pub prefix: String,
    pub region: Option<String>,
    /// Endpoint of an S3-compatible service. Plain HTTP is accepted only for loopback.
    pub endpoint: Option<String>,
    /// Static credentials given by the caller in place of the environment.
    pub credentials: Option<S3Credentials>,
}

/// An access key pair. `Debug` prints the key id only.
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl ArchiveTarget {
    /// Archives to a local folder, created if missing.
    pub fn local(folder: &Path) -> Result<ArchiveTarget, ArchiveError> {
        let location = format!("`{}`", folder.display());
        std::fs::create_dir_all(folder).map_err(|error| ArchiveError::InvalidLocation {
            location: folder.display().to_string(),
            reason: format!("cannot create the folder: {error}"),
        })?;
        let objects = LocalFileSystem::new_with_prefix(folder)
            .map_err(|source| ArchiveError::Open {
                location: location.clone(),
                source,
            })?
            .with_automatic_cleanup(true);
        Ok(ArchiveTarget {
            objects: Arc::new(objects),
            prefix: ObjectPath::default(),
            location,
        })
    }

    /// Archives to an S3 bucket.
    pub fn s3(s3: &S3Location) -> Result<ArchiveTarget, ArchiveError> {
        let location = if s3.prefix.is_empty() {
            format!("`s3://{}`", s3.bucket)
        } else {
            format!("`s3://{}/{}`", s3.bucket, s3.prefix)
        };
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&s3.bucket);
        if let Some(region) = &s3.region {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = &s3.endpoint {
            let allow_http = check_endpoint(endpoint)?;
            builder = builder.with_endpoint(endpoint).with_allow_http(allow_http);
        }
        if let Some(credentials) = &s3.credentials {
            builder = builder
                .with_access_key_id(&credentials.access_key_id)
                .with_secret_access_key(&credentials.secret_access_key);
        }
        let objects = builder.build().map_err(|source| ArchiveError::Open {
            location: location.clone(),
            source,
        })?;
        Ok(ArchiveTarget {
            objects: Arc::new(objects),
            prefix: ObjectPath::from(s3.prefix.trim_matches('/')),
            location,
        })
    }

    /// Returns the folder or bucket, for messages; it contains no credentials.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Returns the object store the archive is written to.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.objects)
    }

    /// Returns the full path of an object named relative to the archive root.
    pub fn object_path(&self, name: &str) -> ObjectPath {
        let mut path = self.prefix.clone();
        for part in name.split('/') {
            path = path.clone().join(part);
        }
        path
    }
}

/// Checks an S3 endpoint URL and returns whether it is plain HTTP, which is
/// accepted only for a loopback host.
fn check_endpoint(endpoint: &str) -> Result<bool, ArchiveError> {
    let invalid = |reason: &str| ArchiveError::InvalidLocation {
        location: endpoint.to_string(),
        reason: reason.to_string(),
    };
    let url = reqwest::Url::parse(endpoint).map_err(|_| invalid("not a URL"))?;
    match url.scheme() {
        "https" => Ok(false),
        "http" => {
            let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(true)
            } else {
                Err(invalid(
                    "plain HTTP is accepted only for a loopback host: use https://",
                ))
            }
        }
        _ => Err(invalid("use an http:// (loopback only) or https:// URL")),
    }
}

/// When [`archive_pending`] writes objects, and how long events stay in the store.
#[derive(Clone, Debug)]
pub struct ArchivePolicy {
    /// The maximum number of events in one object. A day with more is split into several.
    pub max_events_per_object: u64,
    /// Write every pending event, also of days that have not ended.
    pub flush_open_days: bool,
    /// How long after the end of a UTC day its events are written when
    /// `flush_open_days` is off, so that late events of that day join them.
    pub late_events_grace: Duration,
    /// Delete archived events published more than this many days ago from
    /// the store; `None` keeps them.
    pub keep_days: Option<u32>,
    /// Batches encoded at once.
    pub parallelism: usize,
}

impl ArchivePolicy {
    /// Writes every pending event now (`idaudit archive`).
    pub fn on_demand() -> ArchivePolicy {
        ArchivePolicy {
            flush_open_days: true,
            ..ArchivePolicy::continuous()
        }
    }

    /// Writes a day once it ended an hour ago, and a full object as soon as
    /// a day has that many pending events, so that a collector can call
    /// [`archive_pending`] after every page without making small objects.
    pub fn continuous() -> ArchivePolicy {
        ArchivePolicy {
            max_events_per_object: 50_000,
            flush_open_days: false,
            late_events_grace: Duration::hours(1),
            keep_days: None,
            parallelism: std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1)
                .min(4),
        }
    }
}

/// The outcome of one [`archive_pending`] run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Objects written, as paths relative to the archive root.
    pub objects: Vec<String>,
    /// Events in those objects.
    pub events: u64,
    /// Parquet bytes written.
    pub bytes: u64,
    /// Objects of them that an interrupted earlier run had left unconfirmed.
    pub resumed_objects: u64,
    /// Events stored again after retention had deleted them, linked to
    /// the object that already contains them.
    pub relinked_events: u64,
    /// Archived events deleted from the store by `keep_days`.
    pub pruned_events: u64,
    /// Events still pending, waiting for their day to end.
    pub pending_events: u64,
}

/// Writes pending events to the archive and applies the local retention.
///
/// In order: batches an earlier run left unconfirmed are written again under
/// their names, pending events are assigned to new batches as `policy` allows,
/// those are written and confirmed, and archived events older than
/// `policy.keep_days` are deleted from the store. It returns with nothing
/// written when nothing is due, so it is cheap to call after every page.
///
/// Each new batch is saved before its events are read, and the next batch is
/// assigned while earlier ones are read and encoded on other threads.
pub async fn archive_pending(
    store: &mut Store,
    target: &ArchiveTarget,
    policy: &ArchivePolicy,
) -> Result<ArchiveReport, ArchiveError> {
    let now = Utc::now();
    let mut report = ArchiveReport {
        relinked_events: store.relink_archived_events()?,
        ..ArchiveReport::default()
    };

    let mut pipeline = Pipeline::new(store, policy);
    let resumed = store.unwritten_archive_batches()?;
    report.resumed_objects = resumed.len() as u64;
    if !resumed.is_empty() {
        tracing::info!(
            batches = resumed.len(),
            "Writing archive objects that an interrupted run left unconfirmed"
        );
    }
    for batch in resumed {
        pipeline.push(store, target, batch, &mut report).await?;
    }

    let mut assigner = Assigner::new(store, policy, now)?;
    while let Some(batch) = assigner.next_batch(store, policy)? {
        pipeline.push(store, target, batch, &mut report).await?;
    }
    pipeline.finish(store, target, &mut report).await?;

    if let Some(days) = policy.keep_days {
        let before = idaudit_store::format_time(now - Duration::days(i64::from(days)));
        report.pruned_events = store.prune_archived_events(&before)?;
    }
    report.pending_events = store.archive_counts()?.pending_events;
    Ok(report)
}

/// Assigns pending events to new batches as `policy` allows and returns the
/// batches. Each batch and its object name are saved before any object is
/// written.
pub fn create_batches(
    store: &mut Store,
    policy: &ArchivePolicy,
    now: DateTime<Utc>,
) -> Result<Vec<ArchiveBatch>, ArchiveError> {
    let mut assigner = Assigner::new(store, policy, now)?;
    let mut batches = Vec::new();
    while let Some(batch) = assigner.next_batch(store, policy)? {
        batches.push(batch);
    }
    Ok(batches)
}

/// Creates new batches one at a time, partition by partition, in the order
/// of [`Store::pending_archive_partitions`].
struct Assigner {
    store_id: String,
    limit: u64,
    created_at: String,
    /// The end of the grace period: a day that ended before it is closed.
    closed_before: DateTime<Utc>,
    partitions: std::vec::IntoIter<idaudit_store::PendingPartition>,
    /// The partition being split into batches, and its events not yet in one.
    current: Option<(idaudit_store::PendingPartition, u64)>,
}

impl Assigner {
    fn new(
        store: &Store,
        policy: &ArchivePolicy,
        now: DateTime<Utc>,
    ) -> Result<Assigner, ArchiveError> {
        Ok(Assigner {
            store_id: store_id(store)?,
            limit: policy.max_events_per_object.max(1),
            created_at: idaudit_store::format_time(now),
            closed_before: now - policy.late_events_grace,
            partitions: store.pending_archive_partitions()?.into_iter(),
            current: None,
        })
    }

    /// Creates and returns the next batch, or `None` when no more is due.
    fn next_batch(
        &mut self,
        store: &mut Store,
        policy: &ArchivePolicy,
    ) -> Result<Option<ArchiveBatch>, ArchiveError> {
        loop {
            let Some((partition, remaining)) = &mut self.current else {
                match self.partitions.next() {
                    Some(partition) => {
                        let events = partition.events;
                        self.current = Some((partition, events));
                        continue;
                    }
                    None => return Ok(None),
                }
            };
            let day_closed = day_ended(&partition.date, self.closed_before);
            if *remaining == 0
                || (*remaining < self.limit && !day_closed && !policy.flush_open_days)
            {
                self.current = None;
                continue;
            }
            let org = partition_value(&partition.org);
            let store_id = &self.store_id;
            let date = &partition.date;
            let naming = |id: i64| format!("org={org}/date={date}/part-{store_id}-{id:08}.parquet");
            let created = store.create_archive_batch(
                &partition.org,
                &partition.date,
                self.limit,
                &self.created_at,
                naming,
            )?;
            match created {
                Some(batch) => {
                    *remaining = remaining.saturating_sub(batch.events);
                    return Ok(Some(batch));
                }
                None => self.current = None,
            }
        }
    }
}

/// Returns true when the UTC day `date` ended before `time`. A date that does
/// not parse counts as ended, so its events are not held back forever.
fn day_ended(date: &str, time: DateTime<Utc>) -> bool {
    match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(day) => {
            let end = (day + Duration::days(1)).and_hms_opt(0, 0, 0);
            end.is_none_or(|end| end.and_utc() <= time)
        }
        Err(_) => true,
    }
}

/// Returns the random id of this store in object names, creating it once.
fn store_id(store: &Store) -> Result<String, ArchiveError> {
    if let Some(id) = store.state(STORE_ID_KEY)? {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    store.set_state(STORE_ID_KEY, &id)?;
    Ok(id)
}

/// Makes an org key safe as a path segment in any reader: characters other
/// than ASCII letters, digits, `.` and `-` become `_` (`127.0.0.1:8099`
/// becomes `127.0.0.1_8099`), because Hadoop-based readers reject `:`.
pub fn partition_value(org: &str) -> String {
    org.chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '.' || character == '-' {
                character
            } else {
                '_'
            }
        })
        .collect()
}

/// Encoding of one batch, run on the blocking thread pool.
type Encoding = tokio::task::JoinHandle<(ArchiveBatch, Result<Vec<u8>, ArchiveError>)>;

/// Reads and encodes batches on other threads, up to `parallelism` at once,
/// and writes and confirms them in the order they were pushed.
///
/// One batch more may start when the batches in flight, with it, contain no
/// more events than `parallelism` full objects. The cores then keep encoding
/// while the main connection writes an object and assigns the next batch,
/// and memory stays within what `parallelism` full batches take. With days
/// of a few thousand events, this made archiving about 6% faster.
///
/// Events are read through read-only connections to the store file, one per
/// encoding task, so that reading overlaps with encoding and with the main
/// connection assigning the next batch. When no such connection opens, each
/// batch is read on the main connection before its encoding starts.
struct Pipeline {
    in_flight: FuturesOrdered<Encoding>,
    /// Events of the batches in flight.
    events_in_flight: u64,
    admission: Admission,
    readers: Option<Arc<Readers>>,
}

/// Idle read-only connections to the store file, and row buffers that
/// earlier batches emptied, so that their memory serves again.
struct Readers {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<Store>>,
    buffers: std::sync::Mutex<Vec<ArchiveRows>>,
}

impl Readers {
    fn take(&self) -> Result<Store, ArchiveError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match idle {
            Some(reader) => Ok(reader),
            None => Ok(Store::open_read_only(&self.path)?),
        }
    }

    fn put_back(&self, reader: Store) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(reader);
    }

    /// Reads `batch` on an idle connection and encodes it.
    fn read_and_encode(&self, batch: &ArchiveBatch) -> Result<Vec<u8>, ArchiveError> {
        let mut rows = self
            .buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let reader = self.take()?;
        let read = reader.read_archive_batch_into(batch.id, &mut rows);
        self.put_back(reader);
        read?;
        let encoded = encode_or_error(&mut rows, batch.id);
        rows.clear();
        self.buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(rows);
        encoded
    }
}

impl Pipeline {
    fn new(store: &Store, policy: &ArchivePolicy) -> Pipeline {
        let readers = match Store::open_read_only(store.path()) {
            Ok(reader) => Some(Arc::new(Readers {
                path: store.path().to_path_buf(),
                idle: std::sync::Mutex::new(vec![reader]),
                buffers: std::sync::Mutex::new(Vec::new()),
            })),
            Err(error) => {
                tracing::debug!(
                    error = %error,
                    "Reading archive batches on the main store connection"
                );
                None
            }
        };
        let parallelism = policy.parallelism.max(1);
        Pipeline {
            in_flight: FuturesOrdered::new(),
            events_in_flight: 0,
            admission: Admission {
                parallelism,
                event_budget: policy
                    .max_events_per_object
                    .saturating_mul(parallelism as u64),
            },
            readers,
        }
    }

    /// Starts reading and encoding `batch`. When the pipeline has no room
    /// for it, the oldest batch is written and confirmed first.
    async fn push(
        &mut self,
        store: &mut Store,
        target: &ArchiveTarget,
        batch: ArchiveBatch,
        report: &mut ArchiveReport,
    ) -> Result<(), ArchiveError> {
        while !self
            .admission
            .admits(self.in_flight.len(), self.events_in_flight, batch.events)
        {
            self.write_next(store, target, report).await?;
        }
        self.events_in_flight += batch.events;
        let encoding = match &self.readers {
            Some(readers) => {
                let readers = Arc::clone(readers);
                tokio::task::spawn_blocking(move || {
                    let encoded = readers.read_and_encode(&batch);
                    (batch, encoded)
                })
            }
            None => {
                let mut rows = read_rows(store, &batch)?;
                tokio::task::spawn_blocking(move || {
                    let encoded = encode_or_error(&mut rows, batch.id);
                    (batch, encoded)
                })
            }
        };
        self.in_flight.push_back(encoding);
        Ok(())
    }

    /// Writes every batch still in flight.
    async fn finish(
        mut self,
        store: &mut Store,
        target: &ArchiveTarget,
        report: &mut ArchiveReport,
    ) -> Result<(), ArchiveError> {
        while !self.in_flight.is_empty() {
            self.write_next(store, target, report).await?;
        }
        Ok(())
    }

    async fn write_next(
        &mut self,
        store: &mut Store,
        target: &ArchiveTarget,
        report: &mut ArchiveReport,
    ) -> Result<(), ArchiveError> {
        if let Some(encoding) = self.in_flight.next().await {
            let (batch, encoded) = encoding?;
            self.events_in_flight = self.events_in_flight.saturating_sub(batch.events);
            put_and_confirm(store, target, batch, encoded?, report).await?;
        }
        Ok(())
    }
}

/// When a [`Pipeline`] may start another batch.
#[derive(Clone, Copy, Debug)]
struct Admission {
    parallelism: usize,
    /// Maximum events in flight while more than `parallelism` batches are.
    event_budget: u64,
}

impl Admission {
    /// Tells whether a batch of `events` may start while `batches` batches
    /// of `events_in_flight` events in all are in flight.
    fn admits(&self, batches: usize, events_in_flight: u64, events: u64) -> bool {
        batches < self.parallelism
            || (batches == self.parallelism
                && events_in_flight.saturating_add(events) <= self.event_budget)
    }
}

fn encode_or_error(rows: &mut ArchiveRows, batch: i64) -> Result<Vec<u8>, ArchiveError> {
    encode(rows).map_err(|source| ArchiveError::Encode { batch, source })
}

fn read_rows(store: &Store, batch: &ArchiveBatch) -> Result<ArchiveRows, ArchiveError> {
    Ok(store.read_archive_batch(batch.id)?)
}

/// Writes one encoded batch, then records it as written.
async fn put_and_confirm(
    store: &mut Store,
    target: &ArchiveTarget,
    batch: ArchiveBatch,
    bytes: Vec<u8>,
    report: &mut ArchiveReport,
) -> Result<(), ArchiveError> {
    let size = bytes.len() as u64;
    write_object(target, &batch.object, bytes).await?;
    store.mark_archive_batch_written(batch.id, &idaudit_store::format_time(Utc::now()))?;
    tracing::debug!(object = %batch.object, events = batch.events, bytes = size, "Wrote archive object");
    report.objects.push(batch.object);
    report.events += batch.events;
    report.bytes += size;
    Ok(())
}

/// Writes one object, replacing any object of the same name.
pub async fn write_object(
    target: &ArchiveTarget,
    name: &str,
    bytes: Vec<u8>,
) -> Result<(), ArchiveError> {
    target
        .objects
        .put(&target.object_path(name), PutPayload::from(bytes))
        .await
        .map_err(|source| ArchiveError::Write {
            object: name.to_string(),
            location: target.location.clone(),
            source,
        })?;
    Ok(())
}

/// Reads the events of `batch` from the store and encodes them as one
/// Parquet object, without writing it.
pub fn encode_batch(store: &Store, batch: &ArchiveBatch) -> Result<Vec<u8>, ArchiveError> {
    let mut rows = read_rows(store, batch)?;
    encode_or_error(&mut rows, batch.id)
}

/// Returns the Arrow schema of archive objects; `docs/archive.md` describes it.
pub fn archive_schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("uuid", false),
        Field::new(
            "published",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        text("event_type", false),
        text("severity", true),
        text("outcome_result", true),
        text("outcome_reason", true),
        text("actor_id", true),
        text("actor_alternate_id", true),
        text("actor_type", true),
        text("client_ip", true),
        text("country", true),
        text("city", true),
        Field::new("asn", DataType::Int64, true),
        Field::new(
            "target_ids",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        text("transaction_id", true),
        text("raw", false),
    ]))
}

/// Column builders of one batch, in schema order, except `raw`, which
/// [`encode`] takes whole from the rows.
struct Columns {
    uuid: StringBuilder,
    published: TimestampMillisecondBuilder,
    event_type: StringBuilder,
    severity: StringBuilder,
    outcome_result: StringBuilder,
    outcome_reason: StringBuilder,
    actor_id: StringBuilder,
    actor_alternate_id: StringBuilder,
    actor_type: StringBuilder,
    client_ip: StringBuilder,
    country: StringBuilder,
    city: StringBuilder,
    asn: Int64Builder,
    target_ids: ListBuilder<StringBuilder>,
    transaction_id: StringBuilder,
}

impl Columns {
    fn with_capacity(rows: usize) -> Columns {
        let text = || StringBuilder::with_capacity(rows, rows * 24);
        Columns {
            uuid: StringBuilder::with_capacity(rows, rows * 36),
            published: TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
            event_type: text(),
            severity: text(),
            outcome_result: text(),
            outcome_reason: text(),
            actor_id: text(),
            actor_alternate_id: text(),
            actor_type: text(),
            client_ip: text(),
            country: text(),
            city: text(),
            asn: Int64Builder::with_capacity(rows),
            target_ids: ListBuilder::new(text()),
            transaction_id: text(),
        }
    }

    fn push(&mut self, row: ArchiveRowRef<'_>) {
        // A raw event whose fields have unexpected types still goes to the
        // archive whole, with null key columns.
        let event = KeyFields::read(row.raw);
        let published = published_millis(row.published);

        self.uuid.append_value(row.uuid);
        self.published.append_value(published);
        self.event_type
            .append_value(event.event_type.as_deref().unwrap_or_default());
        self.severity.append_option(event.severity.as_deref());
        self.outcome_result
            .append_option(event.outcome_result.as_deref());
        self.outcome_reason
            .append_option(event.outcome_reason.as_deref());
        self.actor_id.append_option(event.actor_id.as_deref());
        self.actor_alternate_id
            .append_option(event.actor_alternate_id.as_deref());
        self.actor_type.append_option(event.actor_type.as_deref());

        // Okta writes the text `null` for some unknown values.
        let ip = event.client_ip.as_deref().filter(|ip| *ip != "null");
        self.client_ip.append_option(ip);
        self.country.append_option(event.country.as_deref());
        self.city.append_option(event.city.as_deref());
        self.asn.append_option(event.as_number);

        match &event.target_ids {
            Some(ids) => {
                for id in ids {
                    self.target_ids.values().append_option(id.as_deref());
                }
                self.target_ids.append(true);
            }
            None => self.target_ids.append(false),
        }
        self.transaction_id
            .append_option(event.transaction_id.as_deref());
    }

    fn finish(mut self, raw: ArrayRef) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.uuid.finish()),
            Arc::new(self.published.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.severity.finish()),
            Arc::new(self.outcome_result.finish()),
            Arc::new(self.outcome_reason.finish()),
            Arc::new(self.actor_id.finish()),
            Arc::new(self.actor_alternate_id.finish()),
            Arc::new(self.actor_type.finish()),
            Arc::new(self.client_ip.finish()),
            Arc::new(self.country.finish()),
            Arc::new(self.city.finish()),
            Arc::new(self.asn.finish()),
            Arc::new(self.target_ids.finish()),
            Arc::new(self.transaction_id.finish()),
            raw,
        ]
    }
}

/// Returns the milliseconds since the epoch of a stored `published`, or 0 when
/// it is not RFC 3339. The store's own form, `YYYY-MM-DDTHH:MM:SS.mmmZ`, is
/// read without the general parser.
fn published_millis(published: &str) -> i64 {
    store_form_millis(published.as_bytes()).unwrap_or_else(|| {
        DateTime::parse_from_rfc3339(published)
            .map(|time| time.timestamp_millis())
            .unwrap_or_default()
    })
}

fn store_form_millis(text: &[u8]) -> Option<i64> {
    let [
        y1,
        y2,
        y3,
        y4,
        b'-',
        m1,
        m2,
        b'-',
        d1,
        d2,
        b'T',
        h1,
        h2,
        b':',
        i1,
        i2,
        b':',
        s1,
        s2,
        b'.',
        f1,
        f2,
        f3,
        b'Z',
    ] = *text
    else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |value, digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    let year = i32::try_from(number(&[y1, y2, y3, y4])?).ok()?;
    let time = NaiveDate::from_ymd_opt(year, number(&[m1, m2])?, number(&[d1, d2])?)?
        .and_hms_milli_opt(
            number(&[h1, h2])?,
            number(&[i1, i2])?,
            number(&[s1, s2])?,
            number(&[f1, f2, f3])?,
        )?;
    Some(time.and_utc().timestamp_millis())
}

/// Encodes rows, in their order, as one zstd-compressed Parquet file with
/// one row group.
pub fn encode_rows(rows: &[ArchiveRow]) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let raw_bytes = rows.iter().map(|row| row.raw.len()).sum();
    let mut buffered = ArchiveRows::with_capacity(rows.len(), raw_bytes);
    for row in rows {
        buffered.push(&row.uuid, &row.published, &row.raw);
    }
    encode(&mut buffered)
}

/// Encodes rows, in their order, as one zstd-compressed Parquet file with
/// one row group, and leaves `rows` empty with their buffers kept for the
/// next batch. The raw JSON becomes the `raw` column without a copy.
fn encode(rows: &mut ArchiveRows) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let raw_bytes = rows.raw_bytes();
    let mut columns = Columns::with_capacity(rows.len());
    for row in rows.iter() {
        columns.push(row);
    }
    let raw = raw_column(rows)?;
    let schema = archive_schema();
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns.finish(Arc::new(raw.clone())))?;

    let mut output = Vec::with_capacity(raw_bytes / 6 + 4096);
    let mut writer = ArrowWriter::try_new(&mut output, schema, Some(writer_properties()))?;
    writer.write(&batch)?;
    writer.close()?;

    // With the batch and the writer gone, this column is the only owner of
    // the JSON buffer, which then serves the next batch.
    drop(batch);
    let (_, values, _) = raw.into_parts();
    if let Ok(buffer) = values.into_vec::<u8>() {
        rows.reuse_raw_buffer(buffer);
    }
    Ok(output)
}

/// Moves the rows' raw JSON into a `raw` column, without copying it.
fn raw_column(rows: &mut ArchiveRows) -> Result<StringArray, parquet::errors::ParquetError> {
    // Arrow's `Utf8` type has 32-bit offsets, so the JSON of one batch must
    // stay under 2 GiB, and a larger batch fails here with an error.
    let too_large = |error| {
        parquet::errors::ParquetError::General(format!(
            "the raw JSON of one batch is too large for a Parquet string column ({error}): \
             lower `max_events_per_object`"
        ))
    };
    let starts = rows.raw_offsets();
    let mut offsets = OffsetBufferBuilder::<i32>::new(starts.len().saturating_sub(1));
    for pair in starts.windows(2) {
        offsets
            .try_push_length(pair[1] - pair[0])
            .map_err(too_large)?;
    }
    let offsets = offsets.try_finish().map_err(too_large)?;
    let json = rows.take_raw_json();
    Ok(StringArray::try_new(
        offsets,
        json.into_bytes().into(),
        None,
    )?)
}

fn writer_properties() -> WriterProperties {
    // The raw JSON and the uuid are unique per row: a dictionary of them
    // never pays off. Min/max statistics of 2 KB strings help no query.
    let raw = ColumnPath::from("raw");
    let level = ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(None)
        .set_column_dictionary_enabled(ColumnPath::from("uuid"), false)
        .set_column_dictionary_enabled(raw.clone(), false)
        .set_column_statistics_enabled(raw, EnabledStatistics::None)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            SCHEMA_VERSION_KEY.to_string(),
            SCHEMA_VERSION.to_string(),
        )]))
        .build()
}

#[cfg(test)]
mod tests {
    use super::{
        Admission, check_endpoint, day_ended, partition_value, published_millis, store_form_millis,
    };
    use chrono::{TimeZone, Utc};

    #[test]
    fn admission_adds_one_small_batch() {
        let admission = Admission {
            parallelism: 2,
            event_budget: 100_000,
        };
        assert!(admission.admits(0, 0, 50_000));
        assert!(admission.admits(1, 50_000, 50_000));
        assert!(admission.admits(2, 4_600, 2_300), "one small batch more");
        assert!(!admission.admits(3, 6_900, 2_300), "never two more");
        assert!(
            !admission.admits(2, 100_000, 1),
            "full batches fill the budget"
        );
        assert!(!admission.admits(2, 60_000, 50_000));
    }

    #[test]
    fn partition_value_replaces_colon() {
        assert_eq!(partition_value("acme.okta.com"), "acme.okta.com");
        assert_eq!(partition_value("127.0.0.1:8099"), "127.0.0.1_8099");
    }

    #[test]
    fn endpoint_http_only_on_loopback() {
        assert!(check_endpoint("http://127.0.0.1:9000").unwrap());
        assert!(check_endpoint("http://localhost:9000").unwrap());
        assert!(!check_endpoint("https://s3.example.com").unwrap());
        assert!(check_endpoint("http://s3.example.com").is_err());
        assert!(check_endpoint("ftp://127.0.0.1").is_err());
    }

    #[test]
    fn store_form_of_published_reads_as_rfc3339() {
        for text in [
            "2026-11-30T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            "1969-12-31T23:59:59.001Z",
            "2024-02-29T12:00:00.500Z",
        ] {
            let expected = chrono::DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_millis();
            assert_eq!(store_form_millis(text.as_bytes()), Some(expected), "{text}");
            assert_eq!(published_millis(text), expected, "{text}");
        }
        assert_eq!(store_form_millis(b"2026-02-30T00:00:00.000Z"), None);
        assert_eq!(store_form_millis(b"2026-11-30T23:59:60.000Z"), None);
        for text in ["2026-11-30T23:59:60.000Z", "2026-11-30T23:59:59+01:00"] {
            let expected = chrono::DateTime::parse_from_rfc3339(text)
                .map(|time| time.timestamp_millis())
                .unwrap_or_default();
            assert_eq!(published_millis(text), expected, "{text}");
        }
        assert_eq!(published_millis("yesterday"), 0);
    }

    #[test]
    fn day_ends_at_next_midnight() {
        let just_before = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 59).unwrap();
        let midnight = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert!(!day_ended("2026-11-30", just_before));
        assert!(day_ended("2026-11-30", midnight));
    }
}
