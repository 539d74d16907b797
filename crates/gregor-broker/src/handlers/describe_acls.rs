//! DescribeAcls: the stored ACLs a filter matches, grouped by resource
//! pattern (DESCRIBE on the cluster needed).

use std::sync::Arc;

use gregor_metadata::acl::{AclBinding, AclOperation};
use gregor_metadata::controller::acls;
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::describe_acls_response::{
    AclDescription, DescribeAclsResource,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DescribeAclsRequest, DescribeAclsResponse,
};

use super::acl_common::{self, WireAcl};
use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeAcls, 1, 3);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeAclsRequest,
) -> DescribeAclsResponse {
    match describe(broker, ctx, &req) {
        Ok(found) => DescribeAclsResponse::default().with_resources(group(&found)),
        Err(e) => DescribeAclsResponse::default()
            .with_error_code(e.code.code())
            .with_error_message(Some(text(&e.message))),
    }
}

fn describe(
    broker: &Broker,
    ctx: &RequestContext,
    req: &DescribeAclsRequest,
) -> Result<Vec<AclBinding>, ApiError> {
    if let Some(e) = acl_common::refused(broker, ctx, AclOperation::Describe) {
        return Err(e);
    }
    let filter = WireAcl {
        resource_type: req.resource_type_filter,
        resource_name: req.resource_name_filter.as_ref(),
        pattern_type: req.pattern_type_filter,
        principal: req.principal_filter.as_ref(),
        host: req.host_filter.as_ref(),
        operation: req.operation,
        permission: req.permission_type,
    }
    .filter();
    acls::describe_acls(&broker.metadata.image(), &filter)
}

/// One response resource per resource pattern; `acls` is sorted by pattern.
fn group(acls: &[AclBinding]) -> Vec<DescribeAclsResource> {
    let mut out: Vec<DescribeAclsResource> = Vec::new();
    for acl in acls {
        let description = AclDescription::default()
            .with_principal(text(&acl.principal))
            .with_host(text(&acl.host))
            .with_operation(acl.operation.code())
            .with_permission_type(acl.permission.code());
        let same = out.last().is_some_and(|r| {
            r.resource_type == acl.resource_type.code()
                && r.resource_name.as_str() == acl.resource_name
                && r.pattern_type == acl.pattern_type.code()
        });
        if !same {
            out.push(
                DescribeAclsResource::default()
                    .with_resource_type(acl.resource_type.code())
                    .with_resource_name(text(&acl.resource_name))
                    .with_pattern_type(acl.pattern_type.code()),
            );
        }
        out.last_mut().expect("pushed above").acls.push(description);
    }
    out
}
