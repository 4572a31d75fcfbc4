//! Per-principal behaviour: what each principal (IAM user, role, root, federated user) has
//! done before, so that a call can be judged against its own caller's habits.
//!
//! A stolen key or session is used under its owner's identity, often from a familiar
//! address: the call itself looks ordinary. What differs is the behaviour: APIs and
//! services the principal never called, a first address, client family or region, a burst
//! of distinct discovery calls it does not usually make, a burst of secret reads, a burst
//! of denied calls, activity at hours it is never active. Each CloudTrail record gets the
//! flags that apply ([`Flag`], written to the `BehaviourFlags` column) from the history
//! *before* it, then joins the history.
//!
//! The history is bounded (principals, and per principal its APIs, addresses, ...) and kept
//! in the state prefix (`behaviour/principals.json`), merged across concurrent functions
//! like the pattern database: each instance stores what it learned since its last save and
//! merges it into whatever is stored (sets united, counts added) with a conditional write.
//! Novelty needs a warm-up: a principal's first [`BehaviourConfig::warm_up_events`] calls
//! and first [`BehaviourConfig::warm_up`] raise no "first ..." flags.
//!
//! Client tool names are not evidence: a user agent only contributes its family (the text
//! before its first `/`) to "first use of a client family", never a verdict by name.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::features::catalog::{self, Verb};
use crate::features::common::{AddressClass, classify_address};
use crate::record::{LogType, Record, Value, columns};
use crate::state::{self, StateError, StateStore};

/// Where the history is kept, under the state prefix.
pub const STATE_KEY: &str = "behaviour/principals.json";
/// Largest stored history read.
pub const MAX_STORED_BYTES: u64 = 32 * 1024 * 1024;
/// Version of the stored document.
pub const VERSION: u32 = 1;

/// What a record's caller did that it does not usually do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// An API this principal never called (after its warm-up).
    NewApi,
    /// An API this principal first called within the warm-up time (a day): not yet part
    /// of its routine.
    RecentApi,
    /// A service this principal never called.
    NewService,
    /// A source network (IPv4 /24, IPv6 /48) this principal never called from.
    NewAddress,
    /// A client family (user agent before its first `/`) this principal never used.
    NewClient,
    /// A region this principal never called.
    NewRegion,
    /// A long-term access key (`AKIA…`) this principal never signed with: a new key, or
    /// one created for someone else's use.
    NewAccessKey,
    /// Several read calls new to the principal within the window: enumeration.
    DiscoveryBurst,
    /// Several secret or credential reads within the window, from a principal that rarely
    /// reads them.
    CredentialBurst,
    /// Several denied calls within the window.
    DeniedBurst,
    /// An hour at which this principal is almost never active.
    OffHours,
    /// The principal's history is still too short to tell what is new for it.
    WarmingUp,
}

impl Flag {
    /// Every flag, in column order.
    pub const ALL: [Flag; 12] = [
        Flag::NewApi,
        Flag::RecentApi,
        Flag::NewService,
        Flag::NewAddress,
        Flag::NewClient,
        Flag::NewRegion,
        Flag::NewAccessKey,
        Flag::DiscoveryBurst,
        Flag::CredentialBurst,
        Flag::DeniedBurst,
        Flag::OffHours,
        Flag::WarmingUp,
    ];

    /// The name in the `BehaviourFlags` column.
    pub fn name(self) -> &'static str {
        match self {
            Flag::NewApi => "new_api",
            Flag::RecentApi => "recent_api",
            Flag::NewService => "new_service",
            Flag::NewAddress => "new_address",
            Flag::NewClient => "new_client",
            Flag::NewRegion => "new_region",
            Flag::NewAccessKey => "new_access_key",
            Flag::DiscoveryBurst => "discovery_burst",
            Flag::CredentialBurst => "credential_burst",
            Flag::DeniedBurst => "denied_burst",
            Flag::OffHours => "off_hours",
            Flag::WarmingUp => "warming_up",
        }
    }

    /// The flag of a column name.
    pub fn from_name(name: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.name() == name)
    }

    /// What it means, for reasons.
    pub fn description(self) -> &'static str {
        match self {
            Flag::NewApi => "the first call of this API by this principal",
            Flag::RecentApi => "an API this principal only started calling within the last day",
            Flag::NewService => "the first call of this service by this principal",
            Flag::NewAddress => "the first call by this principal from this network",
            Flag::NewClient => "the first call by this principal with this kind of client",
            Flag::NewRegion => "the first call by this principal in this region",
            Flag::NewAccessKey => "the first call by this principal with this long-term access key",
            Flag::DiscoveryBurst => {
                "one of many read calls new to this principal within minutes (enumeration)"
            }
            Flag::CredentialBurst => {
                "one of several secret or credential reads within minutes by a principal that rarely reads them"
            }
            Flag::DeniedBurst => "one of many denied calls by this principal within minutes",
            Flag::OffHours => "at an hour this principal is almost never active",
            Flag::WarmingUp => {
                "its principal's history is still too short to tell what is new for it"
            }
        }
    }
}

