//! IncrementalAlterConfigs for topics and brokers: SET, DELETE, APPEND and
//! SUBTRACT, made durable as config records and applied to the live logs
//! (broker keys that supply topic defaults reconfigure every partition).

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::controller::{self, AlterOp, ConfigChange};
use gregor_metadata::{ApiError, MetadataImage, MetadataRecord};
use gregor_protocol::kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use gregor_protocol::kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::info;

use super::describe_configs::{
    RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_GROUP, RESOURCE_TOPIC,
};
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
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// What both alter-config APIs answer for one resource: ALTER_CONFIGS on it
/// (the authorizer's error if refused), then the change itself.
pub(super) fn authorized_alter(
    broker: &Broker,
    ctx: &RequestContext,
    resource_type: i8,
    name: &str,
    alter: impl FnOnce() -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    match broker.config_resource_denied(ctx, resource_type, name, AclOperation::AlterConfigs) {
        Some(denied) => Err(denied),
        None => alter(),
    }
}

fn alter(broker: &Broker, r: &AlterConfigsResource, validate_only: bool) -> Result<(), ApiError> {
    let mut changes: Vec<ConfigChange> = Vec::with_capacity(r.configs.len());
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
    let name = r.resource_name.as_str();
    match r.resource_type {
        RESOURCE_TOPIC => commit_configs(broker, validate_only, name, |image| {
            controller::alter_topic_configs(image, name, &changes)
        }),
        RESOURCE_BROKER => commit_configs(broker, validate_only, name, |image| {
            controller::alter_broker_configs(image, name, &changes)
        }),
        RESOURCE_GROUP => commit_configs(broker, validate_only, name, |image| {
            controller::alter_group_configs(image, name, &changes, &broker.group_config_limits())
        }),
        RESOURCE_BROKER_LOGGER => Err(ApiError::new(
            ResponseError::InvalidRequest,
            "Broker logger levels cannot be changed at run time by this broker",
        )),
        other => Err(ApiError::new(
            ResponseError::InvalidRequest,
            format!("Unsupported resource type {other}"),
        )),
    }
}

/// Runs a config decision: only against the current image when
/// `validate_only`, else through the metadata log, which applies the
/// records and reconfigures the hosted partitions.
pub(super) fn commit_configs(
    broker: &Broker,
    validate_only: bool,
    resource: &str,
    decide: impl FnOnce(&MetadataImage) -> Result<Vec<MetadataRecord>, ApiError>,
) -> Result<(), ApiError> {
    if validate_only {
        return decide(&broker.metadata.image()).map(|_| ());
    }
    let result = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| decide(image).map(|records| (records, ())))
    });
    match result {
        Ok(Ok(_)) => {
            info!(resource, "altered configs");
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(ApiError::new(
            ResponseError::UnknownServerError,
            e.to_string(),
        )),
    }
}

#[cfg(test)]
#[path = "alter_configs_tests.rs"]
mod tests;
