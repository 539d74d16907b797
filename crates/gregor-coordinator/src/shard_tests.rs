//! Events into a shard, records and responses out.

use gregor_protocol::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use gregor_protocol::kafka_protocol::messages::offset_fetch_response::OffsetFetchResponseGroup;
use gregor_protocol::kafka_protocol::messages::{GroupId, OffsetCommitRequest, TopicName};
use gregor_protocol::kafka_protocol::protocol::StrBytes;
use gregor_protocol::kafka_protocol::ResponseError;

use crate::records::{OffsetCommitValue, RecordKey};
use crate::{CoordinatorConfig, CoordinatorRecord, GroupCoordinatorShard, Replayed};

const T0: i64 = 1_700_000_000_000;
const RETENTION_MS: i64 = 60_000;

fn shard() -> GroupCoordinatorShard {
    GroupCoordinatorShard::new(
        3,
        CoordinatorConfig {
            offsets_retention_ms: RETENTION_MS,
            offsets_retention_check_interval_ms: 1_000,
            offset_metadata_max_bytes: 10,
            ..CoordinatorConfig::default()
        },
    )
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// A commit request: (topic, partition, offset, metadata) entries.
fn commit_req(
    group: &str,
    generation: i32,
    member: &str,
    parts: &[(&str, i32, i64, &str)],
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (topic, p, offset, md) in parts {
        let part = OffsetCommitRequestPartition::default()
            .with_partition_index(*p)
            .with_committed_offset(*offset)
            .with_committed_leader_epoch(5)
            .with_committed_metadata(Some(s(md)));
        match topics.iter_mut().find(|t| t.name.as_str() == *topic) {
            Some(t) => t.partitions.push(part),
            None => topics.push(
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s(topic)))
                    .with_partitions(vec![part]),
            ),
        }
    }
    OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(topics)
}

fn fetch_req(group: &str, topics: Option<&[(&str, &[i32])]>) -> OffsetFetchRequestGroup {
    OffsetFetchRequestGroup::default()
        .with_group_id(GroupId(s(group)))
        .with_topics(topics.map(|ts| {
            ts.iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopics::default()
                        .with_name(TopicName(s(t)))
                        .with_partition_indexes(ps.to_vec())
                })
                .collect()
        }))
}

/// (topic, partition, offset, epoch, metadata, error) rows of a fetch answer.
fn rows(resp: &OffsetFetchResponseGroup) -> Vec<(String, i32, i64, i32, String, i16)> {
    resp.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    t.name.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                    p.error_code,
                )
            })
        })
        .collect()
}

fn commit_codes(
    resp: &gregor_protocol::kafka_protocol::messages::OffsetCommitResponse,
) -> Vec<(String, i32, i16)> {
    resp.topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.to_string(), p.partition_index, p.error_code))
        })
        .collect()
}

fn commit(
    shard: &mut GroupCoordinatorShard,
    group: &str,
    parts: &[(&str, i32, i64, &str)],
    now: i64,
) {
    let out = shard.commit_offsets(&commit_req(group, -1, "", parts), 8, now);
    assert!(commit_codes(&out.response).iter().all(|(_, _, c)| *c == 0));
    shard.apply(&out.records);
}

#[test]
fn simple_commit_writes_kafka_records_and_changes_nothing_until_applied() {
    let mut sh = shard();
    let req = commit_req(
        "g",
        -1,
        "",
        &[("t", 0, 42, "meta"), ("t", 1, 7, ""), ("u", 0, 1, "x")],
    );
    let out = sh.commit_offsets(&req, 8, T0);
    assert_eq!(
        commit_codes(&out.response),
        vec![("t".into(), 0, 0), ("t".into(), 1, 0), ("u".into(), 0, 0)]
    );
    assert_eq!(out.records.len(), 3);
    let first = &out.records[0];
    assert_eq!(
        RecordKey::decode(&first.key).unwrap(),
        RecordKey::OffsetCommit {
            group: "g".into(),
            topic: "t".into(),
            partition: 0
        }
    );
    let value = first.value.as_ref().unwrap();
    assert_eq!(&value[..2], &[0, 3], "Kafka writes OffsetCommitValue v3");
    assert_eq!(
        OffsetCommitValue::decode(value).unwrap(),
        OffsetCommitValue {
            offset: 42,
            leader_epoch: 5,
            metadata: "meta".into(),
            commit_timestamp_ms: T0,
            expire_timestamp_ms: None,
        }
    );
    // Nothing is visible before the records are written and applied.
    assert!(sh.group("g").is_none());
    let before = sh.fetch_offsets(&fetch_req("g", Some(&[("t", &[0])])), false);
    assert_eq!(
        rows(&before),
        vec![("t".into(), 0, -1, -1, String::new(), 0)]
    );

    sh.apply(&out.records);
    let after = sh.fetch_offsets(&fetch_req("g", Some(&[("t", &[0, 1, 2])])), false);
    assert_eq!(
        rows(&after),
        vec![
            ("t".into(), 0, 42, 5, "meta".into(), 0),
            ("t".into(), 1, 7, 5, String::new(), 0),
            ("t".into(), 2, -1, -1, String::new(), 0),
        ]
    );
    assert_eq!(after.group_id.as_str(), "g");
}

