//! The transaction coordinator's request-level errors, each one Kafka error
//! code. This is the one place that assigns those codes; the broker turns a
//! [`TxnError`] into a response field with [`TxnError::code_for`].

use gregor_protocol::kafka_protocol::ResponseError;
use thiserror::Error;

/// Why a transaction request was refused. Every variant is a Kafka error
/// code and keeps its meaning.
#[derive(Debug, Clone, Copy, Error, PartialEq, Eq)]
pub enum TxnError {
    /// An empty transactional id (`INVALID_REQUEST`, 42).
    #[error("the transactional id is empty")]
    InvalidRequest,
    /// The timeout is not positive or exceeds `transaction.max.timeout.ms`
    /// (`INVALID_TRANSACTION_TIMEOUT`, 50).
    #[error("the transaction timeout is outside 1..=transaction.max.timeout.ms")]
    InvalidTransactionTimeout,
    /// Another operation on this transactional id is in progress, e.g. its
    /// markers are being written; the client backs off and retries
    /// (`CONCURRENT_TRANSACTIONS`, 51).
    #[error("another operation on this transactional id is in progress")]
    ConcurrentTransactions,
    /// A newer producer owns this transactional id (`PRODUCER_FENCED`, 90).
    #[error("a newer producer with the same transactional id fenced this one")]
    ProducerFenced,
    /// What older clients get instead of [`TxnError::ProducerFenced`]
    /// (`INVALID_PRODUCER_EPOCH`, 47); see [`TxnError::code_for`].
    #[error("the producer epoch is not the current one")]
    InvalidProducerEpoch,
    /// The transactional id is unknown, or the producer id is not the one
    /// assigned to it (`INVALID_PRODUCER_ID_MAPPING`, 49).
    #[error("the producer id is not assigned to this transactional id")]
    InvalidProducerIdMapping,
    /// The request does not fit the transaction's state, e.g. committing
    /// an aborted transaction (`INVALID_TXN_STATE`, 48).
    #[error("the request does not fit the transaction's state")]
    InvalidTxnState,
    /// DescribeTransactions of an id this coordinator does not know
    /// (`TRANSACTIONAL_ID_NOT_FOUND`, 105).
    #[error("the transactional id is not known")]
    TransactionalIdNotFound,
    /// Verification found a partition outside the ongoing transaction
    /// (`TRANSACTION_ABORTABLE`, 120). Kafka's produce path shows it to
    /// clients that predate KIP-890 as `INVALID_TXN_STATE`.
    #[error("the partition is not part of the ongoing transaction")]
    TransactionAbortable,
    /// The producer-id allocator failed; carries the Kafka error code the
    /// allocator chose (e.g. `COORDINATOR_LOAD_IN_PROGRESS`, 14).
    #[error("no producer id could be allocated (error code {0})")]
    ProducerIdAllocation(i16),
}

/// The transactional APIs whose older versions predate `PRODUCER_FENCED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnApi {
    InitProducerId,
    AddPartitionsToTxn,
    AddOffsetsToTxn,
    EndTxn,
    /// Read-only APIs (Describe/ListTransactions, verification): every
    /// version understands every code they return.
    Other,
}

impl TxnError {
    /// The Kafka error code.
    pub fn code(self) -> i16 {
        match self {
            TxnError::InvalidRequest => ResponseError::InvalidRequest.code(),
            TxnError::InvalidTransactionTimeout => ResponseError::InvalidTransactionTimeout.code(),
            TxnError::ConcurrentTransactions => ResponseError::ConcurrentTransactions.code(),
            TxnError::ProducerFenced => ResponseError::ProducerFenced.code(),
            TxnError::InvalidProducerEpoch => ResponseError::InvalidProducerEpoch.code(),
            TxnError::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping.code(),
            TxnError::InvalidTxnState => ResponseError::InvalidTxnState.code(),
            TxnError::TransactionalIdNotFound => ResponseError::TransactionalIdNotFound.code(),
            TxnError::TransactionAbortable => ResponseError::TransactionAbortable.code(),
            TxnError::ProducerIdAllocation(code) => code,
        }
    }

    /// The code to send to a client of `api` at `version`: clients from
    /// before KIP-588 do not know `PRODUCER_FENCED` and get
    /// `INVALID_PRODUCER_EPOCH` instead, as Kafka does (InitProducerId < 4,
    /// AddPartitionsToTxn, AddOffsetsToTxn and EndTxn < 2).
    pub fn code_for(self, api: TxnApi, version: i16) -> i16 {
        let legacy = match api {
            TxnApi::InitProducerId => version < 4,
            TxnApi::AddPartitionsToTxn | TxnApi::AddOffsetsToTxn | TxnApi::EndTxn => version < 2,
            TxnApi::Other => false,
        };
        if legacy && self == TxnError::ProducerFenced {
            TxnError::InvalidProducerEpoch.code()
        } else {
            self.code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kafkas() {
        assert_eq!(TxnError::InvalidTxnState.code(), 48);
        assert_eq!(TxnError::InvalidProducerIdMapping.code(), 49);
        assert_eq!(TxnError::InvalidTransactionTimeout.code(), 50);
        assert_eq!(TxnError::ConcurrentTransactions.code(), 51);
        assert_eq!(TxnError::ProducerFenced.code(), 90);
        assert_eq!(TxnError::TransactionalIdNotFound.code(), 105);
        assert_eq!(TxnError::TransactionAbortable.code(), 120);
    }

    #[test]
    fn old_clients_see_invalid_producer_epoch_instead_of_fenced() {
        let fenced = TxnError::ProducerFenced;
        assert_eq!(fenced.code_for(TxnApi::InitProducerId, 3), 47);
        assert_eq!(fenced.code_for(TxnApi::InitProducerId, 4), 90);
        assert_eq!(fenced.code_for(TxnApi::EndTxn, 1), 47);
        assert_eq!(fenced.code_for(TxnApi::EndTxn, 2), 90);
        assert_eq!(TxnError::InvalidTxnState.code_for(TxnApi::EndTxn, 0), 48);
    }
}
