//! Conversions between the ACL APIs' wire fields and `gregor_metadata::acl`,
//! and the check in front of them, shared by CreateAcls, DescribeAcls and
//! DeleteAcls.

use gregor_metadata::acl::{
    AclBinding, AclFilter, AclOperation, AclPermission, PatternType, ResourceType,
};
use gregor_protocol::kafka_protocol::protocol::StrBytes;

/// The wire fields of one ACL or filter, in request order.
pub struct WireAcl<'a> {
    pub resource_type: i8,
    pub resource_name: Option<&'a StrBytes>,
    pub pattern_type: i8,
    pub principal: Option<&'a StrBytes>,
    pub host: Option<&'a StrBytes>,
    pub operation: i8,
    pub permission: i8,
}

impl WireAcl<'_> {
    pub fn binding(&self) -> AclBinding {
        let s = |v: Option<&StrBytes>| v.map(|v| v.to_string()).unwrap_or_default();
        AclBinding {
            resource_type: ResourceType::from_code(self.resource_type),
            resource_name: s(self.resource_name),
            pattern_type: PatternType::from_code(self.pattern_type),
            principal: s(self.principal),
            host: s(self.host),
            operation: AclOperation::from_code(self.operation),
            permission: AclPermission::from_code(self.permission),
        }
    }

    pub fn filter(&self) -> AclFilter {
        let s = |v: Option<&StrBytes>| v.map(|v| v.to_string());
        AclFilter {
            resource_type: ResourceType::from_code(self.resource_type),
            resource_name: s(self.resource_name),
            pattern_type: PatternType::from_code(self.pattern_type),
            principal: s(self.principal),
            host: s(self.host),
            operation: AclOperation::from_code(self.operation),
            permission: AclPermission::from_code(self.permission),
        }
    }
}

/// Why an ACL API is refused before it is looked at: no authorizer
/// configured (SECURITY_DISABLED, as Kafka), or `op` on the cluster denied.
pub fn refused(
    broker: &crate::broker::Broker,
    ctx: &super::RequestContext,
    op: AclOperation,
) -> Option<gregor_metadata::ApiError> {
    use gregor_protocol::kafka_protocol::ResponseError;
    if !broker.authorizer.enabled() {
        return Some(gregor_metadata::ApiError::new(
            ResponseError::SecurityDisabled,
            crate::authorizer::NO_AUTHORIZER,
        ));
    }
    (!broker.authorize_cluster(ctx, op)).then(|| {
        gregor_metadata::ApiError::new(
            ResponseError::ClusterAuthorizationFailed,
            super::CLUSTER_AUTHORIZATION_FAILED,
        )
    })
}
