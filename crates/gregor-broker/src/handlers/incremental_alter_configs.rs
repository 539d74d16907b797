//! IncrementalAlterConfigs for topics: SET, DELETE, APPEND and SUBTRACT,
//! made durable as config records and applied to the live logs.

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::controller::{self, AlterOp};
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use gregor_protocol::kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::info;

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_TOPIC};
use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::IncrementalAlterConfigs, 0, 1);

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let entry = AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let denied = broker.config_resource_denied(
                ctx,
                r.resource_type,
                &r.resource_name,
                AclOperation::AlterConfigs,
            );
            let outcome = match denied {
                Some(e) => Err(e),
                None => alter(broker, r, req.validate_only),
            };
            match outcome {
                Ok(()) => entry,
                Err(e) => entry
                    .with_error_code(e.code.code())
                    .with_error_message(Some(text(&e.message))),
            }
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn alter(broker: &Broker, r: &AlterConfigsResource, validate_only: bool) -> Result<(), ApiError> {
    match r.resource_type {
        RESOURCE_TOPIC => {}
        // Broker configs come from server.properties for now; changing them
        // at run time (dynamic broker configs) is not built yet.
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                "Dynamic broker configs are not supported by this broker yet; set them in server.properties",
            ))
        }
        other => {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                format!("Unsupported resource type {other}"),
            ))
        }
    }
    let mut changes = Vec::with_capacity(r.configs.len());
    for c in &r.configs {
        let op = AlterOp::from_code(c.config_operation).ok_or_else(|| {
            ApiError::new(
                ResponseError::InvalidRequest,
                format!("Unknown config operation {}", c.config_operation),
            )
        })?;
        changes.push((
            c.name.to_string(),
            op,
            c.value.as_ref().map(|v| v.to_string()),
        ));
    }
    let topic = r.resource_name.as_str();
    if validate_only {
        return controller::alter_topic_configs(&broker.metadata.image(), topic, &changes)
            .map(|_| ());
    }
    let result = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            controller::alter_topic_configs(image, topic, &changes).map(|records| (records, ()))
        })
    });
    match result {
        Ok(Ok(())) => {
            info!(topic, changes = changes.len(), "altered topic configs");
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(ApiError::new(
            ResponseError::UnknownServerError,
            e.to_string(),
        )),
    }
}
