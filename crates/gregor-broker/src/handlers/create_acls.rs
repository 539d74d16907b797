//! CreateAcls: new ACLs as metadata records (ALTER on the cluster needed).

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::controller::acls;
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::create_acls_response::AclCreationResult;
use gregor_protocol::kafka_protocol::messages::{ApiKey, CreateAclsRequest, CreateAclsResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use super::acl_common::{self, WireAcl};
use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::CreateAcls, 1, 3);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: CreateAclsRequest,
) -> CreateAclsResponse {
    let results = match acl_common::refused(broker, ctx, AclOperation::Alter) {
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

#[cfg(test)]
mod tests {
    use gregor_metadata::acl::{AclOperation, AclPermission, PatternType, ResourceType};
    use gregor_protocol::kafka_protocol::messages::create_acls_request::AclCreation;
    use gregor_protocol::kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use gregor_protocol::kafka_protocol::messages::{
        DescribeAclsRequest, DescribeAclsResponse, DescribeClusterRequest, MetadataRequest,
        TopicName,
    };

    use super::*;
    use crate::handlers::test_support::{ctx, encodes, open_broker, s};
    use crate::handlers::{describe_acls, describe_cluster, metadata};

    const AUTHORIZER: &str =
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer";

    fn creation(name: &str, op: AclOperation, perm: AclPermission) -> AclCreation {
        AclCreation::default()
            .with_resource_type(ResourceType::Topic.code())
            .with_resource_name(s(name))
            .with_resource_pattern_type(PatternType::Literal.code())
            .with_principal(s("User:ANONYMOUS"))
            .with_host(s("*"))
            .with_operation(op.code())
            .with_permission_type(perm.code())
    }

    fn describe_all(broker: &Arc<Broker>) -> DescribeAclsResponse {
        let req = DescribeAclsRequest::default()
            .with_resource_type_filter(ResourceType::Any.code())
            .with_resource_name_filter(None)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_pattern_type_filter(PatternType::Any.code())
            .with_operation(AclOperation::Any.code())
            .with_permission_type(AclPermission::Any.code());
        describe_acls::handle(broker, &ctx(3), req)
    }

    fn metadata_for(broker: &Arc<Broker>, topic: &str) -> (i16, i32) {
        let req = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(TopicName(s(topic))))
            ]))
            .with_include_topic_authorized_operations(true);
        let resp = tokio::runtime::Builder::new_multi_thread()
            .build()
            .unwrap()
            .block_on(metadata::handle(broker, &ctx(12), req));
        let t = &resp.topics[0];
        (t.error_code, t.topic_authorized_operations)
    }

    #[test]
    fn without_authorizer_acl_apis_are_security_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &[]);
        let req = CreateAclsRequest::default().with_creations(vec![creation(
            "t",
            AclOperation::Read,
            AclPermission::Allow,
        )]);
        let resp = handle(&broker, &ctx(3), req);
        assert_eq!(
            resp.results[0].error_code,
            ResponseError::SecurityDisabled.code()
        );
        let described = describe_all(&broker);
        assert_eq!(described.error_code, ResponseError::SecurityDisabled.code());
    }

    #[test]
    fn acls_persist_and_decide_metadata_and_authorized_operations() {
        let dir = tempfile::tempdir().unwrap();
        let overrides = [AUTHORIZER, "allow.everyone.if.no.acl.found=true"];
        let broker = open_broker(dir.path(), &overrides);
        metadata::auto_create_topic(&broker, "open").unwrap();
        metadata::auto_create_topic(&broker, "secret").unwrap();
        let req = CreateAclsRequest::default().with_creations(vec![
            creation("secret", AclOperation::Describe, AclPermission::Deny),
            creation("open", AclOperation::Write, AclPermission::Allow),
            creation("", AclOperation::Read, AclPermission::Allow),
        ]);
        let resp = handle(&broker, &ctx(3), req);
        encodes(&resp, 1);
        let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, vec![0, 0, ResponseError::InvalidRequest.code()]);
        drop(broker);

        let broker = open_broker(dir.path(), &overrides);
        let described = describe_all(&broker);
        encodes(&described, 1);
        assert_eq!(described.error_code, 0);
        let names: Vec<&str> = described
            .resources
            .iter()
            .map(|r| r.resource_name.as_str())
            .collect();
        assert_eq!(
            names,
            vec!["open", "secret"],
            "ACLs replayed after reopening"
        );

        let (code, _) = metadata_for(&broker, "secret");
        assert_eq!(code, ResponseError::TopicAuthorizationFailed.code());
        // "open" has an ALLOW WRITE only: WRITE and the DESCRIBE it implies.
        let (code, ops) = metadata_for(&broker, "open");
        assert_eq!(code, 0);
        assert_eq!(
            ops,
            AclOperation::Write.bit() | AclOperation::Describe.bit()
        );
        // The cluster has no ACL, so allow.everyone.if.no.acl.found opens it.
        let cluster = describe_cluster::handle(
            &broker,
            &ctx(1),
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
        );
        assert_eq!(
            cluster.cluster_authorized_operations,
            super::super::metadata::CLUSTER_OPERATIONS_ALL
        );
    }
}
