//! WriteTxnMarkers: writes COMMIT/ABORT markers of producers' transactions
//! into partitions. Kafka's transaction coordinators send it to partition
//! leaders; on a single node the coordinator writes its markers directly,
//! so this is what `kafka-transactions.sh abort` (and `gregor transactions
//! abort`) uses to end a hanging transaction.

use std::sync::Arc;

use gregor_coordinator::OFFSETS_TOPIC;
use gregor_log::AppendError;
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::{info, warn};

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::partition::PartitionError;
use crate::time::now_ms;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::WriteTxnMarkers, 0, 1);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let allowed = broker.authorize(
        ctx,
        AclOperation::ClusterAction,
        ResourceType::Cluster,
        "kafka-cluster",
    );
    let markers = req
        .markers
        .iter()
        .map(|m| {
            let topics = m
                .topics
                .iter()
                .map(|t| {
                    let partitions = t
                        .partition_indexes
                        .iter()
                        .map(|&p| {
                            let code = if !allowed {
                                ResponseError::ClusterAuthorizationFailed.code()
                            } else {
                                tokio::task::block_in_place(|| {
                                    write(
                                        broker,
                                        &t.name,
                                        p,
                                        m.producer_id.0,
                                        m.producer_epoch,
                                        m.coordinator_epoch,
                                        m.transaction_result,
                                    )
                                })
                            };
                            WritableTxnMarkerPartitionResult::default()
                                .with_partition_index(p)
                                .with_error_code(code)
                        })
                        .collect();
                    WritableTxnMarkerTopicResult::default()
                        .with_name(t.name.clone())
                        .with_partitions(partitions)
                })
                .collect();
            WritableTxnMarkerResult::default()
                .with_producer_id(m.producer_id)
                .with_topics(topics)
        })
        .collect();
    WriteTxnMarkersResponse::default().with_markers(markers)
}

/// One marker; its error code.
fn write(
    broker: &Broker,
    topic: &str,
    partition: i32,
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
    commit: bool,
) -> i16 {
    let Some(p) = broker.replicas.get(topic, partition) else {
        return ResponseError::UnknownTopicOrPartition.code();
    };
    let append = || {
        p.append_marker(
            producer_id,
            producer_epoch,
            coordinator_epoch,
            commit,
            now_ms(),
        )
    };
    let written = if topic == OFFSETS_TOPIC && partition < broker.groups.partitions() {
        let mut groups = broker.groups.shard(partition);
        let written = append();
        if written.is_ok() {
            groups.complete_transaction(producer_id, commit);
        }
        written
    } else {
        append()
    };
    match written {
        Ok(info) => {
            info!(%topic, partition, producer_id, producer_epoch, commit, offset = info.base_offset, "wrote a transaction marker");
            0
        }
        Err(PartitionError::Gone) => ResponseError::UnknownTopicOrPartition.code(),
        Err(PartitionError::Append(e)) => match e {
            AppendError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch.code(),
            AppendError::TransactionCoordinatorFenced { .. } => {
                ResponseError::TransactionCoordinatorFenced.code()
            }
            AppendError::Io(_) => ResponseError::KafkaStorageError.code(),
            other => {
                warn!(%topic, partition, error = ?other, "marker refused");
                ResponseError::UnknownServerError.code()
            }
        },
        Err(other) => {
            warn!(%topic, partition, error = ?other, "marker not written");
            ResponseError::KafkaStorageError.code()
        }
    }
}
