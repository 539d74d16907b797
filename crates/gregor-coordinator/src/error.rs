//! The coordinator crate's one error type. Request-level failures are Kafka
//! error codes in the responses the state machine builds; this type is for
//! records that cannot be encoded or read back.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CoordinatorError {
    /// A stored key or value is truncated, has trailing bytes, or an unknown
    /// schema version.
    #[error("unreadable coordinator record: {0}")]
    BadRecord(String),
    /// Kafka's record strings carry an int16 length.
    #[error("a string of {0} bytes does not fit a coordinator record (32767 at most)")]
    StringTooLong(usize),
}
