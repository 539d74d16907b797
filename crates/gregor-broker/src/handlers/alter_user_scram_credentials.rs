//! AlterUserScramCredentials (KIP-554): upserts and deletes salted SCRAM
//! credentials as metadata records (ALTER on the cluster needed).

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::controller::scram::{self, ScramAlteration, ScramUpsert, UserResult};
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use gregor_protocol::kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::AlterUserScramCredentials, 0, 0);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let deletions = req.deletions.iter().map(|d| ScramAlteration {
        user: d.name.to_string(),
        mechanism: d.mechanism,
        upsert: None,
    });
    let upsertions = req.upsertions.iter().map(|u| ScramAlteration {
        user: u.name.to_string(),
        mechanism: u.mechanism,
        upsert: Some(ScramUpsert {
            iterations: u.iterations,
            salt: u.salt.to_vec(),
            salted_password: u.salted_password.to_vec(),
        }),
    });
    let alterations: Vec<ScramAlteration> = deletions.chain(upsertions).collect();
    let results = if broker.authorize_cluster(ctx, AclOperation::Alter) {
        alter(broker, &alterations)
    } else {
        let mut users: Vec<String> = alterations.iter().map(|a| a.user.clone()).collect();
        users.dedup();
        let denied = ApiError::new(ResponseError::ClusterAuthorizationFailed, "");
        users
            .into_iter()
            .map(|u| (u, Err(denied.clone())))
            .collect()
    };
    AlterUserScramCredentialsResponse::default()
        .with_results(results.into_iter().map(result_entry).collect())
}

fn alter(broker: &Broker, alterations: &[ScramAlteration]) -> Vec<UserResult> {
    let committed = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            Ok::<_, std::convert::Infallible>(scram::alter_scram(image, alterations))
        })
    });
    match committed {
        Ok(Ok(results)) => results,
        Ok(Err(never)) => match never {},
        Err(e) => {
            let failed = ApiError::new(ResponseError::UnknownServerError, e.to_string());
            alterations
                .iter()
                .map(|a| (a.user.clone(), Err(failed.clone())))
                .collect()
        }
    }
}

/// The one place this API's errors become wire codes.
fn result_entry((user, result): UserResult) -> AlterUserScramCredentialsResult {
    let entry = AlterUserScramCredentialsResult::default().with_user(text(&user));
    match result {
        Ok(()) => entry,
        Err(e) => entry
            .with_error_code(e.code.code())
            .with_error_message((!e.message.is_empty()).then(|| text(&e.message))),
    }
}