#[test]
fn later_commits_replace_earlier_ones() {
    let mut sh = shard();
    commit(&mut sh, "g", &[("t", 0, 1, "a")], T0);
    commit(&mut sh, "g", &[("t", 0, 9, "b")], T0 + 5);
    let got = sh.fetch_offsets(&fetch_req("g", Some(&[("t", &[0])])), true);
    assert_eq!(rows(&got), vec![("t".into(), 0, 9, 5, "b".into(), 0)]);
    assert_eq!(
        sh.group("g")
            .unwrap()
            .offset("t", 0)
            .unwrap()
            .commit_timestamp_ms,
        T0 + 5
    );
}

#[test]
fn oversized_metadata_is_refused_per_partition() {
    let sh = shard();
    // 10 UTF-16 units is the limit; "ü" is one unit though two UTF-8 bytes.
    let req = commit_req(
        "g",
        -1,
        "",
        &[("t", 0, 1, "üüüüüüüüüü"), ("t", 1, 1, "01234567890")],
    );
    let out = sh.commit_offsets(&req, 8, T0);
    assert_eq!(
        commit_codes(&out.response),
        vec![
            ("t".into(), 0, 0),
            ("t".into(), 1, ResponseError::OffsetMetadataTooLarge.code())
        ]
    );
    assert_eq!(out.records.len(), 1);
}

#[test]
fn member_commits_without_membership_are_refused_without_records() {
    let mut sh = shard();
    let to_missing = commit_req("g", 2, "m-1", &[("t", 0, 1, "")]);
    let v8 = sh.commit_offsets(&to_missing, 8, T0);
    assert!(v8.records.is_empty());
    assert_eq!(
        commit_codes(&v8.response),
        vec![("t".into(), 0, ResponseError::IllegalGeneration.code())]
    );
    let v9 = sh.commit_offsets(&to_missing, 9, T0);
    assert_eq!(
        commit_codes(&v9.response),
        vec![("t".into(), 0, ResponseError::GroupIdNotFound.code())]
    );

    commit(&mut sh, "g", &[("t", 0, 1, "")], T0);
    let to_simple = sh.commit_offsets(&to_missing, 9, T0);
    assert!(to_simple.records.is_empty());
    assert_eq!(
        commit_codes(&to_simple.response),
        vec![("t".into(), 0, ResponseError::UnknownMemberId.code())]
    );
}

#[test]
fn retention_time_in_the_request_writes_an_expiring_v1_value() {
    let sh = shard();
    let req = commit_req("g", -1, "", &[("t", 0, 1, "")]).with_retention_time_ms(500);
    let out = sh.commit_offsets(&req, 2, T0);
    let value = out.records[0].value.as_ref().unwrap();
    assert_eq!(&value[..2], &[0, 1]);
    assert_eq!(
        OffsetCommitValue::decode(value)
            .unwrap()
            .expire_timestamp_ms,
        Some(T0 + 500)
    );
}

#[test]
fn fetch_of_all_topics_lists_every_committed_offset() {
    let mut sh = shard();
    commit(
        &mut sh,
        "g",
        &[("b", 1, 11, ""), ("a", 0, 10, "m"), ("b", 0, 12, "")],
        T0,
    );
    commit(&mut sh, "other", &[("a", 0, 99, "")], T0);
    let all = sh.fetch_offsets(&fetch_req("g", None), false);
    assert_eq!(
        rows(&all),
        vec![
            ("a".into(), 0, 10, 5, "m".into(), 0),
            ("b".into(), 0, 12, 5, String::new(), 0),
            ("b".into(), 1, 11, 5, String::new(), 0),
        ]
    );
    let none = sh.fetch_offsets(&fetch_req("nobody", None), false);
    assert!(none.topics.is_empty());
    assert_eq!(none.error_code, 0);
}

