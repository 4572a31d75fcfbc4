//! S3 server access logs -> AWSS3ServerAccess.
//!
//! Space-separated, with `"quoted"` and `[bracketed]` fields. AWS has appended fields over
//! the years (signature version ... access point ARN, ACL required); a line needs the 17
//! original ones, later ones are optional, and any newer trailing fields are kept in
//! `AdditionalFields`.

use super::fields::{Extras, int_field, is_absent, push_int32};
use super::lines::{LineParser, split_quoted};
use crate::record::{LogType, Record, Value, time};

const LOG_TYPE: LogType = LogType::S3Access;
const MIN_FIELDS: usize = 17;

/// Column per field position; `None` marks the time field.
const COLUMNS: [Option<&str>; 26] = [
    Some("BucketOwner"),
    Some("Bucket"),
    None,
    Some("RemoteIp"),
    Some("Requester"),
    Some("RequestId"),
    Some("Operation"),
    Some("Key"),
    Some("RequestUri"),
    Some("HttpStatus"),
    Some("ErrorCode"),
    Some("BytesSent"),
    Some("ObjectSize"),
    Some("TotalTime"),
    Some("TurnAroundTime"),
    Some("Referer"),
    Some("UserAgent"),
    Some("VersionId"),
    Some("HostId"),
    Some("SignatureVersion"),
    Some("CipherSuite"),
    Some("AuthenticationType"),
    Some("HostHeader"),
    Some("TLSVersion"),
    Some("AccessPointARN"),
    Some("ACLRequired"),
];

const INT_COLUMNS: [&str; 4] = ["HttpStatus", "BytesSent", "ObjectSize", "TotalTime"];

/// One access log line as a row.
pub fn record_from_line(line: &str) -> Result<Record, String> {
    let fields = split_quoted(line);
    if fields.len() < MIN_FIELDS {
        return Err(format!(
            "{} fields, at least {MIN_FIELDS} expected",
            fields.len()
        ));
    }
    let mut r = Record::new(LOG_TYPE);
    let mut extras = Extras::new();
    // An unusable time is no reason to lose the request: the object's time stands in and
    // the text stays in AdditionalFields.
    r.time = time::parse_clf(fields[2]);
    if r.time.is_none() {
        extras.str("time", fields[2]);
    }
    for (i, field) in fields.iter().enumerate().take(COLUMNS.len()) {
        let Some(column) = COLUMNS[i] else { continue };
        if is_absent(field) {
            continue;
        }
        if INT_COLUMNS.contains(&column) {
            push_int32(&mut r, &mut extras, column, int_field(column, field)?);
        } else {
            r.push(column, Value::Str((*field).to_owned()));
        }
    }
    if fields.len() > COLUMNS.len() {
        extras.strings("trailing_fields", fields[COLUMNS.len()..].iter().copied());
    }
    extras.finish(&mut r);
    Ok(r)
}

/// Whether a line has the shape of an access log line (owner, bucket, `[time]`).
pub fn looks_like_line(line: &str) -> bool {
    let mut parts = line.splitn(3, ' ');
    let (Some(owner), Some(bucket), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !owner.is_empty()
        && !bucket.is_empty()
        && rest.starts_with('[')
        && rest.get(..28).and_then(time::parse_clf).is_some()
}

#[derive(Debug, Default)]
pub struct S3AccessParser;

impl LineParser for S3AccessParser {
    fn log_type(&self, _text: &str) -> LogType {
        LOG_TYPE
    }

    fn record(&mut self, text: &str) -> Result<Option<Record>, String> {
        record_from_line(text).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{assert_strs, extras, time_text};

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut S3AccessParser, "f", text)
    }

    const NEW: &str = r#"5f1e0c0ffee0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678901234567890 media-bucket [20/Nov/2026:10:00:05 +0000] 198.51.100.20 arn:aws:iam::111122223333:user/alice 3E57427F3EXAMPLE REST.GET.OBJECT videos/intro.mp4 "GET /media-bucket/videos/intro.mp4 HTTP/1.1" 200 - 5368709120 5368709120 8123 45 "-" "aws-cli/2.15.0 Python/3.11" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader media-bucket.s3.us-east-1.amazonaws.com TLSv1.2 arn:aws:s3:us-east-1:111122223333:accesspoint/ap1 Yes"#;
    const OLD: &str = r#"5f1e0c0ffee0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678901234567890 media-bucket [03/Feb/2016:07:01:02 +0000] 192.0.2.1 - 891CE47D2EXAMPLE REST.GET.BUCKET - "GET /media-bucket?list-type=2 HTTP/1.1" 403 AccessDenied 243 - 12 - "-" "curl/7.47.0""#;

    #[test]
    fn new_and_old_field_counts() {
        let got = parse(&format!("{NEW}\n{OLD}\n"));
        assert!(got.rejects.is_empty(), "{:?}", got.rejects);
        let new = &got.records[0];
        assert_eq!(new.get_str("Operation"), Some("REST.GET.OBJECT"));
        assert_eq!(new.get("HttpStatus"), Some(&Value::Int(200)));
        assert_eq!(new.get("TotalTime"), Some(&Value::Int(8123)));
        assert_strs(
            new,
            &[
                ("TurnAroundTime", "45"),
                ("ACLRequired", "Yes"),
                ("UserAgent", "aws-cli/2.15.0 Python/3.11"),
            ],
        );
        // 5 GiB does not fit the table's 32-bit int column: kept exactly in AdditionalFields.
        assert!(new.get("BytesSent").is_none());
        assert!(extras(new).contains("\"BytesSent\":5368709120"));
        assert_eq!(time_text(new), "2026-11-20T10:00:05Z");
        let old = &got.records[1];
        assert_eq!(old.get_str("ErrorCode"), Some("AccessDenied"));
        assert!(old.get("Requester").is_none());
        assert!(old.get("SignatureVersion").is_none());
    }

    #[test]
    fn rejects_short_and_malformed_lines() {
        let bad_status = NEW.replace(" 200 - ", " twohundred - ");
        let got = parse(&format!(
            "{}\nnot a log line\n{bad_status}\n{NEW} extra-1 extra-2\n",
            &NEW[..120]
        ));
        assert_eq!(got.counts(), (1, 3));
        assert!(got.rejects[2].reason.contains("HttpStatus"));
        assert!(
            got.records[0]
                .get_str("AdditionalFields")
                .unwrap()
                .contains("\"trailing_fields\":[\"extra-1\",\"extra-2\"]")
        );
    }

    #[test]
    fn line_shape() {
        assert!(looks_like_line(NEW));
        assert!(!looks_like_line("a b c"));
    }
}
