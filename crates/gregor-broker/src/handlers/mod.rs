//! One file per Kafka API. Each declares the versions it serves (`SUPPORT`);
//! the ApiVersions table and the connection's version check are built from
//! those declarations, so a version is never written down twice.

use std::net::SocketAddr;
use std::sync::Arc;

use gregor_protocol::kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};

use crate::broker::Broker;

mod acl_common;
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_client_quotas;
pub mod alter_configs;
pub mod alter_user_scram_credentials;
pub mod api_versions;
#[cfg(test)]
mod authorization_tests;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_client_quotas;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod describe_user_scram_credentials;
pub mod elect_leaders;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_config_resources;
pub mod list_groups;
pub mod list_offsets;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;
#[cfg(test)]
mod test_support;
pub mod txn_offset_commit;
pub mod unsupported;
pub mod write_txn_markers;

/// The versions of one API this broker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSupport {
    pub key: ApiKey,
    pub min: i16,
    pub max: i16,
}

impl ApiSupport {
    /// Serves every version the protocol crate can decode.
    pub const fn all(key: ApiKey, min: i16, max: i16) -> ApiSupport {
        ApiSupport { key, min, max }
    }

    pub fn contains(&self, version: i16) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

/// Every API this broker answers, from the handlers' own declarations.
pub const SUPPORTED: &[ApiSupport] = &[
    produce::SUPPORT,
    fetch::SUPPORT,
    list_offsets::SUPPORT,
    metadata::SUPPORT,
    api_versions::SUPPORT,
    create_topics::SUPPORT,
    delete_topics::SUPPORT,
    delete_records::SUPPORT,
    init_producer_id::SUPPORT,
    add_partitions_to_txn::SUPPORT,
    add_offsets_to_txn::SUPPORT,
    end_txn::SUPPORT,
    txn_offset_commit::SUPPORT,
    write_txn_markers::SUPPORT,
    describe_transactions::SUPPORT,
    list_transactions::SUPPORT,
    describe_configs::SUPPORT,
    describe_log_dirs::SUPPORT,
    create_partitions::SUPPORT,
    describe_cluster::SUPPORT,
    incremental_alter_configs::SUPPORT,
    alter_configs::SUPPORT,
    find_coordinator::SUPPORT,
    offset_commit::SUPPORT,
    offset_fetch::SUPPORT,
    join_group::SUPPORT,
    sync_group::SUPPORT,
    heartbeat::SUPPORT,
    leave_group::SUPPORT,
    describe_groups::SUPPORT,
    list_groups::SUPPORT,
    consumer_group_heartbeat::SUPPORT,
    consumer_group_describe::SUPPORT,
    delete_groups::SUPPORT,
    offset_delete::SUPPORT,
    create_acls::SUPPORT,
    describe_acls::SUPPORT,
    delete_acls::SUPPORT,
    describe_user_scram_credentials::SUPPORT,
    alter_user_scram_credentials::SUPPORT,
    describe_client_quotas::SUPPORT,
    alter_client_quotas::SUPPORT,
    offset_for_leader_epoch::SUPPORT,
    elect_leaders::SUPPORT,
    describe_producers::SUPPORT,
    list_config_resources::SUPPORT,
    describe_topic_partitions::SUPPORT,
];

pub fn support(key: ApiKey) -> Option<ApiSupport> {
    SUPPORTED.iter().copied().find(|s| s.key == key)
}

/// What a handler knows about the request besides its body.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: String,
    pub peer: SocketAddr,
    /// Name of the listener the connection came in on (`PLAINTEXT`, …).
    pub listener: Arc<str>,
}

/// A handler's answer.
pub enum Reply {
    Body(ResponseKind),
    /// A fetch response whose stored batches are sent from the segment files.
    Fetch(fetch::FetchReply),
}

