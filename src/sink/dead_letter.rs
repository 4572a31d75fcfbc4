//! The dead letter: rows Sentinel did not accept, kept with the reason so nothing is lost,
//! and [`replay`] to send them again once the cause is fixed.
//!
//! Files are gzip NDJSON, one [`DeadLetterEntry`] per line, under
//! `<prefix><YYYY-MM-DD>/<object-hash>-<n>.ndjson.gz` in S3 or a local folder, one file per
//! source object per write. `n` counts up per object and day, and files are created with
//! create-if-absent writes, so concurrent functions never overwrite each other's files.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use smart_default::SmartDefault;

use crate::record::{LogType, RecordId, Table};
use crate::state::local::LocalDirStore;
use crate::state::s3::S3StateStore;
use crate::state::{PutCondition, S3Location, StateError, StateStore};

use super::Row;
use super::sentinel::{FailedRow, SendReport, SentinelClient};

/// Ending of every dead-letter file name.
pub const FILE_SUFFIX: &str = ".ndjson.gz";
/// Largest dead-letter file read back: one write holds at most one batch of rows.
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// One dead-lettered row: the row exactly as it was sent, where it was going, and why it
/// was not accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetterEntry {
    /// The row's JSON object, as sent.
    pub row: Box<RawValue>,
    /// Why it was not accepted, in words.
    pub reason: String,
    /// `rejected`, `too_large`, `retries_exhausted`, `auth`, `deadline`, ...
    pub reason_kind: String,
    /// The HTTP status of the refusal, if there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The DCR stream it was sent to.
    pub stream: String,
    /// Its table's name.
    pub table: String,
    /// Its `SourceLogType`.
    pub log_type: String,
    /// The object it came from.
    pub source_object: String,
    /// Its `RecordId`, UUID-shaped.
    pub record_id: String,
    /// Position of the record in its source object.
    #[serde(default)]
    pub ordinal: u64,
    /// RFC 3339 time of the first dead-lettering.
    pub dead_lettered_at: String,
    /// Replays that did not get the row accepted.
    #[serde(default)]
    pub replay_attempts: u32,
}

impl DeadLetterEntry {
    /// An entry for `row`, dead-lettered now.
    pub fn new(
        row: &Row,
        stream: &str,
        reason: String,
        reason_kind: &str,
        status: Option<u16>,
    ) -> Self {
        // Rows are JSON objects by construction; should one not be, keep its text as a JSON
        // string rather than lose it.
        let raw = RawValue::from_string(row.json.clone()).unwrap_or_else(|_| {
            serde_json::value::to_raw_value(&row.json).expect("a string serializes")
        });
        DeadLetterEntry {
            row: raw,
            reason,
            reason_kind: reason_kind.to_string(),
            status,
            stream: stream.to_string(),
            table: row.table.name().to_string(),
            log_type: row.log_type.name().to_string(),
            source_object: row.source_object.to_string(),
            record_id: row.record_id.to_string(),
            ordinal: row.ordinal,
            dead_lettered_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            replay_attempts: 0,
        }
    }

    /// An entry for a row a send did not get accepted.
    pub fn from_failed(failed: &FailedRow) -> Self {
        DeadLetterEntry::new(
            &failed.row,
            &failed.stream,
            failed.reason.to_string(),
            failed.reason.kind(),
            failed.reason.status(),
        )
    }

    /// The row to send again, or why it cannot be.
    pub fn to_row(&self) -> Result<Row, String> {
        let table = Table::from_name(&self.table)
            .ok_or_else(|| format!("unknown table {:?}", self.table))?;
        let log_type = LogType::from_name(&self.log_type)
            .ok_or_else(|| format!("unknown log type {:?}", self.log_type))?;
        Ok(Row {
            log_type,
            table,
            record_id: RecordId::parse(&self.record_id).unwrap_or_default(),
            source_object: Arc::from(self.source_object.as_str()),
            ordinal: self.ordinal,
            json: self.row.get().to_string(),
        })
    }
}

