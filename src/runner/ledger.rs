//! The object ledger: at-least-once S3 events become exactly-once processing.
//!
//! Each object (bucket, key, version or ETag) has one small state document. An invocation
//! claims it with a lease before sending anything, records a checkpoint (how many records
//! were acknowledged) after every delivered batch, and marks it complete at the end.
//! A repeated event finds it complete and skips it; a retry after a timeout resumes after
//! the checkpoint; a concurrent duplicate finds a live lease and backs off.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::RecordId;
use crate::source::ObjectRef;
use crate::state::{PutCondition, StateError, StateStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectStatus {
    InProgress,
    Completed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectState {
    pub version: u32,
    pub object: String,
    /// Version id or ETag the state belongs to.
    pub identity: String,
    pub status: ObjectStatus,
    /// Records with a lower ordinal have been delivered (accepted or dead-lettered).
    pub next_ordinal: u64,
    pub owner: String,
    pub lease_until: DateTime<Utc>,
    pub attempts: u32,
    pub updated_at: DateTime<Utc>,
    /// Ids of records at or beyond `next_ordinal` that were already delivered when an
    /// invocation stopped mid-batch; a resume skips them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivered_beyond: Vec<String>,
}

const STATE_VERSION: u32 = 1;

/// Largest ledger entry read (a checkpoint lists at most one batch of record ids).
const MAX_ENTRY_BYTES: u64 = 1024 * 1024;

/// The longest a lease can reach into the future: a Lambda runs at most 15 minutes, and the
/// runner's grace is added to what is left. An entry claiming more was not written by a
/// function (a lease forever would stop the object being delivered ever).
fn max_lease() -> Duration {
    Duration::minutes(20)
}

/// How long an invocation holds the objects it claims: until its deadline plus a grace,
/// but never beyond what an invocation can last, so that no lease looks like damage to
/// another invocation. A command-line run, whose deadline is a day away, renews its
/// lease with each checkpoint instead.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTerm {
    /// When the holder stops.
    pub deadline: std::time::Instant,
    /// How long the lease outlasts the deadline (time to answer, clocks apart).
    pub grace: std::time::Duration,
}

impl LeaseTerm {
    /// The lease's end, counted from now.
    pub fn until(&self) -> DateTime<Utc> {
        let longest = (max_lease() - Duration::minutes(1))
            .to_std()
            .expect("a positive duration");
        let remaining = self
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        let held = (remaining + self.grace).min(longest);
        Utc::now() + Duration::from_std(held).unwrap_or(Duration::minutes(15))
    }
}

impl ObjectState {
    /// Reads an entry, refusing one that cannot be this object's (another object or
    /// version, another format version, a lease beyond any invocation).
    fn from_json(
        bytes: &[u8],
        object: &ObjectRef,
        identity: &str,
        now: DateTime<Utc>,
    ) -> Result<ObjectState, String> {
        let state: ObjectState =
            serde_json::from_slice(bytes).map_err(|e| format!("not a ledger entry: {e}"))?;
        if state.version != STATE_VERSION {
            return Err(format!("ledger entry version {}", state.version));
        }
        if state.object != object.uri() || state.identity != identity {
            return Err(format!(
                "ledger entry of {} ({}), not of this object",
                state.object, state.identity
            ));
        }
        // A completed entry's lease holds nothing back (and one written by an earlier
        // command-line run may reach a day ahead).
        if state.status == ObjectStatus::InProgress && state.lease_until > now + max_lease() {
            return Err(format!(
                "lease until {}, beyond any invocation",
                state.lease_until
            ));
        }
        Ok(state)
    }
}

/// What the caller should do with an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Process it, delivering records from `resume_from` on, except those in
    /// `already_delivered`.
    Process {
        resume_from: u64,
        already_delivered: Vec<RecordId>,
        lease: Lease,
    },
    /// Already done by an earlier invocation.
    AlreadyCompleted,
    /// Another invocation holds a live lease; try again later.
    Busy { owner: String, until: DateTime<Utc> },
}

/// Proof of ownership: the ETag of our last write.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    key: String,
    etag: String,
    state: ObjectState,
}

impl Lease {
    pub fn next_ordinal(&self) -> u64 {
        self.state.next_ordinal
    }
}

