//! DeleteAcls: removes the ACLs each filter matches and lists them (ALTER
//! on the cluster needed).

use std::sync::Arc;

use gregor_metadata::acl::{AclBinding, AclOperation};
use gregor_metadata::controller::acls;
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use gregor_protocol::kafka_protocol::messages::{ApiKey, DeleteAclsRequest, DeleteAclsResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use super::acl_common::{self, WireAcl};
use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DeleteAcls, 1, 3);

type FilterResult = Result<Vec<AclBinding>, ApiError>;

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let results = match acl_common::refused(broker, ctx, AclOperation::Alter) {
        Some(e) => vec![Err(e); req.filters.len()],
        None => delete(broker, &req),
    };
    DeleteAclsResponse::default()
        .with_filter_results(results.into_iter().map(result_entry).collect())
}

fn delete(broker: &Broker, req: &DeleteAclsRequest) -> Vec<FilterResult> {
    let filters: Vec<_> = req
        .filters
        .iter()
        .map(|f| {
            WireAcl {
                resource_type: f.resource_type_filter,
                resource_name: f.resource_name_filter.as_ref(),
                pattern_type: f.pattern_type_filter,
                principal: f.principal_filter.as_ref(),
                host: f.host_filter.as_ref(),
                operation: f.operation,
                permission: f.permission_type,
            }
            .filter()
        })
        .collect();
    let committed = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            Ok::<_, std::convert::Infallible>(acls::delete_acls(image, &filters))
        })
    });
    match committed {
        Ok(Ok(results)) => results,
        Ok(Err(never)) => match never {},
        Err(e) => vec![
            Err(ApiError::new(
                ResponseError::UnknownServerError,
                e.to_string()
            ));
            filters.len()
        ],
    }
}

/// The one place DeleteAcls errors become wire codes.
fn result_entry(result: FilterResult) -> DeleteAclsFilterResult {
    match result {
        Ok(matched) => DeleteAclsFilterResult::default().with_matching_acls(
            matched
                .iter()
                .map(|a| {
                    DeleteAclsMatchingAcl::default()
                        .with_resource_type(a.resource_type.code())
                        .with_resource_name(text(&a.resource_name))
                        .with_pattern_type(a.pattern_type.code())
                        .with_principal(text(&a.principal))
                        .with_host(text(&a.host))
                        .with_operation(a.operation.code())
                        .with_permission_type(a.permission.code())
                })
                .collect(),
        ),
        Err(e) => DeleteAclsFilterResult::default()
            .with_error_code(e.code.code())
            .with_error_message((!e.message.is_empty()).then(|| text(&e.message))),
    }
}