/// Where the dead letter lives: an S3 prefix or a local folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeadLetterLocation {
    /// Files under an S3 prefix.
    S3(S3Location),
    /// Files in a local folder.
    Dir(std::path::PathBuf),
}

impl DeadLetterLocation {
    /// `s3://bucket/prefix` or a local folder (which must exist).
    pub fn parse(target: &str) -> Result<DeadLetterLocation, String> {
        match target.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(format!("no bucket in {target:?}"));
                }
                let mut prefix = prefix.to_string();
                if !prefix.is_empty() && !prefix.ends_with('/') {
                    prefix.push('/');
                }
                Ok(DeadLetterLocation::S3(S3Location {
                    bucket: bucket.to_string(),
                    prefix,
                }))
            }
            None => {
                let path = std::path::PathBuf::from(target);
                if !path.is_dir() {
                    return Err(format!("{target} is not a directory or an s3:// URL"));
                }
                Ok(DeadLetterLocation::Dir(path))
            }
        }
    }
}

/// Why the dead letter could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// The store failed.
    #[error("dead letter {location}: {source}")]
    Store {
        /// The dead letter's location.
        location: String,
        /// The store's error.
        #[source]
        source: StateError,
    },
    /// A file is not gzip NDJSON.
    #[error("dead letter file {key}: {message}")]
    Unreadable {
        /// The file's key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Where dead-lettered rows are written and read back.
#[derive(Clone)]
pub struct DeadLetter {
    store: Arc<dyn StateStore>,
    location: String,
}

/// What one write stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterWrite {
    /// Keys of the files written.
    pub files: Vec<String>,
    /// Rows written.
    pub rows: u64,
}

fn object_hash(source_object: &str) -> String {
    let digest = Sha256::digest(source_object.as_bytes());
    hex::encode(&digest[..16])
}

/// Attempts to find a free file name when other writers take the same ones.
const NAME_ATTEMPTS: usize = 20;

impl DeadLetter {
    /// A dead letter in `store`; `location` names it in logs and errors.
    pub fn new(store: Arc<dyn StateStore>, location: impl Into<String>) -> Self {
        DeadLetter {
            store,
            location: location.into(),
        }
    }

    /// A dead letter under an S3 prefix.
    pub fn s3(client: aws_sdk_s3::Client, location: &S3Location) -> Self {
        DeadLetter::new(
            Arc::new(S3StateStore::new(
                client,
                &location.bucket,
                &location.prefix,
            )),
            format!("s3://{}/{}", location.bucket, location.prefix),
        )
    }

    /// A dead letter in a local folder.
    pub fn dir(path: impl Into<std::path::PathBuf>) -> Self {
        let path = path.into();
        let location = path.display().to_string();
        DeadLetter::new(Arc::new(LocalDirStore::new(path)), location)
    }