/// The state documents of objects in a state store: claims, checkpoints, completion.
pub struct ObjectLedger<'a> {
    store: &'a dyn StateStore,
}

pub fn state_key(object: &ObjectRef, identity: &str) -> String {
    let mut h = Sha256::new();
    h.update(object.bucket.as_bytes());
    h.update([0]);
    h.update(object.key.as_bytes());
    h.update([0]);
    h.update(identity.as_bytes());
    format!("objects/{}", hex::encode(&h.finalize()[..16]))
}

/// The identity of the object version: version id, else ETag. S3 names the one version
/// of a key written while versioning was off or suspended `null`: that names no version,
/// so such an object is known by its ETag, as on an unversioned bucket.
pub fn identity(object: &ObjectRef) -> String {
    object
        .version_id
        .clone()
        .filter(|v| v != "null")
        .or_else(|| object.etag.clone())
        .unwrap_or_default()
}

impl<'a> ObjectLedger<'a> {
    /// A ledger kept in `store`.
    pub fn new(store: &'a dyn StateStore) -> Self {
        ObjectLedger { store }
    }

    /// Claims the object for `owner` until `lease_until`. `known_absent`: the caller has
    /// just read that the object has no entry, so the first attempt creates one without
    /// reading again (a lost race is seen by the create-if-absent write and read then).
    pub async fn claim(
        &self,
        object: &ObjectRef,
        owner: &str,
        lease_until: DateTime<Utc>,
        known_absent: bool,
    ) -> Result<Claim, StateError> {
        let identity = identity(object);
        let key = state_key(object, &identity);
        for attempt in 0..8 {
            let now = Utc::now();
            let mut current = if known_absent && attempt == 0 {
                Ok(None)
            } else {
                self.store.get(&key, MAX_ENTRY_BYTES).await
            };
            let damaged = match &current {
                Err(e @ StateError::TooLarge { .. }) => Some(e.to_string()),
                Ok(Some(v)) => ObjectState::from_json(&v.body, object, &identity, now).err(),
                _ => None,
            };
            if let Some(reason) = damaged {
                // Only this object's idempotency is lost: it is delivered from its start.
                crate::state::set_aside(self.store, &key, &format!("{key}: {reason}")).await;
                current = Ok(None);
            }
            let current = current?;
            let (condition, state) = match &current {
                None => (
                    PutCondition::IfAbsent,
                    ObjectState {
                        version: STATE_VERSION,
                        object: object.uri(),
                        identity: identity.clone(),
                        status: ObjectStatus::InProgress,
                        next_ordinal: 0,
                        owner: owner.to_string(),
                        lease_until,
                        attempts: 1,
                        updated_at: now,
                        delivered_beyond: Vec::new(),
                    },
                ),
                Some(v) => {
                    let old = ObjectState::from_json(&v.body, object, &identity, now)
                        .map_err(|e| StateError::Damaged(format!("{key}: {e}")))?;
                    if old.status == ObjectStatus::Completed {
                        return Ok(Claim::AlreadyCompleted);
                    }
                    if old.owner != owner && old.lease_until > now {
                        return Ok(Claim::Busy {
                            owner: old.owner,
                            until: old.lease_until,
                        });
                    }
                    let mut state = old;
                    state.owner = owner.to_string();
                    state.lease_until = lease_until;
                    state.attempts += 1;
                    state.updated_at = now;
                    (PutCondition::IfMatch(v.etag.clone()), state)
                }
            };
            let body = serde_json::to_vec(&state).expect("state serializes");
            match self.store.put(&key, body, condition).await {
                Ok(etag) => {
                    let already_delivered = state
                        .delivered_beyond
                        .iter()
                        .filter_map(|id| RecordId::parse(id))
                        .collect();
                    return Ok(Claim::Process {
                        resume_from: state.next_ordinal,
                        already_delivered,
                        lease: Lease { key, etag, state },
                    });
                }
                Err(StateError::PreconditionFailed) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StateError::PreconditionFailed)
    }

    /// Records that every record below `next_ordinal`, and those in `delivered_beyond`,
    /// were delivered, and extends the lease.
    pub async fn checkpoint(
        &self,
        lease: &mut Lease,
        next_ordinal: u64,
        delivered_beyond: &[RecordId],
        lease_until: DateTime<Utc>,
    ) -> Result<(), StateError> {
        lease.state.next_ordinal = next_ordinal;
        lease.state.delivered_beyond = delivered_beyond.iter().map(|id| id.to_string()).collect();
        lease.state.lease_until = lease_until;
        lease.state.updated_at = Utc::now();
        self.write(lease).await
    }

    /// Marks the object done after `next_ordinal` records; later events for it are skipped.
    pub async fn complete(&self, lease: &mut Lease, next_ordinal: u64) -> Result<(), StateError> {
        lease.state.status = ObjectStatus::Completed;
        lease.state.next_ordinal = next_ordinal;
        lease.state.delivered_beyond.clear();
        lease.state.updated_at = Utc::now();
        self.write(lease).await
    }

    /// Gives the lease up early (e.g. before failing the invocation) so a retry need not
    /// wait for it to expire. The checkpoint stays.
    pub async fn release(&self, lease: &mut Lease) -> Result<(), StateError> {
        lease.state.lease_until = Utc::now() - Duration::seconds(1);
        self.write(lease).await
    }

    async fn write(&self, lease: &mut Lease) -> Result<(), StateError> {
        let body = serde_json::to_vec(&lease.state).expect("state serializes");
        // Losing this race means another invocation took the object over after our lease
        // expired: we must stop sending.
        lease.etag = self
            .store
            .put(&lease.key, body, PutCondition::IfMatch(lease.etag.clone()))
            .await?;
        Ok(())
    }

    /// The object's state document, if it has one.
    pub async fn get(&self, object: &ObjectRef) -> Result<Option<ObjectState>, StateError> {
        let key = state_key(object, &identity(object));
        match self.store.get(&key, MAX_ENTRY_BYTES).await? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v.body)
                .map(Some)
                .map_err(|e| StateError::Damaged(format!("corrupt object state {key}: {e}"))),
        }
    }
}

