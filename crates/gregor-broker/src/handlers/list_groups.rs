//! ListGroups: every group this broker coordinates, optionally filtered by
//! state (v4+) and type (v5+; every group here is "classic").

use std::sync::Arc;

use gregor_coordinator::OFFSETS_TOPIC;
use gregor_protocol::kafka_protocol::messages::{ApiKey, ListGroupsRequest, ListGroupsResponse};

use super::ApiSupport;
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::ListGroups, 0, 5);

pub fn handle(broker: &Arc<Broker>, req: ListGroupsRequest, _version: i16) -> ListGroupsResponse {
    let states: Vec<&str> = req.states_filter.iter().map(|s| s.as_str()).collect();
    let types: Vec<&str> = req.types_filter.iter().map(|s| s.as_str()).collect();
    let mut groups = Vec::new();
    for index in 0..broker.groups.partitions() {
        if broker.replicas.get(OFFSETS_TOPIC, index).is_some() {
            groups.extend(broker.groups.shard(index).list_groups(&states, &types));
        }
    }
    ListGroupsResponse::default().with_groups(groups)
}
