//! Helpers shared by the family extractors: column access, scaling, address classes.

use std::net::IpAddr;

use chrono::{Datelike, Timelike};

use super::{F, Slots};
use crate::record::Record;

/// Text of a column (`Str` or raw JSON), trimmed; `None` when absent, empty or `-`.
pub fn text<'r>(record: &'r Record, column: &str) -> Option<&'r str> {
    let t = record.get_str(column)?.trim();
    if t.is_empty() || t == "-" {
        None
    } else {
        Some(t)
    }
}

pub fn number(record: &Record, column: &str) -> Option<f64> {
    let v = record.get(column)?.as_f64()?;
    v.is_finite().then_some(v)
}

pub fn boolean(record: &Record, column: &str) -> Option<bool> {
    record.get(column)?.as_bool()
}

/// `log1p(x) / log1p(max)`, clamped to `0..=1`: volumes and durations span orders of
/// magnitude, and models want comparable ranges.
#[inline]
pub fn log_scale(x: f64, max: f64) -> f32 {
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    ((x.ln_1p() / max.ln_1p()) as f32).min(1.0)
}

pub fn time_features(record: &Record, slots: &mut Slots<'_>) {
    if let Some(t) = record.time {
        let hour = t.hour() as f32 + t.minute() as f32 / 60.0;
        let angle = hour / 24.0 * std::f32::consts::TAU;
        slots.set(F::HourSin, angle.sin());
        slots.set(F::HourCos, angle.cos());
        slots.flag(F::Weekend, t.weekday().number_from_monday() >= 6);
    }
}

/// Where a source address sits, from an analyst's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// RFC 1918, carrier-grade NAT (used inside AWS), loopback, link-local, ULA.
    Private,
    /// An AWS service acting on the caller's behalf (`ec2.amazonaws.com`, `AWS Internal`).
    AwsService,
    Public,
    /// Text that is neither an address nor a service name (anonymized or garbled):
    /// treated like a public address, since nothing shows it is internal.
    Unparsed,
}

impl AddressClass {
    pub fn is_public(self) -> bool {
        matches!(self, AddressClass::Public | AddressClass::Unparsed)
    }
}

pub fn classify_address(text: &str) -> AddressClass {
    let t = text.trim();
    if t.eq_ignore_ascii_case("AWS Internal") || t.ends_with(".amazonaws.com") {
        return AddressClass::AwsService;
    }
    match t.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            let private = o[0] == 10
                || (o[0] == 172 && (16..=31).contains(&o[1]))
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 100 && (64..=127).contains(&o[1]))
                || o[0] == 127
                || (o[0] == 169 && o[1] == 254);
            if private {
                AddressClass::Private
            } else {
                AddressClass::Public
            }
        }
        Ok(IpAddr::V6(v6)) => {
            let first = v6.segments()[0];
            if v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 {
                AddressClass::Private
            } else if let Some(v4) = v6.to_ipv4_mapped() {
                classify_address(&v4.to_string())
            } else {
                AddressClass::Public
            }
        }
        Err(_) => AddressClass::Unparsed,
    }
}

/// Ports of remote administration, databases and unauthenticated-by-default services:
/// exposure of these is what scanners and intruders look for.
pub fn is_sensitive_port(port: i64) -> bool {
    matches!(
        port,
        20 | 21
            | 22
            | 23
            | 135
            | 139
            | 445
            | 1433
            | 1521
            | 2375
            | 2376
            | 3306
            | 3389
            | 5432
            | 5601
            | 5900
            | 5985
            | 5986
            | 6379
            | 9200
            | 11211
            | 27017
    )
}

/// A port given as a number or as text (`"443"`).
pub fn port(record: &Record, column: &str) -> Option<i64> {
    record.get(column)?.as_i64()
}

/// ASCII case-insensitive substring search (`needle` must be lowercase).
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() {
        return true;
    }
    if h.len() < n.len() {
        return false;
    }
    let first = n[0];
    let upper_first = first.to_ascii_uppercase();
    let mut start = 0;
    while start + n.len() <= h.len() {
        let Some(pos) = memchr::memchr2(first, upper_first, &h[start..=h.len() - n.len()]) else {
            return false;
        };
        let at = start + pos;
        if h[at..at + n.len()].eq_ignore_ascii_case(n) {
            return true;
        }
        start = at + 1;
    }
    false
}

/// Shannon entropy in bits per character of the bytes of `s`.
pub fn entropy(s: &str) -> f32 {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f32 / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_classes() {
        for (address, class) in [
            ("10.1.2.3", AddressClass::Private),
            ("172.20.0.1", AddressClass::Private),
            ("100.70.1.1", AddressClass::Private),
            ("8.8.8.8", AddressClass::Public),
            ("AWS Internal", AddressClass::AwsService),
            ("lambda.amazonaws.com", AddressClass::AwsService),
            ("fd00::1", AddressClass::Private),
            ("2001:db8::1", AddressClass::Public),
            ("255.18.064.253", AddressClass::Unparsed),
        ] {
            assert_eq!(classify_address(address), class, "{address}");
        }
        assert!(classify_address("255.18.064.253").is_public());
    }

    #[test]
    fn case_insensitive_search() {
        assert!(contains_ci("Connection TIMED OUT after", "timed out"));
        assert!(!contains_ci("time out", "timed out"));
        assert!(contains_ci("x", ""));
        assert!(contains_ci("abcABC", "cab"));
        assert!(!contains_ci("ab", "abc"));
    }

    #[test]
    fn scaling_and_entropy() {
        assert_eq!(log_scale(0.0, 100.0), 0.0);
        assert_eq!(log_scale(f64::NAN, 100.0), 0.0);
        assert!((log_scale(100.0, 100.0) - 1.0).abs() < 1e-6);
        assert_eq!(log_scale(1e9, 100.0), 1.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-6);
    }
}
