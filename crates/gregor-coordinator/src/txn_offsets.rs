//! Offsets committed inside transactions (TxnOffsetCommit, KIP-98/447).
//!
//! A transactional producer commits its consumer's offsets through the
//! group coordinator: the records are the ordinary offset-commit records,
//! written to `__consumer_offsets` in a transactional batch of the
//! producer's id and epoch. They stay *pending*, invisible to OffsetFetch,
//! until the transaction coordinator writes the transaction's marker into
//! the same partition: a commit marker makes them the group's committed
//! offsets, an abort marker drops them. Replaying the log at start goes
//! through the same two steps, so an open transaction's offsets stay
//! pending across a restart.
//!
//! When regular and transactional commits of one partition mix, the one
//! written later to the log wins, as in Kafka (which compares record
//! offsets; the shard compares the order in which it applied the records,
//! which is log order both when running and when loading).

use std::collections::{BTreeMap, BTreeSet};

use gregor_protocol::kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use gregor_protocol::kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use crate::error::CoordinatorError;
use crate::group::{validate_offset_commit, Committer, Group};
use crate::records::{OffsetCommitValue, RecordKey};
use crate::shard::{CoordinatorResult, GroupCoordinatorShard, Replayed};

/// One committed partition: group, topic, partition.
type PartitionKey = (String, String, i32);

/// The transactional side of a shard's offsets.
#[derive(Debug, Clone, Default)]
pub(crate) struct TxnOffsets {
    /// Pending offsets by producer id, each with the order it was applied.
    pending: BTreeMap<i64, BTreeMap<PartitionKey, (OffsetCommitValue, u64)>>,
    /// Producer ids with pending offsets, by group.
    open_by_group: BTreeMap<String, BTreeSet<i64>>,
    /// When each partition's committed offset was applied (for the
    /// later-record-wins rule).
    committed_order: BTreeMap<PartitionKey, u64>,
    /// Counts every offset record applied, regular or transactional.
    applied: u64,
}

impl TxnOffsets {
    fn next(&mut self) -> u64 {
        self.applied += 1;
        self.applied
    }

    /// A regular commit of the partition was applied.
    pub(crate) fn committed_in_order(&mut self, group: &str, topic: &str, partition: i32) {
        let order = self.next();
        self.committed_order
            .insert((group.to_string(), topic.to_string(), partition), order);
    }

    /// A tombstone removed the partition's offset: pending ones go too.
    pub(crate) fn forget_partition(&mut self, group: &str, topic: &str, partition: i32) {
        let key = (group.to_string(), topic.to_string(), partition);
        self.committed_order.remove(&key);
        if let Some(producers) = self.open_by_group.get(group) {
            for pid in producers {
                if let Some(p) = self.pending.get_mut(pid) {
                    p.remove(&key);
                }
            }
        }
    }

    /// Whether an open transaction holds an offset for the partition.
    pub(crate) fn has_pending(&self, group: &str, topic: &str, partition: i32) -> bool {
        let Some(producers) = self.open_by_group.get(group) else {
            return false;
        };
        let key = (group.to_string(), topic.to_string(), partition);
        producers
            .iter()
            .any(|pid| self.pending.get(pid).is_some_and(|p| p.contains_key(&key)))
    }

    /// Whether the group has any open transaction with offsets in it.
    pub(crate) fn group_has_open(&self, group: &str) -> bool {
        self.open_by_group.contains_key(group)
    }
}