    /// `s3://bucket/prefix` or the folder's path.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn store_error(&self, source: StateError) -> DeadLetterError {
        DeadLetterError::Store {
            location: self.location.clone(),
            source,
        }
    }

    /// Writes the rows a delivery did not get accepted.
    pub async fn write_failed(
        &self,
        failed: &[FailedRow],
    ) -> Result<DeadLetterWrite, DeadLetterError> {
        self.write(failed.iter().map(DeadLetterEntry::from_failed).collect())
            .await
    }

    /// Writes entries, one new file per source object. Fails only when a file could not be
    /// stored; the caller must then keep the rows some other way (a Lambda fails the
    /// invocation so the event is retried).
    pub async fn write(
        &self,
        entries: Vec<DeadLetterEntry>,
    ) -> Result<DeadLetterWrite, DeadLetterError> {
        let mut by_object: BTreeMap<String, Vec<DeadLetterEntry>> = BTreeMap::new();
        for entry in entries {
            by_object
                .entry(entry.source_object.clone())
                .or_default()
                .push(entry);
        }
        let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let mut written = DeadLetterWrite::default();
        for (object, entries) in by_object {
            let body = encode(&entries);
            let stem = format!("{date}/{}-", object_hash(&object));
            let key = self.put_new(&stem, body).await?;
            tracing::warn!(location = %self.location, %key, rows = entries.len(),
                source_object = %object, "rows dead-lettered");
            written.rows += entries.len() as u64;
            written.files.push(key);
        }
        Ok(written)
    }

    /// Stores `body` under `<stem><n>.ndjson.gz` with the first free `n`.
    async fn put_new(&self, stem: &str, body: Vec<u8>) -> Result<String, DeadLetterError> {
        let mut n = 0u64;
        for _ in 0..NAME_ATTEMPTS {
            let key = format!("{stem}{n}{FILE_SUFFIX}");
            match self
                .store
                .put(&key, body.clone(), PutCondition::IfAbsent)
                .await
            {
                Ok(_) => return Ok(key),
                Err(StateError::PreconditionFailed) => {
                    let existing = self
                        .store
                        .list(stem)
                        .await
                        .map_err(|e| self.store_error(e))?;
                    let highest = existing
                        .iter()
                        .filter_map(|k| k.strip_prefix(stem)?.strip_suffix(FILE_SUFFIX))
                        .filter_map(|n| n.parse::<u64>().ok())
                        .max();
                    n = highest.map_or(n + 1, |h| h.max(n) + 1);
                }
                Err(e) => return Err(self.store_error(e)),
            }
        }
        Err(self.store_error(StateError::Other(anyhow::anyhow!(
            "no free file name under {stem} after {NAME_ATTEMPTS} attempts"
        ))))
    }

    /// Dead-letter files, oldest date first.
    pub async fn list(&self) -> Result<Vec<String>, DeadLetterError> {
        let keys = self.store.list("").await.map_err(|e| self.store_error(e))?;
        Ok(keys
            .into_iter()
            .filter(|k| k.ends_with(FILE_SUFFIX))
            .collect())
    }

    /// A file's entries and its version tag; `None` when it is gone.
    pub async fn read(&self, key: &str) -> Result<Option<DeadLetterFile>, DeadLetterError> {
        let found = self
            .store
            .get(key, MAX_FILE_BYTES)
            .await
            .map_err(|e| self.store_error(e))?;
        let Some(found) = found else {
            return Ok(None);
        };
        let file = decode(&found.body).map_err(|message| DeadLetterError::Unreadable {
            key: key.to_string(),
            message,
        })?;
        Ok(Some(DeadLetterFile {
            etag: found.etag,
            ..file
        }))
    }
}

/// A dead-letter file's content.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFile {
    /// The entries, in file order.
    pub entries: Vec<DeadLetterEntry>,
    /// Lines that are not entries (damaged or hand-edited), kept verbatim on rewrite.
    pub other_lines: Vec<String>,
    /// Version tag of the file as read, for a conditional rewrite.
    pub etag: String,
}

fn encode_lines(entries: &[DeadLetterEntry], other_lines: &[String]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for entry in entries {
        serde_json::to_writer(&mut gz, entry).expect("entries serialize");
        gz.write_all(b"\n").expect("gzip into memory");
    }
    for line in other_lines {
        gz.write_all(line.as_bytes()).expect("gzip into memory");
        gz.write_all(b"\n").expect("gzip into memory");
    }
    gz.finish().expect("gzip into memory")
}

fn encode(entries: &[DeadLetterEntry]) -> Vec<u8> {
    encode_lines(entries, &[])
}

fn decode(body: &[u8]) -> Result<DeadLetterFile, String> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(body)
        .read_to_string(&mut text)
        .map_err(|e| format!("not gzip-compressed UTF-8 text: {e}"))?;
    let mut file = DeadLetterFile::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<DeadLetterEntry>(line) {
            Ok(entry) => file.entries.push(entry),
            Err(_) => file.other_lines.push(line.to_string()),
        }
    }
    Ok(file)
}

