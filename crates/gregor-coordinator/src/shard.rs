//! The state machine for the groups of one `__consumer_offsets` partition.
//!
//! Events come in as decoded requests; out come the records to append to
//! that partition and the response. The shard does not change when it
//! answers: its state changes only by [`GroupCoordinatorShard::replay`] of
//! records, the same path whether the records were just written (the caller
//! calls [`GroupCoordinatorShard::apply`] once the append succeeded) or are
//! read back from the log at start. So memory never holds a commit the log
//! does not, and a failed append leaves nothing behind.
//!
//! Classic group membership is the exception, as in Kafka: it is soft state
//! that JoinGroup/SyncGroup/Heartbeat/LeaveGroup and the clock change
//! directly, and its `GroupMetadataValue` records are written but replayed
//! only at load (see [`crate::classic`]).

use std::collections::BTreeMap;

use gregor_protocol::kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use gregor_protocol::kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use gregor_protocol::kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
};
use gregor_protocol::kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, TopicName,
};
use gregor_protocol::kafka_protocol::protocol::StrBytes;
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::debug;

use crate::classic::{ClassicConfig, GroupMetadataValue};
use crate::consumer::record::ConsumerKey;
use crate::consumer::{ConsumerConfig, Topics};
use crate::error::CoordinatorError;
use crate::group::{validate_offset_commit, Committer, Group, OffsetAndMetadata};
use crate::records::{
    group_metadata_tombstone, offset_commit_record, offset_commit_tombstone, CoordinatorRecord,
    OffsetCommitValue, RecordKey, NO_LEADER_EPOCH,
};

/// OffsetCommit v2-v4 `retention_time_ms` meaning "use the broker's retention".
const DEFAULT_RETENTION_TIME_MS: i64 = -1;
/// OffsetFetch's answer for a partition without a committed offset.
const INVALID_OFFSET: i64 = -1;
/// Kafka's non-compact strings carry an int16 length; a longer group id
/// cannot be stored.
const GROUP_ID_BYTES_MAX: usize = i16::MAX as usize;

/// The coordinator's broker configs, in the units it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// `offsets.retention.minutes`, in milliseconds.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`. Kafka compares it with the metadata
    /// string's Java length (UTF-16 units), and so does this crate.
    pub offset_metadata_max_bytes: usize,
    /// `group.*` settings of classic group membership.
    pub classic: ClassicConfig,
    /// `group.consumer.*` settings of KIP-848 consumer groups.
    pub consumer: ConsumerConfig,
}

impl Default for CoordinatorConfig {
    /// Kafka's defaults: 7 days, 10 minutes, 4096.
    fn default() -> Self {
        CoordinatorConfig {
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            classic: ClassicConfig::default(),
            consumer: ConsumerConfig::default(),
        }
    }
}

/// What an event produced: records to append, then the response to send
/// once they are written. With no records the response can go at once.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinatorResult<R> {
    pub records: Vec<CoordinatorRecord>,
    pub response: R,
}

/// What replaying one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    Applied,
    /// A record type this version does not handle, skipped as Kafka does.
    Ignored(i16),
}

/// The groups coordinated by one `__consumer_offsets` partition. Owned by
/// the broker (one per partition, each behind its own lock); every method is
/// synchronous and does no I/O.
#[derive(Debug, Clone)]
pub struct GroupCoordinatorShard {
    partition: i32,
    pub(crate) config: CoordinatorConfig,
    pub(crate) groups: BTreeMap<String, Group>,
    /// When `take_due_expiry` next looks for expired offsets.
    next_expiry_check_ms: i64,
    /// The cluster's topics as last seen (by a heartbeat, or given by
    /// [`Self::set_topics`] before loading): consumer-group records store
    /// partitions by topic id.
    pub(crate) topics: Topics,
    /// Offsets committed inside open transactions (TxnOffsetCommit), not
    /// visible until their transaction's marker: see `txn_offsets.rs`.
    pub(crate) txn: crate::txn_offsets::TxnOffsets,
}