/// The flags of a record, as the `BehaviourFlags` column holds them; `None` when the
/// record was not analyzed (not CloudTrail, no principal, or no history kept). An empty
/// list is news of its own: a warm principal's routine call.
pub fn flags_of(record: &Record) -> Option<Vec<Flag>> {
    let text = record.get_str(columns::BEHAVIOUR_FLAGS)?;
    let names: Vec<String> = serde_json::from_str(text).ok()?;
    Some(names.iter().filter_map(|n| Flag::from_name(n)).collect())
}

/// How much one behaviour flag says on its own: bursts most, a first use of something
/// least (principals try new things every week).
pub fn flag_weight(flag: Flag) -> f64 {
    match flag {
        Flag::CredentialBurst => 0.55,
        Flag::DiscoveryBurst => 0.45,
        Flag::DeniedBurst => 0.35,
        Flag::NewRegion => 0.25,
        Flag::NewAccessKey => 0.2,
        Flag::NewApi => 0.2,
        Flag::RecentApi => 0.1,
        Flag::NewAddress => 0.2,
        Flag::NewService => 0.15,
        Flag::NewClient => 0.15,
        Flag::OffHours => 0.1,
        Flag::WarmingUp => 0.0,
    }
}

/// The severity a record's behaviour flags add up to: each flag removes its weight's share
/// of what is left (`1 − Π(1 − w)`), so flags that agree make a call stand out together.
pub fn behaviour_severity(flags: &[Flag]) -> f64 {
    1.0 - flags.iter().map(|f| 1.0 - flag_weight(*f)).product::<f64>()
}

/// Bounds and thresholds of the behaviour history.
#[derive(Debug, Clone)]
pub struct BehaviourConfig {
    /// Calls before novelty counts.
    pub warm_up_events: u64,
    /// Time since the first call before novelty counts.
    pub warm_up: Duration,
    /// Window of the bursts.
    pub window: Duration,
    /// Principals kept (the least recently active go first).
    pub max_principals: usize,
    /// APIs kept per principal.
    pub max_apis: usize,
    /// Networks, client families and regions kept per principal.
    pub max_values: usize,
    /// Read calls new to the principal within the window that make a discovery burst.
    pub discovery_burst: usize,
    /// Credential reads within the window that make a credential burst.
    pub credential_burst: usize,
    /// Denied calls within the window that make a denied burst.
    pub denied_burst: usize,
}

impl Default for BehaviourConfig {
    fn default() -> Self {
        BehaviourConfig {
            warm_up_events: 50,
            warm_up: Duration::hours(24),
            window: Duration::minutes(10),
            max_principals: 2_000,
            max_apis: 256,
            max_values: 32,
            discovery_burst: 5,
            credential_burst: 3,
            denied_burst: 5,
        }
    }
}

/// Recent calls kept per principal for the bursts.
const RECENT: usize = 64;

/// What kind of call a recent call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Kind {
    /// A read call new to the principal.
    NewRead,
    CredentialRead,
    Denied,
    Other,
}

/// One recent call: seconds since the epoch, kind, API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Recent(i64, Kind, String);

/// One principal's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    first_seen: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
    events: u64,
    credential_reads: u64,
    /// API to when the principal first called it (seconds since the epoch).
    apis: BTreeMap<String, i64>,
    services: BTreeSet<String>,
    networks: BTreeSet<String>,
    clients: BTreeSet<String>,
    regions: BTreeSet<String>,
    /// Long-term access keys (`AKIA…`) it signed with; session keys change every session.
    #[serde(default)]
    keys: BTreeSet<String>,
    hours: [u64; 24],
    recent: Vec<Recent>,
}

impl Principal {
    /// Calls seen.
    pub fn events(&self) -> u64 {
        self.events
    }