/// How a replay runs.
#[derive(Debug, Clone, SmartDefault)]
pub struct ReplayOptions {
    /// Time allowed for each file's delivery, retries included.
    #[default(Duration::from_secs(600))]
    pub per_file_timeout: Duration,
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Dead-letter files looked at.
    pub files: u64,
    /// Files deleted because every row was accepted.
    pub files_deleted: u64,
    /// Files rewritten with the rows still not accepted.
    pub files_rewritten: u64,
    /// Files that could not be read or updated, with the reason; left as they were.
    pub file_errors: Vec<(String, String)>,
    /// Entries read.
    pub rows_read: u64,
    /// Rows Sentinel accepted this time.
    pub rows_accepted: u64,
    /// Rows still in the dead letter afterwards, by reason kind.
    pub rows_remaining: BTreeMap<String, u64>,
    /// Rows per target stream (what a dry run would send).
    pub rows_by_stream: BTreeMap<String, u64>,
    /// What sending them again took.
    pub delivery: SendReport,
}

impl ReplayReport {
    /// Rows still in the dead letter afterwards.
    pub fn remaining(&self) -> u64 {
        self.rows_remaining.values().sum()
    }
}

/// Sends every dead-lettered row again through `client` (whose stream map decides the
/// target streams), deletes files whose rows were all accepted and rewrites files that
/// were only partly accepted, keeping the rest with their new reason.
pub async fn replay(
    dead_letter: &DeadLetter,
    client: &SentinelClient,
    options: &ReplayOptions,
) -> Result<ReplayReport, DeadLetterError> {
    let mut report = ReplayReport::default();
    for key in dead_letter.list().await? {
        report.files += 1;
        if let Err(e) = replay_file(dead_letter, client, options, &key, &mut report).await {
            tracing::error!(%key, error = %e, "dead-letter file left as it was");
            report.file_errors.push((key, e.to_string()));
        }
    }
    Ok(report)
}

/// Counts what a replay would send, and to which streams, without sending anything.
pub async fn survey(
    dead_letter: &DeadLetter,
    streams: &super::sentinel::StreamMap,
) -> Result<ReplayReport, DeadLetterError> {
    let mut report = ReplayReport::default();
    for key in dead_letter.list().await? {
        report.files += 1;
        let file = match dead_letter.read(&key).await {
            Ok(Some(file)) => file,
            Ok(None) => continue,
            Err(e) => {
                report.file_errors.push((key, e.to_string()));
                continue;
            }
        };
        report.rows_read += file.entries.len() as u64;
        for entry in &file.entries {
            *report
                .rows_remaining
                .entry(entry.reason_kind.clone())
                .or_default() += 1;
            let target = match entry.to_row() {
                Ok(row) => streams.stream_for(row.table),
                Err(_) => "(not replayable)".to_string(),
            };
            *report.rows_by_stream.entry(target).or_default() += 1;
        }
        if !file.other_lines.is_empty() {
            *report
                .rows_remaining
                .entry("unparsed_line".into())
                .or_default() += file.other_lines.len() as u64;
        }
    }
    Ok(report)
}

/// Identifies a row across a send: its id and its exact text.
type RowKey = (RecordId, String);

/// Why a row is still not accepted after a replay.
struct StillFailing {
    reason: String,
    kind: String,
    status: Option<u16>,
    stream: String,
}