impl GroupCoordinatorShard {
    pub fn new(partition: i32, config: CoordinatorConfig) -> GroupCoordinatorShard {
        GroupCoordinatorShard {
            partition,
            config,
            groups: BTreeMap::new(),
            next_expiry_check_ms: i64::MIN,
            topics: Topics::new(),
            txn: Default::default(),
        }
    }

    /// The cluster's topics (from the metadata image), which resolve the
    /// topic ids of consumer-group records: call before replaying a log.
    pub fn set_topics(&mut self, topics: Topics) {
        self.topics = topics;
    }

    /// The `__consumer_offsets` partition this shard's records go to.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    pub fn group(&self, group_id: &str) -> Option<&Group> {
        self.groups.get(group_id)
    }

    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// OffsetCommit (v2-v9 request data). The caller has already answered
    /// partitions of unknown topics and leaves them out of `req`.
    pub fn commit_offsets(
        &self,
        req: &OffsetCommitRequest,
        api_version: i16,
        now_ms: i64,
    ) -> CoordinatorResult<OffsetCommitResponse> {
        let group_id = req.group_id.as_str();
        let who = Committer {
            member_id: req.member_id.as_str(),
            group_instance_id: req.group_instance_id.as_ref().map(|s| s.as_str()),
            generation_id: req.generation_id_or_member_epoch,
            api_version,
        };
        let valid = if group_id.len() > GROUP_ID_BYTES_MAX {
            Err(ResponseError::InvalidGroupId)
        } else {
            validate_offset_commit(self.groups.get(group_id), who)
        };
        if let Err(code) = valid {
            return CoordinatorResult {
                records: Vec::new(),
                response: commit_error_response(req, code),
            };
        }
        let expire_timestamp_ms = (req.retention_time_ms != DEFAULT_RETENTION_TIME_MS)
            .then(|| now_ms.saturating_add(req.retention_time_ms));
        let mut records = Vec::new();
        let mut topics = Vec::with_capacity(req.topics.len());
        for topic in &req.topics {
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for p in &topic.partitions {
                let value = OffsetCommitValue::committed(
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata.as_deref(),
                    now_ms,
                    expire_timestamp_ms,
                );
                let code = self
                    .commit_record(group_id, &topic.name, p.partition_index, &value)
                    .map(|record| records.push(record))
                    .err();
                partitions.push(
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code.map_or(0, |c| c.code())),
                );
            }
            topics.push(
                OffsetCommitResponseTopic::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions),
            );
        }
        CoordinatorResult {
            records,
            response: OffsetCommitResponse::default().with_topics(topics),
        }
    }

    /// The record of one committed partition, or the partition's error:
    /// OFFSET_METADATA_TOO_LARGE past `offset.metadata.max.bytes`, and
    /// UNKNOWN_TOPIC_OR_PARTITION for a topic name no topic can have.
    /// Shared by regular and transactional commits.
    pub(crate) fn commit_record(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
        value: &OffsetCommitValue,
    ) -> Result<CoordinatorRecord, ResponseError> {
        if java_length(&value.metadata) > self.config.offset_metadata_max_bytes {
            return Err(ResponseError::OffsetMetadataTooLarge);
        }
        offset_commit_record(group_id, topic, partition, value)
            .map_err(|_| ResponseError::UnknownTopicOrPartition)
    }

    /// OffsetFetch for one group (the v8+ shape; older versions carry one
    /// group). `topics: None` asks for every committed offset of the group.
    ///
    /// `require_stable` (KIP-447) holds back the partitions that have an
    /// offset committed in a still-open transaction with
    /// UNSTABLE_OFFSET_COMMIT, so the client retries until the transaction
    /// ends.
    pub fn fetch_offsets(
        &self,
        req: &OffsetFetchRequestGroup,
        require_stable: bool,
    ) -> OffsetFetchResponseGroup {
        let group = self.groups.get(req.group_id.as_str());
        // A consumer-protocol member (v9+) reads only as a current member.
        if let (Some(consumer), Some(member_id)) = (
            group.and_then(|g| g.consumer.as_ref()),
            req.member_id.as_ref().filter(|_| req.member_epoch >= 0),
        ) {
            if let Err(code) = consumer.validate_offset_fetch(member_id, req.member_epoch) {
                return OffsetFetchResponseGroup::default()
                    .with_group_id(req.group_id.clone())
                    .with_error_code(code.code());
            }
        }
        let topics = match &req.topics {
            Some(topics) => topics
                .iter()
                .map(|t| {
                    let partitions = t
                        .partition_indexes
                        .iter()
                        .map(|p| {
                            if require_stable
                                && self.txn.has_pending(req.group_id.as_str(), &t.name, *p)
                            {
                                return fetched_partition(*p, None)
                                    .with_error_code(ResponseError::UnstableOffsetCommit.code());
                            }
                            fetched_partition(*p, group.and_then(|g| g.offset(&t.name, *p)))
                        })
                        .collect();
                    OffsetFetchResponseTopics::default()
                        .with_name(t.name.clone())
                        .with_partitions(partitions)
                })
                .collect(),
            None => {
                let mut topics = group.map_or_else(Vec::new, all_offsets_response);
                if require_stable {
                    for t in &mut topics {
                        for p in &mut t.partitions {
                            if self.txn.has_pending(
                                req.group_id.as_str(),
                                &t.name,
                                p.partition_index,
                            ) {
                                *p = fetched_partition(p.partition_index, None)
                                    .with_error_code(ResponseError::UnstableOffsetCommit.code());
                            }
                        }
                    }
                }
                topics
            }
        };
        OffsetFetchResponseGroup::default()
            .with_group_id(req.group_id.clone())
            .with_topics(topics)
    }

    /// The tombstones that expire offsets as of `now_ms`, as Kafka's
    /// retention does: for a group without members an offset expires once
    /// `offsets.retention.minutes` passed since it was committed (or at its
    /// own expire timestamp, if the commit carried one); when every offset
    /// of such a group expires, the group is deleted too. Pure: apply the
    /// records once written.
    pub fn expire_offsets(&self, now_ms: i64) -> Vec<CoordinatorRecord> {
        let mut records = Vec::new();
        for (group_id, group) in &self.groups {
            if !group.is_empty() {
                // Members' offsets expire only once the group empties
                // (Kafka's rule for classic groups), which needs membership.
                continue;
            }
            let mut all_expired = true;
            for (topic, partition, offset) in group.all_offsets() {
                // Kafka keeps an offset while a transaction has one pending
                // for the same partition, and the group while any is open.
                if !self.is_expired(offset, now_ms)
                    || self.txn.has_pending(group_id, topic, partition)
                {
                    all_expired = false;
                    continue;
                }
                match offset_commit_tombstone(group_id, topic, partition) {
                    Ok(r) => records.push(r),
                    Err(_) => all_expired = false,
                }
            }
            if all_expired && !self.txn.group_has_open(group_id) {
                if group.consumer.is_some() {
                    // A KIP-848 group goes with its own records' tombstones.
                    records.extend(crate::consumer::record::group_tombstones(group_id));
                } else if let Ok(r) = group_metadata_tombstone(group_id) {
                    records.push(r);
                }
            }
        }
        records
    }

    /// Like [`Self::expire_offsets`], but at most once per
    /// `offsets.retention.check.interval.ms`; empty when not yet due.
    pub fn take_due_expiry(&mut self, now_ms: i64) -> Vec<CoordinatorRecord> {
        if now_ms < self.next_expiry_check_ms {
            return Vec::new();
        }
        self.next_expiry_check_ms =
            now_ms.saturating_add(self.config.offsets_retention_check_interval_ms);
        self.expire_offsets(now_ms)
    }

    fn is_expired(&self, offset: &OffsetAndMetadata, now_ms: i64) -> bool {
        match offset.expire_timestamp_ms {
            Some(expire) => now_ms >= expire,
            None => {
                now_ms.saturating_sub(offset.commit_timestamp_ms)
                    >= self.config.offsets_retention_ms
            }
        }
    }

    /// Applies one record of this shard's partition: the load path at start
    /// and the apply path after a write. `value: None` is a tombstone.
    pub fn replay(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<Replayed, CoordinatorError> {
        if let Some(key) = ConsumerKey::decode(key)? {
            let names = self
                .topics
                .iter()
                .map(|(name, info)| (info.id, name.clone()))
                .collect();
            crate::consumer::record::replay(&mut self.groups, &names, key, value)?;
            return Ok(Replayed::Applied);
        }
        match RecordKey::decode(key)? {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => match value {
                Some(v) => {
                    let offset = OffsetCommitValue::decode(v)?;
                    self.txn.committed_in_order(&group, &topic, partition);
                    // A commit without membership creates a simple group.
                    let g = self.groups.entry(group).or_default();
                    g.offsets
                        .entry(topic)
                        .or_default()
                        .insert(partition, offset);
                }
                None => {
                    self.txn.forget_partition(&group, &topic, partition);
                    if let Some(g) = self.groups.get_mut(&group) {
                        if let Some(parts) = g.offsets.get_mut(&topic) {
                            parts.remove(&partition);
                            if parts.is_empty() {
                                g.offsets.remove(&topic);
                            }
                        }
                    }
                }
            },
            RecordKey::GroupMetadata { group } => match value {
                // Membership records are written, not applied, while the
                // broker runs (see `ClassicOutput`): this is the load path.
                Some(v) => {
                    let loaded = GroupMetadataValue::decode(v)?.into_group();
                    self.groups.entry(group).or_default().classic = loaded;
                }
                None => {
                    self.groups.remove(&group);
                }
            },
            RecordKey::Unknown(t) => {
                debug!(
                    partition = self.partition,
                    record_type = t,
                    "ignoring unknown __consumer_offsets record type"
                );
                return Ok(Replayed::Ignored(t));
            }
        }
        Ok(Replayed::Applied)
    }

    /// Applies records this shard produced, once they are in the log.
    pub fn apply(&mut self, records: &[CoordinatorRecord]) {
        for r in records {
            let replayed = self.replay(&r.key, r.value.as_deref());
            // The shard encoded these itself: failing to read them back is a
            // bug, and going on would let memory and log disagree.
            assert!(
                matches!(replayed, Ok(Replayed::Applied)),
                "coordinator record of its own does not replay: {replayed:?}"
            );
        }
    }
}

