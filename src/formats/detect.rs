//! Which parser an object needs: from its S3 key first (AWS delivery paths are
//! distinctive, see `KEY_PATTERNS` in the docs), then from its first bytes.

use super::lines::string_end;
use super::{Format, cloudfront, elb, s3access, vpcflow};

/// What detection decided for an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    /// A log of this format.
    Parse(Format),
    /// Not a log (e.g. a CloudTrail digest file); the reason is logged.
    Skip(String),
}

const DIGEST_REASON: &str =
    "CloudTrail digest file (log integrity validation data, not log records)";

/// `key` is the S3 key or file path; `head` the first decoded bytes (up to a few hundred KiB).
pub fn detect(key: &str, head: &[u8]) -> Detection {
    match detect_key(key) {
        // A digest delivered or copied outside CloudTrail-Digest/ is still a digest.
        Some(Detection::Parse(Format::CloudTrail)) if is_digest(head) => {
            Detection::Skip(DIGEST_REASON.to_string())
        }
        Some(d) => d,
        None => detect_content(head),
    }
}

/// The format an AWS delivery key names, if it names one.
pub fn detect_key(key: &str) -> Option<Detection> {
    let path = key.strip_prefix("s3://").unwrap_or(key);
    let name = path.rsplit('/').next().unwrap_or(path);
    let seg = |s: &str| path.contains(&format!("/{s}/")) || path.starts_with(&format!("{s}/"));
    if path.ends_with('/') {
        return Some(Detection::Skip(
            "folder placeholder object (key ends with /)".to_string(),
        ));
    }
    if seg("CloudTrail-Digest") || name.contains("_CloudTrail-Digest_") {
        return Some(Detection::Skip(DIGEST_REASON.to_string()));
    }
    if name == "aws-logs-write-test" {
        return Some(Detection::Skip(
            "CloudWatch Logs export permission check object, not logs".to_string(),
        ));
    }
    let format = if seg("CloudTrail") || seg("CloudTrail-Insight") || name.contains("_CloudTrail_")
    {
        Format::CloudTrail
    } else if seg("vpcflowlogs") || seg("aws-service=vpcflowlogs") || name.contains("_vpcflowlogs_")
    {
        Format::VpcFlow
    } else if seg("elasticloadbalancing") || name.contains("_elasticloadbalancing_") {
        Format::ElbAccess
    } else if seg("WAFLogs") || name.contains("_waflogs_") || name.starts_with("aws-waf-logs-") {
        // Firehose delivery streams for WAF must be named aws-waf-logs-*.
        Format::Waf
    } else if seg("GuardDuty") {
        Format::GuardDuty
    } else if seg("vpcdnsquerylogs") || name.contains("_vpcdnsquerylogs_") {
        Format::Route53Resolver
    } else if seg("network-firewall") || name.contains("_network-firewall_") {
        Format::NetworkFirewall
    } else if cloudfront::distribution_from_key(name).is_some() {
        Format::CloudFront
    } else if is_s3_access_name(name) {
        Format::S3Access
    } else {
        return None;
    };
    Some(Detection::Parse(format))
}

/// `2019-02-06-00-00-38-<UniqueString>`: S3 server access log objects have no extension.
fn is_s3_access_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.len() < 21 || name.contains('.') {
        return false;
    }
    let stamp_ok = b[..19].iter().enumerate().all(|(i, c)| {
        if matches!(i, 4 | 7 | 10 | 13 | 16) {
            *c == b'-'
        } else {
            c.is_ascii_digit()
        }
    });
    stamp_ok && b[19] == b'-' && b[20..].iter().all(u8::is_ascii_alphanumeric)
}