async fn replay_file(
    dead_letter: &DeadLetter,
    client: &SentinelClient,
    options: &ReplayOptions,
    key: &str,
    report: &mut ReplayReport,
) -> Result<(), DeadLetterError> {
    let Some(file) = dead_letter.read(key).await? else {
        return Ok(());
    };
    report.rows_read += file.entries.len() as u64;
    let mut rows = Vec::new();
    // Entries that cannot become rows stay, with the reason.
    let mut unsendable: Vec<(usize, String)> = Vec::new();
    for (i, entry) in file.entries.iter().enumerate() {
        match entry.to_row() {
            Ok(row) => {
                *report
                    .rows_by_stream
                    .entry(client.streams().stream_for(row.table))
                    .or_default() += 1;
                rows.push(row);
            }
            Err(reason) => unsendable.push((i, reason)),
        }
    }

    let delivery = client
        .send(rows, Instant::now() + options.per_file_timeout)
        .await;
    // What was not accepted, with its new reason.
    let mut not_accepted: HashMap<RowKey, Vec<StillFailing>> = HashMap::new();
    for failed in &delivery.failed {
        not_accepted
            .entry((failed.row.record_id, failed.row.json.clone()))
            .or_default()
            .push(StillFailing {
                reason: failed.reason.to_string(),
                kind: failed.reason.kind().to_string(),
                status: failed.reason.status(),
                stream: failed.stream.clone(),
            });
    }
    for row in &delivery.unsent {
        not_accepted
            .entry((row.record_id, row.json.clone()))
            .or_default()
            .push(StillFailing {
                reason: "replay ran out of time before the row was accepted".into(),
                kind: "deadline".into(),
                status: None,
                stream: client.streams().stream_for(row.table),
            });
    }
    let accepted_now = delivery.accepted;
    report.rows_accepted += accepted_now;
    report.delivery.merge(SendReport {
        failed: Vec::new(),
        unsent: Vec::new(),
        ..delivery
    });

    let mut remaining = Vec::new();
    let mut accepted_keys: HashMap<RowKey, u64> = HashMap::new();
    for (i, entry) in file.entries.iter().enumerate() {
        if let Some((_, reason)) = unsendable.iter().find(|(j, _)| *j == i) {
            let mut kept = entry.clone();
            kept.reason = format!("cannot replay: {reason}");
            kept.reason_kind = "unreplayable".into();
            remaining.push(kept);
            continue;
        }
        let row_key = (
            RecordId::parse(&entry.record_id).unwrap_or_default(),
            entry.row.get().to_string(),
        );
        match not_accepted.get_mut(&row_key).and_then(Vec::pop) {
            Some(still) => {
                let mut kept = entry.clone();
                kept.reason = still.reason;
                kept.reason_kind = still.kind;
                kept.status = still.status;
                kept.stream = still.stream;
                kept.replay_attempts += 1;
                remaining.push(kept);
            }
            None => *accepted_keys.entry(row_key).or_default() += 1,
        }
    }
    for entry in &remaining {
        *report
            .rows_remaining
            .entry(entry.reason_kind.clone())
            .or_default() += 1;
    }
    if !file.other_lines.is_empty() {
        *report
            .rows_remaining
            .entry("unparsed_line".into())
            .or_default() += file.other_lines.len() as u64;
    }
    if accepted_now == 0 {
        return Ok(());
    }
    remove_accepted(dead_letter, key, file, &accepted_keys, remaining, report).await
}