/// Java's `String.length()`: UTF-16 code units.
fn java_length(s: &str) -> usize {
    s.encode_utf16().count()
}

fn commit_error_response(req: &OffsetCommitRequest, code: ResponseError) -> OffsetCommitResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code.code())
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

fn fetched_partition(
    index: i32,
    offset: Option<&OffsetAndMetadata>,
) -> OffsetFetchResponsePartitions {
    let (committed, epoch, metadata) = match offset {
        Some(o) => (o.offset, o.leader_epoch, o.metadata.as_str()),
        None => (INVALID_OFFSET, NO_LEADER_EPOCH, ""),
    };
    OffsetFetchResponsePartitions::default()
        .with_partition_index(index)
        .with_committed_offset(committed)
        .with_committed_leader_epoch(epoch)
        .with_metadata(Some(StrBytes::from_string(metadata.to_string())))
}

fn all_offsets_response(group: &Group) -> Vec<OffsetFetchResponseTopics> {
    group
        .offsets
        .iter()
        .map(|(topic, parts)| {
            let partitions = parts
                .iter()
                .map(|(p, o)| fetched_partition(*p, Some(o)))
                .collect();
            OffsetFetchResponseTopics::default()
                .with_name(TopicName(StrBytes::from_string(topic.clone())))
                .with_partitions(partitions)
        })
        .collect()
}
