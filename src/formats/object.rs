//! One object through the pure stages: decode -> detect -> parse -> sink. The same code
//! runs in the function, the command line and the training tools; only the reader and
//! the sink differ.

use std::io::Read;
use std::time::{Duration, Instant};

use super::{Detection, Emitter, Format, ObjectTime, ParseError, ParseStats, RecordSink};
use crate::source::decode::{self, DecodeLimits, Encoding};

/// How many decoded bytes format detection sees.
const DETECTION_HEAD_BYTES: u64 = 64 * 1024;

/// Everything the pipeline needs to know about one object besides its bytes.
#[derive(Debug, Clone)]
pub struct ObjectJob {
    /// `s3://bucket/key` or a file path; becomes the `SourceObject` column.
    pub source_object: String,
    /// The S3 key or path used for format detection.
    pub key: String,
    /// `--format`: skips detection.
    pub format: Option<Format>,
    /// Decompression limits.
    pub limits: DecodeLimits,
    /// Resume after a checkpoint: records before this ordinal are not delivered again.
    pub resume_from: u64,
    /// The time of records without a usable time of their own (see [`ObjectTime::of`]).
    pub object_time: Option<ObjectTime>,
}

impl ObjectJob {
    /// A job that detects the format, with the default limits, from the start.
    pub fn new(source_object: impl Into<String>, key: impl Into<String>) -> Self {
        ObjectJob {
            source_object: source_object.into(),
            key: key.into(),
            format: None,
            limits: DecodeLimits::default(),
            resume_from: 0,
            object_time: None,
        }
    }
}

/// What became of one object.
#[derive(Debug, Clone, Default)]
pub struct ObjectOutcome {
    /// Compression the object was in (`None` before it is read).
    pub encoding: Option<Encoding>,
    /// `None` when the object was skipped.
    pub format: Option<Format>,
    /// Why the object was skipped, if it was.
    pub skipped: Option<String>,
    /// Records, rejects and records skipped on resume.
    pub stats: ParseStats,
    /// Bytes read, as stored (compressed).
    pub bytes_in: u64,
    /// Bytes after decompression.
    pub bytes_decoded: u64,
    /// Time taken to process the object.
    pub elapsed: Duration,
    /// The stream failed part-way (truncated gzip, decode limit): every record before the
    /// damage was delivered; this says what happened.
    pub stream_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("cannot open {object}: {source}")]
    Open {
        object: String,
        source: std::io::Error,
    },
    /// The sink asked to stop (deadline or delivery failure) after `next_ordinal` records.
    #[error("processing of {object} stopped after {next_ordinal} records: {reason}")]
    Stopped {
        object: String,
        next_ordinal: u64,
        reason: String,
        stats: ParseStats,
    },
}

/// Runs one object through decode, detection and its parser into `sink`.
pub fn parse_object<R: Read + Send + 'static>(
    raw: R,
    job: &ObjectJob,
    sink: &mut dyn RecordSink,
) -> Result<ObjectOutcome, ObjectError> {
    let started = Instant::now();
    let decoded = decode::decode(raw, job.limits).map_err(|source| ObjectError::Open {
        object: job.source_object.clone(),
        source,
    })?;
    let counters = decoded.counters.clone();
    let mut reader = decoded.reader;
    let mut outcome = ObjectOutcome {
        encoding: Some(decoded.encoding),
        ..ObjectOutcome::default()
    };

    let format = match job.format {
        Some(f) => f,
        None => {
            // One `fill_buf` may return only a few bytes (the decoder's first read of a plain
            // object is the 4 sniffed magic bytes), so the head is read ahead and put back.
            let mut head = Vec::with_capacity(DETECTION_HEAD_BYTES as usize);
            if let Err(e) = (&mut reader)
                .take(DETECTION_HEAD_BYTES)
                .read_to_end(&mut head)
            {
                outcome.stream_error = Some(describe_stream_error(&e));
            }
            let detection = super::detect(&job.key, &head);
            reader = Box::new(std::io::Cursor::new(head).chain(reader));
            match detection {
                Detection::Parse(f) => f,
                Detection::Skip(reason) => {
                    tracing::info!(object = %job.source_object, %reason, "skipping object");
                    outcome.skipped = Some(reason);
                    outcome.bytes_in = counters.compressed();
                    outcome.elapsed = started.elapsed();
                    return Ok(outcome);
                }
            }
        }
    };
    outcome.format = Some(format);

    let mut emitter = Emitter::new(job.source_object.as_str(), sink)
        .resume_from(job.resume_from)
        .with_limits(job.limits, counters.clone())
        .with_object_time(job.object_time);
    let result = super::parse_with(format, &mut reader, &mut emitter);
    let next_ordinal = emitter.next_ordinal();
    outcome.stats = emitter.stats.clone();
    outcome.bytes_in = counters.compressed();
    outcome.bytes_decoded = counters.decompressed();
    outcome.elapsed = started.elapsed();
    match result {
        Ok(()) => {}
        Err(ParseError::Io(e)) => {
            let message = describe_stream_error(&e);
            tracing::warn!(object = %job.source_object, error = %message,
                records = outcome.stats.total_records(), "object stream failed part-way");
            outcome.stream_error = Some(message);
        }
        Err(ParseError::Stopped(stop)) => {
            return Err(ObjectError::Stopped {
                object: job.source_object.clone(),
                next_ordinal,
                reason: stop.0,
                stats: outcome.stats,
            });
        }
    }
    Ok(outcome)
}

fn describe_stream_error(e: &std::io::Error) -> String {
    if let Some(limit) = decode::limit_error(e) {
        return limit.to_string();
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => format!(
            "compressed stream is truncated ({e}); every record before the damage was processed"
        ),
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => format!(
            "compressed stream is corrupt ({e}); every record before the damage was processed"
        ),
        _ => format!("reading the object failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{Collect, TimeOrigin};
    use crate::record::columns;

    #[test]
    fn records_without_a_usable_time_get_the_objects() {
        let key = "AWSLogs/1/CloudTrail/us-east-1/2026/08/01/1_CloudTrail_us-east-1_20260801T0930Z_x.json";
        let body = r#"{"Records":[{"eventName":"A","eventTime":"2026-08-01T09:29:00Z"},{"eventName":"B"},{"eventName":"C","eventTime":"yesterday"}]}"#;
        let mut job = ObjectJob::new(key, key);
        job.object_time = ObjectTime::of(key, None);
        let mut sink = Collect::default();
        parse_object(std::io::Cursor::new(body), &job, &mut sink).unwrap();
        let times: Vec<_> = sink
            .records
            .iter()
            .map(|r| {
                (
                    crate::formats::time_text(r),
                    r.get_str(columns::TIME_GENERATED_FROM),
                )
            })
            .collect();
        let from_key = Some(TimeOrigin::ObjectKey.name());
        assert_eq!(
            times,
            vec![
                ("2026-08-01T09:29:00Z".to_string(), None),
                ("2026-08-01T09:30:00Z".to_string(), from_key),
                ("2026-08-01T09:30:00Z".to_string(), from_key),
            ]
        );
        assert!(sink.rejects.is_empty());
    }
}
