//! The time an object stands for, from its key (the delivery timestamp or the date
//! partition of AWS's layouts) or else its LastModified: the `TimeGenerated` of a record
//! whose own time is missing or unusable, and the date `backfill` narrows listings by.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::record::columns;

/// Where a record's time came from when the event had no usable time of its own; written
/// as the [`columns::TIME_GENERATED_FROM`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOrigin {
    /// A timestamp or date partition in the object's key.
    ObjectKey,
    /// The object's LastModified (the file's modification time for a local file).
    ObjectLastModified,
}

impl TimeOrigin {
    /// The column's value.
    pub fn name(self) -> &'static str {
        match self {
            TimeOrigin::ObjectKey => "ObjectKey",
            TimeOrigin::ObjectLastModified => "ObjectLastModified",
        }
    }
}

/// The stand-in time of an object's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectTime {
    /// The instant.
    pub at: DateTime<Utc>,
    /// Where it came from.
    pub origin: TimeOrigin,
}

impl ObjectTime {
    /// The key's time, else `last_modified`; `None` when neither is known.
    pub fn of(key: &str, last_modified: Option<DateTime<Utc>>) -> Option<ObjectTime> {
        key_time(key)
            .map(|at| ObjectTime {
                at,
                origin: TimeOrigin::ObjectKey,
            })
            .or(last_modified.map(|at| ObjectTime {
                at,
                origin: TimeOrigin::ObjectLastModified,
            }))
    }

    /// The column that says a record's time is its object's.
    pub fn column(&self) -> (&'static str, &'static str) {
        (columns::TIME_GENERATED_FROM, self.origin.name())
    }
}

/// The most precise time an S3 key carries: the delivery stamp in the file name
/// (`_20261120T1005Z_` of CloudTrail, VPC Flow, ELB; `2026-11-20-10-05-00-` of S3 server
/// access logs), else the date partition (`YYYY/MM/DD[/HH]/` or Hive-style
/// `year=YYYY/month=MM/day=DD[/hour=HH]/`).
pub fn key_time(key: &str) -> Option<DateTime<Utc>> {
    let name = key.rsplit('/').next().unwrap_or(key);
    compact_stamp(name)
        .or_else(|| access_log_stamp(name))
        .or_else(|| partition_time(key))
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn at(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<DateTime<Utc>> {
    let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, mo, d)?;
    Some(Utc.from_utc_datetime(&date.and_hms_opt(h, mi, s)?))
}

/// `YYYYMMDDTHHMMZ` anywhere in the file name.
fn compact_stamp(name: &str) -> Option<DateTime<Utc>> {
    let b = name.as_bytes();
    (0..b.len().saturating_sub(13)).find_map(|i| {
        let w = &b[i..i + 14];
        let shaped = w[8] == b'T'
            && w[13] == b'Z'
            && w[..8].iter().chain(&w[9..13]).all(u8::is_ascii_digit)
            && (i == 0 || !b[i - 1].is_ascii_digit());
        if !shaped {
            return None;
        }
        let t = &name[i..i + 14];
        at(
            digits(&t[0..4])?,
            digits(&t[4..6])?,
            digits(&t[6..8])?,
            digits(&t[9..11])?,
            digits(&t[11..13])?,
            0,
        )
    })
}

/// `YYYY-MM-DD-HH-MM-SS-` at the start of the file name.
fn access_log_stamp(name: &str) -> Option<DateTime<Utc>> {
    let b = name.as_bytes();
    if b.len() < 20 || b[19] != b'-' {
        return None;
    }
    let parts: Vec<&str> = name[..19].split('-').collect();
    match parts[..] {
        [y, mo, d, h, mi, s] if y.len() == 4 => at(
            digits(y)?,
            digits(mo)?,
            digits(d)?,
            digits(h)?,
            digits(mi)?,
            digits(s)?,
        ),
        _ => None,
    }
}

/// The last `YYYY/MM/DD[/HH]` run of folders (or its Hive-style form) in the key.
fn partition_time(key: &str) -> Option<DateTime<Utc>> {
    let folders: Vec<&str> = key.split('/').collect();
    let folders = &folders[..folders.len().saturating_sub(1)];
    let value = |segment: &str, name: &str| -> Option<u32> {
        let text = segment.strip_prefix(name).map_or(segment, |rest| rest);
        digits(text)
    };
    (0..folders.len().saturating_sub(2)).rev().find_map(|i| {
        let year = folders[i];
        let hive = year.starts_with("year=");
        let (y, mo, d) = if hive {
            (
                value(year, "year=")?,
                value(folders[i + 1], "month=")?,
                value(folders[i + 2], "day=")?,
            )
        } else {
            if year.len() != 4 || folders[i + 1].len() != 2 || folders[i + 2].len() != 2 {
                return None;
            }
            (
                digits(year)?,
                digits(folders[i + 1])?,
                digits(folders[i + 2])?,
            )
        };
        let hour = folders
            .get(i + 3)
            .and_then(|h| {
                if hive {
                    value(h, "hour=")
                } else {
                    (h.len() == 2).then(|| digits(h)).flatten()
                }
            })
            .filter(|h| *h < 24)
            .unwrap_or(0);
        at(y, mo, d, hour, 0, 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn delivery_stamps_and_partitions() {
        let trail = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/123456789012_CloudTrail_us-east-1_20261120T1005Z_abcdef.json.gz";
        assert_eq!(key_time(trail), Some(t("2026-11-20T10:05:00Z")));
        let access = "logs/2019-02-06-00-00-38-5D0A52F2A3E3B9A7";
        assert_eq!(key_time(access), Some(t("2019-02-06T00:00:38Z")));
        let firehose = "firehose/2026/11/20/10/stream-1-2026-11-20-10-05-11-abc.gz";
        assert_eq!(key_time(firehose), Some(t("2026-11-20T10:00:00Z")));
        let hive = "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=20/hour=07/x.log.gz";
        assert_eq!(key_time(hive), Some(t("2026-11-20T07:00:00Z")));
        assert_eq!(key_time("a/2026/02/30/x"), None, "no such day");
        assert_eq!(key_time("app/logs/worker.txt"), None);
    }

    #[test]
    fn the_key_comes_before_last_modified() {
        let modified = t("2026-12-01T00:00:00Z");
        let keyed = ObjectTime::of("a/2026/11/20/x.gz", Some(modified)).unwrap();
        assert_eq!(keyed.origin, TimeOrigin::ObjectKey);
        let unkeyed = ObjectTime::of("a/x.gz", Some(modified)).unwrap();
        assert_eq!(
            (unkeyed.at, unkeyed.origin),
            (modified, TimeOrigin::ObjectLastModified)
        );
        assert_eq!(ObjectTime::of("a/x.gz", None), None);
    }
}
