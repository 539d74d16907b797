//! DescribeUserScramCredentials (KIP-554): mechanisms and iterations per
//! user, never the keys (DESCRIBE on the cluster needed).

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::MetadataImage;
use gregor_protocol::kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeUserScramCredentials, 0, 0);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let resp = DescribeUserScramCredentialsResponse::default();
    if !broker.authorize_cluster(ctx, AclOperation::Describe) {
        return resp
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(text(super::CLUSTER_AUTHORIZATION_FAILED)));
    }
    let image = broker.metadata.image();
    // Each user once, in request order, remembering whether it repeated;
    // no users named means every user with a credential.
    let mut users: Vec<(String, bool)> = Vec::new();
    match req.users.as_deref() {
        Some(named) if !named.is_empty() => {
            for u in named {
                match users
                    .iter_mut()
                    .find(|(n, _)| n.as_str() == u.name.as_str())
                {
                    Some(seen) => seen.1 = true,
                    None => users.push((u.name.to_string(), false)),
                }
            }
        }
        _ => {
            for ((name, _), _) in image.scram_credentials() {
                if users.last().is_none_or(|(n, _)| n != name) {
                    users.push((name.clone(), false));
                }
            }
        }
    }
    let results = users
        .into_iter()
        .map(|(user, duplicate)| describe_user(&image, &user, duplicate))
        .collect();
    resp.with_results(results)
}

/// The one place this API's per-user errors are chosen.
fn describe_user(
    image: &MetadataImage,
    user: &str,
    duplicate: bool,
) -> DescribeUserScramCredentialsResult {
    let result = DescribeUserScramCredentialsResult::default().with_user(text(user));
    if duplicate {
        return result
            .with_error_code(ResponseError::DuplicateResource.code())
            .with_error_message(Some(text(&format!(
                "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
            ))));
    }
    let infos: Vec<CredentialInfo> = image
        .scram_credentials()
        .filter(|((name, _), _)| name == user)
        .map(|((_, mechanism), c)| {
            CredentialInfo::default()
                .with_mechanism(mechanism.code())
                .with_iterations(c.iterations)
        })
        .collect();
    if infos.is_empty() {
        return result
            .with_error_code(ResponseError::ResourceNotFound.code())
            .with_error_message(Some(text(&format!(
                "Attempt to describe a user credential that does not exist: {user}"
            ))));
    }
    result.with_credential_infos(infos)
}