#[test]
fn replaying_the_written_records_rebuilds_the_same_state() {
    let mut live = shard();
    let mut log: Vec<CoordinatorRecord> = Vec::new();
    for (i, parts) in [
        vec![("t", 0, 1, "a"), ("t", 1, 2, "b")],
        vec![("t", 0, 3, "c")],
        vec![("u", 4, 5, "")],
    ]
    .iter()
    .enumerate()
    {
        let out = live.commit_offsets(&commit_req("g", -1, "", parts), 8, T0 + i as i64);
        live.apply(&out.records);
        log.extend(out.records);
    }
    let mut loaded = shard();
    for r in &log {
        assert_eq!(
            loaded.replay(&r.key, r.value.as_deref()),
            Ok(Replayed::Applied)
        );
    }
    assert_eq!(loaded.group("g"), live.group("g"));
    let all = loaded.fetch_offsets(&fetch_req("g", None), false);
    assert_eq!(
        rows(&all),
        vec![
            ("t".into(), 0, 3, 5, "c".into(), 0),
            ("t".into(), 1, 2, 5, "b".into(), 0),
            ("u".into(), 4, 5, 5, String::new(), 0),
        ]
    );
}

#[test]
fn tombstones_delete_offsets_and_groups_on_replay() {
    let mut sh = shard();
    commit(&mut sh, "g", &[("t", 0, 1, ""), ("t", 1, 2, "")], T0);
    let key = RecordKey::OffsetCommit {
        group: "g".into(),
        topic: "t".into(),
        partition: 0,
    }
    .encode()
    .unwrap();
    sh.replay(&key, None).unwrap();
    let got = sh.fetch_offsets(&fetch_req("g", None), false);
    assert_eq!(rows(&got), vec![("t".into(), 1, 2, 5, String::new(), 0)]);
    let group_key = RecordKey::GroupMetadata { group: "g".into() }
        .encode()
        .unwrap();
    sh.replay(&group_key, None).unwrap();
    assert!(sh.group("g").is_none());
    // Tombstones for things that do not exist are harmless.
    sh.replay(&key, None).unwrap();
    sh.replay(&group_key, None).unwrap();
}

#[test]
fn unknown_record_types_are_skipped_and_damaged_values_reported() {
    let mut sh = shard();
    assert_eq!(
        // 9 is a share group's metadata: not built.
        sh.replay(&[0, 9, 0, 0], Some(&[1, 2])),
        Ok(Replayed::Ignored(9))
    );
    let key = RecordKey::OffsetCommit {
        group: "g".into(),
        topic: "t".into(),
        partition: 0,
    }
    .encode()
    .unwrap();
    assert!(sh.replay(&key, Some(&[0, 3, 1])).is_err());
    assert!(
        sh.group("g").is_none(),
        "a bad value must not create the group"
    );
}

#[test]
fn offsets_expire_after_retention_and_take_their_group_along() {
    let mut sh = shard();
    commit(&mut sh, "old", &[("t", 0, 1, ""), ("t", 1, 1, "")], T0);
    commit(&mut sh, "mixed", &[("t", 0, 1, "")], T0);
    commit(&mut sh, "mixed", &[("t", 1, 1, "")], T0 + 10);
    assert!(sh.expire_offsets(T0 + RETENTION_MS - 1).is_empty());

    let records = sh.expire_offsets(T0 + RETENTION_MS);
    let keys: Vec<(RecordKey, bool)> = records
        .iter()
        .map(|r| (RecordKey::decode(&r.key).unwrap(), r.value.is_none()))
        .collect();
    let oc = |g: &str, p: i32| RecordKey::OffsetCommit {
        group: g.into(),
        topic: "t".into(),
        partition: p,
    };
    assert_eq!(
        keys,
        vec![
            (oc("mixed", 0), true),
            (oc("old", 0), true),
            (oc("old", 1), true),
            (
                RecordKey::GroupMetadata {
                    group: "old".into()
                },
                true
            ),
        ]
    );
    sh.apply(&records);
    assert!(sh.group("old").is_none());
    let mixed = sh.fetch_offsets(&fetch_req("mixed", None), false);
    assert_eq!(rows(&mixed), vec![("t".into(), 1, 1, 5, String::new(), 0)]);
}

#[test]
fn per_commit_expiry_wins_over_retention() {
    let mut sh = shard();
    let req = commit_req("g", -1, "", &[("t", 0, 1, "")]).with_retention_time_ms(100);
    let out = sh.commit_offsets(&req, 4, T0);
    sh.apply(&out.records);
    assert!(sh.expire_offsets(T0 + 99).is_empty());
    assert_eq!(sh.expire_offsets(T0 + 100).len(), 2);
}

#[test]
fn expiry_runs_at_most_once_per_check_interval() {
    let mut sh = shard();
    commit(&mut sh, "g", &[("t", 0, 1, "")], T0);
    assert!(sh.take_due_expiry(T0 + 1).is_empty());
    // Due by retention, but the next check is only at T0 + 1 + 1000.
    let at = T0 + RETENTION_MS;
    assert_eq!(sh.take_due_expiry(at).len(), 2);
    assert!(sh.take_due_expiry(at + 999).is_empty());
    assert_eq!(
        sh.take_due_expiry(at + 1_000).len(),
        2,
        "not applied, so still due"
    );
}
