//! AlterConfigs (the legacy, non-incremental API): each listed resource's
//! overrides are replaced by exactly the given set, so a config not listed
//! goes back to its default, as in Kafka.

use std::sync::Arc;

use gregor_metadata::controller;
use gregor_metadata::{ApiError, ConfigResource};
use gregor_protocol::kafka_protocol::messages::alter_configs_request::AlterConfigsResource;
use gregor_protocol::kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use gregor_protocol::kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, ApiKey,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_TOPIC};
use super::incremental_alter_configs::{authorized_alter, commit_configs};
use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::AlterConfigs, 0, 2);

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let entry = AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let outcome = authorized_alter(broker, ctx, r.resource_type, &r.resource_name, || {
                alter(broker, r, req.validate_only)
            });
            match outcome {
                Ok(()) => entry,
                Err(e) => entry
                    .with_error_code(e.code.code())
                    .with_error_message(Some(text(&e.message))),
            }
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

fn alter(broker: &Broker, r: &AlterConfigsResource, validate_only: bool) -> Result<(), ApiError> {
    let resource = match r.resource_type {
        RESOURCE_TOPIC => ConfigResource::Topic,
        RESOURCE_BROKER => ConfigResource::Broker,
        RESOURCE_BROKER_LOGGER => {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                "AlterConfigs does not support BROKER_LOGGER resources",
            ))
        }
        other => {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                format!("Unsupported resource type {other}"),
            ))
        }
    };
    let configs: Vec<(String, Option<String>)> = r
        .configs
        .iter()
        .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
        .collect();
    let name = r.resource_name.as_str();
    commit_configs(broker, validate_only, name, |image| {
        controller::replace_configs(image, resource, name, &configs)
    })
}