/// One invocation's hold on one object: claimed at the start, checkpointed after each
/// delivered batch, completed at the end or released early. Without a state store every
/// step does nothing, so the runner reads the same either way.
pub struct Session<'a> {
    held: Option<(ObjectLedger<'a>, Lease)>,
    term: LeaseTerm,
}

/// How an object's processing starts.
pub enum Start {
    /// Deliver records from `resume_from` on, except `already_delivered`.
    Process {
        resume_from: u64,
        already_delivered: Vec<RecordId>,
    },
    /// An earlier invocation delivered it already.
    Duplicate,
    /// Another invocation holds a live lease.
    Busy { owner: String },
}

impl<'a> Session<'a> {
    /// Claims `object` for `owner` for `term` (without a store: always `Process` from
    /// the start); `known_absent` as in [`ObjectLedger::claim`].
    pub async fn open(
        store: Option<&'a dyn StateStore>,
        object: &ObjectRef,
        owner: &str,
        term: LeaseTerm,
        known_absent: bool,
    ) -> Result<(Session<'a>, Start), StateError> {
        let mut session = Session { held: None, term };
        let Some(store) = store else {
            let start = Start::Process {
                resume_from: 0,
                already_delivered: Vec::new(),
            };
            return Ok((session, start));
        };
        let ledger = ObjectLedger::new(store);
        let start = match ledger
            .claim(object, owner, term.until(), known_absent)
            .await?
        {
            Claim::AlreadyCompleted => Start::Duplicate,
            Claim::Busy { owner, .. } => Start::Busy { owner },
            Claim::Process {
                resume_from,
                already_delivered,
                lease,
            } => {
                session.held = Some((ledger, lease));
                Start::Process {
                    resume_from,
                    already_delivered,
                }
            }
        };
        Ok((session, start))
    }

    /// Every record below `next_ordinal`, and those in `delivered_beyond`, are delivered.
    pub async fn checkpoint(
        &mut self,
        next_ordinal: u64,
        delivered_beyond: &[RecordId],
    ) -> Result<(), StateError> {
        match &mut self.held {
            Some((ledger, lease)) => {
                ledger
                    .checkpoint(lease, next_ordinal, delivered_beyond, self.term.until())
                    .await
            }
            None => Ok(()),
        }
    }

