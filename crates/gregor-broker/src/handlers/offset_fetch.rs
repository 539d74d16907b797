//! OffsetFetch: a group's committed offsets, for named partitions or (a
//! null topic list, v2+) all of them; several groups per request from v8 on.
//!
//! The coordinator answers in the v8+ shape; older versions carry one group
//! and are converted here, with group errors moved where each version keeps
//! them.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use gregor_protocol::kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use gregor_protocol::kafka_protocol::messages::{ApiKey, OffsetFetchRequest, OffsetFetchResponse};
use gregor_protocol::kafka_protocol::protocol::StrBytes;
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::{Broker, GroupOpError};

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::OffsetFetch, 1, 9);

/// Requests carry a list of groups from v8 on.
const GROUPS_MIN_VERSION: i16 = 8;
/// The response has a top-level error code from v2 on; v1 puts group
/// errors in every partition.
const TOP_LEVEL_ERROR_MIN_VERSION: i16 = 2;
/// Committed leader epochs are returned from v5 on.
const LEADER_EPOCH_MIN_VERSION: i16 = 5;

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let version = ctx.api_version;
    if version >= GROUPS_MIN_VERSION {
        let groups = req
            .groups
            .iter()
            .map(|g| fetch_group(broker, ctx, g, req.require_stable))
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let topics = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| {
                OffsetFetchRequestTopics::default()
                    .with_name(t.name.clone())
                    .with_partition_indexes(t.partition_indexes.clone())
            })
            .collect()
    });
    let group = OffsetFetchRequestGroup::default()
        .with_group_id(req.group_id.clone())
        .with_topics(topics);
    let answer = fetch_group(broker, ctx, &group, req.require_stable);
    single_group_response(&group, answer, version)
}

