//! CloudTrail log files -> AWSCloudTrail.
//!
//! A delivered object is one `{"Records":[...]}` document (compact or pretty-printed) of any
//! size: the `Records` array is streamed one event at a time with [`JsonStream`], and each
//! event is deserialized into borrowed fields (`&str` where the JSON has no escapes,
//! `&RawValue` for nested documents), so the only allocations are the row's own values.
//! Bare events (one per line, or concatenated, as EventBridge and CloudTrail Lake exports
//! write them) and top-level arrays of events are read too.

use std::io::BufRead;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::fields::{Extras, FlexBool, Text, clip, deserialize_members, json_error_reason};
use super::json_lines::parse_objects;
use super::json_stream::{Item, JsonStream};
use super::{Emitter, ParseError, Parser};
use crate::record::{LogType, Record, Value, time};

const LOG_TYPE: LogType = LogType::CloudTrail;

#[derive(Debug, Default)]
pub struct CloudTrailParser;

enum Mode {
    Stream,
    BareEvents,
    Digest,
}

impl Parser for CloudTrailParser {
    fn parse(&mut self, input: &mut dyn BufRead, out: &mut Emitter<'_>) -> Result<(), ParseError> {
        // Bare events (one per line, as EventBridge or Lake exports write them) go through
        // the line-based splitter, which resyncs after a truncated line; `{"Records":[...]}`
        // documents and arrays are streamed, since one can be gigabytes on a single line.
        let mode = {
            let head = input.fill_buf()?;
            let body = trim_start(head);
            if body.first() == Some(&b'{') {
                let after_brace = trim_start(&body[1..]);
                let keys = super::detect::first_object_keys(body);
                if after_brace.starts_with(b"\"Records\"") || after_brace.len() < 9 {
                    // AWS writes `Records` first; a head too short to tell is streamed too.
                    Mode::Stream
                } else if keys
                    .iter()
                    .any(|k| matches!(*k, "digestStartTime" | "digestS3Object"))
                {
                    Mode::Digest
                } else {
                    Mode::BareEvents
                }
            } else if body.first() == Some(&b'[') || body.is_empty() {
                Mode::Stream
            } else {
                Mode::BareEvents
            }
        };
        match mode {
            Mode::Digest => {
                tracing::info!(object = %out.source_object(), "CloudTrail digest file: not log records, skipped");
                return Ok(());
            }
            Mode::BareEvents => {
                return parse_objects(input, out, LOG_TYPE, Some("Records"), &mut |bytes, _| {
                    record_from_event(bytes)
                });
            }
            Mode::Stream => {}
        }
        let mut stream = JsonStream::new(input);
        loop {
            match stream.skip(b",")? {
                None => return Ok(()),
                Some(b'{') => {
                    let offset = stream.offset();
                    stream.expect(b'{')?;
                    read_object(&mut stream, offset, out)?;
                }
                Some(b'[') => {
                    let offset = stream.offset();
                    stream.expect(b'[')?;
                    read_events(&mut stream, offset, b"[", out)?;
                }
                Some(_) => reject_item(&mut stream, out, "not a CloudTrail document")?,
            }
        }
    }
}

/// Reads the next item and rejects it (garbage, or a value in the wrong place).
fn reject_item<R: BufRead>(
    stream: &mut JsonStream<R>,
    out: &mut Emitter<'_>,
    why: &str,
) -> Result<(), ParseError> {
    match stream.next_item(&[])? {
        Some(Item::Value { offset, bytes }) => {
            out.reject(LOG_TYPE, None, offset, bytes, why)?;
        }
        Some(Item::Malformed {
            offset,
            bytes,
            reason,
        }) => out.reject(LOG_TYPE, None, offset, bytes, reason)?,
        None => {}
    }
    Ok(())
}