impl GroupCoordinatorShard {
    /// TxnOffsetCommit: validates the committer as Kafka does for
    /// transactional commits and builds the offset records. The caller
    /// writes them in a transactional batch of `req.producer_id`/epoch
    /// (after checking the partition is in the transaction), then applies
    /// them with [`Self::apply_transactional`].
    pub fn commit_transactional_offsets(
        &self,
        req: &TxnOffsetCommitRequest,
        api_version: i16,
        now_ms: i64,
    ) -> CoordinatorResult<TxnOffsetCommitResponse> {
        let group_id = req.group_id.as_str();
        if let Err(code) = self.validate_transactional_commit(req, api_version) {
            return CoordinatorResult {
                records: Vec::new(),
                response: txn_commit_error_response(req, code),
            };
        }
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
                    None,
                );
                let code = self
                    .commit_record(group_id, &topic.name, p.partition_index, &value)
                    .map(|record| records.push(record))
                    .err();
                partitions.push(
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code.map_or(0, |c| c.code())),
                );
            }
            topics.push(
                TxnOffsetCommitResponseTopic::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions),
            );
        }
        CoordinatorResult {
            records,
            response: TxnOffsetCommitResponse::default().with_topics(topics),
        }
    }

    /// Kafka's `validateTransactionalOffsetCommit`: a group that does not
    /// exist accepts commits without a generation (a simple group); a
    /// classic group accepts a commit without member and generation (the
    /// producer is not using group management); otherwise the member and
    /// generation must be current, and a stale KIP-848 member epoch is
    /// reported as ILLEGAL_GENERATION.
    fn validate_transactional_commit(
        &self,
        req: &TxnOffsetCommitRequest,
        api_version: i16,
    ) -> Result<(), ResponseError> {
        let group = self.groups.get(req.group_id.as_str());
        let anonymous =
            req.generation_id < 0 && req.member_id.is_empty() && req.group_instance_id.is_none();
        match group {
            None if req.generation_id < 0 => Ok(()),
            None => Err(ResponseError::IllegalGeneration),
            Some(Group {
                consumer: Some(_), ..
            }) if req.generation_id < 0 && group.is_some_and(Group::is_empty) => Ok(()),
            Some(Group { consumer: None, .. }) if anonymous => Ok(()),
            Some(_) => validate_offset_commit(
                group,
                Committer {
                    member_id: req.member_id.as_str(),
                    group_instance_id: req.group_instance_id.as_ref().map(|s| s.as_str()),
                    generation_id: req.generation_id,
                    api_version,
                },
            )
            .map_err(|code| match code {
                ResponseError::StaleMemberEpoch => ResponseError::IllegalGeneration,
                other => other,
            }),
        }
    }

    /// Applies transactional offset records of `producer_id` once written:
    /// they stay pending until [`Self::complete_transaction`].
    pub fn apply_transactional(
        &mut self,
        producer_id: i64,
        records: &[crate::records::CoordinatorRecord],
    ) {
        for r in records {
            let replayed = self.replay_transactional(producer_id, &r.key, r.value.as_deref());
            assert!(
                matches!(replayed, Ok(Replayed::Applied)),
                "transactional offset record of its own does not replay: {replayed:?}"
            );
        }
    }

    /// Replays one record of a transactional batch of `producer_id` (the
    /// load path, and [`Self::apply_transactional`]). Only offset commits
    /// are written transactionally; anything else is ignored.
    pub fn replay_transactional(
        &mut self,
        producer_id: i64,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<Replayed, CoordinatorError> {
        let RecordKey::OffsetCommit {
            group,
            topic,
            partition,
        } = RecordKey::decode(key)?
        else {
            return Ok(Replayed::Ignored(-1));
        };
        let Some(value) = value else {
            return Ok(Replayed::Ignored(-1));
        };
        let offset = OffsetCommitValue::decode(value)?;
        // As for a regular commit, a group that does not exist yet is
        // created (a simple group).
        self.groups.entry(group.clone()).or_default();
        let order = self.txn.next();
        self.txn
            .open_by_group
            .entry(group.clone())
            .or_default()
            .insert(producer_id);
        self.txn
            .pending
            .entry(producer_id)
            .or_default()
            .insert((group, topic, partition), (offset, order));
        Ok(Replayed::Applied)
    }

    /// A transaction marker of `producer_id` reached this shard's partition
    /// (written, or replayed at load): its pending offsets become committed
    /// (unless a later regular commit of the partition exists) or are
    /// dropped.
    pub fn complete_transaction(&mut self, producer_id: i64, commit: bool) {
        let Some(pending) = self.txn.pending.remove(&producer_id) else {
            return;
        };
        for (group, _, _) in pending.keys() {
            if let Some(open) = self.txn.open_by_group.get_mut(group) {
                open.remove(&producer_id);
                if open.is_empty() {
                    self.txn.open_by_group.remove(group);
                }
            }
        }
        if !commit {
            return;
        }
        for ((group, topic, partition), (offset, order)) in pending {
            let key = (group, topic, partition);
            if self
                .txn
                .committed_order
                .get(&key)
                .is_some_and(|&c| c > order)
            {
                continue;
            }
            self.txn.committed_order.insert(key.clone(), order);
            let (group, topic, partition) = key;
            self.groups
                .entry(group)
                .or_default()
                .offsets
                .entry(topic)
                .or_default()
                .insert(partition, offset);
        }
    }

    /// Producer ids with offsets pending in this shard (for tests and
    /// describing state).
    pub fn open_transactions(&self) -> impl Iterator<Item = i64> + '_ {
        self.txn.pending.keys().copied()
    }

    /// Whether `group` has offsets in an open transaction: such a group is
    /// not removed by offset expiry.
    pub fn group_has_open_transactions(&self, group: &str) -> bool {
        self.txn.group_has_open(group)
    }
}

