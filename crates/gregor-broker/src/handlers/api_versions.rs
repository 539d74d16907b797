//! ApiVersions: the table of APIs and versions this broker serves.

use gregor_protocol::kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use gregor_protocol::kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use gregor_protocol::kafka_protocol::protocol::StrBytes;
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, SUPPORTED};

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::ApiVersions, 0, 4);

/// Feature level advertised for `metadata.version`: the Kafka 4.1 level,
/// whose request versions the table above matches.
const METADATA_VERSION_LEVEL: i16 = 27;

fn api_table() -> Vec<ApiVersion> {
    let mut keys: Vec<ApiVersion> = SUPPORTED
        .iter()
        .map(|s| {
            ApiVersion::default()
                .with_api_key(s.key as i16)
                .with_min_version(s.min)
                .with_max_version(s.max)
        })
        .collect();
    keys.sort_by_key(|k| k.api_key);
    keys
}

pub fn handle(req: ApiVersionsRequest, version: i16) -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default().with_api_keys(api_table());
    if version >= 3 {
        // v3+ clients send their name and version; Kafka accepts only
        // letters, digits, '.' and '-', starting and ending with a letter or digit.
        let valid = |s: &StrBytes| {
            let b = s.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-')
        };
        if !valid(&req.client_software_name) || !valid(&req.client_software_version) {
            return resp.with_error_code(ResponseError::InvalidRequest.code());
        }
        resp.supported_features = vec![SupportedFeatureKey::default()
            .with_name(StrBytes::from_static_str("metadata.version"))
            .with_min_version(1)
            .with_max_version(METADATA_VERSION_LEVEL)];
        resp.finalized_features = vec![FinalizedFeatureKey::default()
            .with_name(StrBytes::from_static_str("metadata.version"))
            .with_min_version_level(METADATA_VERSION_LEVEL)
            .with_max_version_level(METADATA_VERSION_LEVEL)];
        resp.finalized_features_epoch = 0;
    }
    resp
}

/// The v0 answer to an ApiVersions request of a version we do not know.
pub fn unsupported_version_response() -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(api_table())
}