    fn merge(&mut self, other: &Principal, config: &BehaviourConfig) {
        self.first_seen = min_time(self.first_seen, other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.events += other.events;
        self.credential_reads += other.credential_reads;
        for (api, first) in &other.apis {
            if let Some(t) = self.apis.get_mut(api) {
                *t = (*t).min(*first);
            } else if self.apis.len() < config.max_apis {
                self.apis.insert(api.clone(), *first);
            }
        }
        union(&mut self.services, &other.services, config.max_apis);
        union(&mut self.networks, &other.networks, config.max_values);
        union(&mut self.clients, &other.clients, config.max_values);
        union(&mut self.regions, &other.regions, config.max_values);
        union(&mut self.keys, &other.keys, config.max_values);
        for (h, n) in self.hours.iter_mut().zip(other.hours) {
            *h += n;
        }
        self.recent.extend(other.recent.iter().cloned());
        self.recent.sort_by_key(|r| r.0);
        self.recent.dedup();
        let excess = self.recent.len().saturating_sub(RECENT);
        self.recent.drain(..excess);
    }
}

fn min_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Adds `other` to `set` up to `cap` entries; a full set learns nothing new (its
/// principal keeps its flags quiet rather than forgetting what it knew).
fn union(set: &mut BTreeSet<String>, other: &BTreeSet<String>, cap: usize) {
    for v in other {
        if set.len() >= cap {
            break;
        }
        set.insert(v.clone());
    }
}

/// The histories of every principal, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BehaviourDb {
    #[serde(default)]
    version: u32,
    principals: BTreeMap<String, Principal>,
}

impl BehaviourDb {
    /// Principals kept.
    pub fn len(&self) -> usize {
        self.principals.len()
    }

    /// Whether no principal is kept.
    pub fn is_empty(&self) -> bool {
        self.principals.is_empty()
    }

    /// One principal's history.
    pub fn principal(&self, key: &str) -> Option<&Principal> {
        self.principals.get(key)
    }

    /// Reads a stored document, refusing one this build cannot use.
    pub fn from_json(bytes: &[u8]) -> Result<BehaviourDb, String> {
        let db: BehaviourDb = serde_json::from_slice(bytes)
            .map_err(|e| format!("stored behaviour history ({STATE_KEY}) is not valid: {e}"))?;
        if db.version > VERSION {
            return Err(format!(
                "stored behaviour history ({STATE_KEY}): version {}; this build reads {VERSION}",
                db.version
            ));
        }
        Ok(db)
    }

    fn merge(&mut self, other: &BehaviourDb, config: &BehaviourConfig) {
        for (key, p) in &other.principals {
            self.principals
                .entry(key.clone())
                .or_default()
                .merge(p, config);
        }
        if self.principals.len() > config.max_principals {
            let mut by_age: Vec<(Option<DateTime<Utc>>, String)> = self
                .principals
                .iter()
                .map(|(k, p)| (p.last_seen, k.clone()))
                .collect();
            by_age.sort();
            let excess = self.principals.len() - config.max_principals;
            for (_, key) in by_age.into_iter().take(excess) {
                self.principals.remove(&key);
            }
        }
    }
}

/// The principal a CloudTrail record is attributed to: the role behind an assumed-role
/// session (sessions come and go, the role stays), the user, root; AWS services acting
/// for the account are not principals of their own.
pub fn principal_of(record: &Record) -> Option<String> {
    let kind = record.get_str("UserIdentityType").unwrap_or("");
    let text = |c: &str| record.get_str(c).filter(|s| !s.trim().is_empty());
    match kind {
        "AWSService" | "AWSAccount" | "" => None,
        "AssumedRole" | "Role" => text("SessionIssuerArn")
            .or_else(|| text("UserIdentityArn"))
            .map(str::to_string),
        "Root" => Some(format!(
            "root:{}",
            text("UserIdentityAccountId").unwrap_or("unknown")
        )),
        _ => text("UserIdentityArn")
            .or_else(|| text("UserIdentityPrincipalid"))
            .map(str::to_string),
    }
}

/// The network of a source address (IPv4 /24, IPv6 /48); service names stay whole.
fn network_of(address: &str) -> Option<String> {
    match classify_address(address) {
        AddressClass::AwsService => None,
        _ => {
            let a = address.trim();
            match a.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(v4)) => {
                    let o = v4.octets();
                    Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
                }
                Ok(std::net::IpAddr::V6(v6)) => {
                    let s = v6.segments();
                    Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
                }
                Err(_) => Some(a.chars().take(64).collect()),
            }
        }
    }
}

/// A client's family: the user agent up to its first `/` or space, lowercased.
fn client_of(user_agent: &str) -> Option<String> {
    let family: String = user_agent
        .trim()
        .trim_start_matches('[')
        .split(['/', ' ', '('])
        .next()?
        .chars()
        .take(48)
        .collect::<String>()
        .to_ascii_lowercase();
    (!family.is_empty()).then_some(family)
}