/// Members of a top-level object whose `{` was consumed. `Records` is streamed; any other
/// members are collected (compactly re-joined) in case the object is a bare event.
fn read_object<R: BufRead>(
    stream: &mut JsonStream<R>,
    offset: u64,
    out: &mut Emitter<'_>,
) -> Result<(), ParseError> {
    let mut rebuilt: Vec<u8> = vec![b'{'];
    let mut saw_records = false;
    let mut digest = false;
    loop {
        match stream.skip(b",")? {
            None => {
                if !saw_records {
                    out.reject(
                        LOG_TYPE,
                        None,
                        offset,
                        &rebuilt,
                        "JSON object truncated at end of stream",
                    )?;
                }
                return Ok(());
            }
            Some(b'}') => {
                stream.expect(b'}')?;
                break;
            }
            Some(b'"') => {}
            Some(_) => {
                out.reject(
                    LOG_TYPE,
                    None,
                    offset,
                    &rebuilt,
                    "malformed JSON object (expected a member name)",
                )?;
                return reject_item(stream, out, "malformed JSON object");
            }
        }
        let key: String = match stream.next_item(&[])? {
            Some(Item::Value { bytes, .. }) => {
                let key = serde_json::from_slice::<Text<'_>>(bytes)
                    .map(|t| t.0.into_owned())
                    .unwrap_or_default();
                if rebuilt.len() > 1 {
                    rebuilt.push(b',');
                }
                rebuilt.extend_from_slice(bytes);
                key
            }
            _ => {
                out.reject(LOG_TYPE, None, offset, &rebuilt, "malformed member name")?;
                return Ok(());
            }
        };
        if !stream.expect(b':')? {
            out.reject(
                LOG_TYPE,
                None,
                offset,
                &rebuilt,
                "malformed JSON object (expected ':')",
            )?;
            return reject_item(stream, out, "malformed JSON object");
        }
        if key == "Records" && stream.skip(&[])? == Some(b'[') {
            stream.expect(b'[')?;
            saw_records = true;
            read_events(stream, offset, b"{\"Records\":[", out)?;
            // Keep the rebuilt text valid in case more members follow.
            rebuilt.extend_from_slice(b":null");
            continue;
        }
        digest |= matches!(
            key.as_str(),
            "digestStartTime" | "logFiles" | "digestS3Object"
        );
        match stream.next_item(&[])? {
            Some(Item::Value { bytes, .. }) => {
                rebuilt.push(b':');
                // A stray huge member of a Records document is not worth keeping.
                if rebuilt.len() + bytes.len() <= super::json_stream::DEFAULT_MAX_VALUE_BYTES {
                    rebuilt.extend_from_slice(bytes);
                } else {
                    rebuilt.extend_from_slice(b"null");
                }
            }
            Some(Item::Malformed {
                offset: at,
                bytes,
                reason,
            }) => {
                out.reject(LOG_TYPE, None, at, bytes, reason)?;
                return Ok(());
            }
            None => {
                out.reject(
                    LOG_TYPE,
                    None,
                    offset,
                    &rebuilt,
                    "JSON object truncated at end of stream",
                )?;
                return Ok(());
            }
        }
    }
    if saw_records {
        return Ok(());
    }
    if digest {
        tracing::info!(object = %out.source_object(), "CloudTrail digest file: not log records, skipped");
        return Ok(());
    }
    if rebuilt.len() == 1 {
        return Ok(()); // `{}`
    }
    rebuilt.push(b'}');
    emit_event(&rebuilt, offset, out)?;
    Ok(())
}

/// Elements of an events array whose `[` (at `offset`) was consumed, up to its `]`. An
/// array cut off between two elements is reported too: the object is damaged even though
/// no event is.
fn read_events<R: BufRead>(
    stream: &mut JsonStream<R>,
    offset: u64,
    opening: &[u8],
    out: &mut Emitter<'_>,
) -> Result<(), ParseError> {
    let mut last_was_reject = false;
    loop {
        match stream.skip(b",")? {
            None => break,
            Some(b']') => {
                stream.expect(b']')?;
                return Ok(());
            }
            Some(_) => match stream.next_item(b",")? {
                Some(Item::Value { offset, bytes }) => {
                    last_was_reject = false;
                    emit_event(bytes, offset, out)?
                }
                Some(Item::Malformed {
                    offset,
                    bytes,
                    reason,
                }) => {
                    last_was_reject = true;
                    out.reject(LOG_TYPE, None, offset, bytes, reason)?
                }
                None => break,
            },
        }
    }
    if !last_was_reject {
        out.reject(
            LOG_TYPE,
            None,
            offset,
            opening,
            "CloudTrail document truncated: the events array is not closed",
        )?;
    }
    Ok(())
}