/// The keys of the first JSON object in `head` (the first element's, for an array), as
/// written (not unescaped). Stops at the end of that object or of `head`.
pub fn first_object_keys(head: &[u8]) -> Vec<&str> {
    let mut keys = Vec::new();
    let start = skip_ws(head, 0);
    let mut i = match head.get(start) {
        Some(b'{') => start,
        Some(b'[') => {
            let j = skip_ws(head, start + 1);
            if head.get(j) != Some(&b'{') {
                return keys;
            }
            j
        }
        _ => return keys,
    };
    let mut depth = 0usize;
    let mut expecting_key = false;
    while i < head.len() {
        match head[i] {
            b'"' => {
                let s = i + 1;
                let j = string_end(head, s);
                if j >= head.len() {
                    break;
                }
                if depth == 1 && expecting_key {
                    if let Ok(k) = std::str::from_utf8(&head[s..j]) {
                        keys.push(k);
                    }
                    expecting_key = false;
                }
                i = j;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth == 1 {
                    expecting_key = true;
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expecting_key = true,
            _ => {}
        }
        i += 1;
    }
    keys
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    // A UTF-8 byte order mark counts as whitespace here.
    if b[i.min(b.len())..].starts_with(&[0xEF, 0xBB, 0xBF]) {
        i += 3;
    }
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn is_digest(head: &[u8]) -> bool {
    let keys = first_object_keys(head);
    !keys.contains(&"Records")
        && keys
            .iter()
            .any(|k| matches!(*k, "digestStartTime" | "digestS3Object"))
}

/// The format of a JSON document from the keys of its first object.
fn json_format(head: &[u8]) -> Detection {
    let keys = first_object_keys(head);
    let has = |k: &str| keys.contains(&k);
    let format = if has("Records") {
        Format::CloudTrail
    } else if has("digestStartTime") || has("digestS3Object") {
        return Detection::Skip(DIGEST_REASON.to_string());
    } else if has("messageType") || has("awslogs") || (has("logEvents") && has("logGroup")) {
        Format::CloudWatch
    } else if has("eventVersion") && (has("eventSource") || has("eventName") || has("eventTime")) {
        Format::CloudTrail
    } else if has("webaclId") || (has("httpRequest") && has("terminatingRuleId")) {
        Format::Waf
    } else if has("query_name") && (has("query_timestamp") || has("srcaddr")) {
        Format::Route53Resolver
    } else if has("firewall_name") && has("event") {
        Format::NetworkFirewall
    } else if (has("detail-type") && contains(head, b"\"aws.securityhub\""))
        || (has("SchemaVersion") && has("ProductArn"))
        || (has("Findings") && contains(head, b"\"ProductArn\""))
    {
        Format::SecurityHub
    } else if has("findings")
        || (has("schemaVersion") && has("severity") && (has("type") || has("resource")))
        || (has("detail-type") && contains(head, b"\"aws.guardduty\""))
    {
        Format::GuardDuty
    } else if has("x-edge-location") || has("cs-uri-stem") || (has("date") && has("c-ip")) {
        Format::CloudFront
    } else {
        Format::GenericJson
    };
    Detection::Parse(format)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// The format of an object from its first bytes, when its key says nothing.
pub fn detect_content(head: &[u8]) -> Detection {
    let start = skip_ws(head, 0);
    let body = &head[start.min(head.len())..];
    match body.first() {
        None => return Detection::Parse(Format::Text),
        Some(b'{' | b'[') => return json_format(body),
        _ => {}
    }
    let first_line = body.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(first_line);
    let line = line.trim_end_matches('\r');
    let format = if line.starts_with("#Version:") || line.starts_with("#Fields:") {
        Format::CloudFront
    } else if vpcflow::looks_like_header(line) || vpcflow::looks_like_record(line) {
        Format::VpcFlow
    } else if elb::looks_like_line(line) {
        Format::ElbAccess
    } else if s3access::looks_like_line(line) {
        Format::S3Access
    } else if is_cloudfront_tsv(line) {
        Format::CloudFront
    } else {
        Format::Text
    };
    Detection::Parse(format)
}

/// A legacy CloudFront line without its header: `YYYY-MM-DD<TAB>HH:MM:SS<TAB>...`.
fn is_cloudfront_tsv(line: &str) -> bool {
    let mut fields = line.split('\t');
    let (Some(date), Some(time)) = (fields.next(), fields.next()) else {
        return false;
    };
    fields.count() >= 10 && crate::record::time::parse_iso8601(&format!("{date}T{time}Z")).is_some()
}

/// The format of a single CloudWatch Logs message, if it is a log line of a format this
/// crate parses (e.g. a CloudTrail event or a VPC flow record delivered via CloudWatch).
pub fn message_format(message: &str) -> Option<Format> {
    match detect_content(message.as_bytes()) {
        Detection::Parse(Format::GenericJson | Format::Text | Format::CloudWatch) => None,
        Detection::Parse(f) => Some(f),
        Detection::Skip(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Option<Detection> {
        detect_key(k)
    }
    fn parse(f: Format) -> Option<Detection> {
        Some(Detection::Parse(f))
    }

    #[test]
    fn aws_delivery_keys() {
        assert_eq!(
            key(
                "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T1005Z_Qx7sLm2PaBcD3eFg.json.gz"
            ),
            parse(Format::CloudTrail)
        );
        assert_eq!(
            key(
                "s3://b/p/AWSLogs/o-abc/111122223333/CloudTrail-Insight/us-east-1/2026/11/20/x.json.gz"
            ),
            parse(Format::CloudTrail)
        );
        assert!(matches!(
            key("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/20/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20261120T100000Z.json.gz"),
            Some(Detection::Skip(r)) if r.contains("digest")
        ));
        assert_eq!(
            key(
                "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/111122223333_vpcflowlogs_us-east-1_fl-1234abcd_20261120T1000Z_fe123456.log.gz"
            ),
            parse(Format::VpcFlow)
        );
        assert_eq!(
            key(
                "AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=20/f.log.gz"
            ),
            parse(Format::VpcFlow)
        );
        assert_eq!(
            key(
                "AWSLogs/111122223333/elasticloadbalancing/us-east-1/2026/11/20/111122223333_elasticloadbalancing_us-east-1_app.web.0a1b_20261120T1000Z_10.0.0.1_x.log.gz"
            ),
            parse(Format::ElbAccess)
        );
        assert_eq!(
            key(
                "AWSLogs/111122223333/WAFLogs/us-east-1/shop/2026/11/20/10/00/111122223333_waflogs_us-east-1_shop_20261120T1000Z_e0ca43b5.log.gz"
            ),
            parse(Format::Waf)
        );
        assert_eq!(
            key(
                "2026/11/20/10/aws-waf-logs-shop-1-2026-11-20-10-00-00-1b2c3d4e-aaaa-bbbb-cccc-111122223333.gz"
            ),
            parse(Format::Waf)
        );
        assert_eq!(
            key(
                "AWSLogs/111122223333/GuardDuty/us-east-1/2026/11/20/ec7b0b8c-5ec8-32ec-8e77-c738515b4f6f.jsonl.gz"
            ),
            parse(Format::GuardDuty)
        );
        assert_eq!(
            key(
                "AWSLogs/111122223333/vpcdnsquerylogs/vpc-0a1b/2026/11/20/vpc-0a1b_vpcdnsquerylogs_111122223333_20261120T1000Z_71584702.log.gz"
            ),
            parse(Format::Route53Resolver)
        );
        assert_eq!(
            key(
                "AWSLogs/111122223333/network-firewall/alert/us-east-1/egress/2026/11/20/10/111122223333_network-firewall_alert_us-east-1_egress_202611201000_e5c84094.log.gz"
            ),
            parse(Format::NetworkFirewall)
        );
        assert_eq!(
            key("cf-logs/E2EXAMPLE123.2026-11-20-10.abcd1234.gz"),
            parse(Format::CloudFront)
        );
        assert_eq!(
            key("s3-logs/2026-11-20-10-00-05-3E57427F3EXAMPLE"),
            parse(Format::S3Access)
        );
        assert_eq!(
            key(
                "s3-logs/111122223333/us-east-1/media/2026/11/20/2026-11-20-00-00-00-A1B2C3D4E5F60718"
            ),
            parse(Format::S3Access)
        );
        assert!(matches!(
            key("exports/task/aws-logs-write-test"),
            Some(Detection::Skip(_))
        ));
        assert!(matches!(key("prefix/"), Some(Detection::Skip(_))));
        assert_eq!(
            key("2026/11/20/10/stream-1-2026-11-20-10-00-00-uuid.gz"),
            None
        );
        assert_eq!(
            key("samples/aws/cloudtrail/loki_cloudtrail-log-file.json"),
            None
        );
    }

    fn content(text: &str) -> Detection {
        detect_content(text.as_bytes())
    }

    #[test]
    fn content_shapes() {
        use Format::*;
        let p = Detection::Parse;
        assert_eq!(
            content(" \n{\n \"Records\": [{\"eventVersion\":\"1.08\"}]}"),
            p(CloudTrail)
        );
        assert_eq!(
            content("[{\"eventVersion\":\"1.08\",\"eventName\":\"X\"}]"),
            p(CloudTrail)
        );
        assert!(matches!(
            content("{\"awsAccountId\":\"1\",\"digestStartTime\":\"x\",\"logFiles\":[]}"),
            Detection::Skip(_)
        ));
        assert_eq!(
            content("{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[]}"),
            p(CloudWatch)
        );
        assert_eq!(
            content("{\"timestamp\":1,\"formatVersion\":1,\"webaclId\":\"w\"}"),
            p(Waf)
        );
        assert_eq!(
            content("{\"version\":\"1.1\",\"query_timestamp\":\"t\",\"query_name\":\"a.\"}"),
            p(Route53Resolver)
        );
        assert_eq!(
            content("{\"firewall_name\":\"f\",\"event\":{}}"),
            p(NetworkFirewall)
        );
        assert_eq!(
            content(
                "{\"schemaVersion\":\"2.0\",\"accountId\":\"1\",\"type\":\"T\",\"severity\":5}"
            ),
            p(GuardDuty)
        );
        assert_eq!(content("{\"findings\":[]}"), p(GuardDuty));
        assert_eq!(
            content("{\"date\":\"2026-11-20\",\"x-edge-location\":\"IAD\"}"),
            p(CloudFront)
        );
        assert_eq!(
            content("{\"level\":\"info\",\"msg\":\"x\",\"nested\":{\"Records\":1}}"),
            p(GenericJson)
        );
        assert_eq!(
            content("#Version: 1.0\n#Fields: date time\n"),
            p(CloudFront)
        );
        assert_eq!(
            content("version account-id interface-id srcaddr dstaddr\n"),
            p(VpcFlow)
        );
        assert_eq!(
            content(
                "2 111122223333 eni-1 10.0.0.1 10.0.0.2 80 443 6 1 1 1763632800 1763632860 ACCEPT OK\n"
            ),
            p(VpcFlow)
        );
        assert_eq!(
            content(
                "h2 2026-11-20T10:00:01.1Z app/x/1 1.2.3.4:5 - -1 -1 -1 400 - 0 0 \"- - -\" \"-\" - -\n"
            ),
            p(ElbAccess)
        );
        assert_eq!(
            content(
                "tls 2.0 2026-11-20T10:00:02 net/x/1 l 1.2.3.4:5 6.7.8.9:443 1 2 3 4 - - - - - - - - - -\n"
            ),
            p(ElbAccess)
        );
        assert_eq!(
            content(
                "owner bucket [20/Nov/2026:10:00:05 +0000] 1.2.3.4 - ID REST.GET.OBJECT k \"GET / HTTP/1.1\" 200 - 1 1 1 1 \"-\" \"-\" -\n"
            ),
            p(S3Access)
        );
        assert_eq!(
            content("2026-11-20\t10:00:06\tIAD\t1\t2\t3\t4\t5\t6\t7\t8\t9\n"),
            p(CloudFront)
        );
        assert_eq!(
            content("Nov 20 10:00:00 host sshd[1]: Accepted publickey\n"),
            p(Text)
        );
        assert_eq!(content(""), p(Text));
        assert_eq!(content("\u{feff}{\"Records\":[]}"), p(CloudTrail));
    }

    #[test]
    fn key_wins_but_digests_are_skipped_by_content_too() {
        assert_eq!(
            detect(
                "AWSLogs/1/CloudTrail/us-east-1/2026/11/20/f.json.gz",
                b"{\"Records\":[]}"
            ),
            Detection::Parse(Format::CloudTrail)
        );
        assert!(matches!(
            detect(
                "AWSLogs/1/CloudTrail/us-east-1/2026/11/20/f.json.gz",
                b"{\"digestStartTime\":\"x\"}"
            ),
            Detection::Skip(_)
        ));
        assert_eq!(
            detect("plain.log", b"hello"),
            Detection::Parse(Format::Text)
        );
    }

    #[test]
    fn messages() {
        assert_eq!(
            message_format(
                "{\"eventVersion\":\"1.11\",\"eventTime\":\"2026-11-20T10:00:00Z\",\"eventName\":\"X\"}"
            ),
            Some(Format::CloudTrail)
        );
        assert_eq!(message_format("START RequestId: 1 Version: $LATEST"), None);
        assert_eq!(message_format("{\"status\":\"info\"}"), None);
    }
}