fn txn_commit_error_response(
    req: &TxnOffsetCommitRequest,
    code: ResponseError,
) -> TxnOffsetCommitResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code.code())
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::CoordinatorConfig;
    use gregor_protocol::kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    use gregor_protocol::kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    use gregor_protocol::kafka_protocol::messages::{
        GroupId, OffsetCommitRequest, ProducerId, TopicName,
    };
    use gregor_protocol::kafka_protocol::protocol::StrBytes;

    const PID: i64 = 4000;

    fn name(s: &str) -> TopicName {
        TopicName(StrBytes::from_string(s.to_string()))
    }

    fn txn_commit(group: &str, offset: i64) -> TxnOffsetCommitRequest {
        TxnOffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
            .with_producer_id(ProducerId(PID))
            .with_generation_id(-1)
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(name("in"))
                .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(offset)
                    .with_committed_leader_epoch(-1)])])
    }

    fn committed(shard: &GroupCoordinatorShard, group: &str) -> Option<i64> {
        shard.group(group)?.offset("in", 0).map(|o| o.offset)
    }

    fn fetch(shard: &GroupCoordinatorShard, group: &str, stable: bool) -> (i64, i16) {
        let req = OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(name("in"))
                .with_partition_indexes(vec![0])]));
        let res = shard.fetch_offsets(&req, stable);
        let p = &res.topics[0].partitions[0];
        (p.committed_offset, p.error_code)
    }

    /// Writes the records of a TxnOffsetCommit, as the broker does.
    fn commit_in_txn(shard: &mut GroupCoordinatorShard, group: &str, offset: i64) {
        let result = shard.commit_transactional_offsets(&txn_commit(group, offset), 3, 1);
        assert!(result.response.topics[0].partitions[0].error_code == 0);
        shard.apply_transactional(PID, &result.records);
    }

    fn shard() -> GroupCoordinatorShard {
        GroupCoordinatorShard::new(0, CoordinatorConfig::default())
    }

    #[test]
    fn offsets_become_visible_only_when_the_transaction_commits() {
        let mut shard = shard();
        commit_in_txn(&mut shard, "g", 42);
        assert_eq!(committed(&shard, "g"), None);
        assert_eq!(
            fetch(&shard, "g", true),
            (-1, ResponseError::UnstableOffsetCommit.code())
        );
        assert_eq!(fetch(&shard, "g", false), (-1, 0));
        shard.complete_transaction(PID, true);
        assert_eq!(committed(&shard, "g"), Some(42));
        assert_eq!(fetch(&shard, "g", true), (42, 0));
        assert_eq!(shard.open_transactions().count(), 0);
    }

    #[test]
    fn an_aborted_transaction_leaves_the_committed_offset_alone() {
        let mut shard = shard();
        commit_in_txn(&mut shard, "g", 10);
        shard.complete_transaction(PID, true);
        commit_in_txn(&mut shard, "g", 20);
        shard.complete_transaction(PID, false);
        assert_eq!(committed(&shard, "g"), Some(10));
        assert!(!shard.group_has_open_transactions("g"));
    }

    #[test]
    fn a_regular_commit_written_after_the_transactional_one_wins() {
        let mut shard = shard();
        commit_in_txn(&mut shard, "g", 10);
        let regular = OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_string("g".into())))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                gregor_protocol::kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(name("in"))
                    .with_partitions(vec![
                        gregor_protocol::kafka_protocol::messages::offset_commit_request::OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(99),
                    ]),
            ]);
        let result = shard.commit_offsets(&regular, 8, 2);
        shard.apply(&result.records);
        shard.complete_transaction(PID, true);
        assert_eq!(committed(&shard, "g"), Some(99));
    }

    #[test]
    fn replaying_the_log_keeps_an_open_transaction_pending() {
        let shard = shard();
        let result = shard.commit_transactional_offsets(&txn_commit("g", 7), 3, 1);
        // A fresh shard loading the same records, as after a restart.
        let mut loaded = GroupCoordinatorShard::new(0, CoordinatorConfig::default());
        for r in &result.records {
            loaded
                .replay_transactional(PID, &r.key, r.value.as_deref())
                .expect("replay");
        }
        assert_eq!(committed(&loaded, "g"), None);
        assert!(loaded.group_has_open_transactions("g"));
        loaded.complete_transaction(PID, true);
        assert_eq!(committed(&loaded, "g"), Some(7));
    }

    #[test]
    fn a_commit_with_a_generation_for_an_unknown_group_is_refused() {
        let shard = shard();
        let req = txn_commit("nobody", 1).with_generation_id(3);
        let result = shard.commit_transactional_offsets(&req, 3, 1);
        assert!(result.records.is_empty());
        assert_eq!(
            result.response.topics[0].partitions[0].error_code,
            ResponseError::IllegalGeneration.code()
        );
    }
}
