//! Timestamp parsing and formatting for the forms AWS logs use. Hand-written because a
//! CloudTrail object has one timestamp per record and chrono's format-string parser is
//! several times slower than a fixed-layout scan.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};

/// A zone offset in seconds east of UTC, from its sign byte and its hours and minutes.
fn offset_seconds(sign: u8, hours: u32, minutes: u32) -> i32 {
    let secs = (hours * 3600 + minutes * 60) as i32;
    if sign == b'-' { -secs } else { secs }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// The instant of a calendar date (year, month, day) and wall-clock time (hour, minute,
/// second, nanosecond) as they appear in a log line, `offset_secs` east of UTC.
fn from_parts(
    (y, mo, d): (i32, u32, u32),
    (h, mi, s, nanos): (u32, u32, u32, u32),
    offset_secs: i32,
) -> Option<DateTime<Utc>> {
    let date = NaiveDate::from_ymd_opt(y, mo, d)?;
    // Leap second 60 is clamped so a real-world ":60" still parses.
    let naive = date.and_hms_nano_opt(h, mi, s.min(59), nanos)?;
    let utc = Utc.from_utc_datetime(&naive);
    Some(utc - chrono::Duration::seconds(i64::from(offset_secs)))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]`; a missing zone means UTC.
pub fn parse_iso8601(text: &str) -> Option<DateTime<Utc>> {
    let b = text.trim().as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if b[10] != b'T' && b[10] != b't' && b[10] != b' ' {
        return None;
    }
    let y = digits(&b[0..4])? as i32;
    let mo = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    let h = digits(&b[11..13])?;
    let mi = digits(&b[14..16])?;
    let s = digits(&b[17..19])?;
    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let Some((&b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut scale = 100_000_000u32;
        for &c in &frac[..n.min(9)] {
            nanos += u32::from(c - b'0') * scale;
            scale /= 10;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (hh, mm) = match tail {
                [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                [h1, h2, m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                _ => return None,
            };
            offset_seconds(*sign, hh, mm)
        }
        _ => return None,
    };
    from_parts((y, mo, d), (h, mi, s, nanos), offset)
}

/// Seconds since the Unix epoch, possibly fractional (`"1636381332"`, `"1566848875.25"`).
pub fn parse_epoch_seconds(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0);
    }
    let f: f64 = text.parse().ok()?;
    from_epoch_seconds_f64(f)
}

/// Seconds since the Unix epoch, possibly fractional; `None` when not finite or out of range.
pub fn from_epoch_seconds_f64(f: f64) -> Option<DateTime<Utc>> {
    if !f.is_finite() {
        return None;
    }
    let secs = f.floor();
    let nanos = ((f - secs) * 1e9).round() as u32;
    DateTime::from_timestamp(secs as i64, nanos.min(999_999_999))
}

/// Milliseconds since the Unix epoch; `None` when out of range.
pub fn from_epoch_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// Common Log Format time as in S3 server access logs: `06/Feb/2019:00:00:38 +0000`
/// (surrounding brackets allowed).
pub fn parse_clf(text: &str) -> Option<DateTime<Utc>> {
    let b = text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .as_bytes();
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
        return None;
    }
    let d = digits(&b[0..2])?;
    let mo = match &b[3..6] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let y = digits(&b[7..11])? as i32;
    let h = digits(&b[12..14])?;
    let mi = digits(&b[15..17])?;
    let s = digits(&b[18..20])?;
    let offset = match &b[20..] {
        [] => 0,
        [b' ', sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            offset_seconds(*sign, digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
        }
        _ => return None,
    };
    from_parts((y, mo, d), (h, mi, s, 0), offset)
}

/// Any of the forms above, tried in order of likelihood.
pub fn parse_any(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if t.is_empty() || t == "-" {
        return None;
    }
    if let Some(dt) = parse_iso8601(t) {
        return Some(dt);
    }
    if let Some(dt) = parse_clf(t) {
        return Some(dt);
    }
    if t.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        // 13 digits and more are milliseconds (CloudWatch, WAF), fewer are seconds.
        let int_len = t.find('.').unwrap_or(t.len());
        if int_len >= 13 {
            return t
                .split('.')
                .next()?
                .parse()
                .ok()
                .and_then(from_epoch_millis);
        }
        return parse_epoch_seconds(t);
    }
    None
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`: microseconds when there is a fraction, since that is
/// Log Analytics' precision.
pub fn write_rfc3339(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    fn two(out: &mut Vec<u8>, v: u32) {
        out.push(b'0' + (v / 10) as u8);
        out.push(b'0' + (v % 10) as u8);
    }
    let year = t.year();
    if (0..=9999).contains(&year) {
        let y = year as u32;
        two(out, y / 100);
        two(out, y % 100);
    } else {
        out.extend_from_slice(format!("{year:04}").as_bytes());
    }
    out.push(b'-');
    two(out, t.month());
    out.push(b'-');
    two(out, t.day());
    out.push(b'T');
    two(out, t.hour());
    out.push(b':');
    two(out, t.minute());
    out.push(b':');
    two(out, t.second());
    let micros = t.nanosecond() / 1000;
    if micros != 0 {
        out.push(b'.');
        let mut buf = [b'0'; 6];
        let mut v = micros;
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend_from_slice(&buf);
    }
    out.push(b'Z');
}

/// [`write_rfc3339`] as a string.
pub fn to_rfc3339(t: &DateTime<Utc>) -> String {
    let mut out = Vec::with_capacity(27);
    write_rfc3339(&mut out, t);
    String::from_utf8(out).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(t: &str) -> String {
        to_rfc3339(&parse_iso8601(t).unwrap())
    }

    #[test]
    fn parses_iso8601_variants() {
        for (text, utc) in [
            ("2024-05-01T10:20:30Z", "2024-05-01T10:20:30Z"),
            ("2018-07-02T22:23:00.186641Z", "2018-07-02T22:23:00.186641Z"),
            (
                "2021-11-08T14:22:12.637611+0000",
                "2021-11-08T14:22:12.637611Z",
            ),
            ("2021-11-08T14:22:12+02:00", "2021-11-08T12:22:12Z"),
            ("2021-11-08 14:22:12", "2021-11-08T14:22:12Z"),
        ] {
            assert_eq!(iso(text), utc, "{text}");
        }
        assert!(parse_iso8601("2021-13-08T14:22:12Z").is_none());
        assert!(parse_iso8601("not a time").is_none());
    }

    #[test]
    fn parses_clf_and_epochs() {
        let t = parse_clf("[01/Aug/2019:00:24:41 +0000]").unwrap();
        assert_eq!(to_rfc3339(&t), "2019-08-01T00:24:41Z");
        let t = parse_epoch_seconds("1636381332").unwrap();
        assert_eq!(to_rfc3339(&t), "2021-11-08T14:22:12Z");
        let t = parse_any("1693457862729").unwrap();
        assert_eq!(
            to_rfc3339(&t),
            "2023-08-31T04:57:42.729Z".replace(".729", ".729000")
        );
        assert!(parse_any("-").is_none());
    }
}
