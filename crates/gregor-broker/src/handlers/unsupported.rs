//! Answers for APIs this broker recognises but does not serve.
//!
//! They are not advertised in ApiVersions, so well-behaved clients do not
//! send them; one that does still gets an answer with an error, not a
//! closed connection: Kafka's own answer where it has one (no SASL on the
//! listener → ILLEGAL_SASL_STATE), UNSUPPORTED_VERSION otherwise. Responses without a top-level error code
//! have no generic error shape; for those the caller closes the connection.

use gregor_protocol::kafka_protocol::messages::*;
use gregor_protocol::kafka_protocol::ResponseError;

macro_rules! answer_with_error {
    ($body:expr, $code:expr, $($api:ident => $resp:ident),* $(,)?) => {
        match $body {
            $(RequestKind::$api(_) => Some(ResponseKind::$api($resp::default().with_error_code($code.code()))),)*
            _ => None,
        }
    };
}

/// The error answer for `body`, if its response type can carry one.
pub fn error_response(body: &RequestKind) -> Option<ResponseKind> {
    let code = match body {
        RequestKind::SaslHandshake(_) | RequestKind::SaslAuthenticate(_) => {
            ResponseError::IllegalSaslState
        }
        _ => ResponseError::UnsupportedVersion,
    };
    answer_with_error!(body, code,
        AddOffsetsToTxn => AddOffsetsToTxnResponse,
        AddPartitionsToTxn => AddPartitionsToTxnResponse,
        AddRaftVoter => AddRaftVoterResponse,
        AllocateProducerIds => AllocateProducerIdsResponse,
        AlterPartitionReassignments => AlterPartitionReassignmentsResponse,
        AlterPartition => AlterPartitionResponse,
        AssignReplicasToDirs => AssignReplicasToDirsResponse,
        BeginQuorumEpoch => BeginQuorumEpochResponse,
        BrokerHeartbeat => BrokerHeartbeatResponse,
        BrokerRegistration => BrokerRegistrationResponse,
        ControllerRegistration => ControllerRegistrationResponse,
        CreateDelegationToken => CreateDelegationTokenResponse,
        DescribeClientQuotas => DescribeClientQuotasResponse,
        DescribeDelegationToken => DescribeDelegationTokenResponse,
        DescribeQuorum => DescribeQuorumResponse,
        EndQuorumEpoch => EndQuorumEpochResponse,
        EndTxn => EndTxnResponse,
        Envelope => EnvelopeResponse,
        ExpireDelegationToken => ExpireDelegationTokenResponse,
        FetchSnapshot => FetchSnapshotResponse,
        GetTelemetrySubscriptions => GetTelemetrySubscriptionsResponse,
        ListPartitionReassignments => ListPartitionReassignmentsResponse,
        ListTransactions => ListTransactionsResponse,
        PushTelemetry => PushTelemetryResponse,
        RemoveRaftVoter => RemoveRaftVoterResponse,
        RenewDelegationToken => RenewDelegationTokenResponse,
        SaslAuthenticate => SaslAuthenticateResponse,
        SaslHandshake => SaslHandshakeResponse,
        ShareAcknowledge => ShareAcknowledgeResponse,
        ShareFetch => ShareFetchResponse,
        ShareGroupHeartbeat => ShareGroupHeartbeatResponse,
        UnregisterBroker => UnregisterBrokerResponse,
        UpdateFeatures => UpdateFeaturesResponse,
        UpdateRaftVoter => UpdateRaftVoterResponse,
        Vote => VoteResponse,
    )
}
