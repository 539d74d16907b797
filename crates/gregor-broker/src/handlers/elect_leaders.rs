//! ElectLeaders: preferred or unclean leader election for the named
//! partitions, or for all of them (`topic_partitions` null), decided by the
//! controller (`metadata/controller/elect_leaders.rs`) and committed as one
//! metadata batch. Like Kafka's controller, an all-partitions request
//! leaves out partitions that need no election.

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::controller::{elect_leader, ElectionType};
use gregor_metadata::{ApiError, ClusterContext, MetadataImage, MetadataRecord};
use gregor_protocol::kafka_protocol::messages::elect_leaders_response::{
    PartitionResult, ReplicaElectionResult,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, ElectLeadersRequest, ElectLeadersResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::info;

use super::{text, topic_name, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::ElectLeaders, 0, 2);

pub fn handle(
    broker: &Arc<Broker>,
    request: &RequestContext,
    req: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let version = request.api_version;
    // As Kafka: ALTER on the cluster, or every partition is refused.
    if !broker.authorize_cluster(request, AclOperation::Alter) {
        let e = ApiError::new(
            ResponseError::ClusterAuthorizationFailed,
            super::CLUSTER_AUTHORIZATION_FAILED,
        );
        return refused(&req, &e, version);
    }
    // v0 has no election type: it always asked for the preferred leader.
    let wire = if version >= 1 { req.election_type } else { 0 };
    let Some(election) = ElectionType::from_wire(wire) else {
        let e = ApiError::new(
            ResponseError::InvalidRequest,
            format!("Unknown election type {wire}"),
        );
        return refused(&req, &e, version);
    };
    let ctx = broker.cluster_context();
    let outcome = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            Ok::<_, std::convert::Infallible>(decide(image, &ctx, &req, election))
        })
    });
    match outcome {
        Ok(Ok(results)) => ElectLeadersResponse::default().with_replica_election_results(results),
        Ok(Err(never)) => match never {},
        Err(e) => refused(
            &req,
            &ApiError::new(ResponseError::UnknownServerError, e.to_string()),
            version,
        ),
    }
}

/// The election results and the records of every election that happened.
pub fn decide(
    image: &MetadataImage,
    ctx: &ClusterContext,
    req: &ElectLeadersRequest,
    election: ElectionType,
) -> (Vec<MetadataRecord>, Vec<ReplicaElectionResult>) {
    let mut records = Vec::new();
    let mut elect =
        |topic: &str, partition: i32| match elect_leader(image, ctx, topic, partition, election) {
            Ok(r) => {
                info!(topic, partition, ?election, "elected a new leader");
                records.extend(r);
                Ok(())
            }
            Err(e) => Err(e),
        };
    let results = match &req.topic_partitions {
        Some(topics) => topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|&p| partition_result(p, elect(t.topic.as_str(), p)))
                    .collect();
                ReplicaElectionResult::default()
                    .with_topic(t.topic.clone())
                    .with_partition_result(partitions)
            })
            .collect(),
        None => image
            .topics()
            .filter_map(|t| {
                let partitions: Vec<PartitionResult> = t
                    .partitions
                    .keys()
                    .filter_map(|&p| match elect(&t.name, p) {
                        Err(e) if e.code == ResponseError::ElectionNotNeeded => None,
                        outcome => Some(partition_result(p, outcome)),
                    })
                    .collect();
                (!partitions.is_empty()).then(|| {
                    ReplicaElectionResult::default()
                        .with_topic(topic_name(&t.name))
                        .with_partition_result(partitions)
                })
            })
            .collect(),
    };
    (records, results)
}

fn partition_result(partition: i32, outcome: Result<(), ApiError>) -> PartitionResult {
    let entry = PartitionResult::default().with_partition_id(partition);
    match outcome {
        Ok(()) => entry,
        // Kafka's controller gives ELECTION_NOT_NEEDED without a message.
        Err(e) => entry
            .with_error_code(e.code.code())
            .with_error_message((!e.message.is_empty()).then(|| text(&e.message))),
    }
}

/// Kafka's error response: the error for every named partition, and as the
/// top-level code where the version has one.
fn refused(req: &ElectLeadersRequest, e: &ApiError, version: i16) -> ElectLeadersResponse {
    let results = req
        .topic_partitions
        .iter()
        .flatten()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|&p| partition_result(p, Err(e.clone())))
                .collect();
            ReplicaElectionResult::default()
                .with_topic(t.topic.clone())
                .with_partition_result(partitions)
        })
        .collect();
    let resp = ElectLeadersResponse::default().with_replica_election_results(results);
    if version >= 1 {
        resp.with_error_code(e.code.code())
    } else {
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::test_support::{create_topic, ctx, encodes, open_broker};
    use gregor_protocol::kafka_protocol::messages::elect_leaders_request::TopicPartitions;

    fn named(topics: &[(&str, &[i32])]) -> ElectLeadersRequest {
        ElectLeadersRequest::default().with_topic_partitions(Some(
            topics
                .iter()
                .map(|(t, ps)| {
                    TopicPartitions::default()
                        .with_topic(topic_name(t))
                        .with_partitions(ps.to_vec())
                })
                .collect(),
        ))
    }

    fn codes(resp: &ElectLeadersResponse) -> Vec<(String, i32, i16, Option<String>)> {
        resp.replica_election_results
            .iter()
            .flat_map(|t| {
                t.partition_result.iter().map(|p| {
                    (
                        t.topic.to_string(),
                        p.partition_id,
                        p.error_code,
                        p.error_message.as_ref().map(|m| m.to_string()),
                    )
                })
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn named_partitions_need_no_election_on_one_node() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &[]);
        create_topic(&broker, "t", 2);
        for version in 0..=2 {
            let req = named(&[("t", &[0, 1, 5]), ("missing", &[0])]);
            let resp = handle(
                &broker,
                &ctx(version),
                req.with_election_type(1.min(version as i8)),
            );
            encodes(&resp, version);
            assert_eq!(resp.error_code, 0);
            let not_needed = ResponseError::ElectionNotNeeded.code();
            let unknown = ResponseError::UnknownTopicOrPartition.code();
            assert_eq!(
                codes(&resp),
                vec![
                    ("t".into(), 0, not_needed, None),
                    ("t".into(), 1, not_needed, None),
                    (
                        "t".into(),
                        5,
                        unknown,
                        Some("No such partition as t-5".into())
                    ),
                    (
                        "missing".into(),
                        0,
                        unknown,
                        Some("No such topic as missing".into())
                    ),
                ]
            );
        }
        let image = broker.metadata.image();
        assert_eq!(image.topic("t").unwrap().partitions[&0].leader_epoch, 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn all_partitions_leave_out_those_that_need_no_election() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &[]);
        create_topic(&broker, "t", 3);
        let resp = handle(
            &broker,
            &ctx(2),
            ElectLeadersRequest::default().with_topic_partitions(None),
        );
        assert!(resp.replica_election_results.is_empty());
        assert_eq!(resp.error_code, 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unknown_election_type_is_an_invalid_request() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &[]);
        let resp = handle(
            &broker,
            &ctx(1),
            named(&[("t", &[0])]).with_election_type(7),
        );
        assert_eq!(resp.error_code, ResponseError::InvalidRequest.code());
        assert_eq!(codes(&resp)[0].2, ResponseError::InvalidRequest.code());
    }
}