fn trim_start(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

fn emit_event(bytes: &[u8], offset: u64, out: &mut Emitter<'_>) -> Result<(), ParseError> {
    match record_from_event(bytes) {
        Ok(record) => out.emit(bytes, record)?,
        Err(reason) => out.reject(LOG_TYPE, None, offset, bytes, reason)?,
    }
    Ok(())
}

/// One CloudTrail event (a JSON object) as an AWSCloudTrail row.
pub fn record_from_event(bytes: &[u8]) -> Result<Record, String> {
    let event: Event<'_> = serde_json::from_slice(bytes).map_err(|e| json_error_reason(&e))?;
    event.into_record()
}

#[derive(Default)]
struct Event<'a> {
    event_version: Option<Text<'a>>,
    event_time: Option<Text<'a>>,
    event_source: Option<Text<'a>>,
    event_name: Option<Text<'a>>,
    aws_region: Option<Text<'a>>,
    source_ip: Option<Text<'a>>,
    user_agent: Option<Text<'a>>,
    error_code: Option<Text<'a>>,
    error_message: Option<Text<'a>>,
    request_id: Option<Text<'a>>,
    event_id: Option<Text<'a>>,
    event_type: Option<Text<'a>>,
    api_version: Option<Text<'a>>,
    recipient_account_id: Option<Text<'a>>,
    shared_event_id: Option<Text<'a>>,
    vpc_endpoint_id: Option<Text<'a>>,
    event_category: Option<Text<'a>>,
    read_only: Option<FlexBool>,
    management_event: Option<FlexBool>,
    request_parameters: Option<&'a RawValue>,
    response_elements: Option<&'a RawValue>,
    additional_event_data: Option<&'a RawValue>,
    resources: Option<&'a RawValue>,
    service_event_details: Option<&'a RawValue>,
    user_identity: Option<&'a RawValue>,
    tls_details: Option<TlsDetails<'a>>,
    /// Members with no column, kept in `AdditionalFields`.
    unmapped: Vec<(Text<'a>, &'a RawValue)>,
}

deserialize_members!(Event, "a CloudTrail event object", |e, key, map| {
    match key.as_str() {
        "eventVersion" => e.event_version = map.next_value()?,
        "eventTime" => e.event_time = map.next_value()?,
        "eventSource" => e.event_source = map.next_value()?,
        "eventName" => e.event_name = map.next_value()?,
        "awsRegion" => e.aws_region = map.next_value()?,
        "sourceIPAddress" => e.source_ip = map.next_value()?,
        "userAgent" => e.user_agent = map.next_value()?,
        "errorCode" => e.error_code = map.next_value()?,
        "errorMessage" => e.error_message = map.next_value()?,
        "requestID" => e.request_id = map.next_value()?,
        "eventID" => e.event_id = map.next_value()?,
        "eventType" => e.event_type = map.next_value()?,
        "apiVersion" => e.api_version = map.next_value()?,
        "recipientAccountId" => e.recipient_account_id = map.next_value()?,
        "sharedEventID" => e.shared_event_id = map.next_value()?,
        "vpcEndpointId" => e.vpc_endpoint_id = map.next_value()?,
        "eventCategory" => e.event_category = map.next_value()?,
        "readOnly" => e.read_only = map.next_value()?,
        "managementEvent" => e.management_event = map.next_value()?,
        "requestParameters" => e.request_parameters = non_null(map.next_value()?),
        "responseElements" => e.response_elements = non_null(map.next_value()?),
        "additionalEventData" => e.additional_event_data = non_null(map.next_value()?),
        "resources" => e.resources = non_null(map.next_value()?),
        "serviceEventDetails" => e.service_event_details = non_null(map.next_value()?),
        "userIdentity" => e.user_identity = non_null(map.next_value()?),
        "tlsDetails" => e.tls_details = map.next_value()?,
        _ => {
            let value: &'de RawValue = map.next_value()?;
            e.unmapped.push((key, value));
        }
    }
});

