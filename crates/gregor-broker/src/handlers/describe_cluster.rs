//! DescribeCluster: cluster id, controller and brokers.

use std::sync::Arc;

use gregor_protocol::kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeClusterRequest, DescribeClusterResponse,
};

use gregor_metadata::acl::{ResourceType, CLUSTER_NAME};

use super::metadata::{brokers, AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS_ALL};
use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeCluster, 0, 2);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let version = ctx.api_version;
    // A combined node is both the broker and the controller clients may ask
    // for (endpoint type 1 or 2), so both answers list this node.
    let nodes = brokers(broker, &ctx.listener)
        .into_iter()
        .map(|b| {
            DescribeClusterBroker::default()
                .with_broker_id(b.node_id)
                .with_host(b.host)
                .with_port(b.port)
        })
        .collect();
    DescribeClusterResponse::default()
        .with_endpoint_type(if version >= 1 { req.endpoint_type } else { 1 })
        .with_cluster_id(text(&broker.cluster_id))
        .with_controller_id(BrokerId(broker.node_id()))
        .with_brokers(nodes)
        .with_cluster_authorized_operations(if req.include_cluster_authorized_operations {
            broker.authorized_operations(
                ctx,
                ResourceType::Cluster,
                CLUSTER_NAME,
                CLUSTER_OPERATIONS_ALL,
            )
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
}