    /// The object is done: a repeated event will skip it.
    pub async fn complete(&mut self, next_ordinal: u64) -> Result<(), StateError> {
        match &mut self.held {
            Some((ledger, lease)) => ledger.complete(lease, next_ordinal).await,
            None => Ok(()),
        }
    }

    /// Gives the lease up before failing, so a retry need not wait for it to expire.
    /// Best effort: the lease expires anyway.
    pub async fn release(&mut self, object: &str) {
        if let Some((ledger, lease)) = &mut self.held
            && let Err(e) = ledger.release(lease).await
        {
            tracing::warn!(object, error = %e, "could not release the object lease");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::local::LocalDirStore;

    fn obj() -> ObjectRef {
        ObjectRef {
            bucket: "b".into(),
            key: "k".into(),
            version_id: None,
            etag: Some("e1".into()),
            size: None,
        }
    }

    #[tokio::test]
    async fn claim_checkpoint_resume_complete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path());
        let ledger = ObjectLedger::new(&store);
        let soon = Utc::now() + Duration::minutes(5);

        let Claim::Process {
            resume_from,
            mut lease,
            ..
        } = ledger.claim(&obj(), "inv-1", soon, false).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(resume_from, 0);
        ledger
            .checkpoint(&mut lease, 500, &[RecordId(7)], soon)
            .await
            .unwrap();

        // A concurrent duplicate backs off while the lease lives.
        assert!(matches!(
            ledger.claim(&obj(), "inv-2", soon, false).await.unwrap(),
            Claim::Busy { .. }
        ));
        // After the first invocation gives up, a retry resumes at the checkpoint.
        ledger.release(&mut lease).await.unwrap();
        let Claim::Process {
            resume_from,
            already_delivered,
            lease: mut lease2,
        } = ledger.claim(&obj(), "inv-2", soon, false).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(resume_from, 500);
        assert_eq!(already_delivered, vec![RecordId(7)]);
        // The old owner lost the object: its writes now fail.
        assert!(matches!(
            ledger.checkpoint(&mut lease, 600, &[], soon).await,
            Err(StateError::PreconditionFailed)
        ));
        ledger.complete(&mut lease2, 900).await.unwrap();
        assert_eq!(
            ledger.claim(&obj(), "inv-3", soon, false).await.unwrap(),
            Claim::AlreadyCompleted
        );
        // A new version of the same key is a new object.
        let mut newer = obj();
        newer.etag = Some("e2".into());
        assert!(matches!(
            ledger.claim(&newer, "inv-3", soon, false).await.unwrap(),
            Claim::Process { resume_from: 0, .. }
        ));
        // A caller that read "no entry" just before loses the race to a completion in
        // between without harm: the create-if-absent write fails and the entry is read.
        assert_eq!(
            ledger.claim(&obj(), "inv-4", soon, true).await.unwrap(),
            Claim::AlreadyCompleted
        );
    }

    #[tokio::test]
    async fn a_command_line_lease_is_one_another_invocation_respects() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path());
        let ledger = ObjectLedger::new(&store);
        // `process` has no deadline to speak of: a day.
        let term = LeaseTerm {
            deadline: std::time::Instant::now() + std::time::Duration::from_secs(86_400),
            grace: std::time::Duration::from_secs(30),
        };
        assert!(term.until() < Utc::now() + max_lease());
        let Claim::Process { .. } = ledger
            .claim(&obj(), "cli", term.until(), false)
            .await
            .unwrap()
        else {
            panic!()
        };
        // The function finds a live lease, not a damaged entry to set aside.
        let soon = Utc::now() + Duration::minutes(5);
        assert!(matches!(
            ledger.claim(&obj(), "lambda", soon, false).await.unwrap(),
            Claim::Busy { .. }
        ));
        assert!(store.damage().take().is_empty());
    }

    #[test]
    fn a_version_names_the_object_and_null_names_none() {
        let mut object = obj();
        assert_eq!(identity(&object), "e1");
        object.version_id = Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY".into());
        assert_eq!(identity(&object), "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
        object.version_id = Some("null".into());
        assert_eq!(identity(&object), "e1");
    }
}