fn non_null(raw: &RawValue) -> Option<&RawValue> {
    if raw.get() == "null" { None } else { Some(raw) }
}

#[derive(Deserialize, Default)]
struct TlsDetails<'a> {
    #[serde(rename = "tlsVersion", borrow)]
    tls_version: Option<Text<'a>>,
    #[serde(rename = "cipherSuite", borrow)]
    cipher_suite: Option<Text<'a>>,
    #[serde(rename = "clientProvidedHostHeader", borrow)]
    host_header: Option<Text<'a>>,
}

#[derive(Default)]
struct UserIdentity<'a> {
    kind: Option<Text<'a>>,
    principal_id: Option<Text<'a>>,
    arn: Option<Text<'a>>,
    account_id: Option<Text<'a>>,
    access_key_id: Option<Text<'a>>,
    user_name: Option<Text<'a>>,
    invoked_by: Option<Text<'a>>,
    identity_store_arn: Option<Text<'a>>,
    user_id: Option<Text<'a>>,
    session: Option<SessionContext<'a>>,
    /// Members with no column (e.g. `webIdFederationData`): the whole identity is kept.
    has_unmapped: bool,
}

deserialize_members!(UserIdentity, "a userIdentity object", |u, key, map| {
    match key.as_str() {
        "type" => u.kind = map.next_value()?,
        "principalId" => u.principal_id = map.next_value()?,
        "arn" => u.arn = map.next_value()?,
        "accountId" => u.account_id = map.next_value()?,
        "accessKeyId" => u.access_key_id = map.next_value()?,
        "userName" => u.user_name = map.next_value()?,
        "invokedBy" => u.invoked_by = map.next_value()?,
        "identityStoreArn" => u.identity_store_arn = map.next_value()?,
        "userId" => u.user_id = map.next_value()?,
        "onBehalfOf" => {
            if let Some(b) = map.next_value::<Option<OnBehalfOf<'de>>>()? {
                u.user_id = u.user_id.or(b.user_id);
                u.identity_store_arn = u.identity_store_arn.or(b.identity_store_arn);
            }
        }
        "sessionContext" => {
            let s: Option<SessionContext<'de>> = map.next_value()?;
            u.has_unmapped |= s.as_ref().is_some_and(|s| s.has_unmapped);
            u.session = s;
        }
        _ => {
            map.next_value::<IgnoredAny>()?;
            u.has_unmapped = true;
        }
    }
});

#[derive(Deserialize)]
struct OnBehalfOf<'a> {
    #[serde(rename = "userId", borrow)]
    user_id: Option<Text<'a>>,
    #[serde(rename = "identityStoreArn", borrow)]
    identity_store_arn: Option<Text<'a>>,
}

#[derive(Default)]
struct SessionContext<'a> {
    issuer: Option<SessionIssuer<'a>>,
    creation_date: Option<Text<'a>>,
    mfa_authenticated: Option<FlexBool>,
    ec2_role_delivery: Option<Text<'a>>,
    has_unmapped: bool,
}

deserialize_members!(SessionContext, "a sessionContext object", |s, key, map| {
    match key.as_str() {
        "sessionIssuer" => s.issuer = map.next_value()?,
        "attributes" => {
            if let Some(a) = map.next_value::<Option<Attributes<'de>>>()? {
                s.creation_date = a.creation_date;
                s.mfa_authenticated = a.mfa_authenticated;
            }
        }
        "ec2RoleDelivery" => s.ec2_role_delivery = map.next_value()?,
        _ => {
            // `webIdFederationData: {}` is common and says nothing.
            let raw: &'de RawValue = map.next_value()?;
            if !matches!(raw.get(), "{}" | "null" | "[]") {
                s.has_unmapped = true;
            }
        }
    }
});

