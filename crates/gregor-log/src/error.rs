//! The log crate's errors. Append and read failures are separate enums
//! because the broker maps each variant onto one Kafka error code; I/O and
//! invariant failures (`LogError`) map onto KAFKA_STORAGE_ERROR.

use std::io;

use gregor_protocol::batch::BatchError;
use thiserror::Error;

/// A storage or consistency failure of the log itself.
#[derive(Debug, Error)]
pub enum LogError {
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    #[error("offset {offset} is beyond the log end offset {log_end_offset}")]
    OffsetOutOfRange { offset: i64, log_end_offset: i64 },
    #[error("log is corrupt beyond repair: {0}")]
    Corrupt(String),
    /// A write failed and could not be undone; the log refuses all further
    /// work until it is reopened (and recovered), as Kafka takes a log
    /// directory offline.
    #[error("log is offline after a write that could not be undone: {0}")]
    Failed(String),
}

impl LogError {
    /// Wraps an I/O error with what the log was doing, for `map_err`.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> LogError {
        let context = context.into();
        move |source| LogError::Io { context, source }
    }
}

/// Why an append was refused. Nothing was written when any of these is
/// returned: an append of several batches is all-or-nothing.
#[derive(Debug, Error)]
pub enum AppendError {
    /// CRC mismatch, bad lengths or unknown codec: CORRUPT_MESSAGE.
    #[error("corrupt record batch: {0}")]
    CorruptMessage(BatchError),
    /// Inconsistent counts, malformed records, bad sequence fields: INVALID_RECORD.
    #[error("invalid record batch: {0}")]
    InvalidRecord(String),
    /// One batch exceeds `max.message.bytes`: MESSAGE_TOO_LARGE.
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge { size: usize, max: usize },
    /// The whole append exceeds `segment.bytes`: RECORD_LIST_TOO_LARGE.
    #[error("append of {size} bytes exceeds segment.bytes {max}")]
    RecordListTooLarge { size: usize, max: u64 },
    /// Magic other than 2: UNSUPPORTED_FOR_MESSAGE_FORMAT.
    #[error("record batch magic {0} is not supported")]
    UnsupportedForMessageFormat(i8),
    /// INVALID_PRODUCER_EPOCH.
    #[error(
        "producer {producer_id} epoch {epoch} is older than the current epoch {current_epoch}"
    )]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current_epoch: i16,
    },
    /// OUT_OF_ORDER_SEQUENCE_NUMBER.
    #[error(
        "producer {producer_id} epoch {epoch}: sequence {found} does not follow {last_sequence}"
    )]
    OutOfOrderSequence {
        producer_id: i64,
        epoch: i16,
        last_sequence: i32,
        found: i32,
    },
    /// A transactional batch would start a transaction the coordinator has
    /// not verified (KIP-890), or a producer wrote a non-transactional batch
    /// inside its transaction: INVALID_TXN_STATE.
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    /// A marker from a coordinator older than the one that wrote the
    /// producer's last marker: TRANSACTION_COORDINATOR_FENCED.
    #[error(
        "marker for producer {producer_id} has coordinator epoch {coordinator_epoch}, older than {current_coordinator_epoch}"
    )]
    TransactionCoordinatorFenced {
        producer_id: i64,
        coordinator_epoch: i32,
        current_coordinator_epoch: i32,
    },
    #[error(transparent)]
    Io(#[from] LogError),
}

impl From<BatchError> for AppendError {
    fn from(e: BatchError) -> AppendError {
        match e {
            BatchError::UnsupportedMagic(magic) => AppendError::UnsupportedForMessageFormat(magic),
            BatchError::NegativeRecordCount(_)
            | BatchError::LastOffsetDeltaMismatch { .. }
            | BatchError::RecordCountMismatch { .. }
            | BatchError::MalformedRecord { .. } => AppendError::InvalidRecord(e.to_string()),
            BatchError::TruncatedHeader { .. }
            | BatchError::BatchLengthTooSmall(_)
            | BatchError::TruncatedBatch { .. }
            | BatchError::LengthMismatch { .. }
            | BatchError::CrcMismatch { .. }
            | BatchError::InvalidCompression(_) => AppendError::CorruptMessage(e),
        }
    }
}

/// Why a read was refused.
#[derive(Debug, Error)]
pub enum ReadError {
    /// OFFSET_OUT_OF_RANGE.
    #[error("fetch offset {offset} is outside the log [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    #[error(transparent)]
    Io(#[from] LogError),
}
