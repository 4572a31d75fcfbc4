//! Property tests for every parser:
//! - arbitrary bytes (biased towards JSON and log punctuation) never panic, every row fits
//!   its table, and nothing vanishes: each non-blank line of a line format is a record or a
//!   reject, and a JSON format reports something unless the input is only empty `[]`/`{}`;
//! - valid records mixed with garbage lines and truncated records give exactly one record
//!   per valid record and one reject per bad piece;
//! - valid records with random byte edits never panic.

use proptest::prelude::*;

use s3_sentinel_connector::check_record;
use s3_sentinel_connector::{Collect, Emitter, Format, looks_like_vpc_flow_header, parser_for};

fn run(format: Format, input: &[u8]) -> Collect {
    let mut sink = Collect::default();
    let mut out = Emitter::new("s3://bucket/key", &mut sink);
    parser_for(format)
        .parse(&mut &input[..], &mut out)
        .unwrap_or_else(|e| panic!("{format}: in-memory parse failed: {e}"));
    sink
}

fn check_rows(format: Format, got: &Collect) {
    for r in &got.records {
        if let Err(e) = check_record(r) {
            panic!("{format}: {e}: {r:?}");
        }
    }
    for r in &got.rejects {
        assert!(!r.reason.is_empty(), "{format}: reject without reason");
    }
}

fn lines(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    let mut it = body.split(|b| *b == b'\n');
    if input.is_empty() {
        it.next();
    }
    it.map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Every non-blank line must come out as a record or a reject (headers excepted).
fn assert_lines_accounted(format: Format, input: &[u8], got: &Collect) {
    let total = got.records.len() + got.rejects.len();
    let content: Vec<&[u8]> = lines(input).filter(|l| !is_blank(l)).collect();
    match format {
        Format::Text => {
            assert_eq!(got.records.len(), content.len());
            assert!(got.rejects.is_empty());
        }
        Format::VpcFlow => {
            let headers = content
                .iter()
                .filter(|l| looks_like_vpc_flow_header(&String::from_utf8_lossy(l)))
                .count();
            assert_eq!(total, content.len() - headers);
        }
        Format::ElbAccess | Format::S3Access => assert_eq!(total, content.len()),
        Format::CloudFront => {
            let trimmed = |l: &&[u8]| {
                let start = l.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
                l[start..].first().copied()
            };
            let directives = content.iter().filter(|l| trimmed(l) == Some(b'#')).count();
            let json = content.iter().filter(|l| trimmed(l) == Some(b'{')).count();
            let tsv = content.len() - directives - json;
            assert!(total >= tsv + json, "{total} < {tsv} + {json}");
            if json == 0 {
                assert_eq!(total, tsv);
            }
        }
        _ => {
            if total == 0 {
                let rest: Vec<u8> = input
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace() && *b != b',')
                    .collect();
                assert!(
                    rest.len() % 2 == 0 && rest.chunks(2).all(|c| c == b"[]" || c == b"{}"),
                    "{format}: {} bytes of input gave neither records nor rejects",
                    input.len()
                );
            }
        }
    }
}

fn arbitrary_input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<u8>(),
            7 => prop::sample::select(b"{}[]\"\\,:\n\r \t-#0123456789abeTZ.".to_vec()),
        ],
        0..1500,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_and_nothing_vanishes(input in arbitrary_input()) {
        for format in Format::ALL {
            let got = run(format, &input);
            check_rows(format, &got);
            assert_lines_accounted(format, &input, &got);
        }
    }
}