/// Takes the accepted rows out of the file: deletes it when nothing is left, else rewrites
/// it if it is still the version that was read. Should another writer have changed it in
/// between, the accepted rows are removed from the current version instead.
async fn remove_accepted(
    dead_letter: &DeadLetter,
    key: &str,
    file: DeadLetterFile,
    accepted: &HashMap<RowKey, u64>,
    remaining: Vec<DeadLetterEntry>,
    report: &mut ReplayReport,
) -> Result<(), DeadLetterError> {
    const ATTEMPTS: usize = 5;
    let store = &dead_letter.store;
    let (mut etag, mut remaining, mut other_lines) = (file.etag, remaining, file.other_lines);
    for _ in 0..ATTEMPTS {
        if remaining.is_empty() && other_lines.is_empty() {
            store
                .delete(key)
                .await
                .map_err(|e| dead_letter.store_error(e))?;
            report.files_deleted += 1;
            return Ok(());
        }
        let body = encode_lines(&remaining, &other_lines);
        match store
            .put(key, body, PutCondition::IfMatch(etag.clone()))
            .await
        {
            Ok(_) => {
                report.files_rewritten += 1;
                return Ok(());
            }
            Err(StateError::PreconditionFailed) => {
                let Some(current) = dead_letter.read(key).await? else {
                    // Someone else finished this file.
                    return Ok(());
                };
                let mut budget = accepted.clone();
                remaining = current
                    .entries
                    .into_iter()
                    .filter(|entry| {
                        let row_key = (
                            RecordId::parse(&entry.record_id).unwrap_or_default(),
                            entry.row.get().to_string(),
                        );
                        match budget.get_mut(&row_key) {
                            Some(n) if *n > 0 => {
                                *n -= 1;
                                false
                            }
                            _ => true,
                        }
                    })
                    .collect();
                other_lines = current.other_lines;
                etag = current.etag;
            }
            Err(e) => return Err(dead_letter.store_error(e)),
        }
    }
    Err(DeadLetterError::Unreadable {
        key: key.to_string(),
        message: format!("changed by other writers {ATTEMPTS} times during the replay"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::sentinel::FailureReason;

    fn failed(i: u64, object: &str) -> FailedRow {
        FailedRow {
            row: Row {
                log_type: LogType::CloudTrail,
                table: Table::AwsCloudTrail,
                record_id: RecordId(i as u128),
                source_object: Arc::from(object),
                ordinal: i,
                json: format!(
                    "{{\"EventName\":\"e{i}\",\"RecordId\":\"{}\"}}",
                    RecordId(i as u128)
                ),
            },
            stream: "Custom-AWSCloudTrail".into(),
            reason: FailureReason::Rejected {
                status: 400,
                body: "bad column".into(),
            },
        }
    }

    #[tokio::test]
    async fn writes_one_file_per_object_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let dl = DeadLetter::dir(dir.path());
        let rows: Vec<_> = (0..5)
            .map(|i| failed(i, if i < 3 { "s3://b/one" } else { "s3://b/two" }))
            .collect();
        let first = dl.write_failed(&rows).await.unwrap();
        assert_eq!(first.rows, 5);
        assert_eq!(first.files.len(), 2);
        let again = dl.write_failed(&rows[..3]).await.unwrap();
        assert_eq!(again.files.len(), 1);
        let keys = dl.list().await.unwrap();
        assert_eq!(keys.len(), 3);
        let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let hash = object_hash("s3://b/one");
        assert!(
            keys.contains(&format!("{date}/{hash}-0.ndjson.gz")),
            "{keys:?}"
        );
        assert!(
            keys.contains(&format!("{date}/{hash}-1.ndjson.gz")),
            "{keys:?}"
        );

        let file = dl.read(&keys[0]).await.unwrap().unwrap();
        let entry = &file.entries[0];
        assert_eq!(entry.status, Some(400));
        assert_eq!(entry.reason_kind, "rejected");
        assert!(entry.reason.contains("bad column"));
        assert_eq!(entry.table, "AWSCloudTrail");
        assert_eq!(entry.stream, "Custom-AWSCloudTrail");
        let row = entry.to_row().unwrap();
        assert_eq!(row.json, rows[0].row.json);
        assert_eq!(row.record_id, rows[0].row.record_id);
    }

    #[test]
    fn damaged_lines_are_kept_apart() {
        let entry = DeadLetterEntry::from_failed(&failed(1, "o"));
        let body = encode_lines(&[entry], &["not json".to_string()]);
        let file = decode(&body).unwrap();
        assert_eq!(file.entries.len(), 1);
        assert_eq!(file.other_lines, vec!["not json".to_string()]);
        assert!(decode(b"plain text").is_err());
    }
}