/// Routes a decoded request to its handler. `None`: no response is sent.
pub async fn dispatch(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    body: RequestKind,
) -> Option<Reply> {
    let v = ctx.api_version;
    Some(Reply::Body(match body {
        RequestKind::ApiVersions(r) => api_versions::handle(r, v).into(),
        RequestKind::Metadata(r) => metadata::handle(broker, ctx, r).await.into(),
        RequestKind::Produce(r) => {
            return produce::handle(broker, ctx, r)
                .await
                .map(|r| Reply::Body(r.into()))
        }
        RequestKind::Fetch(mut r) => {
            if let Some(cap) = crate::quota::fetch_bytes_cap(broker, ctx) {
                r.max_bytes = r.max_bytes.min(cap);
            }
            return Some(Reply::Fetch(fetch::handle(broker, ctx, r).await));
        }
        RequestKind::ListOffsets(r) => list_offsets::handle(broker, ctx, r).into(),
        RequestKind::CreateTopics(r) => create_topics::handle(broker, ctx, r).await.into(),
        RequestKind::DeleteTopics(r) => delete_topics::handle(broker, ctx, r).await.into(),
        RequestKind::CreatePartitions(r) => create_partitions::handle(broker, ctx, r).await.into(),
        RequestKind::DeleteRecords(r) => delete_records::handle(broker, ctx, r).into(),
        RequestKind::InitProducerId(r) => init_producer_id::handle(broker, ctx, r).into(),
        RequestKind::AddPartitionsToTxn(r) => add_partitions_to_txn::handle(broker, ctx, r).into(),
        RequestKind::AddOffsetsToTxn(r) => add_offsets_to_txn::handle(broker, ctx, r).into(),
        RequestKind::EndTxn(r) => end_txn::handle(broker, ctx, r).into(),
        RequestKind::TxnOffsetCommit(r) => txn_offset_commit::handle(broker, ctx, r).into(),
        RequestKind::WriteTxnMarkers(r) => write_txn_markers::handle(broker, ctx, r).into(),
        RequestKind::DescribeTransactions(r) => {
            describe_transactions::handle(broker, ctx, r).into()
        }
        RequestKind::ListTransactions(r) => list_transactions::handle(broker, ctx, r).into(),
        RequestKind::DescribeConfigs(r) => describe_configs::handle(broker, ctx, r).into(),
        RequestKind::DescribeLogDirs(r) => describe_log_dirs::handle(broker, ctx, r).into(),
        RequestKind::DescribeCluster(r) => describe_cluster::handle(broker, ctx, r).into(),
        RequestKind::IncrementalAlterConfigs(r) => {
            incremental_alter_configs::handle(broker, ctx, r)
                .await
                .into()
        }
        RequestKind::AlterConfigs(r) => alter_configs::handle(broker, ctx, r).await.into(),
        RequestKind::FindCoordinator(r) => find_coordinator::handle(broker, ctx, r).into(),
        RequestKind::OffsetCommit(r) => offset_commit::handle(broker, ctx, r).into(),
        RequestKind::OffsetFetch(r) => offset_fetch::handle(broker, ctx, r).into(),
        RequestKind::JoinGroup(r) => join_group::handle(broker, ctx, r).await.into(),
        RequestKind::SyncGroup(r) => sync_group::handle(broker, ctx, r).await.into(),
        RequestKind::Heartbeat(r) => heartbeat::handle(broker, ctx, r).into(),
        RequestKind::LeaveGroup(r) => leave_group::handle(broker, ctx, r).into(),
        RequestKind::DescribeGroups(r) => describe_groups::handle(broker, ctx, r).into(),
        RequestKind::ListGroups(r) => list_groups::handle(broker, ctx, r).into(),
        RequestKind::ConsumerGroupHeartbeat(r) => {
            consumer_group_heartbeat::handle(broker, ctx, r).into()
        }
        RequestKind::ConsumerGroupDescribe(r) => {
            consumer_group_describe::handle(broker, ctx, r).into()
        }
        RequestKind::DeleteGroups(r) => delete_groups::handle(broker, ctx, r).into(),
        RequestKind::OffsetDelete(r) => offset_delete::handle(broker, ctx, r).into(),
        RequestKind::CreateAcls(r) => create_acls::handle(broker, ctx, r).into(),
        RequestKind::DescribeAcls(r) => describe_acls::handle(broker, ctx, r).into(),
        RequestKind::DeleteAcls(r) => delete_acls::handle(broker, ctx, r).into(),
        RequestKind::DescribeUserScramCredentials(r) => {
            describe_user_scram_credentials::handle(broker, ctx, r).into()
        }
        RequestKind::AlterUserScramCredentials(r) => {
            alter_user_scram_credentials::handle(broker, ctx, r).into()
        }
        RequestKind::DescribeClientQuotas(r) => {
            describe_client_quotas::handle(broker, ctx, r).into()
        }
        RequestKind::AlterClientQuotas(r) => {
            alter_client_quotas::handle(broker, ctx, r).await.into()
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            offset_for_leader_epoch::handle(broker, ctx, r).into()
        }
        RequestKind::ElectLeaders(r) => elect_leaders::handle(broker, ctx, r).into(),
        RequestKind::DescribeProducers(r) => describe_producers::handle(broker, ctx, r).into(),
        RequestKind::ListConfigResources(r) => list_config_resources::handle(broker, ctx, r).into(),
        RequestKind::DescribeTopicPartitions(r) => {
            describe_topic_partitions::handle(broker, ctx, r).into()
        }
        // `support()` admitted only the APIs listed above.
        other => unreachable!("no handler for admitted request {other:?}"),
    }))
}

/// Kafka's message for CLUSTER_AUTHORIZATION_FAILED where a response
/// carries one.
pub const CLUSTER_AUTHORIZATION_FAILED: &str = "Cluster authorization failed.";

/// A topic name for a response.
pub fn topic_name(name: &str) -> gregor_protocol::kafka_protocol::messages::TopicName {
    gregor_protocol::kafka_protocol::messages::TopicName(text(name))
}

/// A string for a response.
pub fn text(s: &str) -> gregor_protocol::kafka_protocol::protocol::StrBytes {
    gregor_protocol::kafka_protocol::protocol::StrBytes::from_string(s.to_string())
}
