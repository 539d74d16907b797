//! The broker crate's one error type, for start-up and internal failures.
//! Per-request failures are Kafka error codes chosen in each handler.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("log directory {dir}: {source}")]
    LogDir { dir: String, source: std::io::Error },
    #[error("log for {partition}: {source}")]
    Log {
        partition: String,
        source: gregor_log::LogError,
    },
    #[error("metadata log: {0}")]
    Metadata(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
