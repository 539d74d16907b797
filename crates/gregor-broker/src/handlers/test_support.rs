//! Helpers shared by the handler tests: a real broker state in a temporary
//! directory, a request context, and an encode-at-this-version check.

use std::net::SocketAddr;
use std::sync::Arc;

use gregor_protocol::kafka_protocol::protocol::{Encodable, StrBytes};

use super::RequestContext;
use crate::broker::Broker;
use crate::config::BrokerConfig;

/// Opens a broker on `dir` with these `key=value` overrides.
pub fn open_broker(dir: &std::path::Path, overrides: &[&str]) -> Arc<Broker> {
    let mut all = vec![format!("log.dirs={}", dir.display())];
    all.extend(overrides.iter().map(|o| o.to_string()));
    let (config, _) = BrokerConfig::load(None, &[], &all).expect("config");
    Broker::open(config).expect("broker opens")
}

pub fn ctx(api_version: i16) -> RequestContext {
    RequestContext {
        api_version,
        correlation_id: 1,
        client_id: "test".into(),
        peer: SocketAddr::from(([127, 0, 0, 1], 1)),
        listener: "PLAINTEXT".into(),
    }
}

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Fails the test if `m` cannot be encoded at `version`.
pub fn encodes<M: Encodable>(m: &M, version: i16) {
    let mut buf = bytes::BytesMut::new();
    m.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("v{version} does not encode: {e}"));
}

/// Creates `name` with `partitions` partitions through the controller, as
/// CreateTopics does.
pub fn create_topic(broker: &Broker, name: &str, partitions: i32) {
    let ctx = broker.cluster_context();
    let req = gregor_metadata::NewTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: -1,
        ..Default::default()
    };
    broker
        .commit_metadata(|image| {
            gregor_metadata::controller::create_topic(image, &ctx, &req).map(|c| (c.records, ()))
        })
        .expect("metadata commit")
        .expect("topic created");
}

/// A literal DENY of `op` on `(rtype, name)` for `User:ANONYMOUS`, the
/// principal of every connection.
pub fn deny_anonymous(
    rtype: gregor_metadata::acl::ResourceType,
    name: &str,
    op: gregor_metadata::acl::AclOperation,
) -> gregor_metadata::acl::AclBinding {
    gregor_metadata::acl::AclBinding {
        resource_type: rtype,
        resource_name: name.into(),
        pattern_type: gregor_metadata::acl::PatternType::Literal,
        principal: "User:ANONYMOUS".into(),
        host: "*".into(),
        operation: op,
        permission: gregor_metadata::acl::AclPermission::Deny,
    }
}

/// Creates `acls` through the controller, as CreateAcls does.
pub fn add_acls(broker: &Broker, acls: &[gregor_metadata::acl::AclBinding]) {
    broker
        .commit_metadata(|image| {
            Ok::<_, std::convert::Infallible>((
                gregor_metadata::controller::acls::create_acls(image, acls).0,
                (),
            ))
        })
        .expect("metadata commit")
        .expect("acls created");
}