fn fetch_group(
    broker: &Broker,
    ctx: &RequestContext,
    group: &OffsetFetchRequestGroup,
    require_stable: bool,
) -> OffsetFetchResponseGroup {
    if !broker.authorize(
        ctx,
        AclOperation::Describe,
        ResourceType::Group,
        &group.group_id,
    ) {
        return OffsetFetchResponseGroup::default()
            .with_group_id(group.group_id.clone())
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let result = tokio::task::block_in_place(|| {
        broker.group_read(&group.group_id, |shard| {
            shard.fetch_offsets(group, require_stable)
        })
    });
    match result {
        Ok(answer) => hide_undescribable(broker, ctx, group.topics.is_none(), answer),
        Err(e) => OffsetFetchResponseGroup::default()
            .with_group_id(group.group_id.clone())
            .with_error_code(error_code(&e).code()),
    }
}

/// Topics the principal may not DESCRIBE: left out when all topics were
/// asked for, else answered TOPIC_AUTHORIZATION_FAILED, as Kafka does.
fn hide_undescribable(
    broker: &Broker,
    ctx: &RequestContext,
    all_topics: bool,
    mut answer: OffsetFetchResponseGroup,
) -> OffsetFetchResponseGroup {
    let describable =
        |name: &str| broker.authorize(ctx, AclOperation::Describe, ResourceType::Topic, name);
    if all_topics {
        answer.topics.retain(|t| describable(&t.name));
        return answer;
    }
    for t in answer.topics.iter_mut().filter(|t| !describable(&t.name)) {
        for p in &mut t.partitions {
            p.committed_offset = -1;
            p.committed_leader_epoch = -1;
            p.metadata = None;
            p.error_code = ResponseError::TopicAuthorizationFailed.code();
        }
    }
    answer
}

fn error_code(e: &GroupOpError) -> ResponseError {
    match e {
        GroupOpError::NotCoordinator => ResponseError::NotCoordinator,
        GroupOpError::Write(_) => ResponseError::CoordinatorNotAvailable,
    }
}

/// The v1-v7 shape of one group's answer.
fn single_group_response(
    req: &OffsetFetchRequestGroup,
    answer: OffsetFetchResponseGroup,
    version: i16,
) -> OffsetFetchResponse {
    if answer.error_code != 0 && version < TOP_LEVEL_ERROR_MIN_VERSION {
        let topics = req
            .topics
            .iter()
            .flatten()
            .map(|t| {
                let partitions = t
                    .partition_indexes
                    .iter()
                    .map(|p| {
                        partition_v7(
                            OffsetFetchResponsePartitions::default()
                                .with_partition_index(*p)
                                .with_committed_offset(-1)
                                .with_error_code(answer.error_code),
                            version,
                        )
                    })
                    .collect();
                OffsetFetchResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        return OffsetFetchResponse::default().with_topics(topics);
    }
    let mut resp = OffsetFetchResponse::default().with_topics(
        answer
            .topics
            .into_iter()
            .map(|t| topic_v7(t, version))
            .collect(),
    );
    if version >= TOP_LEVEL_ERROR_MIN_VERSION {
        resp.error_code = answer.error_code;
    }
    resp
}

fn topic_v7(t: OffsetFetchResponseTopics, version: i16) -> OffsetFetchResponseTopic {
    OffsetFetchResponseTopic::default()
        .with_name(t.name)
        .with_partitions(
            t.partitions
                .into_iter()
                .map(|p| partition_v7(p, version))
                .collect(),
        )
}

fn partition_v7(p: OffsetFetchResponsePartitions, version: i16) -> OffsetFetchResponsePartition {
    let epoch = if version >= LEADER_EPOCH_MIN_VERSION {
        p.committed_leader_epoch
    } else {
        -1
    };
    OffsetFetchResponsePartition::default()
        .with_partition_index(p.partition_index)
        .with_committed_offset(p.committed_offset)
        .with_committed_leader_epoch(epoch)
        .with_metadata(p.metadata.or_else(|| Some(StrBytes::default())))
        .with_error_code(p.error_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_protocol::kafka_protocol::messages::{GroupId, TopicName};

    fn request() -> OffsetFetchRequestGroup {
        OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(StrBytes::from_static_str("g")))
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partition_indexes(vec![0, 1])]))
    }

    fn answer() -> OffsetFetchResponseGroup {
        let partition = OffsetFetchResponsePartitions::default()
            .with_partition_index(0)
            .with_committed_offset(42)
            .with_committed_leader_epoch(7)
            .with_metadata(Some(StrBytes::from_static_str("m")));
        OffsetFetchResponseGroup::default()
            .with_group_id(GroupId(StrBytes::from_static_str("g")))
            .with_topics(vec![OffsetFetchResponseTopics::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![partition])])
    }

    fn encodes(resp: &OffsetFetchResponse, version: i16) {
        use gregor_protocol::kafka_protocol::protocol::Encodable;
        let mut buf = bytes::BytesMut::new();
        resp.encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("v{version} does not encode: {e}"));
    }

    #[test]
    fn leader_epochs_are_returned_from_v5_only() {
        for version in 1..GROUPS_MIN_VERSION {
            let resp = single_group_response(&request(), answer(), version);
            let p = &resp.topics[0].partitions[0];
            assert_eq!(p.committed_offset, 42);
            let want = if version >= 5 { 7 } else { -1 };
            assert_eq!(p.committed_leader_epoch, want, "v{version}");
            encodes(&resp, version);
        }
    }

    #[test]
    fn group_errors_go_to_the_top_level_from_v2_and_to_partitions_before() {
        let failed = OffsetFetchResponseGroup::default()
            .with_error_code(ResponseError::NotCoordinator.code());
        let v1 = single_group_response(&request(), failed.clone(), 1);
        assert_eq!(v1.error_code, 0);
        let codes: Vec<(i32, i64, i16)> = v1.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.committed_offset, p.error_code))
            .collect();
        let nc = ResponseError::NotCoordinator.code();
        assert_eq!(codes, vec![(0, -1, nc), (1, -1, nc)]);
        encodes(&v1, 1);
        let v2 = single_group_response(&request(), failed, 2);
        assert_eq!(v2.error_code, nc);
        assert!(v2.topics.is_empty());
        encodes(&v2, 2);
    }
}