#[derive(Deserialize)]
struct SessionIssuer<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Text<'a>>,
    #[serde(rename = "principalId", borrow)]
    principal_id: Option<Text<'a>>,
    #[serde(borrow)]
    arn: Option<Text<'a>>,
    #[serde(rename = "accountId", borrow)]
    account_id: Option<Text<'a>>,
    #[serde(rename = "userName", borrow)]
    user_name: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Attributes<'a> {
    #[serde(rename = "creationDate", borrow)]
    creation_date: Option<Text<'a>>,
    #[serde(rename = "mfaAuthenticated")]
    mfa_authenticated: Option<FlexBool>,
}

/// The security-group rule fields the table lifts out of `requestParameters`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct SecurityGroupParameters<'a> {
    #[serde(rename = "ipPermissions", borrow)]
    ip_permissions: Option<Items<IpPermission<'a>>>,
    #[serde(rename = "cidrIp", borrow)]
    cidr_ip: Option<Text<'a>>,
    /// The rule's protocol and ports given at the top level (no `ipPermissions`).
    #[serde(flatten, borrow)]
    ports: PortRule<'a>,
}

/// Protocol and port range of a security-group rule.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PortRule<'a> {
    #[serde(rename = "ipProtocol", borrow)]
    ip_protocol: Option<Text<'a>>,
    #[serde(rename = "fromPort", borrow)]
    from_port: Option<Text<'a>>,
    #[serde(rename = "toPort", borrow)]
    to_port: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Items<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

