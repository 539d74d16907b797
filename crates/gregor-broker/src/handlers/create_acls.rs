//! CreateAcls: new ACLs as metadata records (ALTER on the cluster needed).

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::controller::acls;
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::create_acls_response::AclCreationResult;
use gregor_protocol::kafka_protocol::messages::{ApiKey, CreateAclsRequest, CreateAclsResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use super::acl_common::WireAcl;
use super::{text, ApiSupport, RequestContext};
use crate::authorizer::NO_AUTHORIZER;
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::CreateAcls, 1, 3);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: CreateAclsRequest,
) -> CreateAclsResponse {
    let refused = if !broker.authorizer.enabled() {
        Some(ApiError::new(
            ResponseError::SecurityDisabled,
            NO_AUTHORIZER,
        ))
    } else if !broker.authorize_cluster(ctx, AclOperation::Alter) {
        Some(ApiError::new(ResponseError::ClusterAuthorizationFailed, ""))
    } else {
        None
    };
    let results = match refused {
        Some(e) => vec![Err(e); req.creations.len()],
        None => create(broker, &req),
    };
    CreateAclsResponse::default().with_results(results.into_iter().map(result_entry).collect())
}

fn create(broker: &Broker, req: &CreateAclsRequest) -> Vec<Result<(), ApiError>> {
    let bindings: Vec<_> = req
        .creations
        .iter()
        .map(|c| {
            WireAcl {
                resource_type: c.resource_type,
                resource_name: Some(&c.resource_name),
                pattern_type: c.resource_pattern_type,
                principal: Some(&c.principal),
                host: Some(&c.host),
                operation: c.operation,
                permission: c.permission_type,
            }
            .binding()
        })
        .collect();
    let committed = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            let (records, results) = acls::create_acls(image, &bindings);
            Ok::<_, std::convert::Infallible>((records, results))
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
            bindings.len()
        ],
    }
}

/// The one place CreateAcls errors become wire codes.
fn result_entry(result: Result<(), ApiError>) -> AclCreationResult {
    match result {
        Ok(()) => AclCreationResult::default(),
        Err(e) => AclCreationResult::default()
            .with_error_code(e.code.code())
            .with_error_message((!e.message.is_empty()).then(|| text(&e.message))),
    }
}
