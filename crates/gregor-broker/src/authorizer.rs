//! The broker's authorizer: `authorizer.class.name`, `super.users` and
//! `allow.everyone.if.no.acl.found` from the config, the ACLs from the
//! metadata image, and the rules in `gregor_metadata::authorizer`.
//! Handlers ask through [`Broker::authorize`] and
//! [`Broker::authorized_operations`]; with no authorizer configured every
//! request is allowed and the ACL APIs answer SECURITY_DISABLED.

use gregor_metadata::acl::{AclBinding, AclOperation, ResourceType, ANONYMOUS, CLUSTER_NAME};
use gregor_metadata::authorizer::{self, AuthorizerConfig, Requester};

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::handlers::RequestContext;

/// The one `authorizer.class.name` this broker implements.
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

/// Kafka's message when an ACL API is used without an authorizer.
pub const NO_AUTHORIZER: &str = "No Authorizer is configured.";

/// Built once at start from the static config; owned by `Broker`.
#[derive(Debug, Clone)]
pub struct Authorizer {
    /// `None`: no authorizer configured.
    config: Option<AuthorizerConfig>,
}

impl Authorizer {
    pub fn from_config(config: &BrokerConfig) -> Result<Authorizer, BrokerError> {
        let class = config.value("authorizer.class.name").unwrap_or_default();
        let class = class.trim();
        if class.is_empty() {
            return Ok(Authorizer { config: None });
        }
        if class != STANDARD_AUTHORIZER {
            return Err(BrokerError::Config(format!(
                "authorizer.class.name={class} is not available; use {STANDARD_AUTHORIZER} or leave it empty"
            )));
        }
        let allow = config
            .value("allow.everyone.if.no.acl.found")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let super_users = config.value("super.users");
        Ok(Authorizer {
            config: Some(AuthorizerConfig::new(super_users.as_deref(), allow)),
        })
    }

    pub fn enabled(&self) -> bool {
        self.config.is_some()
    }
}

/// The principal of a connection. Listeners are PLAINTEXT only, so every
/// connection is Kafka's unauthenticated `User:ANONYMOUS`.
pub fn principal(_ctx: &RequestContext) -> &'static str {
    ANONYMOUS
}

impl Broker {
    /// Runs `decide` with the authorizer's settings, the stored ACLs and the
    /// requester; `None` when no authorizer is configured.
    fn with_acls<R>(
        &self,
        ctx: &RequestContext,
        decide: impl FnOnce(&AuthorizerConfig, &[&AclBinding], Requester<'_>) -> R,
    ) -> Option<R> {
        let config = self.authorizer.config.as_ref()?;
        let image = self.metadata.image();
        let acls: Vec<&AclBinding> = image.acls().map(|(_, a)| a).collect();
        let host = ctx.peer.ip().to_string();
        let who = Requester {
            principal: principal(ctx),
            host: &host,
        };
        Some(decide(config, &acls, who))
    }

    /// Whether the request's principal may perform `op` on `(rtype, name)`.
    pub fn authorize(
        &self,
        ctx: &RequestContext,
        op: AclOperation,
        rtype: ResourceType,
        name: &str,
    ) -> bool {
        self.with_acls(ctx, |config, acls, who| {
            authorizer::authorize(config, acls.iter().copied(), who, op, rtype, name)
        })
        .unwrap_or(true)
    }

    /// Whether the principal may perform `op` on some resource of type
    /// `rtype` (Kafka's `authorizeByResourceType`).
    pub fn authorize_by_resource_type(
        &self,
        ctx: &RequestContext,
        op: AclOperation,
        rtype: ResourceType,
    ) -> bool {
        self.with_acls(ctx, |config, acls, who| {
            authorizer::authorize_by_resource_type(config, acls.iter().copied(), who, op, rtype)
        })
        .unwrap_or(true)
    }

    /// Whether the principal may perform `op` on the cluster.
    pub fn authorize_cluster(&self, ctx: &RequestContext, op: AclOperation) -> bool {
        self.authorize(ctx, op, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// The authorized-operations bits of `all` (a resource type's full set)
    /// that the principal holds on `(rtype, name)`; `all` itself without an
    /// authorizer, as Kafka reports.
    pub fn authorized_operations(
        &self,
        ctx: &RequestContext,
        rtype: ResourceType,
        name: &str,
        all: i32,
    ) -> i32 {
        let ops: Vec<AclOperation> = (0..15)
            .map(AclOperation::from_code)
            .filter(|op| all & op.bit() != 0)
            .collect();
        self.with_acls(ctx, |config, acls, who| {
            authorizer::authorized_operations(config, acls, who, rtype, name, &ops)
        })
        .unwrap_or(all)
    }
}

impl Broker {
    /// The error for a DescribeConfigs/AlterConfigs resource the principal
    /// may not touch with `op` (DESCRIBE_CONFIGS or ALTER_CONFIGS): topics are
    /// checked on the topic, broker and broker-logger resources on the
    /// cluster, as Kafka does. `None` when allowed.
    pub fn config_resource_denied(
        &self,
        ctx: &RequestContext,
        resource_type: i8,
        name: &str,
        op: AclOperation,
    ) -> Option<gregor_metadata::ApiError> {
        use crate::handlers::describe_configs::{
            RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_GROUP, RESOURCE_TOPIC,
        };
        use gregor_protocol::kafka_protocol::ResponseError;
        let (allowed, code) = match resource_type {
            RESOURCE_TOPIC => (
                self.authorize(ctx, op, ResourceType::Topic, name),
                ResponseError::TopicAuthorizationFailed,
            ),
            RESOURCE_GROUP => (
                self.authorize(ctx, op, ResourceType::Group, name),
                ResponseError::GroupAuthorizationFailed,
            ),
            RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => (
                self.authorize_cluster(ctx, op),
                ResponseError::ClusterAuthorizationFailed,
            ),
            // Other resource types are refused by the handler itself.
            _ => return None,
        };
        (!allowed).then(|| gregor_metadata::ApiError::new(code, "Authorization failed."))
    }
}
