//! What an ingestion API answer means for the request, and how long to wait before the
//! next attempt.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// The client's next step after one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// 429 / 503: the service asks us to slow down.
    Throttled,
    /// 401: the token was refused.
    Unauthorized,
    /// 413: the body is too large for this server; split it.
    TooLarge,
    /// 408, 5xx: try the same body again after a backoff.
    Transient,
    /// Any other 4xx: the same body would fail again.
    Permanent,
}

pub fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Accepted,
        429 | 503 => Verdict::Throttled,
        401 => Verdict::Unauthorized,
        413 => Verdict::TooLarge,
        408 | 500..=599 => Verdict::Transient,
        _ => Verdict::Permanent,
    }
}

/// The longest wait a server can ask for: a function's whole run is at most 15 minutes,
/// and a value beyond any deadline must not overflow the clock arithmetic.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait the server asked for: `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds,
/// sent by Azure services and honoured by the Azure SDKs), else `Retry-After` in seconds
/// or as an HTTP date; at most [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        let ms = header_str(headers, name).and_then(|v| v.trim().parse::<f64>().ok());
        if let Some(wait) = ms.and_then(|ms| bounded_seconds(ms / 1000.0)) {
            return Some(wait);
        }
    }
    let value = header_str(headers, "retry-after")?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return bounded_seconds(seconds);
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER))
}

/// A non-negative number of seconds as a wait of at most [`MAX_RETRY_AFTER`].
fn bounded_seconds(seconds: f64) -> Option<Duration> {
    if seconds.is_nan() || seconds < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(seconds).map_or(MAX_RETRY_AFTER, |d| d.min(MAX_RETRY_AFTER)))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Exponential backoff with jitter: attempt `n` (from 1) waits a random time between half
/// and all of `initial * 2^(n-1)`, capped at `max`. The jitter keeps many functions that
/// failed together from retrying together.
pub fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let ceiling = exp.min(max);
    let half = ceiling / 2;
    let jitter_ms = rand::random_range(0..=half.as_millis().max(1) as u64);
    half + Duration::from_millis(jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn statuses_map_to_actions() {
        assert_eq!(classify(204), Verdict::Accepted);
        assert_eq!(classify(429), Verdict::Throttled);
        assert_eq!(classify(503), Verdict::Throttled);
        assert_eq!(classify(401), Verdict::Unauthorized);
        assert_eq!(classify(413), Verdict::TooLarge);
        assert_eq!(classify(500), Verdict::Transient);
        assert_eq!(classify(502), Verdict::Transient);
        assert_eq!(classify(408), Verdict::Transient);
        assert_eq!(classify(400), Verdict::Permanent);
        assert_eq!(classify(403), Verdict::Permanent);
        assert_eq!(classify(404), Verdict::Permanent);
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        let date = later.to_rfc2822();
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        let wait = retry_after(&h).unwrap();
        assert!(wait <= Duration::from_secs(30) && wait >= Duration::from_secs(28));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 1..20 {
            let d = backoff(attempt, initial, max);
            let ceiling = (initial * (1 << (attempt - 1).min(16))).min(max);
            assert!(
                d >= ceiling / 2 && d <= ceiling + Duration::from_millis(1),
                "{d:?}"
            );
        }
    }
}