/// Secret and credential reads: calls that hand back a secret in the response.
fn is_credential_read(event_name: &str, params: Option<&str>) -> bool {
    match event_name {
        "GetSecretValue"
        | "BatchGetSecretValue"
        | "GetPasswordData"
        | "GetFederationToken"
        | "CreateAccessKey"
        | "GetSigninToken"
        | "RetrieveEnvironmentInfo"
        | "GetRoleCredentials" => true,
        "GetParameter" | "GetParameters" | "GetParametersByPath" => {
            params.is_some_and(|p| p.replace(' ', "").contains("\"withDecryption\":true"))
        }
        _ => false,
    }
}

fn is_denied(error_code: &str) -> bool {
    let e = error_code.to_ascii_lowercase();
    e.contains("accessdenied") || e.contains("unauthorized") || e.contains("forbidden")
}

/// The history as one function sees it: what is stored, and what it learned since.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    config: BehaviourConfig,
    /// The stored history as last loaded or saved, with this process's learning added.
    view: BehaviourDb,
    /// What this process learned since its last save.
    delta: BehaviourDb,
}

impl Behaviour {
    /// An empty history.
    pub fn new(config: BehaviourConfig) -> Behaviour {
        Behaviour {
            config,
            view: BehaviourDb::default(),
            delta: BehaviourDb::default(),
        }
    }

    /// The history as this process sees it.
    pub fn view(&self) -> &BehaviourDb {
        &self.view
    }

    /// Flags each CloudTrail record (writing `BehaviourFlags`) from the history before it,
    /// then adds it to the history. Records without a principal or a time are left alone.
    pub fn analyze(&mut self, records: &mut [Record]) {
        for record in records.iter_mut() {
            if record.log_type != LogType::CloudTrail {
                continue;
            }
            let (Some(key), Some(time)) = (principal_of(record), record.time) else {
                continue;
            };
            let flags = self.observe(&key, record, time);
            let names: Vec<&str> = flags.iter().map(|f| f.name()).collect();
            let json = serde_json::to_string(&names).expect("names serialize");
            let raw = serde_json::value::RawValue::from_string(json).expect("names are JSON");
            record.set(columns::BEHAVIOUR_FLAGS, Value::Json(raw));
        }
    }

