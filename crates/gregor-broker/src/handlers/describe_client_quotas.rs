//! DescribeClientQuotas: the configured quotas of the entities a filter
//! selects, with Kafka's filter validation (`gregor_metadata::quotas`).

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::quotas::{self, FilterComponent};
use gregor_protocol::kafka_protocol::messages::describe_client_quotas_response::{
    EntityData, EntryData, ValueData,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DescribeClientQuotasRequest, DescribeClientQuotasResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{text, ApiSupport, RequestContext, CLUSTER_AUTHORIZATION_FAILED};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeClientQuotas, 0, 1);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    // As Kafka: DESCRIBE_CONFIGS on the cluster.
    if !broker.authorize_cluster(ctx, AclOperation::DescribeConfigs) {
        return DescribeClientQuotasResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(text(CLUSTER_AUTHORIZATION_FAILED)))
            .with_entries(None);
    }
    let components: Vec<FilterComponent> = req
        .components
        .iter()
        .map(|c| FilterComponent {
            entity_type: c.entity_type.to_string(),
            match_type: c.match_type,
            name: c._match.as_ref().map(|m| m.to_string()),
        })
        .collect();
    let image = broker.metadata.image();
    match quotas::describe(&image.client_quotas, &components, req.strict) {
        Ok(found) => {
            let entries = found
                .into_iter()
                .map(|(entity, values)| {
                    let entity = entity
                        .iter()
                        .map(|(t, n)| {
                            EntityData::default()
                                .with_entity_type(text(t))
                                .with_entity_name(n.as_deref().map(text))
                        })
                        .collect();
                    let values = values
                        .iter()
                        .map(|(k, v)| ValueData::default().with_key(text(k)).with_value(v.0))
                        .collect();
                    EntryData::default().with_entity(entity).with_values(values)
                })
                .collect();
            DescribeClientQuotasResponse::default().with_entries(Some(entries))
        }
        Err(e) => DescribeClientQuotasResponse::default()
            .with_error_code(e.code.code())
            .with_error_message(Some(text(&e.message)))
            .with_entries(None),
    }
}
