//! Request and response envelopes: header + typed body, over `kafka-protocol`.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::frame::FRAME_PREFIX_BYTES;
use crate::ProtocolError;

/// The fields every request header starts with, in every header version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderPrefix {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

/// Reads the fixed prefix (api key, version, correlation id) of a request.
pub fn peek_header(frame: &[u8]) -> Result<HeaderPrefix, ProtocolError> {
    if frame.len() < 8 {
        return Err(ProtocolError::BadHeader(format!(
            "{} bytes is too short for a header",
            frame.len()
        )));
    }
    Ok(HeaderPrefix {
        api_key: i16::from_be_bytes([frame[0], frame[1]]),
        api_version: i16::from_be_bytes([frame[2], frame[3]]),
        correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
    })
}

/// A decoded request: its header and its typed body.
#[derive(Debug)]
pub struct Request {
    pub api_key: ApiKey,
    pub header: RequestHeader,
    pub body: RequestKind,
}

impl Request {
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }
}

/// Decodes a whole request frame (without its length prefix).
///
/// The caller has already checked with [`peek_header`] that the api key is
/// known and the version is one the broker accepts; this only reports
/// malformed bytes.
pub fn decode_request(mut frame: Bytes) -> Result<Request, ProtocolError> {
    let prefix = peek_header(&frame)?;
    let api_key = ApiKey::try_from(prefix.api_key)
        .map_err(|_| ProtocolError::UnknownApiKey(prefix.api_key))?;
    let header_version = api_key.request_header_version(prefix.api_version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| ProtocolError::BadHeader(e.to_string()))?;
    let body = RequestKind::decode(api_key, &mut frame, prefix.api_version).map_err(|e| {
        ProtocolError::BadBody {
            api: api_name(api_key),
            version: prefix.api_version,
            reason: format!("{e:#}"),
        }
    })?;
    Ok(Request {
        api_key,
        header,
        body,
    })
}

/// Encodes a response frame, length prefix included, for the given request.
///
/// Fails only if the response holds a value its version cannot carry, which
/// is a broker bug; the caller logs it and closes the connection.
pub fn encode_response(
    api_key: ApiKey,
    api_version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<BytesMut, ProtocolError> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let bad = |reason: String| ProtocolError::BadBody {
        api: api_name(api_key),
        version: api_version,
        reason: format!("cannot encode response: {reason}"),
    };
    header
        .encode(&mut buf, api_key.response_header_version(api_version))
        .map_err(|e| bad(e.to_string()))?;
    body.encode(&mut buf, api_version)
        .map_err(|e| bad(format!("{e:#}")))?;
    let len = (buf.len() - FRAME_PREFIX_BYTES) as i32;
    buf[..FRAME_PREFIX_BYTES].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

/// Kafka's name of an API, for logs and errors.
pub fn api_name(api_key: ApiKey) -> &'static str {
    // `ApiKey` has no name accessor; its Debug text is the Kafka name.
    API_NAMES
        .iter()
        .find(|(k, _)| *k == api_key as i16)
        .map(|(_, n)| *n)
        .unwrap_or("Unknown")
}

