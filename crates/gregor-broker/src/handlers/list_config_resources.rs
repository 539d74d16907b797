//! ListConfigResources (KIP-1142; v0 was ListClientMetricsResources): the
//! resources of the requested types that configs can be described for, as
//! Kafka 4.1's `KafkaApis.handleListConfigResources` lists them.

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::MetadataImage;
use gregor_protocol::kafka_protocol::messages::list_config_resources_response::ConfigResource;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, ListConfigResourcesRequest, ListConfigResourcesResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::ListConfigResources, 0, 1);

/// Kafka's `ConfigResource.Type` ids.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_LOGGER: i8 = 8;
const CLIENT_METRICS: i8 = 16;
const GROUP: i8 = 32;

/// Types a version may ask for: v0 lists client-metrics resources only.
fn supported(version: i16) -> &'static [i8] {
    if version == 0 {
        &[CLIENT_METRICS]
    } else {
        &[TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP]
    }
}

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ListConfigResourcesRequest,
) -> ListConfigResourcesResponse {
    let version = ctx.api_version;
    // As Kafka: DESCRIBE_CONFIGS on the cluster.
    if !broker.authorize_cluster(ctx, AclOperation::DescribeConfigs) {
        return ListConfigResourcesResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    list(
        &broker.metadata.image(),
        broker.node_id(),
        &req.resource_types,
        version,
    )
}

/// The listing from one image. Groups are those with dynamic configs, as
/// Kafka lists them (whether or not the group has members or offsets).
/// Client-metrics resources are client telemetry subscriptions, which Gregor
/// does not store yet, so that type lists nothing.
pub fn list(
    image: &MetadataImage,
    node_id: i32,
    requested: &[i8],
    version: i16,
) -> ListConfigResourcesResponse {
    let supported = supported(version);
    let types: Vec<i8> = if requested.is_empty() {
        supported.to_vec()
    } else {
        requested.to_vec()
    };
    if types.iter().any(|t| !supported.contains(t)) {
        return ListConfigResourcesResponse::default()
            .with_error_code(ResponseError::UnsupportedVersion.code());
    }
    let entry = |name: String, kind: i8| {
        let r = ConfigResource::default().with_resource_name(text(&name));
        // v0 has no type field: every entry is a client-metrics resource.
        if version >= 1 {
            r.with_resource_type(kind)
        } else {
            r
        }
    };
    let mut resources = Vec::new();
    // Kafka's order: groups, client metrics, broker loggers, brokers, topics.
    if types.contains(&GROUP) {
        resources.extend(
            image
                .groups_with_configs()
                .map(|g| entry(g.to_string(), GROUP)),
        );
    }
    for kind in [BROKER_LOGGER, BROKER] {
        if types.contains(&kind) {
            resources.push(entry(node_id.to_string(), kind));
        }
    }
    if types.contains(&TOPIC) {
        resources.extend(image.topics().map(|t| entry(t.name.clone(), TOPIC)));
    }
    ListConfigResourcesResponse::default().with_config_resources(resources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::test_support::{create_topic, encodes, open_broker};

    fn names(resp: &ListConfigResourcesResponse) -> Vec<(String, i8)> {
        resp.config_resources
            .iter()
            .map(|r| (r.resource_name.to_string(), r.resource_type))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn lists_brokers_and_topics_by_type() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &["node.id=3"]);
        create_topic(&broker, "a", 1);
        create_topic(&broker, "b", 1);
        let image = broker.metadata.image();
        let all = list(&image, 3, &[], 1);
        encodes(&all, 1);
        assert_eq!(
            names(&all),
            vec![
                ("3".into(), BROKER_LOGGER),
                ("3".into(), BROKER),
                ("a".into(), TOPIC),
                ("b".into(), TOPIC)
            ]
        );
        assert_eq!(names(&list(&image, 3, &[TOPIC], 1)).len(), 2);
        assert_eq!(
            names(&list(&image, 3, &[BROKER], 1)),
            vec![("3".into(), BROKER)]
        );
        assert!(list(&image, 3, &[GROUP, CLIENT_METRICS], 1)
            .config_resources
            .is_empty());
        let bad = list(&image, 3, &[99], 1);
        assert_eq!(bad.error_code, ResponseError::UnsupportedVersion.code());
        // v0 (ListClientMetricsResources) knows client metrics only.
        let v0 = list(&image, 3, &[], 0);
        encodes(&v0, 0);
        assert_eq!((v0.error_code, v0.config_resources.len()), (0, 0));
        let handled = handle(
            &broker,
            &crate::handlers::test_support::ctx(1),
            ListConfigResourcesRequest::default(),
        );
        assert_eq!(names(&handled), names(&all));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn lists_groups_that_have_configs() {
        use gregor_metadata::{ConfigResource as Kind, MetadataRecord};
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &[]);
        let set = |group: &str, value: Option<&str>| {
            let record = MetadataRecord::Config {
                resource: Kind::Group,
                resource_name: group.into(),
                name: "consumer.session.timeout.ms".into(),
                value: value.map(str::to_string),
            };
            broker
                .commit_metadata(|_| Ok::<_, std::convert::Infallible>((vec![record], ())))
                .unwrap()
                .unwrap();
        };
        set("configured", Some("50000"));
        set("reset", Some("50000"));
        set("reset", None);
        let groups = list(&broker.metadata.image(), 1, &[GROUP], 1);
        assert_eq!(names(&groups), vec![("configured".into(), GROUP)]);
    }
}