impl<T> Default for Items<T> {
    fn default() -> Self {
        Items { items: Vec::new() }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IpPermission<'a> {
    #[serde(flatten, borrow)]
    ports: PortRule<'a>,
    #[serde(rename = "ipRanges", borrow)]
    ip_ranges: Option<Items<IpRange<'a>>>,
    #[serde(rename = "ipv6Ranges", borrow)]
    ipv6_ranges: Option<Items<IpRange<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IpRange<'a> {
    #[serde(rename = "cidrIp", borrow)]
    cidr_ip: Option<Text<'a>>,
    #[serde(rename = "cidrIpv6", borrow)]
    cidr_ipv6: Option<Text<'a>>,
}

fn put(record: &mut Record, column: &'static str, value: Option<Text<'_>>) {
    if let Some(v) = value {
        if !v.0.is_empty() {
            record.push(column, Value::Str(v.0.into_owned()));
        }
    }
}

fn put_raw(record: &mut Record, column: &'static str, value: Option<&RawValue>) {
    if let Some(raw) = value {
        record.push(column, Value::Str(raw.get().to_owned()));
    }
}

impl<'a> Event<'a> {
    fn into_record(self) -> Result<Record, String> {
        if self.event_time.is_none() && self.event_name.is_none() && self.event_source.is_none() {
            return Err(
                "not a CloudTrail event: no eventTime, eventName or eventSource".to_string(),
            );
        }
        let mut r = Record::new(LOG_TYPE);
        let mut extras = Extras::new();
        // An event without a usable eventTime is still delivered: the emitter gives it its
        // object's time, and an unreadable eventTime stays visible in AdditionalFields.
        if let Some(t) = &self.event_time {
            r.time = time::parse_iso8601(t.as_str());
            if r.time.is_none() {
                extras.str("eventTime", t.as_str());
            }
        }

        if let (Some(source), Some(name), Some(params)) = (
            &self.event_source,
            &self.event_name,
            self.request_parameters,
        ) {
            if source.as_str() == "ec2.amazonaws.com" && name.as_str().contains("SecurityGroup") {
                lift_security_group_rule(&mut r, params);
            }
        }
        put(&mut r, "EventVersion", self.event_version);
        put(&mut r, "EventSource", self.event_source);
        put(&mut r, "EventName", self.event_name);
        put(&mut r, "AWSRegion", self.aws_region);
        put(&mut r, "SourceIpAddress", self.source_ip);
        put(&mut r, "UserAgent", self.user_agent);
        put(&mut r, "ErrorCode", self.error_code);
        put(&mut r, "ErrorMessage", self.error_message);
        if let Some(id) = &self.request_id {
            // `AwsRequestId` is deprecated in favour of `AwsRequestId_`; existing queries
            // still read the old one, so both are filled.
            put(&mut r, "AwsRequestId", Some(id.clone()));
        }
        put(&mut r, "AwsRequestId_", self.request_id);
        put(&mut r, "AwsEventId", self.event_id);
        put(&mut r, "EventTypeName", self.event_type);
        put(&mut r, "APIVersion", self.api_version);
        put(&mut r, "RecipientAccountId", self.recipient_account_id);
        put(&mut r, "SharedEventId", self.shared_event_id);
        put(&mut r, "VpcEndpointId", self.vpc_endpoint_id);
        put(&mut r, "Category", self.event_category);
        if let Some(b) = self.read_only {
            r.push("ReadOnly", Value::Bool(b.0));
        }
        if let Some(b) = self.management_event {
            r.push("ManagementEvent", Value::Bool(b.0));
        }
        put_raw(&mut r, "RequestParameters", self.request_parameters);
        put_raw(&mut r, "ResponseElements", self.response_elements);
        put_raw(&mut r, "AdditionalEventData", self.additional_event_data);
        put_raw(&mut r, "Resources", self.resources);
        put_raw(&mut r, "ServiceEventDetails", self.service_event_details);
        if let Some(tls) = self.tls_details {
            put(&mut r, "TlsVersion", tls.tls_version);
            put(&mut r, "CipherSuite", tls.cipher_suite);
            put(&mut r, "ClientProvidedHostHeader", tls.host_header);
        }
        if let Some(raw) = self.user_identity {
            let identity: UserIdentity<'_> = serde_json::from_str(raw.get())
                .map_err(|e| format!("userIdentity: {}", json_error_reason(&e)))?;
            if identity.has_unmapped {
                extras.raw("userIdentity", raw);
            }
            push_identity(&mut r, identity)?;
        }
        r.push("OperationName", Value::Str("CloudTrail".to_owned()));
        for (key, value) in &self.unmapped {
            extras.raw(key.as_str(), value);
        }
        extras.finish(&mut r);
        Ok(r)
    }
}

fn push_identity(r: &mut Record, u: UserIdentity<'_>) -> Result<(), String> {
    put(r, "UserIdentityType", u.kind);
    put(r, "UserIdentityPrincipalid", u.principal_id);
    put(r, "UserIdentityArn", u.arn);
    put(r, "UserIdentityAccountId", u.account_id);
    put(r, "UserIdentityAccessKeyId", u.access_key_id);
    put(r, "UserIdentityUserName", u.user_name);
    put(r, "UserIdentityInvokedBy", u.invoked_by);
    put(r, "UserIdentityStoreArn", u.identity_store_arn);
    put(r, "UserIdentityUserId", u.user_id);
    if let Some(s) = u.session {
        if let Some(issuer) = s.issuer {
            put(r, "SessionIssuerType", issuer.kind);
            put(r, "SessionIssuerPrincipalId", issuer.principal_id);
            put(r, "SessionIssuerArn", issuer.arn);
            put(r, "SessionIssuerAccountId", issuer.account_id);
            put(r, "SessionIssuerUserName", issuer.user_name);
        }
        if let Some(created) = s.creation_date {
            let t = time::parse_iso8601(created.as_str()).ok_or_else(|| {
                format!(
                    "sessionContext.attributes.creationDate is not a timestamp: {}",
                    clip(created.as_str())
                )
            })?;
            r.push("SessionCreationDate", Value::Time(t));
        }
        if let Some(mfa) = s.mfa_authenticated {
            r.push("SessionMfaAuthenticated", Value::Bool(mfa.0));
        }
        put(r, "EC2RoleDelivery", s.ec2_role_delivery);
    }
    Ok(())
}

/// `CidrIp`, `SourcePort` (start of the port range), `DestinationPort` (its end) and
/// `IpProtocol` of the first rule in a security-group change. Parameters of another shape
/// are left alone: they are still in `RequestParameters`.
fn lift_security_group_rule(r: &mut Record, params: &RawValue) {
    let Ok(p) = serde_json::from_str::<SecurityGroupParameters<'_>>(params.get()) else {
        return;
    };
    let first = p.ip_permissions.and_then(|l| l.items.into_iter().next());
    let (ports, cidr) = match first {
        Some(perm) => {
            let cidr = perm
                .ip_ranges
                .and_then(|l| l.items.into_iter().find_map(|r| r.cidr_ip))
                .or_else(|| {
                    perm.ipv6_ranges
                        .and_then(|l| l.items.into_iter().find_map(|r| r.cidr_ipv6))
                });
            (perm.ports, cidr)
        }
        None => (p.ports, p.cidr_ip),
    };
    put(r, "IpProtocol", ports.ip_protocol);
    put(r, "SourcePort", ports.from_port);
    put(r, "DestinationPort", ports.to_port);
    put(r, "CidrIp", cidr);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{assert_strs, extras, time_text};

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut CloudTrailParser, "s3://b/k", text)
    }

    const ASSUMED_ROLE: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"},"webIdFederationData":{},"attributes":{"creationDate":"2026-11-20T09:00:00Z","mfaAuthenticated":"true"},"ec2RoleDelivery":"2.0"}},"eventTime":"2026-11-20T10:01:02Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0","requestParameters":{"name":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main"},"responseElements":null,"requestID":"req-1","eventID":"evt-1","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"cloudtrail.us-east-1.amazonaws.com"},"sessionCredentialFromConsole":"true"}"#;

    #[test]
    fn maps_every_documented_field_of_an_event() {
        let doc = format!("{{\"Records\":[{ASSUMED_ROLE}]}}");
        let got = parse(&doc);
        assert_eq!(got.records.len(), 1);
        assert!(got.rejects.is_empty());
        let r = &got.records[0];
        assert_eq!(time_text(r), "2026-11-20T10:01:02Z");
        let s = |c| r.get_str(c).unwrap_or_else(|| panic!("{c} missing"));
        assert_eq!(s("EventName"), "StopLogging");
        assert_eq!(s("EventSource"), "cloudtrail.amazonaws.com");
        assert_eq!(s("UserIdentityType"), "AssumedRole");
        assert_eq!(s("UserIdentityPrincipalid"), "AROAEXAMPLE:alice");
        assert_eq!(s("SessionIssuerUserName"), "Admin");
        assert_eq!(s("EC2RoleDelivery"), "2.0");
        assert_eq!(s("AwsRequestId_"), "req-1");
        assert_eq!(s("AwsRequestId"), "req-1");
        assert_eq!(s("Category"), "Management");
        assert_eq!(s("TlsVersion"), "TLSv1.3");
        assert_eq!(s("OperationName"), "CloudTrail");
        assert_eq!(
            s("RequestParameters"),
            r#"{"name":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}"#
        );
        assert!(r.get("ResponseElements").is_none());
        assert_eq!(r.get("ReadOnly"), Some(&Value::Bool(false)));
        assert_eq!(r.get("ManagementEvent"), Some(&Value::Bool(true)));
        assert_eq!(r.get("SessionMfaAuthenticated"), Some(&Value::Bool(true)));
        assert!(matches!(r.get("SessionCreationDate"), Some(Value::Time(_))));
        // Unmapped members are kept; an empty webIdFederationData is not worth it.
        let extra: serde_json::Value = serde_json::from_str(s("AdditionalFields")).unwrap();
        assert_eq!(extra["sessionCredentialFromConsole"], "true");
        assert!(extra.get("userIdentity").is_none());
    }

    #[test]
    fn reads_compact_pretty_bare_and_array_layouts() {
        let pretty =
            format!("{{\n  \"Records\": [\n    {ASSUMED_ROLE},\n    {ASSUMED_ROLE}\n  ]\n}}\n");
        assert_eq!(parse(&pretty).records.len(), 2);
        let bare = format!("{ASSUMED_ROLE}\n{ASSUMED_ROLE}{ASSUMED_ROLE}\n");
        assert_eq!(parse(&bare).records.len(), 3);
        let array = format!("[{ASSUMED_ROLE}, {ASSUMED_ROLE}]");
        assert_eq!(parse(&array).records.len(), 2);
        let empty = parse("{\"Records\":[]}");
        assert!(empty.records.is_empty() && empty.rejects.is_empty());
        assert!(parse("").rejects.is_empty());
        // Cut between two events: both events, and a reject saying the file is damaged.
        let cut = parse(&format!("{{\"Records\":[{ASSUMED_ROLE},{ASSUMED_ROLE}"));
        assert_eq!(cut.counts(), (2, 1));
        assert!(cut.rejects[0].reason.contains("not closed"));
        // Bare events resync after a truncated line.
        let lines = format!(
            "{}\n{ASSUMED_ROLE}\n~garbage\n{ASSUMED_ROLE}\n",
            &ASSUMED_ROLE[..99]
        );
        let got = parse(&lines);
        assert_eq!((got.records.len(), got.rejects.len()), (2, 2));
    }

    #[test]
    fn bad_events_are_rejected_and_the_rest_continues() {
        let bad_time = ASSUMED_ROLE.replace("2026-11-20T10:01:02Z", "{{template}}");
        let truncated = &ASSUMED_ROLE[..200];
        let doc = format!(
            "{{\"Records\":[{ASSUMED_ROLE},{bad_time},\"scalar\",{ASSUMED_ROLE},{truncated}"
        );
        let got = parse(&doc);
        assert_eq!(got.counts(), (3, 2), "{:?}", got.rejects);
        assert_eq!(got.records[1].time, None, "no time of its own");
        assert!(extras(&got.records[1]).contains("{{template}}"));
        assert!(got.rejects[1].reason.contains("truncated"));
        assert!(got.rejects[1].raw.starts_with("{\"eventVersion\""));
    }

    #[test]
    fn digest_documents_yield_nothing() {
        let got = parse(
            r#"{"awsAccountId":"1","digestStartTime":"2020-09-11T18:36:49Z","logFiles":[{"s3Object":"x"}]}"#,
        );
        assert!(got.records.is_empty() && got.rejects.is_empty());
    }

    #[test]
    fn lifts_security_group_rules() {
        let ev = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"bob","sessionContext":{"sourceIdentity":"x"}},"eventTime":"2026-11-20T10:05:00Z","eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","requestParameters":{"groupId":"sg-1","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{},"prefixListIds":{}}]}}}"#;
        let got = parse(ev);
        let r = &got.records[0];
        assert_strs(
            r,
            &[
                ("CidrIp", "0.0.0.0/0"),
                ("SourcePort", "22"),
                ("DestinationPort", "22"),
                ("IpProtocol", "tcp"),
            ],
        );
        // An identity with members that have no column is kept whole.
        assert!(extras(r).contains("sourceIdentity"));
        // The rule given at the top level of the parameters, without `ipPermissions`.
        let top_level = ev.replace(
            r#""ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{},"prefixListIds":{}}]}"#,
            r#""cidrIp":"10.0.0.0/8","ipProtocol":"udp","fromPort":53,"toPort":54"#,
        );
        assert_strs(
            &parse(&top_level).records[0],
            &[
                ("CidrIp", "10.0.0.0/8"),
                ("SourcePort", "53"),
                ("DestinationPort", "54"),
                ("IpProtocol", "udp"),
            ],
        );
    }

    #[test]
    fn event_without_time_is_delivered_and_a_non_event_rejected() {
        let got = parse(r#"{"Records":[{"eventName":"X"},{"unrelated":1}]}"#);
        assert_eq!(got.counts(), (1, 1), "{:?}", got.rejects);
        assert_eq!(got.records[0].time, None);
        assert!(got.rejects[0].reason.contains("not a CloudTrail event"));
    }
}