    fn observe(&mut self, key: &str, record: &Record, time: DateTime<Utc>) -> Vec<Flag> {
        let config = &self.config;
        let text = |c: &str| record.get_str(c).unwrap_or("");
        let event_name = text("EventName");
        let service = catalog::service_of(text("EventSource")).to_string();
        let api = format!("{service}:{event_name}");
        let params = record.get_str("RequestParameters");
        let network = network_of(text("SourceIpAddress"));
        let client = client_of(text("UserAgent"));
        let region = Some(text("AWSRegion").to_string()).filter(|r| !r.is_empty());
        let key_id =
            Some(text("UserIdentityAccessKeyId").to_string()).filter(|k| k.starts_with("AKIA"));
        let denied = is_denied(text("ErrorCode"));
        let credential = is_credential_read(event_name, params);

        let empty = Principal::default();
        let known = self.view.principals.get(key).unwrap_or(&empty);
        let warm = known.events >= config.warm_up_events
            && known
                .first_seen
                .is_some_and(|first| time - first >= config.warm_up);
        let mut flags = Vec::new();
        if !warm {
            flags.push(Flag::WarmingUp);
        }
        let new_api = !known.apis.contains_key(&api);
        // Called before, but only lately: not yet part of the principal's routine.
        let recent_api = known
            .apis
            .get(&api)
            .is_some_and(|first| time.timestamp() - first < config.warm_up.num_seconds());
        let full = |set: &BTreeSet<String>, cap: usize| set.len() >= cap;
        if warm {
            if new_api && known.apis.len() < config.max_apis {
                flags.push(Flag::NewApi);
            } else if recent_api {
                flags.push(Flag::RecentApi);
            }
            if !known.services.contains(&service) && !full(&known.services, config.max_apis) {
                flags.push(Flag::NewService);
            }
            let novel = |value: &Option<String>, set: &BTreeSet<String>| {
                value
                    .as_ref()
                    .is_some_and(|v| !set.contains(v) && !full(set, config.max_values))
            };
            if novel(&network, &known.networks) {
                flags.push(Flag::NewAddress);
            }
            if novel(&client, &known.clients) {
                flags.push(Flag::NewClient);
            }
            if novel(&region, &known.regions) {
                flags.push(Flag::NewRegion);
            }
            if novel(&key_id, &known.keys) {
                flags.push(Flag::NewAccessKey);
            }
            let total: u64 = known.hours.iter().sum();
            let hour = time.hour() as usize;
            let near: u64 = [23, 0, 1]
                .iter()
                .map(|d| known.hours[(hour + d) % 24])
                .sum();
            if total >= 100 && (near as f64) < 0.01 * total as f64 {
                flags.push(Flag::OffHours);
            }
        }

        let kind = if denied {
            Kind::Denied
        } else if credential {
            Kind::CredentialRead
        } else if new_api && catalog::verb_of(event_name) == Verb::Read {
            Kind::NewRead
        } else {
            Kind::Other
        };
        let since = (time - config.window).timestamp();
        let recent: Vec<&Recent> = known.recent.iter().filter(|r| r.0 >= since).collect();
        let count = |k: Kind| recent.iter().filter(|r| r.1 == k).count() + usize::from(kind == k);
        let distinct_new_reads: BTreeSet<&str> = recent
            .iter()
            .filter(|r| r.1 == Kind::NewRead)
            .map(|r| r.2.as_str())
            .chain((kind == Kind::NewRead).then_some(api.as_str()))
            .collect();
        // New reads only count once the principal has a history to be new against.
        if known.events >= config.warm_up_events
            && kind == Kind::NewRead
            && distinct_new_reads.len() >= config.discovery_burst
        {
            flags.push(Flag::DiscoveryBurst);
        }
        let habitual = known.events > 0 && known.credential_reads * 20 > known.events;
        if credential && !habitual && count(Kind::CredentialRead) >= config.credential_burst {
            flags.push(Flag::CredentialBurst);
        }
        if denied && count(Kind::Denied) >= config.denied_burst {
            flags.push(Flag::DeniedBurst);
        }

        drop(recent);
        drop(distinct_new_reads);
        let mut learned = Principal {
            first_seen: Some(time),
            last_seen: Some(time),
            events: 1,
            credential_reads: u64::from(credential),
            recent: vec![Recent(time.timestamp(), kind, api.clone())],
            ..Principal::default()
        };
        learned.apis.insert(api, time.timestamp());
        learned.services.insert(service);
        learned.networks.extend(network);
        learned.clients.extend(client);
        learned.regions.extend(region);
        learned.keys.extend(key_id);
        learned.hours[time.hour() as usize] = 1;
        let one = BehaviourDb {
            version: VERSION,
            principals: BTreeMap::from([(key.to_string(), learned)]),
        };
        self.view.merge(&one, config);
        self.delta.merge(&one, config);
        flags
    }

    /// Replaces the view with the stored history (cold start); a damaged document is set
    /// aside and the history starts afresh.
    pub async fn load<S: StateStore + ?Sized>(&mut self, store: &S) -> Result<(), StateError> {
        if let Some(stored) =
            state::load(store, STATE_KEY, MAX_STORED_BYTES, BehaviourDb::from_json).await?
        {
            self.view = stored;
            let delta = self.delta.clone();
            self.view.merge(&delta, &self.config);
        }
        Ok(())
    }

    /// Takes what this process learned since the last save.
    pub fn take_delta(&mut self) -> BehaviourDb {
        std::mem::take(&mut self.delta)
    }

    /// Puts back a delta whose save failed.
    pub fn restore_delta(&mut self, delta: BehaviourDb) {
        self.delta.merge(&delta, &self.config);
    }

    /// Adopts a merged history after a save.
    pub fn adopt(&mut self, stored: BehaviourDb) {
        self.view = stored;
        let delta = self.delta.clone();
        self.view.merge(&delta, &self.config);
    }

    /// The configuration.
    pub fn config(&self) -> &BehaviourConfig {
        &self.config
    }
}

/// Merges `delta` into the stored history (conditional write, retried) and returns the
/// merged history.
pub async fn persist<S: StateStore + ?Sized>(
    store: &S,
    delta: &BehaviourDb,
    config: &BehaviourConfig,
) -> Result<BehaviourDb, StateError> {
    let mut merged_out = None;
    state::update(store, STATE_KEY, MAX_STORED_BYTES, |current| {
        let mut merged = match current {
            Some(bytes) => BehaviourDb::from_json(bytes).map_err(StateError::Damaged)?,
            None => BehaviourDb::default(),
        };
        merged.version = VERSION;
        merged.merge(delta, config);
        let body = serde_json::to_vec(&merged).expect("behaviour history serializes");
        merged_out = Some(merged);
        Ok(body)
    })
    .await?;
    Ok(merged_out.expect("update ran the merge"))
}

#[cfg(test)]
mod tests;