/// One valid single-line record per format (two for formats with several line kinds).
fn samples(format: Format) -> &'static [&'static str] {
    match format {
        Format::CloudTrail => &[
            r#"{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","userName":"alice","accountId":"111122223333"},"eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","requestParameters":{"userName":"bob"},"responseElements":null,"readOnly":false,"eventType":"AwsApiCall","managementEvent":true}"#,
            r#"{"eventVersion":"1.09","userIdentity":{"type":"Root"},"eventTime":"2026-11-20T10:00:01Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"}}"#,
        ],
        Format::VpcFlow => &[
            "2 111122223333 eni-0a1b 10.0.1.5 203.0.113.9 49152 443 6 12 3400 1763632800 1763632860 ACCEPT OK",
            "2 111122223333 eni-0a1b - - - - - - - 1763632800 1763632860 - NODATA",
        ],
        Format::ElbAccess => &[
            r#"https 2026-11-20T10:00:01.123456Z app/web/0a1b 198.51.100.4:50432 10.0.2.15:8080 0.001 0.020 0.000 200 200 310 4821 "GET https://shop.example.com:443/ HTTP/2.0" "curl/8.4.0" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/0a1b "Root=1-6555-abc" "shop.example.com" "-" 10 2026-11-20T10:00:01.100000Z "forward" "-" "-" "10.0.2.15:8080" "200" "-" "-" TID_0a1b"#,
            r#"tls 2.0 2026-11-20T10:00:02 net/edge/0a1b 0a1b2c 203.0.113.8:61000 10.0.3.7:443 120 9 512 2048 - - - ECDHE-RSA-AES128-GCM-SHA256 tlsv12 - api.example.com h2 h2 "h2","http/1.1" 2026-11-20T10:00:01"#,
        ],
        Format::CloudFront => &[
            "2026-11-20\t10:00:06\tIAD89-C1\t5120\t198.51.100.30\tGET\td1.cloudfront.net\t/\t200\t-\tcurl/8.4.0\t-\t-\tHit\tid==\twww.example.com\thttps\t120\t0.004\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t51000\t0.003\tHit\ttext/html\t4800\t-\t-",
        ],
        Format::S3Access => &[
            r#"5f1e0c0ffee0a1b2 media-bucket [20/Nov/2026:10:00:05 +0000] 198.51.100.20 arn:aws:iam::111122223333:user/alice 3E57427F3EXAMPLE REST.GET.OBJECT a.mp4 "GET /media-bucket/a.mp4 HTTP/1.1" 200 - 512 512 81 45 "-" "aws-cli/2.15.0" - hostid= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader media-bucket.s3.us-east-1.amazonaws.com TLSv1.2 - -"#,
        ],
        Format::Waf => &[
            r#"{"timestamp":1763632807123,"formatVersion":1,"webaclId":"w","terminatingRuleId":"SQLi","terminatingRuleType":"REGULAR","action":"BLOCK","httpSourceName":"ALB","httpSourceId":"x","ruleGroupList":[],"httpRequest":{"clientIp":"203.0.113.50","country":"NL","headers":[],"uri":"/","args":"","httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"r"}}"#,
        ],
        Format::GuardDuty => &[
            r#"{"schemaVersion":"2.0","accountId":"111122223333","region":"us-east-1","partition":"aws","id":"f1","arn":"a","type":"Recon:EC2/PortProbeUnprotectedPort","resource":{},"service":{},"severity":2,"createdAt":"2026-11-20T09:00:00Z","updatedAt":"2026-11-20T10:00:00Z","title":"t","description":"d"}"#,
        ],
        Format::Route53Resolver => &[
            r#"{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-0a1b","query_timestamp":"2026-11-20T10:00:09Z","query_name":"example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[],"srcaddr":"10.0.1.5","srcport":"53124","transport":"UDP","srcids":{}}"#,
        ],
        Format::NetworkFirewall => &[
            r#"{"firewall_name":"egress","availability_zone":"us-east-1a","event_timestamp":"1763632811","event":{"timestamp":"2025-11-20T10:00:11.250000+0000","flow_id":1,"event_type":"alert","src_ip":"10.0.1.5","src_port":49152,"dest_ip":"203.0.113.66","dest_port":443,"proto":"TCP","alert":{"action":"blocked","signature_id":1,"rev":1,"signature":"s","category":"c","severity":1}}}"#,
            r#"{"firewall_name":"egress","availability_zone":"us-east-1a","event_timestamp":"1763632812","event":{"timestamp":"2025-11-20T10:00:12.000000+0000","flow_id":2,"event_type":"netflow","src_ip":"10.0.1.5","src_port":50000,"dest_ip":"198.51.100.9","dest_port":53,"proto":"UDP","netflow":{"pkts":2,"bytes":140,"start":"2025-11-20T09:59:10.000000+0000","end":"2025-11-20T09:59:11.000000+0000","age":1,"min_ttl":64,"max_ttl":64}}}"#,
        ],
        Format::SecurityHub => &[
            r#"{"SchemaVersion":"2018-10-08","Id":"f-1","ProductArn":"arn:aws:securityhub:us-east-1::product/aws/securityhub","GeneratorId":"security-control/S3.8","AwsAccountId":"111122223333","Region":"us-east-1","Types":["Software and Configuration Checks"],"CreatedAt":"2026-11-20T09:00:00Z","UpdatedAt":"2026-11-20T10:00:00Z","Severity":{"Label":"HIGH"},"Title":"t","Description":"d","Resources":[{"Type":"AwsS3Bucket","Id":"arn:aws:s3:::b"}],"Compliance":{"Status":"FAILED"},"Workflow":{"Status":"NEW"},"RecordState":"ACTIVE"}"#,
        ],
        Format::CloudWatch => &[
            r#"{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/aws/lambda/f","logStream":"s","subscriptionFilters":["a"],"logEvents":[{"id":"1","timestamp":1763632821000,"message":"2026-11-20T10:00:21.500Z\tREQ\tINFO\thello\n"}]}"#,
        ],
        Format::GenericJson => &[r#"{"level":"info","time":"2026-11-20T10:00:30Z","msg":"up"}"#],
        Format::Text => &["Nov 20 10:00:00 host sshd[1]: Accepted publickey for alice"],
    }
}

fn is_json(format: Format) -> bool {
    !matches!(
        format,
        Format::VpcFlow | Format::ElbAccess | Format::CloudFront | Format::S3Access | Format::Text
    )
}

#[derive(Debug, Clone)]
enum Piece {
    Valid(usize),
    Garbage(String),
    Truncated(usize, usize),
}

fn pieces() -> impl Strategy<Value = Vec<Piece>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0..2usize).prop_map(Piece::Valid),
            1 => "~[a-zA-Z0-9 :;=/._-]{0,60}".prop_map(Piece::Garbage),
            1 => (0..2usize, 0..10_000usize).prop_map(|(i, c)| Piece::Truncated(i, c)),
        ],
        0..25,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn valid_records_among_garbage_are_counted_exactly(pieces in pieces()) {
        for format in Format::ALL {
            let samples = samples(format);
            let mut text = String::new();
            let (mut valid, mut bad) = (0usize, 0usize);
            for (i, piece) in pieces.iter().enumerate() {
                // A truncated JSON value is only recognisable as such when the next line
                // starts a new value (or the input ends); before garbage it would absorb it.
                let next_ok = matches!(pieces.get(i + 1), None | Some(Piece::Valid(_)));
                match piece {
                    Piece::Valid(k) => {
                        text.push_str(samples[k % samples.len()]);
                        valid += 1;
                    }
                    Piece::Truncated(k, cut) if is_json(format) && next_ok => {
                        let s = samples[k % samples.len()];
                        let mut at = 1 + cut % (s.len() - 1);
                        while !s.is_char_boundary(at) {
                            at -= 1;
                        }
                        text.push_str(&s[..at]);
                        bad += 1;
                    }
                    Piece::Garbage(g) => {
                        text.push_str(g);
                        bad += 1;
                    }
                    Piece::Truncated(..) => {
                        text.push('~');
                        bad += 1;
                    }
                }
                text.push('\n');
            }
            let got = run(format, text.as_bytes());
            check_rows(format, &got);
            if format == Format::Text {
                prop_assert_eq!(got.records.len(), valid + bad);
                prop_assert!(got.rejects.is_empty());
            } else {
                prop_assert_eq!(got.records.len(), valid, "{}: {:?}", format, got.rejects);
                prop_assert_eq!(got.rejects.len(), bad, "{}: {:?}", format, got.rejects);
            }
        }
    }

    #[test]
    fn edited_valid_records_never_panic(
        which in 0..2usize,
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 1..12),
    ) {
        for format in Format::ALL {
            let samples = samples(format);
            let mut bytes = samples[which % samples.len()].as_bytes().to_vec();
            for (pos, byte, op) in &edits {
                let at = pos % (bytes.len() + 1);
                match op {
                    0 => bytes.insert(at, *byte),
                    1 if at < bytes.len() => bytes[at] = *byte,
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            let got = run(format, &bytes);
            check_rows(format, &got);
            assert_lines_accounted(format, &bytes, &got);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The event envelope: whatever Lambda hands over, parsing never panics, and every object
// a well-formed envelope names comes out with its bucket and decoded key.

mod envelope {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use s3_sentinel_connector::{Envelope, Invocation, parse_invocation};

    /// Member names the envelope parser looks for, and some it does not.
    fn member() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "Records",
                "s3",
                "bucket",
                "name",
                "object",
                "key",
                "versionId",
                "eTag",
                "size",
                "body",
                "Sns",
                "Message",
                "Type",
                "detail",
                "detail-type",
                "source",
                "eventSource",
                "eventName",
                "messageId",
                "Event",
                "Bucket",
            ])
            .prop_map(str::to_string),
            "[a-zA-Z-]{1,10}",
        ]
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            prop::sample::select(vec![
                "aws:s3",
                "aws:sqs",
                "aws:sns",
                "ObjectCreated:Put",
                "ObjectRemoved:Delete",
                "Notification",
                "Object Created",
                "aws.s3",
                "s3:TestEvent",
                "",
            ])
            .prop_map(Value::from),
            ".{0,24}".prop_map(Value::from),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(6, 96, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((member(), inner.clone()), 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
                // A JSON document inside a string, as SQS bodies and SNS messages are.
                inner.prop_map(|v| Value::String(v.to_string())),
            ]
        })
    }

    fn encode_key(key: &str) -> String {
        percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
            .replace("%2F", "/")
            .replace("%20", "+")
    }

    fn s3_event(bucket: &str, key: &str) -> Value {
        json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": encode_key(key), "size": 7}}
        }]})
    }

    fn sns(inner: &Value) -> Value {
        json!({"Type": "Notification", "MessageId": "m", "Message": inner.to_string()})
    }

    fn sqs(body: &Value) -> Value {
        json!({"Records": [{"messageId": "q-1", "eventSource": "aws:sqs",
                            "body": body.to_string()}]})
    }

    /// The S3 event for (bucket, key) in each wrapping the function is deployed with.
    fn wrapped(bucket: &str, key: &str, wrapping: u8) -> Value {
        let event = s3_event(bucket, key);
        match wrapping {
            0 => event,
            1 => json!({"Records": [{"EventSource": "aws:sns", "Sns": sns(&event)}]}),
            2 => sqs(&event),
            3 => sqs(&sns(&event)),
            4 => json!({"invocationSchemaVersion": "1.0", "invocationId": "i", "job": {"id": "j"},
                        "tasks": [{"taskId": "t", "s3Key": encode_key(key), "s3VersionId": null,
                                   "s3BucketArn": format!("arn:aws:s3:::{bucket}")}]}),
            _ => json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                        "detail": {"bucket": {"name": bucket}, "object": {"key": key}}}),
        }
    }

    fn objects(invocation: Invocation) -> Vec<(String, String)> {
        let envelopes = match invocation {
            Invocation::Direct(e) => vec![e],
            Invocation::Sqs(items) => items.into_iter().map(|i| i.envelope.unwrap()).collect(),
            Invocation::BatchJob(job) => vec![Envelope {
                objects: job.tasks.into_iter().map(|t| t.object.unwrap()).collect(),
                ignored: vec![],
            }],
        };
        envelopes
            .into_iter()
            .flat_map(|e| e.objects)
            .map(|o| (o.bucket, o.key))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_payloads_never_panic(payload in value()) {
            if let Ok(Invocation::Direct(envelope)) = parse_invocation(&payload) {
                for o in envelope.objects {
                    prop_assert!(!o.bucket.is_empty() && !o.key.is_empty(), "{o:?}");
                }
            }
        }

        #[test]
        fn arbitrary_sqs_bodies_fail_one_message_not_the_batch(body in value()) {
            let payload = json!({"Records": [
                {"messageId": "bad", "eventSource": "aws:sqs", "body": body.to_string()},
                {"messageId": "good", "eventSource": "aws:sqs",
                 "body": s3_event("logs", "a/b.gz").to_string()},
            ]});
            let Ok(Invocation::Sqs(items)) = parse_invocation(&payload) else {
                panic!("an SQS batch is an SQS batch");
            };
            prop_assert_eq!(items.len(), 2);
            prop_assert_eq!(&items[1].message_id, "good");
            prop_assert!(items[1].envelope.is_ok());
        }

        #[test]
        fn every_wrapping_yields_the_bucket_and_the_decoded_key(
            bucket in "[a-z0-9][a-z0-9.-]{2,20}",
            key in "[^\u{0}]{1,60}",
            wrapping in 0u8..6,
        ) {
            let parsed = parse_invocation(&wrapped(&bucket, &key, wrapping)).unwrap();
            prop_assert_eq!(objects(parsed), vec![(bucket, key)]);
        }
    }
}