/// Kafka's API names by key, for logs and error messages.
const API_NAMES: &[(i16, &str)] = &[
    (ApiKey::Produce as i16, "Produce"),
    (ApiKey::Fetch as i16, "Fetch"),
    (ApiKey::ListOffsets as i16, "ListOffsets"),
    (ApiKey::Metadata as i16, "Metadata"),
    (ApiKey::OffsetCommit as i16, "OffsetCommit"),
    (ApiKey::OffsetFetch as i16, "OffsetFetch"),
    (ApiKey::FindCoordinator as i16, "FindCoordinator"),
    (ApiKey::JoinGroup as i16, "JoinGroup"),
    (ApiKey::Heartbeat as i16, "Heartbeat"),
    (ApiKey::LeaveGroup as i16, "LeaveGroup"),
    (ApiKey::SyncGroup as i16, "SyncGroup"),
    (ApiKey::DescribeGroups as i16, "DescribeGroups"),
    (ApiKey::ListGroups as i16, "ListGroups"),
    (ApiKey::SaslHandshake as i16, "SaslHandshake"),
    (ApiKey::ApiVersions as i16, "ApiVersions"),
    (ApiKey::CreateTopics as i16, "CreateTopics"),
    (ApiKey::DeleteTopics as i16, "DeleteTopics"),
    (ApiKey::DeleteRecords as i16, "DeleteRecords"),
    (ApiKey::InitProducerId as i16, "InitProducerId"),
    (ApiKey::OffsetForLeaderEpoch as i16, "OffsetForLeaderEpoch"),
    (ApiKey::AddPartitionsToTxn as i16, "AddPartitionsToTxn"),
    (ApiKey::AddOffsetsToTxn as i16, "AddOffsetsToTxn"),
    (ApiKey::EndTxn as i16, "EndTxn"),
    (ApiKey::WriteTxnMarkers as i16, "WriteTxnMarkers"),
    (ApiKey::TxnOffsetCommit as i16, "TxnOffsetCommit"),
    (ApiKey::DescribeAcls as i16, "DescribeAcls"),
    (ApiKey::CreateAcls as i16, "CreateAcls"),
    (ApiKey::DeleteAcls as i16, "DeleteAcls"),
    (ApiKey::DescribeConfigs as i16, "DescribeConfigs"),
    (ApiKey::AlterConfigs as i16, "AlterConfigs"),
    (ApiKey::AlterReplicaLogDirs as i16, "AlterReplicaLogDirs"),
    (ApiKey::DescribeLogDirs as i16, "DescribeLogDirs"),
    (ApiKey::SaslAuthenticate as i16, "SaslAuthenticate"),
    (ApiKey::CreatePartitions as i16, "CreatePartitions"),
    (
        ApiKey::CreateDelegationToken as i16,
        "CreateDelegationToken",
    ),
    (ApiKey::RenewDelegationToken as i16, "RenewDelegationToken"),
    (
        ApiKey::ExpireDelegationToken as i16,
        "ExpireDelegationToken",
    ),
    (
        ApiKey::DescribeDelegationToken as i16,
        "DescribeDelegationToken",
    ),
    (ApiKey::DeleteGroups as i16, "DeleteGroups"),
    (ApiKey::ElectLeaders as i16, "ElectLeaders"),
    (
        ApiKey::IncrementalAlterConfigs as i16,
        "IncrementalAlterConfigs",
    ),
    (
        ApiKey::AlterPartitionReassignments as i16,
        "AlterPartitionReassignments",
    ),
    (
        ApiKey::ListPartitionReassignments as i16,
        "ListPartitionReassignments",
    ),
    (ApiKey::OffsetDelete as i16, "OffsetDelete"),
    (ApiKey::DescribeClientQuotas as i16, "DescribeClientQuotas"),
    (ApiKey::AlterClientQuotas as i16, "AlterClientQuotas"),
    (
        ApiKey::DescribeUserScramCredentials as i16,
        "DescribeUserScramCredentials",
    ),
    (
        ApiKey::AlterUserScramCredentials as i16,
        "AlterUserScramCredentials",
    ),
    (ApiKey::Vote as i16, "Vote"),
    (ApiKey::BeginQuorumEpoch as i16, "BeginQuorumEpoch"),
    (ApiKey::EndQuorumEpoch as i16, "EndQuorumEpoch"),
    (ApiKey::DescribeQuorum as i16, "DescribeQuorum"),
    (ApiKey::AlterPartition as i16, "AlterPartition"),
    (ApiKey::UpdateFeatures as i16, "UpdateFeatures"),
    (ApiKey::Envelope as i16, "Envelope"),
    (ApiKey::FetchSnapshot as i16, "FetchSnapshot"),
    (ApiKey::DescribeCluster as i16, "DescribeCluster"),
    (ApiKey::DescribeProducers as i16, "DescribeProducers"),
    (ApiKey::BrokerRegistration as i16, "BrokerRegistration"),
    (ApiKey::BrokerHeartbeat as i16, "BrokerHeartbeat"),
    (ApiKey::UnregisterBroker as i16, "UnregisterBroker"),
    (ApiKey::DescribeTransactions as i16, "DescribeTransactions"),
    (ApiKey::ListTransactions as i16, "ListTransactions"),
    (ApiKey::AllocateProducerIds as i16, "AllocateProducerIds"),
    (
        ApiKey::ConsumerGroupHeartbeat as i16,
        "ConsumerGroupHeartbeat",
    ),
    (
        ApiKey::ConsumerGroupDescribe as i16,
        "ConsumerGroupDescribe",
    ),
    (
        ApiKey::ControllerRegistration as i16,
        "ControllerRegistration",
    ),
    (
        ApiKey::GetTelemetrySubscriptions as i16,
        "GetTelemetrySubscriptions",
    ),
    (ApiKey::PushTelemetry as i16, "PushTelemetry"),
    (ApiKey::AssignReplicasToDirs as i16, "AssignReplicasToDirs"),
    (ApiKey::ListConfigResources as i16, "ListConfigResources"),
    (
        ApiKey::DescribeTopicPartitions as i16,
        "DescribeTopicPartitions",
    ),
    (ApiKey::ShareGroupHeartbeat as i16, "ShareGroupHeartbeat"),
    (ApiKey::ShareGroupDescribe as i16, "ShareGroupDescribe"),
    (ApiKey::ShareFetch as i16, "ShareFetch"),
    (ApiKey::ShareAcknowledge as i16, "ShareAcknowledge"),
    (ApiKey::AddRaftVoter as i16, "AddRaftVoter"),
    (ApiKey::RemoveRaftVoter as i16, "RemoveRaftVoter"),
    (ApiKey::UpdateRaftVoter as i16, "UpdateRaftVoter"),
    (
        ApiKey::InitializeShareGroupState as i16,
        "InitializeShareGroupState",
    ),
    (ApiKey::ReadShareGroupState as i16, "ReadShareGroupState"),
    (ApiKey::WriteShareGroupState as i16, "WriteShareGroupState"),
    (
        ApiKey::DeleteShareGroupState as i16,
        "DeleteShareGroupState",
    ),
];
